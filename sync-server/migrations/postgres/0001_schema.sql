-- Councils (and shared services) the server works for, with the two halves
-- of a device's sync cursor: the change sequence and the scope version.
CREATE TABLE tenants (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    seq           BIGINT NOT NULL DEFAULT 0,
    scope_version BIGINT NOT NULL DEFAULT 0
);

-- People. A user has one role and may work for several councils.
CREATE TABLE users (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('operative', 'crew', 'dispatcher', 'resident', 'system'))
);

CREATE TABLE user_tenants (
    user_id   TEXT NOT NULL REFERENCES users(id),
    tenant TEXT NOT NULL REFERENCES tenants(id),
    PRIMARY KEY (user_id, tenant)
);

CREATE TABLE teams (
    id     TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(id),
    name   TEXT NOT NULL
);

CREATE TABLE team_members (
    team TEXT NOT NULL REFERENCES teams(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (team, user_id)
);

-- Enrolled devices. The Automerge actor id is fixed at enrolment; only the
-- SHA-256 of the device's token is kept.
CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id),
    actor       BYTEA NOT NULL UNIQUE,
    token_hash  BYTEA NOT NULL UNIQUE,
    enrolled_at BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- One-time enrolment codes, hashed. `device` is set when a dispatcher
-- re-enrols a known device, which then keeps its actor id.
CREATE TABLE enrolments (
    code_hash  BYTEA PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    device     TEXT REFERENCES devices(id),
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- Synced documents: a compacted snapshot plus the changes stored after it.
-- The scope columns say who may see each document.
CREATE TABLE sync_documents (
    id            TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL REFERENCES tenants(id),
    snapshot      BYTEA NOT NULL,
    snapshot_seq  BIGINT NOT NULL,
    last_seq      BIGINT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('job', 'round', 'contact')),
    assignee_user TEXT,
    assignee_team TEXT,
    open          BOOLEAN NOT NULL DEFAULT TRUE,
    crew          TEXT,
    contact_job   TEXT
);

CREATE INDEX sync_documents_by_tenant ON sync_documents(tenant, last_seq);

-- Every stored change, numbered in its tenant's sequence. The hash and
-- author outlive compaction; the bytes serve devices catching up.
CREATE TABLE sync_changes (
    tenant        TEXT NOT NULL REFERENCES tenants(id),
    seq           BIGINT NOT NULL,
    doc           TEXT NOT NULL REFERENCES sync_documents(id),
    hash          BYTEA NOT NULL,
    author_device TEXT,
    bytes         BYTEA NOT NULL,
    PRIMARY KEY (tenant, seq)
);

CREATE INDEX sync_changes_by_doc ON sync_changes(doc, seq);

-- What the server has sent each device.
CREATE TABLE sync_deliveries (
    device    TEXT NOT NULL,
    tenant    TEXT NOT NULL REFERENCES tenants(id),
    delivery  BYTEA NOT NULL,
    PRIMARY KEY (device, tenant)
);

CREATE TABLE sync_ever_delivered (
    device TEXT NOT NULL,
    doc    TEXT NOT NULL,
    PRIMARY KEY (device, doc)
);

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
    appointment_starts BIGINT,
    appointment_ends   BIGINT,
    pending_requests   BIGINT NOT NULL
);

CREATE INDEX job_summaries_by_appointment ON job_summaries(tenant, appointment_starts);
