-- Councils (and shared services) the server works for, with the two halves
-- of a device's sync cursor: the change sequence and the scope version.
CREATE TABLE tenants (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    seq           INTEGER NOT NULL DEFAULT 0,
    scope_version INTEGER NOT NULL DEFAULT 0
) STRICT;

-- People. A user has one role and may work for several councils.
CREATE TABLE users (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('operative', 'crew', 'dispatcher', 'resident', 'system'))
) STRICT;

CREATE TABLE user_tenants (
    user_id   TEXT NOT NULL REFERENCES users(id),
    tenant TEXT NOT NULL REFERENCES tenants(id),
    PRIMARY KEY (user_id, tenant)
) STRICT, WITHOUT ROWID;

CREATE TABLE teams (
    id     TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(id),
    name   TEXT NOT NULL
) STRICT;

CREATE TABLE team_members (
    team TEXT NOT NULL REFERENCES teams(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (team, user_id)
) STRICT, WITHOUT ROWID;

-- Enrolled devices. The Automerge actor id is fixed at enrolment; only the
-- SHA-256 of the device's token is kept.
CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id),
    actor       BLOB NOT NULL UNIQUE,
    token_hash  BLOB NOT NULL UNIQUE,
    enrolled_at INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;

-- One-time enrolment codes, hashed. `device` is set when a dispatcher
-- re-enrols a known device, which then keeps its actor id.
CREATE TABLE enrolments (
    code_hash  BLOB PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    device     TEXT REFERENCES devices(id),
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

-- Synced documents: a compacted snapshot plus the changes stored after it.
-- The scope columns say who may see each document.
CREATE TABLE sync_documents (
    id            TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL REFERENCES tenants(id),
    snapshot      BLOB NOT NULL,
    snapshot_seq  INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('job', 'round', 'contact')),
    assignee_user TEXT,
    assignee_team TEXT,
    open          INTEGER NOT NULL DEFAULT 1,
    crew          TEXT,
    contact_job   TEXT
) STRICT;

CREATE INDEX sync_documents_by_tenant ON sync_documents(tenant, last_seq);

-- Every stored change, numbered in its tenant's sequence. The hash and
-- author outlive compaction; the bytes serve devices catching up.
CREATE TABLE sync_changes (
    tenant        TEXT NOT NULL REFERENCES tenants(id),
    seq           INTEGER NOT NULL,
    doc           TEXT NOT NULL REFERENCES sync_documents(id),
    hash          BLOB NOT NULL,
    author_device TEXT,
    bytes         BLOB NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT;

CREATE INDEX sync_changes_by_doc ON sync_changes(doc, seq);

-- What the server has sent each device.
CREATE TABLE sync_deliveries (
    device    TEXT NOT NULL,
    tenant    TEXT NOT NULL REFERENCES tenants(id),
    delivery  BLOB NOT NULL,
    PRIMARY KEY (device, tenant)
) STRICT;

CREATE TABLE sync_ever_delivered (
    device TEXT NOT NULL,
    doc    TEXT NOT NULL,
    PRIMARY KEY (device, doc)
) STRICT, WITHOUT ROWID;

-- One row per job, written in the same transaction as the job's changes, so
-- lists read rows instead of loading documents.
CREATE TABLE job_summaries (
    job                TEXT PRIMARY KEY REFERENCES sync_documents(id),
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
