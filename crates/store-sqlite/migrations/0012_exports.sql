-- Requests for case lists with unmasked personal numbers: one user asks, another approves,
-- the requester downloads once (domain::export).
CREATE TABLE export_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    requested_by INTEGER NOT NULL REFERENCES users(id),
    scope_path TEXT NOT NULL,
    list_filter TEXT NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL,
    decided_by INTEGER REFERENCES users(id),
    requested_at INTEGER NOT NULL,
    decided_at INTEGER,
    downloaded_at INTEGER
);
