-- Residents' tracking links: each message carries a fresh token of 256
-- random bits; only its SHA-256 is kept. A token leads to one job and
-- stops working a set number of days after the job closes.
CREATE TABLE tracking_tokens (
    hash      BLOB PRIMARY KEY,
    tenant    TEXT NOT NULL,
    job       TEXT NOT NULL,
    issued_at INTEGER NOT NULL
) STRICT;

CREATE INDEX tracking_tokens_by_job ON tracking_tokens(job);
