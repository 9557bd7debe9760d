//! Booked half-days, counted against a crew's capacity. A booking is taken
//! by one check-and-write in a transaction holding the crew's half-day
//! ([`Tx::lock`]: SQLite's single writer, or an advisory lock on
//! PostgreSQL), so two offices or residents taking the last place — on one
//! node or several — never both get it.

use doorstep_shared::booking::HalfDay;
use doorstep_shared::ids::{JobId, TenantId};
use doorstep_shared::time::Timestamp;

use super::db::Tx;
use super::{Store, StoreError};
use crate::{args, sql};

/// Jobs other than `except` booked for `crew` in `slot`.
fn count(
    tx: &mut Tx<'_, '_>,
    tenant: TenantId,
    crew: &str,
    slot: HalfDay,
    except: Option<JobId>,
) -> Result<u32, StoreError> {
    tx.one(
        sql!(
            "SELECT count(*) FROM bookings
             WHERE tenant = ?1 AND crew = ?2 AND day = ?3 AND half = ?4 AND job <> ?5"
        ),
        args![
            tenant,
            crew,
            slot.date.to_string(),
            slot.half.as_str(),
            // No job's id is empty.
            except.map_or_else(String::new, |job| job.to_string()),
        ],
    )
}

impl Store {
    /// Books `slot` for `job` if `crew` has fewer than `capacity` other
    /// jobs then (moving the job's booking if it had one); false if full.
    pub fn take_slot(
        &self,
        tenant: TenantId,
        crew: &str,
        job: JobId,
        slot: HalfDay,
        capacity: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            tx.lock(&format!("{tenant}/{crew}/{slot}"))?;
            if count(tx, tenant, crew, slot, Some(job))? >= capacity {
                return Ok(false);
            }
            tx.execute(
                sql!(
                    "INSERT INTO bookings (job, tenant, crew, day, half, booked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (job) DO UPDATE SET tenant = excluded.tenant, crew = excluded.crew,
                         day = excluded.day, half = excluded.half, booked_at = excluded.booked_at"
                ),
                args![
                    job,
                    tenant,
                    crew,
                    slot.date.to_string(),
                    slot.half.as_str(),
                    now
                ],
            )?;
            Ok(true)
        })
    }

    /// Forgets a job's booking.
    pub fn release_slot(&self, job: JobId) -> Result<(), StoreError> {
        self.execute(sql!("DELETE FROM bookings WHERE job = ?1"), args![job])
            .map(drop)
    }

    /// How many jobs `crew` has booked in each of `slots`.
    pub fn booked(
        &self,
        tenant: TenantId,
        crew: &str,
        slots: &[HalfDay],
    ) -> Result<Vec<u32>, StoreError> {
        self.read(|tx| {
            slots
                .iter()
                .map(|slot| count(tx, tenant, crew, *slot, None))
                .collect()
        })
    }
}
