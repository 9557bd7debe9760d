//! The server's storage on PostgreSQL, for several stateless server nodes
//! sharing one database: its connections, its migrations and what only it
//! does (telling the other nodes of changes). Every query is written once,
//! for both databases, in the feature's own file over [`super::db`].

use std::sync::{Condvar, Mutex};

use doorstep_shared::ids::TenantId;
use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::sync::store::SyncStore;
use postgres::{Client, NoTls};

use super::StoreError;
use super::sync::DbSync;

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
                    super::sync::backfill_blob_references(super::db::Tx::Postgres(
                        &mut transaction,
                    ))?;
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
        work: impl FnOnce(&mut DbSync<'_, '_, '_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let result = work(&mut DbSync::new(
                super::db::Tx::Postgres(&mut transaction),
                services,
            ))?;
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
