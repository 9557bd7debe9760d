//! Jobs: `GET /` (a plain page of the demo council's jobs), `GET
//! /api/jobs` (the same as JSON), `POST /api/jobs` (the office makes a
//! job), `PUT /api/jobs/{job}/assignee` (`{"user": id}`, `{"team": id}`
//! or `{}` to unassign) and `DELETE /api/jobs/{job}/contact` (the
//! resident's contact details erased, on request or at the end of their
//! retention). These take the admin token until staff sign-in comes with
//! the back office ([8/8]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use doorstep_shared::contact::Channel;
use doorstep_shared::ids::{JobId, Name, ServiceId, TeamId, UserId};
use doorstep_shared::job::Assignee;
use doorstep_shared::summary::JobSummary;
use serde::Deserialize;

use crate::demo::DEMO_TENANT;
use crate::error::ApiError;
use crate::intake::{NewContact, NewJob};
use crate::pages::plain_page;
use crate::state::{AppState, system_actor};
use crate::sync::AdminToken;
use maud::{Markup, html};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/api/jobs", get(list).post(create))
        .route("/api/jobs/{job}/contact", delete(erase_contact))
        .route("/api/jobs/{job}/assignee", put(assign))
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

async fn summaries(state: &AppState) -> Result<Vec<JobSummary>, ApiError> {
    state
        .with_store(|store| store.job_summaries(DEMO_TENANT))
        .await
        .map_err(Into::into)
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<JobSummary>>, ApiError> {
    Ok(Json(summaries(&state).await?))
}

async fn page(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    let jobs = summaries(&state).await?;
    Ok(Html(
        plain_page("Doorstep — jobs", "", jobs_main(&jobs)).into_string(),
    ))
}

/// The home page's main part: how many jobs, and a row for each.
fn jobs_main(jobs: &[JobSummary]) -> Markup {
    html! {
        h1 { "Doorstep" }
        p { (jobs.len()) " jobs. Times are UTC." }
        table {
            thead {
                tr {
                    th { "Reference" }
                    th { "Service" }
                    th { "Status" }
                    th { "Address" }
                    th { "Appointment" }
                }
            }
            tbody {
                @for job in jobs {
                    tr {
                        td { (job.reference) }
                        td { (job.service_name) }
                        td { (job.status_label) }
                        td { (job.address) }
                        td {
                            @match (job.appointment_starts, job.appointment_ends) {
                                (Some(starts), Some(ends)) => {
                                    (starts.date()) " " (starts.time_of_day()) "–" (ends.time_of_day())
                                }
                                _ => { "Not booked" }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doorstep_shared::ids::JobId;

    #[test]
    fn markup_in_job_text_is_escaped() {
        let nasty = r#"<script>alert("x")</script> & 'y'"#;
        let job = JobSummary {
            job: JobId::from_u128(1),
            reference: nasty.to_owned(),
            service: "housing-repair"
                .parse()
                .unwrap_or_else(|error| panic!("{error}")),
            service_name: nasty.to_owned(),
            status: "created".parse().unwrap_or_else(|error| panic!("{error}")),
            status_label: nasty.to_owned(),
            address: nasty.to_owned(),
            appointment_starts: None,
            appointment_ends: None,
            pending_requests: 0,
        };
        let page = jobs_main(&[job]).into_string();
        assert!(!page.contains("<script>"), "{page}");
        assert_eq!(
            page.matches("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'y'")
                .count(),
            4,
            "{page}"
        );
    }
}
