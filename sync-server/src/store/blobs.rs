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

use super::db::{FromRow, Row, Tx};
use super::sync::ScopeColumns;
use super::{Store, StoreError};
pub use crate::photos::storage::{Part, PartOutcome, StoredBlob, UploadRecord};
use crate::{args, sql};

/// A holder read from `blob_refs` joined with its document's scope columns.
impl FromRow for Holder {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        let doc: DocumentId = row.get(0)?;
        let kind: String = row.get(1)?;
        let kind = RenditionKind::parse(&kind).ok_or(StoreError::Corrupt {
            what: "rendition kind",
            value: kind,
        })?;
        Ok(Holder {
            doc,
            tenant: row.get(9)?,
            kind,
            scope: ScopeColumns::read(row, 3)?.into_record(doc)?,
            added_by: row.get(2)?,
            borrowed: row.get(10)?,
        })
    }
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
    let stored: Vec<(String, String)> = tx.all(
        sql!("SELECT hash, kind FROM blob_refs WHERE doc = ?1"),
        args![doc],
    )?;
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
                doc,
                reference.hash,
                reference.kind.as_str(),
                reference.photo,
                pushed_by,
            ],
        )?;
    }
    for (hash, kind) in removed {
        tx.execute(
            sql!("DELETE FROM blob_refs WHERE doc = ?1 AND hash = ?2 AND kind = ?3"),
            args![doc, hash, kind],
        )?;
    }
    Ok(())
}

impl Store {
    /// The documents that reference a blob, with their scope.
    pub fn blob_holders(&self, hash: BlobHash) -> Result<Vec<Holder>, StoreError> {
        self.all(
            sql!(
                "SELECT r.doc, r.kind, r.added_by, d.kind, d.assignee_user, d.assignee_team,
                        d.open, d.crew, d.contact_job, d.tenant, r.borrowed
                 FROM blob_refs r JOIN sync_documents d ON d.id = r.doc
                 WHERE r.hash = ?1"
            ),
            args![hash],
        )
    }

    /// A blob stored whole, if it is.
    pub fn stored_blob(&self, hash: BlobHash) -> Result<Option<StoredBlob>, StoreError> {
        let blob = self.opt(
            sql!("SELECT length, content_type FROM blobs WHERE hash = ?1"),
            args![hash],
        )?;
        Ok(blob.map(|(length, content_type)| StoredBlob {
            length,
            content_type,
        }))
    }

    /// An upload in progress, if there is one.
    pub fn upload(&self, hash: BlobHash) -> Result<Option<UploadRecord>, StoreError> {
        self.read(|tx| {
            let Some((length, received)) = tx.opt(
                sql!("SELECT length, received FROM uploads WHERE hash = ?1"),
                args![hash],
            )?
            else {
                return Ok(None);
            };
            let parts: Vec<(u64, u64, String)> = tx.all(
                sql!(
                    "SELECT start, length, object FROM upload_parts WHERE hash = ?1 ORDER BY start"
                ),
                args![hash],
            )?;
            let parts = parts
                .into_iter()
                .map(|(start, length, object)| Part {
                    start,
                    length,
                    object,
                })
                .collect();
            Ok(Some(UploadRecord {
                length,
                received,
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
        self.write(|tx| {
            let whole: Option<i64> =
                tx.opt(sql!("SELECT 1 FROM blobs WHERE hash = ?1"), args![hash])?;
            if whole.is_some() {
                return Ok(PartOutcome::Stored);
            }
            tx.execute(
                sql!(
                    "INSERT INTO uploads (hash, length, received, started_at, touched_at)
                     VALUES (?1, ?2, 0, ?3, ?3)
                     ON CONFLICT DO NOTHING"
                ),
                args![hash, length, now],
            )?;
            // Locks the upload: parts are recorded one at a time, and an
            // upload being dropped (see `drop_upload`) takes no new part.
            let Some((declared, received)) = tx.opt::<(u64, u64)>(
                sql!("SELECT length, received FROM uploads WHERE hash = ?1 {for_update}"),
                args![hash],
            )?
            else {
                return Ok(PartOutcome::Conflict { received: 0 });
            };
            if declared != length {
                return Ok(PartOutcome::LengthDiffers { length: declared });
            }
            if received != part.start {
                return Ok(PartOutcome::Conflict { received });
            }
            let received = part.start + part.length;
            tx.execute(
                sql!("UPDATE uploads SET received = ?2, touched_at = ?3 WHERE hash = ?1"),
                args![hash, received, now],
            )?;
            tx.execute(
                sql!(
                    "INSERT INTO upload_parts (hash, start, length, object)
                     VALUES (?1, ?2, ?3, ?4)"
                ),
                args![hash, part.start, part.length, part.object.as_str()],
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
                args![hash, blob.length, blob.content_type.as_str(), now],
            )?;
            tx.execute(sql!("DELETE FROM uploads WHERE hash = ?1"), args![hash])?;
            Ok(())
        })
    }

    /// Forgets an upload, returning the part objects to delete.
    pub fn drop_upload(&self, hash: BlobHash) -> Result<Vec<String>, StoreError> {
        self.write(|tx| {
            // The same lock `add_part` takes: no part slips in unlisted.
            tx.query_opt(
                sql!("SELECT 1 FROM uploads WHERE hash = ?1 {for_update}"),
                args![hash],
            )?;
            let objects = tx.all(
                sql!("SELECT object FROM upload_parts WHERE hash = ?1"),
                args![hash],
            )?;
            tx.execute(sql!("DELETE FROM uploads WHERE hash = ?1"), args![hash])?;
            Ok(objects)
        })
    }

    /// Uploads untouched since before `before` and never finished, to
    /// clean up.
    pub fn stale_uploads(&self, before: Timestamp) -> Result<Vec<BlobHash>, StoreError> {
        self.all(
            sql!("SELECT hash FROM uploads WHERE touched_at < ?1"),
            args![before],
        )
    }
}
