//! The sync store on SQLite: [`SyncStore`] over one connection or
//! transaction. The server runs each sync inside one transaction and
//! commits before it replies.
//!
//! Documents are a snapshot plus the changes stored after it; once
//! [`COMPACT_AFTER`] changes pile up, the snapshot is rewritten in the same
//! transaction. Change rows (hash, author, sequence) are kept after
//! compaction: they answer "what changed since" without loading documents.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, Change};
use doorstep_shared::ids::{BlobHash, DeviceId, JobId, TeamId, TenantId};
use doorstep_shared::job::{Assignee, Job};
use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::summary::JobSummary;
use doorstep_shared::sync::store::{
    Author, Delivery, DeviceIdentity, ScopeRecord, StoredChange, SyncStore,
};
use doorstep_shared::sync::wire::{Cursor, DocumentId};
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::Role;
use rusqlite::{Connection, OptionalExtension, params};

use super::outbox::outbox_rows;
use super::{StoreError, parse};
use doorstep_shared::notify::ResidentEvent;

/// Changes stored after a snapshot before the snapshot is rewritten.
pub const COMPACT_AFTER: i64 = 64;

/// [`SyncStore`] over an SQLite connection (usually a transaction).
pub struct SqliteSync<'c> {
    connection: &'c Connection,
    services: &'c ServiceCatalog,
}

impl<'c> SqliteSync<'c> {
    /// Works through `connection`; pass a transaction to make a sync atomic.
    /// `services` give job summaries their status labels.
    pub fn new(connection: &'c Connection, services: &'c ServiceCatalog) -> Self {
        Self {
            connection,
            services,
        }
    }

    /// Rewrites a job's list row from its document.
    fn write_summary(
        &self,
        tenant: TenantId,
        job: JobId,
        document: &AutoCommit,
    ) -> Result<(), StoreError> {
        let loaded = Job::load(document)?;
        let Some(service) = self.services.get(&loaded.office.service) else {
            return Ok(());
        };
        let summary = JobSummary::of(job, &loaded, service);
        self.connection.execute(
            "INSERT INTO job_summaries (job, tenant, reference, service, service_name, status,
                 status_label, address, appointment_starts, appointment_ends, pending_requests,
                 closed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (job) DO UPDATE SET
                 reference = excluded.reference, service = excluded.service,
                 service_name = excluded.service_name, status = excluded.status,
                 status_label = excluded.status_label, address = excluded.address,
                 appointment_starts = excluded.appointment_starts,
                 appointment_ends = excluded.appointment_ends,
                 pending_requests = excluded.pending_requests, closed_at = excluded.closed_at",
            params![
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
                summary.pending_requests as i64,
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
pub(super) fn backfill_blob_references(connection: &Connection) -> Result<(), StoreError> {
    let ids: Vec<String> = connection
        .prepare("SELECT id FROM sync_documents WHERE kind IN ('job', 'round')")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let services = ServiceCatalog::default();
    let mut sync = SqliteSync::new(connection, &services);
    for id in ids {
        let doc = document_id(id)?;
        if let Some((_, document)) = sync.load(doc)? {
            let references = doorstep_shared::blob::references(&document)?;
            super::blobs::write_references(
                &mut super::db::Tx::Sqlite(connection),
                doc,
                &references,
                None,
            )?;
        }
    }
    Ok(())
}

pub(super) fn document_id(text: String) -> Result<DocumentId, StoreError> {
    parse("document id", text)
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

impl SyncStore for SqliteSync<'_> {
    type Error = StoreError;

    fn clock(&mut self, tenant: TenantId) -> Result<Cursor, StoreError> {
        let clock = self
            .connection
            .query_row(
                "SELECT seq, scope_version FROM tenants WHERE id = ?1",
                params![tenant.to_string()],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
            )
            .optional()?;
        Ok(clock.map_or_else(Cursor::default, |(seq, scope)| Cursor {
            seq: seq.max(0) as u64,
            scope: scope.max(0) as u64,
        }))
    }

    fn scope(
        &mut self,
        who: &DeviceIdentity,
        tenant: TenantId,
    ) -> Result<BTreeSet<DocumentId>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT d.id FROM sync_documents d
             WHERE d.tenant = ?1 AND (
                ?2
                OR (d.kind = 'job' AND (d.assignee_user = ?3
                    OR d.assignee_team IN (SELECT value FROM json_each(?4))))
                OR (d.kind = 'round' AND d.crew IN (SELECT value FROM json_each(?4)))
                OR (d.kind = 'contact' AND EXISTS (
                    SELECT 1 FROM sync_documents j
                    WHERE j.id = d.contact_job AND j.open = 1
                      AND (j.assignee_user = ?3
                           OR j.assignee_team IN (SELECT value FROM json_each(?4))))))",
        )?;
        let rows = statement.query_map(
            params![
                tenant.to_string(),
                who.role == Role::Dispatcher,
                who.user.to_string(),
                teams_json(&who.teams)
            ],
            |row| row.get::<_, String>(0),
        )?;
        rows.map(|row| document_id(row?)).collect()
    }

    fn delivery(&mut self, device: DeviceId, tenant: TenantId) -> Result<Delivery, StoreError> {
        let bytes: Option<Vec<u8>> = self
            .connection
            .query_row(
                "SELECT delivery FROM sync_deliveries WHERE device = ?1 AND tenant = ?2",
                params![device.to_string(), tenant.to_string()],
                |row| row.get(0),
            )
            .optional()?;
        bytes.map_or_else(|| Ok(Delivery::default()), |bytes| decode_delivery(&bytes))
    }

    fn set_delivery(
        &mut self,
        device: DeviceId,
        tenant: TenantId,
        delivery: &Delivery,
    ) -> Result<(), StoreError> {
        let bytes = encode_delivery(delivery);
        self.connection.execute(
            "INSERT INTO sync_deliveries (device, tenant, delivery) VALUES (?1, ?2, ?3)
             ON CONFLICT (device, tenant) DO UPDATE SET delivery = excluded.delivery",
            params![device.to_string(), tenant.to_string(), bytes],
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
            .connection
            .prepare_cached(
                "SELECT 1 FROM blob_refs WHERE hash = ?1 AND doc <> ?2 AND borrowed = 0
                   AND (added_by IS NULL OR added_by <> ?3) LIMIT 1",
            )?
            .query_row(
                params![hash.to_string(), doc.to_string(), device.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn load(&mut self, doc: DocumentId) -> Result<Option<(TenantId, AutoCommit)>, StoreError> {
        let row = self
            .connection
            .query_row(
                "SELECT tenant, snapshot, snapshot_seq FROM sync_documents WHERE id = ?1",
                params![doc.to_string()],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                },
            )
            .optional()?;
        let Some((tenant, snapshot, snapshot_seq)) = row else {
            return Ok(None);
        };
        super::count_load();
        let tenant: TenantId = parse("tenant id", tenant)?;
        let mut document = AutoCommit::load(&snapshot).map_err(document_error)?;
        let mut statement = self.connection.prepare_cached(
            "SELECT bytes FROM sync_changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let changes = statement
            .query_map(params![doc.to_string(), snapshot_seq], |row| {
                row.get::<_, Vec<u8>>(0)
            })?
            .map(|bytes| Change::from_bytes(bytes?).map_err(|e| document_error(e.into())))
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
        let count = changes.len() as i64;
        let device = pushed_by(&changes);
        // The tenant row is locked by this update until the transaction
        // ends, so sequence numbers are handed out in commit order.
        let last: i64 = self.connection.query_row(
            "UPDATE tenants SET seq = seq + ?2 WHERE id = ?1 RETURNING seq",
            params![tenant.to_string(), count],
            |row| row.get(0),
        )?;
        let first = last - count + 1;
        let before: Option<(ScopeColumns, i64)> = self
            .connection
            .query_row(
                "SELECT kind, assignee_user, assignee_team, open, crew, contact_job, snapshot_seq
                 FROM sync_documents WHERE id = ?1",
                params![doc.to_string()],
                |row| {
                    let kind: String = row.get(0)?;
                    Ok((
                        ScopeColumns {
                            kind: kind_name(&kind),
                            assignee_user: row.get(1)?,
                            assignee_team: row.get(2)?,
                            open: row.get(3)?,
                            crew: row.get(4)?,
                            contact_job: row.get(5)?,
                        },
                        row.get(6)?,
                    ))
                },
            )
            .optional()?;
        let columns = ScopeColumns::from(&record);
        let compact = before
            .as_ref()
            .is_none_or(|(_, snapshot_seq)| last - snapshot_seq > COMPACT_AFTER);
        if before.is_none() {
            self.connection.execute(
                "INSERT INTO sync_documents (id, tenant, snapshot, snapshot_seq, last_seq, kind,
                     assignee_user, assignee_team, open, crew, contact_job)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    doc.to_string(),
                    tenant.to_string(),
                    document.save(),
                    last,
                    columns.kind,
                    columns.assignee_user,
                    columns.assignee_team,
                    columns.open,
                    columns.crew,
                    columns.contact_job
                ],
            )?;
        } else {
            self.connection.execute(
                "UPDATE sync_documents SET last_seq = ?2, assignee_user = ?3, assignee_team = ?4,
                     open = ?5, crew = ?6, contact_job = ?7 WHERE id = ?1",
                params![
                    doc.to_string(),
                    last,
                    columns.assignee_user,
                    columns.assignee_team,
                    columns.open,
                    columns.crew,
                    columns.contact_job
                ],
            )?;
            if compact {
                self.connection.execute(
                    "UPDATE sync_documents SET snapshot = ?2, snapshot_seq = ?3 WHERE id = ?1",
                    params![doc.to_string(), document.save(), last],
                )?;
            }
        }
        let mut insert = self.connection.prepare_cached(
            "INSERT INTO sync_changes (tenant, seq, doc, hash, author_device, bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for ((author, change), seq) in changes.into_iter().zip(first..) {
            let author = author_column(author);
            insert.execute(params![
                tenant.to_string(),
                seq,
                doc.to_string(),
                change.hash().0.as_slice(),
                author,
                change.raw_bytes()
            ])?;
        }
        if before.as_ref().is_none_or(|(old, _)| *old != columns) {
            self.connection.execute(
                "UPDATE tenants SET scope_version = scope_version + 1 WHERE id = ?1",
                params![tenant.to_string()],
            )?;
        }
        if let DocumentId::Job(job) = doc {
            self.write_summary(tenant, job, document)?;
        }
        if matches!(doc, DocumentId::Job(_) | DocumentId::Round(_)) {
            let references = doorstep_shared::blob::references(document)?;
            super::blobs::write_references(
                &mut super::db::Tx::Sqlite(self.connection),
                doc,
                &references,
                device,
            )?;
        }
        Ok(())
    }

    fn enqueue(&mut self, tenant: TenantId, events: &[ResidentEvent]) -> Result<(), StoreError> {
        let mut statement = self.connection.prepare_cached(
            "INSERT INTO outbox (tenant, job, key, channel, event, happened_at, next_attempt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (tenant, key, channel) DO NOTHING",
        )?;
        for (event, channel) in outbox_rows(events) {
            statement.execute(params![
                tenant.to_string(),
                event.job.to_string(),
                event.key,
                channel,
                event.event.as_str(),
                event.at.as_millis(),
            ])?;
        }
        Ok(())
    }

    fn changes_since(
        &mut self,
        tenant: TenantId,
        after: u64,
    ) -> Result<BTreeMap<DocumentId, Vec<StoredChange>>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT doc, seq, author_device, bytes FROM sync_changes
             WHERE tenant = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let rows = statement.query_map(params![tenant.to_string(), after as i64], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        let mut by_doc: BTreeMap<DocumentId, Vec<StoredChange>> = BTreeMap::new();
        for row in rows {
            let (doc, seq, author, bytes) = row?;
            let author = author_from_column(author)?;
            by_doc
                .entry(document_id(doc)?)
                .or_default()
                .push(StoredChange {
                    seq: seq.max(0) as u64,
                    author,
                    bytes,
                });
        }
        Ok(by_doc)
    }
}

pub(super) fn document_error(error: automerge::AutomergeError) -> StoreError {
    StoreError::Document(error.into())
}
