-- Councils (and shared services) the server works for.
CREATE TABLE tenants (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

-- Every Automerge document: jobs, rounds and contacts, saved whole for now.
CREATE TABLE documents (
    id         TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL REFERENCES tenants(id),
    kind       TEXT NOT NULL CHECK (kind IN ('job', 'round', 'contact')),
    snapshot   BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX documents_by_tenant ON documents(tenant, kind);

-- One row per job, written in the same transaction as the job's document, so
-- lists read rows instead of loading documents.
CREATE TABLE job_summaries (
    job                TEXT PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
    tenant             TEXT NOT NULL REFERENCES tenants(id),
    reference          TEXT NOT NULL,
    service            TEXT NOT NULL,
    service_name       TEXT NOT NULL,
    status             TEXT NOT NULL,
    status_label       TEXT NOT NULL,
    address            TEXT NOT NULL,
    appointment_starts INTEGER,
    appointment_ends   INTEGER,
    pending_requests   INTEGER NOT NULL
) STRICT;

CREATE INDEX job_summaries_by_appointment ON job_summaries(tenant, appointment_starts);
