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

use super::StoreError;
use super::db::{Row, Tx};
use super::outbox::outbox_rows;
use crate::{args, sql};
use automerge::{AutoCommit, Change};
use doorstep_shared::ids::{BlobHash, DeviceId, JobId, TeamId, TenantId, UserId};
use doorstep_shared::job::{Assignee, Job};
use doorstep_shared::notify::ResidentEvent;
use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::summary::JobSummary;
use doorstep_shared::sync::store::{
    Author, Delivery, DeviceIdentity, ScopeRecord, StoredChange, SyncStore,
};
use doorstep_shared::sync::wire::{Cursor, DocumentId};
use doorstep_shared::transition::Role;
use doorstep_shared::workflow::Arrival;

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
                DocumentId::Job(job),
                tenant,
                summary.reference,
                summary.service.as_str(),
                summary.service_name,
                summary.status.as_str(),
                summary.status_label,
                summary.address,
                summary.appointment_starts,
                summary.appointment_ends,
                summary.pending_requests,
                loaded.closed_at(service),
            ],
        )?;
        Ok(())
    }
}

/// The scope columns of a document, as both databases store them.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ScopeColumns {
    pub(super) kind: &'static str,
    pub(super) assignee_user: Option<UserId>,
    pub(super) assignee_team: Option<TeamId>,
    pub(super) open: bool,
    pub(super) crew: Option<TeamId>,
    pub(super) contact_job: Option<DocumentId>,
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
                    Some(Assignee::User(user)) => Some(*user),
                    _ => None,
                },
                assignee_team: match assignee {
                    Some(Assignee::Team(team)) => Some(*team),
                    _ => None,
                },
                open: *open,
                ..none("job")
            },
            ScopeRecord::Round { crew } => ScopeColumns {
                crew: Some(*crew),
                ..none("round")
            },
            ScopeRecord::Contact { job } => ScopeColumns {
                contact_job: Some(DocumentId::Job(*job)),
                ..none("contact")
            },
        }
    }
}

impl ScopeColumns {
    /// Reads `kind, assignee_user, assignee_team, open, crew, contact_job`
    /// from the row's columns starting at `first`.
    pub(super) fn read(row: &Row, first: usize) -> Result<Self, StoreError> {
        let kind = match row.get::<String>(first)?.as_str() {
            "job" => "job",
            "round" => "round",
            _ => "contact",
        };
        Ok(ScopeColumns {
            kind,
            assignee_user: row.get(first + 1)?,
            assignee_team: row.get(first + 2)?,
            open: row.get(first + 3)?,
            crew: row.get(first + 4)?,
            contact_job: row.get(first + 5)?,
        })
    }

    /// Reads the columns back into the record they were written from.
    pub(super) fn into_record(self, doc: DocumentId) -> Result<ScopeRecord, StoreError> {
        Ok(match (self.kind, doc) {
            ("job", _) => ScopeRecord::Job {
                assignee: match (self.assignee_user, self.assignee_team) {
                    (Some(user), _) => Some(Assignee::User(user)),
                    (None, Some(team)) => Some(Assignee::Team(team)),
                    (None, None) => None,
                },
                open: self.open,
            },
            ("round", _) => ScopeRecord::Round {
                crew: self.crew.ok_or(StoreError::Corrupt {
                    what: "round crew",
                    value: String::new(),
                })?,
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
    let ids: Vec<DocumentId> = tx.all(
        sql!("SELECT id FROM sync_documents WHERE kind IN ('job', 'round')"),
        args![],
    )?;
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
fn author_column(author: Author) -> Option<DeviceId> {
    match author {
        Author::Device(device) => Some(device),
        Author::Server => None,
    }
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

impl SyncStore for DbSync<'_, '_, '_> {
    type Error = StoreError;

    fn clock(&mut self, tenant: TenantId) -> Result<Cursor, StoreError> {
        let clock = self.tx.opt(
            sql!("SELECT seq, scope_version FROM tenants WHERE id = ?1"),
            args![tenant],
        )?;
        Ok(clock.map_or_else(Cursor::default, |(seq, scope)| Cursor { seq, scope }))
    }

    fn scope(
        &mut self,
        who: &DeviceIdentity,
        tenant: TenantId,
    ) -> Result<BTreeSet<DocumentId>, StoreError> {
        self.tx
            .all(
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
                    tenant,
                    who.role == Role::Dispatcher,
                    who.user,
                    teams_json(&who.teams),
                ],
            )
            .map(|ids: Vec<DocumentId>| ids.into_iter().collect())
    }

    fn delivery(&mut self, device: DeviceId, tenant: TenantId) -> Result<Delivery, StoreError> {
        match self.tx.opt::<Vec<u8>>(
            sql!("SELECT delivery FROM sync_deliveries WHERE device = ?1 AND tenant = ?2"),
            args![device, tenant],
        )? {
            Some(bytes) => decode_delivery(&bytes),
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
            args![device, tenant, encode_delivery(delivery)],
        )?;
        Ok(())
    }

    fn picture_taken_elsewhere(
        &mut self,
        hash: BlobHash,
        doc: DocumentId,
        device: DeviceId,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = self.tx.opt(
            sql!(
                "SELECT 1 FROM blob_refs WHERE hash = ?1 AND doc <> ?2 AND NOT borrowed
                   AND (added_by IS NULL OR added_by <> ?3) LIMIT 1"
            ),
            args![hash, doc, device],
        )?;
        Ok(found.is_some())
    }

    fn arrivals(
        &mut self,
        doc: DocumentId,
        hashes: &[BlobHash],
    ) -> Result<Vec<Arrival>, StoreError> {
        hashes
            .iter()
            .map(|hash| {
                // A reference this document already has says whether it
                // borrowed the picture; a new one would borrow it if
                // another document names it (see `blobs::write_references`).
                let (stored, borrowed, elsewhere): (bool, Option<bool>, bool) = self.tx.one(
                    sql!(
                        "SELECT EXISTS (SELECT 1 FROM blobs WHERE hash = ?1),
                                (SELECT borrowed FROM blob_refs WHERE hash = ?1 AND doc = ?2 LIMIT 1),
                                EXISTS (SELECT 1 FROM blob_refs WHERE hash = ?1 AND doc <> ?2)"
                    ),
                    args![hash, doc],
                )?;
                Ok(match (borrowed.unwrap_or(elsewhere), stored) {
                    (true, _) => Arrival::Borrowed,
                    (false, true) => Arrival::Arrived,
                    (false, false) => Arrival::Expected,
                })
            })
            .collect()
    }

    fn load(&mut self, doc: DocumentId) -> Result<Option<(TenantId, AutoCommit)>, StoreError> {
        let Some((tenant, snapshot, snapshot_seq)) = self.tx.opt::<(TenantId, Vec<u8>, i64)>(
            sql!("SELECT tenant, snapshot, snapshot_seq FROM sync_documents WHERE id = ?1"),
            args![doc],
        )?
        else {
            return Ok(None);
        };
        super::count_load();
        let mut document = AutoCommit::load(&snapshot).map_err(document_error)?;
        let changes = self
            .tx
            .all::<Vec<u8>>(
                sql!("SELECT bytes FROM sync_changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq"),
                args![doc, snapshot_seq],
            )?
            .into_iter()
            .map(|bytes| Change::from_bytes(bytes).map_err(|e| document_error(e.into())))
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
        let last: i64 = self.tx.one(
            sql!("UPDATE tenants SET seq = seq + ?2 WHERE id = ?1 RETURNING seq"),
            args![tenant, count],
        )?;
        let first = last - count + 1;
        let before = self
            .tx
            .query_opt(
                sql!(
                    "SELECT kind, assignee_user, assignee_team, open, crew, contact_job,
                            snapshot_seq
                     FROM sync_documents WHERE id = ?1"
                ),
                args![doc],
            )?
            .map(|row| Ok::<_, StoreError>((ScopeColumns::read(&row, 0)?, row.get::<i64>(6)?)))
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
                        doc,
                        tenant,
                        document.save(),
                        last,
                        columns.kind,
                        columns.assignee_user,
                        columns.assignee_team,
                        columns.open,
                        columns.crew,
                        columns.contact_job,
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
                        doc,
                        last,
                        columns.assignee_user,
                        columns.assignee_team,
                        columns.open,
                        columns.crew,
                        columns.contact_job,
                    ],
                )?;
                if last - snapshot_seq > COMPACT_AFTER {
                    self.tx.execute(
                        sql!(
                            "UPDATE sync_documents SET snapshot = ?2, snapshot_seq = ?3
                             WHERE id = ?1"
                        ),
                        args![doc, document.save(), last],
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
                    tenant,
                    seq,
                    doc,
                    change.hash().0.as_slice(),
                    author_column(author),
                    change.raw_bytes(),
                ],
            )?;
        }
        if before.as_ref().is_none_or(|(old, _)| *old != columns) {
            self.tx.execute(
                sql!("UPDATE tenants SET scope_version = scope_version + 1 WHERE id = ?1"),
                args![tenant],
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
                    tenant,
                    event.job,
                    event.key.as_str(),
                    channel,
                    event.event.as_str(),
                    event.at,
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
        let rows: Vec<(DocumentId, u64, Option<DeviceId>, Vec<u8>)> = self.tx.all(
            sql!(
                "SELECT doc, seq, author_device, bytes FROM sync_changes
                 WHERE tenant = ?1 AND seq > ?2 ORDER BY seq"
            ),
            args![tenant, after],
        )?;
        let mut by_doc: BTreeMap<DocumentId, Vec<StoredChange>> = BTreeMap::new();
        for (doc, seq, device, bytes) in rows {
            by_doc.entry(doc).or_default().push(StoredChange {
                seq,
                author: device.map_or(Author::Server, Author::Device),
                bytes,
            });
        }
        Ok(by_doc)
    }
}

pub(super) fn document_error(error: automerge::AutomergeError) -> StoreError {
    StoreError::Document(error.into())
}
