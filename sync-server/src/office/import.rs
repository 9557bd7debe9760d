//! Jobs from a CSV file:
//!
//! - `GET /office/jobs/import`: the form, with the columns it reads;
//! - `POST /office/jobs/import` (`multipart/form-data`: `csrf`, `file`):
//!   every row is checked first; if any has a problem, nothing is made and
//!   the page lists each such row with all its problems, so the fixed file
//!   can be sent again without making anything twice. Otherwise every row
//!   becomes a job, through the same intake as the other ways in.
//!
//! Columns are found by their heading, in any order and case: `service`
//! and `address` are needed; `priority`, `description`, `assignee` (a
//! person's or team's name), `name`, `phone` and `email` (the resident's)
//! may be left out or empty. Services and priorities may be given by id or
//! by name.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::BTreeMap;

use doorstep_shared::ids::{JobId, Name, ServiceId};
use doorstep_shared::job::Assignee;
use doorstep_shared::service::{ServiceCatalog, ServiceKind};
use doorstep_shared::transition::{Actor, Role};

use super::session::{CsrfUpload, StaffSession};
use super::upload::{CsvFile, open_csv};
use super::{csrf_field, office_contact, staff_page};
use crate::error::ApiError;
use crate::intake::NewJob;
use crate::pages::layout::{error_summary, table_head};
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use maud::{Markup, html};

/// The largest file taken.
const MAX_FILE_BYTES: usize = 1024 * 1024;
/// The most rows taken from one file.
const MAX_ROWS: usize = 2000;

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/office/jobs/import", Caller::Staff, form),
        routes::post("/office/jobs/import", Caller::Staff, import)
            .limit(MAX_FILE_BYTES + 64 * 1024),
    ]
}

/// The columns read, with what each holds.
const COLUMNS: [(&str, &str); 8] = [
    ("service", "The service, by id or name (needed)"),
    ("address", "The address on one line, postcode last (needed)"),
    ("priority", "The priority, by id or name"),
    ("description", "What needs doing"),
    ("assignee", "The name of the person or team who will do it"),
    ("name", "The resident's name (to tell them of progress)"),
    ("phone", "The resident's mobile number"),
    ("email", "The resident's email address"),
];

async fn form(State(state): State<AppState>, session: StaffSession) -> Result<Response, ApiError> {
    import_page(&state, &session, StatusCode::OK, html! {}).await
}

async fn import_page(
    state: &AppState,
    session: &StaffSession,
    status: StatusCode,
    report: Markup,
) -> Result<Response, ApiError> {
    let main = html! {
        (report)
        h1.govuk-heading-l { "Import jobs" }
        p.govuk-body { "A CSV file with a heading row, one job per row after it. These columns are read, in any order:" }
        table.govuk-table {
            (table_head("Columns", &["Heading", "What it holds"]))
            tbody.govuk-table__body {
                @for (heading, what) in COLUMNS {
                    tr.govuk-table__row {
                        td.govuk-table__cell { code { (heading) } }
                        td.govuk-table__cell { (what) }
                    }
                }
            }
        }
        p.govuk-body { "If any row has a problem, no job is made: fix the rows listed and send the whole file again." }
        form method="post" action="/office/jobs/import" enctype="multipart/form-data" novalidate {
            (csrf_field(session))
            div.govuk-form-group {
                label.govuk-label for="file" { "CSV file" }
                div.govuk-hint #file-hint { "Up to " (MAX_ROWS) " rows and 1 MB." }
                input.govuk-input #file name="file" type="file" accept=".csv,text/csv" aria-describedby="file-hint";
            }
            button.govuk-button type="submit" { "Import" }
        }
        p.govuk-body { a.govuk-link href="/office" { "Back to jobs" } }
    };
    staff_page(state, session, status, "Import jobs", main).await
}

async fn import(
    State(state): State<AppState>,
    CsrfUpload { session, upload }: CsrfUpload,
) -> Result<Response, ApiError> {
    if upload.file.is_empty() {
        let report = error_summary(&[("file", "Choose a CSV file".into())]);
        return import_page(&state, &session, StatusCode::BAD_REQUEST, report).await;
    }
    let tenant = session.tenant;
    let (people, teams) = state
        .with_store(move |store| Ok((store.people(tenant)?, store.teams(tenant)?)))
        .await?;
    let assignees = Assignees { people, teams };
    let rows = match read_rows(&upload.file, state.services(), &assignees) {
        Ok(rows) => rows,
        Err(FileProblem(message)) => {
            let report = error_summary(&[("file", message)]);
            return import_page(&state, &session, StatusCode::BAD_REQUEST, report).await;
        }
    };
    let problems: Vec<&Row> = rows.iter().filter(|(_, row)| row.is_err()).collect();
    if !problems.is_empty() {
        let report = problem_report(&problems, rows.len());
        return import_page(&state, &session, StatusCode::BAD_REQUEST, report).await;
    }
    let author = Actor {
        user: session.user,
        role: Role::Dispatcher,
        device: None,
    };
    let now = state.clock().now();
    // One transaction: a failure part way leaves no job made.
    let mut jobs = Vec::new();
    for (_, row) in rows {
        let Ok(new) = row else { continue };
        jobs.push((
            JobId::from_random_bytes(crate::secrets::random::<16>()?),
            new,
        ));
    }
    let made = state
        .with_server(move |store, services, server| {
            crate::intake::Intake {
                store,
                services,
                server,
            }
            .create_jobs(
                &author,
                tenant,
                jobs.iter().map(|(id, new)| (*id, new)).collect(),
                now,
            )
        })
        .await?;
    state.notify(crate::state::Changed { tenant, by: None });
    let main = html! {
        div.govuk-panel.govuk-panel--confirmation { h1.govuk-panel__title { (made.len()) " jobs imported" } }
        ul.govuk-list.govuk-list--bullet {
            @for created in &made {
                li { a.govuk-link href={ "/office/jobs/" (created.job) } { (created.reference) } }
            }
        }
        p.govuk-body { a.govuk-link href="/office" { "Back to jobs" } }
    };
    staff_page(&state, &session, StatusCode::OK, "Jobs imported", main).await
}

/// A data row's line and the job it makes, or all its problems.
type Row = (u64, Result<NewJob, Vec<String>>);

/// Why a whole file was refused.
pub(super) struct FileProblem(pub(super) String);

/// The council's people and teams, to find assignees by name.
struct Assignees {
    people: Vec<(doorstep_shared::ids::UserId, String, Role)>,
    teams: Vec<(doorstep_shared::ids::TeamId, String)>,
}

impl Assignees {
    fn find(&self, name: &str) -> Option<Assignee> {
        let wanted = name.trim().to_lowercase();
        self.people
            .iter()
            .filter(|(_, _, role)| matches!(role, Role::Operative | Role::Crew))
            .find(|(_, name, _)| name.to_lowercase() == wanted)
            .map(|(user, _, _)| Assignee::User(*user))
            .or_else(|| {
                self.teams
                    .iter()
                    .find(|(_, name)| name.to_lowercase() == wanted)
                    .map(|(team, _)| Assignee::Team(*team))
            })
    }
}

/// How many rows a file has, read with no people or teams to assign to.
pub(super) fn read_file(file: &[u8], services: &ServiceCatalog) -> Result<usize, FileProblem> {
    let nobody = Assignees {
        people: Vec::new(),
        teams: Vec::new(),
    };
    read_rows(file, services, &nobody).map(|rows| rows.len())
}

/// Each data row with its line number: the job it makes, or every problem
/// it has.
fn read_rows(
    file: &[u8],
    services: &ServiceCatalog,
    assignees: &Assignees,
) -> Result<Vec<Row>, FileProblem> {
    let CsvFile {
        headings,
        rows: mut reader,
    } = open_csv(file, "file").map_err(FileProblem)?;
    let column = |name: &str| headings.iter().position(|heading| heading == name);
    if let Some(unknown) = headings
        .iter()
        .find(|heading| !heading.is_empty() && COLUMNS.iter().all(|(known, _)| known != heading))
    {
        return Err(FileProblem(format!(
            "The file has a column headed \u{201c}{unknown}\u{201d}, which is not one of those listed"
        )));
    }
    for needed in ["service", "address"] {
        if column(needed).is_none() {
            return Err(FileProblem(format!(
                "The file needs a column headed \u{201c}{needed}\u{201d}"
            )));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| {
            FileProblem(format!(
                "Line {} could not be read as CSV",
                error.position().map_or(0, |at| at.line())
            ))
        })?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(FileProblem(format!(
                "The file has more than {MAX_ROWS} rows: split it into smaller files"
            )));
        }
        let line = record.position().map_or(0, |at| at.line());
        let cells: Cells = COLUMNS
            .iter()
            .filter_map(|(name, _)| {
                let value = record.get(column(name)?)?;
                Some((*name, value.to_owned()))
            })
            .collect();
        rows.push((line, row_job(&cells, services, assignees)));
    }
    if rows.is_empty() {
        return Err(FileProblem(
            "The file has no rows after its headings".into(),
        ));
    }
    Ok(rows)
}

/// One row's cells by column name.
type Cells = BTreeMap<&'static str, String>;

/// One row as a job, or all its problems.
fn row_job(
    cells: &Cells,
    services: &ServiceCatalog,
    assignees: &Assignees,
) -> Result<NewJob, Vec<String>> {
    let cell = |name: &str| cells.get(name).map_or("", String::as_str);
    let mut problems = Vec::new();
    let service = services.iter().find(|service| {
        service.kind == ServiceKind::Job
            && (service.id.as_str().eq_ignore_ascii_case(cell("service"))
                || service.name.eq_ignore_ascii_case(cell("service")))
    });
    if service.is_none() {
        problems.push(match cell("service") {
            "" => "The service is missing".to_owned(),
            named => format!("There is no service called \u{201c}{named}\u{201d}"),
        });
    }
    let priority: Option<Name> = match (cell("priority"), service) {
        ("", _) | (_, None) => None,
        (named, Some(service)) => {
            let found = service.sla.iter().find(|target| {
                target.priority.as_str().eq_ignore_ascii_case(named)
                    || target.label.eq_ignore_ascii_case(named)
            });
            if found.is_none() {
                problems.push(format!(
                    "{} has no priority called \u{201c}{named}\u{201d}",
                    service.name
                ));
            }
            found.map(|target| target.priority.clone())
        }
    };
    if cell("address").is_empty() {
        problems.push("The address is missing".into());
    }
    let assignee = match cell("assignee") {
        "" => None,
        named => {
            let found = assignees.find(named);
            if found.is_none() {
                problems.push(format!(
                    "Nobody and no team called \u{201c}{named}\u{201d} works for your council"
                ));
            }
            found
        }
    };
    let contact = match office_contact(cell("name"), cell("phone"), cell("email")) {
        Ok(contact) => contact,
        Err(message) => {
            problems.push(format!("The resident's details: {message}"));
            None
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let service: ServiceId = match service {
        Some(service) => service.id.clone(),
        None => return Err(problems),
    };
    Ok(NewJob {
        service,
        priority,
        address: cell("address").to_owned(),
        description: cell("description").to_owned(),
        assignee,
        contact,
        photos: Vec::new(),
    })
}

/// The error summary and the table of rows with problems.
fn problem_report(problems: &[&Row], rows: usize) -> Markup {
    html! {
        (error_summary(&[(
            "problems",
            format!("{} of {rows} rows have problems, so no job was made", problems.len()),
        )]))
        h2.govuk-heading-m #problems { "Rows with problems" }
        table.govuk-table.doorstep-table--report {
            (table_head("Rows with problems", &["Line", "Problems"]))
            tbody.govuk-table__body {
                @for (line, row) in problems {
                    @if let Err(messages) = row {
                        tr.govuk-table__row {
                            th.govuk-table__header scope="row" { (line) }
                            td.govuk-table__cell {
                                ul.govuk-list.govuk-list--bullet {
                                    @for message in messages {
                                        li { (message) }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> ServiceCatalog {
        crate::services::load(None).unwrap_or_else(|error| panic!("{error}"))
    }

    fn nobody() -> Assignees {
        Assignees {
            people: Vec::new(),
            teams: Vec::new(),
        }
    }

    #[test]
    fn every_problem_of_every_row_is_reported_with_its_line() {
        let file = "Service,Address,Priority,Phone,Name\n\
                    housing-repair,\"1 High St, Worthing\",emergency,,\n\
                    boilers,,,,\n\
                    Housing repair,\"2 High St, Worthing\",whenever,07700 900000,Ann\n";
        let rows = read_rows(file.as_bytes(), &catalog(), &nobody())
            .unwrap_or_else(|FileProblem(message)| panic!("{message}"));
        let lines: Vec<u64> = rows.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [2, 3, 4]);
        assert!(rows[0].1.is_ok());
        let problems = |at: usize| rows[at].1.as_ref().err().cloned().unwrap_or_default();
        assert_eq!(problems(1).len(), 2, "{:?}", problems(1));
        assert!(problems(1)[0].contains("boilers"));
        assert!(problems(2).iter().any(|p| p.contains("whenever")));
    }

    #[test]
    fn a_file_without_an_address_column_is_refused_whole() {
        let outcome = read_rows(b"service\nhousing-repair\n", &catalog(), &nobody());
        assert!(matches!(outcome, Err(FileProblem(message)) if message.contains("address")));
    }
}
