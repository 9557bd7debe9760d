//! People and teams, for a council's administrators:
//!
//! - `GET /office/people`: everyone who works or worked for the council,
//!   with their role, team and whether they are active; forms to add a
//!   person and a team;
//! - `POST /office/people` (`name`, `role`, `team`, `email`): adds a
//!   person; with an email they also get a back-office sign-in, whose
//!   first password is shown once;
//! - `POST /office/people/{user}/active` (`active`): deactivates (their
//!   phones and sign-in are refused at once) or reactivates someone;
//! - `POST /office/people/{user}/team` (`team`): moves someone to another
//!   team (or none); their phones see the new team's work at their next
//!   sync;
//! - `POST /office/teams` (`name`): adds a team.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use doorstep_shared::ids::{DeviceId, TeamId, UserId};
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::Role;
use serde::Deserialize;

use super::session::{AdminForm, AdminSession, CsrfForm, StaffSession};
use super::{csrf_field, select_with, staff_page};
use crate::error::ApiError;
use crate::office::staff;
use crate::pages::layout::{error_summary, summary_list, table_head};
use crate::routes::{self, Caller, Route};
use crate::secrets;
use crate::state::AppState;
use crate::store::staff::StaffRole;
use maud::{Markup, html};

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/office/people", Caller::Administrator, list),
        routes::post("/office/people", Caller::Administrator, add_person),
        routes::post(
            "/office/people/{user}/active",
            Caller::Administrator,
            set_active,
        ),
        routes::post(
            "/office/people/{user}/team",
            Caller::Administrator,
            move_team,
        ),
        routes::post("/office/teams", Caller::Administrator, add_team),
    ]
}

/// The roles a person can be given here.
const ROLES: [Role; 3] = [Role::Operative, Role::Crew, Role::Dispatcher];

/// The add-a-person form's answers.
#[derive(Debug, Default, Deserialize)]
struct PersonForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    email: String,
}

async fn list(
    State(state): State<AppState>,
    AdminSession(session): AdminSession,
) -> Result<Response, ApiError> {
    people_page(&state, &session, &PersonForm::default(), None).await
}

async fn people_page(
    state: &AppState,
    session: &StaffSession,
    form: &PersonForm,
    error: Option<(&str, String)>,
) -> Result<Response, ApiError> {
    let tenant = session.tenant;
    let (people, teams) = state
        .with_store(move |store| Ok((store.roster(tenant)?, store.teams(tenant)?)))
        .await?;
    let team_names: BTreeMap<TeamId, String> = teams.iter().cloned().collect();
    let team_choices: Vec<(String, String)> = teams
        .iter()
        .map(|(team, name)| (team.to_string(), name.clone()))
        .collect();
    let roles: Vec<(String, String)> = ROLES
        .iter()
        .map(|role| (role.as_str().to_owned(), role_label(*role).to_owned()))
        .collect();
    let main = html! {
        @if let Some((field, message)) = &error {
            (error_summary(&[(*field, message.clone())]))
        }
        h1.govuk-heading-l { "People and teams" }
        table.govuk-table {
            (table_head("People", &["Name", "Role", "Team", "Status"]))
            tbody.govuk-table__body {
                @for person in &people {
                    tr.govuk-table__row {
                        th.govuk-table__header scope="row" { (person.name) }
                        td.govuk-table__cell { (person.role) }
                        td.govuk-table__cell {
                            @if person.active {
                                form method="post" action={ "/office/people/" (person.user) "/team" } {
                                    (csrf_field(session))
                                    (team_select(person, &team_choices))
                                    button type="submit" class="govuk-button govuk-button--secondary" { "Move" }
                                }
                            } @else {
                                (person
                                    .teams
                                    .iter()
                                    .filter_map(|team| team_names.get(team).cloned())
                                    .collect::<Vec<_>>()
                                    .join(", "))
                            }
                        }
                        td.govuk-table__cell { (status_cell(session, person)) }
                    }
                }
            }
        }
        h2.govuk-heading-m { "Add a person" }
        form method="post" action="/office/people" novalidate {
            (csrf_field(session))
            div.govuk-form-group {
                label.govuk-label for="name" { "Full name" }
                input.govuk-input #name name="name" autocomplete="off" value=(form.name);
            }
            (select_with("role", "Role", "Choose a role", &roles, &form.role))
            (select_with("team", "Team", "No team", &team_choices, &form.team))
            div.govuk-form-group {
                label.govuk-label for="email" { "Email for back-office sign-in (dispatchers)" }
                div.govuk-hint #email-hint { "Leave empty for people who only use the phone app." }
                input.govuk-input #email name="email" type="email" aria-describedby="email-hint" spellcheck="false" value=(form.email);
            }
            button type="submit" class="govuk-button" { "Add the person" }
        }
        h2.govuk-heading-m { "Add a team" }
        form method="post" action="/office/teams" novalidate {
            (csrf_field(session))
            div.govuk-form-group {
                label.govuk-label for="team-name" { "Team name" }
                input.govuk-input #team-name name="name" autocomplete="off";
            }
            button type="submit" class="govuk-button govuk-button--secondary" { "Add the team" }
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    staff_page(state, session, status, "People and teams", main).await
}

/// The select that moves an active person to another team (or none):
/// `id` `team-{user}` so each row's is its own, named `team` as the form
/// wants it.
fn team_select(person: &Person, team_choices: &[(String, String)]) -> Markup {
    let id = format!("team-{}", person.user);
    let current = person
        .teams
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    html! {
        div.govuk-form-group {
            label.govuk-label for=(id) { "Team of " (person.name) }
            select.govuk-select id=(id) name="team" {
                option value="" { "No team" }
                @for (value, text) in team_choices {
                    option value=(value) selected[*value == current] { (text) }
                }
            }
        }
    }
}

/// Whether a person is active, with the button that changes it (nobody
/// changes their own).
fn status_cell(session: &StaffSession, person: &Person) -> Markup {
    if person.user == session.user {
        return html! { "Active (you)" };
    }
    let (now, then, action) = if person.active {
        ("Active", "false", "Deactivate")
    } else {
        ("Deactivated", "true", "Reactivate")
    };
    html! {
        form method="post" action={ "/office/people/" (person.user) "/active" } {
            (csrf_field(session))
            input type="hidden" name="active" value=(then);
            (now) " "
            button type="submit" class="govuk-button govuk-button--secondary" aria-label={ (action) " " (person.name) } { (action) }
        }
    }
}

/// A role as the add-a-person form offers it.
fn role_label(role: Role) -> &'static str {
    match role {
        Role::Operative => "Repair operative",
        Role::Crew => "Waste crew",
        Role::Dispatcher => "Dispatcher",
        Role::Resident | Role::System => "Other",
    }
}

/// A team the form names, if it is one of the council's (`Ok(None)` for
/// "no team").
async fn council_team(
    state: &AppState,
    session: &StaffSession,
    text: &str,
) -> Result<Result<Option<TeamId>, ()>, ApiError> {
    if text.is_empty() {
        return Ok(Ok(None));
    }
    let tenant = session.tenant;
    let teams = state.with_store(move |store| store.teams(tenant)).await?;
    Ok(teams
        .into_iter()
        .find(|(team, _)| team.to_string() == text)
        .map(|(team, _)| Some(team))
        .ok_or(()))
}

async fn add_person(
    State(state): State<AppState>,
    AdminForm(CsrfForm { session, form }): AdminForm<PersonForm>,
) -> Result<Response, ApiError> {
    let name = form.name.trim().to_owned();
    let email = form.email.trim().to_lowercase();
    let role = ROLES
        .iter()
        .copied()
        .find(|role| role.as_str() == form.role);
    let team = council_team(&state, &session, &form.team).await?;
    let problem = if name.is_empty() {
        Some(("name", "Enter the person's full name".to_owned()))
    } else if name.chars().count() > 100 {
        Some(("name", "Names must be 100 characters or fewer".to_owned()))
    } else if role.is_none() {
        Some(("role", "Choose a role".to_owned()))
    } else if team.is_err() {
        Some(("team", "Choose one of your council's teams".to_owned()))
    } else if !email.is_empty()
        && email
            .parse::<doorstep_shared::contact::EmailAddress>()
            .is_err()
    {
        Some((
            "email",
            "Enter an email address in the right format, like name@example.org".to_owned(),
        ))
    } else {
        None
    };
    let (Some(role), Ok(team), None) = (role, team, problem.as_ref()) else {
        return people_page(&state, &session, &form, problem).await;
    };
    let user = UserId::from_random_bytes(secrets::random::<16>()?);
    let password = if email.is_empty() {
        None
    } else {
        Some(secrets::enrolment_code()?)
    };
    let hash = password
        .as_deref()
        .map(staff::hash_password)
        .transpose()
        .map_err(|_| ApiError::BadRequest("could not set the person's password".into()))?;
    let tenant = session.tenant;
    let stored_email = email.clone();
    let added = state
        .with_store(move |store| {
            if hash.is_some() && store.staff_account(&stored_email)?.is_some() {
                return Ok(false);
            }
            store.create_user(user, &name, role, &[tenant])?;
            if let Some(team) = team {
                store.set_team(user, tenant, Some(team))?;
            }
            if let Some(hash) = &hash {
                store.put_staff_account(user, &stored_email, hash)?;
                store.grant_staff_role(user, tenant, StaffRole::Dispatcher)?;
            }
            Ok(true)
        })
        .await?;
    if !added {
        let problem = Some((
            "email",
            "Someone already signs in with that email address".to_owned(),
        ));
        return people_page(&state, &session, &form, problem).await;
    }
    let Some(password) = password else {
        return Ok(Redirect::to("/office/people").into_response());
    };
    let sign_in_at = format!(
        "{}/office/sign-in",
        state.public_url().trim_end_matches('/')
    );
    let main = html! {
        h1.govuk-heading-l { (form.name.trim()) " can now sign in" }
        p.govuk-body { "Give them these details in person or by phone. The password is shown only this once." }
        (summary_list(&[
            ("Sign in at", html! { (sign_in_at) }),
            ("Email", html! { (email) }),
            ("Password", html! { code { (password) } }),
        ]))
        p.govuk-body { a.govuk-link href="/office/people" { "Back to people and teams" } }
    };
    staff_page(&state, &session, StatusCode::OK, "Person added", main).await
}

/// The user a path names, if they work for the session's council.
async fn council_person(
    state: &AppState,
    session: &StaffSession,
    text: &str,
) -> Result<UserId, ApiError> {
    let not_found = || ApiError::NotFound("nobody by that id works for your council".into());
    let user: UserId = text.parse().map_err(|_| not_found())?;
    let tenant = session.tenant;
    let known = state
        .with_store(move |store| Ok(store.roster(tenant)?.iter().any(|p| p.user == user)))
        .await?;
    if known { Ok(user) } else { Err(not_found()) }
}

#[derive(Deserialize)]
struct ActiveForm {
    #[serde(default)]
    active: String,
}

async fn set_active(
    State(state): State<AppState>,
    Path(user): Path<String>,
    AdminForm(CsrfForm { session, form }): AdminForm<ActiveForm>,
) -> Result<Response, ApiError> {
    let user = council_person(&state, &session, &user).await?;
    if user == session.user {
        return Err(ApiError::BadRequest(
            "you cannot deactivate your own account".into(),
        ));
    }
    let active = match form.active.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(ApiError::BadRequest("say active or not".into())),
    };
    let tenant = session.tenant;
    let now = state.clock().now();
    state
        .with_store(move |store| store.set_active(user, tenant, active, now))
        .await?;
    Ok(Redirect::to("/office/people").into_response())
}

#[derive(Deserialize)]
struct TeamForm {
    #[serde(default)]
    team: String,
}

async fn move_team(
    State(state): State<AppState>,
    Path(user): Path<String>,
    AdminForm(CsrfForm { session, form }): AdminForm<TeamForm>,
) -> Result<Response, ApiError> {
    let user = council_person(&state, &session, &user).await?;
    let team = council_team(&state, &session, &form.team)
        .await?
        .map_err(|()| ApiError::BadRequest("choose one of your council's teams".into()))?;
    let tenant = session.tenant;
    state
        .with_store(move |store| store.set_team(user, tenant, team))
        .await?;
    // Phones learn of the new scope at their next sync; live ones now.
    state.notify(crate::state::Changed { tenant, by: None });
    Ok(Redirect::to("/office/people").into_response())
}

#[derive(Deserialize)]
struct NewTeamForm {
    #[serde(default)]
    name: String,
}

async fn add_team(
    State(state): State<AppState>,
    AdminForm(CsrfForm { session, form }): AdminForm<NewTeamForm>,
) -> Result<Response, ApiError> {
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        let problem = Some((
            "team-name",
            "Enter the team's name, in 100 characters or fewer".to_owned(),
        ));
        return people_page(&state, &session, &PersonForm::default(), problem).await;
    }
    let team = TeamId::from_random_bytes(secrets::random::<16>()?);
    let tenant = session.tenant;
    state
        .with_store(move |store| store.create_team(team, tenant, &name, &[]))
        .await?;
    Ok(Redirect::to("/office/people").into_response())
}

/// One enrolled device, as the device list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// The device.
    pub device: DeviceId,
    /// Whose it is.
    pub user: UserId,
    /// Their name.
    pub name: String,
    /// When it was enrolled.
    pub enrolled_at: Timestamp,
    /// When it last synced, if it has.
    pub last_sync_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// One person working for a council.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The user.
    pub user: UserId,
    /// Their name.
    pub name: String,
    /// What they do.
    pub role: Role,
    /// Whether they still work here.
    pub active: bool,
    /// The council's teams they are in.
    pub teams: Vec<TeamId>,
}
