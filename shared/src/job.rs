//! The job document: one Automerge document per repair, collection or
//! referral.
//!
//! The root has two parts. `office` is written only by the server (reference,
//! service, address, appointment, assignee, checklist template, verdicts); the
//! sync server refuses device changes under it. Everything else is written by
//! devices, each item under its own key (photo id, event id, request id,
//! checklist item), so concurrent additions from two devices never collide.
//! Notes are collaborative text: two people's edits to the same note both
//! survive. Resident contact details live in [`crate::contact`], never here.

mod edit;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile, Text};

pub use edit::{JobEditor, OfficeEditor};

use crate::document::DocumentError;
use crate::ids::{
    BlobHash, EventId, Name, ParseIdError, PhotoId, ServiceId, StateId, TeamId, TransitionId,
    UserId,
};
use crate::service::{ServiceDefinition, SlaTarget};
use crate::time::Timestamp;
use crate::transition::{
    Actor, Decision, OfficeEntry, TransitionLog, TransitionRequest, Verdict, Waiting,
};
use crate::workflow::{Decidable, Facts};

/// The job document's current schema version.
///
/// Version 2 made notes collaborative text (v1 kept one string, so one of two
/// concurrent edits was lost) and split the address into lines, postcode and
/// UPRN. See [`crate::migrate`].
pub const JOB_SCHEMA_VERSION: u64 = 2;

/// A whole job document, as read.
#[derive(Debug, Clone, Reconcile, Hydrate)]
pub struct Job {
    /// The schema version the document was last written with.
    pub schema_version: u64,
    /// The part only the server writes.
    pub office: JobOffice,
    /// Free-text notes, edited by anyone working the job.
    pub notes: Text,
    /// Checklist items ticked (or unticked), keyed by the template item.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub ticks: BTreeMap<Name, Tick>,
    /// Before/after and other photos.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub photos: BTreeMap<PhotoId, PhotoRef>,
    /// Actions taken on the job ("on my way", "no access — card left").
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub timeline: BTreeMap<EventId, TimelineEvent>,
    /// Transition requests; verdicts are in [`JobOffice::verdicts`].
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub requests: BTreeMap<TransitionId, TransitionRequest>,
}

/// The server-owned part of a job.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct JobOffice {
    /// The reference residents quote, such as `HR-01042`.
    pub reference: String,
    /// Which service definition governs the job.
    pub service: ServiceId,
    /// The SLA priority, if the service has priorities.
    pub priority: Option<Name>,
    /// When the job was created; the SLA clock starts here. Unknown for jobs
    /// migrated from schema v1, which did not record it.
    pub created_at: Option<Timestamp>,
    /// When the SLA target falls due, written by the server when the job is
    /// made or its priority changes, so a later change to the service's
    /// targets does not move the promise made to the resident. Jobs made
    /// before it was written have none and work it out from `created_at`;
    /// their documents lack the field, which reads as none.
    #[autosurgeon(missing = "Option::default")]
    pub due: Option<Timestamp>,
    /// Where the work is.
    pub address: Address,
    /// The map position of the address, if known.
    pub location: Option<GeoPoint>,
    /// The booked slot, if booked.
    pub appointment: Option<Appointment>,
    /// Who the job is assigned to.
    pub assignee: Option<Assignee>,
    /// The checklist, copied from the service's template when the job was made.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub checklist: BTreeMap<Name, ChecklistItem>,
    /// The server's verdicts on transition requests.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub verdicts: BTreeMap<TransitionId, Verdict>,
    /// What staff did to the job in the back office, oldest first. Jobs
    /// made before it was kept lack the field, which reads as empty.
    #[autosurgeon(missing = "Vec::new")]
    pub log: Vec<OfficeEntry>,
    /// Requests held until their photos reach the server, oldest first.
    /// Documents from before it was kept lack the field: none wait.
    #[autosurgeon(missing = "Vec::new")]
    pub waiting: Vec<Waiting>,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Address {
    /// Lines from the first (house and street) to the town.
    pub lines: Vec<String>,
    /// The postcode, if known.
    pub postcode: Option<String>,
    /// The Unique Property Reference Number, if known.
    pub uprn: Option<Uprn>,
}

impl Address {
    /// Splits a one-line address at its commas; a last part shaped like a UK
    /// postcode becomes the postcode. Joining the parts gives the line back.
    pub fn from_line(line: &str) -> Address {
        let mut lines: Vec<String> = line
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(str::to_owned)
            .collect();
        let postcode = lines
            .last()
            .filter(|last| looks_like_postcode(last))
            .cloned();
        if postcode.is_some() {
            lines.pop();
        }
        Address {
            lines,
            postcode,
            uprn: None,
        }
    }

    /// The address on one line, as printed on lists.
    pub fn one_line(&self) -> String {
        self.lines
            .iter()
            .chain(self.postcode.iter())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `BN11 1HA`, `SW1A 2AA`, `M1 1AE`: an outward code of 2 to 4 letters and
/// digits starting with a letter, a space, then a digit and two letters.
pub fn looks_like_postcode(text: &str) -> bool {
    let Some((outward, inward)) = text.split_once(' ') else {
        return false;
    };
    let inward = inward.as_bytes();
    (2..=4).contains(&outward.len())
        && outward.starts_with(|c: char| c.is_ascii_uppercase())
        && outward
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && inward.len() == 3
        && inward[0].is_ascii_digit()
        && inward[1..].iter().all(u8::is_ascii_uppercase)
}

/// A Unique Property Reference Number: up to 12 digits, naming one property in
/// Great Britain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uprn(u64);

impl Uprn {
    /// The number.
    pub const fn get(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for Uprn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Uprn {
    type Err = ParseIdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let digits_ok =
            (1..=12).contains(&input.len()) && input.bytes().all(|b| b.is_ascii_digit());
        input
            .parse()
            .ok()
            .filter(|n| digits_ok && *n > 0)
            .map(Uprn)
            .ok_or_else(|| ParseIdError {
                kind: "UPRN",
                input: input.to_owned(),
                expected: "1 to 12 digits",
            })
    }
}

string_encoded!(Uprn);

/// A position in WGS 84 degrees.
#[derive(
    Debug, Clone, Copy, PartialEq, Reconcile, Hydrate, serde::Serialize, serde::Deserialize,
)]
pub struct GeoPoint {
    /// Latitude, north positive.
    pub lat: f64,
    /// Longitude, east positive.
    pub lon: f64,
}

/// A booked slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Appointment {
    /// The start of the slot.
    pub starts: Timestamp,
    /// The end of the slot.
    pub ends: Timestamp,
}

/// Who a job is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Reconcile, Hydrate)]
pub enum Assignee {
    /// One person.
    User(UserId),
    /// A team; any member may pick it up.
    Team(TeamId),
}

/// A checklist item as the service's template defines it.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct ChecklistItem {
    /// What to check, in plain words.
    pub label: String,
    /// Whether completing the job needs it ticked.
    pub mandatory: bool,
    /// Position in the list.
    pub position: u64,
}

/// A tick (or an untick) of a checklist item.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Tick {
    /// Ticked or unticked.
    pub done: bool,
    /// Who changed it last.
    pub by: Actor,
    /// When.
    pub at: Timestamp,
}

/// A photo taken as evidence. The pixels are blobs named by their SHA-256.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct PhotoRef {
    /// The kind the service definition names, such as `before` or `after`.
    pub kind: Name,
    /// When it was taken.
    pub taken_at: Timestamp,
    /// Who took it.
    pub taken_by: Actor,
    /// Where it was taken (kept here as evidence; stripped from the image).
    pub location: Option<GeoPoint>,
    /// The display rendition (long edge 1600 px), once produced.
    pub display: Option<BlobHash>,
    /// The thumbnail (long edge 320 px), once produced.
    pub thumbnail: Option<BlobHash>,
    /// The untouched original, only where the service keeps originals as
    /// evidence; staff-only, never shown to residents.
    pub original: Option<BlobHash>,
}

/// An action recorded on the job's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct TimelineEvent {
    /// The action, as the service definition names it.
    pub action: Name,
    /// Who took it.
    pub actor: Actor,
    /// When.
    pub at: Timestamp,
    /// An optional note ("card left through the letterbox").
    pub note: Option<String>,
}

/// Where a job stands against its service level target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sla<'s> {
    /// The target for the job's priority.
    pub target: &'s SlaTarget,
    /// When it falls due.
    pub due: Timestamp,
    /// When the job first reached a state that meets it, if it has.
    pub met_at: Option<Timestamp>,
}

impl Sla<'_> {
    /// Whether the target was missed, or is past due and still open.
    pub fn is_breached(&self, now: Timestamp) -> bool {
        match self.met_at {
            Some(met) => met > self.due,
            None => now > self.due,
        }
    }
}

impl Job {
    /// Reads a whole job. Works for documents of this build's schema and for
    /// newer ones that kept the fields this build knows (shown read-only).
    pub fn load(doc: &AutoCommit) -> Result<Job, DocumentError> {
        Ok(autosurgeon::hydrate(doc)?)
    }

    /// A new document holding this job, written by the server when the job is
    /// created. Every container exists from the start, so devices only ever
    /// add keys to existing maps.
    pub fn create_document(&self, server: automerge::ActorId) -> Result<AutoCommit, DocumentError> {
        let mut doc = AutoCommit::new().with_actor(server);
        autosurgeon::reconcile(&mut doc, self)?;
        Ok(doc)
    }

    /// The requests and verdicts.
    pub fn transitions(&self) -> TransitionLog<'_> {
        TransitionLog::new(&self.requests, &self.office.verdicts)
    }

    /// The current status under the given service definition.
    pub fn status<'a>(&'a self, service: &'a ServiceDefinition) -> &'a StateId {
        self.transitions().status(&service.initial)
    }

    /// What the workflow rules need to know about this job now.
    pub fn facts(&self, service: &ServiceDefinition) -> Facts {
        let unticked = self
            .office
            .checklist
            .iter()
            .filter(|(id, item)| item.mandatory && !self.ticks.get(*id).is_some_and(|t| t.done))
            .map(|(id, _)| id.clone())
            .collect();
        Facts {
            status: self.status(service).clone(),
            photo_kinds: self.photos.values().map(|p| p.kind.clone()).collect(),
            unticked_mandatory: unticked,
            unlogged_stops: 0,
        }
    }

    /// The job's service level: the target for its priority, when it falls
    /// due (as written when the job was made, else creation time plus the
    /// hours allowed) and when it was met. `None`
    /// without a priority, a matching target or a known creation time.
    pub fn sla<'s>(&self, service: &'s ServiceDefinition) -> Option<Sla<'s>> {
        let priority = self.office.priority.as_ref()?;
        let created = self.office.created_at?;
        let target = service.sla_target(priority)?;
        let met_at = self
            .office
            .verdicts
            .iter()
            .filter(|(id, verdict)| {
                verdict.decision == Decision::Accepted
                    && self
                        .transitions()
                        .decided_move(id)
                        .is_some_and(|(_, to)| target.until.contains(to))
            })
            .map(|(_, verdict)| verdict.at)
            .min();
        Some(Sla {
            target,
            due: self.office.due.unwrap_or(target.due_from(created)),
            met_at,
        })
    }

    /// When the job reached a terminal state (completed, cancelled): the
    /// latest accepted verdict's time; `None` while it is open.
    pub fn closed_at(&self, service: &ServiceDefinition) -> Option<Timestamp> {
        let closed = service
            .state(self.status(service))
            .is_some_and(|state| state.terminal);
        if !closed {
            return None;
        }
        self.office
            .verdicts
            .values()
            .filter(|verdict| verdict.decision == Decision::Accepted)
            .map(|verdict| verdict.at)
            .max()
    }

    /// Checklist items in template order, with their ticks.
    pub fn checklist(&self) -> Vec<(&Name, &ChecklistItem, Option<&Tick>)> {
        let mut items: Vec<_> = self
            .office
            .checklist
            .iter()
            .map(|(id, item)| (id, item, self.ticks.get(id)))
            .collect();
        items.sort_by_key(|(id, item, _)| (item.position, (*id).clone()));
        items
    }

    /// Timeline events, oldest first.
    pub fn timeline(&self) -> Vec<(&EventId, &TimelineEvent)> {
        let mut events: Vec<_> = self.timeline.iter().collect();
        events.sort_by_key(|(id, event)| (event.at, **id));
        events
    }
}

impl Decidable for Job {
    fn load(doc: &AutoCommit) -> Result<Self, DocumentError> {
        Job::load(doc)
    }

    fn transitions(&self) -> TransitionLog<'_> {
        Job::transitions(self)
    }

    fn facts(&self, service: &ServiceDefinition) -> Facts {
        Job::facts(self, service)
    }

    fn waiting(&self) -> &[Waiting] {
        &self.office.waiting
    }
}
