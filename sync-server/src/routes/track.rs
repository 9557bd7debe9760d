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
//! - `GET /assets/residents.css`: the pages' stylesheet.
//!
//! An unknown, forged or expired token gets the same plain 404 as any
//! missing page. Pages are not cached and send no referrer, so the token
//! stays between the resident and the council.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use doorstep_shared::blob::Reader;
use doorstep_shared::booking::HalfDay;
use doorstep_shared::contact::{Channel, Contact};
use doorstep_shared::ids::{BlobHash, JobId};
use doorstep_shared::job::{Assignee, Job};
use doorstep_shared::service::ServiceDefinition;
use doorstep_shared::sync::wire::DocumentId;
use serde::Deserialize;

use crate::error::ApiError;
use crate::layout::{LOGO_PATH, Page, STYLESHEET};
use crate::report::Confirmation;
use crate::residents::{self, TrackView};
use crate::state::AppState;
use crate::{blobs, bookings, tracking};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/residents.css", get(stylesheet))
        .route(LOGO_PATH, get(logo))
        .route("/track/{token}", get(show))
        .route("/track/{token}/photos", get(show))
        .route("/track/{token}/photos/{hash}", get(photo))
        .route("/track/{token}/book", get(book_form).post(book))
        .route("/track/{token}/booked", get(booked))
        .route("/track/{token}/reported", get(reported))
        .route("/track/{token}/appointment.ics", get(calendar))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

async fn logo(State(state): State<AppState>) -> Response {
    match &state.branding().logo {
        Some(logo) => (
            [
                (header::CONTENT_TYPE, logo.content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                // An SVG opened on its own runs nothing.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; sandbox",
                ),
            ],
            Body::from(logo.bytes.to_vec()),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The job a valid token opens.
struct Opened {
    id: JobId,
    job: Job,
    service: ServiceDefinition,
    council: String,
}

/// The job behind `token`, or `None` for the plain 404.
async fn open(state: &AppState, token: &str) -> Result<Option<Opened>, ApiError> {
    let now = state.clock().now();
    let Some((tenant, id)) = tracking::resolve(state, token, now).await? else {
        return Ok(None);
    };
    let document = state
        .with_sync(move |sync, _| sync.load(DocumentId::Job(id)))
        .await?;
    let Some(job) = document.and_then(|(_, document)| Job::load(&document).ok()) else {
        return Ok(None);
    };
    let Some(service) = state.services().get(&job.office.service).cloned() else {
        return Ok(None);
    };
    let council = state.council_name(tenant).await?;
    Ok(Some(Opened {
        id,
        job,
        service,
        council,
    }))
}

/// The same plain page for every missing thing: it tells a guesser nothing.
fn not_found(state: &AppState) -> Response {
    let page = Page {
        council: "Doorstep",
        service: "Track your request",
        title: "Page not found",
        has_errors: false,
        staff: false,
        main: "<h1>Page not found</h1>\n<p>If you typed the web address, check it is correct.</p>\n<p>If you followed a link from a message, the link may have expired: links stop working 30 days after the request is closed.</p>\n".into(),
    };
    html(state, StatusCode::NOT_FOUND, &page)
}

pub(super) fn html(state: &AppState, status: StatusCode, page: &Page<'_>) -> Response {
    let mut response = (status, page.render(state.branding())).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    private(headers);
    response
}

/// Personal pages: never cached, and no referrer carries the token away.
fn private(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let Some(opened) = open(&state, &token).await? else {
        return Ok(not_found(&state));
    };
    let operative = match opened.job.office.assignee {
        Some(Assignee::User(user)) => state
            .with_store(move |store| store.user_name(user))
            .await?
            .and_then(|name| residents::first_name(&name)),
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
        token: &token,
        operative,
        stored,
        can_book: residents::can_book(&opened.job, &opened.service),
    };
    let page = Page {
        council: &opened.council,
        service: "Track your request",
        title: &opened.job.office.reference,
        has_errors: false,
        staff: false,
        main: residents::track_page(&opened.job, &opened.service, &view),
    };
    Ok(html(&state, StatusCode::OK, &page))
}

async fn photo(
    State(state): State<AppState>,
    Path((token, hash)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let Some(opened) = open(&state, &token).await? else {
        return Ok(not_found(&state));
    };
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
        Err(ApiError::Forbidden(_) | ApiError::NotFound(_)) => return Ok(not_found(&state)),
        Err(error) => return Err(error),
    };
    Ok(photo_response(blobs::open(&state, hash, blob).await?))
}

/// A photo shown on a resident's page: its bytes, type and length, not
/// cached and sending no referrer.
pub(super) fn photo_response(opened: blobs::Opened) -> Response {
    let mut response = Body::from_stream(opened.bytes).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&opened.blob.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, opened.blob.length.into());
    private(headers);
    response
}

/// The half-days on offer to `job` now.
async fn offered(state: &AppState, job: JobId) -> Result<Vec<HalfDay>, ApiError> {
    let now = state.clock().now();
    Ok(bookings::slots(state, job, now)
        .await?
        .into_iter()
        .filter_map(|slot| slot.slot.parse().ok())
        .collect())
}

async fn book_page(
    state: &AppState,
    opened: &Opened,
    token: &str,
    chosen: Option<&str>,
    error: Option<(StatusCode, &str)>,
) -> Result<Response, ApiError> {
    let slots = offered(state, opened.id).await?;
    let main = residents::book_page(
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
    Ok(html(state, status, &page))
}

/// A page saying the appointment cannot be changed here now.
fn cannot_book(state: &AppState, opened: &Opened, token: &str) -> Response {
    let page = Page {
        council: &opened.council,
        service: "Track your request",
        title: "The appointment cannot be changed",
        has_errors: false,
        staff: false,
        main: format!(
            "<h1>The appointment cannot be changed</h1>\n<p>Work on {} has started or finished, so there is no appointment to change. If you need to talk to us, call the council.</p>\n<p><a href=\"/track/{token}\">Back to your request</a></p>\n",
            crate::html::escape(&opened.job.office.reference)
        ),
    };
    html(state, StatusCode::CONFLICT, &page)
}

async fn book_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let Some(opened) = open(&state, &token).await? else {
        return Ok(not_found(&state));
    };
    if !residents::can_book(&opened.job, &opened.service) {
        return Ok(cannot_book(&state, &opened, &token));
    }
    book_page(&state, &opened, &token, None, None).await
}

#[derive(Deserialize)]
struct BookForm {
    slot: Option<String>,
}

async fn book(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<BookForm>,
) -> Result<Response, ApiError> {
    let Some(opened) = open(&state, &token).await? else {
        return Ok(not_found(&state));
    };
    if !residents::can_book(&opened.job, &opened.service) {
        return Ok(cannot_book(&state, &opened, &token));
    }
    let Some(slot) = form.slot.filter(|slot| !slot.is_empty()) else {
        let error = (
            StatusCode::BAD_REQUEST,
            "Select a half-day for the appointment",
        );
        return book_page(&state, &opened, &token, None, Some(error)).await;
    };
    let now = state.clock().now();
    match bookings::book(&state, opened.id, &slot, now).await {
        Ok(_) => Ok(Redirect::to(&format!("/track/{token}/booked")).into_response()),
        Err(ApiError::Conflict(_)) => {
            let error = (
                StatusCode::CONFLICT,
                "That half-day has just been filled: choose another",
            );
            book_page(&state, &opened, &token, None, Some(error)).await
        }
        Err(ApiError::BadRequest(_)) => {
            let error = (
                StatusCode::BAD_REQUEST,
                "That half-day cannot be booked: choose one from the list",
            );
            book_page(&state, &opened, &token, Some(&slot), Some(error)).await
        }
        Err(error) => Err(error),
    }
}

async fn booked(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let Some(opened) = open(&state, &token).await? else {
        return Ok(not_found(&state));
    };
    if opened.job.office.appointment.is_none() {
        return Ok(Redirect::to(&format!("/track/{token}/book")).into_response());
    }
    let page = Page {
        council: &opened.council,
        service: "Track your request",
        title: "Appointment booked",
        has_errors: false,
        staff: false,
        main: residents::booked_page(&opened.job, &token),
    };
    Ok(html(&state, StatusCode::OK, &page))
}

/// The confirmation after a resident's report (`/report` redirects here).
async fn reported(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let Some(opened) = open(&state, &token).await? else {
        return Ok(not_found(&state));
    };
    let id = opened.id;
    let contact = state
        .with_sync(move |sync, _| sync.load(DocumentId::Contact(id)))
        .await?
        .and_then(|(_, document)| Contact::load(&document).ok());
    let told_by = contact
        .and_then(|contact| contact.reachable_by())
        .unwrap_or(Channel::None);
    let confirmation = if opened.service.id.as_str() == crate::missed_bins::SERVICE {
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
        main: crate::report::confirmation_page(
            &confirmation,
            &opened.job.office.reference,
            &format!("/track/{token}"),
            told_by,
        ),
    };
    Ok(html(&state, StatusCode::OK, &page))
}

async fn calendar(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let Some(opened) = open(&state, &token).await? else {
        return Ok(not_found(&state));
    };
    let now = state.clock().now();
    let Some(ics) = residents::appointment_ics(
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
