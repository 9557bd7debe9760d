//! The back office's first pages, plain HTML that works with JavaScript
//! off:
//!
//! - `GET /office/sign-in`, `POST /office/sign-in` (`email`, `password`):
//!   staff sign in; a session cookie and a redirect to `/office`;
//! - `POST /office/sign-out` (with the session's form token);
//! - `GET /office?q=…&status=…&service=…`: the council's jobs, searched
//!   by reference or address and filtered by status and service.
//!
//! Every page but sign-in needs a session; without one it redirects to
//! sign-in. Every form that changes something carries the session's form
//! token, and is refused (403) without it.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use doorstep_shared::summary::JobSummary;
use serde::Deserialize;

use super::track::html;
use crate::error::ApiError;
use crate::html::escape;
use crate::layout::{Page, error_summary};
use crate::residents::slot_words;
use crate::staff;
use crate::state::AppState;
use crate::store::staff::{StaffRole, StaffSession};

const SERVICE: &str = "Back office";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/office/sign-in", get(sign_in_form).post(sign_in))
        .route("/office/sign-out", post(sign_out))
        .route("/office", get(jobs))
}

fn sign_in_main(email: &str, error: bool) -> String {
    let mut main = if error {
        error_summary(&[(
            "email",
            "Enter the email address and password of your staff account".to_owned(),
        )])
    } else {
        String::new()
    };
    main.push_str(&format!(
        "<h1>Sign in</h1>\n<form method=\"post\" action=\"/office/sign-in\" novalidate>\n<div class=\"form-group{group}\">\n<label class=\"label\" for=\"email\">Email address</label>\n<input class=\"input\" id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" spellcheck=\"false\" value=\"{email}\">\n</div>\n<div class=\"form-group{group}\">\n<label class=\"label\" for=\"password\">Password</label>\n<input class=\"input\" id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\">\n</div>\n<button type=\"submit\" class=\"button\">Sign in</button>\n</form>\n",
        group = if error { " form-group--error" } else { "" },
        email = escape(email),
    ));
    main
}

async fn council(state: &AppState, session: Option<&StaffSession>) -> Result<String, ApiError> {
    let tenant = session.map_or(crate::demo::DEMO_TENANT, |session| session.tenant);
    Ok(state
        .with_store(move |store| store.tenant_name(tenant))
        .await?
        .unwrap_or_else(|| "Doorstep".into()))
}

async fn sign_in_form(State(state): State<AppState>) -> Result<Response, ApiError> {
    let council = council(&state, None).await?;
    let page = Page {
        council: &council,
        service: SERVICE,
        title: "Sign in",
        has_errors: false,
        main: sign_in_main("", false),
    };
    Ok(html(&state, StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn sign_in(
    State(state): State<AppState>,
    Form(form): Form<SignInForm>,
) -> Result<Response, ApiError> {
    let now = state.clock().now();
    match staff::sign_in(&state, &form.email, &form.password, now).await? {
        Some(token) => {
            let mut response = Redirect::to("/office").into_response();
            let cookie = HeaderValue::from_str(&staff::session_cookie(&token))
                .map_err(|_| ApiError::BadRequest("could not make the session cookie".into()))?;
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(response)
        }
        None => {
            let council = council(&state, None).await?;
            let page = Page {
                council: &council,
                service: SERVICE,
                title: "Sign in",
                has_errors: true,
                main: sign_in_main(&form.email, true),
            };
            Ok(html(&state, StatusCode::UNAUTHORIZED, &page))
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    let Some(session) = staff::session(&state, &headers).await? else {
        return Ok(Redirect::to("/office/sign-in").into_response());
    };
    if !staff::csrf_matches(&session, &form.csrf) {
        return Err(ApiError::Forbidden(
            "this form is out of date: go back, reload the page and try again".into(),
        ));
    }
    staff::sign_out(&state, &headers).await?;
    let mut response = Redirect::to("/office/sign-in").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&staff::cleared_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `GET /office`'s search and filters.
#[derive(Debug, Default, Deserialize)]
struct JobFilter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    service: String,
}

impl JobFilter {
    fn keeps(&self, job: &JobSummary) -> bool {
        let q = self.q.trim().to_lowercase();
        (q.is_empty()
            || job.reference.to_lowercase().contains(&q)
            || job.address.to_lowercase().contains(&q))
            && (self.status.is_empty() || job.status.as_str() == self.status)
            && (self.service.is_empty() || job.service.as_str() == self.service)
    }
}

/// A select of `options` (`(value, label)`) with "All" first.
fn select(id: &str, label: &str, options: &[(String, String)], chosen: &str) -> String {
    let mut html = format!(
        "<div class=\"form-group\"><label class=\"label\" for=\"{id}\">{label}</label><select id=\"{id}\" name=\"{id}\"><option value=\"\">All</option>"
    );
    for (value, text) in options {
        html.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            escape(value),
            if value == chosen { " selected" } else { "" },
            escape(text)
        ));
    }
    html.push_str("</select></div>\n");
    html
}

/// Who is signed in, with the sign-out button.
fn signed_in_bar(session: &StaffSession) -> String {
    let role = match session.role {
        StaffRole::Dispatcher => "dispatcher",
        StaffRole::Admin => "administrator",
    };
    format!(
        "<form method=\"post\" action=\"/office/sign-out\" class=\"phase\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">Signed in as {name} ({role}). <button type=\"submit\" class=\"button button--secondary\">Sign out</button></form>\n",
        csrf = escape(&session.csrf),
        name = escape(&session.name),
    )
}

async fn jobs(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(filter): Query<JobFilter>,
) -> Result<Response, ApiError> {
    let Some(session) = staff::session(&state, &headers).await? else {
        return Ok(Redirect::to("/office/sign-in").into_response());
    };
    let tenant = session.tenant;
    let all = state
        .with_store(move |store| store.job_summaries(tenant))
        .await?;
    let mut statuses: Vec<(String, String)> = all
        .iter()
        .map(|job| (job.status.to_string(), job.status_label.clone()))
        .collect();
    statuses.sort();
    statuses.dedup();
    let mut services: Vec<(String, String)> = all
        .iter()
        .map(|job| (job.service.to_string(), job.service_name.clone()))
        .collect();
    services.sort();
    services.dedup();
    let shown: Vec<&JobSummary> = all.iter().filter(|job| filter.keeps(job)).collect();

    let mut main = signed_in_bar(&session);
    main.push_str("<h1>Jobs</h1>\n<form method=\"get\" action=\"/office\" role=\"search\">\n");
    main.push_str(&format!(
        "<div class=\"form-group\"><label class=\"label\" for=\"q\">Search by reference or address</label><input class=\"input\" id=\"q\" name=\"q\" type=\"search\" value=\"{}\"></div>\n",
        escape(&filter.q)
    ));
    main.push_str(&select("status", "Status", &statuses, &filter.status));
    main.push_str(&select("service", "Service", &services, &filter.service));
    main.push_str(
        "<button type=\"submit\" class=\"button button--secondary\">Show jobs</button>\n</form>\n",
    );
    main.push_str(&format!(
        "<p role=\"status\">{} of {} jobs</p>\n",
        shown.len(),
        all.len()
    ));
    if !shown.is_empty() {
        main.push_str("<table class=\"table\">\n<caption class=\"visually-hidden\">Jobs</caption>\n<thead><tr><th scope=\"col\">Reference</th><th scope=\"col\">Service</th><th scope=\"col\">Status</th><th scope=\"col\">Address</th><th scope=\"col\">Appointment</th></tr></thead>\n<tbody>\n");
        for job in shown {
            let appointment = match (job.appointment_starts, job.appointment_ends) {
                (Some(starts), Some(ends)) => {
                    slot_words(doorstep_shared::job::Appointment { starts, ends })
                }
                _ => "Not booked".into(),
            };
            main.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td><strong class=\"tag\">{}</strong></td><td>{}</td><td>{}</td></tr>\n",
                escape(&job.reference),
                escape(&job.service_name),
                escape(&job.status_label),
                escape(&job.address),
                escape(&appointment),
            ));
        }
        main.push_str("</tbody>\n</table>\n");
    }
    let council = council(&state, Some(&session)).await?;
    let page = Page {
        council: &council,
        service: SERVICE,
        title: "Jobs",
        has_errors: false,
        main,
    };
    Ok(html(&state, StatusCode::OK, &page))
}
