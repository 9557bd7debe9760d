//! A job's history in plain words for the back office, read from the job
//! document's own records — every request and the server's verdict on it,
//! every action, photo and checklist tick, each with who and when — rather
//! than from raw CRDT changes, whose actors are devices, not people.

use std::collections::BTreeMap;

use doorstep_shared::ids::UserId;
use doorstep_shared::job::Job;
use doorstep_shared::service::ServiceDefinition;
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::{Actor, Decision, Role};

/// Who did something, in words: their name if the server knows it, else
/// what they are.
fn who(actor: &Actor, names: &BTreeMap<UserId, String>) -> String {
    match actor.role {
        Role::System => "The server".into(),
        Role::Resident => "The resident".into(),
        _ => names
            .get(&actor.user)
            .cloned()
            .unwrap_or_else(|| format!("Someone ({})", actor.role)),
    }
}

/// Every user a job's history names.
pub fn people(job: &Job) -> Vec<UserId> {
    let mut users: Vec<UserId> = job
        .requests
        .values()
        .map(|request| request.actor.user)
        .chain(job.timeline.values().map(|event| event.actor.user))
        .chain(job.photos.values().map(|photo| photo.taken_by.user))
        .chain(job.ticks.values().map(|tick| tick.by.user))
        .collect();
    users.sort();
    users.dedup();
    users
}

/// The job's history, oldest first: when, and what happened.
pub fn history(
    job: &Job,
    service: &ServiceDefinition,
    names: &BTreeMap<UserId, String>,
) -> Vec<(Timestamp, String)> {
    let mut entries = Vec::new();
    if let Some(created) = job.office.created_at {
        entries.push((created, format!("Job {} created", job.office.reference)));
    }
    for (id, request) in &job.requests {
        let to = service.state_label(&request.to);
        let mut asked = format!("{} asked to move it to “{to}”", who(&request.actor, names));
        if let Some(note) = &request.evidence.note {
            asked.push_str(&format!(", noting “{note}”"));
        }
        entries.push((request.at, asked));
        if let Some(verdict) = job.office.verdicts.get(id) {
            let said = match &verdict.decision {
                Decision::Accepted => format!("The server accepted the move to “{to}”"),
                Decision::Refused { reason } => {
                    format!("The server refused the move to “{to}”: {reason}")
                }
            };
            entries.push((verdict.at, said));
        }
    }
    for event in job.timeline.values() {
        let label = service
            .action(&event.action)
            .map_or(event.action.as_str(), |action| action.label.as_str());
        let mut said = format!("{}: {label}", who(&event.actor, names));
        if let Some(note) = &event.note {
            said.push_str(&format!(" — “{note}”"));
        }
        entries.push((event.at, said));
    }
    for photo in job.photos.values() {
        entries.push((
            photo.taken_at,
            format!(
                "{} took a photo: {}",
                who(&photo.taken_by, names),
                service.photo_label(&photo.kind)
            ),
        ));
    }
    for (item, tick) in &job.ticks {
        let label = job
            .office
            .checklist
            .get(item)
            .map_or(item.as_str(), |item| item.label.as_str());
        let verb = if tick.done { "ticked" } else { "unticked" };
        entries.push((
            tick.at,
            format!("{} {verb} “{label}”", who(&tick.by, names)),
        ));
    }
    entries.sort();
    entries
}
