-- What residents are told. One row per thing a resident experiences and
-- channel (`key` is made of the job and the accepted transition, the
-- action or the job's creation, never of the push that carried it), so a
-- change synced twice or made on two phones is told once. Rows are written
-- in the same transaction as the change; a worker sends them later, after
-- checking them again. The recipient and texts are filled in when sent and
-- erased with the contact document.
CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    tenant        TEXT NOT NULL,
    job           TEXT NOT NULL,
    key           TEXT NOT NULL,
    channel       TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    event         TEXT NOT NULL,
    happened_at   INTEGER NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  INTEGER NOT NULL,
    claimed_until INTEGER,
    recipient     TEXT,
    subject       TEXT,
    body          TEXT,
    provider_ref  TEXT,
    outcome       TEXT,
    -- The provider's last word on delivery (Notify's delivered,
    -- permanent-failure, temporary-failure, technical-failure).
    delivery      TEXT,
    sent_at       INTEGER,
    UNIQUE (tenant, key, channel)
) STRICT;

CREATE INDEX outbox_due ON outbox(status, next_attempt);
CREATE INDEX outbox_by_job ON outbox(job);
CREATE INDEX outbox_by_provider_ref ON outbox(provider_ref);
