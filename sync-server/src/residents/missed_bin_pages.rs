//! A resident reports a missed bin, with JavaScript off:
//!
//! - `GET /missed-bin`: the postcode;
//! - `GET /missed-bin/addresses?postcode=…`: the addresses at it on
//!   today's and yesterday's rounds, and the resident's details;
//! - `POST /missed-bin`: the crew's record answers (their explanation and
//!   photo), or a missed-collection job is raised (then the confirmation
//!   behind its tracking link);
//! - `GET /missed-bin/photos/{round}/{hash}`: the crew's photo of an
//!   explained outcome, and no other round photo.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use doorstep_shared::ids::{BlobHash, RoundId};
use doorstep_shared::job::looks_like_postcode;
use serde::Deserialize;

use crate::demo::DEMO_TENANT;
use crate::error::ApiError;
use crate::pages::layout::{Page, error_message, error_summary};
use crate::pages::{photo_response, render};
use crate::residents::missed_bins::{self, Answer, Finding, Stop};
use crate::residents::progress::when;
use crate::residents::report::{ContactAnswers, FieldError, check_contact, contact_fields};
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use crate::throttle::Bucket;
use maud::{Markup, html};

const SERVICE_NAME: &str = "Report a missed bin";

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/missed-bin", Caller::Anyone, postcode_form),
        routes::post("/missed-bin", Caller::Anyone, submit).throttled(Bucket::MissedBin),
        routes::get("/missed-bin/addresses", Caller::Anyone, addresses),
        routes::get("/missed-bin/photos/{round}/{hash}", Caller::Anyone, photo),
    ]
}

async fn page(
    state: &AppState,
    status: StatusCode,
    title: &str,
    has_errors: bool,
    main: Markup,
) -> Result<Response, ApiError> {
    let council = state.council_name(DEMO_TENANT).await?;
    let page = Page {
        council: &council,
        service: SERVICE_NAME,
        title,
        has_errors,
        staff: false,
        main,
    };
    Ok(render(state, status, &page))
}

fn postcode_main(postcode: &str, error: Option<&str>) -> Markup {
    let errors: Vec<(&str, String)> = error
        .map(|message| vec![("postcode", message.to_owned())])
        .unwrap_or_default();
    let described = if error.is_some() {
        "postcode-hint postcode-error"
    } else {
        "postcode-hint"
    };
    html! {
        (error_summary(&errors))
        form method="get" action="/missed-bin/addresses" novalidate {
            div.govuk-form-group.govuk-form-group--error[error.is_some()] {
                h1.govuk-heading-l { label for="postcode" { "What is the postcode of the address?" } }
                div.govuk-hint #postcode-hint {
                    "We will show the addresses there whose bins were due to be emptied today or yesterday."
                }
                @if let Some(message) = error {
                    (error_message("postcode", message))
                }
                input.govuk-input.govuk-input--error[error.is_some()] #postcode name="postcode" value=(postcode)
                    autocomplete="postal-code" spellcheck="false" aria-describedby=(described);
            }
            button.govuk-button type="submit" { "Find the address" }
        }
    }
}

async fn postcode_form(State(state): State<AppState>) -> Result<Response, ApiError> {
    let main = postcode_main("", None);
    page(&state, StatusCode::OK, "Report a missed bin", false, main).await
}

/// The answers of the address form, as typed.
#[derive(Debug, Default, Deserialize)]
struct MissedBinForm {
    #[serde(default)]
    postcode: String,
    #[serde(default)]
    stop: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    updates: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
}

impl MissedBinForm {
    fn contact(&self) -> ContactAnswers<'_> {
        ContactAnswers {
            name: &self.name,
            updates: &self.updates,
            phone: &self.phone,
            email: &self.email,
        }
    }
}

fn stop_value(stop: &Stop) -> String {
    format!("{}:{}", stop.round, stop.property)
}

fn addresses_main(stops: &[Stop], form: &MissedBinForm, errors: &[FieldError]) -> Markup {
    let postcode = form.postcode.trim().to_uppercase();
    let stop_error = errors
        .iter()
        .find(|(field, _)| *field == "stop")
        .map(|(_, message)| message.clone());
    let described = stop_error.as_ref().map(|_| "stop-error");
    html! {
        (error_summary(errors))
        @if stops.is_empty() {
            h1.govuk-heading-l { "No collections found at " (postcode) }
            p.govuk-body {
                "We have no bins due to be emptied at " (postcode)
                " today or yesterday. If your collection day was earlier, or you think this is wrong, call the council."
            }
            p.govuk-body { a.govuk-link href="/missed-bin" { "Try another postcode" } }
        } @else {
            form method="post" action="/missed-bin" novalidate {
                input type="hidden" name="postcode" value=(postcode);
                div.govuk-form-group.govuk-form-group--error[stop_error.is_some()] {
                    fieldset.govuk-fieldset aria-describedby=[described] {
                        legend.govuk-fieldset__legend.govuk-fieldset__legend--l { h1.govuk-fieldset__heading { "Which bin was not emptied?" } }
                        @if let Some(message) = &stop_error {
                            (error_message("stop", message))
                        }
                        div.govuk-radios {
                        @for (index, stop) in stops.iter().enumerate() {
                            @let id = if index == 0 { "stop".to_owned() } else { format!("stop-{index}") };
                            @let value = stop_value(stop);
                            div.govuk-radios__item {
                                input.govuk-radios__input type="radio" id=(id) name="stop" value=(value) checked[form.stop == value];
                                label.govuk-label.govuk-radios__label for=(id) { (stop.address) ", due " (stop.date.in_words()) }
                            }
                        }
                        }
                    }
                }
                (contact_fields(&form.contact(), errors))
                button.govuk-button type="submit" { "Report the missed bin" }
            }
        }
    }
}

async fn addresses(
    State(state): State<AppState>,
    Query(form): Query<MissedBinForm>,
) -> Result<Response, ApiError> {
    let postcode = form.postcode.trim().to_uppercase();
    if !looks_like_postcode(&postcode) {
        let message = if postcode.is_empty() {
            "Enter the postcode"
        } else {
            "Enter a real postcode, like BN11 2QZ, with a space"
        };
        let main = postcode_main(&form.postcode, Some(message));
        return page(
            &state,
            StatusCode::BAD_REQUEST,
            "Report a missed bin",
            true,
            main,
        )
        .await;
    }
    let now = state.clock().now();
    let stops = missed_bins::stops_at(&state, DEMO_TENANT, &postcode, now).await?;
    let main = addresses_main(&stops, &form, &[]);
    page(
        &state,
        StatusCode::OK,
        "Which bin was not emptied?",
        false,
        main,
    )
    .await
}

async fn submit(
    State(state): State<AppState>,
    Form(form): Form<MissedBinForm>,
) -> Result<Response, ApiError> {
    let now = state.clock().now();
    let postcode = form.postcode.trim().to_uppercase();
    let stops = missed_bins::stops_at(&state, DEMO_TENANT, &postcode, now).await?;
    let chosen = stops.iter().find(|stop| stop_value(stop) == form.stop);
    let mut errors = Vec::new();
    if chosen.is_none() {
        errors.push((
            "stop",
            "Select the address whose bin was not emptied".into(),
        ));
    }
    let contact = check_contact(&form.contact(), &mut errors);
    let (Some(stop), Some(contact)) = (chosen, contact) else {
        let main = addresses_main(&stops, &form, &errors);
        return page(
            &state,
            StatusCode::BAD_REQUEST,
            "Which bin was not emptied?",
            true,
            main,
        )
        .await;
    };
    match missed_bins::report(&state, stop.round, stop.property, contact, now).await? {
        None => Err(ApiError::NotFound(
            "that collection is not on a round".into(),
        )),
        Some(Answer::Explained { address, finding }) => {
            let main = explained_main(stop.round, &address, &finding);
            page(
                &state,
                StatusCode::OK,
                "Your bin was not emptied",
                false,
                main,
            )
            .await
        }
        Some(Answer::Raised(created) | Answer::Waiting(created)) => {
            let token =
                crate::residents::link::issue(&state, DEMO_TENANT, created.job, now).await?;
            Ok(Redirect::to(&format!("/track/{token}/reported")).into_response())
        }
    }
}

/// The crew's record of the bin, for the resident.
fn explained_main(round: RoundId, address: &str, finding: &Finding) -> Markup {
    let Finding::Explained {
        explanation,
        note,
        at,
        photo,
    } = finding
    else {
        return Markup::default();
    };
    html! {
        h1.govuk-heading-l { "Your bin was not emptied" }
        p.govuk-body-l { (explanation) }
        p.govuk-body { "The crew recorded this at " (address) " on " (when(*at)) "." }
        @if let Some(note) = note {
            div.govuk-inset-text { "The crew's note: " (note) }
        }
        @if let Some(hash) = photo.as_ref().and_then(|photo| photo.display) {
            div.photos {
                figure {
                    img src={ "/missed-bin/photos/" (round) "/" (hash) }
                        alt={ "The crew's photo of the bin at " (address) } width="800" height="600";
                    figcaption { "The crew's photo" }
                }
            }
        }
        h2.govuk-heading-m { "What you can do" }
        p.govuk-body {
            "Put your bin out by 7am on your next collection day, with only the things that go in it. We have not raised a missed collection."
        }
        p.govuk-body { "If you think the crew's record is wrong, call the council." }
    }
}

async fn photo(
    State(state): State<AppState>,
    Path((round, hash)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (Ok(round), Ok(hash)) = (round.parse::<RoundId>(), hash.parse::<BlobHash>()) else {
        return Err(ApiError::NotFound("no such photo".into()));
    };
    if !missed_bins::explained_photo(&state, round, hash).await? {
        return Err(ApiError::NotFound("no such photo".into()));
    }
    let blob = state
        .with_store(move |store| store.stored_blob(hash))
        .await?
        .ok_or_else(|| ApiError::NotFound("the photo has not been uploaded yet".into()))?;
    Ok(photo_response(
        crate::photos::storage::open(&state, hash, blob).await?,
    ))
}
