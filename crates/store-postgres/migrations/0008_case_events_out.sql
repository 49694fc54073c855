-- Issue 8: other systems follow cases. Every case event is queued for the webhooks that
-- subscribe to case events (`case.<action>` or `case.*`), in the transaction that appends it;
-- the courier fans the queue out into deliveries and empties it. A delivery now comes from a
-- notification or from a case event. Merged cases list their source records by case.
CREATE TABLE event_outbox (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    seq BIGINT NOT NULL,
    action TEXT NOT NULL
);

ALTER TABLE deliveries ALTER COLUMN notification_id DROP NOT NULL;
ALTER TABLE deliveries ADD COLUMN case_id BIGINT REFERENCES cases(id);
ALTER TABLE deliveries ADD COLUMN event_seq BIGINT;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_unique UNIQUE (case_id, event_seq, medium, target);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_one_source
    CHECK ((notification_id IS NULL) <> (event_seq IS NULL));

CREATE INDEX idempotency_keys_by_case ON idempotency_keys (case_id);
