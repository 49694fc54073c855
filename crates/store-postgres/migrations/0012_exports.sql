-- Requests for case lists with unmasked personal numbers: one user asks, another approves,
-- the requester downloads once (domain::export).
CREATE TABLE export_requests (
    id BIGSERIAL PRIMARY KEY,
    requested_by BIGINT NOT NULL REFERENCES users(id),
    scope_path TEXT NOT NULL,
    list_filter TEXT NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL,
    decided_by BIGINT REFERENCES users(id),
    requested_at BIGINT NOT NULL,
    decided_at BIGINT,
    downloaded_at BIGINT
);
