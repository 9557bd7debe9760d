-- Each tenant's change sequence and scope version: the two halves of a
-- device's cursor.
ALTER TABLE tenants ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN scope_version INTEGER NOT NULL DEFAULT 0;

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
