//! The sync store: [`SyncStore`] over one transaction on either database,
//! written once. The server runs each sync inside one transaction and
//! commits before it replies. On PostgreSQL, sequence numbers are taken by
//! `UPDATE tenants … RETURNING seq`, which locks the tenant's row until the
//! transaction ends: a second writer waits, so numbers are committed in the
//! order they are handed out and a reader never sees 102 before 101 (on
//! SQLite the one writer does the same).
//!
//! Documents are a snapshot plus the changes stored after it; once
//! [`COMPACT_AFTER`] changes pile up, the snapshot is rewritten in the same
//! transaction. Change rows (hash, author, sequence) are kept after
//! compaction: they answer "what changed since" without loading documents.

use std::collections::{BTreeMap, BTreeSet};

use super::db::{Row, Tx};
use super::outbox::outbox_rows;
use super::{StoreError, parse};
use crate::{args, sql};
use automerge::{AutoCommit, Change};
use doorstep_shared::ids::{BlobHash, DeviceId, JobId, TeamId, TenantId};
use doorstep_shared::job::{Assignee, Job};
use doorstep_shared::notify::ResidentEvent;
use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::summary::JobSummary;
use doorstep_shared::sync::store::{
    Author, Delivery, DeviceIdentity, ScopeRecord, StoredChange, SyncStore,
};
use doorstep_shared::sync::wire::{Cursor, DocumentId};
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::Role;

/// Changes stored after a snapshot before the snapshot is rewritten.
pub const COMPACT_AFTER: i64 = 64;

/// [`SyncStore`] over a transaction on either database.
pub struct DbSync<'c, 't, 's> {
    tx: Tx<'c, 't>,
    services: &'s ServiceCatalog,
}

impl<'c, 't, 's> DbSync<'c, 't, 's> {
    /// Works through `tx`, which its owner commits. `services` give job
    /// summaries their status labels.
    pub fn new(tx: Tx<'c, 't>, services: &'s ServiceCatalog) -> Self {
        Self { tx, services }
    }

    /// Rewrites a job's list row from its document.
    fn write_summary(
        &mut self,
        tenant: TenantId,
        job: JobId,
        document: &AutoCommit,
    ) -> Result<(), StoreError> {
        let loaded = Job::load(document)?;
        let Some(service) = self.services.get(&loaded.office.service) else {
            return Ok(());
        };
        let summary = JobSummary::of(job, &loaded, service);
        self.tx.execute(
            sql!(
                "INSERT INTO job_summaries (job, tenant, reference, service, service_name, status,
                     status_label, address, appointment_starts, appointment_ends,
                     pending_requests, closed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (job) DO UPDATE SET
                     reference = excluded.reference, service = excluded.service,
                     service_name = excluded.service_name, status = excluded.status,
                     status_label = excluded.status_label, address = excluded.address,
                     appointment_starts = excluded.appointment_starts,
                     appointment_ends = excluded.appointment_ends,
                     pending_requests = excluded.pending_requests,
                     closed_at = excluded.closed_at"
            ),
            args![
                DocumentId::Job(job).to_string(),
                tenant.to_string(),
                summary.reference,
                summary.service.as_str(),
                summary.service_name,
                summary.status.as_str(),
                summary.status_label,
                summary.address,
                summary.appointment_starts.map(Timestamp::as_millis),
                summary.appointment_ends.map(Timestamp::as_millis),
                i64::try_from(summary.pending_requests).unwrap_or(i64::MAX),
                loaded.closed_at(service).map(Timestamp::as_millis),
            ],
        )?;
        Ok(())
    }
}

/// The scope columns of a document, as both databases store them.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ScopeColumns {
    pub(super) kind: &'static str,
    pub(super) assignee_user: Option<String>,
    pub(super) assignee_team: Option<String>,
    pub(super) open: bool,
    pub(super) crew: Option<String>,
    pub(super) contact_job: Option<String>,
}

/// The `kind` column's values.
pub(super) fn kind_name(kind: &str) -> &'static str {
    match kind {
        "job" => "job",
        "round" => "round",
        _ => "contact",
    }
}

impl From<&ScopeRecord> for ScopeColumns {
    fn from(record: &ScopeRecord) -> Self {
        let none = |kind| ScopeColumns {
            kind,
            assignee_user: None,
            assignee_team: None,
            open: true,
            crew: None,
            contact_job: None,
        };
        match record {
            ScopeRecord::Job { assignee, open } => ScopeColumns {
                assignee_user: match assignee {
                    Some(Assignee::User(user)) => Some(user.to_string()),
                    _ => None,
                },
                assignee_team: match assignee {
                    Some(Assignee::Team(team)) => Some(team.to_string()),
                    _ => None,
                },
                open: *open,
                ..none("job")
            },
            ScopeRecord::Round { crew } => ScopeColumns {
                crew: Some(crew.to_string()),
                ..none("round")
            },
            ScopeRecord::Contact { job } => ScopeColumns {
                contact_job: Some(DocumentId::Job(*job).to_string()),
                ..none("contact")
            },
        }
    }
}

impl ScopeColumns {
    /// Reads the columns back into the record they were written from.
    pub(super) fn into_record(self, doc: DocumentId) -> Result<ScopeRecord, StoreError> {
        Ok(match (self.kind, doc) {
            ("job", _) => ScopeRecord::Job {
                assignee: match (self.assignee_user, self.assignee_team) {
                    (Some(user), _) => Some(Assignee::User(parse("user id", user)?)),
                    (None, Some(team)) => Some(Assignee::Team(parse("team id", team)?)),
                    (None, None) => None,
                },
                open: self.open,
            },
            ("round", _) => ScopeRecord::Round {
                crew: parse(
                    "team id",
                    self.crew.ok_or(StoreError::Corrupt {
                        what: "round crew",
                        value: String::new(),
                    })?,
                )?,
            },
            (_, DocumentId::Contact(job)) => ScopeRecord::Contact { job },
            (kind, _) => {
                return Err(StoreError::Corrupt {
                    what: "document kind",
                    value: kind.to_owned(),
                });
            }
        })
    }
}

/// The device whose push a batch of changes is (none for the server's own).
pub(super) fn pushed_by(changes: &[(Author, Change)]) -> Option<DeviceId> {
    changes.iter().find_map(|(author, _)| match author {
        Author::Device(device) => Some(*device),
        Author::Server => None,
    })
}

/// Writes `blob_refs` rows for every job and round already stored (once,
/// when the table is added), as the server's own references.
pub(super) fn backfill_blob_references(mut tx: Tx<'_, '_>) -> Result<(), StoreError> {
    let ids = tx
        .query(
            sql!("SELECT id FROM sync_documents WHERE kind IN ('job', 'round')"),
            args![],
        )?
        .iter()
        .map(|row| row.parse::<DocumentId>(0, "document id"))
        .collect::<Result<Vec<_>, _>>()?;
    let services = ServiceCatalog::default();
    let mut sync = DbSync::new(tx, &services);
    for doc in ids {
        if let Some((_, document)) = sync.load(doc)? {
            let references = doorstep_shared::blob::references(&document)?;
            super::blobs::write_references(&mut sync.tx, doc, &references, None)?;
        }
    }
    Ok(())
}

/// The `author_device` column of a change: the device, or NULL for the server.
pub(super) fn author_column(author: Author) -> Option<String> {
    match author {
        Author::Device(device) => Some(device.to_string()),
        Author::Server => None,
    }
}

/// Reads an `author_device` column back.
pub(super) fn author_from_column(column: Option<String>) -> Result<Author, StoreError> {
    column.map_or(Ok(Author::Server), |device| {
        Ok(Author::Device(parse("device id", device)?))
    })
}

/// A delivery record as stored.
pub(super) fn encode_delivery(delivery: &Delivery) -> Vec<u8> {
    postcard::to_allocvec(delivery).unwrap_or_default()
}

/// Reads a stored delivery record.
pub(super) fn decode_delivery(bytes: &[u8]) -> Result<Delivery, StoreError> {
    postcard::from_bytes(bytes).map_err(|_| StoreError::Corrupt {
        what: "delivery record",
        value: format!("{} bytes", bytes.len()),
    })
}

fn teams_json(teams: &BTreeSet<TeamId>) -> String {
    let ids: Vec<String> = teams.iter().map(ToString::to_string).collect();
    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into())
}

fn scope_columns(row: &Row) -> Result<ScopeColumns, StoreError> {
    Ok(ScopeColumns {
        kind: kind_name(&row.get::<String>(0)?),
        assignee_user: row.get(1)?,
        assignee_team: row.get(2)?,
        open: row.get(3)?,
        crew: row.get(4)?,
        contact_job: row.get(5)?,
    })
}

impl SyncStore for DbSync<'_, '_, '_> {
    type Error = StoreError;

    fn clock(&mut self, tenant: TenantId) -> Result<Cursor, StoreError> {
        let Some(row) = self.tx.query_opt(
            sql!("SELECT seq, scope_version FROM tenants WHERE id = ?1"),
            args![tenant.to_string()],
        )?
        else {
            return Ok(Cursor::default());
        };
        Ok(Cursor {
            seq: row.get(0)?,
            scope: row.get(1)?,
        })
    }

    fn scope(
        &mut self,
        who: &DeviceIdentity,
        tenant: TenantId,
    ) -> Result<BTreeSet<DocumentId>, StoreError> {
        self.tx
            .query(
                sql!(
                    "SELECT d.id FROM sync_documents d
                     WHERE d.tenant = ?1 AND (
                        ?2
                        OR (d.kind = 'job' AND (d.assignee_user = ?3
                            OR d.assignee_team IN {json_list ?4}))
                        OR (d.kind = 'round' AND d.crew IN {json_list ?4})
                        OR (d.kind = 'contact' AND EXISTS (
                            SELECT 1 FROM sync_documents j
                            WHERE j.id = d.contact_job AND j.open
                              AND (j.assignee_user = ?3
                                   OR j.assignee_team IN {json_list ?4}))))"
                ),
                args![
                    tenant.to_string(),
                    who.role == Role::Dispatcher,
                    who.user.to_string(),
                    teams_json(&who.teams),
                ],
            )?
            .iter()
            .map(|row| row.parse(0, "document id"))
            .collect()
    }

    fn delivery(&mut self, device: DeviceId, tenant: TenantId) -> Result<Delivery, StoreError> {
        match self.tx.query_opt(
            sql!("SELECT delivery FROM sync_deliveries WHERE device = ?1 AND tenant = ?2"),
            args![device.to_string(), tenant.to_string()],
        )? {
            Some(row) => decode_delivery(&row.get::<Vec<u8>>(0)?),
            None => Ok(Delivery::default()),
        }
    }

    fn set_delivery(
        &mut self,
        device: DeviceId,
        tenant: TenantId,
        delivery: &Delivery,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            sql!(
                "INSERT INTO sync_deliveries (device, tenant, delivery) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device, tenant) DO UPDATE SET delivery = excluded.delivery"
            ),
            args![
                device.to_string(),
                tenant.to_string(),
                encode_delivery(delivery)
            ],
        )?;
        Ok(())
    }

    fn picture_taken_elsewhere(
        &mut self,
        hash: BlobHash,
        doc: DocumentId,
        device: DeviceId,
    ) -> Result<bool, StoreError> {
        Ok(self
            .tx
            .query_opt(
                sql!(
                    "SELECT 1 FROM blob_refs WHERE hash = ?1 AND doc <> ?2 AND NOT borrowed
                       AND (added_by IS NULL OR added_by <> ?3) LIMIT 1"
                ),
                args![hash.to_string(), doc.to_string(), device.to_string()],
            )?
            .is_some())
    }

    fn load(&mut self, doc: DocumentId) -> Result<Option<(TenantId, AutoCommit)>, StoreError> {
        let Some(row) = self.tx.query_opt(
            sql!("SELECT tenant, snapshot, snapshot_seq FROM sync_documents WHERE id = ?1"),
            args![doc.to_string()],
        )?
        else {
            return Ok(None);
        };
        super::count_load();
        let tenant: TenantId = row.parse(0, "tenant id")?;
        let mut document = AutoCommit::load(&row.get::<Vec<u8>>(1)?).map_err(document_error)?;
        let changes = self
            .tx
            .query(
                sql!("SELECT bytes FROM sync_changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq"),
                args![doc.to_string(), row.get::<i64>(2)?],
            )?
            .iter()
            .map(|change| Change::from_bytes(change.get(0)?).map_err(|e| document_error(e.into())))
            .collect::<Result<Vec<_>, _>>()?;
        document.apply_changes(changes).map_err(document_error)?;
        Ok(Some((tenant, document)))
    }

    fn append(
        &mut self,
        tenant: TenantId,
        doc: DocumentId,
        document: &mut AutoCommit,
        changes: Vec<(Author, Change)>,
        record: ScopeRecord,
    ) -> Result<(), StoreError> {
        let count = i64::try_from(changes.len()).unwrap_or(i64::MAX);
        let device = pushed_by(&changes);
        // The tenant row is locked by this update until the transaction
        // ends, so sequence numbers are handed out in commit order.
        let last: i64 = self
            .tx
            .query_one(
                sql!("UPDATE tenants SET seq = seq + ?2 WHERE id = ?1 RETURNING seq"),
                args![tenant.to_string(), count],
            )?
            .get(0)?;
        let first = last - count + 1;
        let before = self
            .tx
            .query_opt(
                sql!(
                    "SELECT kind, assignee_user, assignee_team, open, crew, contact_job,
                            snapshot_seq
                     FROM sync_documents WHERE id = ?1"
                ),
                args![doc.to_string()],
            )?
            .map(|row| Ok::<_, StoreError>((scope_columns(&row)?, row.get::<i64>(6)?)))
            .transpose()?;
        let columns = ScopeColumns::from(&record);
        match &before {
            None => {
                self.tx.execute(
                    sql!(
                        "INSERT INTO sync_documents (id, tenant, snapshot, snapshot_seq, last_seq,
                             kind, assignee_user, assignee_team, open, crew, contact_job)
                         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                    ),
                    args![
                        doc.to_string(),
                        tenant.to_string(),
                        document.save(),
                        last,
                        columns.kind,
                        columns.assignee_user.as_deref(),
                        columns.assignee_team.as_deref(),
                        columns.open,
                        columns.crew.as_deref(),
                        columns.contact_job.as_deref(),
                    ],
                )?;
            }
            Some((_, snapshot_seq)) => {
                self.tx.execute(
                    sql!(
                        "UPDATE sync_documents SET last_seq = ?2, assignee_user = ?3,
                             assignee_team = ?4, open = ?5, crew = ?6, contact_job = ?7
                         WHERE id = ?1"
                    ),
                    args![
                        doc.to_string(),
                        last,
                        columns.assignee_user.as_deref(),
                        columns.assignee_team.as_deref(),
                        columns.open,
                        columns.crew.as_deref(),
                        columns.contact_job.as_deref(),
                    ],
                )?;
                if last - snapshot_seq > COMPACT_AFTER {
                    self.tx.execute(
                        sql!(
                            "UPDATE sync_documents SET snapshot = ?2, snapshot_seq = ?3
                             WHERE id = ?1"
                        ),
                        args![doc.to_string(), document.save(), last],
                    )?;
                }
            }
        }
        for ((author, change), seq) in changes.into_iter().zip(first..) {
            self.tx.execute(
                sql!(
                    "INSERT INTO sync_changes (tenant, seq, doc, hash, author_device, bytes)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                args![
                    tenant.to_string(),
                    seq,
                    doc.to_string(),
                    change.hash().0.as_slice(),
                    author_column(author),
                    change.raw_bytes(),
                ],
            )?;
        }
        if before.as_ref().is_none_or(|(old, _)| *old != columns) {
            self.tx.execute(
                sql!("UPDATE tenants SET scope_version = scope_version + 1 WHERE id = ?1"),
                args![tenant.to_string()],
            )?;
        }
        if let DocumentId::Job(job) = doc {
            self.write_summary(tenant, job, document)?;
        }
        if matches!(doc, DocumentId::Job(_) | DocumentId::Round(_)) {
            let references = doorstep_shared::blob::references(document)?;
            super::blobs::write_references(&mut self.tx, doc, &references, device)?;
        }
        Ok(())
    }

    fn enqueue(&mut self, tenant: TenantId, events: &[ResidentEvent]) -> Result<(), StoreError> {
        for (event, channel) in outbox_rows(events) {
            self.tx.execute(
                sql!(
                    "INSERT INTO outbox (tenant, job, key, channel, event, happened_at,
                         next_attempt)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                     ON CONFLICT (tenant, key, channel) DO NOTHING"
                ),
                args![
                    tenant.to_string(),
                    event.job.to_string(),
                    event.key.as_str(),
                    channel,
                    event.event.as_str(),
                    event.at.as_millis(),
                ],
            )?;
        }
        Ok(())
    }

    fn changes_since(
        &mut self,
        tenant: TenantId,
        after: u64,
    ) -> Result<BTreeMap<DocumentId, Vec<StoredChange>>, StoreError> {
        let rows = self.tx.query(
            sql!(
                "SELECT doc, seq, author_device, bytes FROM sync_changes
                 WHERE tenant = ?1 AND seq > ?2 ORDER BY seq"
            ),
            args![tenant.to_string(), i64::try_from(after).unwrap_or(i64::MAX)],
        )?;
        let mut by_doc: BTreeMap<DocumentId, Vec<StoredChange>> = BTreeMap::new();
        for row in rows {
            by_doc
                .entry(row.parse(0, "document id")?)
                .or_default()
                .push(StoredChange {
                    seq: row.get(1)?,
                    author: author_from_column(row.get(2)?)?,
                    bytes: row.get(3)?,
                });
        }
        Ok(by_doc)
    }
}

pub(super) fn document_error(error: automerge::AutomergeError) -> StoreError {
    StoreError::Document(error.into())
}
