//! Erasing contact documents on PostgreSQL: the same statements as on
//! SQLite, in one transaction.

use doorstep_shared::ids::{JobId, TenantId};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;

use super::super::StoreError;
use super::super::erasure::{ERASED, ErasureRecords, parse_closed};
use super::PgStore;

impl ErasureRecords for PgStore {
    fn contacts_closed_before(
        &self,
        closed_before: Timestamp,
    ) -> Result<Vec<(TenantId, JobId)>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT c.tenant, c.contact_job FROM sync_documents c
                 JOIN job_summaries s ON s.job = c.contact_job
                 WHERE c.kind = 'contact' AND s.closed_at <= $1
                 ORDER BY s.closed_at",
                &[&closed_before.as_millis()],
            )?)
        })?;
        parse_closed(rows.iter().map(|row| (row.get(0), row.get(1))))
    }

    fn erase_contact(
        &self,
        tenant: TenantId,
        job: JobId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let doc = DocumentId::Contact(job).to_string();
            let tenant_id = tenant.to_string();
            let changes = transaction.execute(
                "DELETE FROM sync_changes WHERE tenant = $1 AND doc = $2",
                &[&tenant_id, &doc],
            )?;
            transaction.execute("DELETE FROM sync_ever_delivered WHERE doc = $1", &[&doc])?;
            let documents = transaction.execute(
                "DELETE FROM sync_documents WHERE tenant = $1 AND id = $2",
                &[&tenant_id, &doc],
            )?;
            let found = changes + documents > 0;
            if found {
                transaction.execute(
                    "UPDATE tenants SET scope_version = scope_version + 1 WHERE id = $1",
                    &[&tenant_id],
                )?;
            }
            transaction.execute(
                "UPDATE outbox SET recipient = NULL, subject = NULL, body = NULL, erased_at = $3,
                     outcome = CASE WHEN status = 'pending' THEN $4 ELSE outcome END,
                     status = CASE WHEN status = 'pending' THEN 'skipped' ELSE status END
                 WHERE tenant = $1 AND job = $2 AND erased_at IS NULL",
                &[&tenant_id, &job.to_string(), &now.as_millis(), &ERASED],
            )?;
            transaction.commit()?;
            Ok(found)
        })
    }
}
