//! Booking appointments: the server alone writes a job's appointment, from
//! here. A half-day is taken against the capacity of the job's crew (its
//! team, or the operative it is assigned to) and then written to the job
//! as the office, which also puts the resident's reminder in the outbox. A
//! job waiting for a slot then makes its service's booking transition
//! (`booking = "book"`: reported → booked), as the system.
//! The back office ([8/8]) and the resident's pages ([7/8]) call this;
//! a phone asks for a new slot through an action ("no access — card
//! left" leads to rebooking).

use doorstep_shared::booking::HalfDay;
use doorstep_shared::ids::TransitionId;
use doorstep_shared::ids::{JobId, TenantId};
use doorstep_shared::job::{Assignee, Job, OfficeEditor};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::{Actor, Evidence};
use serde::Serialize;

use crate::state::AppState;

/// Days ahead that can be booked.
pub(crate) const BOOKING_DAYS: i64 = 21;

/// One half-day on offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Slot {
    /// `2026-11-30-am`.
    pub slot: String,
    /// When it starts and ends.
    pub starts: Timestamp,
    /// …
    pub ends: Timestamp,
    /// Places left.
    pub free: u32,
}

/// Who works a job, for counting against capacity.
fn crew(job: &Job) -> String {
    match job.office.assignee {
        Some(Assignee::Team(team)) => format!("team:{team}"),
        Some(Assignee::User(user)) => format!("user:{user}"),
        None => "unassigned".into(),
    }
}

/// Why a half-day could not be offered or booked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BookingError {
    /// No such job.
    #[error("there is no job {0}")]
    NoSuchJob(JobId),
    /// Not a half-day that can be booked (malformed, past, a weekend, too
    /// far ahead).
    #[error("{0}")]
    Refused(String),
    /// The crew has no place left then.
    #[error("{0} is fully booked; choose another half-day")]
    Full(HalfDay),
    /// The store failed.
    #[error(transparent)]
    Work(#[from] crate::state::WorkError),
    /// The job's document could not be written.
    #[error(transparent)]
    Edit(#[from] crate::office::edits::EditError),
    /// No randomness for the booking's id.
    #[error(transparent)]
    Randomness(#[from] crate::secrets::NoRandomness),
}

async fn load(state: &AppState, job: JobId) -> Result<(TenantId, Job), BookingError> {
    let found = state
        .with_sync(move |sync, _| sync.load(DocumentId::Job(job)))
        .await?
        .and_then(|(tenant, document)| Job::load(&document).ok().map(|job| (tenant, job)));
    found.ok_or(BookingError::NoSuchJob(job))
}

/// The half-days a job could be booked into from `now`, with places left.
pub(crate) async fn slots(
    state: &AppState,
    job: JobId,
    now: Timestamp,
) -> Result<Vec<Slot>, BookingError> {
    let (tenant, loaded) = load(state, job).await?;
    let crew = crew(&loaded);
    let upcoming = HalfDay::upcoming(now, BOOKING_DAYS);
    let days = upcoming.clone();
    let booked = state
        .with_store(move |store| store.booked(tenant, &crew, &days))
        .await?;
    let capacity = state.booking_capacity();
    Ok(upcoming
        .into_iter()
        .zip(booked)
        .map(|(slot, taken)| {
            let appointment = slot.appointment();
            Slot {
                slot: slot.to_string(),
                starts: appointment.starts,
                ends: appointment.ends,
                free: capacity.saturating_sub(taken),
            }
        })
        .filter(|slot| slot.free > 0)
        .collect())
}

/// The half-days on offer to `job` from `now`, for a page's choice.
pub(crate) async fn half_days(
    state: &AppState,
    job: JobId,
    now: Timestamp,
) -> Result<Vec<HalfDay>, BookingError> {
    Ok(slots(state, job, now)
        .await?
        .into_iter()
        .filter_map(|slot| slot.slot.parse().ok())
        .collect())
}

/// Books `slot` for `job`: refused if it cannot be booked or is full. A
/// job waiting for a slot makes its booking transition as `by` (a
/// dispatcher booking for a resident who phoned), or as the server.
pub(crate) async fn book(
    state: &AppState,
    job: JobId,
    slot: &str,
    by: Option<Actor>,
    now: Timestamp,
) -> Result<HalfDay, BookingError> {
    let slot: HalfDay = slot
        .parse()
        .map_err(|error: doorstep_shared::booking::SlotError| {
            BookingError::Refused(error.to_string())
        })?;
    let slot = slot
        .check(now)
        .map_err(|error| BookingError::Refused(error.to_string()))?;
    if slot.date.days_since_epoch() - now.date().days_since_epoch() > BOOKING_DAYS {
        return Err(BookingError::Refused(format!(
            "{slot} is more than {BOOKING_DAYS} days ahead"
        )));
    }
    let (tenant, loaded) = load(state, job).await?;
    let crew = crew(&loaded);
    let capacity = state.booking_capacity();
    let taken = state
        .with_store(move |store| store.take_slot(tenant, &crew, job, slot, capacity, now))
        .await?;
    if !taken {
        return Err(BookingError::Full(slot));
    }
    let appointment = slot.appointment();
    let request = TransitionId::from_random_bytes(crate::secrets::random::<16>()?);
    let written = crate::office::edits::edit_job_document(state, job, move |document, server| {
        let loaded = Job::load(document)?;
        let service = loaded.office.service.clone();
        let mut office = OfficeEditor::new(document)?;
        office.set_appointment(Some(appointment))?;
        // A job waiting for a slot is now booked (and its resident told so).
        let Some(service) = server.services.get(&service) else {
            return Ok(());
        };
        let Some(booking) = service
            .booking
            .as_ref()
            .and_then(|id| service.transition(id))
        else {
            return Ok(());
        };
        let evidence = Evidence::default();
        match by {
            Some(actor) => {
                let status = loaded.status(service).clone();
                if booking.from.contains(&status) {
                    let to = booking.to.clone();
                    let step = (status, to);
                    if let Err(why) =
                        office.request_as(service, &actor, request, step, evidence, now)?
                    {
                        // The slot is kept: the office sees the job and why
                        // its booking step waits.
                        tracing::info!(%why, %job, "a booking's step was not taken");
                    }
                }
            }
            None => {
                let system = &server.system;
                office.make_as_system(service, &booking.id, system, request, evidence, now)?;
            }
        }
        Ok(())
    })
    .await;
    if let Err(error) = written {
        // The place is given back: the job was not booked after all.
        state
            .with_store(move |store| store.release_slot(job))
            .await?;
        return Err(error.into());
    }
    Ok(slot)
}
