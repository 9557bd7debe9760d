//! The back office's first pages, plain HTML that works with JavaScript
//! off:
//!
//! - `GET /office/sign-in`, `POST /office/sign-in` (`email`, `password`):
//!   staff sign in; a session cookie and a redirect to `/office`;
//! - `POST /office/sign-out` (with the session's form token);
//! - `GET /office?q=…&status=…&service=…`: the council's jobs, searched
//!   by reference or address and filtered by status and service;
//! - `GET /office/jobs/{job}`: one job, its history in plain words, and
//!   the messages its resident was sent with their delivery status.
//!
//! Every page but sign-in needs a session; without one it redirects to
//! sign-in. Every form that changes something carries the session's form
//! token, and is refused (403) without it.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use doorstep_shared::contact::Channel;
use doorstep_shared::ids::{JobId, UserId};
use doorstep_shared::job::{Assignee, Job};
use doorstep_shared::summary::JobSummary;
use doorstep_shared::sync::wire::DocumentId;
use serde::Deserialize;

use super::track::html;
use crate::error::ApiError;
use crate::history;
use crate::html::escape;
use crate::layout::{Page, error_summary, summary_list};
use crate::residents::{slot_words, when};
use crate::staff;
use crate::state::AppState;
use crate::store::staff::{StaffRole, StaffSession};

const SERVICE: &str = "Back office";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/office/sign-in", get(sign_in_form).post(sign_in))
        .route("/office/sign-out", post(sign_out))
        .route("/office", get(jobs))
        .route("/office/jobs/{job}", get(job_page))
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
                "<tr><td><a href=\"/office/jobs/{}\">{}</a></td><td>{}</td><td><strong class=\"tag\">{}</strong></td><td>{}</td><td>{}</td></tr>\n",
                job.job,
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

async fn job_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(job_id): Path<String>,
) -> Result<Response, ApiError> {
    let Some(session) = staff::session(&state, &headers).await? else {
        return Ok(Redirect::to("/office/sign-in").into_response());
    };
    let not_found = || ApiError::NotFound("there is no such job in your council".into());
    let job_id: JobId = job_id.parse().map_err(|_| not_found())?;
    let loaded = state
        .with_sync(move |sync, _| sync.load(DocumentId::Job(job_id)))
        .await?;
    let Some((tenant, document)) = loaded else {
        return Err(not_found());
    };
    let job = Job::load(&document).map_err(|_| not_found())?;
    let service = state.services().get(&job.office.service).cloned();
    let (Some(service), true) = (service, tenant == session.tenant) else {
        return Err(not_found());
    };
    let mut people = history::people(&job);
    if let Some(Assignee::User(user)) = job.office.assignee {
        people.push(user);
    }
    let names: BTreeMap<UserId, String> = state
        .with_store(move |store| {
            let mut names = BTreeMap::new();
            for user in people {
                if let Some(name) = store.user_name(user)? {
                    names.insert(user, name);
                }
            }
            Ok(names)
        })
        .await?;
    let messages = state
        .with_store(move |store| store.outbox_for_job(job_id))
        .await?;

    let status = job.status(&service);
    let mut rows = vec![
        ("Service", escape(&service.name)),
        (
            "Status",
            format!(
                "<strong class=\"tag\">{}</strong>",
                escape(service.state_label(status))
            ),
        ),
        ("Address", escape(&job.office.address.one_line())),
        (
            "Appointment",
            job.office
                .appointment
                .map_or_else(|| "Not booked".into(), |slot| escape(&slot_words(slot))),
        ),
        (
            "Assigned to",
            match job.office.assignee {
                Some(Assignee::User(user)) => escape(
                    names
                        .get(&user)
                        .map_or("someone no longer listed", String::as_str),
                ),
                Some(Assignee::Team(_)) => "A team".into(),
                None => "Nobody yet".into(),
            },
        ),
    ];
    if let Some(sla) = job.sla(&service) {
        let now = state.clock().now();
        let standing = match (sla.met_at, sla.is_breached(now)) {
            (Some(_), false) => " (met)",
            (Some(_), true) => " (met late)",
            (None, true) => " (missed)",
            (None, false) => "",
        };
        rows.push(("Due", escape(&format!("{}{standing}", when(sla.due)))));
    }
    let mut main = signed_in_bar(&session);
    main.push_str(&format!(
        "<span class=\"caption\">{}</span>\n<h1>{}</h1>\n",
        escape(&service.name),
        escape(&job.office.reference)
    ));
    main.push_str(&summary_list(&rows));
    main.push_str("<h2>History</h2>\n<ol class=\"timeline\">\n");
    for (at, what) in history::history(&job, &service, &names) {
        main.push_str(&format!(
            "<li><span class=\"timeline__what\">{}</span><span class=\"timeline__when\">{}</span></li>\n",
            escape(&what),
            escape(&when(at))
        ));
    }
    main.push_str("</ol>\n<h2>Messages to the resident</h2>\n");
    if messages.is_empty() {
        main.push_str("<p>None yet.</p>\n");
    } else {
        main.push_str("<table class=\"table\">\n<caption class=\"visually-hidden\">Messages to the resident</caption>\n<thead><tr><th scope=\"col\">About</th><th scope=\"col\">By</th><th scope=\"col\">Status</th><th scope=\"col\">Delivery</th></tr></thead>\n<tbody>\n");
        for message in &messages {
            let channel = match message.channel {
                Channel::Sms => "Text",
                Channel::Email => "Email",
                Channel::None => "None",
            };
            let status = match (message.status.as_str(), message.sent_at) {
                ("sent", Some(at)) => format!("Sent {}", when(at)),
                (other, _) => match &message.outcome {
                    Some(why) => format!("{other}: {why}"),
                    None => other.to_owned(),
                },
            };
            main.push_str(&format!(
                "<tr><td>{}</td><td>{channel}</td><td>{}</td><td>{}</td></tr>\n",
                escape(message.event.as_str()),
                escape(&status),
                escape(message.delivery.as_deref().unwrap_or("")),
            ));
        }
        main.push_str("</tbody>\n</table>\n");
    }
    main.push_str("<p><a href=\"/office\">Back to jobs</a></p>\n");
    let council = council(&state, Some(&session)).await?;
    let page = Page {
        council: &council,
        service: SERVICE,
        title: &job.office.reference,
        has_errors: false,
        main,
    };
    Ok(html(&state, StatusCode::OK, &page))
}
