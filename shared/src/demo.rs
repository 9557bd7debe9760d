//! Builders for new jobs and rounds from a service definition: used by the
//! server when it creates work, by its demo seed, and by tests.

use std::collections::{BTreeMap, VecDeque};

use automerge::AutoCommit;
use autosurgeon::Text;

use crate::document::DocumentError;
use crate::ids::{Name, PhotoId, PropertyId, StateId, TeamId, TransitionId};
use crate::job::{
    Address, ChecklistItem, JOB_SCHEMA_VERSION, Job, JobEditor, JobOffice, OfficeEditor, PhotoRef,
};
use crate::round::{Container, Property, ROUND_SCHEMA_VERSION, Round, RoundOffice};
use crate::service::{ServiceDefinition, Transition};
use crate::time::{Date, Timestamp};
use crate::transition::{Actor, Evidence};
use crate::workflow::InvalidTransition;

/// A new job of a service, created at `now`: reference `PREFIX-NNNNN`, the
/// service's checklist, no requests yet (so in the service's initial state).
pub fn job(service: &ServiceDefinition, number: u32, address_line: &str, now: Timestamp) -> Job {
    let checklist = service
        .checklist
        .iter()
        .zip(0..)
        .map(|(item, position)| {
            let copied = ChecklistItem {
                label: item.label.clone(),
                mandatory: item.mandatory,
                position,
            };
            (item.id.clone(), copied)
        })
        .collect();
    Job {
        schema_version: JOB_SCHEMA_VERSION,
        office: JobOffice {
            reference: format!("{}-{number:05}", service.reference_prefix),
            service: service.id.clone(),
            priority: None,
            created_at: Some(now),
            due: None,
            address: Address::from_line(address_line),
            location: None,
            appointment: None,
            assignee: None,
            checklist,
            verdicts: BTreeMap::new(),
            log: Vec::new(),
            waiting: Vec::new(),
        },
        notes: Text::default(),
        ticks: BTreeMap::new(),
        photos: BTreeMap::new(),
        timeline: BTreeMap::new(),
        requests: BTreeMap::new(),
    }
}

/// A photo reference before the pipeline has made its renditions.
pub fn photo(kind: Name, by: &Actor, at: Timestamp) -> PhotoRef {
    PhotoRef {
        kind,
        taken_at: at,
        taken_by: by.clone(),
        location: None,
        display: None,
        thumbnail: None,
        original: None,
    }
}

/// A new round: one property per address, visited in the order given, each
/// with one container of `container` kind.
pub fn round(
    service: &ServiceDefinition,
    reference: &str,
    date: Date,
    crew: TeamId,
    stops: &[(PropertyId, &str)],
    container: &Name,
) -> Round {
    let properties = stops
        .iter()
        .map(|(id, line)| {
            let property = Property {
                address: Address::from_line(line),
                containers: vec![Container {
                    kind: container.clone(),
                    count: 1,
                }],
                crew_note: None,
            };
            (*id, property)
        })
        .collect();
    Round {
        schema_version: ROUND_SCHEMA_VERSION,
        office: RoundOffice {
            reference: reference.to_owned(),
            service: service.id.clone(),
            date,
            crew,
            properties,
            order: stops.iter().map(|(id, _)| *id).collect(),
            verdicts: BTreeMap::new(),
            log: Vec::new(),
            waiting: Vec::new(),
        },
        outcomes: BTreeMap::new(),
        photos: BTreeMap::new(),
        requests: BTreeMap::new(),
    }
}

/// A job could not be walked to the state asked for.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// The document could not be read or written.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// The workflow has no way there.
    #[error("the {service} workflow has no way from {from} to {to}")]
    NoPath {
        /// The service.
        service: String,
        /// Where the job is.
        from: String,
        /// Where it was to go.
        to: String,
    },
    /// Nobody given may make a step of the way.
    #[error("nobody given may make the {transition} step")]
    NoActor {
        /// The step.
        transition: String,
    },
    /// The workflow refused a step.
    #[error(transparent)]
    Refused(#[from] InvalidTransition),
}

/// Moves a job from its state to `to` the shortest way its service's
/// workflow allows, as the people who may take each step would: each step
/// requested by the first of `actors` whose role may take it, with the
/// evidence it needs (a photo of each kind, a note, the mandatory
/// checklist ticked), and decided by the server's rules. Used by the demo
/// seed and by tests setting up the world; request and photo ids come
/// from `next_id`.
pub fn walk_job(
    doc: &mut AutoCommit,
    service: &ServiceDefinition,
    to: &StateId,
    actors: &[Actor],
    now: Timestamp,
    mut next_id: impl FnMut() -> u128,
) -> Result<(), WalkError> {
    let from = Job::load(doc)?.status(service).clone();
    let path = shortest_path(service, &from, to).ok_or_else(|| WalkError::NoPath {
        service: service.id.to_string(),
        from: from.to_string(),
        to: to.to_string(),
    })?;
    for transition in path {
        let actor = actors
            .iter()
            .find(|actor| transition.roles.contains(&actor.role))
            .ok_or_else(|| WalkError::NoActor {
                transition: transition.id.to_string(),
            })?;
        let mut editor = JobEditor::new(doc, actor.clone())?;
        let mut photos = Vec::new();
        for kind in &transition.evidence.photos {
            let id = PhotoId::from_u128(next_id());
            editor.add_photo(id, &photo(kind.clone(), actor, now))?;
            photos.push(id);
        }
        if transition.evidence.checklist {
            for item in service.checklist.iter().filter(|item| item.mandatory) {
                editor.tick(&item.id, true, now)?;
            }
        }
        let evidence = Evidence {
            photos,
            note: transition
                .evidence
                .note
                .then(|| format!("{}: as arranged.", transition.label)),
        };
        let status = Job::load(editor.document())?.status(service).clone();
        editor.request_transition(
            TransitionId::from_u128(next_id()),
            status,
            transition.to.clone(),
            evidence,
            now,
        )?;
        for (_, decided) in OfficeEditor::new(doc)?.decide_pending(service, now, |a| a.role)? {
            decided?;
        }
    }
    Ok(())
}

/// The fewest transitions from one state to another.
fn shortest_path<'s>(
    service: &'s ServiceDefinition,
    from: &'s StateId,
    to: &StateId,
) -> Option<Vec<&'s Transition>> {
    // Each state reached, with the state and the step it was reached by.
    let mut reached: BTreeMap<&StateId, Option<(&StateId, &Transition)>> = BTreeMap::new();
    reached.insert(from, None);
    let mut queue = VecDeque::from([from]);
    while let Some(state) = queue.pop_front() {
        if state == to {
            let mut path = Vec::new();
            let mut at = state;
            while let Some(Some((previous, step))) = reached.get(at) {
                path.push(*step);
                at = previous;
            }
            path.reverse();
            return Some(path);
        }
        for transition in service
            .transitions
            .iter()
            .filter(|t| t.from.contains(state))
        {
            if !reached.contains_key(&transition.to) {
                reached.insert(&transition.to, Some((state, transition)));
                queue.push_back(&transition.to);
            }
        }
    }
    None
}
