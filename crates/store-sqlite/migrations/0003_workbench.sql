-- The workbench's supervision queue reads cases with open supervisions (issue 4): a partial
-- index keeps it off a scan of the whole cases table.
CREATE INDEX cases_open_supervisions ON cases(id) WHERE open_supervisions > 0;
