//! The server's storage on SQLite: one file, WAL, every commit durable
//! (`synchronous = FULL`) before anything is acknowledged.
//!
//! Documents are saved whole with their list summary in one transaction.
//! Reads of lists come from the summary table, never from documents.
//! [2/8] brings the `Store` trait with a PostgreSQL twin, incremental
//! changes and the change index; this module is its SQLite seed.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use automerge::AutoCommit;
use doorstep_shared::document::DocumentError;
use doorstep_shared::ids::{JobId, RoundId, TenantId};
use doorstep_shared::summary::JobSummary;
use doorstep_shared::time::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

mod sync;

pub use sync::{COMPACT_AFTER, SqliteSync};

/// The schema migrations, applied in order; `PRAGMA user_version` records
/// how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_documents.sql"),
    include_str!("../migrations/sqlite/0002_sync.sql"),
];

/// Storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused or failed.
    #[error("the database failed")]
    Sqlite(#[from] rusqlite::Error),
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
    /// A connection lock was poisoned by a panic elsewhere.
    #[error("the database connection was left unusable by an earlier failure")]
    Poisoned,
}

/// The kind of a stored document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A job.
    Job,
    /// A waste round.
    Round,
    /// A resident's contact details.
    Contact,
}

impl DocumentKind {
    fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Job => "job",
            DocumentKind::Round => "round",
            DocumentKind::Contact => "contact",
        }
    }
}

/// The server's SQLite database.
pub struct SqliteStore {
    connection: Mutex<Connection>,
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
        })
    }

    fn connection(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.connection.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Runs `work` on the sync store inside one write transaction, committed
    /// only if `work` succeeds: a sync's pushes are acknowledged only once
    /// they are on disk.
    pub fn sync_transaction<R>(
        &self,
        work: impl FnOnce(&mut SqliteSync<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let result = work(&mut SqliteSync::new(&transaction))?;
        transaction.commit()?;
        Ok(result)
    }

    /// Checks the database answers.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.connection()?
            .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?;
        Ok(())
    }

    /// Adds a tenant, or renames it.
    pub fn put_tenant(&self, id: TenantId, name: &str) -> Result<(), StoreError> {
        self.connection()?.execute(
            "INSERT INTO tenants (id, name) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            params![id.to_string(), name],
        )?;
        Ok(())
    }

    /// Saves a job document and its summary in one transaction.
    pub fn save_job(
        &self,
        tenant: TenantId,
        doc: &mut AutoCommit,
        summary: &JobSummary,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction()?;
        upsert_document(
            &transaction,
            &summary.job.to_string(),
            tenant,
            DocumentKind::Job,
            &doc.save(),
            now,
        )?;
        transaction.execute(
            "INSERT INTO job_summaries (job, tenant, reference, service, service_name, status,
                 status_label, address, appointment_starts, appointment_ends, pending_requests)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (job) DO UPDATE SET
                 reference = excluded.reference, service = excluded.service,
                 service_name = excluded.service_name, status = excluded.status,
                 status_label = excluded.status_label, address = excluded.address,
                 appointment_starts = excluded.appointment_starts,
                 appointment_ends = excluded.appointment_ends,
                 pending_requests = excluded.pending_requests",
            params![
                summary.job.to_string(),
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
            ],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Saves a round document.
    pub fn save_round(
        &self,
        tenant: TenantId,
        id: RoundId,
        doc: &mut AutoCommit,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let connection = self.connection()?;
        upsert_document(
            &connection,
            &id.to_string(),
            tenant,
            DocumentKind::Round,
            &doc.save(),
            now,
        )
    }

    /// Loads a job document, if there is one.
    pub fn load_job(&self, id: JobId) -> Result<Option<AutoCommit>, StoreError> {
        let bytes: Option<Vec<u8>> = self
            .connection()?
            .query_row(
                "SELECT snapshot FROM documents WHERE id = ?1 AND kind = 'job'",
                params![id.to_string()],
                |row| row.get(0),
            )
            .optional()?;
        bytes
            .map(|bytes| AutoCommit::load(&bytes).map_err(|e| StoreError::Document(e.into())))
            .transpose()
    }

    /// How many documents of each kind are stored.
    pub fn count_documents(&self) -> Result<u64, StoreError> {
        let count: i64 =
            self.connection()?
                .query_row("SELECT count(*) FROM documents", [], |row| row.get(0))?;
        Ok(count.max(0) as u64)
    }

    /// Every job's summary, by appointment (unbooked last), then reference.
    pub fn job_summaries(&self, tenant: TenantId) -> Result<Vec<JobSummary>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection.prepare(
            "SELECT job, reference, service, service_name, status, status_label, address,
                    appointment_starts, appointment_ends, pending_requests
             FROM job_summaries WHERE tenant = ?1
             ORDER BY appointment_starts IS NULL, appointment_starts, reference",
        )?;
        let rows = statement.query_map(params![tenant.to_string()], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, Option<i64>>(7)?,
                row.get::<_, Option<i64>>(8)?,
                row.get::<_, i64>(9)?,
            ))
        })?;
        rows.map(|row| {
            let (
                job,
                reference,
                service,
                service_name,
                status,
                status_label,
                address,
                starts,
                ends,
                pending,
            ) = row?;
            Ok(JobSummary {
                job: parse("job id", job)?,
                reference,
                service: parse("service id", service)?,
                service_name,
                status: parse("state", status)?,
                status_label,
                address,
                appointment_starts: starts.map(Timestamp::from_millis),
                appointment_ends: ends.map(Timestamp::from_millis),
                pending_requests: pending.max(0) as usize,
            })
        })
        .collect()
    }
}

fn parse<T: std::str::FromStr>(what: &'static str, value: String) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt { what, value })
}

fn upsert_document(
    connection: &Connection,
    id: &str,
    tenant: TenantId,
    kind: DocumentKind,
    snapshot: &[u8],
    now: Timestamp,
) -> Result<(), StoreError> {
    connection.execute(
        "INSERT INTO documents (id, tenant, kind, snapshot, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at",
        params![id, tenant.to_string(), kind.as_str(), snapshot, now.as_millis()],
    )?;
    Ok(())
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
        transaction.pragma_update(None, "user_version", number as i64 + 1)?;
        transaction.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
