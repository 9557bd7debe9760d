//! How long residents' contact details are kept: a job's contact document
//! is erased a set number of days after the job closes (completed,
//! cancelled), with the recipients and texts of its outbox rows. The job
//! itself, which holds nothing that identifies the resident, stays.

use std::collections::BTreeSet;

use doorstep_shared::time::Timestamp;

use crate::state::{AppState, Changed, WorkError};

/// Days contact details are kept after a job closes, unless configured.
pub const DEFAULT_CONTACT_DAYS: u32 = 90;

/// Erases the contact details of every job closed `days` or more days
/// before `now`; returns how many were erased.
pub async fn erase_expired_contacts(
    state: &AppState,
    days: u32,
    now: Timestamp,
) -> Result<usize, WorkError> {
    let cutoff = now.plus_minutes(-i64::from(days) * 24 * 60);
    let expired = state
        .with_store(move |store| store.contacts_closed_before(cutoff))
        .await?;
    let mut tenants = BTreeSet::new();
    let mut erased = 0;
    for (tenant, job) in expired {
        if state
            .with_store(move |store| store.erase_contact(tenant, job, now))
            .await?
        {
            erased += 1;
            tenants.insert(tenant);
        }
    }
    // Phones holding a contact are told at their next sync to drop it.
    for tenant in tenants {
        state.notify(Changed { tenant, by: None });
    }
    Ok(erased)
}
