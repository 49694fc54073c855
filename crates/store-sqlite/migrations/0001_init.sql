-- Fengqiao schema, SQLite. Times are UTC milliseconds; dates are 'YYYY-MM-DD' (China time).
CREATE TABLE jurisdictions (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    parent_code TEXT REFERENCES jurisdictions(code),
    path TEXT NOT NULL UNIQUE,
    centroid_lon REAL,
    centroid_lat REAL,
    boundary TEXT
);
CREATE INDEX jurisdictions_parent ON jurisdictions(parent_code);

CREATE TABLE units (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    node_code TEXT NOT NULL REFERENCES jurisdictions(code),
    node_path TEXT NOT NULL,
    specialty TEXT,
    leader_user_id INTEGER
);
CREATE INDEX units_path ON units(node_path);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    scope_code TEXT NOT NULL REFERENCES jurisdictions(code),
    scope_path TEXT NOT NULL,
    unit_id INTEGER REFERENCES units(id),
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX users_scope ON users(scope_path);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE calendar_days (
    day TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    note TEXT NOT NULL
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    tracking_code TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    channel TEXT NOT NULL,
    dispute_type TEXT NOT NULL,
    node_path TEXT NOT NULL,
    lead_unit_id INTEGER,
    light TEXT NOT NULL,
    due_date TEXT,
    open_supervisions INTEGER NOT NULL,
    submitted_by INTEGER,
    registered_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX cases_path ON cases(node_path, id);
CREATE INDEX cases_status ON cases(status, id);
CREATE INDEX cases_light ON cases(light, id);
CREATE INDEX cases_registered ON cases(registered_at);
CREATE INDEX cases_due ON cases(due_date) WHERE due_date IS NOT NULL;
CREATE INDEX cases_submitted_by ON cases(submitted_by) WHERE submitted_by IS NOT NULL;

-- Lead and co-handling units of each case (a projection of the state, for unit queues).
CREATE TABLE case_units (
    case_id INTEGER NOT NULL REFERENCES cases(id),
    unit_id INTEGER NOT NULL,
    lead INTEGER NOT NULL,
    PRIMARY KEY (case_id, unit_id)
);
CREATE INDEX case_units_unit ON case_units(unit_id, case_id);

CREATE TABLE case_events (
    case_id INTEGER NOT NULL REFERENCES cases(id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor_id INTEGER,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    case_id INTEGER REFERENCES cases(id),
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at INTEGER
);
CREATE INDEX notifications_user ON notifications(user_id, id);

CREATE TABLE blobs (
    id TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    bytes BLOB NOT NULL
);
