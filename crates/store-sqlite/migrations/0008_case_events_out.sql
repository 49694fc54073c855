-- Issue 8: other systems follow cases. Every case event is queued for the webhooks that
-- subscribe to case events (`case.<action>` or `case.*`), in the transaction that appends it;
-- the courier fans the queue out into deliveries and empties it. A delivery now comes from a
-- notification or from a case event. Merged cases list their source records by case.
CREATE TABLE event_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    seq INTEGER NOT NULL,
    action TEXT NOT NULL
);

CREATE TABLE deliveries_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id INTEGER REFERENCES notifications(id),
    case_id INTEGER REFERENCES cases(id),
    event_seq INTEGER,
    medium TEXT NOT NULL,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (notification_id, medium, target),
    UNIQUE (case_id, event_seq, medium, target),
    CHECK ((notification_id IS NULL) <> (event_seq IS NULL))
);
INSERT INTO deliveries_new (id, notification_id, medium, target, payload, status, attempts,
    next_attempt_at, last_error, created_at, delivered_at)
SELECT id, notification_id, medium, target, payload, status, attempts, next_attempt_at,
    last_error, created_at, delivered_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_status ON deliveries (status, id);

CREATE INDEX idempotency_keys_by_case ON idempotency_keys (case_id);
