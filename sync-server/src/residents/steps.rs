//! What a resident may do behind their tracking link besides booking,
//! JavaScript-off, each with a confirmation page:
//!
//! - `GET /track/{token}/steps/{step}`: a step the service gives the
//!   resident role now (cancel, ask to rebook, decline), asking for the
//!   reason where the service wants one; `POST` (`from`, `note`) takes it
//!   through the same checks and verdict as a phone's request, then
//!   `GET /track/{token}/steps/{step}/done` says what happened;
//! - `GET /track/{token}/contact`, `POST` (`name`, `updates`, `phone`,
//!   `email`, `no_texts`): the resident corrects their own details or
//!   stops texts (or all updates); then `GET /track/{token}/contact/saved`.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use doorstep_shared::contact::{Channel, Contact};
use doorstep_shared::ids::JobId;
use doorstep_shared::service::Transition;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::workflow::InvalidTransition;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::ApiError;
use crate::office::edits::{Done, Step, edit_contact, take_job_step};
use crate::pages::layout::{Page, error_message, error_summary};
use crate::pages::render;
use crate::residents::link::{ResidentLink, not_found};
use crate::residents::progress::resident_steps;
use crate::residents::report::{ContactForm, FieldError, check_contact, contact_fields};
use crate::routes::{self, Caller, Route};
use crate::state::{AppState, RESIDENT_USER, resident_actor};

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/track/{token}/steps/{step}", Caller::Resident, step_form),
        routes::post("/track/{token}/steps/{step}", Caller::Resident, take),
        routes::get("/track/{token}/steps/{step}/done", Caller::Resident, done),
        routes::get("/track/{token}/contact", Caller::Resident, contact_form),
        routes::post("/track/{token}/contact", Caller::Resident, save_contact),
        routes::get(
            "/track/{token}/contact/saved",
            Caller::Resident,
            contact_saved,
        ),
    ]
}

const SERVICE: &str = "Track your request";

/// A page of the resident's own.
fn page(
    state: &AppState,
    link: &ResidentLink,
    status: StatusCode,
    title: &str,
    main: Markup,
) -> Response {
    let page = Page {
        council: &link.council,
        service: SERVICE,
        title,
        has_errors: status == StatusCode::BAD_REQUEST,
        staff: false,
        main,
    };
    render(state, status, &page)
}

/// The transition `step` names, if the service gives the resident it.
fn transition<'a>(link: &'a ResidentLink, step: &str) -> Option<&'a Transition> {
    link.service
        .transition(&step.parse().ok()?)
        .filter(|transition| {
            transition
                .roles
                .contains(&doorstep_shared::transition::Role::Resident)
        })
}

fn step_main(
    link: &ResidentLink,
    transition: &Transition,
    note: &str,
    error: Option<&str>,
) -> Markup {
    let base = format!("/track/{}", link.token);
    let to = link.service.state_label(&transition.to);
    let (label, hint) = if transition.evidence.note {
        (
            "Tell us why",
            "We need to know, so we can put things right.",
        )
    } else {
        (
            "Anything you want to tell us (optional)",
            "For example, a better time to call you.",
        )
    };
    let errors: Vec<(&str, String)> = error
        .map(|e| vec![("note", e.to_owned())])
        .unwrap_or_default();
    let described = if error.is_some() {
        "note-hint note-error"
    } else {
        "note-hint"
    };
    html! {
        (error_summary(&errors))
        span.govuk-caption-l { (link.job.office.reference) }
        h1.govuk-heading-l { (transition.label) "?" }
        p.govuk-body { "Your request will show as “" (to) "”." }
        form method="post" action={ (base) "/steps/" (transition.id) } novalidate {
            input type="hidden" name="from" value=(link.job.status(&link.service));
            div.govuk-form-group.govuk-form-group--error[error.is_some()] {
                label.govuk-label.govuk-label--s for="note" { (label) }
                div.govuk-hint #note-hint { (hint) }
                @if let Some(message) = error {
                    (error_message("note", message))
                }
                textarea.govuk-textarea.govuk-textarea--error[error.is_some()] #note name="note" rows="4" aria-describedby=(described) { (note) }
            }
            div.govuk-button-group {
                button.govuk-button.govuk-button--warning[transition.to.as_str() == "cancelled"] type="submit" { "Yes: " (transition.label.to_lowercase()) }
                a.govuk-link href=(base) { "No, go back to my request" }
            }
        }
    }
}

async fn step_form(
    State(state): State<AppState>,
    link: ResidentLink,
    Path((_, step)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let steps = resident_steps(&link.job, &link.service);
    let Some(transition) = transition(&link, &step).filter(|t| steps.iter().any(|s| s.id == t.id))
    else {
        return Ok(cannot(&state, &link));
    };
    let main = step_main(&link, transition, "", None);
    Ok(page(&state, &link, StatusCode::OK, &transition.label, main))
}

/// The step is not one the resident can take now.
fn cannot(state: &AppState, link: &ResidentLink) -> Response {
    let main = html! {
        h1.govuk-heading-l { "This cannot be done now" }
        p.govuk-body {
            "Your request " (link.job.office.reference) " has moved on, so this is no longer possible here. If you need to talk to us, call the council."
        }
        p.govuk-body { a.govuk-link href={ "/track/" (link.token) } { "Back to your request" } }
    };
    page(
        state,
        link,
        StatusCode::CONFLICT,
        "This cannot be done now",
        main,
    )
}

#[derive(Debug, Default, Deserialize)]
struct StepForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    note: String,
}

async fn take(
    State(state): State<AppState>,
    link: ResidentLink,
    Path((_, step)): Path<(String, String)>,
    Form(form): Form<StepForm>,
) -> Result<Response, ApiError> {
    let Some(transition) = transition(&link, &step) else {
        return Ok(cannot(&state, &link));
    };
    let Ok(from) = form.from.parse() else {
        return Ok(cannot(&state, &link));
    };
    let taken = Step {
        id: transition.id.clone(),
        from,
        note: Some(form.note.trim().to_owned()).filter(|note| !note.is_empty()),
    };
    match take_job_step(&state, link.id, resident_actor(), taken).await? {
        Ok(()) => Ok(Redirect::to(&format!(
            "/track/{}/steps/{}/done",
            link.token, transition.id
        ))
        .into_response()),
        Err(InvalidTransition::NoteRequired) => {
            let main = step_main(&link, transition, &form.note, Some("Tell us why"));
            Ok(page(
                &state,
                &link,
                StatusCode::BAD_REQUEST,
                &transition.label,
                main,
            ))
        }
        Err(_) => Ok(cannot(&state, &link)),
    }
}

async fn done(
    State(state): State<AppState>,
    link: ResidentLink,
    Path((_, step)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let Some(transition) = transition(&link, &step) else {
        return Ok(not_found(&state));
    };
    let status = link.job.status(&link.service);
    let main = html! {
        div.govuk-panel.govuk-panel--confirmation {
            h1.govuk-panel__title { (link.service.state_label(status)) }
            div.govuk-panel__body { "Your request " br; strong { (link.job.office.reference) } }
        }
        @if status == &transition.to {
            p.govuk-body { "We have recorded it: “" (transition.label) "”." }
            @if crate::residents::progress::can_book(&link.job, &link.service) {
                p.govuk-body {
                    a.govuk-link href={ "/track/" (link.token) "/book" } { "Choose a new appointment" }
                }
            }
        } @else {
            p.govuk-body { "Your request has moved on since. Its page says where it stands." }
        }
        p.govuk-body { a.govuk-link href={ "/track/" (link.token) } { "Back to your request" } }
    };
    Ok(page(&state, &link, StatusCode::OK, &transition.label, main))
}

/// The job's contact details, if it still has them.
async fn contact(state: &AppState, job: JobId) -> Result<Option<Contact>, ApiError> {
    Ok(state
        .with_sync(move |sync, _| sync.load(DocumentId::Contact(job)))
        .await?
        .and_then(|(_, document)| Contact::load(&document).ok()))
}

fn contact_main(link: &ResidentLink, form: &ContactForm, errors: &[FieldError]) -> Markup {
    let base = format!("/track/{}", link.token);
    html! {
        (error_summary(errors))
        span.govuk-caption-l { (link.job.office.reference) }
        h1.govuk-heading-l { "Your contact details" }
        form method="post" action={ (base) "/contact" } novalidate {
            (contact_fields(&form.answers(), errors))
            div.govuk-form-group {
                div.govuk-checkboxes {
                    div.govuk-checkboxes__item {
                        input.govuk-checkboxes__input #no_texts name="no_texts" type="checkbox" value="yes"
                            checked[form.no_texts.is_some()];
                        label.govuk-label.govuk-checkboxes__label for="no_texts" { "Do not send me text messages" }
                    }
                }
            }
            button.govuk-button type="submit" { "Save my details" }
        }
        p.govuk-body { a.govuk-link href=(base) { "Back to your request" } }
    }
}

async fn contact_form(
    State(state): State<AppState>,
    link: ResidentLink,
) -> Result<Response, ApiError> {
    let Some(contact) = contact(&state, link.id).await? else {
        return Ok(not_found(&state));
    };
    let main = contact_main(&link, &ContactForm::from_contact(&contact), &[]);
    Ok(page(
        &state,
        &link,
        StatusCode::OK,
        "Your contact details",
        main,
    ))
}

async fn save_contact(
    State(state): State<AppState>,
    link: ResidentLink,
    Form(form): Form<ContactForm>,
) -> Result<Response, ApiError> {
    if contact(&state, link.id).await?.is_none() {
        return Ok(not_found(&state));
    }
    let mut errors = Vec::new();
    let checked = check_contact(&form.answers(), &mut errors);
    let Some(new) = checked.filter(|_| errors.is_empty()) else {
        let main = contact_main(&link, &form, &errors);
        return Ok(page(
            &state,
            &link,
            StatusCode::BAD_REQUEST,
            "Your contact details",
            main,
        ));
    };
    let no_texts = form.no_texts.is_some();
    let done = Done {
        by: Some(RESIDENT_USER),
        what: "Changed their contact details".to_owned(),
    };
    edit_contact(&state, link.id, done, move |contact| {
        contact.name = new.name;
        contact.phone = new.phone;
        contact.email = new.email;
        contact.preferred_channel = new.preferred;
        contact.sms_opt_out = no_texts;
    })
    .await?;
    Ok(Redirect::to(&format!("/track/{}/contact/saved", link.token)).into_response())
}

async fn contact_saved(
    State(state): State<AppState>,
    link: ResidentLink,
) -> Result<Response, ApiError> {
    let Some(contact) = contact(&state, link.id).await? else {
        return Ok(not_found(&state));
    };
    let how = match contact.reachable_by() {
        Some(Channel::Sms) => "We will send you updates by text message.",
        Some(Channel::Email) => "We will send you updates by email.",
        _ => "We will not send you updates: check this page instead.",
    };
    let main = html! {
        div.govuk-panel.govuk-panel--confirmation {
            h1.govuk-panel__title { "Details saved" }
            div.govuk-panel__body { (link.job.office.reference) }
        }
        p.govuk-body { (how) }
        p.govuk-body { a.govuk-link href={ "/track/" (link.token) } { "Back to your request" } }
    };
    Ok(page(&state, &link, StatusCode::OK, "Details saved", main))
}
