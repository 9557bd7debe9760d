//! The server's storage on PostgreSQL, for several stateless server nodes
//! sharing one database: its connections, its migrations and what only it
//! does (telling the other nodes of changes). Every query is written once,
//! for both databases, in the feature's own file over [`super::db`].

use std::time::Duration;

use doorstep_shared::ids::TenantId;
use postgres::Client;
use postgres_native_tls::MakeTlsConnector;

use super::StoreError;
use super::db::{Statements, Tx};

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
    include_str!("../../migrations/postgres/0010_memberships.sql"),
];

/// How a node's connections to PostgreSQL behave.
#[derive(Debug, Clone)]
pub struct PgPool {
    /// Connections one node opens at most: requests beyond them wait for
    /// one to be free, so a burst (fifty residents booking at once) never
    /// exhausts the database's own limit (PostgreSQL's default is 100).
    pub max_connections: u32,
    /// How long a request waits for a free connection, and a new
    /// connection for the database to answer, before failing with an error
    /// instead of hanging.
    pub wait: Duration,
}

impl Default for PgPool {
    fn default() -> Self {
        Self {
            max_connections: 16,
            wait: Duration::from_secs(10),
        }
    }
}

/// A PostgreSQL database shared by server nodes. Its methods block: call
/// them from `spawn_blocking` or outside the async runtime.
pub struct PgStore {
    /// Taken only by `drop`, which closes the connections on a plain thread.
    pool: Option<r2d2::Pool<Connector>>,
    connector: Connector,
}

/// Opens connections: where to, and with what TLS.
#[derive(Clone)]
struct Connector {
    config: postgres::Config,
    tls: MakeTlsConnector,
}

/// A pooled connection and the statements it has prepared.
pub struct PgConnection {
    client: Client,
    statements: Statements,
}

impl r2d2::ManageConnection for Connector {
    type Connection = PgConnection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConnection, postgres::Error> {
        Ok(PgConnection {
            client: self.config.connect(self.tls.clone())?,
            statements: Statements::new(),
        })
    }

    fn is_valid(&self, connection: &mut PgConnection) -> Result<(), postgres::Error> {
        connection.client.simple_query("").map(drop)
    }

    fn has_broken(&self, connection: &mut PgConnection) -> bool {
        connection.client.is_closed()
    }
}

impl PgStore {
    /// Connects to `url` (a libpq connection string or `postgres://` URL,
    /// whose `sslmode` chooses TLS: see [`Tls`]) and brings the schema up
    /// to date. With `schema`, everything lives in that schema, created if
    /// missing: tests use one schema each.
    pub fn connect(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        Self::connect_with(url, schema, &PgPool::default())
    }

    /// [`PgStore::connect`] with its own pool settings.
    pub fn connect_with(
        url: &str,
        schema: Option<&str>,
        settings: &PgPool,
    ) -> Result<Self, StoreError> {
        let (url, tls) = Tls::from_url(url)?;
        let mut config: postgres::Config = url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(settings.wait);
        }
        // A database that vanished without closing the connection (a cut
        // network) is noticed within a minute, not hours.
        config.keepalives_idle(Duration::from_secs(30));
        config.keepalives_interval(Duration::from_secs(10));
        config.keepalives_retries(3);
        let connector = Connector {
            config,
            tls: tls.connector()?,
        };
        // One connection first, so a wrong address, password or certificate
        // is reported as itself, at once.
        let mut first = connector.config.connect(connector.tls.clone())?;
        let mut connector = connector;
        if let Some(schema) = schema {
            first.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))?;
            connector
                .config
                .options(&format!("-c search_path=\"{schema}\""));
        }
        drop_on_plain_thread(first);
        let pool = r2d2::Pool::builder()
            .max_size(settings.max_connections)
            .min_idle(Some(1))
            .connection_timeout(settings.wait)
            // A broken connection is noticed by its client; no round trip
            // to check each one out.
            .test_on_check_out(false)
            .build_unchecked(connector.clone());
        let store = Self {
            pool: Some(pool),
            connector,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Runs `work` on a pooled connection, waiting at most the pool's wait
    /// for one to be free.
    fn with_connection<R>(
        &self,
        work: impl FnOnce(&mut PgConnection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let pool = self.pool.as_ref().ok_or(StoreError::Poisoned)?;
        work(&mut *pool.get()?)
    }

    /// Runs `work` in one transaction, committed only if it succeeds.
    pub(super) fn transaction<R>(
        &self,
        read_only: bool,
        work: impl FnOnce(Tx<'_, '_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.with_connection(|connection| {
            let mut transaction = connection
                .client
                .build_transaction()
                .read_only(read_only)
                .start()?;
            let result = work(Tx::Postgres(&mut transaction, &mut connection.statements))?;
            transaction.commit()?;
            Ok(result)
        })
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.transaction(false, |mut tx| super::migrate(&mut tx, MIGRATIONS))
    }
}

/// A blocking client owns a small runtime of its own, which may not be
/// dropped on an async worker thread: drop it on a plain one.
fn drop_on_plain_thread<T: Send + 'static>(value: T) {
    let _ = std::thread::spawn(move || drop(value)).join();
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            drop_on_plain_thread(pool);
        }
    }
}

/// TLS to PostgreSQL, chosen by the URL's `sslmode` as libpq reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// `disable`: never.
    Disable,
    /// `allow` or `prefer` (the default): encrypted if the server offers
    /// it, its certificate not checked.
    Prefer,
    /// `require`: always encrypted, the certificate not checked.
    Require,
    /// `verify-ca`: encrypted, the certificate signed by a trusted
    /// authority (the system's, or `sslrootcert`), whatever its name.
    VerifyCa(Option<String>),
    /// `verify-full`: `verify-ca`, and the certificate names the host.
    VerifyFull(Option<String>),
}

impl Tls {
    /// Reads and removes `sslmode` and `sslrootcert` from a `postgres://`
    /// URL or a `key=value` connection string, leaving what the driver
    /// reads (it knows only `disable`, `prefer` and `require`).
    pub fn from_url(url: &str) -> Result<(String, Tls), StoreError> {
        let uri = url.starts_with("postgres://") || url.starts_with("postgresql://");
        let (base, params) = match url.split_once('?') {
            Some((base, query)) if uri => (base, params_of(query, '&')),
            _ if uri => (url, Vec::new()),
            _ => ("", params_of(url, ' ')),
        };
        let mut mode = None;
        let mut root = None;
        let mut kept = Vec::new();
        for param in params {
            match param.split_once('=') {
                Some(("sslmode", value)) => mode = Some(value.trim_matches('\'').to_owned()),
                Some(("sslrootcert", value)) => root = Some(value.trim_matches('\'').to_owned()),
                _ => kept.push(param),
            }
        }
        let tls = match mode.as_deref() {
            Some("disable") => Tls::Disable,
            None | Some("allow") | Some("prefer") => Tls::Prefer,
            Some("require") => Tls::Require,
            Some("verify-ca") => Tls::VerifyCa(root),
            Some("verify-full") => Tls::VerifyFull(root),
            Some(other) => {
                return Err(StoreError::Tls(format!(
                    "sslmode {other:?} is none of disable, allow, prefer, require, verify-ca, verify-full"
                )));
            }
        };
        let driver_mode = match tls {
            Tls::Disable => "sslmode=disable",
            Tls::Prefer => "sslmode=prefer",
            _ => "sslmode=require",
        };
        kept.push(driver_mode);
        let url = if uri {
            format!("{base}?{}", kept.join("&"))
        } else {
            kept.join(" ")
        };
        Ok((url, tls))
    }

    fn connector(&self) -> Result<MakeTlsConnector, StoreError> {
        let mut builder = native_tls::TlsConnector::builder();
        match self {
            Tls::Disable | Tls::Prefer | Tls::Require => {
                builder.danger_accept_invalid_certs(true);
            }
            Tls::VerifyCa(_) => {
                builder.danger_accept_invalid_hostnames(true);
            }
            Tls::VerifyFull(_) => {}
        }
        if let Tls::VerifyCa(Some(path)) | Tls::VerifyFull(Some(path)) = self {
            let pem = std::fs::read(path).map_err(|error| {
                StoreError::Tls(format!("could not read sslrootcert {path}: {error}"))
            })?;
            let certificate = native_tls::Certificate::from_pem(&pem)
                .map_err(|error| StoreError::Tls(format!("sslrootcert {path}: {error}")))?;
            builder.add_root_certificate(certificate);
        }
        let connector = builder
            .build()
            .map_err(|error| StoreError::Tls(error.to_string()))?;
        Ok(MakeTlsConnector::new(connector))
    }
}

/// The parameters of a URL's query (split on `&`) or of a connection
/// string (on spaces outside single quotes).
fn params_of(text: &str, separator: char) -> Vec<&str> {
    let mut params = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (at, c) in text.char_indices() {
        if c == '\'' && separator == ' ' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            params.push(&text[start..at]);
            start = at + 1;
        }
    }
    params.push(&text[start..]);
    params.retain(|param| !param.is_empty());
    params
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

impl PgStore {
    /// Tells the other nodes that a council's documents changed.
    pub(super) fn announce_change(&self, tenant: TenantId, from: &str) -> Result<(), StoreError> {
        self.with_connection(|connection| {
            connection.client.execute(
                "SELECT pg_notify($1, $2)",
                &[&CHANGES_CHANNEL, &format!("{tenant} {from}")],
            )?;
            Ok(())
        })
    }

    /// A connection of its own that hears the other nodes' announcements.
    pub(super) fn change_listener(&self) -> Result<Box<dyn super::ChangeListener>, StoreError> {
        let connector = &self.connector;
        let mut client = connector.config.connect(connector.tls.clone())?;
        client.batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))?;
        Ok(Box::new(PgChangeListener { client }))
    }
}
