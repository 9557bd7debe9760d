//! `GET /`: where residents and staff start (no council's data); `GET
//! /api/jobs`: the signed-in member of staff's council's jobs as JSON;
//! with the admin token, for the council's other systems: `POST /api/jobs`
//! (a new job), `PUT /api/jobs/{job}/assignee` (`{"user": id}`,
//! `{"team": id}` or `{}` to unassign) and `DELETE /api/jobs/{job}/contact`
//! (the resident's contact details erased, on request or at the end of
//! their retention).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use doorstep_shared::contact::Channel;
use doorstep_shared::ids::{JobId, Name, ServiceId, TeamId, UserId};
use doorstep_shared::job::Assignee;
use doorstep_shared::summary::JobSummary;
use serde::Deserialize;

use crate::demo::DEMO_TENANT;
use crate::error::ApiError;
use crate::intake::{NewContact, NewJob};
use crate::office::staff::StaffSession;
use crate::pages::layout::Page;
use crate::pages::render;
use crate::routes::{self, Caller, Route};
use crate::state::{AppState, system_actor};
use crate::sync::AdminToken;
use maud::html;

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/", Caller::Anyone, start_page),
        routes::get("/api/jobs", Caller::Staff, list),
        routes::post("/api/jobs", Caller::Operator, create),
        routes::delete("/api/jobs/{job}/contact", Caller::Operator, erase_contact),
        routes::put("/api/jobs/{job}/assignee", Caller::Operator, assign),
    ]
}

/// `POST /api/jobs`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobRequest {
    service: String,
    priority: Option<String>,
    address: String,
    #[serde(default)]
    description: String,
    assignee: Option<AssigneeRequest>,
    contact: Option<ContactRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum AssigneeRequest {
    User(String),
    Team(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactRequest {
    name: String,
    phone: Option<String>,
    email: Option<String>,
    /// `sms`, `email` or `none`; texts if not said.
    preferred: Option<String>,
}

fn parsed<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, ApiError> {
    text.trim()
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("{text:?} is not a valid {what}")))
}

impl JobRequest {
    /// The request as a job to make, every field checked.
    fn into_new_job(self) -> Result<NewJob, ApiError> {
        let contact = match self.contact {
            None => None,
            Some(contact) => {
                let bad = |error: doorstep_shared::contact::InvalidContact| {
                    ApiError::BadRequest(error.to_string())
                };
                let phone = contact.phone.filter(|p| !p.trim().is_empty());
                let email = contact.email.filter(|e| !e.trim().is_empty());
                Some(NewContact {
                    name: contact.name,
                    phone: phone.as_deref().map(str::parse).transpose().map_err(bad)?,
                    email: email.as_deref().map(str::parse).transpose().map_err(bad)?,
                    preferred: match contact.preferred.as_deref() {
                        None | Some("sms") => Channel::Sms,
                        Some("email") => Channel::Email,
                        Some("none") => Channel::None,
                        Some(other) => {
                            return Err(ApiError::BadRequest(format!(
                                "{other:?} is not a channel: use sms, email or none"
                            )));
                        }
                    },
                })
            }
        };
        Ok(NewJob {
            service: parsed::<ServiceId>("service id", &self.service)?,
            priority: self
                .priority
                .map(|p| parsed::<Name>("priority", &p))
                .transpose()?,
            address: self.address,
            description: self.description,
            assignee: match self.assignee {
                None => None,
                Some(AssigneeRequest::User(user)) => {
                    Some(Assignee::User(parsed::<UserId>("user id", &user)?))
                }
                Some(AssigneeRequest::Team(team)) => {
                    Some(Assignee::Team(parsed::<TeamId>("team id", &team)?))
                }
            },
            contact,
            photos: Vec::new(),
        })
    }
}

async fn create(
    State(state): State<AppState>,
    _: AdminToken,
    Json(request): Json<JobRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let new = request.into_new_job()?;
    let now = state.clock().now();
    let created = crate::intake::create(&state, system_actor(), DEMO_TENANT, new, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "job": created.job.to_string(),
            "reference": created.reference,
        })),
    ))
}

/// `PUT /api/jobs/{job}/assignee`'s body: one of the two, or neither.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignRequest {
    user: Option<String>,
    team: Option<String>,
}

async fn assign(
    State(state): State<AppState>,
    Path(job): Path<String>,
    _: AdminToken,
    Json(request): Json<AssignRequest>,
) -> Result<StatusCode, ApiError> {
    let job: JobId = parsed("job id", &job)?;
    let assignee = match (request.user, request.team) {
        (Some(user), None) => {
            let user = parsed::<UserId>("user id", &user)?;
            if state
                .with_store(move |store| store.user_name(user))
                .await?
                .is_none()
            {
                return Err(ApiError::BadRequest(format!("there is no user {user}")));
            }
            Some(Assignee::User(user))
        }
        (None, Some(team)) => Some(Assignee::Team(parsed::<TeamId>("team id", &team)?)),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "assign to a user or a team, not both".into(),
            ));
        }
    };
    let what = match assignee {
        Some(Assignee::User(user)) => format!("Assigned the job to user {user}"),
        Some(Assignee::Team(team)) => format!("Assigned the job to team {team}"),
        None => "Took the job off whoever had it".to_owned(),
    };
    let done = crate::office::edits::Done { by: None, what };
    crate::office::edits::edit_job(&state, job, done, move |office| office.assign(assignee))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn erase_contact(
    State(state): State<AppState>,
    Path(job): Path<String>,
    _: AdminToken,
) -> Result<StatusCode, ApiError> {
    let job: JobId = parsed("job id", &job)?;
    let now = state.clock().now();
    let erased = state
        .with_store(move |store| store.erase_contact(DEMO_TENANT, job, now))
        .await?;
    if !erased {
        return Err(ApiError::NotFound(format!(
            "job {job} has no contact details to erase"
        )));
    }
    let done = crate::office::edits::Done {
        by: None,
        what: "Erased the resident's contact details".to_owned(),
    };
    crate::office::edits::edit_job(&state, job, done, |_| Ok(())).await?;
    state.notify(crate::state::Changed {
        tenant: DEMO_TENANT,
        by: None,
    });
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/jobs`: the signed-in member of staff's council's jobs.
async fn list(
    State(state): State<AppState>,
    session: StaffSession,
) -> Result<Json<Vec<JobSummary>>, ApiError> {
    let tenant = session.tenant;
    Ok(Json(
        state
            .with_store(move |store| store.job_summaries(tenant))
            .await?,
    ))
}

/// `GET /`: where each kind of visitor starts. It shows no council's data.
async fn start_page(State(state): State<AppState>) -> Response {
    let page = Page {
        council: "Doorstep",
        service: "Doorstep",
        title: "Doorstep",
        has_errors: false,
        staff: false,
        main: html! {
            h1.govuk-heading-l { "Doorstep" }
            h2.govuk-heading-m { "Residents" }
            ul.govuk-list {
                li { a.govuk-link href="/report" { "Report a repair" } }
                li { a.govuk-link href="/missed-bin" { "Report a missed bin collection" } }
            }
            p.govuk-body { "To follow a request, use the link in the text or email we sent you." }
            h2.govuk-heading-m { "Council staff" }
            ul.govuk-list {
                li { a.govuk-link href="/office/sign-in" { "Sign in to the back office" } }
                li { a.govuk-link href="/app/" { "Open the app for operatives and crews" } }
            }
        },
    };
    render(&state, StatusCode::OK, &page)
}
