//! Councils (tenants) and what the server keeps of each besides its
//! documents: its name, its job reference counters, and the job summaries
//! the back office lists.

use doorstep_shared::ids::TenantId;
use doorstep_shared::summary::JobSummary;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;

use super::{Store, StoreError};
use crate::{args, sql};

impl Store {
    /// Adds a tenant, or renames it.
    pub fn put_tenant(&self, id: TenantId, name: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                sql!(
                    "INSERT INTO tenants (id, name) VALUES (?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name"
                ),
                args![id.to_string(), name],
            )?;
            Ok(())
        })
    }

    /// A tenant's name (the council residents are told about).
    pub fn tenant_name(&self, id: TenantId) -> Result<Option<String>, StoreError> {
        self.read(|tx| {
            tx.query_opt(
                sql!("SELECT name FROM tenants WHERE id = ?1"),
                args![id.to_string()],
            )?
            .map(|row| row.get(0))
            .transpose()
        })
    }

    /// The next job reference number for a council and prefix (1, 2, …),
    /// taken in its own statement: never given twice, even by several
    /// server nodes.
    pub fn next_reference(&self, tenant: TenantId, prefix: &str) -> Result<u32, StoreError> {
        self.write(|tx| {
            tx.query_one(
                sql!(
                    "INSERT INTO job_references (tenant, prefix, last) VALUES (?1, ?2, 1)
                     ON CONFLICT (tenant, prefix) DO UPDATE SET last = job_references.last + 1
                     RETURNING last"
                ),
                args![tenant.to_string(), prefix],
            )?
            .get(0)
        })
    }

    /// How many synced documents are stored.
    pub fn count_documents(&self) -> Result<u64, StoreError> {
        self.read(|tx| {
            tx.query_one(sql!("SELECT count(*) FROM sync_documents"), args![])?
                .get(0)
        })
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
                args![tenant.to_string()],
            )?
            .iter()
            .map(|row| {
                let job = match row.parse::<DocumentId>(0, "job id")? {
                    DocumentId::Job(id) => id,
                    other => {
                        return Err(StoreError::Corrupt {
                            what: "job summary id",
                            value: other.to_string(),
                        });
                    }
                };
                Ok(JobSummary {
                    job,
                    reference: row.get(1)?,
                    service: row.parse(2, "service id")?,
                    service_name: row.get(3)?,
                    status: row.parse(4, "state")?,
                    status_label: row.get(5)?,
                    address: row.get(6)?,
                    appointment_starts: row.get::<Option<i64>>(7)?.map(Timestamp::from_millis),
                    appointment_ends: row.get::<Option<i64>>(8)?.map(Timestamp::from_millis),
                    pending_requests: row.get::<u64>(9)? as usize,
                })
            })
            .collect()
        })
    }
}
