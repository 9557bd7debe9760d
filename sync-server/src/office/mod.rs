//! The back office: plain HTML pages that work with JavaScript off (the
//! Today board updates itself when it is on). Each part has its module:
//!
//! - sign-in here: `GET /office/sign-in`, `POST /office/sign-in` (`email`,
//!   `password`) give a session cookie (five wrong passwords in a row lock
//!   the account's sign-in for 15 minutes); `POST /office/sign-out`;
//!   `POST /office/council` moves the session to another council the
//!   user works for (a chooser above every page when there are several);
//! - [`jobs`]: the council's jobs, searched and filtered; a job's page with
//!   its history and messages; assigning; making a job;
//! - [`contact`]: correcting a resident's contact details from the job's
//!   page (devices may not write them);
//! - [`import`]: jobs from a CSV file, all or none, with a report of every
//!   row's problems;
//! - [`board`]: today's jobs by operative and status, kept up to date by
//!   server-sent events as devices sync;
//! - [`rounds`]: a crew's round for a day from a property list, reordered
//!   and assigned;
//! - [`steps`]: the dispatcher's steps of each service on a job's or a
//!   round's page (cancelling, resuming, booking for a resident who
//!   phoned, starting and finishing a round...);
//! - [`devices`]: enrolment codes (with a QR code), the council's devices
//!   with their last sync, revoking;
//! - [`people`]: people and teams: add, deactivate, move between teams
//!   (administrators only).
//!
//! Every page but sign-in needs a session; without one it redirects to
//! sign-in. Every form that changes something carries the session's form
//! token, and is refused (403) without it.

mod api;
mod board;
mod contact;
mod devices;
pub mod edits;
pub(crate) mod history;
mod import;
mod jobs;
mod people;
mod rounds;
mod session;
pub mod staff;
mod steps;
mod upload;

pub use edits::{Done, edit_job, edit_job_document};

/// The back office's file readers, for the fuzz targets
/// (`tests/src/fuzz.rs`): what they make of any bytes, without a server.
pub mod readers {
    use doorstep_shared::service::ServiceCatalog;

    /// A jobs file as the import reads it: its rows, or why the file as a
    /// whole is refused.
    pub fn jobs_file(file: &[u8], services: &ServiceCatalog) -> Result<usize, String> {
        super::import::read_file(file, services).map_err(|problem| problem.0)
    }

    /// A property list as a new round reads it: its stops, or its problems.
    pub fn property_list(file: &[u8]) -> Result<usize, Vec<String>> {
        super::rounds::read_properties(file).map(|stops| stops.len())
    }
}
pub use people::{DeviceRow, Person};
pub(crate) use session::{admin_only, to_sign_in};

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use doorstep_shared::ids::{JobId, TenantId};
use doorstep_shared::job::Assignee;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::transition::Role;
use serde::Deserialize;

use crate::error::ApiError;
use crate::pages::layout::{Page, error_message, error_summary};
use crate::pages::render as html;
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use crate::store::staff::StaffRole;
use crate::throttle::{Bucket, ClientAddress};
use maud::{Markup, html};
use session::{Button, CsrfForm, StaffSession};

const SERVICE: &str = "Back office";

/// The back office's pages (errors answered as pages) and the jobs API.
pub(crate) fn routes() -> Vec<Route> {
    let pages = [
        vec![
            routes::get("/office/sign-in", Caller::Anyone, sign_in_form),
            routes::post("/office/sign-in", Caller::Anyone, sign_in).throttled(Bucket::SignIn),
            routes::post("/office/sign-out", Caller::Staff, sign_out),
            routes::post("/office/council", Caller::Staff, switch_council),
        ],
        jobs::routes(),
        contact::routes(),
        import::routes(),
        board::routes(),
        rounds::routes(),
        steps::routes(),
        devices::routes(),
        people::routes(),
    ];
    let mut routes = api::routes();
    routes.extend(routes::pages(pages.into_iter().flatten().collect()));
    routes
}

/// A back-office page for a signed-in member of staff: who is signed in
/// and the back office's sections above `main`.
async fn staff_page(
    state: &AppState,
    session: &StaffSession,
    status: StatusCode,
    title: &str,
    main: Markup,
) -> Result<Response, ApiError> {
    let council = council(state, Some(session)).await?;
    let user = session.user;
    let councils: Vec<(String, String)> = state
        .with_store(move |store| {
            let mut councils = Vec::new();
            for (tenant, _) in store.staff_roles(user)? {
                let name = store
                    .tenant_name(tenant)?
                    .unwrap_or_else(|| tenant.to_string());
                councils.push((tenant.to_string(), name));
            }
            Ok(councils)
        })
        .await?;
    let tenant = session.tenant.to_string();
    let body = html! {
        (signed_in_bar(session))
        @if councils.len() > 1 {
            form.phase method="post" action="/office/council" {
                (csrf_field(session))
                (select_with("council", "Working for", "Choose a council", &councils, &tenant))
                button.govuk-button.govuk-button--secondary type="submit" { "Switch council" }
            }
        }
        (main)
    };
    let page = Page {
        council: &council,
        service: SERVICE,
        title,
        has_errors: status == StatusCode::BAD_REQUEST,
        staff: true,
        main: body,
    };
    Ok(html(state, status, &page))
}

/// Why the sign-in form is shown again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SignInProblem {
    None,
    Refused,
    Locked,
}

fn sign_in_main(email: &str, token: &str, problem: SignInProblem) -> Markup {
    let problem_text = match problem {
        SignInProblem::None => None,
        SignInProblem::Refused => {
            Some("Enter the email address and password of your staff account".to_owned())
        }
        SignInProblem::Locked => Some(format!(
            "There have been too many wrong passwords for this email address from here: try again in {} minutes, or ask an administrator",
            crate::throttle::LOCK_MINUTES
        )),
    };
    let refused = problem_text.is_some();
    html! {
        @if let Some(message) = problem_text {
            (error_summary(&[("email", message)]))
        }
        h1.govuk-heading-l { "Sign in" }
        form method="post" action="/office/sign-in" novalidate {
            input type="hidden" name="csrf" value=(token);
            div.govuk-form-group.govuk-form-group--error[refused] {
                label.govuk-label for="email" { "Email address" }
                input.govuk-input #email name="email" type="email" autocomplete="username" spellcheck="false" value=(email);
            }
            div.govuk-form-group.govuk-form-group--error[refused] {
                label.govuk-label for="password" { "Password" }
                input.govuk-input #password name="password" type="password" autocomplete="current-password";
            }
            button.govuk-button type="submit" { "Sign in" }
        }
    }
}

async fn council(state: &AppState, session: Option<&StaffSession>) -> Result<String, ApiError> {
    let tenant = session.map_or(crate::demo::DEMO_TENANT, |session| session.tenant);
    Ok(state
        .with_store(move |store| store.tenant_name(tenant))
        .await?
        .unwrap_or_else(|| "Doorstep".into()))
}

/// The sign-in page, with a fresh form token in the form and its cookie.
async fn sign_in_page(
    state: &AppState,
    status: StatusCode,
    email: &str,
    problem: SignInProblem,
) -> Result<Response, ApiError> {
    let token = crate::secrets::device_token()?;
    let council = council(state, None).await?;
    let page = Page {
        council: &council,
        service: SERVICE,
        title: "Sign in",
        has_errors: problem != SignInProblem::None,
        staff: true,
        main: (sign_in_main(email, &token, problem)),
    };
    let mut response = html(state, status, &page);
    let cookie = staff::sign_in_cookie(&token, state.secure_cookies());
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

async fn sign_in_form(State(state): State<AppState>) -> Result<Response, ApiError> {
    sign_in_page(&state, StatusCode::OK, "", SignInProblem::None).await
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, ApiError> {
    let cookie = staff::cookie(&headers, staff::SIGN_IN_COOKIE).unwrap_or_default();
    if cookie.is_empty() || !staff::same_token(&cookie, &form.csrf) {
        return Err(ApiError::Forbidden(
            "this form is out of date: go back, reload the page and try again".into(),
        ));
    }
    let now = state.clock().now();
    let signed_in = staff::sign_in(&state, &form.email, &form.password, client, now).await?;
    let problem = match signed_in {
        staff::SignIn::Session(token) => {
            let mut response = Redirect::to("/office").into_response();
            let cookie =
                HeaderValue::from_str(&staff::session_cookie(&token, state.secure_cookies()))
                    .map_err(|_| {
                        ApiError::BadRequest("could not make the session cookie".into())
                    })?;
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            return Ok(response);
        }
        staff::SignIn::Refused => SignInProblem::Refused,
        staff::SignIn::Locked => SignInProblem::Locked,
    };
    let status = match problem {
        SignInProblem::Locked => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::UNAUTHORIZED,
    };
    sign_in_page(&state, status, &form.email, problem).await
}

#[derive(Deserialize)]
struct CouncilForm {
    #[serde(default)]
    council: String,
}

/// `POST /office/council`: works for another of the user's councils from
/// now on in this session.
async fn switch_council(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm { form, .. }: CsrfForm<CouncilForm>,
) -> Result<Response, ApiError> {
    let refused = || ApiError::Forbidden("you do not work for that council".into());
    let tenant: TenantId = form.council.parse().map_err(|_| refused())?;
    if !staff::switch_council(&state, &headers, tenant).await? {
        return Err(refused());
    }
    Ok(Redirect::to("/office").into_response())
}

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    _: CsrfForm<Button>,
) -> Result<Response, ApiError> {
    staff::sign_out(&state, &headers).await?;
    let mut response = Redirect::to("/office/sign-in").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&staff::cleared_cookie(state.secure_cookies())) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Whom a job can be given to: the council's field staff, then its teams,
/// as `(user:ID | team:ID, label)`.
async fn assignee_choices(
    state: &AppState,
    tenant: TenantId,
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
        .map_err(Into::into)
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

/// A labelled text input (`kind`: `text`, `tel`, `email`), with its error
/// message above it when the last answer was refused.
fn text_field(id: &str, label: &str, value: &str, kind: &str, error: Option<&str>) -> Markup {
    html! {
        div.govuk-form-group {
            label.govuk-label for=(id) { (label) }
            @if let Some(message) = error {
                (error_message(id, message))
            }
            input.govuk-input id=(id) name=(id) type=(kind) value=(value);
        }
    }
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

/// A select of `options` (`(value, label)`) with "All" first.
fn select(id: &str, label: &str, options: &[(String, String)], chosen: &str) -> Markup {
    select_with(id, label, "All", options, chosen)
}

/// A select of `options` (`(value, label)`) with `empty` (value "") first.
fn select_with(
    id: &str,
    label: &str,
    empty: &str,
    options: &[(String, String)],
    chosen: &str,
) -> Markup {
    html! {
        div.govuk-form-group {
            label.govuk-label for=(id) { (label) }
            select.govuk-select id=(id) name=(id) {
                option value="" { (empty) }
                @for (value, text) in options {
                    option value=(value) selected[value == chosen] { (text) }
                }
            }
        }
    }
}

/// The hidden field that carries the session's form token.
fn csrf_field(session: &StaffSession) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// Who is signed in, the sign-out button, and the back office's sections.
fn signed_in_bar(session: &StaffSession) -> Markup {
    let role = match session.role {
        StaffRole::Dispatcher => "dispatcher",
        StaffRole::Admin => "administrator",
    };
    let mut sections = vec![
        ("/office/today", "Today"),
        ("/office", "Jobs"),
        ("/office/rounds", "Rounds"),
        ("/office/devices", "Devices"),
    ];
    if session.role == StaffRole::Admin {
        sections.push(("/office/people", "People and teams"));
    }
    html! {
        form.phase method="post" action="/office/sign-out" {
            (csrf_field(session))
            "Signed in as " (session.name) " (" (role) "). "
            button.govuk-button.govuk-button--secondary type="submit" { "Sign out" }
        }
        nav.office-nav aria-label="Back office" {
            ul.govuk-list.govuk-list--bullet {
                @for (href, label) in sections {
                    li { a.govuk-link href=(href) { (label) } }
                }
            }
        }
    }
}

/// The resident of a job staff make: none without a name; told by text if
/// there is a phone, else by email if there is an address. The first
/// problem, in words, if the details are unusable.
fn office_contact(
    name: &str,
    phone: &str,
    email: &str,
) -> Result<Option<crate::intake::NewContact>, String> {
    if name.trim().is_empty() {
        return Ok(None);
    }
    let updates = if !phone.trim().is_empty() {
        "sms"
    } else if !email.trim().is_empty() {
        "email"
    } else {
        "none"
    };
    let mut errors = Vec::new();
    let contact = crate::residents::report::check_contact(
        &crate::residents::report::ContactAnswers {
            name,
            updates,
            phone,
            email,
        },
        &mut errors,
    );
    match errors.into_iter().next() {
        Some((_, message)) => Err(message),
        None => Ok(contact),
    }
}
