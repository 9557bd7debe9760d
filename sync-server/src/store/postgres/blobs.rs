//! Blob records on PostgreSQL: the same as [`crate::store::blobs`] on
//! SQLite. A part is recorded under the upload row's lock
//! (`SELECT … FOR UPDATE`), so nodes racing on one upload take turns.

use std::collections::BTreeSet;

use doorstep_shared::blob::{BlobReference, Holder};
use doorstep_shared::ids::{BlobHash, DeviceId};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use postgres::Transaction;

use super::super::blobs::{
    BlobRecords, HolderRow, Part, PartOutcome, StoredBlob, UploadRecord, count, reference_changes,
};
use super::super::sync::ScopeColumns;
use super::super::{StoreError, parse};
use super::PgStore;

/// Brings a document's `blob_refs` rows up to date inside its sync
/// transaction.
pub(super) fn write_references(
    transaction: &mut Transaction<'_>,
    doc: DocumentId,
    references: &BTreeSet<BlobReference>,
    pushed_by: Option<DeviceId>,
) -> Result<(), StoreError> {
    let doc = doc.to_string();
    let stored: Vec<(String, String)> = transaction
        .query("SELECT hash, kind FROM blob_refs WHERE doc = $1", &[&doc])?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let (added, removed) = reference_changes(references, &stored);
    for reference in added {
        transaction.execute(
            "INSERT INTO blob_refs (doc, hash, kind, photo, added_by, borrowed)
             VALUES ($1, $2, $3, $4, $5,
                     $5::TEXT IS NOT NULL
                     AND EXISTS (SELECT 1 FROM blob_refs WHERE hash = $2 AND doc <> $1))
             ON CONFLICT DO NOTHING",
            &[
                &doc,
                &reference.hash.to_string(),
                &reference.kind.as_str(),
                &reference.photo.to_string(),
                &pushed_by.map(|d| d.to_string()),
            ],
        )?;
    }
    for (hash, kind) in removed {
        transaction.execute(
            "DELETE FROM blob_refs WHERE doc = $1 AND hash = $2 AND kind = $3",
            &[&doc, &hash, &kind],
        )?;
    }
    Ok(())
}

impl BlobRecords for PgStore {
    fn blob_holders(&self, hash: BlobHash) -> Result<Vec<Holder>, StoreError> {
        self.with_client(|client| {
            let rows = client.query(
                "SELECT r.doc, r.kind, r.added_by, d.kind, d.assignee_user, d.assignee_team,
                        d.open, d.crew, d.contact_job, d.tenant, r.borrowed
                 FROM blob_refs r JOIN sync_documents d ON d.id = r.doc
                 WHERE r.hash = $1",
                &[&hash.to_string()],
            )?;
            rows.iter()
                .map(|row| {
                    HolderRow {
                        doc: row.get(0),
                        kind: row.get(1),
                        added_by: row.get(2),
                        scope_kind: row.get(3),
                        scope: ScopeColumns {
                            kind: "",
                            assignee_user: row.get(4),
                            assignee_team: row.get(5),
                            open: row.get(6),
                            crew: row.get(7),
                            contact_job: row.get(8),
                        },
                        tenant: row.get(9),
                        borrowed: row.get(10),
                    }
                    .into_holder()
                })
                .collect()
        })
    }

    fn stored_blob(&self, hash: BlobHash) -> Result<Option<StoredBlob>, StoreError> {
        self.with_client(|client| {
            Ok(client
                .query_opt(
                    "SELECT length, content_type FROM blobs WHERE hash = $1",
                    &[&hash.to_string()],
                )?
                .map(|row| StoredBlob {
                    length: count(row.get(0)),
                    content_type: row.get(1),
                }))
        })
    }

    fn upload(&self, hash: BlobHash) -> Result<Option<UploadRecord>, StoreError> {
        self.with_client(|client| {
            let hash = hash.to_string();
            let Some(row) = client.query_opt(
                "SELECT length, received FROM uploads WHERE hash = $1",
                &[&hash],
            )?
            else {
                return Ok(None);
            };
            let parts = client
                .query(
                    "SELECT start, length, object FROM upload_parts WHERE hash = $1 ORDER BY start",
                    &[&hash],
                )?
                .iter()
                .map(|part| Part {
                    start: count(part.get(0)),
                    length: count(part.get(1)),
                    object: part.get(2),
                })
                .collect();
            Ok(Some(UploadRecord {
                length: count(row.get(0)),
                received: count(row.get(1)),
                parts,
            }))
        })
    }

    fn add_part(
        &self,
        hash: BlobHash,
        length: u64,
        part: &Part,
        now: Timestamp,
    ) -> Result<PartOutcome, StoreError> {
        self.with_client(|client| {
            // Dropping the transaction without committing rolls it back.
            let mut transaction = client.transaction()?;
            let hash = hash.to_string();
            if transaction
                .query_opt("SELECT 1 FROM blobs WHERE hash = $1", &[&hash])?
                .is_some()
            {
                return Ok(PartOutcome::Stored);
            }
            transaction.execute(
                "INSERT INTO uploads (hash, length, received, started_at, touched_at)
                 VALUES ($1, $2, 0, $3, $3)
                 ON CONFLICT DO NOTHING",
                &[&hash, &(length as i64), &now.as_millis()],
            )?;
            // Locks the upload: parts are recorded one at a time, and an
            // upload being dropped (see `drop_upload`) takes no new part.
            let Some(row) = transaction.query_opt(
                "SELECT length, received FROM uploads WHERE hash = $1 FOR UPDATE",
                &[&hash],
            )?
            else {
                return Ok(PartOutcome::Conflict { received: 0 });
            };
            let (stored, received) = (count(row.get(0)), count(row.get(1)));
            if stored != length {
                return Ok(PartOutcome::LengthDiffers { length: stored });
            }
            if received != part.start {
                return Ok(PartOutcome::Conflict { received });
            }
            let received = part.start + part.length;
            transaction.execute(
                "UPDATE uploads SET received = $2, touched_at = $3 WHERE hash = $1",
                &[&hash, &(received as i64), &now.as_millis()],
            )?;
            transaction.execute(
                "INSERT INTO upload_parts (hash, start, length, object) VALUES ($1, $2, $3, $4)",
                &[
                    &hash,
                    &(part.start as i64),
                    &(part.length as i64),
                    &part.object,
                ],
            )?;
            transaction.commit()?;
            Ok(PartOutcome::Added { received })
        })
    }

    fn blob_stored(
        &self,
        hash: BlobHash,
        blob: &StoredBlob,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            transaction.execute(
                "INSERT INTO blobs (hash, length, content_type, stored_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[
                    &hash.to_string(),
                    &(blob.length as i64),
                    &blob.content_type,
                    &now.as_millis(),
                ],
            )?;
            transaction.execute("DELETE FROM uploads WHERE hash = $1", &[&hash.to_string()])?;
            transaction.commit()?;
            Ok(())
        })
    }

    fn drop_upload(&self, hash: BlobHash) -> Result<Vec<String>, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            // The same lock `add_part` takes: no part slips in unlisted.
            transaction.query_opt(
                "SELECT 1 FROM uploads WHERE hash = $1 FOR UPDATE",
                &[&hash.to_string()],
            )?;
            let objects = transaction
                .query(
                    "SELECT object FROM upload_parts WHERE hash = $1",
                    &[&hash.to_string()],
                )?
                .iter()
                .map(|row| row.get(0))
                .collect();
            transaction.execute("DELETE FROM uploads WHERE hash = $1", &[&hash.to_string()])?;
            transaction.commit()?;
            Ok(objects)
        })
    }

    fn stale_uploads(&self, before: Timestamp) -> Result<Vec<BlobHash>, StoreError> {
        self.with_client(|client| {
            client
                .query(
                    "SELECT hash FROM uploads WHERE touched_at < $1",
                    &[&before.as_millis()],
                )?
                .iter()
                .map(|row| parse("blob hash", row.get(0)))
                .collect()
        })
    }
}
