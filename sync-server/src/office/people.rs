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

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use doorstep_shared::ids::{DeviceId, TeamId, UserId};
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::Role;
use serde::Deserialize;

use super::session::{AdminForm, AdminSession, CsrfForm, StaffSession};
use super::{select_with, staff_page};
use crate::error::ApiError;
use crate::office::staff;
use crate::pages::html::escape;
use crate::pages::layout::error_summary;
use crate::secrets;
use crate::state::AppState;
use crate::store::staff::StaffRole;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/office/people", get(list).post(add_person))
        .route("/office/people/{user}/active", post(set_active))
        .route("/office/people/{user}/team", post(move_team))
        .route("/office/teams", post(add_team))
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
    let csrf = escape(&session.csrf);
    let mut main = String::new();
    if let Some((field, message)) = &error {
        main.push_str(&error_summary(&[(field, message.clone())]).into_string());
    }
    main.push_str("<h1>People and teams</h1>\n");
    main.push_str("<table class=\"table\">\n<caption class=\"visually-hidden\">People</caption>\n<thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Role</th><th scope=\"col\">Team</th><th scope=\"col\">Status</th></tr></thead>\n<tbody>\n");
    for person in &people {
        let name = escape(&person.name);
        let current_team = person
            .teams
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        let team_cell = if person.active {
            format!(
                "<form method=\"post\" action=\"/office/people/{user}/team\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{select}<button type=\"submit\" class=\"button button--secondary\">Move</button></form>",
                user = person.user,
                select = select_with(
                    &format!("team-{}", person.user),
                    &format!("Team of {}", person.name),
                    "No team",
                    &team_choices,
                    &current_team,
                )
                .into_string()
                .replacen(
                    &format!("name=\"team-{}\"", person.user),
                    "name=\"team\"",
                    1
                ),
            )
        } else {
            escape(
                &person
                    .teams
                    .iter()
                    .filter_map(|team| team_names.get(team).cloned())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        };
        let status = if person.user == session.user {
            "Active (you)".to_owned()
        } else {
            let (now, then, action) = if person.active {
                ("Active", "false", "Deactivate")
            } else {
                ("Deactivated", "true", "Reactivate")
            };
            format!(
                "<form method=\"post\" action=\"/office/people/{user}/active\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"active\" value=\"{then}\">{now} <button type=\"submit\" class=\"button button--secondary\" aria-label=\"{action} {name}\">{action}</button></form>",
                user = person.user,
            )
        };
        main.push_str(&format!(
            "<tr><th scope=\"row\">{name}</th><td>{}</td><td>{team_cell}</td><td>{status}</td></tr>\n",
            person.role
        ));
    }
    main.push_str("</tbody>\n</table>\n");

    let roles: Vec<(String, String)> = ROLES
        .iter()
        .map(|role| (role.as_str().to_owned(), role_label(*role).to_owned()))
        .collect();
    main.push_str(&format!(
        "<h2>Add a person</h2>\n<form method=\"post\" action=\"/office/people\" novalidate>\n<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n<div class=\"form-group\"><label class=\"label\" for=\"name\">Full name</label><input class=\"input\" id=\"name\" name=\"name\" autocomplete=\"off\" value=\"{}\"></div>\n{}{}<div class=\"form-group\"><label class=\"label\" for=\"email\">Email for back-office sign-in (dispatchers)</label><span class=\"hint\" id=\"email-hint\">Leave empty for people who only use the phone app.</span><input class=\"input\" id=\"email\" name=\"email\" type=\"email\" aria-describedby=\"email-hint\" spellcheck=\"false\" value=\"{}\"></div>\n<button type=\"submit\" class=\"button\">Add the person</button>\n</form>\n",
        escape(&form.name),
        select_with("role", "Role", "Choose a role", &roles, &form.role).into_string(),
        select_with("team", "Team", "No team", &team_choices, &form.team).into_string(),
        escape(&form.email),
    ));
    main.push_str(&format!(
        "<h2>Add a team</h2>\n<form method=\"post\" action=\"/office/teams\" novalidate>\n<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n<div class=\"form-group\"><label class=\"label\" for=\"team-name\">Team name</label><input class=\"input\" id=\"team-name\" name=\"name\" autocomplete=\"off\"></div>\n<button type=\"submit\" class=\"button button--secondary\">Add the team</button>\n</form>\n"
    ));
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    staff_page(
        state,
        session,
        status,
        "People and teams",
        maud::PreEscaped(main),
    )
    .await
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
    let main = format!(
        "<h1>{} can now sign in</h1>\n<p>Give them these details in person or by phone. The password is shown only this once.</p>\n<dl class=\"summary-list\"><div class=\"summary-list__row\"><dt>Sign in at</dt><dd>{}</dd></div><div class=\"summary-list__row\"><dt>Email</dt><dd>{}</dd></div><div class=\"summary-list__row\"><dt>Password</dt><dd><code>{}</code></dd></div></dl>\n<p><a href=\"/office/people\">Back to people and teams</a></p>\n",
        escape(form.name.trim()),
        escape(&format!(
            "{}/office/sign-in",
            state.public_url().trim_end_matches('/')
        )),
        escape(&email),
        escape(&password),
    );
    staff_page(
        &state,
        &session,
        StatusCode::OK,
        "Person added",
        maud::PreEscaped(main),
    )
    .await
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
