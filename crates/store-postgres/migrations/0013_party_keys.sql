-- The blind index of the parties' ID-card and phone numbers (HMAC-SM3 under the index key):
-- exact look-up of a person's cases without a number in clear. Written with each new case
-- (parties never change after registration); cases stored before this table are indexed when
-- the store opens.
CREATE TABLE party_keys (
    blind TEXT NOT NULL,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    PRIMARY KEY (blind, case_id)
);
