-- What the text reader found in each case (issue 3), with the reader's version.
CREATE TABLE case_analyses (
    case_id BIGINT PRIMARY KEY REFERENCES cases(id),
    analyser_version TEXT NOT NULL,
    analysed_at BIGINT NOT NULL,
    registered_at BIGINT NOT NULL,
    analysis TEXT NOT NULL,
    fingerprint TEXT NOT NULL
);
CREATE INDEX case_analyses_registered ON case_analyses(registered_at, case_id);
