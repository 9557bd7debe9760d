//! Waste rounds in the back office:
//!
//! - `GET /office/rounds`: the council's rounds, newest day first, with
//!   their crew and progress;
//! - `GET /office/rounds/new`, `POST /office/rounds` (`multipart/form-data`:
//!   reference, day, crew, property list as CSV): a crew's round for a day,
//!   its properties visited in the file's order; every row is checked
//!   first, and a file with problems makes nothing;
//! - `GET /office/rounds/{round}`: the stops in visiting order with what
//!   the crew logged at each;
//! - `POST /office/rounds/{round}/order` (`property`, `move` = `up` |
//!   `down`): moves a stop; only the order changes in the document, so
//!   outcomes logged meanwhile on a phone merge untouched;
//! - `POST /office/rounds/{round}/crew` (`team`): gives it to another crew.
//!
//! The property list's columns, found by heading in any order and case:
//! `address` (needed), `uprn`, `containers` (`refuse_240l x2;
//! recycling_box`, one refuse bin when empty) and `note` (for the crew).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use doorstep_shared::ids::{Name, PropertyId, RoundId, TeamId, UserId};
use doorstep_shared::job::{Address, Uprn};
use doorstep_shared::round::{Container, Property, ROUND_SCHEMA_VERSION, Round, RoundOffice};
use doorstep_shared::service::{ServiceDefinition, ServiceKind};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::{Date, uk};
use serde::Deserialize;

use super::session::{CsrfForm, CsrfUpload, StaffSession};
use super::upload::{CsvFile, open_csv};
use super::{csrf_field, select_with, staff_page};
use crate::error::ApiError;
use crate::pages::layout::{error_summary, summary_list, table_head};
use crate::residents::progress::when;
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use crate::store::StoreError;
use maud::html;

/// The largest property list taken.
const MAX_FILE_BYTES: usize = 1024 * 1024;
/// The most properties on one round.
const MAX_STOPS: usize = 2000;
/// The container a property gets when its row names none.
const DEFAULT_CONTAINER: &str = "refuse_240l";

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/office/rounds", Caller::Staff, list),
        routes::post("/office/rounds", Caller::Staff, create).limit(MAX_FILE_BYTES + 64 * 1024),
        routes::get("/office/rounds/new", Caller::Staff, new_form),
        routes::get("/office/rounds/{round}", Caller::Staff, round_page),
        routes::post("/office/rounds/{round}/order", Caller::Staff, reorder),
        routes::post("/office/rounds/{round}/crew", Caller::Staff, assign_crew),
    ]
}

/// The council's rounds, each with its id.
async fn council_rounds(
    state: &AppState,
    session: &StaffSession,
) -> Result<Vec<(RoundId, Round)>, ApiError> {
    let tenant = session.tenant;
    let ids = state
        .with_store(move |store| store.round_ids(tenant))
        .await?;
    state
        .with_sync(move |sync, _| {
            let mut rounds = Vec::new();
            for id in ids {
                if let Some((_, document)) = sync.load(DocumentId::Round(id))?
                    && let Ok(round) = Round::load(&document)
                {
                    rounds.push((id, round));
                }
            }
            Ok::<_, StoreError>(rounds)
        })
        .await
        .map_err(Into::into)
}

/// The council's crews, as `(team id, name)`.
async fn crews(
    state: &AppState,
    session: &StaffSession,
) -> Result<Vec<(String, String)>, ApiError> {
    let tenant = session.tenant;
    Ok(state
        .with_store(move |store| store.teams(tenant))
        .await?
        .into_iter()
        .map(|(team, name)| (team.to_string(), name))
        .collect())
}

async fn list(State(state): State<AppState>, session: StaffSession) -> Result<Response, ApiError> {
    let mut rounds = council_rounds(&state, &session).await?;
    rounds.sort_by(|a, b| {
        (b.1.office.date, &a.1.office.reference).cmp(&(a.1.office.date, &b.1.office.reference))
    });
    let crew_names: BTreeMap<String, String> = crews(&state, &session).await?.into_iter().collect();
    let main = html! {
        h1.govuk-heading-l { "Rounds" }
        p.govuk-body { a.govuk-button href="/office/rounds/new" draggable="false" { "Make a round" } }
        @if rounds.is_empty() {
            p.govuk-body { "There are no rounds yet." }
        } @else {
            table.govuk-table {
                (table_head("Rounds", &["Round", "Day", "Crew", "Done", "Status"]))
                tbody.govuk-table__body {
                    @for (id, round) in &rounds {
                        @let (done, all) = round.progress();
                        @let status = state
                            .services()
                            .get(&round.office.service)
                            .map_or("", |service| service.state_label(round.status(service)));
                        @let crew = crew_names
                            .get(&round.office.crew.to_string())
                            .map_or("A crew no longer listed", String::as_str);
                        tr.govuk-table__row {
                            td.govuk-table__cell { a.govuk-link href={ "/office/rounds/" (id) } { (round.office.reference) } }
                            td.govuk-table__cell { (round.office.date.in_words()) }
                            td.govuk-table__cell { (crew) }
                            td.govuk-table__cell { (done) " of " (all) }
                            td.govuk-table__cell { strong.govuk-tag { (status) } }
                        }
                    }
                }
            }
        }
    };
    staff_page(&state, &session, StatusCode::OK, "Rounds", main).await
}

/// The make-a-round form's answers.
#[derive(Debug, Default)]
struct RoundForm {
    reference: String,
    date: String,
    crew: String,
    service: String,
    file: Vec<u8>,
}

async fn new_form(
    State(state): State<AppState>,
    session: StaffSession,
) -> Result<Response, ApiError> {
    let form = RoundForm {
        date: uk::local(state.clock().now()).0.to_string(),
        ..RoundForm::default()
    };
    new_round_page(&state, &session, &form, &[]).await
}

/// The round services.
fn round_services(state: &AppState) -> Vec<(String, String)> {
    state
        .services()
        .iter()
        .filter(|service| service.kind == ServiceKind::Round)
        .map(|service| (service.id.to_string(), service.name.clone()))
        .collect()
}

async fn new_round_page(
    state: &AppState,
    session: &StaffSession,
    form: &RoundForm,
    problems: &[(&str, String)],
) -> Result<Response, ApiError> {
    let crews = crews(state, session).await?;
    let services = round_services(state);
    let chosen_service = if form.service.is_empty() {
        services
            .first()
            .map(|(id, _)| id.clone())
            .unwrap_or_default()
    } else {
        form.service.clone()
    };
    let main = html! {
        @if !problems.is_empty() {
            (error_summary(problems))
        }
        h1.govuk-heading-l { "Make a round" }
        form method="post" action="/office/rounds" enctype="multipart/form-data" novalidate {
            (csrf_field(session))
            div.govuk-form-group {
                label.govuk-label for="reference" { "Reference" }
                div.govuk-hint #reference-hint { "For example, WR-MON-3." }
                input.govuk-input #reference name="reference" aria-describedby="reference-hint" autocomplete="off" value=(form.reference);
            }
            div.govuk-form-group {
                label.govuk-label for="date" { "Day" }
                input.govuk-input #date name="date" type="date" value=(form.date);
            }
            (select_with("service", "Service", "Choose a service", &services, &chosen_service))
            (select_with("crew", "Crew", "Choose a crew", &crews, &form.crew))
            div.govuk-form-group {
                label.govuk-label for="file" { "Property list (CSV)" }
                div.govuk-hint #file-hint {
                    "A heading row, then one property per row in visiting order. Columns: "
                    code { "address" } " (needed), " code { "uprn" } ", " code { "containers" }
                    " (like " code { "refuse_240l x2; recycling_box" } "), " code { "note" } " for the crew."
                }
                input.govuk-input #file name="file" type="file" accept=".csv,text/csv" aria-describedby="file-hint";
            }
            button type="submit" class="govuk-button" { "Make the round" }
        }
        p.govuk-body { a.govuk-link href="/office/rounds" { "Back to rounds" } }
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    staff_page(state, session, status, "Make a round", main).await
}

async fn create(
    State(state): State<AppState>,
    CsrfUpload { session, upload }: CsrfUpload,
) -> Result<Response, ApiError> {
    let form = RoundForm {
        reference: upload.field("reference"),
        date: upload.field("date"),
        crew: upload.field("crew"),
        service: upload.field("service"),
        file: upload.file,
    };
    let crews = crews(&state, &session).await?;
    let mut problems: Vec<(&str, String)> = Vec::new();
    if form.reference.is_empty() || form.reference.chars().count() > 40 {
        problems.push((
            "reference",
            "Enter the round's reference, in 40 characters or fewer".into(),
        ));
    }
    let date = form.date.parse::<Date>().ok();
    if date.is_none() {
        problems.push(("date", "Enter the day the round runs".into()));
    }
    let service = state
        .services()
        .iter()
        .find(|service| service.kind == ServiceKind::Round && service.id.as_str() == form.service)
        .cloned();
    if service.is_none() {
        problems.push(("service", "Choose a round service".into()));
    }
    let crew: Option<TeamId> = crews
        .iter()
        .find(|(id, _)| *id == form.crew)
        .and_then(|(id, _)| id.parse().ok());
    if crew.is_none() {
        problems.push(("crew", "Choose the crew who will work the round".into()));
    }
    let stops = match read_properties(&form.file) {
        Ok(stops) => stops,
        Err(messages) => {
            problems.extend(messages.into_iter().map(|message| ("file", message)));
            Vec::new()
        }
    };
    let (Some(date), Some(service), Some(crew), true) = (date, service, crew, problems.is_empty())
    else {
        return new_round_page(&state, &session, &form, &problems).await;
    };
    let round = new_round(&service, &form.reference, date, crew, stops)?;
    let id = RoundId::from_random_bytes(crate::secrets::random::<16>()?);
    let tenant = session.tenant;
    state
        .with_server(move |store, services, server| {
            let mut document = round
                .create_document(server.clone())
                .map_err(StoreError::from)?;
            crate::store::run_sync(store, services, |sync| {
                crate::intake::store_new(
                    sync,
                    services,
                    tenant,
                    DocumentId::Round(id),
                    &mut document,
                )
            })
        })
        .await?;
    state.notify(crate::state::Changed { tenant, by: None });
    Ok(Redirect::to(&format!("/office/rounds/{id}")).into_response())
}

/// A new round of `stops`, visited in their order.
fn new_round(
    service: &ServiceDefinition,
    reference: &str,
    date: Date,
    crew: TeamId,
    stops: Vec<Property>,
) -> Result<Round, ApiError> {
    let mut properties = BTreeMap::new();
    let mut order = Vec::new();
    for property in stops {
        let id = PropertyId::from_random_bytes(crate::secrets::random::<16>()?);
        order.push(id);
        properties.insert(id, property);
    }
    Ok(Round {
        schema_version: ROUND_SCHEMA_VERSION,
        office: RoundOffice {
            reference: reference.to_owned(),
            service: service.id.clone(),
            date,
            crew,
            properties,
            order,
            verdicts: BTreeMap::new(),
            log: Vec::new(),
            waiting: Vec::new(),
        },
        outcomes: BTreeMap::new(),
        photos: BTreeMap::new(),
        requests: BTreeMap::new(),
    })
}

/// The properties of a list, in its order, or every problem found (each
/// naming its line).
pub(super) fn read_properties(file: &[u8]) -> Result<Vec<Property>, Vec<String>> {
    if file.is_empty() {
        return Err(vec!["Choose the property list, a CSV file".into()]);
    }
    if file.len() > MAX_FILE_BYTES {
        return Err(vec!["The property list must be smaller than 1 MB".into()]);
    }
    let CsvFile {
        headings,
        rows: mut reader,
    } = open_csv(file, "property list").map_err(|problem| vec![problem])?;
    let column = |name: &str| headings.iter().position(|heading| heading == name);
    let Some(address_at) = column("address") else {
        return Err(vec![
            "The property list needs a column headed \u{201c}address\u{201d}".into(),
        ]);
    };
    let mut stops = Vec::new();
    let mut problems = Vec::new();
    for record in reader.records() {
        let Ok(record) = record else {
            problems.push("A line of the property list could not be read as CSV".into());
            break;
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record.position().map_or(0, |at| at.line());
        let cell = |at: Option<usize>| at.and_then(|at| record.get(at)).unwrap_or("");
        let address = cell(Some(address_at));
        if address.is_empty() {
            problems.push(format!("Line {line}: the address is missing"));
        }
        let uprn = match cell(column("uprn")) {
            "" => None,
            text => match text.parse::<Uprn>() {
                Ok(uprn) => Some(uprn),
                Err(_) => {
                    problems.push(format!(
                        "Line {line}: \u{201c}{text}\u{201d} is not a UPRN (up to 12 digits)"
                    ));
                    None
                }
            },
        };
        let containers = match containers(cell(column("containers"))) {
            Ok(containers) => containers,
            Err(message) => {
                problems.push(format!("Line {line}: {message}"));
                Vec::new()
            }
        };
        let note = cell(column("note"));
        let mut address = Address::from_line(address);
        address.uprn = uprn;
        stops.push(Property {
            address,
            containers,
            crew_note: (!note.is_empty()).then(|| note.to_owned()),
        });
    }
    if stops.len() > MAX_STOPS {
        problems.push(format!("A round can have up to {MAX_STOPS} properties"));
    }
    if stops.is_empty() && problems.is_empty() {
        problems.push("The property list has no rows after its headings".into());
    }
    if problems.is_empty() {
        Ok(stops)
    } else {
        Err(problems)
    }
}

/// `refuse_240l x2; recycling_box` as containers; one refuse bin when
/// empty.
fn containers(text: &str) -> Result<Vec<Container>, String> {
    if text.trim().is_empty() {
        let kind: Name = DEFAULT_CONTAINER
            .parse()
            .map_err(|_| "the default container kind is not valid".to_owned())?;
        return Ok(vec![Container { kind, count: 1 }]);
    }
    text.split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (kind, count) = match part.rsplit_once(['x', '×']) {
                Some((kind, count)) if !count.trim().is_empty() && count.trim().chars().all(|c| c.is_ascii_digit()) => {
                    (kind.trim(), count.trim().parse::<u64>().unwrap_or(0))
                }
                _ => (part, 1),
            };
            let kind: Name = kind.parse().map_err(|_| {
                format!("\u{201c}{kind}\u{201d} is not a container kind (lower-case letters, digits and _)")
            })?;
            if count == 0 || count > 20 {
                return Err(format!("{kind}: give between 1 and 20 containers"));
            }
            Ok(Container { kind, count })
        })
        .collect()
}

/// The round a path names, if it is the session's council's.
pub(super) async fn council_round(
    state: &AppState,
    session: &StaffSession,
    text: &str,
) -> Result<(RoundId, Round), ApiError> {
    let not_found = || ApiError::NotFound("there is no such round in your council".into());
    let id: RoundId = text.parse().map_err(|_| not_found())?;
    let loaded = state
        .with_sync(move |sync, _| sync.load(DocumentId::Round(id)))
        .await?;
    match loaded {
        Some((tenant, document)) if tenant == session.tenant => {
            Ok((id, Round::load(&document).map_err(|_| not_found())?))
        }
        _ => Err(not_found()),
    }
}

async fn round_page(
    State(state): State<AppState>,
    session: StaffSession,
    Path(round): Path<String>,
) -> Result<Response, ApiError> {
    let (id, round) = council_round(&state, &session, &round).await?;
    let service = state.services().get(&round.office.service).cloned();
    let crews = crews(&state, &session).await?;
    let (done, all) = round.progress();
    let crew = round.office.crew.to_string();
    let crew_name = crews
        .iter()
        .find(|(team, _)| *team == crew)
        .map_or("A crew no longer listed", |(_, name)| name.as_str());
    let mut rows = vec![
        ("Day", html! { (round.office.date.in_words()) }),
        ("Crew", html! { (crew_name) }),
        ("Done", html! { (done) " of " (all) " properties" }),
    ];
    if let Some(service) = &service {
        rows.insert(0, ("Service", html! { (service.name) }));
        rows.push((
            "Status",
            html! { strong.govuk-tag { (service.state_label(round.status(service))) } },
        ));
    }
    let log = round.office.log.clone();
    let by: Vec<UserId> = log.iter().filter_map(|entry| entry.by).collect();
    let names = if log.is_empty() {
        BTreeMap::new()
    } else {
        state
            .with_store(move |store| {
                let mut names = BTreeMap::new();
                for user in by {
                    if let Some(name) = store.user_name(user)? {
                        names.insert(user, name);
                    }
                }
                Ok(names)
            })
            .await?
    };
    let order = round.visiting_order();
    let main = html! {
        span.govuk-caption-l { "Round" }
        h1.govuk-heading-l { (round.office.reference) }
        (summary_list(&rows))
        form method="post" action={ "/office/rounds/" (id) "/crew" } {
            (csrf_field(&session))
            (select_with("team", "Crew", "Choose a crew", &crews, &crew))
            button type="submit" class="govuk-button govuk-button--secondary" { "Give it to this crew" }
        }
        @if let Some(service) = &service {
            (super::steps::next_steps(&format!("/office/rounds/{id}"), service, &round.facts(service), false))
        }
        h2.govuk-heading-m { "Stops in visiting order" }
        table.govuk-table {
            (table_head("Stops in visiting order", &["Stop", "Address", "Outcome", "Move"]))
            tbody.govuk-table__body {
                @for (at, property_id) in order.iter().enumerate() {
                    @if let Some(property) = round.office.properties.get(property_id) {
                        @let address = property.address.one_line();
                        tr.govuk-table__row {
                            td.govuk-table__cell { (at + 1) }
                            td.govuk-table__cell { (address) }
                            td.govuk-table__cell {
                                @if let Some(outcome) = round.outcomes.get(property_id) {
                                    @let label = service
                                        .as_ref()
                                        .and_then(|service| service.outcome(&outcome.kind))
                                        .map_or(outcome.kind.as_str(), |kind| kind.label.as_str());
                                    (label) " (" (when(outcome.at)) ")"
                                } @else {
                                    "Not yet"
                                }
                            }
                            td.govuk-table__cell {
                                @for (direction, label, shown) in [("up", "Up", at > 0), ("down", "Down", at + 1 < order.len())] {
                                    @if shown {
                                        form method="post" action={ "/office/rounds/" (id) "/order" } class="inline-form" {
                                            (csrf_field(&session))
                                            input type="hidden" name="property" value=(property_id);
                                            input type="hidden" name="move" value=(direction);
                                            button type="submit" class="govuk-button govuk-button--secondary" aria-label={ "Move " (address) " " (direction) } { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !log.is_empty() {
            h2.govuk-heading-m { "What the office did" }
            ol.timeline {
                @for entry in &log {
                    @let who = match entry.by {
                        Some(user) => names
                            .get(&user)
                            .map_or("Someone no longer listed", String::as_str),
                        None => "The council's systems",
                    };
                    li {
                        span.timeline__what { (who) ": " (entry.what) }
                        span.timeline__when { (when(entry.at)) }
                    }
                }
            }
        }
        p.govuk-body { a.govuk-link href="/office/rounds" { "Back to rounds" } }
    };
    staff_page(
        &state,
        &session,
        StatusCode::OK,
        &round.office.reference,
        main,
    )
    .await
}

#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    property: String,
    #[serde(default, rename = "move")]
    direction: String,
}

async fn reorder(
    State(state): State<AppState>,
    Path(round): Path<String>,
    CsrfForm { session, form }: CsrfForm<MoveForm>,
) -> Result<Response, ApiError> {
    let (id, round) = council_round(&state, &session, &round).await?;
    let mut order = round.visiting_order();
    let at = form
        .property
        .parse::<PropertyId>()
        .ok()
        .and_then(|property| order.iter().position(|p| *p == property))
        .ok_or_else(|| ApiError::BadRequest("that property is not on this round".into()))?;
    let to = match form.direction.as_str() {
        "up" if at > 0 => at - 1,
        "down" if at + 1 < order.len() => at + 1,
        "up" | "down" => at,
        _ => return Err(ApiError::BadRequest("move a stop up or down".into())),
    };
    if to != at {
        let moved = round
            .office
            .properties
            .get(&order[at])
            .map_or_else(|| "a stop".to_owned(), |p| p.address.one_line());
        order.swap(at, to);
        let done = crate::office::edits::Done {
            by: Some(session.user),
            what: format!("Moved {moved} {} the visiting order", form.direction),
        };
        crate::office::edits::edit_round(&state, id, done, move |office| office.reorder(&order))
            .await?;
    }
    Ok(Redirect::to(&format!("/office/rounds/{id}")).into_response())
}

#[derive(Deserialize)]
struct CrewForm {
    #[serde(default)]
    team: String,
}

async fn assign_crew(
    State(state): State<AppState>,
    Path(round): Path<String>,
    CsrfForm { session, form }: CsrfForm<CrewForm>,
) -> Result<Response, ApiError> {
    let (id, _) = council_round(&state, &session, &round).await?;
    let (crew, crew_name): (TeamId, String) = crews(&state, &session)
        .await?
        .into_iter()
        .find(|(team, _)| *team == form.team)
        .and_then(|(team, name)| Some((team.parse().ok()?, name)))
        .ok_or_else(|| ApiError::BadRequest("choose one of your council's crews".into()))?;
    let done = crate::office::edits::Done {
        by: Some(session.user),
        what: format!("Gave the round to {crew_name}"),
    };
    crate::office::edits::edit_round(&state, id, done, move |office| office.assign_crew(crew))
        .await?;
    Ok(Redirect::to(&format!("/office/rounds/{id}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_property_list_keeps_its_order_containers_and_notes() {
        let file = "Address,UPRN,Containers,Note\n\
                    \"1 Ham Way, Worthing, BN11 1AA\",100061234567,refuse_240l x2; recycling_box,Side gate\n\
                    \"3 Ham Way, Worthing, BN11 1AA\",,,\n";
        let stops = read_properties(file.as_bytes()).unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(stops.len(), 2);
        assert_eq!(stops[0].address.lines[0], "1 Ham Way");
        assert_eq!(stops[0].containers.len(), 2);
        assert_eq!(stops[0].containers[0].count, 2);
        assert_eq!(stops[0].crew_note.as_deref(), Some("Side gate"));
        assert_eq!(stops[1].containers[0].kind.as_str(), DEFAULT_CONTAINER);
    }

    #[test]
    fn every_bad_line_of_a_property_list_is_named() {
        let file = "address,uprn,containers\n,12x,\n\"2 Ham Way\",,Wheelie Bin x30\n";
        let problems = read_properties(file.as_bytes()).err().unwrap_or_default();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("Line 2"));
        assert!(problems[2].starts_with("Line 3"));
    }
}
