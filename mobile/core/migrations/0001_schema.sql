-- The app's local database. Every edit is one transaction: the document,
-- its list row and the sync state (with the change waiting to go up) are
-- committed together, so a crash never leaves one without the others.

-- Job, round and contact documents, whole.
CREATE TABLE documents (
    id     TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    bytes  BLOB NOT NULL
) STRICT;

-- One row per job, written with the job's document, so lists never load
-- documents. `unsynced` is set while the phone holds changes to it that
-- the server has not accepted.
CREATE TABLE job_rows (
    job                TEXT PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
    reference          TEXT NOT NULL,
    service            TEXT NOT NULL,
    service_name       TEXT NOT NULL,
    status             TEXT NOT NULL,
    status_label       TEXT NOT NULL,
    address            TEXT NOT NULL,
    appointment_starts INTEGER,
    appointment_ends   INTEGER,
    pending_requests   INTEGER NOT NULL,
    unsynced           INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX job_rows_by_appointment ON job_rows(appointment_starts, reference);

-- Small pieces of state, each saved whole: the enrolment, the sync
-- state machine, the upload queue.
CREATE TABLE state (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

-- Photo files kept on the phone: renditions until uploaded, originals for
-- the service's retention days.
CREATE TABLE files (
    hash       TEXT PRIMARY KEY,
    bytes      BLOB NOT NULL,
    keep_until INTEGER
) STRICT;
