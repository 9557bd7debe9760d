//! The resident's pages behind a tracking link, plain HTML that works with
//! JavaScript off:
//!
//! - `GET /track/{token}` (and `/photos`): the job's status, timeline,
//!   appointment, operative's first name and photos;
//! - `GET /track/{token}/photos/{hash}`: a display rendition of one of the
//!   job's photos (never an original, never another job's);
//! - `GET /track/{token}/book`, `POST` with `slot=2026-11-30-am`: choose
//!   or change the appointment, then `GET /track/{token}/booked`;
//! - `GET /track/{token}/appointment.ics`: the appointment for a calendar;
//! - the pages' stylesheets are served by `crate::pages`.
//!
//! An unknown, forged or expired token gets the same plain 404 as any
//! missing page. Pages are not cached and send no referrer, so the token
//! stays between the resident and the council.

use std::collections::BTreeSet;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use doorstep_shared::blob::Reader;
use doorstep_shared::contact::{Channel, Contact};
use doorstep_shared::ids::BlobHash;
use doorstep_shared::job::Assignee;
use doorstep_shared::sync::wire::DocumentId;
use serde::Deserialize;

use crate::error::ApiError;
use crate::pages::layout::Page;
use crate::pages::{photo_response, private, render};
use crate::photos::PhotoError;
use crate::photos::storage as blobs;
use crate::residents::booking as bookings;
use crate::residents::link::{ResidentLink, not_found};
use crate::residents::progress::{self, TrackView};
use crate::residents::report::Confirmation;
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use crate::throttle::Bucket;
use maud::html;

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/track/{token}", Caller::Resident, show).throttled(Bucket::Tracking),
        routes::get("/track/{token}/photos", Caller::Resident, show).throttled(Bucket::Tracking),
        routes::get("/track/{token}/photos/{hash}", Caller::Resident, photo),
        routes::get("/track/{token}/book", Caller::Resident, book_form),
        routes::post("/track/{token}/book", Caller::Resident, book),
        routes::get("/track/{token}/booked", Caller::Resident, booked),
        routes::get("/track/{token}/reported", Caller::Resident, reported),
        routes::get("/track/{token}/appointment.ics", Caller::Resident, calendar),
    ]
}

async fn show(State(state): State<AppState>, opened: ResidentLink) -> Result<Response, ApiError> {
    let token = &opened.token;
    let id = opened.id;
    let operative = match opened.job.office.assignee {
        Some(Assignee::User(user)) => state
            .with_store(move |store| store.user_name(user))
            .await?
            .and_then(|name| progress::first_name(&name)),
        _ => None,
    };
    let displays: Vec<BlobHash> = opened
        .job
        .photos
        .values()
        .filter_map(|photo| photo.display)
        .collect();
    let stored = state
        .with_store(move |store| {
            let mut stored = BTreeSet::new();
            for hash in displays {
                if store.stored_blob(hash)?.is_some() {
                    stored.insert(hash);
                }
            }
            Ok(stored)
        })
        .await?;
    let view = TrackView {
        token,
        operative,
        stored,
        can_book: progress::can_book(&opened.job, &opened.service),
        has_contact: state
            .with_sync(move |sync, _| sync.load(DocumentId::Contact(id)))
            .await?
            .is_some(),
    };
    let page = Page {
        council: &opened.council,
        service: "Track your request",
        title: &opened.job.office.reference,
        has_errors: false,
        staff: false,
        main: progress::track_page(&opened.job, &opened.service, &view),
    };
    Ok(render(&state, StatusCode::OK, &page))
}

async fn photo(
    State(state): State<AppState>,
    opened: ResidentLink,
    Path((_, hash)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    // Only the display rendition of one of this job's photos.
    let Some(hash) = hash.parse::<BlobHash>().ok().filter(|hash| {
        opened
            .job
            .photos
            .values()
            .any(|photo| photo.display == Some(*hash))
    }) else {
        return Ok(not_found(&state));
    };
    let blob = match blobs::check_read(&state, Reader::Resident { job: opened.id }, hash).await {
        Ok(blob) => blob,
        Err(PhotoError::Forbidden(_) | PhotoError::NotFound(_)) => return Ok(not_found(&state)),
        Err(error) => return Err(error.into()),
    };
    Ok(photo_response(blobs::open(&state, hash, blob).await?))
}

async fn book_page(
    state: &AppState,
    opened: &ResidentLink,
    token: &str,
    chosen: Option<&str>,
    error: Option<(StatusCode, &str)>,
) -> Result<Response, ApiError> {
    let slots = bookings::half_days(state, opened.id, state.clock().now()).await?;
    let main = progress::book_page(
        &opened.job,
        token,
        &slots,
        chosen,
        error.map(|(_, message)| message),
    );
    let title = if opened.job.office.appointment.is_some() {
        "Change your appointment"
    } else {
        "Choose an appointment"
    };
    let page = Page {
        council: &opened.council,
        service: "Track your request",
        title,
        has_errors: error.is_some(),
        staff: false,
        main,
    };
    let status = error.map_or(StatusCode::OK, |(status, _)| status);
    Ok(render(state, status, &page))
}

/// A page saying the appointment cannot be changed here now.
fn cannot_book(state: &AppState, opened: &ResidentLink, token: &str) -> Response {
    let page = Page {
        council: &opened.council,
        service: "Track your request",
        title: "The appointment cannot be changed",
        has_errors: false,
        staff: false,
        main: html! {
            h1.govuk-heading-l { "The appointment cannot be changed" }
            p.govuk-body {
                "Work on " (opened.job.office.reference) " has started or finished, so there is no appointment to change. If you need to talk to us, call the council."
            }
            p.govuk-body { a.govuk-link href={ "/track/" (token) } { "Back to your request" } }
        },
    };
    render(state, StatusCode::CONFLICT, &page)
}

async fn book_form(
    State(state): State<AppState>,
    opened: ResidentLink,
) -> Result<Response, ApiError> {
    let token = &opened.token;
    if !progress::can_book(&opened.job, &opened.service) {
        return Ok(cannot_book(&state, &opened, token));
    }
    book_page(&state, &opened, token, None, None).await
}

#[derive(Deserialize)]
struct BookForm {
    slot: Option<String>,
}

async fn book(
    State(state): State<AppState>,
    opened: ResidentLink,
    Form(form): Form<BookForm>,
) -> Result<Response, ApiError> {
    let token = &opened.token;
    if !progress::can_book(&opened.job, &opened.service) {
        return Ok(cannot_book(&state, &opened, token));
    }
    let Some(slot) = form.slot.filter(|slot| !slot.is_empty()) else {
        let error = (
            StatusCode::BAD_REQUEST,
            "Select a half-day for the appointment",
        );
        return book_page(&state, &opened, token, None, Some(error)).await;
    };
    let now = state.clock().now();
    match bookings::book(&state, opened.id, &slot, None, now).await {
        Ok(_) => Ok(Redirect::to(&format!("/track/{token}/booked")).into_response()),
        Err(bookings::BookingError::Full(_)) => {
            let error = (
                StatusCode::CONFLICT,
                "That half-day has just been filled: choose another",
            );
            book_page(&state, &opened, token, None, Some(error)).await
        }
        Err(bookings::BookingError::Refused(_)) => {
            let error = (
                StatusCode::BAD_REQUEST,
                "That half-day cannot be booked: choose one from the list",
            );
            book_page(&state, &opened, token, Some(&slot), Some(error)).await
        }
        Err(error) => Err(error.into()),
    }
}

async fn booked(State(state): State<AppState>, opened: ResidentLink) -> Result<Response, ApiError> {
    let token = &opened.token;
    if opened.job.office.appointment.is_none() {
        return Ok(Redirect::to(&format!("/track/{token}/book")).into_response());
    }
    let page = Page {
        council: &opened.council,
        service: "Track your request",
        title: "Appointment booked",
        has_errors: false,
        staff: false,
        main: progress::booked_page(&opened.job, token),
    };
    Ok(render(&state, StatusCode::OK, &page))
}

/// The confirmation after a resident's report (`/report` redirects here).
async fn reported(
    State(state): State<AppState>,
    opened: ResidentLink,
) -> Result<Response, ApiError> {
    let token = &opened.token;
    let id = opened.id;
    let contact = state
        .with_sync(move |sync, _| sync.load(DocumentId::Contact(id)))
        .await?
        .and_then(|(_, document)| Contact::load(&document).ok());
    let told_by = contact
        .and_then(|contact| contact.reachable_by())
        .unwrap_or(Channel::None);
    let confirmation = if opened.service.id.as_str() == crate::residents::missed_bins::SERVICE {
        let waiting = state
            .with_store(move |store| store.missed_bin_checks())
            .await?
            .iter()
            .any(|check| check.job == id);
        Confirmation {
            title: "Missed collection reported",
            next: if waiting {
                "The crew has not finished the round yet. When they have, we will check their record for your address and tell you what we find."
            } else {
                "The crew will come back to empty your bin within two days."
            },
            link: "Follow your report",
        }
    } else {
        Confirmation {
            title: "Repair reported",
            next: "We will look at your report and offer you an appointment.",
            link: "Follow your repair and choose an appointment",
        }
    };
    let page = Page {
        council: &opened.council,
        service: &opened.service.name,
        title: confirmation.title,
        has_errors: false,
        staff: false,
        main: crate::residents::report::confirmation_page(
            &confirmation,
            &opened.job.office.reference,
            &format!("/track/{token}"),
            told_by,
        ),
    };
    Ok(render(&state, StatusCode::OK, &page))
}

async fn calendar(
    State(state): State<AppState>,
    opened: ResidentLink,
) -> Result<Response, ApiError> {
    let now = state.clock().now();
    let Some(ics) = progress::appointment_ics(
        opened.id,
        &opened.job,
        &opened.service,
        &opened.council,
        now,
    ) else {
        return Ok(not_found(&state));
    };
    let mut response = ics.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"appointment.ics\""),
    );
    private(headers);
    Ok(response)
}
