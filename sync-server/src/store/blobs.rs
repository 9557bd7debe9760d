//! What the database knows of blobs: which documents reference each one
//! (written with the document's changes, in the same transaction), which
//! are stored whole, and the uploads in progress. The bytes themselves are
//! in the object store ([`crate::blobs`]).
//!
//! An upload's `received` count only moves forward by compare-and-set: a
//! part is recorded only if the upload holds exactly the bytes before it.
//! Parts are written to the object store under names of their own before
//! they are recorded, so a part that loses the race is simply deleted.

use doorstep_shared::blob::{BlobReference, Holder, RenditionKind};
use doorstep_shared::ids::{BlobHash, DeviceId};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::sync::{ScopeColumns, kind_name};
use super::{SqliteStore, StoreError, parse};

/// A blob stored whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// Its length in bytes.
    pub length: u64,
    /// `image/jpeg` or `image/png`.
    pub content_type: String,
}

/// A part of an upload: bytes `start..start + length`, in its own object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Where it starts.
    pub start: u64,
    /// How many bytes it holds.
    pub length: u64,
    /// The object's name in the object store.
    pub object: String,
}

/// An upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// The blob's whole length, as declared by the first part.
    pub length: u64,
    /// Bytes received, from the start.
    pub received: u64,
    /// The parts, in order.
    pub parts: Vec<Part>,
}

/// What became of a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartOutcome {
    /// Recorded; the upload now holds this many bytes.
    Added {
        /// Bytes received.
        received: u64,
    },
    /// The upload holds a different number of bytes than the part's start
    /// (another request got there first): resume from `received`.
    Conflict {
        /// Bytes received.
        received: u64,
    },
    /// The blob is already stored whole: the part is not needed.
    Stored,
    /// The upload was started with another length.
    LengthDiffers {
        /// The length it was started with.
        length: u64,
    },
}

/// Blob records: the same on every backend.
pub trait BlobRecords {
    /// The documents that reference a blob, with their scope.
    fn blob_holders(&self, hash: BlobHash) -> Result<Vec<Holder>, StoreError>;

    /// A blob stored whole, if it is.
    fn stored_blob(&self, hash: BlobHash) -> Result<Option<StoredBlob>, StoreError>;

    /// An upload in progress, if there is one.
    fn upload(&self, hash: BlobHash) -> Result<Option<UploadRecord>, StoreError>;

    /// Records `part` if the upload holds exactly `part.start` bytes (an
    /// upload starts with a part at 0, declaring the blob's `length`).
    fn add_part(
        &self,
        hash: BlobHash,
        length: u64,
        part: &Part,
        now: Timestamp,
    ) -> Result<PartOutcome, StoreError>;

    /// Records a blob as stored whole and forgets its upload.
    fn blob_stored(
        &self,
        hash: BlobHash,
        blob: &StoredBlob,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Forgets an upload, returning the part objects to delete.
    fn drop_upload(&self, hash: BlobHash) -> Result<Vec<String>, StoreError>;

    /// Uploads untouched since before `before` and never finished, to
    /// clean up.
    fn stale_uploads(&self, before: Timestamp) -> Result<Vec<BlobHash>, StoreError>;
}

/// One `blob_refs` row joined with its document's scope columns.
pub(super) struct HolderRow {
    pub(super) doc: String,
    pub(super) tenant: String,
    pub(super) borrowed: bool,
    pub(super) kind: String,
    pub(super) added_by: Option<String>,
    pub(super) scope_kind: String,
    pub(super) scope: ScopeColumns,
}

impl HolderRow {
    pub(super) fn into_holder(self) -> Result<Holder, StoreError> {
        let doc: DocumentId = parse("document id", self.doc)?;
        let kind = RenditionKind::parse(&self.kind).ok_or(StoreError::Corrupt {
            what: "rendition kind",
            value: self.kind,
        })?;
        let added_by = self
            .added_by
            .map(|device| parse::<DeviceId>("device id", device))
            .transpose()?;
        let scope = ScopeColumns {
            kind: kind_name(&self.scope_kind),
            ..self.scope
        }
        .into_record(doc)?;
        Ok(Holder {
            doc,
            tenant: parse("tenant id", self.tenant)?,
            kind,
            scope,
            added_by,
            borrowed: self.borrowed,
        })
    }
}

/// Which references to add and which to remove, given the document's
/// references now and the rows stored before.
pub(super) fn reference_changes(
    now: &std::collections::BTreeSet<BlobReference>,
    stored: &[(String, String)],
) -> (Vec<BlobReference>, Vec<(String, String)>) {
    let key = |r: &BlobReference| (r.hash.to_string(), r.kind.as_str().to_owned());
    let current: std::collections::BTreeSet<(String, String)> = now.iter().map(key).collect();
    let added = now
        .iter()
        .filter(|r| !stored.contains(&key(r)))
        .copied()
        .collect();
    let removed = stored
        .iter()
        .filter(|row| !current.contains(*row))
        .cloned()
        .collect();
    (added, removed)
}

/// Brings a document's `blob_refs` rows up to date, inside the sync
/// transaction that stores its changes.
pub(super) fn write_references(
    connection: &Connection,
    doc: DocumentId,
    references: &std::collections::BTreeSet<BlobReference>,
    pushed_by: Option<DeviceId>,
) -> Result<(), StoreError> {
    let doc = doc.to_string();
    let mut select =
        connection.prepare_cached("SELECT hash, kind FROM blob_refs WHERE doc = ?1")?;
    let stored = select
        .query_map(params![doc], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<(String, String)>, _>>()?;
    let (added, removed) = reference_changes(references, &stored);
    for reference in added {
        // A device's reference to a blob another document had first is
        // borrowed: see the migration.
        connection.execute(
            "INSERT INTO blob_refs (doc, hash, kind, photo, added_by, borrowed)
             VALUES (?1, ?2, ?3, ?4, ?5,
                     ?5 IS NOT NULL AND EXISTS (SELECT 1 FROM blob_refs WHERE hash = ?2 AND doc <> ?1))
             ON CONFLICT DO NOTHING",
            params![
                doc,
                reference.hash.to_string(),
                reference.kind.as_str(),
                reference.photo.to_string(),
                pushed_by.map(|d| d.to_string())
            ],
        )?;
    }
    for (hash, kind) in removed {
        connection.execute(
            "DELETE FROM blob_refs WHERE doc = ?1 AND hash = ?2 AND kind = ?3",
            params![doc, hash, kind],
        )?;
    }
    Ok(())
}

/// A stored byte count (never negative) as a length.
pub(super) fn count(value: i64) -> u64 {
    value.max(0) as u64
}

impl BlobRecords for SqliteStore {
    fn blob_holders(&self, hash: BlobHash) -> Result<Vec<Holder>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection.prepare_cached(
            "SELECT r.doc, r.kind, r.added_by, d.kind, d.assignee_user, d.assignee_team, d.open,
                    d.crew, d.contact_job, d.tenant, r.borrowed
             FROM blob_refs r JOIN sync_documents d ON d.id = r.doc
             WHERE r.hash = ?1",
        )?;
        let rows = statement.query_map(params![hash.to_string()], |row| {
            Ok(HolderRow {
                doc: row.get(0)?,
                kind: row.get(1)?,
                added_by: row.get(2)?,
                scope_kind: row.get(3)?,
                scope: ScopeColumns {
                    kind: "",
                    assignee_user: row.get(4)?,
                    assignee_team: row.get(5)?,
                    open: row.get(6)?,
                    crew: row.get(7)?,
                    contact_job: row.get(8)?,
                },
                tenant: row.get(9)?,
                borrowed: row.get(10)?,
            })
        })?;
        rows.map(|row| row?.into_holder()).collect()
    }

    fn stored_blob(&self, hash: BlobHash) -> Result<Option<StoredBlob>, StoreError> {
        Ok(self
            .connection()?
            .query_row(
                "SELECT length, content_type FROM blobs WHERE hash = ?1",
                params![hash.to_string()],
                |row| {
                    Ok(StoredBlob {
                        length: count(row.get(0)?),
                        content_type: row.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    fn upload(&self, hash: BlobHash) -> Result<Option<UploadRecord>, StoreError> {
        let connection = self.connection()?;
        let Some((length, received)) = connection
            .query_row(
                "SELECT length, received FROM uploads WHERE hash = ?1",
                params![hash.to_string()],
                |row| Ok((count(row.get(0)?), count(row.get(1)?))),
            )
            .optional()?
        else {
            return Ok(None);
        };
        let mut statement = connection.prepare_cached(
            "SELECT start, length, object FROM upload_parts WHERE hash = ?1 ORDER BY start",
        )?;
        let parts = statement
            .query_map(params![hash.to_string()], |row| {
                Ok(Part {
                    start: count(row.get(0)?),
                    length: count(row.get(1)?),
                    object: row.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(UploadRecord {
            length,
            received,
            parts,
        }))
    }

    fn add_part(
        &self,
        hash: BlobHash,
        length: u64,
        part: &Part,
        now: Timestamp,
    ) -> Result<PartOutcome, StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction()?;
        let hash = hash.to_string();
        let stored: Option<i64> = transaction
            .query_row(
                "SELECT length FROM blobs WHERE hash = ?1",
                params![hash],
                |row| row.get(0),
            )
            .optional()?;
        if stored.is_some() {
            return Ok(PartOutcome::Stored);
        }
        let existing: Option<(i64, i64)> = transaction
            .query_row(
                "SELECT length, received FROM uploads WHERE hash = ?1",
                params![hash],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let received = match existing {
            None => {
                transaction.execute(
                    "INSERT INTO uploads (hash, length, received, started_at, touched_at)
                     VALUES (?1, ?2, 0, ?3, ?3)",
                    params![hash, length as i64, now.as_millis()],
                )?;
                0
            }
            Some((stored, _)) if count(stored) != length => {
                return Ok(PartOutcome::LengthDiffers {
                    length: count(stored),
                });
            }
            Some((_, received)) => count(received),
        };
        if received != part.start {
            return Ok(PartOutcome::Conflict { received });
        }
        let received = part.start + part.length;
        transaction.execute(
            "UPDATE uploads SET received = ?2, touched_at = ?3 WHERE hash = ?1",
            params![hash, received as i64, now.as_millis()],
        )?;
        transaction.execute(
            "INSERT INTO upload_parts (hash, start, length, object) VALUES (?1, ?2, ?3, ?4)",
            params![hash, part.start as i64, part.length as i64, part.object],
        )?;
        transaction.commit()?;
        Ok(PartOutcome::Added { received })
    }

    fn blob_stored(
        &self,
        hash: BlobHash,
        blob: &StoredBlob,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction()?;
        transaction.execute(
            "INSERT INTO blobs (hash, length, content_type, stored_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            params![
                hash.to_string(),
                blob.length as i64,
                blob.content_type,
                now.as_millis()
            ],
        )?;
        transaction.execute(
            "DELETE FROM uploads WHERE hash = ?1",
            params![hash.to_string()],
        )?;
        transaction.commit()?;
        Ok(())
    }

    fn drop_upload(&self, hash: BlobHash) -> Result<Vec<String>, StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction()?;
        let objects = {
            let mut statement =
                transaction.prepare_cached("SELECT object FROM upload_parts WHERE hash = ?1")?;
            statement
                .query_map(params![hash.to_string()], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?
        };
        transaction.execute(
            "DELETE FROM uploads WHERE hash = ?1",
            params![hash.to_string()],
        )?;
        transaction.commit()?;
        Ok(objects)
    }

    fn stale_uploads(&self, before: Timestamp) -> Result<Vec<BlobHash>, StoreError> {
        let connection = self.connection()?;
        let mut statement =
            connection.prepare_cached("SELECT hash FROM uploads WHERE touched_at < ?1")?;
        let rows = statement.query_map(params![before.as_millis()], |row| row.get(0))?;
        rows.map(|hash| parse("blob hash", hash?)).collect()
    }
}
