//! Missed-bin checks and round lookups on PostgreSQL: the same rows as on
//! SQLite.

use doorstep_shared::ids::{JobId, RoundId, TenantId};
use doorstep_shared::time::Timestamp;

use super::super::StoreError;
use super::super::missed_bins::{MissedBinCheck, MissedBinRecords, parse_checks, parse_rounds};
use super::PgStore;

impl MissedBinRecords for PgStore {
    fn round_ids(&self, tenant: TenantId) -> Result<Vec<RoundId>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT id FROM sync_documents WHERE tenant = $1 AND kind = 'round' ORDER BY id",
                &[&tenant.to_string()],
            )?)
        })?;
        parse_rounds(rows.iter().map(|row| row.get(0)).collect())
    }

    fn put_missed_bin_check(
        &self,
        check: &MissedBinCheck,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "INSERT INTO missed_bin_checks (job, tenant, round, property, reported_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job) DO NOTHING",
                &[
                    &check.job.to_string(),
                    &check.tenant.to_string(),
                    &check.round.to_string(),
                    &check.property.to_string(),
                    &now.as_millis(),
                ],
            )?;
            Ok(())
        })
    }

    fn missed_bin_checks(&self) -> Result<Vec<MissedBinCheck>, StoreError> {
        let rows = self.with_client(|client| {
            Ok(client.query(
                "SELECT tenant, job, round, property FROM missed_bin_checks
                 ORDER BY reported_at, job",
                &[],
            )?)
        })?;
        parse_checks(
            rows.iter()
                .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3))),
        )
    }

    fn remove_missed_bin_check(&self, job: JobId) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute(
                "DELETE FROM missed_bin_checks WHERE job = $1",
                &[&job.to_string()],
            )?;
            Ok(())
        })
    }
}
