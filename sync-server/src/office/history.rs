//! A job's history in plain words for the back office, read from the job
//! document's own records — every request and the server's verdict on it,
//! every action, photo and checklist tick, and what staff did in the back
//! office — each with who and when.
//!
//! Who is taken from the server's records, never from what a record says:
//! each record was signed by an Automerge actor, and the server knows which
//! device (and so which person) it bound each actor to at enrolment. A
//! record signed by the server itself (a resident's request from the
//! tracking page, a timer's step, a dispatcher's job) was written by the
//! server, so its own words are taken; office edits name the member of
//! staff from the signed-in session that made them.

use std::collections::BTreeMap;

use automerge::ActorId;
use doorstep_shared::ids::UserId;
use doorstep_shared::job::Job;
use doorstep_shared::service::ServiceDefinition;
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::{Actor, Decision, Role};

/// Who wrote each record of a job, from the server's records.
#[derive(Debug, Clone, Default)]
pub(crate) struct Authors {
    /// The actor that signed each record, by part and record key.
    pub signers: BTreeMap<(&'static str, String), ActorId>,
    /// The user of each device actor the server enrolled.
    pub devices: BTreeMap<ActorId, UserId>,
}

/// Who wrote a record, as far as the server knows.
enum Writer {
    /// A person: by a device of theirs, or by the server for them.
    Person(UserId),
    /// The server on its own account (a timer, a rule).
    Server,
    /// The resident, through the residents' pages.
    Resident,
    /// A record whose signer the server cannot place.
    Unknown,
}

impl Authors {
    fn writer(&self, part: &'static str, key: String, claimed: &Actor) -> Writer {
        let Some(actor) = self.signers.get(&(part, key)) else {
            return Writer::Unknown;
        };
        if let Some(user) = self.devices.get(actor) {
            return Writer::Person(*user);
        }
        // Signed by a server node: the server wrote it and its words stand.
        match claimed.role {
            Role::System => Writer::Server,
            Role::Resident => Writer::Resident,
            _ => Writer::Person(claimed.user),
        }
    }

    /// Every record's writer, for [`people`].
    fn writers<'a>(&'a self, job: &'a Job) -> impl Iterator<Item = Writer> + 'a {
        let requests = job
            .requests
            .iter()
            .map(|(id, request)| self.writer("requests", id.to_string(), &request.actor));
        let timeline = job
            .timeline
            .iter()
            .map(|(id, event)| self.writer("timeline", id.to_string(), &event.actor));
        let photos = job
            .photos
            .iter()
            .map(|(id, photo)| self.writer("photos", id.to_string(), &photo.taken_by));
        let ticks = job
            .ticks
            .iter()
            .map(|(item, tick)| self.writer("ticks", item.to_string(), &tick.by));
        requests.chain(timeline).chain(photos).chain(ticks)
    }
}

fn say(writer: &Writer, names: &BTreeMap<UserId, String>) -> String {
    match writer {
        Writer::Person(user) => names
            .get(user)
            .cloned()
            .unwrap_or_else(|| "Someone no longer listed".into()),
        Writer::Server => "The server".into(),
        Writer::Resident => "The resident".into(),
        Writer::Unknown => "Someone".into(),
    }
}

/// Every user a job's history names.
pub(crate) fn people(job: &Job, authors: &Authors) -> Vec<UserId> {
    let mut users: Vec<UserId> = authors
        .writers(job)
        .filter_map(|writer| match writer {
            Writer::Person(user) => Some(user),
            _ => None,
        })
        .chain(job.office.log.iter().filter_map(|entry| entry.by))
        .collect();
    users.sort();
    users.dedup();
    users
}

/// The job's history, oldest first: when, and what happened.
pub(crate) fn history(
    job: &Job,
    service: &ServiceDefinition,
    authors: &Authors,
    names: &BTreeMap<UserId, String>,
) -> Vec<(Timestamp, String)> {
    let mut entries = Vec::new();
    if let Some(created) = job.office.created_at {
        entries.push((created, format!("Job {} created", job.office.reference)));
    }
    for (id, request) in &job.requests {
        let to = service.state_label(&request.to);
        let writer = authors.writer("requests", id.to_string(), &request.actor);
        let mut asked = format!("{} asked to move it to “{to}”", say(&writer, names));
        if let Some(note) = &request.evidence.note {
            asked.push_str(&format!(", noting “{note}”"));
        }
        entries.push((request.at, asked));
        if let Some(verdict) = job.office.verdicts.get(id) {
            let decided = verdict.to.as_ref().map_or(to, |to| service.state_label(to));
            let said = match &verdict.decision {
                Decision::Accepted => format!("The server accepted the move to “{decided}”"),
                Decision::Refused { reason } => {
                    format!("The server refused the move to “{decided}”: {reason}")
                }
            };
            entries.push((verdict.at, said));
        }
    }
    for (id, event) in &job.timeline {
        let label = service
            .action(&event.action)
            .map_or(event.action.as_str(), |action| action.label.as_str());
        let writer = authors.writer("timeline", id.to_string(), &event.actor);
        let mut said = format!("{}: {label}", say(&writer, names));
        if let Some(note) = &event.note {
            said.push_str(&format!(" — “{note}”"));
        }
        entries.push((event.at, said));
    }
    for (id, photo) in &job.photos {
        let writer = authors.writer("photos", id.to_string(), &photo.taken_by);
        entries.push((
            photo.taken_at,
            format!(
                "{} took a photo: {}",
                say(&writer, names),
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
        let writer = authors.writer("ticks", item.to_string(), &tick.by);
        entries.push((tick.at, format!("{} {verb} “{label}”", say(&writer, names))));
    }
    for entry in &job.office.log {
        let by = match entry.by {
            Some(crate::state::RESIDENT_USER) => say(&Writer::Resident, names),
            Some(user) => say(&Writer::Person(user), names),
            None => "The council's systems".into(),
        };
        entries.push((entry.at, format!("{by}: {}", entry.what)));
    }
    entries.sort();
    entries
}
