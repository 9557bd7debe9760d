//! Correcting a resident's contact details from a job's page: the form on
//! `GET /office/jobs/{job}` and `POST /office/jobs/{job}/contact` (`name`,
//! `phone`, `email`, `updates`: `sms`, `email` or `none`, `no_texts`).
//!
//! Devices may never write a contact document (the write policy refuses
//! it), so this form is how a wrong number or address is put right. The
//! correction is written by the server, and the job's history names the
//! member of staff who made it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use doorstep_shared::contact::Contact;
use doorstep_shared::ids::JobId;
use doorstep_shared::sync::wire::DocumentId;

use super::session::{CsrfForm, StaffSession};
use super::{council_job, csrf_field, staff_page, text_field};
use crate::error::ApiError;
use crate::pages::layout::error_summary;
use crate::residents::report::{ContactForm, check_contact};
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use maud::{Markup, html};

pub(super) fn routes() -> Vec<Route> {
    vec![routes::post(
        "/office/jobs/{job}/contact",
        Caller::Staff,
        correct,
    )]
}

/// A job's contact details, if it has any and they are the council's.
pub(super) async fn load(
    state: &AppState,
    session: &StaffSession,
    job: JobId,
) -> Result<Option<Contact>, ApiError> {
    let tenant = session.tenant;
    let loaded = state
        .with_sync(move |sync, _| sync.load(DocumentId::Contact(job)))
        .await?;
    Ok(match loaded {
        Some((owner, document)) if owner == tenant => Contact::load(&document).ok(),
        _ => None,
    })
}

/// The section of a job's page with the resident's details in a form.
pub(super) fn section(session: &StaffSession, job: JobId, contact: Option<&Contact>) -> Markup {
    match contact {
        Some(contact) => form(session, job, &ContactForm::from_contact(contact), &[]),
        None => html! {
            h2.govuk-heading-m { "The resident" }
            p.govuk-body { "This job has no contact details: the resident is not sent updates." }
        },
    }
}

fn form(
    session: &StaffSession,
    job: JobId,
    answers: &ContactForm,
    errors: &[(&str, String)],
) -> Markup {
    let error = |id: &str| {
        errors
            .iter()
            .find(|(field, _)| *field == id)
            .map(|(_, message)| message.as_str())
    };
    html! {
        h2.govuk-heading-m #contact { "The resident" }
        (error_summary(errors))
        form method="post" action={ "/office/jobs/" (job) "/contact" } novalidate {
            (csrf_field(session))
            (text_field("name", "Name", &answers.name, "text", error("name")))
            (text_field("phone", "Phone", &answers.phone, "tel", error("phone")))
            (text_field("email", "Email", &answers.email, "email", error("email")))
            fieldset.govuk-fieldset {
                legend.govuk-fieldset__legend.govuk-fieldset__legend--s { "Updates by" }
                div.govuk-radios.govuk-radios--small {
                @for (value, label) in [
                    ("sms", "Text message"),
                    ("email", "Email"),
                    ("none", "No updates"),
                ] {
                    div.govuk-radios__item {
                        input.govuk-radios__input id={ "updates-" (value) } name="updates" type="radio"
                            value=(value) checked[answers.updates == value];
                        label.govuk-label.govuk-radios__label for={ "updates-" (value) } { (label) }
                    }
                }
                }
            }
            div.govuk-form-group { div.govuk-checkboxes.govuk-checkboxes--small {
            div.govuk-checkboxes__item {
                input.govuk-checkboxes__input #no_texts name="no_texts" type="checkbox" value="yes"
                    checked[answers.no_texts.is_some()];
                label.govuk-label.govuk-checkboxes__label for="no_texts" { "The resident asked for no texts" }
            }
            } }
            button.govuk-button.govuk-button--secondary type="submit" { "Correct the contact details" }
        }
    }
}

async fn correct(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    CsrfForm {
        session,
        form: answers,
    }: CsrfForm<ContactForm>,
) -> Result<Response, ApiError> {
    let (job, _) = council_job(&state, &session, &job_id).await?;
    if load(&state, &session, job).await?.is_none() {
        return Err(ApiError::NotFound(
            "this job has no contact details to correct".into(),
        ));
    }
    let mut errors = Vec::new();
    let checked = check_contact(&answers.answers(), &mut errors);
    let Some(new) = checked.filter(|_| errors.is_empty()) else {
        let main = html! {
            h1.govuk-heading-l { "Correct the resident's contact details" }
            (form(&session, job, &answers, &errors))
            p.govuk-body { a.govuk-link href={ "/office/jobs/" (job) } { "Back to the job" } }
        };
        return staff_page(
            &state,
            &session,
            StatusCode::BAD_REQUEST,
            "Correct the contact details",
            main,
        )
        .await;
    };
    let opted_out = answers.no_texts.is_some();
    let done = crate::office::edits::Done {
        by: Some(session.user),
        what: "Corrected the resident's contact details".to_owned(),
    };
    crate::office::edits::edit_contact(&state, job, done, move |contact| {
        contact.name = new.name;
        contact.phone = new.phone;
        contact.email = new.email;
        contact.preferred_channel = new.preferred;
        contact.sms_opt_out = opted_out;
    })
    .await?;
    Ok(Redirect::to(&format!("/office/jobs/{job}#contact")).into_response())
}
