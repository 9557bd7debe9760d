//! The back office's first pages, plain HTML that works with JavaScript
//! off:
//!
//! - `GET /office/sign-in`, `POST /office/sign-in` (`email`, `password`):
//!   staff sign in; a session cookie and a redirect to `/office`;
//! - `POST /office/sign-out` (with the session's form token);
//! - `GET /office?q=…&status=…&service=…`: the council's jobs, searched
//!   by reference or address and filtered by status and service;
//! - `GET /office/jobs/{job}`: one job, its history in plain words, and
//!   the messages its resident was sent with their delivery status;
//!   `POST /office/jobs/{job}/assignee` gives it to someone (it reaches
//!   their phone at its next sync, through the sync scopes);
//! - `GET /office/jobs/new`, `POST /office/jobs`: a dispatcher makes a job.
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
use doorstep_shared::service::ServiceKind;
use doorstep_shared::summary::JobSummary;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::transition::{Actor, Role};
use serde::Deserialize;

use super::track::html;
use crate::error::ApiError;
use crate::history;
use crate::html::escape;
use crate::intake::NewJob;
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
        .route("/office/jobs/new", get(new_job_form))
        .route("/office/jobs", post(create_job))
        .route("/office/jobs/{job}", get(job_page))
        .route("/office/jobs/{job}/assignee", post(assign))
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
    if changing(&state, &headers, &form.csrf).await?.is_none() {
        return Ok(Redirect::to("/office/sign-in").into_response());
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
    select_with(id, label, "All", options, chosen)
}

/// A select of `options` (`(value, label)`) with `empty` (value "") first.
fn select_with(
    id: &str,
    label: &str,
    empty: &str,
    options: &[(String, String)],
    chosen: &str,
) -> String {
    let mut html = format!(
        "<div class=\"form-group\"><label class=\"label\" for=\"{id}\">{label}</label><select id=\"{id}\" name=\"{id}\"><option value=\"\">{}</option>",
        escape(empty)
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
    main.push_str("<h1>Jobs</h1>\n<p><a href=\"/office/jobs/new\" class=\"button\">Make a job</a></p>\n<form method=\"get\" action=\"/office\" role=\"search\">\n");
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
    let (job_id, document) = council_job(&state, &session, &job_id).await?;
    let not_found = || ApiError::NotFound("there is no such job in your council".into());
    let job = Job::load(&document).map_err(|_| not_found())?;
    let Some(service) = state.services().get(&job.office.service).cloned() else {
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
    let choices = assignee_choices(&state, session.tenant).await?;
    let current = match job.office.assignee {
        Some(Assignee::User(user)) => format!("user:{user}"),
        Some(Assignee::Team(team)) => format!("team:{team}"),
        None => String::new(),
    };
    main.push_str(&format!(
        "<form method=\"post\" action=\"/office/jobs/{job_id}/assignee\">\n<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n{}<button type=\"submit\" class=\"button button--secondary\">Assign</button>\n</form>\n",
        escape(&session.csrf),
        select_with("assignee", "Assign to", "Nobody yet", &choices, &current),
    ));
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

/// Whom a job can be given to: the council's field staff, then its teams,
/// as `(user:ID | team:ID, label)`.
async fn assignee_choices(
    state: &AppState,
    tenant: doorstep_shared::ids::TenantId,
) -> Result<Vec<(String, String)>, ApiError> {
    state
        .with_store(move |store| {
            let mut choices: Vec<(String, String)> = store
                .people(tenant)?
                .into_iter()
                .filter(|(_, _, role)| matches!(role, Role::Operative | Role::Crew))
                .map(|(user, name, role)| (format!("user:{user}"), format!("{name} ({role})")))
                .collect();
            choices.extend(
                store
                    .teams(tenant)?
                    .into_iter()
                    .map(|(team, name)| (format!("team:{team}"), format!("Team: {name}"))),
            );
            Ok(choices)
        })
        .await
}

/// A chosen assignee, if it is one of the council's.
fn chosen_assignee(
    choices: &[(String, String)],
    value: &str,
) -> Result<Option<Assignee>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    if !choices.iter().any(|(choice, _)| choice == value) {
        return Err(ApiError::BadRequest(
            "that person or team does not work here".into(),
        ));
    }
    let parsed = match value.split_once(':') {
        Some(("user", id)) => id.parse().ok().map(Assignee::User),
        Some(("team", id)) => id.parse().ok().map(Assignee::Team),
        _ => None,
    };
    parsed
        .map(Some)
        .ok_or_else(|| ApiError::BadRequest("that person or team does not work here".into()))
}

/// The job `text` names, if it is one of the session's council's: its id
/// and document; any other is "no such job", never "not yours".
async fn council_job(
    state: &AppState,
    session: &StaffSession,
    text: &str,
) -> Result<(JobId, automerge::AutoCommit), ApiError> {
    let not_found = || ApiError::NotFound("there is no such job in your council".into());
    let job: JobId = text.parse().map_err(|_| not_found())?;
    match state
        .with_sync(move |sync, _| sync.load(DocumentId::Job(job)))
        .await?
    {
        Some((tenant, document)) if tenant == session.tenant => Ok((job, document)),
        _ => Err(not_found()),
    }
}

/// The session behind a form that changes something, or why not.
async fn changing(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Option<StaffSession>, ApiError> {
    let Some(session) = staff::session(state, headers).await? else {
        return Ok(None);
    };
    if !staff::csrf_matches(&session, csrf) {
        return Err(ApiError::Forbidden(
            "this form is out of date: go back, reload the page and try again".into(),
        ));
    }
    Ok(Some(session))
}

#[derive(Deserialize)]
struct AssignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    assignee: String,
}

async fn assign(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(job_id): Path<String>,
    Form(form): Form<AssignForm>,
) -> Result<Response, ApiError> {
    let Some(session) = changing(&state, &headers, &form.csrf).await? else {
        return Ok(Redirect::to("/office/sign-in").into_response());
    };
    let (job, _) = council_job(&state, &session, &job_id).await?;
    let choices = assignee_choices(&state, session.tenant).await?;
    let assignee = chosen_assignee(&choices, &form.assignee)?;
    crate::office::edit_job(&state, job, move |office| office.assign(assignee)).await?;
    Ok(Redirect::to(&format!("/office/jobs/{job}")).into_response())
}

/// The answers of the new-job form.
#[derive(Debug, Default, Deserialize)]
struct NewJobForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
}

async fn new_job_page(
    state: &AppState,
    session: &StaffSession,
    form: &NewJobForm,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let services: Vec<(String, String)> = state
        .services()
        .iter()
        .filter(|service| service.kind == ServiceKind::Job)
        .map(|service| (service.id.to_string(), service.name.clone()))
        .collect();
    let mut priorities: Vec<(String, String)> = state
        .services()
        .iter()
        .flat_map(|service| service.sla.iter())
        .map(|target| (target.priority.to_string(), target.label.clone()))
        .collect();
    priorities.sort();
    priorities.dedup_by(|a, b| a.0 == b.0);
    let choices = assignee_choices(state, session.tenant).await?;
    let mut main = signed_in_bar(session);
    if let Some(error) = &error {
        main.push_str(&error_summary(&[("service", error.clone())]));
    }
    main.push_str(
        "<h1>Make a job</h1>\n<form method=\"post\" action=\"/office/jobs\" novalidate>\n",
    );
    main.push_str(&format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n",
        escape(&session.csrf)
    ));
    main.push_str(&select_with(
        "service",
        "Service",
        "Choose a service",
        &services,
        &form.service,
    ));
    main.push_str(&select_with(
        "priority",
        "Priority",
        "None",
        &priorities,
        &form.priority,
    ));
    main.push_str(&format!(
        "<div class=\"form-group\"><label class=\"label\" for=\"address\">Address</label><span class=\"hint\" id=\"address-hint\">On one line, with the postcode last.</span><input class=\"input\" id=\"address\" name=\"address\" aria-describedby=\"address-hint\" value=\"{}\"></div>\n<div class=\"form-group\"><label class=\"label\" for=\"description\">What needs doing</label><textarea id=\"description\" name=\"description\" rows=\"4\">{}</textarea></div>\n",
        escape(&form.address),
        escape(&form.description)
    ));
    main.push_str(&select_with(
        "assignee",
        "Assign to",
        "Nobody yet",
        &choices,
        &form.assignee,
    ));
    main.push_str("<h2>The resident (optional)</h2>\n");
    for (id, label, value, kind) in [
        ("name", "Name", &form.name, "text"),
        ("phone", "Phone", &form.phone, "tel"),
        ("email", "Email", &form.email, "email"),
    ] {
        main.push_str(&format!(
            "<div class=\"form-group\"><label class=\"label\" for=\"{id}\">{label}</label><input class=\"input\" id=\"{id}\" name=\"{id}\" type=\"{kind}\" value=\"{}\"></div>\n",
            escape(value)
        ));
    }
    main.push_str("<button type=\"submit\" class=\"button\">Make the job</button>\n</form>\n<p><a href=\"/office\">Back to jobs</a></p>\n");
    let council = council(state, Some(session)).await?;
    let page = Page {
        council: &council,
        service: SERVICE,
        title: "Make a job",
        has_errors: error.is_some(),
        main,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(html(state, status, &page))
}

async fn new_job_form(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(session) = staff::session(&state, &headers).await? else {
        return Ok(Redirect::to("/office/sign-in").into_response());
    };
    new_job_page(&state, &session, &NewJobForm::default(), None).await
}

async fn create_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<NewJobForm>,
) -> Result<Response, ApiError> {
    let Some(session) = changing(&state, &headers, &form.csrf).await? else {
        return Ok(Redirect::to("/office/sign-in").into_response());
    };
    let choices = assignee_choices(&state, session.tenant).await?;
    let assignee = chosen_assignee(&choices, &form.assignee);
    let contact = if form.name.trim().is_empty() {
        Ok(None)
    } else {
        let mut errors = Vec::new();
        let updates = if !form.phone.trim().is_empty() {
            "sms"
        } else if !form.email.trim().is_empty() {
            "email"
        } else {
            "none"
        };
        let contact = crate::report::check_contact(
            &crate::report::ContactAnswers {
                name: &form.name,
                updates,
                phone: &form.phone,
                email: &form.email,
            },
            &mut errors,
        );
        match errors.first() {
            Some((_, message)) => Err(message.clone()),
            None => Ok(contact),
        }
    };
    let new = match (assignee, contact, form.service.parse()) {
        (Err(error), _, _) => Err(error.to_string()),
        (_, Err(message), _) => Err(message),
        (_, _, Err(_)) => Err("Choose a service".to_owned()),
        (Ok(assignee), Ok(contact), Ok(service)) => Ok(NewJob {
            service,
            priority: match form.priority.as_str() {
                "" => None,
                text => text.parse().ok(),
            },
            address: form.address.clone(),
            description: form.description.clone(),
            assignee,
            contact,
            photos: Vec::new(),
        }),
    };
    let checked = new.and_then(|new| {
        new.check(state.services())
            .map(|_| ())
            .map_err(|error| error.to_string())?;
        Ok(new)
    });
    let new = match checked {
        Ok(new) => new,
        Err(message) => return new_job_page(&state, &session, &form, Some(message)).await,
    };
    let author = Actor {
        user: session.user,
        role: Role::Dispatcher,
        device: None,
    };
    let now = state.clock().now();
    let created = crate::intake::create(&state, author, session.tenant, new, now).await?;
    Ok(Redirect::to(&format!("/office/jobs/{}", created.job)).into_response())
}
