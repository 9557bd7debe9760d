//! What the database knows of blobs: which documents reference each one
//! (written with the document's changes, in the same transaction), which
//! are stored whole, and the uploads in progress. The bytes themselves are
//! in the object store ([`crate::blobs`]).
//!
//! An upload's `received` count only moves forward by compare-and-set: a
//! part is recorded only if the upload holds exactly the bytes before it.
//! Parts are written to the object store under names of their own before
//! they are recorded, so a part that loses the race is simply deleted. A
//! part is recorded under the upload row's lock (`{for_update}`: the row on
//! PostgreSQL, SQLite's one writer), so nodes racing on one upload take
//! turns.

use doorstep_shared::blob::{BlobReference, Holder, RenditionKind};
use doorstep_shared::ids::{BlobHash, DeviceId};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;

use super::db::{Row, Tx};
use super::sync::{ScopeColumns, kind_name};
use super::{Store, StoreError};
pub use crate::photos::storage::{Part, PartOutcome, StoredBlob, UploadRecord};
use crate::{args, sql};

/// A holder read from `blob_refs` joined with its document's scope columns.
fn holder(row: &Row) -> Result<Holder, StoreError> {
    let doc: DocumentId = row.parse(0, "document id")?;
    let kind: String = row.get(1)?;
    let kind = RenditionKind::parse(&kind).ok_or(StoreError::Corrupt {
        what: "rendition kind",
        value: kind,
    })?;
    let scope = ScopeColumns {
        kind: kind_name(&row.get::<String>(3)?),
        assignee_user: row.get(4)?,
        assignee_team: row.get(5)?,
        open: row.get(6)?,
        crew: row.get(7)?,
        contact_job: row.get(8)?,
    }
    .into_record(doc)?;
    Ok(Holder {
        doc,
        tenant: row.parse(9, "tenant id")?,
        kind,
        scope,
        added_by: row.parse_opt::<DeviceId>(2, "device id")?,
        borrowed: row.get(10)?,
    })
}

/// Which references to add and which to remove, given the document's
/// references now and the rows stored before.
fn reference_changes(
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
    tx: &mut Tx<'_, '_>,
    doc: DocumentId,
    references: &std::collections::BTreeSet<BlobReference>,
    pushed_by: Option<DeviceId>,
) -> Result<(), StoreError> {
    let doc = doc.to_string();
    let stored = tx
        .query(
            sql!("SELECT hash, kind FROM blob_refs WHERE doc = ?1"),
            args![doc.as_str()],
        )?
        .iter()
        .map(|row| Ok((row.get(0)?, row.get(1)?)))
        .collect::<Result<Vec<(String, String)>, StoreError>>()?;
    let (added, removed) = reference_changes(references, &stored);
    for reference in added {
        // A device's reference to a blob another document had first is
        // borrowed: see the migration.
        tx.execute(
            sql!(
                "INSERT INTO blob_refs (doc, hash, kind, photo, added_by, borrowed)
                 VALUES (?1, ?2, ?3, ?4, ?5,
                         CAST(?5 AS TEXT) IS NOT NULL
                         AND EXISTS (SELECT 1 FROM blob_refs WHERE hash = ?2 AND doc <> ?1))
                 ON CONFLICT DO NOTHING"
            ),
            args![
                doc.as_str(),
                reference.hash.to_string(),
                reference.kind.as_str(),
                reference.photo.to_string(),
                pushed_by.map(|d| d.to_string()),
            ],
        )?;
    }
    for (hash, kind) in removed {
        tx.execute(
            sql!("DELETE FROM blob_refs WHERE doc = ?1 AND hash = ?2 AND kind = ?3"),
            args![doc.as_str(), hash, kind],
        )?;
    }
    Ok(())
}

/// A byte count or offset as stored (never negative).
fn bytes(row: &Row, index: usize) -> Result<u64, StoreError> {
    row.get(index)
}

/// A byte count as stored.
fn stored(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

impl Store {
    /// The documents that reference a blob, with their scope.
    pub fn blob_holders(&self, hash: BlobHash) -> Result<Vec<Holder>, StoreError> {
        self.read(|tx| {
            tx.query(
                sql!(
                    "SELECT r.doc, r.kind, r.added_by, d.kind, d.assignee_user, d.assignee_team,
                            d.open, d.crew, d.contact_job, d.tenant, r.borrowed
                     FROM blob_refs r JOIN sync_documents d ON d.id = r.doc
                     WHERE r.hash = ?1"
                ),
                args![hash.to_string()],
            )?
            .iter()
            .map(holder)
            .collect()
        })
    }

    /// A blob stored whole, if it is.
    pub fn stored_blob(&self, hash: BlobHash) -> Result<Option<StoredBlob>, StoreError> {
        self.read(|tx| {
            tx.query_opt(
                sql!("SELECT length, content_type FROM blobs WHERE hash = ?1"),
                args![hash.to_string()],
            )?
            .map(|row| {
                Ok(StoredBlob {
                    length: bytes(&row, 0)?,
                    content_type: row.get(1)?,
                })
            })
            .transpose()
        })
    }

    /// An upload in progress, if there is one.
    pub fn upload(&self, hash: BlobHash) -> Result<Option<UploadRecord>, StoreError> {
        let hash = hash.to_string();
        self.read(|tx| {
            let Some(row) = tx.query_opt(
                sql!("SELECT length, received FROM uploads WHERE hash = ?1"),
                args![hash.as_str()],
            )?
            else {
                return Ok(None);
            };
            let parts = tx
                .query(
                    sql!(
                        "SELECT start, length, object FROM upload_parts WHERE hash = ?1
                         ORDER BY start"
                    ),
                    args![hash.as_str()],
                )?
                .iter()
                .map(|part| {
                    Ok(Part {
                        start: bytes(part, 0)?,
                        length: bytes(part, 1)?,
                        object: part.get(2)?,
                    })
                })
                .collect::<Result<_, StoreError>>()?;
            Ok(Some(UploadRecord {
                length: bytes(&row, 0)?,
                received: bytes(&row, 1)?,
                parts,
            }))
        })
    }

    /// Records `part` if the upload holds exactly `part.start` bytes (an
    /// upload starts with a part at 0, declaring the blob's `length`).
    pub fn add_part(
        &self,
        hash: BlobHash,
        length: u64,
        part: &Part,
        now: Timestamp,
    ) -> Result<PartOutcome, StoreError> {
        let hash = hash.to_string();
        self.write(|tx| {
            if tx
                .query_opt(
                    sql!("SELECT 1 FROM blobs WHERE hash = ?1"),
                    args![hash.as_str()],
                )?
                .is_some()
            {
                return Ok(PartOutcome::Stored);
            }
            tx.execute(
                sql!(
                    "INSERT INTO uploads (hash, length, received, started_at, touched_at)
                     VALUES (?1, ?2, 0, ?3, ?3)
                     ON CONFLICT DO NOTHING"
                ),
                args![hash.as_str(), stored(length), now.as_millis()],
            )?;
            // Locks the upload: parts are recorded one at a time, and an
            // upload being dropped (see `drop_upload`) takes no new part.
            let Some(row) = tx.query_opt(
                sql!("SELECT length, received FROM uploads WHERE hash = ?1 {for_update}"),
                args![hash.as_str()],
            )?
            else {
                return Ok(PartOutcome::Conflict { received: 0 });
            };
            let (declared, received) = (bytes(&row, 0)?, bytes(&row, 1)?);
            if declared != length {
                return Ok(PartOutcome::LengthDiffers { length: declared });
            }
            if received != part.start {
                return Ok(PartOutcome::Conflict { received });
            }
            let received = part.start + part.length;
            tx.execute(
                sql!("UPDATE uploads SET received = ?2, touched_at = ?3 WHERE hash = ?1"),
                args![hash.as_str(), stored(received), now.as_millis()],
            )?;
            tx.execute(
                sql!(
                    "INSERT INTO upload_parts (hash, start, length, object)
                     VALUES (?1, ?2, ?3, ?4)"
                ),
                args![
                    hash.as_str(),
                    stored(part.start),
                    stored(part.length),
                    part.object.as_str(),
                ],
            )?;
            Ok(PartOutcome::Added { received })
        })
    }

    /// Records a blob as stored whole and forgets its upload.
    pub fn blob_stored(
        &self,
        hash: BlobHash,
        blob: &StoredBlob,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                sql!(
                    "INSERT INTO blobs (hash, length, content_type, stored_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING"
                ),
                args![
                    hash.to_string(),
                    stored(blob.length),
                    blob.content_type.as_str(),
                    now.as_millis(),
                ],
            )?;
            tx.execute(
                sql!("DELETE FROM uploads WHERE hash = ?1"),
                args![hash.to_string()],
            )?;
            Ok(())
        })
    }

    /// Forgets an upload, returning the part objects to delete.
    pub fn drop_upload(&self, hash: BlobHash) -> Result<Vec<String>, StoreError> {
        let hash = hash.to_string();
        self.write(|tx| {
            // The same lock `add_part` takes: no part slips in unlisted.
            tx.query_opt(
                sql!("SELECT 1 FROM uploads WHERE hash = ?1 {for_update}"),
                args![hash.as_str()],
            )?;
            let objects = tx
                .query(
                    sql!("SELECT object FROM upload_parts WHERE hash = ?1"),
                    args![hash.as_str()],
                )?
                .iter()
                .map(|row| row.get(0))
                .collect::<Result<Vec<String>, StoreError>>()?;
            tx.execute(
                sql!("DELETE FROM uploads WHERE hash = ?1"),
                args![hash.as_str()],
            )?;
            Ok(objects)
        })
    }

    /// Uploads untouched since before `before` and never finished, to
    /// clean up.
    pub fn stale_uploads(&self, before: Timestamp) -> Result<Vec<BlobHash>, StoreError> {
        self.read(|tx| {
            tx.query(
                sql!("SELECT hash FROM uploads WHERE touched_at < ?1"),
                args![before.as_millis()],
            )?
            .iter()
            .map(|row| row.parse(0, "blob hash"))
            .collect()
        })
    }
}
