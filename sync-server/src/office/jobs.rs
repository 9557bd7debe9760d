//! The council's jobs in the back office:
//!
//! - `GET /office?q=…&status=…&service=…`: the jobs, searched by
//!   reference or address and filtered by status and service;
//! - `GET /office/jobs/{job}`: one job, its photos, its history in plain
//!   words, and the messages its resident was sent with their delivery
//!   status; `GET /office/jobs/{job}/photos/{hash}` one of its photos;
//! - `POST /office/jobs/{job}/assignee` gives it to someone (it reaches
//!   their phone at its next sync, through the sync scopes); the history
//!   names the member of staff;
//! - `GET /office/jobs/new`, `POST /office/jobs`: a dispatcher makes a job.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use doorstep_shared::contact::Channel;
use doorstep_shared::ids::{BlobHash, UserId};
use doorstep_shared::job::{Assignee, Job};
use doorstep_shared::service::ServiceKind;
use doorstep_shared::summary::JobSummary;
use doorstep_shared::transition::{Actor, Role};
use serde::Deserialize;

use super::session::{CsrfForm, StaffSession};
use super::{
    assignee_choices, chosen_assignee, council_job, csrf_field, office_contact, select,
    select_with, staff_page, text_field,
};
use crate::error::ApiError;
use crate::intake::NewJob;
use crate::notify::outbox::OutboxRow;
use crate::office::history;
use crate::pages::layout::{error_summary, summary_list, table_head};
use crate::residents::progress::{slot_words, when};
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use maud::{Markup, html};

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/office", Caller::Staff, jobs),
        routes::get("/office/jobs/new", Caller::Staff, new_job_form),
        routes::post("/office/jobs", Caller::Staff, create_job),
        routes::get("/office/jobs/{job}", Caller::Staff, job_page),
        routes::get("/office/jobs/{job}/photos/{hash}", Caller::Staff, photo),
        routes::post("/office/jobs/{job}/assignee", Caller::Staff, assign),
    ]
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

async fn jobs(
    State(state): State<AppState>,
    session: StaffSession,
    Query(filter): Query<JobFilter>,
) -> Result<Response, ApiError> {
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

    let main = html! {
        h1.govuk-heading-l { "Jobs" }
        p.govuk-body {
            a.govuk-button href="/office/jobs/new" { "Make a job" }
            " "
            a.govuk-button.govuk-button--secondary href="/office/jobs/import" { "Import jobs from a file" }
        }
        form method="get" action="/office" role="search" {
            div.govuk-form-group {
                label.govuk-label for="q" { "Search by reference or address" }
                input.govuk-input #q name="q" type="search" value=(filter.q);
            }
            (select("status", "Status", &statuses, &filter.status))
            (select("service", "Service", &services, &filter.service))
            button.govuk-button.govuk-button--secondary type="submit" { "Show jobs" }
        }
        p role="status" { (shown.len()) " of " (all.len()) " jobs" }
        @if !shown.is_empty() {
            table.govuk-table {
                (table_head("Jobs", &["Reference", "Service", "Status", "Address", "Appointment"]))
                tbody.govuk-table__body {
                    @for job in &shown {
                        tr.govuk-table__row {
                            td.govuk-table__cell { a.govuk-link href={ "/office/jobs/" (job.job) } { (job.reference) } }
                            td.govuk-table__cell { (job.service_name) }
                            td.govuk-table__cell { strong.govuk-tag { (job.status_label) } }
                            td.govuk-table__cell { (job.address) }
                            td.govuk-table__cell { (appointment_words(job)) }
                        }
                    }
                }
            }
        }
    };
    staff_page(&state, &session, StatusCode::OK, "Jobs", main).await
}

/// A listed job's appointment in words, or "Not booked".
fn appointment_words(job: &JobSummary) -> String {
    match (job.appointment_starts, job.appointment_ends) {
        (Some(starts), Some(ends)) => {
            slot_words(doorstep_shared::job::Appointment { starts, ends })
        }
        _ => "Not booked".into(),
    }
}

async fn job_page(
    State(state): State<AppState>,
    session: StaffSession,
    Path(job_id): Path<String>,
) -> Result<Response, ApiError> {
    let (job_id, document) = council_job(&state, &session, &job_id).await?;
    let not_found = || ApiError::NotFound("there is no such job in your council".into());
    let job = Job::load(&document).map_err(|_| not_found())?;
    let Some(service) = state.services().get(&job.office.service).cloned() else {
        return Err(not_found());
    };
    let signers = doorstep_shared::policy::record_signers(&document, &doorstep_shared::policy::JOB);
    let actors: Vec<automerge::ActorId> = signers.values().cloned().collect();
    let devices = state
        .with_store(move |store| {
            let mut devices = BTreeMap::new();
            for actor in actors {
                if devices.contains_key(&actor) {
                    continue;
                }
                if let Some(user) = store.user_of_actor(&actor)? {
                    devices.insert(actor, user);
                }
            }
            Ok(devices)
        })
        .await?;
    let authors = history::Authors { signers, devices };
    let mut people = history::people(&job, &authors);
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
    let tenant = session.tenant;
    let (messages, team_names) = state
        .with_store(move |store| {
            let teams: BTreeMap<doorstep_shared::ids::TeamId, String> =
                store.teams(tenant)?.into_iter().collect();
            Ok((store.outbox_for_job(job_id)?, teams))
        })
        .await?;

    let status = job.status(&service);
    let assigned_to = match job.office.assignee {
        Some(Assignee::User(user)) => names
            .get(&user)
            .map_or("someone no longer listed", String::as_str)
            .to_owned(),
        Some(Assignee::Team(team)) => format!(
            "Team: {}",
            team_names
                .get(&team)
                .map_or("a team no longer listed", String::as_str)
        ),
        None => "Nobody yet".to_owned(),
    };
    let mut rows = vec![
        ("Service", html! { (service.name) }),
        (
            "Status",
            html! {
                strong.govuk-tag { (service.state_label(status)) }
                @for waiting in &job.office.waiting {
                    @if let Some(request) = job.requests.get(&waiting.request) {
                        br;
                        "Waiting for the photos to upload: " (service.state_label(&request.to))
                        " (since " (when(waiting.since)) ")"
                    }
                }
            },
        ),
        ("Address", html! { (job.office.address.one_line()) }),
        (
            "Appointment",
            html! {
                @match job.office.appointment {
                    Some(slot) => { (slot_words(slot)) }
                    None => { "Not booked" }
                }
            },
        ),
        ("Assigned to", html! { (assigned_to) }),
    ];
    if let Some(sla) = job.sla(&service) {
        let now = state.clock().now();
        let standing = match (sla.met_at, sla.is_breached(now)) {
            (Some(_), false) => " (met)",
            (Some(_), true) => " (met late)",
            (None, true) => " (missed)",
            (None, false) => "",
        };
        rows.push(("Due", html! { (when(sla.due)) (standing) }));
    }
    let choices = assignee_choices(&state, session.tenant).await?;
    let current = match job.office.assignee {
        Some(Assignee::User(user)) => format!("user:{user}"),
        Some(Assignee::Team(team)) => format!("team:{team}"),
        None => String::new(),
    };
    let contact = super::contact::load(&state, &session, job_id).await?;
    let photos = photos_section(&state, job_id, &job, &service, &names).await?;
    let main = html! {
        span.govuk-caption-l { (service.name) }
        h1.govuk-heading-l { (job.office.reference) }
        (summary_list(&rows))
        (super::steps::next_steps(
            &format!("/office/jobs/{job_id}"),
            &service,
            &job.facts(&service),
            job.office.appointment.is_some(),
        ))
        form method="post" action={ "/office/jobs/" (job_id) "/assignee" } {
            (csrf_field(&session))
            (select_with("assignee", "Assign to", "Nobody yet", &choices, &current))
            button.govuk-button.govuk-button--secondary type="submit" { "Assign" }
        }
        (super::contact::section(&session, job_id, contact.as_ref()))
        (photos)
        h2.govuk-heading-m { "History" }
        ol.timeline {
            @for (at, what) in history::history(&job, &service, &authors, &names) {
                li {
                    span.timeline__what { (what) }
                    span.timeline__when { (when(at)) }
                }
            }
        }
        h2.govuk-heading-m { "Messages to the resident" }
        @if messages.is_empty() {
            p.govuk-body { "None yet." }
        } @else {
            table.govuk-table {
                (table_head("Messages to the resident", &["About", "By", "Status", "Delivery"]))
                tbody.govuk-table__body {
                    @for message in &messages {
                        tr.govuk-table__row {
                            td.govuk-table__cell { (message.event.as_str()) }
                            td.govuk-table__cell { (channel_words(message.channel)) }
                            td.govuk-table__cell { (message_status(message)) }
                            td.govuk-table__cell { (message.delivery.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        p.govuk-body { a.govuk-link href="/office" { "Back to jobs" } }
    };
    staff_page(
        &state,
        &session,
        StatusCode::OK,
        &job.office.reference,
        main,
    )
    .await
}

/// How a message to the resident went: its channel in words.
fn channel_words(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "Text",
        Channel::Email => "Email",
        Channel::None => "None",
    }
}

/// A message's status in words: when it was sent, or why not.
fn message_status(message: &OutboxRow) -> String {
    match (message.status.as_str(), message.sent_at) {
        ("sent", Some(at)) => format!("Sent {}", when(at)),
        (other, _) => match &message.outcome {
            Some(why) => format!("{other}: {why}"),
            None => other.to_owned(),
        },
    }
}

#[derive(Deserialize)]
struct AssignForm {
    #[serde(default)]
    assignee: String,
}

async fn assign(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    CsrfForm { session, form }: CsrfForm<AssignForm>,
) -> Result<Response, ApiError> {
    let (job, _) = council_job(&state, &session, &job_id).await?;
    let choices = assignee_choices(&state, session.tenant).await?;
    let assignee = chosen_assignee(&choices, &form.assignee)?;
    let what = match choices.iter().find(|(value, _)| *value == form.assignee) {
        Some((_, label)) => format!("Assigned the job to {label}"),
        None => "Took the job off whoever had it".to_owned(),
    };
    let done = crate::office::edits::Done {
        by: Some(session.user),
        what,
    };
    crate::office::edits::edit_job(&state, job, done, move |office| office.assign(assignee))
        .await?;
    Ok(Redirect::to(&format!("/office/jobs/{job}")).into_response())
}

/// The job's photos, oldest first: each stored one as a thumbnail linking
/// to its display rendition, the others as waiting for their upload.
async fn photos_section(
    state: &AppState,
    job_id: doorstep_shared::ids::JobId,
    job: &Job,
    service: &doorstep_shared::service::ServiceDefinition,
    names: &BTreeMap<UserId, String>,
) -> Result<Markup, ApiError> {
    let mut photos: Vec<_> = job.photos.values().collect();
    photos.sort_by_key(|photo| photo.taken_at);
    let wanted: Vec<BlobHash> = photos
        .iter()
        .filter_map(|photo| photo.thumbnail.or(photo.display))
        .collect();
    let stored = state
        .with_store(move |store| {
            let mut stored = std::collections::BTreeSet::new();
            for hash in wanted {
                if store.stored_blob(hash)?.is_some() {
                    stored.insert(hash);
                }
            }
            Ok(stored)
        })
        .await?;
    let caption = |photo: &doorstep_shared::job::PhotoRef| {
        let by = names
            .get(&photo.taken_by.user)
            .map_or("someone no longer listed", String::as_str);
        let mut caption = format!(
            "{}, {} by {by}",
            service.photo_label(&photo.kind),
            when(photo.taken_at)
        );
        // Where it was taken is for staff: residents' pages never show it.
        if let Some(at) = photo.location {
            caption.push_str(&format!(", at {:.5}, {:.5}", at.lat, at.lon));
        }
        caption
    };
    Ok(html! {
        h2.govuk-heading-m { "Photos" }
        @if photos.is_empty() {
            p.govuk-body { "None yet." }
        } @else {
            div.photos {
                @for photo in photos {
                    @let shown = photo
                        .thumbnail
                        .or(photo.display)
                        .filter(|hash| stored.contains(hash));
                    figure {
                        @match shown {
                            Some(small) => {
                                @let large = photo.display.unwrap_or(small);
                                a.govuk-link href={ "/office/jobs/" (job_id) "/photos/" (large) } {
                                    img src={ "/office/jobs/" (job_id) "/photos/" (small) }
                                        alt={ (service.photo_label(&photo.kind)) " photo (opens the large picture)" }
                                        width="320" height="240" loading="lazy";
                                }
                            }
                            None => {
                                p.govuk-hint { "Not uploaded from the phone yet" }
                            }
                        }
                        figcaption { (caption(photo)) }
                    }
                }
            }
        }
    })
}

/// `GET /office/jobs/{job}/photos/{hash}`: one of the job's renditions
/// (thumbnail, display or kept original) for its council's staff.
async fn photo(
    State(state): State<AppState>,
    session: StaffSession,
    Path((job_id, hash)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (_, document) = council_job(&state, &session, &job_id).await?;
    let not_found = || ApiError::NotFound("that job has no such photo".into());
    let job = Job::load(&document).map_err(|_| not_found())?;
    let hash: BlobHash = hash.parse().map_err(|_| not_found())?;
    let belongs = job
        .photos
        .values()
        .any(|photo| [photo.thumbnail, photo.display, photo.original].contains(&Some(hash)));
    if !belongs {
        return Err(not_found());
    }
    let blob = state
        .with_store(move |store| store.stored_blob(hash))
        .await?
        .ok_or_else(|| ApiError::NotFound("that photo has not been uploaded yet".into()))?;
    Ok(crate::pages::photo_response(
        crate::photos::storage::open(&state, hash, blob).await?,
    ))
}

/// The answers of the new-job form.
#[derive(Debug, Default, Deserialize)]
struct NewJobForm {
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
    let main = html! {
        @if let Some(error) = &error {
            (error_summary(&[("service", error.clone())]))
        }
        h1.govuk-heading-l { "Make a job" }
        form method="post" action="/office/jobs" novalidate {
            (csrf_field(session))
            (select_with("service", "Service", "Choose a service", &services, &form.service))
            (select_with("priority", "Priority", "None", &priorities, &form.priority))
            div.govuk-form-group {
                label.govuk-label for="address" { "Address" }
                div.govuk-hint #address-hint { "On one line, with the postcode last." }
                input.govuk-input #address name="address" aria-describedby="address-hint" value=(form.address);
            }
            div.govuk-form-group {
                label.govuk-label for="description" { "What needs doing" }
                textarea #description name="description" rows="4" { (form.description) }
            }
            (select_with("assignee", "Assign to", "Nobody yet", &choices, &form.assignee))
            h2.govuk-heading-m { "The resident (optional)" }
            (text_field("name", "Name", &form.name, "text", None))
            (text_field("phone", "Phone", &form.phone, "tel", None))
            (text_field("email", "Email", &form.email, "email", None))
            button.govuk-button type="submit" { "Make the job" }
        }
        p.govuk-body { a.govuk-link href="/office" { "Back to jobs" } }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    staff_page(state, session, status, "Make a job", main).await
}

async fn new_job_form(
    State(state): State<AppState>,
    session: StaffSession,
) -> Result<Response, ApiError> {
    new_job_page(&state, &session, &NewJobForm::default(), None).await
}

async fn create_job(
    State(state): State<AppState>,
    CsrfForm { session, form }: CsrfForm<NewJobForm>,
) -> Result<Response, ApiError> {
    let choices = assignee_choices(&state, session.tenant).await?;
    let assignee = chosen_assignee(&choices, &form.assignee);
    let contact = office_contact(&form.name, &form.phone, &form.email);
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
