-- Statistics (issue 6): sums of each case's share (`domain::stats::contribution`), kept current
-- by every write of a case state in the same transaction; `rebuild_stats` recomputes them.
CREATE TABLE stats_daily (
    day TEXT NOT NULL,
    node_path TEXT NOT NULL,
    dispute_type TEXT NOT NULL,
    channel TEXT NOT NULL,
    unit_id BIGINT NOT NULL,
    metric TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (day, node_path, dispute_type, channel, unit_id, metric)
);

CREATE TABLE stats_open (
    node_path TEXT NOT NULL,
    dispute_type TEXT NOT NULL,
    unit_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    light TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (node_path, dispute_type, unit_id, status, light)
);
