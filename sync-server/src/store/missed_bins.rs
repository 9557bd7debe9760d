//! Missed-bin reports waiting for their round to finish, and the rounds a
//! report can be about.

use doorstep_shared::ids::{JobId, PropertyId, RoundId, TenantId};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use rusqlite::params;

use super::{SqliteStore, StoreError, parse};

/// A report waiting for its round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissedBinCheck {
    /// The council.
    pub tenant: TenantId,
    /// The report's job.
    pub job: JobId,
    /// The round the bin was on.
    pub round: RoundId,
    /// The property.
    pub property: PropertyId,
}

/// Missed-bin checks and round lookups.
pub trait MissedBinRecords {
    /// Every round of a council.
    fn round_ids(&self, tenant: TenantId) -> Result<Vec<RoundId>, StoreError>;

    /// Records a report to check once its round is finished.
    fn put_missed_bin_check(
        &self,
        check: &MissedBinCheck,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Every report waiting, oldest first.
    fn missed_bin_checks(&self) -> Result<Vec<MissedBinCheck>, StoreError>;

    /// The report's check is done.
    fn remove_missed_bin_check(&self, job: JobId) -> Result<(), StoreError>;
}

/// Rows as both databases return them: tenant, job, round, property.
pub(super) fn parse_checks(
    rows: impl IntoIterator<Item = (String, String, String, String)>,
) -> Result<Vec<MissedBinCheck>, StoreError> {
    rows.into_iter()
        .map(|(tenant, job, round, property)| {
            Ok(MissedBinCheck {
                tenant: parse("tenant id", tenant)?,
                job: parse("job id", job)?,
                round: parse("round id", round)?,
                property: parse("property id", property)?,
            })
        })
        .collect()
}

/// Round document ids as stored, as round ids.
pub(super) fn parse_rounds(ids: Vec<String>) -> Result<Vec<RoundId>, StoreError> {
    ids.into_iter()
        .map(|id| match parse::<DocumentId>("round id", id)? {
            DocumentId::Round(round) => Ok(round),
            other => Err(StoreError::Corrupt {
                what: "round document id",
                value: other.to_string(),
            }),
        })
        .collect()
}

impl MissedBinRecords for SqliteStore {
    fn round_ids(&self, tenant: TenantId) -> Result<Vec<RoundId>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection.prepare(
            "SELECT id FROM sync_documents WHERE tenant = ?1 AND kind = 'round' ORDER BY id",
        )?;
        let ids = statement
            .query_map(params![tenant.to_string()], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        parse_rounds(ids)
    }

    fn put_missed_bin_check(
        &self,
        check: &MissedBinCheck,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.connection()?.execute(
            "INSERT INTO missed_bin_checks (job, tenant, round, property, reported_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (job) DO NOTHING",
            params![
                check.job.to_string(),
                check.tenant.to_string(),
                check.round.to_string(),
                check.property.to_string(),
                now.as_millis()
            ],
        )?;
        Ok(())
    }

    fn missed_bin_checks(&self) -> Result<Vec<MissedBinCheck>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection.prepare(
            "SELECT tenant, job, round, property FROM missed_bin_checks ORDER BY reported_at, job",
        )?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        parse_checks(rows)
    }

    fn remove_missed_bin_check(&self, job: JobId) -> Result<(), StoreError> {
        self.connection()?.execute(
            "DELETE FROM missed_bin_checks WHERE job = ?1",
            params![job.to_string()],
        )?;
        Ok(())
    }
}
