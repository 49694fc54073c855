-- Issue 9: law articles imported by `fengqiao laws import DIR`; the article index is built
-- from this table. Re-importing a law replaces its articles' texts.
CREATE TABLE law_articles (
    law TEXT NOT NULL,
    label TEXT NOT NULL,
    number BIGINT NOT NULL,
    text TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    PRIMARY KEY (law, label)
);
