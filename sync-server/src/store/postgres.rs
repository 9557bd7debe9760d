//! The server's storage on PostgreSQL, for several stateless server nodes
//! sharing one database: the same [`SyncStore`] as SQLite, in its own SQL.
//!
//! Sequence numbers are taken by `UPDATE tenants … RETURNING seq`, which
//! locks the tenant's row until the transaction ends: a second writer waits,
//! so numbers are committed in the order they are handed out and a reader
//! never sees 102 before 101.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Condvar, Mutex};

use automerge::{AutoCommit, Change};
use doorstep_shared::ids::{BlobHash, DeviceId, JobId, TenantId};
use doorstep_shared::job::Job;
use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::summary::JobSummary;
use doorstep_shared::sync::store::{
    Author, Delivery, DeviceIdentity, ScopeRecord, StoredChange, SyncStore,
};
use doorstep_shared::sync::wire::{Cursor, DocumentId};
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::Role;
use postgres::{Client, NoTls, Transaction};

use super::outbox::outbox_rows;
use super::sync::{
    ScopeColumns, author_column, author_from_column, decode_delivery, document_error, document_id,
    encode_delivery, kind_name, pushed_by,
};
use super::{COMPACT_AFTER, StoreError, parse};
use doorstep_shared::notify::ResidentEvent;

/// The schema migrations, in order; `doorstep_migrations` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_schema.sql"),
    include_str!("../../migrations/postgres/0002_blobs.sql"),
    include_str!("../../migrations/postgres/0003_outbox.sql"),
    include_str!("../../migrations/postgres/0004_tracking.sql"),
    include_str!("../../migrations/postgres/0005_bookings.sql"),
    include_str!("../../migrations/postgres/0006_intake.sql"),
    include_str!("../../migrations/postgres/0007_missed_bins.sql"),
    include_str!("../../migrations/postgres/0008_staff.sql"),
    include_str!("../../migrations/postgres/0009_roster.sql"),
];

/// The migration that added `blob_refs`: documents stored before it get
/// their rows when it runs.
const BLOB_REFS_MIGRATION: usize = 2;

/// Writes `blob_refs` rows for every job and round already stored.
fn backfill_blob_references(transaction: &mut Transaction<'_>) -> Result<(), StoreError> {
    let ids: Vec<String> = transaction
        .query(
            "SELECT id FROM sync_documents WHERE kind IN ('job', 'round')",
            &[],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let services = ServiceCatalog::default();
    for id in ids {
        let doc = document_id(id)?;
        let loaded = PgSync {
            transaction: &mut *transaction,
            services: &services,
        }
        .load(doc)?;
        if let Some((_, document)) = loaded {
            let references = doorstep_shared::blob::references(&document)?;
            super::blobs::write_references(
                &mut super::db::Tx::Postgres(&mut *transaction),
                doc,
                &references,
                None,
            )?;
        }
    }
    Ok(())
}

/// Connections one server node opens at most: requests beyond them wait
/// for one to be free, so a burst (fifty residents booking at once) never
/// exhausts the database's own limit (PostgreSQL's default is 100).
pub const MAX_CONNECTIONS: usize = 16;

/// A PostgreSQL database shared by server nodes. Its methods block: call
/// them from `spawn_blocking` or outside the async runtime.
pub struct PgStore {
    config: postgres::Config,
    pool: Mutex<Pool>,
    freed: Condvar,
}

/// Open connections: those idle, and how many exist in all.
#[derive(Default)]
struct Pool {
    idle: Vec<Client>,
    open: usize,
}

impl PgStore {
    /// Connects to `url` (a libpq connection string or `postgres://` URL)
    /// and brings the schema up to date. With `schema`, everything lives in
    /// that schema, created if missing: tests use one schema each.
    pub fn connect(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let mut config: postgres::Config = url.parse()?;
        if let Some(schema) = schema {
            let mut setup = config.connect(NoTls)?;
            setup.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))?;
            config.options(&format!("-c search_path=\"{schema}\""));
        }
        let store = Self {
            config,
            pool: Mutex::new(Pool::default()),
            freed: Condvar::new(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// An idle connection, a new one while fewer than [`MAX_CONNECTIONS`]
    /// are open, or else the next one given back.
    fn take(&self) -> Result<Client, StoreError> {
        let mut pool = self.pool.lock().map_err(|_| StoreError::Poisoned)?;
        loop {
            match pool.idle.pop() {
                Some(client) if !client.is_closed() => return Ok(client),
                Some(_) => pool.open -= 1,
                None if pool.open < MAX_CONNECTIONS => break,
                None => {
                    pool = self.freed.wait(pool).map_err(|_| StoreError::Poisoned)?;
                }
            }
        }
        pool.open += 1;
        drop(pool);
        self.config.connect(NoTls).map_err(|error| {
            if let Ok(mut pool) = self.pool.lock() {
                pool.open -= 1;
            }
            self.freed.notify_one();
            StoreError::from(error)
        })
    }

    fn give_back(&self, client: Client) {
        if let Ok(mut pool) = self.pool.lock() {
            if client.is_closed() {
                pool.open -= 1;
            } else {
                pool.idle.push(client);
            }
        }
        self.freed.notify_one();
    }

    /// Runs `work` on a client, returning the client to the pool after.
    fn with_client<R>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut client = self.take()?;
        let result = work(&mut client);
        self.give_back(client);
        result
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            // Nodes starting together take turns.
            transaction.execute("SELECT pg_advisory_xact_lock(4242001)", &[])?;
            transaction.batch_execute(
                "CREATE TABLE IF NOT EXISTS doorstep_migrations (version BIGINT NOT NULL)",
            )?;
            let applied: i64 = transaction
                .query_one("SELECT count(*) FROM doorstep_migrations", &[])?
                .get(0);
            let known = MIGRATIONS.len() as i64;
            if applied > known {
                return Err(StoreError::NewerDatabase {
                    found: applied,
                    known,
                });
            }
            for (number, sql) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
                transaction.batch_execute(sql)?;
                if number + 1 == BLOB_REFS_MIGRATION {
                    backfill_blob_references(&mut transaction)?;
                }
                transaction.execute(
                    "INSERT INTO doorstep_migrations (version) VALUES ($1)",
                    &[&(number as i64 + 1)],
                )?;
            }
            transaction.commit()?;
            Ok(())
        })
    }

    /// Runs `work` on the sync store inside one transaction, committed only
    /// if `work` succeeds.
    pub fn sync_transaction<R>(
        &self,
        services: &ServiceCatalog,
        work: impl FnOnce(&mut PgSync<'_, '_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let result = work(&mut PgSync {
                transaction: &mut transaction,
                services,
            })?;
            transaction.commit()?;
            Ok(result)
        })
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // A blocking client owns a small runtime of its own, which may not be
        // dropped on an async worker thread: drop the clients on a plain one.
        let clients = self
            .pool
            .get_mut()
            .map(|pool| std::mem::take(&mut pool.idle))
            .unwrap_or_default();
        if !clients.is_empty() {
            let _ = std::thread::spawn(move || drop(clients)).join();
        }
    }
}

/// [`SyncStore`] over one PostgreSQL transaction.
pub struct PgSync<'t, 'c> {
    transaction: &'t mut Transaction<'c>,
    services: &'t ServiceCatalog,
}

impl PgSync<'_, '_> {
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
        self.transaction.execute(
            "INSERT INTO job_summaries (job, tenant, reference, service, service_name, status,
                 status_label, address, appointment_starts, appointment_ends, pending_requests,
                 closed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (job) DO UPDATE SET
                 reference = excluded.reference, service = excluded.service,
                 service_name = excluded.service_name, status = excluded.status,
                 status_label = excluded.status_label, address = excluded.address,
                 appointment_starts = excluded.appointment_starts,
                 appointment_ends = excluded.appointment_ends,
                 pending_requests = excluded.pending_requests, closed_at = excluded.closed_at",
            &[
                &DocumentId::Job(job).to_string(),
                &tenant.to_string(),
                &summary.reference,
                &summary.service.as_str(),
                &summary.service_name,
                &summary.status.as_str(),
                &summary.status_label,
                &summary.address,
                &summary.appointment_starts.map(Timestamp::as_millis),
                &summary.appointment_ends.map(Timestamp::as_millis),
                &(summary.pending_requests as i64),
                &loaded.closed_at(service).map(Timestamp::as_millis),
            ],
        )?;
        Ok(())
    }
}

impl SyncStore for PgSync<'_, '_> {
    type Error = StoreError;

    fn clock(&mut self, tenant: TenantId) -> Result<Cursor, StoreError> {
        let row = self.transaction.query_opt(
            "SELECT seq, scope_version FROM tenants WHERE id = $1",
            &[&tenant.to_string()],
        )?;
        Ok(row.map_or_else(Cursor::default, |row| Cursor {
            seq: row.get::<_, i64>(0).max(0) as u64,
            scope: row.get::<_, i64>(1).max(0) as u64,
        }))
    }

    fn scope(
        &mut self,
        who: &DeviceIdentity,
        tenant: TenantId,
    ) -> Result<BTreeSet<DocumentId>, StoreError> {
        let teams: Vec<String> = who.teams.iter().map(ToString::to_string).collect();
        let rows = self.transaction.query(
            "SELECT d.id FROM sync_documents d
             WHERE d.tenant = $1 AND (
                $2
                OR (d.kind = 'job' AND (d.assignee_user = $3 OR d.assignee_team = ANY($4)))
                OR (d.kind = 'round' AND d.crew = ANY($4))
                OR (d.kind = 'contact' AND EXISTS (
                    SELECT 1 FROM sync_documents j
                    WHERE j.id = d.contact_job AND j.open
                      AND (j.assignee_user = $3 OR j.assignee_team = ANY($4)))))",
            &[
                &tenant.to_string(),
                &(who.role == Role::Dispatcher),
                &who.user.to_string(),
                &teams,
            ],
        )?;
        rows.into_iter()
            .map(|row| document_id(row.get(0)))
            .collect()
    }

    fn delivery(&mut self, device: DeviceId, tenant: TenantId) -> Result<Delivery, StoreError> {
        let row = self.transaction.query_opt(
            "SELECT delivery FROM sync_deliveries WHERE device = $1 AND tenant = $2",
            &[&device.to_string(), &tenant.to_string()],
        )?;
        row.map_or_else(
            || Ok(Delivery::default()),
            |row| decode_delivery(row.get::<_, &[u8]>(0)),
        )
    }

    fn set_delivery(
        &mut self,
        device: DeviceId,
        tenant: TenantId,
        delivery: &Delivery,
    ) -> Result<(), StoreError> {
        let bytes = encode_delivery(delivery);
        self.transaction.execute(
            "INSERT INTO sync_deliveries (device, tenant, delivery) VALUES ($1, $2, $3)
             ON CONFLICT (device, tenant) DO UPDATE SET delivery = excluded.delivery",
            &[&device.to_string(), &tenant.to_string(), &bytes],
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
            .transaction
            .query_opt(
                "SELECT 1 FROM blob_refs WHERE hash = $1 AND doc <> $2 AND NOT borrowed
                   AND (added_by IS NULL OR added_by <> $3) LIMIT 1",
                &[&hash.to_string(), &doc.to_string(), &device.to_string()],
            )?
            .is_some())
    }

    fn load(&mut self, doc: DocumentId) -> Result<Option<(TenantId, AutoCommit)>, StoreError> {
        let Some(row) = self.transaction.query_opt(
            "SELECT tenant, snapshot, snapshot_seq FROM sync_documents WHERE id = $1",
            &[&doc.to_string()],
        )?
        else {
            return Ok(None);
        };
        super::count_load();
        let tenant: String = row.get(0);
        let tenant: TenantId = parse("tenant id", tenant)?;
        let snapshot: Vec<u8> = row.get(1);
        let snapshot_seq: i64 = row.get(2);
        let mut document = AutoCommit::load(&snapshot).map_err(document_error)?;
        let changes = self
            .transaction
            .query(
                "SELECT bytes FROM sync_changes WHERE doc = $1 AND seq > $2 ORDER BY seq",
                &[&doc.to_string(), &snapshot_seq],
            )?
            .into_iter()
            .map(|row| Change::from_bytes(row.get(0)).map_err(|e| document_error(e.into())))
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
        // Locks the tenant's row until commit: see the module comment.
        let last: i64 = self
            .transaction
            .query_one(
                "UPDATE tenants SET seq = seq + $2 WHERE id = $1 RETURNING seq",
                &[&tenant.to_string(), &count],
            )?
            .get(0);
        let first = last - count + 1;
        let before = self.transaction.query_opt(
            "SELECT kind, assignee_user, assignee_team, open, crew, contact_job, snapshot_seq
             FROM sync_documents WHERE id = $1",
            &[&doc.to_string()],
        )?;
        let new = ScopeColumns::from(&record);
        let scope_changed = before.as_ref().is_none_or(|row| {
            let kind: String = row.get(0);
            ScopeColumns {
                kind: kind_name(&kind),
                assignee_user: row.get(1),
                assignee_team: row.get(2),
                open: row.get(3),
                crew: row.get(4),
                contact_job: row.get(5),
            } != new
        });
        match &before {
            None => {
                self.transaction.execute(
                    "INSERT INTO sync_documents (id, tenant, snapshot, snapshot_seq, last_seq, kind,
                         assignee_user, assignee_team, open, crew, contact_job)
                     VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10)",
                    &[
                        &doc.to_string(),
                        &tenant.to_string(),
                        &document.save(),
                        &last,
                        &new.kind,
                        &new.assignee_user,
                        &new.assignee_team,
                        &new.open,
                        &new.crew,
                        &new.contact_job,
                    ],
                )?;
            }
            Some(row) => {
                let snapshot_seq: i64 = row.get(6);
                self.transaction.execute(
                    "UPDATE sync_documents SET last_seq = $2, assignee_user = $3,
                         assignee_team = $4, open = $5, crew = $6, contact_job = $7
                     WHERE id = $1",
                    &[
                        &doc.to_string(),
                        &last,
                        &new.assignee_user,
                        &new.assignee_team,
                        &new.open,
                        &new.crew,
                        &new.contact_job,
                    ],
                )?;
                if last - snapshot_seq > COMPACT_AFTER {
                    self.transaction.execute(
                        "UPDATE sync_documents SET snapshot = $2, snapshot_seq = $3 WHERE id = $1",
                        &[&doc.to_string(), &document.save(), &last],
                    )?;
                }
            }
        }
        let insert = self.transaction.prepare(
            "INSERT INTO sync_changes (tenant, seq, doc, hash, author_device, bytes)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )?;
        for ((author, change), seq) in changes.into_iter().zip(first..) {
            let author = author_column(author);
            self.transaction.execute(
                &insert,
                &[
                    &tenant.to_string(),
                    &seq,
                    &doc.to_string(),
                    &change.hash().0.as_slice(),
                    &author,
                    &change.raw_bytes(),
                ],
            )?;
        }
        if scope_changed {
            self.transaction.execute(
                "UPDATE tenants SET scope_version = scope_version + 1 WHERE id = $1",
                &[&tenant.to_string()],
            )?;
        }
        if let DocumentId::Job(job) = doc {
            self.write_summary(tenant, job, document)?;
        }
        if matches!(doc, DocumentId::Job(_) | DocumentId::Round(_)) {
            let references = doorstep_shared::blob::references(document)?;
            super::blobs::write_references(
                &mut super::db::Tx::Postgres(&mut *self.transaction),
                doc,
                &references,
                device,
            )?;
        }
        Ok(())
    }

    fn enqueue(&mut self, tenant: TenantId, events: &[ResidentEvent]) -> Result<(), StoreError> {
        for (event, channel) in outbox_rows(events) {
            self.transaction.execute(
                "INSERT INTO outbox (tenant, job, key, channel, event, happened_at, next_attempt)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)
                 ON CONFLICT (tenant, key, channel) DO NOTHING",
                &[
                    &tenant.to_string(),
                    &event.job.to_string(),
                    &event.key,
                    &channel,
                    &event.event.as_str(),
                    &event.at.as_millis(),
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
        let rows = self.transaction.query(
            "SELECT doc, seq, author_device, bytes FROM sync_changes
             WHERE tenant = $1 AND seq > $2 ORDER BY seq",
            &[&tenant.to_string(), &(after as i64)],
        )?;
        let mut by_doc: BTreeMap<DocumentId, Vec<StoredChange>> = BTreeMap::new();
        for row in rows {
            let author = author_from_column(row.get(2))?;
            let seq: i64 = row.get(1);
            by_doc
                .entry(document_id(row.get(0))?)
                .or_default()
                .push(StoredChange {
                    seq: seq.max(0) as u64,
                    author,
                    bytes: row.get(3),
                });
        }
        Ok(by_doc)
    }
}

/// The channel server nodes announce changes on.
const CHANGES_CHANNEL: &str = "doorstep_changes";

/// A connection of its own that listens on [`CHANGES_CHANNEL`].
struct PgChangeListener {
    client: Client,
}

impl super::ChangeListener for PgChangeListener {
    fn next(
        &mut self,
        wait: std::time::Duration,
    ) -> Result<Option<(TenantId, String)>, StoreError> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut notifications = self.client.notifications();
        let mut heard = notifications.timeout_iter(wait);
        while let Some(notification) = heard.next()? {
            // "<tenant> <node>"; anything else is not ours to act on.
            if let Some((tenant, node)) = notification.payload().split_once(' ')
                && let Ok(tenant) = tenant.parse()
            {
                return Ok(Some((tenant, node.to_owned())));
            }
        }
        Ok(None)
    }
}

impl super::db::Database for PgStore {
    fn write<R>(
        &self,
        work: impl FnOnce(&mut super::db::Tx<'_, '_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let result = work(&mut super::db::Tx::Postgres(&mut transaction))?;
            transaction.commit()?;
            Ok(result)
        })
    }

    fn read<R>(
        &self,
        work: impl FnOnce(&mut super::db::Tx<'_, '_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.build_transaction().read_only(true).start()?;
            let result = work(&mut super::db::Tx::Postgres(&mut transaction))?;
            transaction.commit()?;
            Ok(result)
        })
    }
}

impl super::Store for PgStore {
    fn ping(&self) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.query_one("SELECT 1", &[])?;
            Ok(())
        })
    }

    fn shared_by_nodes(&self) -> bool {
        true
    }

    fn announce_change(&self, tenant: TenantId, from: &str) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "SELECT pg_notify($1, $2)",
                &[&CHANGES_CHANNEL, &format!("{tenant} {from}")],
            )?;
            Ok(())
        })
    }

    fn change_listener(&self) -> Result<Option<Box<dyn super::ChangeListener>>, StoreError> {
        let mut client = self.config.connect(NoTls)?;
        client.batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))?;
        Ok(Some(Box::new(PgChangeListener { client })))
    }

    fn in_sync_transaction(
        &self,
        services: &ServiceCatalog,
        work: &mut dyn FnMut(&mut dyn SyncStore<Error = StoreError>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.sync_transaction(services, |sync| work(sync))
    }
}
