//! The Today board: the council's jobs booked for today (UK time), by
//! who has them and where each stands.
//!
//! - `GET /office/today`: the board, whole, so it works with JavaScript
//!   off (reload for news);
//! - `GET /office/today/events`: server-sent events, one `board` event
//!   with the board's HTML at once and again whenever a sync or an office
//!   edit changes the council's documents on this node, and at least every
//!   30 seconds (what another node accepted shows then);
//! - `GET /office/board.js`: the few lines that put each event on the page.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use doorstep_shared::ids::{JobId, TeamId, TenantId, UserId};
use doorstep_shared::summary::JobSummary;
use doorstep_shared::time::{Timestamp, uk};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::session::StaffSession;
use super::staff_page;
use crate::error::ApiError;
use crate::office::staff;
use crate::residents::progress::slot_words;
use crate::routes::{self, Caller, Route};
use crate::state::{AppState, Changed};
use maud::{Markup, html};

/// How often the board is sent again with nothing heard: what other nodes
/// accepted reaches this node's board at the latest then.
const REFRESH: Duration = Duration::from_secs(30);

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/office/today", Caller::Staff, page),
        routes::get("/office/today/events", Caller::Staff, events),
        routes::get("/office/board.js", Caller::Anyone, script),
    ]
}

async fn page(State(state): State<AppState>, session: StaffSession) -> Result<Response, ApiError> {
    let board = render(&state, session.tenant).await?;
    let main = html! {
        h1.govuk-heading-l { "Today" }
        p #board-updated role="status" class="govuk-hint" {
            "As of page load. The board updates itself as phones sync."
        }
        div #board { (board) }
        script src="/office/board.js" defer {}
    };
    staff_page(&state, &session, StatusCode::OK, "Today", main).await
}

async fn script() -> Response {
    let mut response = include_str!("../../../assets/scripts/board.js").into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    response
}

async fn events(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(session) = staff::session(&state, &headers).await? else {
        return Err(ApiError::Unauthorized("sign in to see the board".into()));
    };
    let changes = state.subscribe();
    let tenant = session.tenant;
    let stream = board_events(state, headers, tenant, changes);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// What the event stream waits for between boards.
struct Watch {
    state: AppState,
    headers: HeaderMap,
    tenant: TenantId,
    changes: tokio::sync::broadcast::Receiver<Changed>,
    first: bool,
}

/// The board now, then again after each change to the council's
/// documents; ends when the session does.
fn board_events(
    state: AppState,
    headers: HeaderMap,
    tenant: TenantId,
    changes: tokio::sync::broadcast::Receiver<Changed>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let watch = Watch {
        state,
        headers,
        tenant,
        changes,
        first: true,
    };
    futures_util::stream::unfold(watch, |mut watch| async move {
        if !watch.first && !wait_for_change(&mut watch).await {
            return None;
        }
        watch.first = false;
        // A session signed out or ended meanwhile ends the stream.
        match staff::session(&watch.state, &watch.headers).await {
            Ok(Some(_)) => {}
            _ => return None,
        }
        let board = render(&watch.state, watch.tenant)
            .await
            .unwrap_or_else(|_| html! { p.govuk-body { "The board could not be read just now." } });
        // An event's data is text: the board's HTML, on one line.
        let event = Event::default()
            .event("board")
            .data(board.into_string().replace(['\r', '\n'], " "));
        Some((Ok(event), watch))
    })
}

/// Waits for a change to the council's documents (or the refresh time);
/// false once no more changes can come.
async fn wait_for_change(watch: &mut Watch) -> bool {
    loop {
        match tokio::time::timeout(REFRESH, watch.changes.recv()).await {
            Err(_) => return true,
            Ok(Ok(changed)) if changed.tenant == watch.tenant => return true,
            Ok(Ok(_)) => {}
            Ok(Err(RecvError::Lagged(_))) => return true,
            Ok(Err(RecvError::Closed)) => return false,
        }
    }
}

/// Whose a job is, as the board groups it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Holder {
    Person(String, UserId),
    Team(String, TeamId),
    Nobody,
}

/// The board for a council now.
async fn render(state: &AppState, tenant: TenantId) -> Result<Markup, ApiError> {
    let now = state.clock().now();
    let (summaries, assignees, people, teams) = state
        .with_store(move |store| {
            Ok((
                store.job_summaries(tenant)?,
                store.job_assignees(tenant)?,
                store.roster(tenant)?,
                store.teams(tenant)?,
            ))
        })
        .await?;
    let names: BTreeMap<UserId, String> = people
        .into_iter()
        .map(|person| (person.user, person.name))
        .collect();
    let team_names: BTreeMap<TeamId, String> = teams.into_iter().collect();
    let assignees: BTreeMap<JobId, (Option<UserId>, Option<TeamId>)> = assignees
        .into_iter()
        .map(|(job, user, team)| (job, (user, team)))
        .collect();
    Ok(board_html(&today(&summaries, now), |job| {
        match assignees.get(&job).copied().unwrap_or((None, None)) {
            (Some(user), _) => Holder::Person(
                names
                    .get(&user)
                    .cloned()
                    .unwrap_or_else(|| "Someone".into()),
                user,
            ),
            (None, Some(team)) => Holder::Team(
                team_names
                    .get(&team)
                    .cloned()
                    .unwrap_or_else(|| "A team".into()),
                team,
            ),
            (None, None) => Holder::Nobody,
        }
    }))
}

/// The jobs booked for today, UK time.
fn today(summaries: &[JobSummary], now: Timestamp) -> Vec<&JobSummary> {
    let (date, _) = uk::local(now);
    summaries
        .iter()
        .filter(|job| {
            job.appointment_starts
                .is_some_and(|starts| uk::local(starts).0 == date)
        })
        .collect()
}

/// The board: a count per status, then a table with a row per person or
/// team and a column per status, each cell listing its jobs.
fn board_html(jobs: &[&JobSummary], holder: impl Fn(JobId) -> Holder) -> Markup {
    if jobs.is_empty() {
        return html! { p.govuk-body { "No jobs are booked for today." } };
    }
    // Statuses in the order they first appear among today's jobs, which
    // the summaries give by appointment.
    let mut statuses: Vec<(&str, &str)> = Vec::new();
    for job in jobs {
        if !statuses.iter().any(|(id, _)| *id == job.status.as_str()) {
            statuses.push((job.status.as_str(), &job.status_label));
        }
    }
    let mut rows: BTreeMap<Holder, Vec<&JobSummary>> = BTreeMap::new();
    for job in jobs {
        rows.entry(holder(job.job)).or_default().push(job);
    }
    let count = |id: &str| jobs.iter().filter(|job| job.status.as_str() == id).count();
    html! {
        p.board-counts {
            (jobs.len()) " jobs today: "
            @for (at, (id, label)) in statuses.iter().enumerate() {
                @if at > 0 { ", " }
                span data-status=(id) { (label) " " (count(id)) }
            }
        }
        table.govuk-table.board {
            caption.govuk-table__caption.govuk-visually-hidden { "Today's jobs by person and status" }
            thead.govuk-table__head {
                tr.govuk-table__row {
                    th.govuk-table__header scope="col" { "Who" }
                    @for (_, label) in &statuses {
                        th.govuk-table__header scope="col" { (label) }
                    }
                }
            }
            tbody.govuk-table__body {
                @for (holder, jobs) in &rows {
                    tr.govuk-table__row {
                        th.govuk-table__header scope="row" {
                            @match holder {
                                Holder::Person(name, _) => { (name) }
                                Holder::Team(name, _) => { "Team: " (name) }
                                Holder::Nobody => { "Not assigned" }
                            }
                        }
                        @for (id, _) in &statuses {
                            @let here: Vec<&&JobSummary> = jobs
                                .iter()
                                .filter(|job| job.status.as_str() == *id)
                                .collect();
                            td.govuk-table__cell {
                                @if !here.is_empty() {
                                    ul.board-jobs {
                                        @for job in here {
                                            li {
                                                a.govuk-link href={ "/office/jobs/" (job.job) } title={ (job.address) ", " (slot(job)) } {
                                                    (job.reference)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A job's appointment in words, or nothing.
fn slot(job: &JobSummary) -> String {
    match (job.appointment_starts, job.appointment_ends) {
        (Some(starts), Some(ends)) => {
            slot_words(doorstep_shared::job::Appointment { starts, ends })
        }
        _ => String::new(),
    }
}
