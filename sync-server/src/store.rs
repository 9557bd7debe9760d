//! The server's storage on SQLite: one file, WAL, every commit durable
//! (`synchronous = FULL`) before anything is acknowledged.
//!
//! Synced documents live in [`DbSync`]; job summaries are written in
//! the same transaction as each job's changes, and lists read them, never
//! documents. Identity (users, teams, devices, enrolment) is in
//! [`identity`].

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use doorstep_shared::document::DocumentError;
use doorstep_shared::ids::TenantId;
use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::sync::store::SyncStore;
use rusqlite::{Connection, TransactionBehavior};

pub mod blobs;
pub mod bookings;
pub mod councils;
pub mod db;
pub mod erasure;
pub mod identity;
pub mod missed_bins;
pub mod outbox;
pub mod postgres;
pub mod roster;
pub mod staff;
mod sync;

pub use blobs::BlobRecords;
pub use councils::Councils;
pub use identity::Identity;
pub use sync::{COMPACT_AFTER, DbSync};

/// The schema migrations, applied in order; `PRAGMA user_version` records
/// how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_schema.sql"),
    include_str!("../migrations/sqlite/0002_blobs.sql"),
    include_str!("../migrations/sqlite/0003_outbox.sql"),
    include_str!("../migrations/sqlite/0004_tracking.sql"),
    include_str!("../migrations/sqlite/0005_bookings.sql"),
    include_str!("../migrations/sqlite/0006_intake.sql"),
    include_str!("../migrations/sqlite/0007_missed_bins.sql"),
    include_str!("../migrations/sqlite/0008_staff.sql"),
    include_str!("../migrations/sqlite/0009_roster.sql"),
];

/// Storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused or failed.
    #[error("the database failed")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused or failed.
    #[error("the PostgreSQL database failed")]
    Postgres(#[from] ::postgres::Error),
    /// A stored document could not be read or written.
    #[error("a stored document is unreadable")]
    Document(#[from] DocumentError),
    /// The database file was written by a newer server.
    #[error(
        "the database has schema {found} but this server knows up to {known}: run a newer doorstep-server"
    )]
    NewerDatabase {
        /// The database's version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A stored value does not parse.
    #[error("the database holds an invalid {what}: {value:?}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// No PostgreSQL connection was free, or could be opened, in time.
    #[error("no database connection within the wait: {0}")]
    Pool(#[from] r2d2::Error),
    /// TLS to PostgreSQL could not be set up as `sslmode` asks.
    #[error("TLS to the database: {0}")]
    Tls(String),
    /// A connection lock was poisoned by a panic elsewhere.
    #[error("the database connection was left unusable by an earlier failure")]
    Poisoned,
}

/// Documents loaded from storage since the process started, by any store:
/// a figure for benchmarks and operators ("what changed since" must not load
/// documents).
static DOCUMENTS_LOADED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many documents the stores have loaded since the process started.
pub fn documents_loaded() -> u64 {
    DOCUMENTS_LOADED.load(std::sync::atomic::Ordering::Relaxed)
}

fn count_load() {
    DOCUMENTS_LOADED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// The server's storage: SQLite (embedded, one file) or PostgreSQL (shared
/// by several nodes). Object-safe, so the server holds `Arc<dyn Store>`.
pub trait Store:
    Identity
    + Councils
    + BlobRecords
    + outbox::OutboxRecords
    + bookings::BookingRecords
    + erasure::ErasureRecords
    + missed_bins::MissedBinRecords
    + staff::StaffRecords
    + roster::Roster
    + Send
    + Sync
    + 'static
{
    /// Checks the database answers.
    fn ping(&self) -> Result<(), StoreError>;

    /// Whether other server nodes may share this database, so changes are
    /// worth announcing. An embedded SQLite database serves one node.
    fn shared_by_nodes(&self) -> bool {
        false
    }

    /// Tells the other server nodes sharing this database that a council's
    /// documents changed; `from` names this node. Nothing to tell where
    /// [`Store::shared_by_nodes`] is false.
    fn announce_change(&self, _tenant: TenantId, _from: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Starts hearing what every node announces; none where there is only
    /// one node.
    fn change_listener(&self) -> Result<Option<Box<dyn ChangeListener>>, StoreError> {
        Ok(None)
    }

    /// Runs `work` on the sync store inside one transaction, committed only
    /// if it succeeds. Use [`run_sync`] for a typed result.
    fn in_sync_transaction(
        &self,
        services: &ServiceCatalog,
        work: &mut dyn FnMut(&mut dyn SyncStore<Error = StoreError>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// Changes announced by the server nodes sharing a database, as they come.
pub trait ChangeListener: Send {
    /// The next announcement, `(council, the node that made it)`, waiting
    /// up to `wait`; `None` if there was none by then.
    fn next(&mut self, wait: std::time::Duration)
    -> Result<Option<(TenantId, String)>, StoreError>;
}

/// Runs `work` in one sync transaction of `store` and returns its result.
pub fn run_sync<R>(
    store: &dyn Store,
    services: &ServiceCatalog,
    work: impl FnOnce(&mut dyn SyncStore<Error = StoreError>) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let mut work = Some(work);
    let mut result = None;
    store.in_sync_transaction(services, &mut |sync| {
        if let Some(work) = work.take() {
            result = Some(work(sync)?);
        }
        Ok(())
    })?;
    result.ok_or(StoreError::Poisoned)
}

/// Read connections an SQLite store keeps open beside its writer.
const SQLITE_READERS: usize = 4;

/// The server's SQLite database: one writer, and a few readers that WAL
/// lets read the last committed state while a write is under way, so pages,
/// workers and the board never wait behind a push.
pub struct SqliteStore {
    connection: Mutex<Connection>,
    path: std::path::PathBuf,
    readers: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up
    /// to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut connection)?;
        Ok(Self {
            connection: Mutex::new(connection),
            path: path.to_owned(),
            readers: Mutex::new(Vec::new()),
        })
    }

    fn connection(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.connection.lock().map_err(|_| StoreError::Poisoned)
    }

    /// An idle reader, or a new one (read-only, on the same file).
    fn reader(&self) -> Result<Connection, StoreError> {
        if let Some(reader) = self.readers.lock().map_err(|_| StoreError::Poisoned)?.pop() {
            return Ok(reader);
        }
        let reader = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(reader)
    }

    /// Keeps a reader for the next read, up to [`SQLITE_READERS`].
    fn give_back(&self, reader: Connection) {
        if let Ok(mut readers) = self.readers.lock()
            && readers.len() < SQLITE_READERS
        {
            readers.push(reader);
        }
    }

    /// Runs `work` on the sync store inside one write transaction, committed
    /// only if `work` succeeds: a sync's pushes are acknowledged only once
    /// they are on disk.
    /// Job summaries are kept up to date with `services`.
    pub fn sync_transaction<R>(
        &self,
        services: &ServiceCatalog,
        work: impl FnOnce(&mut DbSync<'_, '_, '_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let result = work(&mut DbSync::new(db::Tx::Sqlite(&transaction), services))?;
        transaction.commit()?;
        Ok(result)
    }
}

impl db::Database for SqliteStore {
    fn write<R>(
        &self,
        work: impl FnOnce(&mut db::Tx<'_, '_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let result = work(&mut db::Tx::Sqlite(&transaction))?;
        transaction.commit()?;
        Ok(result)
    }

    fn read<R>(
        &self,
        work: impl FnOnce(&mut db::Tx<'_, '_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut reader = self.reader()?;
        let result = (|| {
            let transaction = reader.transaction()?;
            let result = work(&mut db::Tx::Sqlite(&transaction))?;
            transaction.commit()?;
            Ok(result)
        })();
        self.give_back(reader);
        result
    }
}

impl Store for SqliteStore {
    fn ping(&self) -> Result<(), StoreError> {
        self.connection()?
            .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?;
        Ok(())
    }

    fn in_sync_transaction(
        &self,
        services: &ServiceCatalog,
        work: &mut dyn FnMut(&mut dyn SyncStore<Error = StoreError>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.sync_transaction(services, |sync| work(sync))
    }
}

fn parse<T: std::str::FromStr>(what: &'static str, value: String) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt { what, value })
}

fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let applied: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if applied > known {
        return Err(StoreError::NewerDatabase {
            found: applied,
            known,
        });
    }
    for (number, sql) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        if number + 1 == BLOB_REFS_MIGRATION {
            sync::backfill_blob_references(db::Tx::Sqlite(&transaction))?;
        }
        transaction.pragma_update(None, "user_version", number as i64 + 1)?;
        transaction.commit()?;
    }
    Ok(())
}

/// The migration that added `blob_refs`: documents stored before it get
/// their rows when it runs.
const BLOB_REFS_MIGRATION: usize = 2;

#[cfg(test)]
mod tests {
    use std::sync::{Arc, mpsc};

    use doorstep_shared::sync::wire::DocumentId;
    use doorstep_shared::time::Timestamp;

    use super::db::Database;
    use super::*;
    use crate::{args, sql};

    #[test]
    fn reads_answer_with_the_last_committed_state_while_a_write_is_under_way() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("doorstep.db")).unwrap());
        let tenant = TenantId::from_u128(1);
        store.put_tenant(tenant, "Adur").unwrap();
        let (begun, writing) = mpsc::channel();
        let (read, done_reading) = mpsc::channel::<()>();
        let writer = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                store.write(|tx| {
                    tx.execute(
                        sql!("UPDATE tenants SET name = 'Worthing' WHERE id = ?1"),
                        args![tenant.to_string()],
                    )?;
                    begun.send(()).unwrap();
                    // The writer holds on until the read has answered.
                    done_reading.recv().unwrap();
                    Ok(())
                })
            })
        };
        writing.recv().unwrap();
        let (answer, answered) = mpsc::channel();
        let reading = Arc::clone(&store);
        std::thread::spawn(move || answer.send(reading.tenant_name(tenant)).unwrap());
        // A read waiting behind the writer would never answer; a minute is
        // far beyond any machine's read of one row.
        let name = answered
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("a read waited behind the writer")
            .unwrap();
        assert_eq!(name.as_deref(), Some("Adur"), "the last committed name");
        read.send(()).unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(
            store.tenant_name(tenant).unwrap().as_deref(),
            Some("Worthing")
        );
    }

    #[test]
    fn reopening_a_database_keeps_its_rows_and_does_not_rerun_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doorstep.db");
        let tenant = TenantId::from_u128(1);
        SqliteStore::open(&path)
            .unwrap()
            .put_tenant(tenant, "Adur")
            .unwrap();
        let reopened = SqliteStore::open(&path).unwrap();
        reopened.put_tenant(tenant, "Adur & Worthing").unwrap();
        let name: String = reopened
            .connection()
            .unwrap()
            .query_row("SELECT name FROM tenants", [], |row| row.get(0))
            .unwrap();
        assert_eq!(name, "Adur & Worthing");
    }

    #[test]
    fn photos_of_jobs_stored_before_blob_references_existed_are_found_after_the_upgrade() {
        use doorstep_shared::ids::{BlobHash, JobId, PhotoId};
        use doorstep_shared::job::JobEditor;
        use doorstep_shared::sync::server::scope_record;
        use doorstep_shared::sync::store::Author;
        use doorstep_shared::transition::{Actor, Role};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doorstep.db");
        let services = ServiceCatalog::builtin().unwrap();
        let repair = services.get(&"housing-repair".parse().unwrap()).unwrap();
        let tenant = TenantId::from_u128(1);
        let doc = DocumentId::Job(JobId::from_u128(1));
        let hash = BlobHash::of(b"display");
        {
            let store = SqliteStore::open(&path).unwrap();
            store.put_tenant(tenant, "Adur").unwrap();
            let mut document =
                doorstep_shared::demo::job(repair, 1, "1 High Street", Timestamp::from_millis(0))
                    .create_document(automerge::ActorId::from(&[1u8; 16][..]))
                    .unwrap();
            let by = Actor {
                user: doorstep_shared::ids::UserId::from_u128(2),
                role: Role::Operative,
                device: None,
            };
            let mut photo = doorstep_shared::demo::photo(
                "before".parse().unwrap(),
                &by,
                Timestamp::from_millis(0),
            );
            photo.display = Some(hash);
            JobEditor::new(&mut document, by)
                .unwrap()
                .add_photo(PhotoId::from_u128(1), &photo)
                .unwrap();
            document.commit();
            let changes = document
                .get_changes(&[])
                .into_iter()
                .map(|c| (Author::Server, c))
                .collect();
            let record = scope_record(&document, doc, &services).unwrap();
            store
                .sync_transaction(&services, |sync| {
                    sync.append(tenant, doc, &mut document, changes, record)
                })
                .unwrap();
            // As a server from before blob references left it.
            let connection = store.connection().unwrap();
            connection
                .execute_batch(
                    "ALTER TABLE users DROP COLUMN active; ALTER TABLE devices DROP COLUMN last_sync_at;
                     DROP TABLE staff_sessions; DROP TABLE staff_roles; DROP TABLE staff_accounts;
                     DROP TABLE missed_bin_checks; DROP TABLE job_references; ALTER TABLE job_summaries DROP COLUMN closed_at;
                     DROP TABLE bookings; DROP TABLE tracking_tokens; DROP TABLE outbox; DROP TABLE upload_parts; DROP TABLE uploads;
                     DROP TABLE blobs; DROP TABLE blob_refs; PRAGMA user_version = 1;",
                )
                .unwrap();
        }
        let upgraded = SqliteStore::open(&path).unwrap();
        let holders = upgraded.blob_holders(hash).unwrap();
        assert_eq!(holders.len(), 1);
        assert_eq!(holders[0].doc, doc);
        assert!(!holders[0].borrowed);
    }

    #[test]
    fn a_database_from_a_newer_server_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doorstep.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let error = SqliteStore::open(&path).err().unwrap();
        assert!(
            error.to_string().contains("run a newer doorstep-server"),
            "{error}"
        );
    }
}
