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
use doorstep_shared::ids::{JobId, TenantId};
use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::sync::store::SyncStore;
use doorstep_shared::sync::wire::DocumentId;
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
    include_str!("../migrations/sqlite/0010_memberships.sql"),
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
/// by several nodes). Every feature's queries are methods of this one type,
/// written once over [`db::Tx`], in that feature's file.
pub struct Store {
    backend: Backend,
}

enum Backend {
    Sqlite(SqliteStore),
    Postgres(postgres::PgStore),
}

impl From<SqliteStore> for Store {
    fn from(store: SqliteStore) -> Self {
        Store {
            backend: Backend::Sqlite(store),
        }
    }
}

impl From<postgres::PgStore> for Store {
    fn from(store: postgres::PgStore) -> Self {
        Store {
            backend: Backend::Postgres(store),
        }
    }
}

impl Store {
    /// Opens (creating if needed) an SQLite database file; see
    /// [`SqliteStore::open`].
    pub fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        SqliteStore::open(path).map(Store::from)
    }

    /// Connects to PostgreSQL; see [`postgres::PgStore::connect`].
    pub fn connect_postgres(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        postgres::PgStore::connect(url, schema).map(Store::from)
    }

    /// Runs `work` in a write transaction, committed only if it succeeds.
    pub fn write<R>(
        &self,
        work: impl FnOnce(&mut db::Tx<'_, '_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.write(work),
            Backend::Postgres(store) => store.transaction(false, |mut tx| work(&mut tx)),
        }
    }

    /// Runs `work` in a transaction that only reads: one consistent view,
    /// without taking the writer's place.
    pub fn read<R>(
        &self,
        work: impl FnOnce(&mut db::Tx<'_, '_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.read(work),
            Backend::Postgres(store) => store.transaction(true, |mut tx| work(&mut tx)),
        }
    }

    /// Runs one statement in a write transaction of its own; returns how
    /// many rows it changed.
    pub fn execute(&self, sql: &'static db::Sql, args: &[db::Value]) -> Result<u64, StoreError> {
        self.write(|tx| tx.execute(sql, args))
    }

    /// Runs one query in a read transaction; reads each row as a `T`.
    pub fn all<T: db::FromRow>(
        &self,
        sql: &'static db::Sql,
        args: &[db::Value],
    ) -> Result<Vec<T>, StoreError> {
        self.read(|tx| tx.all(sql, args))
    }

    /// Runs one query that returns at most one row, in a read transaction.
    pub fn opt<T: db::FromRow>(
        &self,
        sql: &'static db::Sql,
        args: &[db::Value],
    ) -> Result<Option<T>, StoreError> {
        self.read(|tx| tx.opt(sql, args))
    }

    /// Runs `work` on the sync store inside one write transaction, committed
    /// only if `work` succeeds: a sync's pushes are acknowledged only once
    /// they are on disk. Job summaries are kept up to date with `services`.
    pub fn sync_transaction<R>(
        &self,
        services: &ServiceCatalog,
        work: impl FnOnce(&mut DbSync<'_, '_, '_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.write(|tx| work(&mut DbSync::new(tx.reborrow(), services)))
    }

    /// Checks the database answers.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.read(|tx| {
            tx.query_one(crate::sql!("SELECT 1"), crate::args![])
                .map(drop)
        })
    }

    /// Whether other server nodes may share this database, so changes are
    /// worth announcing. An embedded SQLite database serves one node.
    pub fn shared_by_nodes(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Tells the other server nodes sharing this database that a council's
    /// documents changed; `from` names this node. Nothing to tell where
    /// [`Store::shared_by_nodes`] is false.
    pub fn announce_change(&self, tenant: TenantId, from: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(store) => store.announce_change(tenant, from),
        }
    }

    /// Starts hearing what every node announces; none where there is only
    /// one node.
    pub fn change_listener(&self) -> Result<Option<Box<dyn ChangeListener>>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(store) => store.change_listener().map(Some),
        }
    }
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
    store: &Store,
    services: &ServiceCatalog,
    work: impl FnOnce(&mut dyn SyncStore<Error = StoreError>) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    store.sync_transaction(services, |sync| work(sync))
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
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        migrate(&mut db::Tx::Sqlite(&transaction), MIGRATIONS)?;
        transaction.commit()?;
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
}

impl SqliteStore {
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

/// The job a job document's id names (a column that holds only jobs).
fn job_of(doc: DocumentId) -> Result<JobId, StoreError> {
    match doc {
        DocumentId::Job(job) => Ok(job),
        other => Err(StoreError::Corrupt {
            what: "job document id",
            value: other.to_string(),
        }),
    }
}

/// Brings a database's schema up to date with `migrations` (one folder per
/// dialect), in one transaction that nodes starting together take in turn.
fn migrate(tx: &mut db::Tx<'_, '_>, migrations: &[&str]) -> Result<(), StoreError> {
    tx.lock("doorstep-migrations")?;
    let applied = tx.schema_version()?;
    let known = migrations.len() as i64;
    if applied > known {
        return Err(StoreError::NewerDatabase {
            found: applied,
            known,
        });
    }
    for (number, sql) in migrations.iter().enumerate().skip(applied.max(0) as usize) {
        tx.batch(sql)?;
        if number + 1 == BLOB_REFS_MIGRATION {
            sync::backfill_blob_references(tx.reborrow())?;
        }
        tx.set_schema_version(number as i64 + 1)?;
    }
    Ok(())
}

/// The migration that added `blob_refs`: documents stored before it get
/// their rows when it runs.
const BLOB_REFS_MIGRATION: usize = 2;
