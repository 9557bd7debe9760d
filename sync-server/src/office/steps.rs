//! A dispatcher's steps in the back office: every transition and action
//! the service gives the dispatcher role, taken from a job's or a round's
//! page through the same checks and verdicts as a phone's request, with
//! the note it asks for; the history names the member of staff.
//!
//! - `GET /office/jobs/{job}/steps/{step}` asks for the step's note (or
//!   just its confirmation), `POST` takes it (`from`: the state the page
//!   showed, `note`);
//! - `GET /office/jobs/{job}/appointment`, `POST` with `slot`: books or
//!   moves the appointment for a resident who phoned, against the same
//!   capacity as the resident's own booking; a job waiting for a slot
//!   makes its booking transition as the dispatcher;
//! - `GET|POST /office/rounds/{round}/steps/{step}`: starting and
//!   finishing a round.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use doorstep_shared::ids::{Name, StateId};
use doorstep_shared::job::Job;
use doorstep_shared::service::{EvidenceRule, ServiceDefinition};
use doorstep_shared::transition::{Actor, Role};
use doorstep_shared::workflow::{self, Facts, InvalidTransition};
use maud::{Markup, html};
use serde::Deserialize;

use super::session::{CsrfForm, StaffSession};
use super::{council_job, csrf_field, staff_page};
use crate::error::ApiError;
use crate::office::edits::{Step, take_job_step, take_round_step};
use crate::pages::layout::{error_message, error_summary};
use crate::residents::booking::{self as bookings, BookingError};
use crate::residents::progress::{SlotChoice, slot_choice, slot_words};
use crate::routes::{self, Caller, Route};
use crate::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get(
            "/office/jobs/{job}/steps/{step}",
            Caller::Staff,
            job_step_form,
        ),
        routes::post("/office/jobs/{job}/steps/{step}", Caller::Staff, take_job),
        routes::get(
            "/office/jobs/{job}/appointment",
            Caller::Staff,
            appointment_form,
        ),
        routes::post("/office/jobs/{job}/appointment", Caller::Staff, book),
        routes::get(
            "/office/rounds/{round}/steps/{step}",
            Caller::Staff,
            round_step_form,
        ),
        routes::post(
            "/office/rounds/{round}/steps/{step}",
            Caller::Staff,
            take_round,
        ),
    ]
}

/// Who a member of staff acts as in a document: the back office's people
/// are dispatchers (an administrator is a dispatcher who also manages
/// people), named from the session, never from a form.
fn dispatcher(session: &StaffSession) -> Actor {
    Actor {
        user: session.user,
        role: Role::Dispatcher,
        device: None,
    }
}

/// One step the dispatcher may take now: its id, its words, and why it is
/// not possible yet (a photo only a phone can take).
struct Offered<'a> {
    id: &'a Name,
    label: &'a str,
    blocked: Option<InvalidTransition>,
}

/// The steps the service gives a dispatcher in the document's state.
fn offered<'a>(service: &'a ServiceDefinition, facts: &Facts) -> Vec<Offered<'a>> {
    let transitions = workflow::offers(service, facts, Role::Dispatcher)
        .into_iter()
        .map(|offer| Offered {
            id: &offer.transition.id,
            label: &offer.transition.label,
            blocked: offer.blocked,
        });
    let actions = workflow::available_actions(service, facts, Role::Dispatcher)
        .into_iter()
        .map(|action| Offered {
            id: &action.id,
            label: &action.label,
            blocked: None,
        });
    transitions.chain(actions).collect()
}

/// The "Next steps" section of a job's or round's page: a link per step
/// the dispatcher may take now (booking goes to the appointment page), and
/// why any other is not possible yet.
pub(super) fn next_steps(
    base: &str,
    service: &ServiceDefinition,
    facts: &Facts,
    appointment: bool,
) -> Markup {
    let steps = offered(service, facts);
    let booking = service.booking.as_ref();
    let can_move = appointment
        && booking
            .and_then(|id| service.transition(id))
            .is_some_and(|booking| booking.to == facts.status);
    html! {
        h2.govuk-heading-m { "Next steps" }
        @if steps.is_empty() && !can_move {
            p.govuk-body { "There is nothing for the office to do now." }
        } @else {
            ul.govuk-list {
                @for step in &steps {
                    li {
                        @match &step.blocked {
                            None if Some(step.id) == booking => {
                                a.govuk-link href={ (base) "/appointment" } { (step.label) }
                            }
                            None => {
                                a.govuk-link href={ (base) "/steps/" (step.id) } { (step.label) }
                            }
                            Some(why) => {
                                (step.label) span.govuk-hint { " — not yet: " (why.to_string()) }
                            }
                        }
                    }
                }
                @if can_move {
                    li { a.govuk-link href={ (base) "/appointment" } { "Change the appointment" } }
                }
            }
        }
    }
}

/// What a step's form shows.
struct StepPage<'a> {
    /// The job's or round's page.
    base: &'a str,
    /// The step's id.
    step: &'a str,
    reference: &'a str,
    label: &'a str,
    evidence: &'a EvidenceRule,
    from: &'a StateId,
    /// What it moves the document to, in words (none for an action).
    to: Option<&'a str>,
    note: &'a str,
    error: Option<String>,
}

fn step_main(session: &StaffSession, page: &StepPage<'_>) -> Markup {
    let note_label = if page.evidence.note {
        "Note (required)"
    } else {
        "Note (optional)"
    };
    html! {
        @if let Some(message) = &page.error {
            (error_summary(&[("note", message.clone())]))
        }
        span.govuk-caption-l { (page.reference) }
        h1.govuk-heading-l { (page.label) }
        @if let Some(to) = page.to {
            p.govuk-body { "This moves it to “" (to) "”. The history will name you." }
        } @else {
            p.govuk-body { "The history will name you." }
        }
        form method="post" action={ (page.base) "/steps/" (page.step) } novalidate {
            (csrf_field(session))
            input type="hidden" name="from" value=(page.from);
            div.govuk-form-group.govuk-form-group--error[page.error.is_some()] {
                label.govuk-label for="note" { (note_label) }
                div.govuk-hint #note-hint { "Say what happened, for the history and the crew." }
                @if let Some(message) = &page.error {
                    (error_message("note", message))
                }
                textarea.govuk-textarea #note name="note" rows="4" aria-describedby="note-hint" { (page.note) }
            }
            button.govuk-button type="submit" { (page.label) }
        }
        p.govuk-body { a.govuk-link href=(page.base) { "Back without doing this" } }
    }
}

/// The form's answers.
#[derive(Debug, Default, Deserialize)]
struct StepForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    note: String,
}

/// A job, its service and its state, for its council's staff.
async fn council_job_with_service(
    state: &AppState,
    session: &StaffSession,
    job: &str,
) -> Result<(doorstep_shared::ids::JobId, Job, ServiceDefinition), ApiError> {
    let (id, document) = council_job(state, session, job).await?;
    let not_found = || ApiError::NotFound("there is no such job in your council".into());
    let job = Job::load(&document).map_err(|_| not_found())?;
    let service = state
        .services()
        .get(&job.office.service)
        .cloned()
        .ok_or_else(not_found)?;
    Ok((id, job, service))
}

/// The step `step` names in the service, with its words and evidence, and
/// the state it leads to (none for an action).
fn step_of<'a>(
    service: &'a ServiceDefinition,
    step: &str,
) -> Result<(&'a str, &'a EvidenceRule, Option<&'a StateId>), ApiError> {
    let missing = || ApiError::NotFound("this service has no such step".into());
    let id: Name = step.parse().map_err(|_| missing())?;
    if let Some(transition) = service.transition(&id) {
        return Ok((
            &transition.label,
            &transition.evidence,
            Some(&transition.to),
        ));
    }
    let action = service.action(&id).ok_or_else(missing)?;
    Ok((&action.label, &action.evidence, action.leads_to.as_ref()))
}

async fn job_step_form(
    State(state): State<AppState>,
    session: StaffSession,
    Path((job, step)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (id, job, service) = council_job_with_service(&state, &session, &job).await?;
    let (label, evidence, to) = step_of(&service, &step)?;
    let base = format!("/office/jobs/{id}");
    let page = StepPage {
        base: &base,
        step: &step,
        reference: &job.office.reference,
        label,
        evidence,
        from: job.status(&service),
        to: to.map(|to| service.state_label(to)),
        note: "",
        error: None,
    };
    let main = step_main(&session, &page);
    staff_page(&state, &session, StatusCode::OK, label, main).await
}

/// The step's outcome as a response: back to the page, or the form again
/// with the reason (409 if the document moved on meanwhile).
async fn answer(
    state: &AppState,
    session: &StaffSession,
    page: StepPage<'_>,
    outcome: Result<(), InvalidTransition>,
) -> Result<Response, ApiError> {
    let why = match outcome {
        Ok(()) => return Ok(Redirect::to(page.base).into_response()),
        Err(why) => why,
    };
    let status = match why {
        InvalidTransition::Stale { .. } => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    let message = capitalised(&why.to_string());
    let page = StepPage {
        error: Some(message),
        ..page
    };
    let main = step_main(session, &page);
    staff_page(state, session, status, page.label, main).await
}

/// A reason as a sentence.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The step a form takes, from its answers.
fn step(step: &str, form: &StepForm) -> Result<Step, ApiError> {
    let refused = || ApiError::BadRequest("the form does not say which step it takes".into());
    Ok(Step {
        id: step.parse().map_err(|_| refused())?,
        from: form.from.parse().map_err(|_| refused())?,
        note: Some(form.note.trim().to_owned()).filter(|note| !note.is_empty()),
    })
}

async fn take_job(
    State(state): State<AppState>,
    Path((job, step_id)): Path<(String, String)>,
    CsrfForm { session, form }: CsrfForm<StepForm>,
) -> Result<Response, ApiError> {
    let (id, job, service) = council_job_with_service(&state, &session, &job).await?;
    let (label, evidence, to) = step_of(&service, &step_id)?;
    let taken = step(&step_id, &form)?;
    let outcome = take_job_step(&state, id, dispatcher(&session), taken.clone()).await?;
    let base = format!("/office/jobs/{id}");
    let page = StepPage {
        base: &base,
        step: &step_id,
        reference: &job.office.reference,
        label,
        evidence,
        from: &taken.from,
        to: to.map(|to| service.state_label(to)),
        note: &form.note,
        error: None,
    };
    answer(&state, &session, page, outcome).await
}

async fn round_step_form(
    State(state): State<AppState>,
    session: StaffSession,
    Path((round, step)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (id, round) = super::rounds::council_round(&state, &session, &round).await?;
    let service = round_service(&state, &round)?;
    let (label, evidence, to) = step_of(&service, &step)?;
    let base = format!("/office/rounds/{id}");
    let page = StepPage {
        base: &base,
        step: &step,
        reference: &round.office.reference,
        label,
        evidence,
        from: round.status(&service),
        to: to.map(|to| service.state_label(to)),
        note: "",
        error: None,
    };
    let main = step_main(&session, &page);
    staff_page(&state, &session, StatusCode::OK, label, main).await
}

fn round_service(
    state: &AppState,
    round: &doorstep_shared::round::Round,
) -> Result<ServiceDefinition, ApiError> {
    state
        .services()
        .get(&round.office.service)
        .cloned()
        .ok_or_else(|| ApiError::NotFound("this round's service is not run here".into()))
}

async fn take_round(
    State(state): State<AppState>,
    Path((round, step_id)): Path<(String, String)>,
    CsrfForm { session, form }: CsrfForm<StepForm>,
) -> Result<Response, ApiError> {
    let (id, round) = super::rounds::council_round(&state, &session, &round).await?;
    let service = round_service(&state, &round)?;
    let (label, evidence, to) = step_of(&service, &step_id)?;
    let taken = step(&step_id, &form)?;
    let outcome = take_round_step(&state, id, dispatcher(&session), taken.clone()).await?;
    let base = format!("/office/rounds/{id}");
    let page = StepPage {
        base: &base,
        step: &step_id,
        reference: &round.office.reference,
        label,
        evidence,
        from: &taken.from,
        to: to.map(|to| service.state_label(to)),
        note: &form.note,
        error: None,
    };
    answer(&state, &session, page, outcome).await
}

/// The appointment page's answers.
#[derive(Debug, Default, Deserialize)]
struct SlotForm {
    #[serde(default)]
    slot: String,
}

async fn appointment_page(
    state: &AppState,
    session: &StaffSession,
    (id, job): (doorstep_shared::ids::JobId, &Job),
    chosen: Option<&str>,
    error: Option<(StatusCode, String)>,
) -> Result<Response, ApiError> {
    let slots = bookings::half_days(state, id, state.clock().now()).await?;
    let base = format!("/office/jobs/{id}");
    let heading = if job.office.appointment.is_some() {
        "Change the appointment"
    } else {
        "Book an appointment"
    };
    let main = slot_choice(&SlotChoice {
        reference: &job.office.reference,
        heading,
        now: job
            .office
            .appointment
            .map(|slot| format!("The appointment now: {}", slot_words(slot))),
        action: &format!("{base}/appointment"),
        hidden: csrf_field(session),
        hint: "For a resident who phoned: the crew's places left on each half-day.",
        button: "Book this appointment",
        back: (&base, "Back to the job"),
        slots: &slots,
        chosen,
        error: error.as_ref().map(|(_, message)| message.as_str()),
    });
    let status = error.map_or(StatusCode::OK, |(status, _)| status);
    staff_page(state, session, status, heading, main).await
}

async fn appointment_form(
    State(state): State<AppState>,
    session: StaffSession,
    Path(job): Path<String>,
) -> Result<Response, ApiError> {
    let (id, job, _) = council_job_with_service(&state, &session, &job).await?;
    appointment_page(&state, &session, (id, &job), None, None).await
}

async fn book(
    State(state): State<AppState>,
    Path(job): Path<String>,
    CsrfForm { session, form }: CsrfForm<SlotForm>,
) -> Result<Response, ApiError> {
    let (id, job, _) = council_job_with_service(&state, &session, &job).await?;
    if form.slot.is_empty() {
        let error = (
            StatusCode::BAD_REQUEST,
            "Select a half-day for the appointment".to_owned(),
        );
        return appointment_page(&state, &session, (id, &job), None, Some(error)).await;
    }
    let now = state.clock().now();
    let by = Some(dispatcher(&session));
    let error = match bookings::book(&state, id, &form.slot, by, now).await {
        Ok(_) => return Ok(Redirect::to(&format!("/office/jobs/{id}")).into_response()),
        Err(BookingError::Full(slot)) => (
            StatusCode::CONFLICT,
            format!("{slot} has just been filled: choose another half-day"),
        ),
        Err(BookingError::Refused(why)) => (StatusCode::BAD_REQUEST, capitalised(&why)),
        Err(error) => return Err(error.into()),
    };
    let chosen = Some(form.slot.as_str());
    appointment_page(&state, &session, (id, &job), chosen, Some(error)).await
}
