//! Councils (tenants) and what the server keeps of each besides its
//! documents: its name, its job reference counters, and the job summaries
//! the back office lists.

use doorstep_shared::ids::{JobId, TenantId};
use doorstep_shared::summary::JobSummary;
use doorstep_shared::sync::wire::DocumentId;

use super::{Store, StoreError, job_of};
use crate::{args, sql};

impl Store {
    /// Adds a tenant, or renames it.
    pub fn put_tenant(&self, id: TenantId, name: &str) -> Result<(), StoreError> {
        self.execute(
            sql!(
                "INSERT INTO tenants (id, name) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name"
            ),
            args![id, name],
        )
        .map(drop)
    }

    /// A tenant's name (the council residents are told about).
    pub fn tenant_name(&self, id: TenantId) -> Result<Option<String>, StoreError> {
        self.opt(sql!("SELECT name FROM tenants WHERE id = ?1"), args![id])
    }

    /// The next job reference number for a council and prefix (1, 2, …),
    /// taken in its own statement: never given twice, even by several
    /// server nodes.
    pub fn next_reference(&self, tenant: TenantId, prefix: &str) -> Result<u32, StoreError> {
        self.write(|tx| {
            tx.one(
                sql!(
                    "INSERT INTO job_references (tenant, prefix, last) VALUES (?1, ?2, 1)
                     ON CONFLICT (tenant, prefix) DO UPDATE SET last = job_references.last + 1
                     RETURNING last"
                ),
                args![tenant, prefix],
            )
        })
    }

    /// How many synced documents are stored.
    pub fn count_documents(&self) -> Result<u64, StoreError> {
        self.read(|tx| tx.one(sql!("SELECT count(*) FROM sync_documents"), args![]))
    }

    /// Every job, of any council, with a request not yet decided (one
    /// waiting for its photos).
    pub fn jobs_with_pending_requests(&self) -> Result<Vec<JobId>, StoreError> {
        let jobs: Vec<DocumentId> = self.all(
            sql!("SELECT job FROM job_summaries WHERE pending_requests > 0 ORDER BY job"),
            args![],
        )?;
        jobs.into_iter().map(job_of).collect()
    }

    /// Every job's summary, by appointment (unbooked last), then reference.
    pub fn job_summaries(&self, tenant: TenantId) -> Result<Vec<JobSummary>, StoreError> {
        self.read(|tx| {
            tx.query(
                sql!(
                    "SELECT job, reference, service, service_name, status, status_label, address,
                            appointment_starts, appointment_ends, pending_requests
                     FROM job_summaries WHERE tenant = ?1
                     ORDER BY appointment_starts IS NULL, appointment_starts, reference"
                ),
                args![tenant],
            )?
            .iter()
            .map(|row| {
                Ok(JobSummary {
                    job: job_of(row.get(0)?)?,
                    reference: row.get(1)?,
                    service: row.get(2)?,
                    service_name: row.get(3)?,
                    status: row.get(4)?,
                    status_label: row.get(5)?,
                    address: row.get(6)?,
                    appointment_starts: row.get(7)?,
                    appointment_ends: row.get(8)?,
                    pending_requests: row.get(9)?,
                })
            })
            .collect()
        })
    }
}
