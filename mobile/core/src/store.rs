//! The phone's database, `synchronous = FULL` everywhere, so a committed
//! edit survives a crash, a kill or a flat battery: natively in WAL mode;
//! in the browser (the OPFS SAH-pool VFS has no shared memory, so no WAL)
//! with a rollback journal that is truncated, not deleted, after each
//! commit, since the pool's files are preallocated handles.
//!
//! Writes go through [`LocalStore::write`]: one transaction in which the
//! caller saves documents (each job's list row is rewritten beside it),
//! state and files. Nothing is visible, to the screen or after a restart,
//! until the whole transaction commits.

use std::collections::BTreeSet;
use std::path::Path;

use automerge::AutoCommit;
use doorstep_shared::document::DocumentError;
use doorstep_shared::ids::{BlobHash, JobId, TenantId};
use doorstep_shared::job::Job;
use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::summary::JobSummary;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

const MIGRATIONS: &[&str] = &[include_str!("../migrations/0001_schema.sql")];

/// The local database failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("the phone's database failed")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored document is unreadable.
    #[error("a stored document is unreadable")]
    Document(#[from] DocumentError),
    /// A stored value does not parse.
    #[error("the phone's database holds an invalid {what}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
    },
    /// The database was written by a newer app.
    #[error("this phone's data was written by a newer version of the app: update the app")]
    NewerDatabase,
}

/// A job as the Today list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRow {
    /// The job's summary.
    pub summary: JobSummary,
    /// The phone holds changes to it the server has not accepted yet.
    pub unsynced: bool,
}

/// The phone's database.
pub struct LocalStore {
    connection: Connection,
}

/// WAL natively; the browser's VFS cannot share memory between
/// connections, which WAL needs.
#[cfg(not(target_arch = "wasm32"))]
const JOURNAL_MODE: &str = "WAL";
#[cfg(target_arch = "wasm32")]
const JOURNAL_MODE: &str = "TRUNCATE";

impl LocalStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::prepare(Connection::open(path)?)
    }

    /// A database in memory, for tests and previews.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::prepare(Connection::open_in_memory()?)
    }

    fn prepare(mut connection: Connection) -> Result<Self, StoreError> {
        connection.pragma_update(None, "journal_mode", JOURNAL_MODE)?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        let applied: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if applied > MIGRATIONS.len() as i64 {
            return Err(StoreError::NewerDatabase);
        }
        for (number, sql) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
            let transaction = connection.transaction()?;
            transaction.execute_batch(sql)?;
            transaction.pragma_update(None, "user_version", number as i64 + 1)?;
            transaction.commit()?;
        }
        Ok(Self { connection })
    }

    /// Runs `work` in one transaction, committed only if it succeeds.
    pub fn write<R>(
        &mut self,
        work: impl FnOnce(&mut Write<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let transaction = self.connection.transaction()?;
        let mut write = Write { transaction };
        let result = work(&mut write)?;
        write.transaction.commit()?;
        Ok(result)
    }

    /// A document and its tenant.
    pub fn document(&self, doc: DocumentId) -> Result<Option<(TenantId, AutoCommit)>, StoreError> {
        let row: Option<(String, Vec<u8>)> = self
            .connection
            .query_row(
                "SELECT tenant, bytes FROM documents WHERE id = ?1",
                params![doc.to_string()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((tenant, bytes)) = row else {
            return Ok(None);
        };
        let tenant = tenant
            .parse()
            .map_err(|_| StoreError::Corrupt { what: "tenant id" })?;
        let document = AutoCommit::load(&bytes).map_err(DocumentError::from)?;
        Ok(Some((tenant, document)))
    }

    /// Every document held, by id.
    pub fn document_ids(&self) -> Result<BTreeSet<DocumentId>, StoreError> {
        let mut statement = self.connection.prepare("SELECT id FROM documents")?;
        let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
        rows.map(|id| {
            id?.parse().map_err(|_| StoreError::Corrupt {
                what: "document id",
            })
        })
        .collect()
    }

    /// The job list, by appointment (unbooked last), then reference.
    pub fn job_rows(&self) -> Result<Vec<JobRow>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT job, reference, service, service_name, status, status_label, address,
                    appointment_starts, appointment_ends, pending_requests, unsynced
             FROM job_rows
             ORDER BY appointment_starts IS NULL, appointment_starts, reference",
        )?;
        let rows = statement.query_map([], |row| {
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
                row.get::<_, bool>(10)?,
            ))
        })?;
        let corrupt = |what| StoreError::Corrupt { what };
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
                unsynced,
            ) = row?;
            let job = match job.parse::<DocumentId>() {
                Ok(DocumentId::Job(job)) => job,
                _ => return Err(corrupt("job id")),
            };
            Ok(JobRow {
                summary: JobSummary {
                    job,
                    reference,
                    service: service.parse().map_err(|_| corrupt("service id"))?,
                    service_name,
                    status: status.parse().map_err(|_| corrupt("status"))?,
                    status_label,
                    address,
                    appointment_starts: starts.map(Timestamp::from_millis),
                    appointment_ends: ends.map(Timestamp::from_millis),
                    pending_requests: pending.max(0) as usize,
                },
                unsynced,
            })
        })
        .collect()
    }

    /// A piece of saved state.
    pub fn state(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .connection
            .query_row(
                "SELECT value FROM state WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// How much room the phone's database takes, in bytes.
    pub fn size_bytes(&self) -> Result<u64, StoreError> {
        let pages: i64 = self
            .connection
            .pragma_query_value(None, "page_count", |row| row.get(0))?;
        let size: i64 = self
            .connection
            .pragma_query_value(None, "page_size", |row| row.get(0))?;
        Ok((pages.max(0) as u64).saturating_mul(size.max(0) as u64))
    }

    /// A photo file kept on the phone.
    pub fn file(&self, hash: BlobHash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .connection
            .query_row(
                "SELECT bytes FROM files WHERE hash = ?1",
                params![hash.to_string()],
                |row| row.get(0),
            )
            .optional()?)
    }
}

/// One write transaction.
pub struct Write<'c> {
    transaction: Transaction<'c>,
}

impl Write<'_> {
    /// Saves a document; a job's list row is rewritten with it.
    pub fn put_document(
        &mut self,
        tenant: TenantId,
        doc: DocumentId,
        document: &mut AutoCommit,
        services: &ServiceCatalog,
    ) -> Result<(), StoreError> {
        self.transaction.execute(
            "INSERT INTO documents (id, tenant, bytes) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, bytes = excluded.bytes",
            params![doc.to_string(), tenant.to_string(), document.save()],
        )?;
        let DocumentId::Job(job) = doc else {
            return Ok(());
        };
        self.put_row(job, document, services)
    }

    /// Remakes every job's list row, after the service definitions changed.
    pub fn relist(&mut self, services: &ServiceCatalog) -> Result<(), StoreError> {
        let jobs: Vec<(String, Vec<u8>)> = {
            let mut statement = self
                .transaction
                .prepare("SELECT id, bytes FROM documents WHERE id LIKE 'job:%'")?;
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        self.transaction.execute("DELETE FROM job_rows", [])?;
        for (id, bytes) in jobs {
            let Ok(DocumentId::Job(job)) = id.parse() else {
                continue;
            };
            let document = AutoCommit::load(&bytes).map_err(|_| StoreError::Corrupt {
                what: "a job document",
            })?;
            self.put_row(job, &document, services)?;
        }
        Ok(())
    }

    /// Writes a job's list row; a job of a service this app cannot read has
    /// none until it can.
    fn put_row(
        &mut self,
        job: JobId,
        document: &AutoCommit,
        services: &ServiceCatalog,
    ) -> Result<(), StoreError> {
        let Ok(loaded) = Job::load(document) else {
            // Saved by a newer app: it shows as such when opened.
            return Ok(());
        };
        let Some(service) = services.get(&loaded.office.service) else {
            // A service this app does not know yet: no row until it does.
            return Ok(());
        };
        let summary = JobSummary::of(job, &loaded, service);
        self.transaction.execute(
            "INSERT INTO job_rows (job, reference, service, service_name, status, status_label,
                 address, appointment_starts, appointment_ends, pending_requests)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (job) DO UPDATE SET
                 reference = excluded.reference, service = excluded.service,
                 service_name = excluded.service_name, status = excluded.status,
                 status_label = excluded.status_label, address = excluded.address,
                 appointment_starts = excluded.appointment_starts,
                 appointment_ends = excluded.appointment_ends,
                 pending_requests = excluded.pending_requests",
            params![
                DocumentId::Job(job).to_string(),
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
        Ok(())
    }

    /// Deletes a document (and its list row).
    pub fn remove_document(&mut self, doc: DocumentId) -> Result<(), StoreError> {
        self.transaction.execute(
            "DELETE FROM job_rows WHERE job = ?1",
            params![doc.to_string()],
        )?;
        self.transaction.execute(
            "DELETE FROM documents WHERE id = ?1",
            params![doc.to_string()],
        )?;
        Ok(())
    }

    /// Marks which jobs hold changes the server has not accepted.
    pub fn mark_unsynced(&mut self, unsynced: &BTreeSet<DocumentId>) -> Result<(), StoreError> {
        let ids: Vec<String> = unsynced.iter().map(ToString::to_string).collect();
        let json = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
        self.transaction.execute(
            "UPDATE job_rows SET unsynced = (job IN (SELECT value FROM json_each(?1)))",
            params![json],
        )?;
        Ok(())
    }

    /// Forgets everything the phone holds: documents (residents' details
    /// among them), photos, enrolment and sync state. What is left is a
    /// phone that was never enrolled.
    pub fn wipe(&mut self) -> Result<(), StoreError> {
        self.transaction.execute_batch(
            "DELETE FROM job_rows; DELETE FROM documents; DELETE FROM files; DELETE FROM state;",
        )?;
        Ok(())
    }

    /// Saves a piece of state.
    pub fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.transaction.execute(
            "INSERT INTO state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Keeps a photo file, until `keep_until` if given (else until removed).
    pub fn put_file(
        &mut self,
        hash: BlobHash,
        bytes: &[u8],
        keep_until: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.transaction.execute(
            "INSERT INTO files (hash, bytes, keep_until) VALUES (?1, ?2, ?3)
             ON CONFLICT (hash) DO NOTHING",
            params![
                hash.to_string(),
                bytes,
                keep_until.map(Timestamp::as_millis)
            ],
        )?;
        Ok(())
    }

    /// Lets a file go once it is no longer needed before `at` (an uploaded
    /// rendition, say): it is deleted by [`Write::prune_files`] after then.
    pub fn release_file(&mut self, hash: BlobHash, at: Timestamp) -> Result<(), StoreError> {
        self.transaction.execute(
            "UPDATE files SET keep_until = ?2 WHERE hash = ?1 AND keep_until IS NULL",
            params![hash.to_string(), at.as_millis()],
        )?;
        Ok(())
    }

    /// Deletes files kept until before `now`.
    pub fn prune_files(&mut self, now: Timestamp) -> Result<usize, StoreError> {
        Ok(self.transaction.execute(
            "DELETE FROM files WHERE keep_until IS NOT NULL AND keep_until < ?1",
            params![now.as_millis()],
        )?)
    }
}
