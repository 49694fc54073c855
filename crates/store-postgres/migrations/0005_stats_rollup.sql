-- Statistics (issue 6), second form: each case's share (`domain::stats::contribution`) expanded
-- into roll-up rows per jurisdiction level and per unit, per day and per month
-- (`domain::stats::RollKey`), so the cockpit reads a handful of rows whatever the number of
-- cases. Kept current by every write of a case state in the same transaction;
-- `rebuild_stats` recomputes them, and the app rebuilds once when the definition's version changes.
DROP TABLE stats_daily;
DROP TABLE stats_open;

CREATE TABLE stats_rollup (
    scope TEXT NOT NULL,
    grain TEXT NOT NULL,
    period TEXT NOT NULL,
    dim TEXT NOT NULL,
    metric TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (scope, grain, period, dim, metric)
);
