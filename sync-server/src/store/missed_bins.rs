//! Missed-bin reports waiting for their round to finish, and the rounds a
//! report can be about.

use doorstep_shared::ids::{JobId, PropertyId, RoundId, TenantId};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;

use super::{Store, StoreError};
pub use crate::residents::missed_bins::MissedBinCheck;
use crate::{args, sql};

impl Store {
    /// Every round of a council.
    pub fn round_ids(&self, tenant: TenantId) -> Result<Vec<RoundId>, StoreError> {
        let rounds: Vec<DocumentId> = self.all(
            sql!("SELECT id FROM sync_documents WHERE tenant = ?1 AND kind = 'round' ORDER BY id"),
            args![tenant],
        )?;
        rounds
            .into_iter()
            .map(|doc| match doc {
                DocumentId::Round(round) => Ok(round),
                other => Err(StoreError::Corrupt {
                    what: "round document id",
                    value: other.to_string(),
                }),
            })
            .collect()
    }

    /// Records a report to check once its round is finished.
    pub fn put_missed_bin_check(
        &self,
        check: &MissedBinCheck,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.execute(
            sql!(
                "INSERT INTO missed_bin_checks (job, tenant, round, property, reported_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (job) DO NOTHING"
            ),
            args![check.job, check.tenant, check.round, check.property, now],
        )
        .map(drop)
    }

    /// Every report waiting, oldest first.
    pub fn missed_bin_checks(&self) -> Result<Vec<MissedBinCheck>, StoreError> {
        let checks: Vec<(TenantId, JobId, RoundId, PropertyId)> = self.all(
            sql!(
                "SELECT tenant, job, round, property FROM missed_bin_checks
                 ORDER BY reported_at, job"
            ),
            args![],
        )?;
        Ok(checks
            .into_iter()
            .map(|(tenant, job, round, property)| MissedBinCheck {
                tenant,
                job,
                round,
                property,
            })
            .collect())
    }

    /// The report's check is done.
    pub fn remove_missed_bin_check(&self, job: JobId) -> Result<(), StoreError> {
        self.execute(
            sql!("DELETE FROM missed_bin_checks WHERE job = ?1"),
            args![job],
        )
        .map(drop)
    }
}
