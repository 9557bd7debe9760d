//! Erasing a resident's contact document: its stored changes, its scope
//! row and the record of which devices had it go, and the outbox rows'
//! recipients and texts go with it. The rows themselves stay (channel,
//! event, statuses), so the job's history of what was sent still reads.
//! The tenant's scope version moves on, so phones holding the document are
//! told at their next sync to drop it.

use doorstep_shared::ids::{JobId, TenantId};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;

use super::{Store, StoreError, job_of};
use crate::{args, sql};

/// Why an unsent message was given up, as its row says.
pub(super) const ERASED: &str = "the resident's contact details were erased";

impl Store {
    /// Jobs that closed at or before `closed_before` and still have a
    /// contact document.
    pub fn contacts_closed_before(
        &self,
        closed_before: Timestamp,
    ) -> Result<Vec<(TenantId, JobId)>, StoreError> {
        let contacts: Vec<(TenantId, DocumentId)> = self.all(
            sql!(
                "SELECT c.tenant, c.contact_job FROM sync_documents c
                 JOIN job_summaries s ON s.job = c.contact_job
                 WHERE c.kind = 'contact' AND s.closed_at <= ?1
                 ORDER BY s.closed_at"
            ),
            args![closed_before],
        )?;
        contacts
            .into_iter()
            .map(|(tenant, job)| Ok((tenant, job_of(job)?)))
            .collect()
    }

    /// Erases the job's contact document and the personal data in its
    /// outbox rows (messages not yet sent will not be); false if it had no
    /// contact document left.
    pub fn erase_contact(
        &self,
        tenant: TenantId,
        job: JobId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let doc = DocumentId::Contact(job);
        self.write(|tx| {
            let changes = tx.execute(
                sql!("DELETE FROM sync_changes WHERE tenant = ?1 AND doc = ?2"),
                args![tenant, doc],
            )?;
            tx.execute(
                sql!("DELETE FROM sync_ever_delivered WHERE doc = ?1"),
                args![doc],
            )?;
            let documents = tx.execute(
                sql!("DELETE FROM sync_documents WHERE tenant = ?1 AND id = ?2"),
                args![tenant, doc],
            )?;
            let found = changes + documents > 0;
            if found {
                tx.execute(
                    sql!("UPDATE tenants SET scope_version = scope_version + 1 WHERE id = ?1"),
                    args![tenant],
                )?;
            }
            tx.execute(
                sql!(
                    "UPDATE outbox SET recipient = NULL, subject = NULL, body = NULL, erased_at = ?3,
                         outcome = CASE WHEN status = 'pending' THEN ?4 ELSE outcome END,
                         status = CASE WHEN status = 'pending' THEN 'skipped' ELSE status END
                     WHERE tenant = ?1 AND job = ?2 AND erased_at IS NULL"
                ),
                args![tenant, job, now, ERASED],
            )?;
            Ok(found)
        })
    }
}
