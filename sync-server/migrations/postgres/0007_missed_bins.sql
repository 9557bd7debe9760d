-- Missed-bin reports made before the crew finished the round: the report's
-- job waits here until the round is finished on the server, and is then
-- answered from the crew's record of the property (or left for the crew
-- to go back).
CREATE TABLE missed_bin_checks (
    job         TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    round       TEXT NOT NULL,
    property    TEXT NOT NULL,
    reported_at BIGINT NOT NULL
);
