-- Notifications that leave the system (issue 5): how users are reached, webhook subscribers,
-- and the durable queue of deliveries. A notification is fanned out into deliveries once
-- (`fanned_out`), in the same transaction that queues them; notifications older than this
-- migration are not sent.
ALTER TABLE notifications ADD COLUMN fanned_out SMALLINT NOT NULL DEFAULT 0;
UPDATE notifications SET fanned_out = 1;
CREATE INDEX notifications_to_fan_out ON notifications (id) WHERE fanned_out = 0;

CREATE TABLE user_contacts (
    user_id BIGINT PRIMARY KEY REFERENCES users(id),
    email TEXT,
    phone TEXT
);

CREATE TABLE webhooks (
    id BIGSERIAL PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- ',case_routed,summons,' or '' for every kind.
    kinds TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    notification_id BIGINT NOT NULL REFERENCES notifications(id),
    medium TEXT NOT NULL,
    -- The webhook's id, the e-mail address or the phone number.
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (notification_id, medium, target)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_status ON deliveries (status, id);
