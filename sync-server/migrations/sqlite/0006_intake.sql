-- The last job reference number given per council and prefix (HR-00042).
-- A number is taken in its own statement before the job is stored, so a
-- job that then fails to be stored leaves a gap, never a number given twice.
CREATE TABLE job_references (
    tenant TEXT NOT NULL,
    prefix TEXT NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (tenant, prefix)
) STRICT;

-- When the job reached a terminal state: the contact document is erased a
-- set number of days after it.
ALTER TABLE job_summaries ADD COLUMN closed_at INTEGER;

-- When the resident's contact document was erased: the row keeps its
-- channel, event and statuses, but its recipient and texts are gone.
ALTER TABLE outbox ADD COLUMN erased_at INTEGER;
