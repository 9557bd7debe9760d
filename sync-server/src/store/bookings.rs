//! Booked half-days, counted against a crew's capacity. A booking is taken
//! by one check-and-write under a lock (the SQLite connection's; on
//! PostgreSQL an advisory lock on the crew's half-day), so two offices or
//! residents taking the last place never both get it.

use doorstep_shared::booking::HalfDay;
use doorstep_shared::ids::{JobId, TenantId};
use doorstep_shared::time::Timestamp;
use rusqlite::{TransactionBehavior, params};

use super::{SqliteStore, StoreError};

/// Booked half-days.
pub trait BookingRecords {
    /// Books `slot` for `job` if `crew` has fewer than `capacity` other
    /// jobs then (moving the job's booking if it had one); false if full.
    fn take_slot(
        &self,
        tenant: TenantId,
        crew: &str,
        job: JobId,
        slot: HalfDay,
        capacity: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Forgets a job's booking.
    fn release_slot(&self, job: JobId) -> Result<(), StoreError>;

    /// How many jobs `crew` has booked in each of `slots`.
    fn booked(
        &self,
        tenant: TenantId,
        crew: &str,
        slots: &[HalfDay],
    ) -> Result<Vec<u32>, StoreError>;
}

impl BookingRecords for SqliteStore {
    fn take_slot(
        &self,
        tenant: TenantId,
        crew: &str,
        job: JobId,
        slot: HalfDay,
        capacity: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut connection = self.connection()?;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let taken: i64 = transaction.query_row(
            "SELECT count(*) FROM bookings
             WHERE tenant = ?1 AND crew = ?2 AND day = ?3 AND half = ?4 AND job <> ?5",
            params![
                tenant.to_string(),
                crew,
                slot.date.to_string(),
                slot.half.as_str(),
                job.to_string()
            ],
            |row| row.get(0),
        )?;
        if taken >= i64::from(capacity) {
            return Ok(false);
        }
        transaction.execute(
            "INSERT INTO bookings (job, tenant, crew, day, half, booked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (job) DO UPDATE SET tenant = excluded.tenant, crew = excluded.crew,
                 day = excluded.day, half = excluded.half, booked_at = excluded.booked_at",
            params![
                job.to_string(),
                tenant.to_string(),
                crew,
                slot.date.to_string(),
                slot.half.as_str(),
                now.as_millis()
            ],
        )?;
        transaction.commit()?;
        Ok(true)
    }

    fn release_slot(&self, job: JobId) -> Result<(), StoreError> {
        self.connection()?.execute(
            "DELETE FROM bookings WHERE job = ?1",
            params![job.to_string()],
        )?;
        Ok(())
    }

    fn booked(
        &self,
        tenant: TenantId,
        crew: &str,
        slots: &[HalfDay],
    ) -> Result<Vec<u32>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection.prepare_cached(
            "SELECT count(*) FROM bookings
             WHERE tenant = ?1 AND crew = ?2 AND day = ?3 AND half = ?4",
        )?;
        slots
            .iter()
            .map(|slot| {
                let count: i64 = statement.query_row(
                    params![
                        tenant.to_string(),
                        crew,
                        slot.date.to_string(),
                        slot.half.as_str()
                    ],
                    |row| row.get(0),
                )?;
                Ok(u32::try_from(count).unwrap_or(u32::MAX))
            })
            .collect()
    }
}
