-- Early warnings (issue 5): one row per warning; `body` holds the whole `domain::warning::Warning`
-- (evidence, units, log) as JSON, the columns are what lists filter on. `version` is the length
-- of the warning's log: updates check it (optimistic concurrency).
CREATE TABLE warnings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    level TEXT NOT NULL,
    kind TEXT NOT NULL,
    dispute_type TEXT NOT NULL,
    area_path TEXT NOT NULL,
    -- ',3,7,': the responsible units, for "assigned to my unit".
    unit_ids TEXT NOT NULL,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX warnings_by_key ON warnings (key, status);
CREATE INDEX warnings_by_day ON warnings (last_day);
