-- The experts added to each case (a projection of its state's expert_ids): an expert's case
-- list is the cases they were added to.
CREATE TABLE case_experts (
    case_id BIGINT NOT NULL REFERENCES cases(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    PRIMARY KEY (case_id, user_id)
);
CREATE INDEX case_experts_user ON case_experts(user_id, case_id);
