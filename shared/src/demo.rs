//! Builders for new jobs and rounds from a service definition: used by the
//! server when it creates work, by its demo seed, and by tests.

use std::collections::BTreeMap;

use autosurgeon::Text;

use crate::ids::{Name, PropertyId, TeamId};
use crate::job::{Address, ChecklistItem, JOB_SCHEMA_VERSION, Job, JobOffice, PhotoRef};
use crate::round::{Container, Property, ROUND_SCHEMA_VERSION, Round, RoundOffice};
use crate::service::ServiceDefinition;
use crate::time::{Date, Timestamp};
use crate::transition::Actor;

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
        },
        outcomes: BTreeMap::new(),
        photos: BTreeMap::new(),
        requests: BTreeMap::new(),
    }
}
