//! Jobs and rounds in known states, on a server and two devices.

use automerge::{ActorId, AutoCommit};
use doorstep_shared::prelude::*;
use doorstep_shared::service::ServiceDefinition;

pub(crate) fn service(id: &str) -> ServiceDefinition {
    ServiceCatalog::builtin()
        .unwrap()
        .get(&id.parse().unwrap())
        .unwrap()
        .clone()
}

/// A service a council adds as a file: a job service with two states and
/// one step.
pub(crate) const PEST_CONTROL: &str = r#"id = "pest-control"
name = "Pest control"
kind = "job"
reference_prefix = "PC"
initial = "reported"

[[states]]
id = "reported"
label = "Reported"

[[states]]
id = "treated"
label = "Treated"
terminal = true

[[photo_kinds]]
id = "after"
label = "After"

[[transitions]]
id = "treat"
label = "Treated"
from = ["reported"]
to = "treated"
roles = ["operative"]
"#;

pub(crate) fn name<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse().unwrap()
}

/// Minutes after 2026-11-27 08:00 UTC.
pub(crate) fn at(minutes: i64) -> Timestamp {
    Timestamp::at(name("2026-11-27"), 8, 0).plus_minutes(minutes)
}

pub(crate) fn person(n: u128, role: Role) -> Actor {
    Actor {
        user: UserId::from_u128(n),
        role,
        device: Some(DeviceId::from_u128(n)),
    }
}

pub(crate) fn operative() -> Actor {
    person(10, Role::Operative)
}

pub(crate) fn dispatcher() -> Actor {
    person(20, Role::Dispatcher)
}

pub(crate) fn server_actor() -> ActorId {
    ActorId::from(b"server-node-1".as_slice())
}

pub(crate) fn device(doc: &mut AutoCommit, label: &str) -> AutoCommit {
    doc.fork().with_actor(ActorId::from(label.as_bytes()))
}

/// Requests a transition as `actor` and has the server decide it.
pub(crate) fn move_job(
    doc: &mut AutoCommit,
    service: &ServiceDefinition,
    actor: &Actor,
    id: u128,
    to: &str,
    evidence: Evidence,
) -> Result<StateId, InvalidTransition> {
    let from = Job::load(doc).unwrap().status(service).clone();
    JobEditor::new(doc, actor.clone())
        .unwrap()
        .request_transition(TransitionId::from_u128(id), from, name(to), evidence, at(0))
        .unwrap();
    let decided = OfficeEditor::new(doc)
        .unwrap()
        .decide_pending(service, at(1), |actor| actor.role)
        .unwrap();
    assert_eq!(decided.len(), 1, "one request was pending");
    decided.into_iter().next().unwrap().1
}

/// A housing repair on the server, booked, with the notes reading
/// "Leak under the kitchen sink."
pub(crate) fn booked_repair() -> AutoCommit {
    let repair = service("housing-repair");
    let mut doc = demo::job(&repair, 42, "7 Tarring Road, Worthing, BN11 4SS", at(0))
        .create_document(server_actor())
        .unwrap();
    JobEditor::new(&mut doc, dispatcher())
        .unwrap()
        .update_notes("Leak under the kitchen sink.")
        .unwrap();
    move_job(
        &mut doc,
        &repair,
        &dispatcher(),
        1,
        "booked",
        Evidence::default(),
    )
    .unwrap();
    doc
}

/// The same repair with work started (a before photo taken).
pub(crate) fn started_repair() -> AutoCommit {
    let repair = service("housing-repair");
    let mut doc = booked_repair();
    add_photo(&mut doc, 100, "before");
    move_job(
        &mut doc,
        &repair,
        &operative(),
        2,
        "in_progress",
        Evidence::default(),
    )
    .unwrap();
    doc
}

pub(crate) fn add_photo(doc: &mut AutoCommit, id: u128, kind: &str) {
    JobEditor::new(doc, operative())
        .unwrap()
        .add_photo(
            PhotoId::from_u128(id),
            &demo::photo(name(kind), &operative(), at(5)),
        )
        .unwrap();
}

pub(crate) fn tick_all(doc: &mut AutoCommit, items: &[&str]) {
    let mut editor = JobEditor::new(doc, operative()).unwrap();
    for item in items {
        editor.tick(&name(item), true, at(10)).unwrap();
    }
}

/// A waste round of five properties, planned.
pub(crate) fn planned_round() -> AutoCommit {
    let round = service("waste-round");
    let stops: Vec<(PropertyId, String)> = (1..=5)
        .map(|n| {
            (
                PropertyId::from_u128(n),
                format!("{n} Church Walk, Lancing, BN15 8AA"),
            )
        })
        .collect();
    let stops: Vec<(PropertyId, &str)> = stops.iter().map(|(id, a)| (*id, a.as_str())).collect();
    demo::round(
        &round,
        "WR-FRI-3",
        name("2026-11-27"),
        TeamId::from_u128(3),
        &stops,
        &name("refuse_240l"),
    )
    .create_document(server_actor())
    .unwrap()
}

/// Merges two replicas both ways.
pub(crate) fn sync(a: &mut AutoCommit, b: &mut AutoCommit) {
    a.merge(b).unwrap();
    b.merge(a).unwrap();
}
