//! Booked half-days on PostgreSQL: the same rows as on SQLite; a booking
//! holds an advisory lock on the crew's half-day for its transaction, so
//! several server nodes never overbook it.

use doorstep_shared::booking::HalfDay;
use doorstep_shared::ids::{JobId, TenantId};
use doorstep_shared::time::Timestamp;

use super::super::StoreError;
use super::super::bookings::BookingRecords;
use super::PgStore;

impl BookingRecords for PgStore {
    fn take_slot(
        &self,
        tenant: TenantId,
        crew: &str,
        job: JobId,
        slot: HalfDay,
        capacity: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.with_client(|client| {
            let mut transaction = client.transaction()?;
            let key = format!("{tenant}/{crew}/{slot}");
            transaction.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])?;
            let taken: i64 = transaction
                .query_one(
                    "SELECT count(*) FROM bookings
                     WHERE tenant = $1 AND crew = $2 AND day = $3 AND half = $4 AND job <> $5",
                    &[
                        &tenant.to_string(),
                        &crew,
                        &slot.date.to_string(),
                        &slot.half.as_str(),
                        &job.to_string(),
                    ],
                )?
                .get(0);
            if taken >= i64::from(capacity) {
                return Ok(false);
            }
            transaction.execute(
                "INSERT INTO bookings (job, tenant, crew, day, half, booked_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (job) DO UPDATE SET tenant = excluded.tenant, crew = excluded.crew,
                     day = excluded.day, half = excluded.half, booked_at = excluded.booked_at",
                &[
                    &job.to_string(),
                    &tenant.to_string(),
                    &crew,
                    &slot.date.to_string(),
                    &slot.half.as_str(),
                    &now.as_millis(),
                ],
            )?;
            transaction.commit()?;
            Ok(true)
        })
    }

    fn release_slot(&self, job: JobId) -> Result<(), StoreError> {
        self.with_client(|client| {
            client.execute("DELETE FROM bookings WHERE job = $1", &[&job.to_string()])?;
            Ok(())
        })
    }

    fn booked(
        &self,
        tenant: TenantId,
        crew: &str,
        slots: &[HalfDay],
    ) -> Result<Vec<u32>, StoreError> {
        self.with_client(|client| {
            slots
                .iter()
                .map(|slot| {
                    let count: i64 = client
                        .query_one(
                            "SELECT count(*) FROM bookings
                             WHERE tenant = $1 AND crew = $2 AND day = $3 AND half = $4",
                            &[
                                &tenant.to_string(),
                                &crew,
                                &slot.date.to_string(),
                                &slot.half.as_str(),
                            ],
                        )?
                        .get(0);
                    Ok(u32::try_from(count).unwrap_or(u32::MAX))
                })
                .collect()
        })
    }
}
