-- The photo renditions each document references, with the device whose
-- push first referenced it: who may read or upload a blob is decided from
-- these rows and the document's scope columns. A reference to a blob that
-- another document referenced first is `borrowed`: it lets its device
-- upload the bytes but grants no one a read, so knowing a hash is never
-- enough to see a photo.
CREATE TABLE blob_refs (
    doc       TEXT NOT NULL REFERENCES sync_documents(id),
    hash      TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('display', 'thumbnail', 'original')),
    photo     TEXT NOT NULL,
    added_by  TEXT,
    borrowed  BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (doc, hash, kind)
);

CREATE INDEX blob_refs_by_hash ON blob_refs(hash);

-- Blobs stored whole and verified in the object store.
CREATE TABLE blobs (
    hash         TEXT PRIMARY KEY,
    length       BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    stored_at    BIGINT NOT NULL
);

-- Uploads in progress. `received` only grows, by compare-and-set, so two
-- nodes (or a retry racing a cut-off request) never interleave parts.
CREATE TABLE uploads (
    hash       TEXT PRIMARY KEY,
    length     BIGINT NOT NULL,
    received   BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    touched_at BIGINT NOT NULL
);

-- The parts of an upload, each an object of its own until assembled.
CREATE TABLE upload_parts (
    hash   TEXT NOT NULL REFERENCES uploads(hash) ON DELETE CASCADE,
    start  BIGINT NOT NULL,
    length BIGINT NOT NULL,
    object TEXT NOT NULL,
    PRIMARY KEY (hash, start)
);
