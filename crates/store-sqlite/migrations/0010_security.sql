-- Issue 7: forced password changes, rotation, TOTP, session stages, sign-in throttling.
ALTER TABLE users ADD COLUMN password_changed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
UPDATE users SET password_changed_at = created_at;

ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
CREATE INDEX sessions_user ON sessions(user_id);

-- Failed sign-ins per account name, known or not.
CREATE TABLE login_throttle (
    username TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
);
