//! The field walk, generated from the service definitions the server runs:
//! the shipped ones and a council's own file. For every transition and
//! action an operative or a crew may take in a job service, a job of that
//! service is set up in the state the step starts from, and the step is
//! taken in the web app in Chromium (`tests/browser/walk.mjs`) by the
//! phone of that role: its note written, its photos taken and its
//! checklist ticked where the definition asks for them. For every round
//! service, a round with a stop per outcome is started, logged with every
//! outcome and finished. Then the server's verdicts are checked: each job
//! in the state the step leads to, each action on its timeline by the
//! person who took it, the round finished with every outcome. A new
//! service, or a new step in one, is walked without a new test.
//!
//! Then every step a service gives the dispatcher is taken in the back
//! office, and every step it gives residents on their tracking page with
//! JavaScript off (`tests/browser/steps.mjs`), each on a job or round set
//! up in the state it starts from; the verdicts must name who asked.
//!
//! The pages run at the test servers' moment (2026-11-27, a Friday), so
//! the walk also checks local time: a job booked 09:00–11:00 (UK) on a
//! summer date shows those hours, and one booked tomorrow is listed under
//! Tomorrow.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use automerge::AutoCommit;
use doorstep_server::demo::{
    DEMO_CREW, DEMO_DISPATCHER, DEMO_DISPATCHER_EMAIL, DEMO_OPERATIVE, DEMO_TENANT,
};
use doorstep_server::state::{Changed, system_actor};
use doorstep_shared::job::{Appointment, OfficeEditor};
use doorstep_shared::prelude::*;
use doorstep_shared::round::{Round, RoundEditor, RoundOfficeEditor};
use doorstep_shared::service::{EvidenceRule, ServiceCatalog, ServiceDefinition, ServiceKind};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::uk;
use doorstep_tests::{
    ADMIN_TOKEN, STAFF_PASSWORD, ServerOptions, TestDevice, TestServer, camera_file,
    council_services, test_now,
};
use serde::Serialize;

use crate::web_app::{browser_folder, web_app_folder};

const SAM: UserId = UserId::from_u128(0xd04);

/// Which phone takes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Phone {
    Operative,
    Crew,
}

impl Phone {
    fn user(self) -> UserId {
        match self {
            Phone::Operative => DEMO_OPERATIVE,
            Phone::Crew => SAM,
        }
    }

    /// The field role that takes a step the definition gives `roles`.
    fn for_roles(roles: &[Role]) -> Option<Self> {
        if roles.contains(&Role::Operative) {
            Some(Phone::Operative)
        } else if roles.contains(&Role::Crew) {
            Some(Phone::Crew)
        } else {
            None
        }
    }
}

/// What the browser script is told to do.
#[derive(Serialize)]
struct Plan {
    jobs: Vec<JobWalk>,
    rounds: Vec<RoundWalk>,
    slots: Vec<SlotCheck>,
}

/// One step on one job.
#[derive(Serialize)]
struct JobWalk {
    phone: Phone,
    address: String,
    /// The button's words.
    label: String,
    note: bool,
    /// Photos the step asks for: the kind's label and a picture to take.
    photos: Vec<(String, PathBuf)>,
    checklist: bool,
    /// The status the job shows once the office has decided.
    status: String,
    /// For an action: the words its timeline line shows.
    timeline: Option<String>,
}

#[derive(Serialize)]
struct RoundWalk {
    reference: String,
    steps: Vec<RoundStep>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum RoundStep {
    Transition {
        label: String,
        status: String,
    },
    Outcome {
        stop: usize,
        label: String,
        note: bool,
        photo: Option<PathBuf>,
    },
}

/// Where a booked job must show on Today, and with what words.
#[derive(Serialize)]
struct SlotCheck {
    address: String,
    day: String,
    words: String,
}

/// What the server must hold once the walk is done.
struct Expected {
    doc: DocumentId,
    service: ServiceId,
    state: StateId,
    action: Option<(Name, UserId)>,
    /// Who the server's verdict on the step names: the role, and the
    /// person where there is one.
    requester: Option<(Role, Option<UserId>)>,
}

/// A step taken in the back office or on a tracking page.
#[derive(Serialize)]
struct PageWalk {
    url: String,
    label: String,
    note: bool,
    booking: bool,
    round: bool,
    /// The status the page shows once it is taken.
    status: String,
    /// A screenshot of it, by name.
    shot: Option<&'static str>,
}

/// What `steps.mjs` is told to do.
#[derive(Serialize)]
struct PagePlan {
    office: Vec<PageWalk>,
    residents: Vec<PageWalk>,
    /// The tracking page of a job whose resident changes their details.
    contact: Option<String>,
}

/// Every step a dispatcher or a resident may take in a service: (its id,
/// whether it is a transition, the state it starts from, what it leads
/// to, its words, its evidence).
fn page_steps(
    service: &ServiceDefinition,
    role: Role,
) -> Vec<(Name, bool, StateId, StateId, String, EvidenceRule)> {
    let mut steps = Vec::new();
    for transition in service
        .transitions
        .iter()
        .filter(|t| t.roles.contains(&role))
    {
        if let Some(from) = transition.from.first() {
            steps.push((
                transition.id.clone(),
                true,
                from.clone(),
                transition.to.clone(),
                transition.label.clone(),
                transition.evidence.clone(),
            ));
        }
    }
    for action in service.actions.iter().filter(|a| a.roles.contains(&role)) {
        assert!(
            role != Role::Resident,
            "{} gives residents the action {}, which their pages do not offer",
            service.id,
            action.id
        );
        if let Some(when) = action.when.first() {
            steps.push((
                action.id.clone(),
                false,
                when.clone(),
                action.leads_to.clone().unwrap_or_else(|| when.clone()),
                action.label.clone(),
                action.evidence.clone(),
            ));
        }
    }
    steps
}

/// Sets up a job or round for each step a dispatcher or a resident may
/// take, and says how `steps.mjs` takes it.
async fn plan_page_steps(
    server: &TestServer,
    services: &ServiceCatalog,
    expected: &mut Vec<Expected>,
    covered: &mut Vec<String>,
) -> PagePlan {
    let mut plan = PagePlan {
        office: Vec::new(),
        residents: Vec::new(),
        contact: None,
    };
    let mut rounds = 0u128;
    for service in services.iter() {
        for role in [Role::Dispatcher, Role::Resident] {
            for (id, is_transition, from, to, label, evidence) in page_steps(service, role) {
                let booking = is_transition && service.booking.as_ref() == Some(&id);
                let status = service.state_label(&to).to_owned();
                let shot = match (service.id.as_str(), id.as_str(), role) {
                    ("housing-repair", "cancel", Role::Dispatcher) => {
                        Some("office-dispatcher-cancels")
                    }
                    ("housing-repair", "rebook", Role::Resident) => Some("resident-asks-to-rebook"),
                    _ => None,
                };
                let (doc, url) = match service.kind {
                    ServiceKind::Job => {
                        let n = plan.office.len() + plan.residents.len() + 1;
                        let address = format!("Flat {n}, Step Court, Worthing");
                        let contact =
                            (role == Role::Resident && plan.contact.is_none()).then(|| {
                                serde_json::json!({
                                    "name": "Olu Adeyemi",
                                    "phone": "07700 900222",
                                    "preferred": "sms",
                                })
                            });
                        let with_contact = contact.is_some();
                        let job =
                            make_job_with(server, service, &address, Phone::Operative, contact)
                                .await;
                        put_in_state(server, job, service, &from).await;
                        let url = match role {
                            Role::Resident => {
                                let token = doorstep_server::residents::issue(
                                    &server.state,
                                    DEMO_TENANT,
                                    job,
                                    test_now(),
                                )
                                .await
                                .unwrap();
                                format!("/track/{token}")
                            }
                            _ => format!("/office/jobs/{job}"),
                        };
                        if with_contact {
                            plan.contact = Some(url.clone());
                        }
                        (DocumentId::Job(job), url)
                    }
                    ServiceKind::Round => {
                        rounds += 1;
                        let round = RoundId::from_u128(0xa2_0000 + rounds);
                        let reference = format!("{}-OFFICE-{rounds}", service.reference_prefix);
                        let logged = evidence.all_outcomes;
                        make_round_in(server, service, &reference, round, (&from, logged)).await;
                        (DocumentId::Round(round), format!("/office/rounds/{round}"))
                    }
                };
                let walk = PageWalk {
                    url,
                    label: label.clone(),
                    note: evidence.note,
                    booking,
                    round: service.kind == ServiceKind::Round,
                    status,
                    shot,
                };
                let (person, place) = match role {
                    Role::Resident => (None, "tracking page"),
                    _ => (Some(DEMO_DISPATCHER), "back office"),
                };
                expected.push(Expected {
                    doc,
                    service: service.id.clone(),
                    state: to,
                    action: (!is_transition).then(|| (id.clone(), DEMO_DISPATCHER)),
                    // A booking is the server's step, made when the slot is
                    // taken; the dispatcher's booking names her.
                    requester: (is_transition && !(booking && role == Role::Resident))
                        .then_some((role, person)),
                });
                covered.push(format!("{} {label} ({role:?}, {place})", service.id));
                match role {
                    Role::Resident => plan.residents.push(walk),
                    _ => plan.office.push(walk),
                }
            }
        }
    }
    plan
}

/// Distinct pictures, one per photo taken (the server refuses a picture
/// another document already has).
struct Pictures {
    dir: PathBuf,
    taken: u32,
}

impl Pictures {
    fn next(&mut self) -> PathBuf {
        self.taken += 1;
        let path = self.dir.join(format!("walk-{}.jpg", self.taken));
        std::fs::write(
            &path,
            camera_file(800 + 8 * self.taken as usize, 600 + 6 * self.taken as usize),
        )
        .unwrap();
        path
    }
}

/// Every field step of a job service: (transition or action id, the phone
/// that takes it, the state it starts from).
fn job_steps(service: &ServiceDefinition) -> Vec<(Name, bool, Phone, StateId)> {
    let mut steps = Vec::new();
    for transition in &service.transitions {
        if let (Some(phone), Some(from)) =
            (Phone::for_roles(&transition.roles), transition.from.first())
        {
            steps.push((transition.id.clone(), true, phone, from.clone()));
        }
    }
    for action in &service.actions {
        if let (Some(phone), Some(when)) = (Phone::for_roles(&action.roles), action.when.first()) {
            steps.push((action.id.clone(), false, phone, when.clone()));
        }
    }
    steps
}

/// Makes a job through the public API, for `phone`'s person.
async fn make_job(
    server: &TestServer,
    service: &ServiceDefinition,
    address: &str,
    phone: Phone,
) -> JobId {
    make_job_with(server, service, address, phone, None).await
}

/// Makes a job through the public API, for `phone`'s person, with the
/// resident's `contact` details if any.
async fn make_job_with(
    server: &TestServer,
    service: &ServiceDefinition,
    address: &str,
    phone: Phone,
    contact: Option<serde_json::Value>,
) -> JobId {
    let mut job = serde_json::json!({
        "service": service.id.as_str(),
        "address": address,
        "description": "Set up for the walk.",
        "assignee": { "user": phone.user().to_string() },
    });
    if let Some(contact) = contact {
        job["contact"] = contact;
    }
    let (status, body) = server
        .post_json("/api/jobs", &job, Some(ADMIN_TOKEN))
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    body["job"].as_str().unwrap().parse().unwrap()
}

/// Moves a job to `state` as the office and the field would (setting up
/// the world before the step under test).
async fn put_in_state(
    server: &TestServer,
    job: JobId,
    service: &ServiceDefinition,
    state: &StateId,
) {
    let (service, state) = (service.clone(), state.clone());
    let people = [
        Actor {
            user: DEMO_DISPATCHER,
            role: Role::Dispatcher,
            device: None,
        },
        system_actor(),
        Actor {
            user: DEMO_OPERATIVE,
            role: Role::Operative,
            device: None,
        },
        Actor {
            user: SAM,
            role: Role::Crew,
            device: None,
        },
    ];
    let mut ids = 0xa11_0000u128 + (job.as_uuid().as_u128() & 0xffff) * 0x100;
    doorstep_server::office::edit_job_document(&server.state, job, move |doc, _| {
        demo::walk_job(doc, &service, &state, &people, test_now(), || {
            ids += 1;
            ids
        })
        .unwrap_or_else(|error| panic!("setting up a {} job: {error}", service.id));
        Ok(())
    })
    .await
    .unwrap();
}

/// Books a job for 09:00–11:00 local time on `date`.
async fn book(server: &TestServer, job: JobId, date: Date) {
    doorstep_server::office::edit_job_document(&server.state, job, move |doc, _| {
        OfficeEditor::new(doc)?.set_appointment(Some(Appointment {
            starts: uk::at(date, 9, 0),
            ends: uk::at(date, 11, 0),
        }))
    })
    .await
    .unwrap();
}

/// A round of `service` for the demo crew today, with a stop per outcome,
/// made as the office would.
async fn make_round(
    server: &TestServer,
    service: &ServiceDefinition,
    reference: &str,
) -> (RoundId, Vec<PropertyId>) {
    let id = RoundId::from_u128(0xa1_0001);
    let stops = make_round_in(server, service, reference, id, (&service.initial, false)).await;
    (id, stops)
}

/// Logs an outcome at every stop of a round, as its crew would.
fn log_every_stop(
    document: &mut AutoCommit,
    service: &ServiceDefinition,
    crew: &Actor,
    ids: &mut u128,
) {
    let now = test_now();
    let order = Round::load(document).unwrap().visiting_order();
    let mut editor = RoundEditor::new(document, crew.clone()).unwrap();
    for (property, outcome) in order.into_iter().zip(&service.outcomes) {
        let photo = outcome.evidence.photos.first().map(|kind| {
            *ids += 1;
            let id = PhotoId::from_u128(*ids);
            editor
                .add_photo(id, &demo::photo(kind.clone(), crew, now))
                .unwrap();
            id
        });
        let note = outcome.evidence.note.then(|| "As found.".to_owned());
        editor
            .log_outcome(service, property, outcome.id.clone(), note, photo, now)
            .unwrap()
            .unwrap();
    }
}

/// Moves a round document to `state` as its crew would (setting up the
/// world before the step under test): each crew transition in turn, every
/// stop logged before the one that needs them all, or once there if
/// `logged`.
fn crew_walk(
    document: &mut AutoCommit,
    service: &ServiceDefinition,
    state: &StateId,
    logged: bool,
) {
    let crew = Actor {
        user: SAM,
        role: Role::Crew,
        device: None,
    };
    let now = test_now();
    let mut ids = 0xc0_0000u128;
    let mut stops_logged = false;
    loop {
        let status = Round::load(document).unwrap().status(service).clone();
        if &status == state {
            if logged && !stops_logged {
                log_every_stop(document, service, &crew, &mut ids);
            }
            return;
        }
        let transition = service
            .transitions
            .iter()
            .find(|t| t.from.contains(&status) && t.roles.contains(&Role::Crew))
            .unwrap_or_else(|| panic!("no crew step of {} from {status}", service.id));
        if transition.evidence.all_outcomes && !stops_logged {
            log_every_stop(document, service, &crew, &mut ids);
            stops_logged = true;
        }
        ids += 1;
        let id = TransitionId::from_u128(ids);
        let to = transition.to.clone();
        RoundEditor::new(document, crew.clone())
            .unwrap()
            .request_transition(id, status, to, Evidence::default(), now)
            .unwrap();
        for (_, decided) in RoundOfficeEditor::new(document)
            .unwrap()
            .decide_pending(service, now, |actor| actor.role)
            .unwrap()
        {
            decided.unwrap();
        }
    }
}

/// [`make_round`] with its own id, in `state`.
async fn make_round_in(
    server: &TestServer,
    service: &ServiceDefinition,
    reference: &str,
    id: RoundId,
    (state, logged): (&StateId, bool),
) -> Vec<PropertyId> {
    let stops: Vec<(PropertyId, String)> = (1..=service.outcomes.len() as u128)
        .map(|n| {
            (
                PropertyId::from_u128(0xa1_0000 + n),
                format!("{n} Walk Close, Worthing"),
            )
        })
        .collect();
    let lines: Vec<(PropertyId, &str)> = stops
        .iter()
        .map(|(id, line)| (*id, line.as_str()))
        .collect();
    let round = demo::round(
        service,
        reference,
        test_now().date(),
        DEMO_CREW,
        &lines,
        &"refuse_240l".parse().unwrap(),
    );
    let (service, state) = (service.clone(), state.clone());
    server
        .state
        .with_server(move |store, services, node| {
            let mut document = round.create_document(node.clone())?;
            crew_walk(&mut document, &service, &state, logged);
            doorstep_server::store::run_sync(store, services, |sync| {
                doorstep_server::intake::store_new(
                    sync,
                    services,
                    DEMO_TENANT,
                    DocumentId::Round(id),
                    &mut document,
                )
            })
        })
        .await
        .unwrap();
    server.state.notify(Changed {
        tenant: DEMO_TENANT,
        by: None,
    });
    stops.into_iter().map(|(id, _)| id).collect()
}

/// The crew's way through a round: each crew transition from the first
/// state on, every outcome logged (one per stop) before the transition
/// that needs them all. Fails naming any crew transition the way misses.
fn round_steps(service: &ServiceDefinition, pictures: &mut Pictures) -> (Vec<RoundStep>, StateId) {
    let mut steps = Vec::new();
    let mut state = service.initial.clone();
    let mut taken = Vec::new();
    let mut logged = false;
    while let Some(transition) = service.transitions.iter().find(|t| {
        t.roles.contains(&Role::Crew) && t.from.contains(&state) && !taken.contains(&t.id)
    }) {
        if transition.evidence.all_outcomes && !logged {
            for (stop, outcome) in service.outcomes.iter().enumerate() {
                steps.push(RoundStep::Outcome {
                    stop,
                    label: outcome.label.clone(),
                    note: outcome.evidence.note,
                    photo: (!outcome.evidence.photos.is_empty()).then(|| pictures.next()),
                });
            }
            logged = true;
        }
        steps.push(RoundStep::Transition {
            label: transition.label.clone(),
            status: service.state_label(&transition.to).to_owned(),
        });
        taken.push(transition.id.clone());
        state = transition.to.clone();
    }
    let missed: Vec<&str> = service
        .transitions
        .iter()
        .filter(|t| t.roles.contains(&Role::Crew) && !taken.contains(&t.id))
        .map(|t| t.id.as_str())
        .collect();
    assert!(
        missed.is_empty(),
        "the walk does not reach the {} crew steps {missed:?} of {}",
        missed.len(),
        service.id
    );
    (steps, state)
}

fn run_browser(browser: &Path, script: &str, args: &[String]) -> bool {
    let mut script = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(browser)
        .stdout(Stdio::piped())
        .spawn()
        .context("could not run node (scripts/setup.sh installs it)")
        .unwrap();
    let stdout = script.stdout.take().unwrap();
    let mut done = false;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        eprintln!("browser: {line}");
        done |= line == "done";
    }
    let status = script.wait().unwrap();
    done && status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_step_of_every_service_is_taken_in_the_app() {
    let web_app = web_app_folder().unwrap();
    let browser = browser_folder().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let folder = council_services(dir.path()).unwrap();
    let options = ServerOptions {
        web_app: Some(web_app),
        services_dir: Some(folder.clone()),
        ..ServerOptions::default()
    };
    let server = TestServer::start_at(dir.path(), options).await.unwrap();
    let services = doorstep_server::services::load(Some(&folder)).unwrap();
    let mut pictures = Pictures {
        dir: dir.path().to_owned(),
        taken: 0,
    };

    let mut plan = Plan {
        jobs: Vec::new(),
        rounds: Vec::new(),
        slots: Vec::new(),
    };
    let mut expected = Vec::new();
    let mut covered = Vec::new();
    for service in services.iter() {
        match service.kind {
            ServiceKind::Job => {
                for (step, is_transition, phone, from) in job_steps(service) {
                    let address = format!("Unit {:02}, Walk Row, Worthing", plan.jobs.len() + 1);
                    let job = make_job(&server, service, &address, phone).await;
                    put_in_state(&server, job, service, &from).await;
                    let (label, evidence, state, timeline) = if is_transition {
                        let transition = service.transition(&step).unwrap();
                        (
                            transition.label.clone(),
                            &transition.evidence,
                            transition.to.clone(),
                            None,
                        )
                    } else {
                        let action = service.action(&step).unwrap();
                        let state = action.leads_to.clone().unwrap_or_else(|| from.clone());
                        (
                            action.label.clone(),
                            &action.evidence,
                            state,
                            Some(action.label.clone()),
                        )
                    };
                    plan.jobs.push(JobWalk {
                        phone,
                        address,
                        label: label.clone(),
                        note: evidence.note,
                        photos: evidence
                            .photos
                            .iter()
                            .map(|kind| (service.photo_label(kind).to_owned(), pictures.next()))
                            .collect(),
                        checklist: evidence.checklist,
                        status: service.state_label(&state).to_owned(),
                        timeline,
                    });
                    expected.push(Expected {
                        doc: DocumentId::Job(job),
                        service: service.id.clone(),
                        state,
                        action: (!is_transition).then(|| (step.clone(), phone.user())),
                        requester: None,
                    });
                    covered.push(format!("{} {label} ({phone:?})", service.id));
                }
            }
            ServiceKind::Round => {
                let reference = format!("{}-WALK", service.reference_prefix);
                let (round, stops) = make_round(&server, service, &reference).await;
                let (steps, end) = round_steps(service, &mut pictures);
                for step in &steps {
                    match step {
                        RoundStep::Transition { label, .. } => {
                            covered.push(format!("{} {label} (Crew)", service.id));
                        }
                        RoundStep::Outcome { label, .. } => {
                            covered.push(format!("{} outcome {label} (Crew)", service.id));
                        }
                    }
                }
                expected.push(Expected {
                    doc: DocumentId::Round(round),
                    service: service.id.clone(),
                    state: end,
                    action: None,
                    requester: None,
                });
                assert_eq!(stops.len(), service.outcomes.len());
                plan.rounds.push(RoundWalk { reference, steps });
            }
        }
    }
    let pages = plan_page_steps(&server, &services, &mut expected, &mut covered).await;
    eprintln!(
        "the walk covers {} steps:\n  {}",
        covered.len(),
        covered.join("\n  ")
    );

    // Local time: two of the operative's jobs booked, tomorrow and on a
    // summer date, 09:00–11:00 UK time.
    let today = test_now().date();
    let summer = Date::new(2027, 7, 14).unwrap();
    let operative_jobs: Vec<(usize, &Expected)> = plan
        .jobs
        .iter()
        .zip(&expected)
        .enumerate()
        .filter(|(_, (walk, _))| walk.phone == Phone::Operative)
        .map(|(n, (_, expected))| (n, expected))
        .take(2)
        .collect();
    for ((n, expected), (date, day, words)) in operative_jobs.into_iter().zip([
        (today.succ(), "Tomorrow", "Tomorrow, 09:00–11:00".to_owned()),
        (
            summer,
            "Later",
            format!("{}, 09:00–11:00", summer.in_words()),
        ),
    ]) {
        let DocumentId::Job(job) = expected.doc else {
            unreachable!("job walks are of jobs")
        };
        book(&server, job, date).await;
        plan.slots.push(SlotCheck {
            address: plan.jobs[n].address.clone(),
            day: day.into(),
            words,
        });
    }

    let plan_path = dir.path().join("walk.json");
    std::fs::write(&plan_path, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    let shots = std::env::var("DOORSTEP_SCREENSHOTS").unwrap_or_else(|_| "-".into());
    let args = vec![
        server.url("/app/"),
        server.code_for("Priya Sharma"),
        server.code_for("Sam Lee"),
        plan_path.display().to_string(),
        test_now().as_millis().to_string(),
        shots,
    ];
    let walked = tokio::task::block_in_place(|| run_browser(&browser, "walk.mjs", &args));
    assert!(walked, "the browser walk failed");

    // The dispatcher's and residents' steps, in the back office and on
    // tracking pages.
    let pages_path = dir.path().join("steps.json");
    std::fs::write(&pages_path, serde_json::to_vec_pretty(&pages).unwrap()).unwrap();
    let args = vec![
        server.url(""),
        DEMO_DISPATCHER_EMAIL.to_owned(),
        STAFF_PASSWORD.to_owned(),
        pages_path.display().to_string(),
        std::env::var("DOORSTEP_SCREENSHOTS").unwrap_or_else(|_| "-".into()),
    ];
    let walked = tokio::task::block_in_place(|| run_browser(&browser, "steps.mjs", &args));
    assert!(walked, "the back office's and residents' walk failed");

    // The server's verdicts, as the dispatcher's device receives them.
    let mut office = TestDevice::enrol(&server, &server.code_for("Dan Okafor"), DEMO_TENANT)
        .await
        .unwrap();
    office.sync(&server, test_now()).await.unwrap();
    for expected in &expected {
        let document = office
            .docs
            .get(&expected.doc)
            .unwrap_or_else(|| panic!("the office has {}", expected.doc));
        let service = services.get(&expected.service).unwrap();
        match expected.doc {
            DocumentId::Job(_) => {
                let job = Job::load(document).unwrap();
                assert_eq!(
                    job.status(service),
                    &expected.state,
                    "{} of {}",
                    expected.doc,
                    service.id
                );
                if let Some((role, user)) = expected.requester {
                    let log = job.transitions();
                    let decided = job
                        .office
                        .verdicts
                        .iter()
                        .filter(|(_, verdict)| verdict.decision == Decision::Accepted)
                        .max_by_key(|(_, verdict)| verdict.seq)
                        .map(|(id, verdict)| (log.decided_move(id), verdict.requester.clone()));
                    let Some((Some((_, to)), Some(requester))) = decided else {
                        panic!(
                            "{} of {} has no accepted verdict naming who asked",
                            expected.doc, service.id
                        );
                    };
                    assert_eq!(to, &expected.state, "{} of {}", expected.doc, service.id);
                    assert_eq!(requester.role, role, "{} of {}", expected.doc, service.id);
                    if let Some(user) = user {
                        assert_eq!(
                            requester.user, user,
                            "the history names the member of staff"
                        );
                    }
                }
                if let Some((action, user)) = &expected.action {
                    assert!(
                        job.timeline
                            .values()
                            .any(|event| &event.action == action && event.actor.user == *user),
                        "{action} of {} is on the timeline",
                        service.id
                    );
                }
            }
            DocumentId::Round(_) if expected.requester.is_some() => {
                let round = Round::load(document).unwrap();
                assert_eq!(round.status(service), &expected.state, "{}", service.id);
            }
            DocumentId::Round(_) => {
                let round = Round::load(document).unwrap();
                assert_eq!(round.status(service), &expected.state, "{}", service.id);
                let mut kinds: Vec<&str> =
                    round.outcomes.values().map(|o| o.kind.as_str()).collect();
                kinds.sort_unstable();
                let mut all: Vec<&str> = service.outcomes.iter().map(|o| o.id.as_str()).collect();
                all.sort_unstable();
                assert_eq!(kinds, all, "every outcome logged once");
            }
            DocumentId::Contact(_) => unreachable!(),
        }
    }
    server.stop().await.unwrap();
}
