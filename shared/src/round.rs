//! The round document: one Automerge document per waste crew and day.
//!
//! The properties and their visiting order are the office's (a dispatcher may
//! reorder a round while the crew works it); outcomes are the crew's, keyed by
//! property, so logging never touches the order and two crew members logging
//! different properties never collide. Starting and finishing the round are
//! transition requests, decided by the server like a job's.

use std::collections::{BTreeMap, BTreeSet};

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile};

use crate::document::{DocumentError, append_at, ensure_writable, object_at, put_at, replace_at};
use crate::ids::{Name, PhotoId, PropertyId, ServiceId, StateId, TeamId, TransitionId};
use crate::job::{Address, PhotoRef};
use crate::service::ServiceDefinition;
use crate::time::{Date, Timestamp};
use crate::transition::{
    Actor, Evidence, OfficeEntry, Role, TransitionLog, TransitionRequest, Verdict, Waiting,
    file_request,
};
use crate::workflow::{self, Decidable, Decided, Facts, InvalidTransition};

/// The round document's current schema version.
pub const ROUND_SCHEMA_VERSION: u64 = 1;

/// A whole round document, as read.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Round {
    /// The schema version the document was last written with.
    pub schema_version: u64,
    /// The part only the server writes.
    pub office: RoundOffice,
    /// What the crew found at each property.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub outcomes: BTreeMap<PropertyId, Outcome>,
    /// Photos taken on the round.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub photos: BTreeMap<PhotoId, PhotoRef>,
    /// Start and finish requests.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub requests: BTreeMap<TransitionId, TransitionRequest>,
}

/// The server-owned part of a round.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct RoundOffice {
    /// The round's reference, such as `WR-MON-3`.
    pub reference: String,
    /// Which service definition governs it.
    pub service: ServiceId,
    /// The day it runs.
    pub date: Date,
    /// The crew working it.
    pub crew: TeamId,
    /// The properties on the round.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub properties: BTreeMap<PropertyId, Property>,
    /// The visiting order, kept apart from the properties so reordering
    /// touches nothing else.
    pub order: Vec<PropertyId>,
    /// The server's verdicts on start and finish requests.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub verdicts: BTreeMap<TransitionId, Verdict>,
    /// What staff did to the round in the back office, oldest first.
    /// Rounds made before it was kept lack the field, which reads as empty.
    #[autosurgeon(missing = "Vec::new")]
    pub log: Vec<OfficeEntry>,
    /// Requests held until their photos reach the server, oldest first.
    /// Documents from before it was kept lack the field: none wait.
    #[autosurgeon(missing = "Vec::new")]
    pub waiting: Vec<Waiting>,
}

/// A property on a round.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Property {
    /// Its address, with UPRN.
    pub address: Address,
    /// The containers to empty.
    pub containers: Vec<Container>,
    /// Standing notes for the crew ("assisted collection: bin is behind the side gate").
    pub crew_note: Option<String>,
}

/// Bins or sacks of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Container {
    /// The kind, such as `refuse_240l` or `recycling_box`.
    pub kind: Name,
    /// How many.
    pub count: u64,
}

/// What the crew found at one property.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Outcome {
    /// The outcome the service defines, such as `collected` or `contaminated`.
    pub kind: Name,
    /// A note ("bin lid open, food waste in recycling").
    pub note: Option<String>,
    /// When it was logged.
    pub at: Timestamp,
    /// Who logged it.
    pub by: Actor,
    /// The photo taken as evidence, if any.
    pub photo: Option<PhotoId>,
}

impl Round {
    /// Reads a whole round.
    pub fn load(doc: &AutoCommit) -> Result<Round, DocumentError> {
        Ok(autosurgeon::hydrate(doc)?)
    }

    /// A new document holding this round, written by the server.
    pub fn create_document(&self, server: automerge::ActorId) -> Result<AutoCommit, DocumentError> {
        let mut doc = AutoCommit::new().with_actor(server);
        autosurgeon::reconcile(&mut doc, self)?;
        Ok(doc)
    }

    /// The visiting order: the office's order without repeats (two
    /// concurrent reorders can leave a property listed twice), then any
    /// property the order leaves out, so no property is ever hidden.
    pub fn visiting_order(&self) -> Vec<PropertyId> {
        let mut seen = BTreeSet::new();
        let mut order: Vec<PropertyId> = self
            .office
            .order
            .iter()
            .filter(|id| self.office.properties.contains_key(id) && seen.insert(**id))
            .copied()
            .collect();
        order.extend(
            self.office
                .properties
                .keys()
                .filter(|id| !seen.contains(*id))
                .copied(),
        );
        order
    }

    /// Properties with an outcome logged, and the total.
    pub fn progress(&self) -> (usize, usize) {
        let done = self
            .office
            .properties
            .keys()
            .filter(|id| self.outcomes.contains_key(id))
            .count();
        (done, self.office.properties.len())
    }

    /// The requests and verdicts.
    pub fn transitions(&self) -> TransitionLog<'_> {
        TransitionLog::new(&self.requests, &self.office.verdicts)
    }

    /// The current status under the given service definition.
    pub fn status<'a>(&'a self, service: &'a ServiceDefinition) -> &'a StateId {
        self.transitions().status(&service.initial)
    }

    /// What the workflow rules need to know about this round now.
    pub fn facts(&self, service: &ServiceDefinition) -> Facts {
        Facts {
            status: self.transitions().status(&service.initial).clone(),
            photo_kinds: self.photos.values().map(|p| p.kind.clone()).collect(),
            unticked_mandatory: Vec::new(),
            unlogged_stops: self
                .office
                .properties
                .keys()
                .filter(|property| !self.outcomes.contains_key(*property))
                .count(),
        }
    }
}

/// Crew-side edits to a round.
pub struct RoundEditor<'d> {
    doc: &'d mut AutoCommit,
    actor: Actor,
}

impl<'d> RoundEditor<'d> {
    /// Opens a round for editing by a crew member.
    pub fn new(doc: &'d mut AutoCommit, actor: Actor) -> Result<Self, DocumentError> {
        ensure_writable(doc, "round", ROUND_SCHEMA_VERSION)?;
        Ok(Self { doc, actor })
    }

    /// The document being edited, as it stands.
    pub fn document(&self) -> &AutoCommit {
        self.doc
    }

    /// Adds a photo taken on the round.
    pub fn add_photo(&mut self, id: PhotoId, photo: &PhotoRef) -> Result<(), DocumentError> {
        put_at(self.doc, &["photos"], &id.to_string(), photo)
    }

    /// Logs (or corrects) the outcome at one property, after checking it
    /// against the service: a contaminated bin needs its photo.
    pub fn log_outcome(
        &mut self,
        service: &ServiceDefinition,
        property: PropertyId,
        kind: Name,
        note: Option<String>,
        photo: Option<PhotoId>,
        now: Timestamp,
    ) -> Result<Result<(), InvalidTransition>, DocumentError> {
        object_at(
            self.doc,
            &["office", "properties", property.to_string().as_str()],
        )?;
        let photo_kinds = match photo {
            Some(id) => {
                let photo: PhotoRef = autosurgeon::hydrate_prop(
                    self.doc,
                    object_at(self.doc, &["photos"])?,
                    id.to_string().as_str(),
                )?;
                BTreeSet::from([photo.kind])
            }
            None => BTreeSet::new(),
        };
        if let Err(why) = workflow::check_outcome(service, &kind, &photo_kinds, note.as_deref()) {
            return Ok(Err(why));
        }
        let outcome = Outcome {
            kind,
            note,
            at: now,
            by: self.actor.clone(),
            photo,
        };
        replace_at(self.doc, &["outcomes"], &property.to_string(), &outcome)?;
        Ok(Ok(()))
    }

    /// Asks to start or finish the round.
    pub fn request_transition(
        &mut self,
        id: TransitionId,
        from: StateId,
        to: StateId,
        evidence: Evidence,
        now: Timestamp,
    ) -> Result<(), DocumentError> {
        file_request(self.doc, &self.actor, id, from, to, evidence, now)
    }
}

/// Server-side edits to a round's office part.
pub struct RoundOfficeEditor<'d> {
    doc: &'d mut AutoCommit,
}

impl<'d> RoundOfficeEditor<'d> {
    /// Opens a round's office part for the server.
    pub fn new(doc: &'d mut AutoCommit) -> Result<Self, DocumentError> {
        ensure_writable(doc, "round", ROUND_SCHEMA_VERSION)?;
        Ok(Self { doc })
    }

    /// Sets the visiting order. Only the moved entries change in the
    /// document, so outcomes logged meanwhile are untouched.
    pub fn reorder(&mut self, order: &[PropertyId]) -> Result<(), DocumentError> {
        put_at(self.doc, &["office"], "order", order)
    }

    /// Gives the round to another crew: their phones get it at their next
    /// sync, and the old crew's drop it.
    pub fn assign_crew(&mut self, crew: TeamId) -> Result<(), DocumentError> {
        put_at(self.doc, &["office"], "crew", crew)
    }

    /// Records what a member of staff did, for the round's history.
    pub fn note(&mut self, entry: &OfficeEntry) -> Result<(), DocumentError> {
        append_at(self.doc, &["office"], "log", entry)
    }

    /// Decides pending start and finish requests, as
    /// [`crate::job::OfficeEditor::decide_pending`] does for jobs.
    pub fn decide_pending(
        &mut self,
        service: &ServiceDefinition,
        now: Timestamp,
        role_of: impl Fn(&Actor) -> Role,
    ) -> Result<Vec<Decided>, DocumentError> {
        workflow::decide_pending::<Round>(
            self.doc,
            service,
            now,
            |actor| Some(role_of(actor)),
            None,
        )
    }

    /// Decides pending requests as the server does, with the roles its
    /// records hold: a requester they do not know has no rights.
    pub fn decide_as_server(
        &mut self,
        service: &ServiceDefinition,
        now: Timestamp,
        role_of: impl Fn(&Actor) -> Option<Role>,
        arrivals: Option<&workflow::Arrivals>,
    ) -> Result<Vec<Decided>, DocumentError> {
        workflow::decide_pending::<Round>(self.doc, service, now, role_of, arrivals)
    }

    /// Files a request by `actor`, whom the server vouches for (a
    /// dispatcher in the back office), from the state they saw, and
    /// decides it at once: the new state, or why not.
    pub fn request_as(
        &mut self,
        service: &ServiceDefinition,
        actor: &Actor,
        id: TransitionId,
        (from, to): (StateId, StateId),
        evidence: Evidence,
        now: Timestamp,
    ) -> Result<Result<StateId, InvalidTransition>, DocumentError> {
        workflow::request_as::<Round>(self.doc, service, actor, id, (from, to), evidence, now)
    }
}

impl Decidable for Round {
    fn load(doc: &AutoCommit) -> Result<Self, DocumentError> {
        Round::load(doc)
    }

    fn transitions(&self) -> TransitionLog<'_> {
        Round::transitions(self)
    }

    fn facts(&self, service: &ServiceDefinition) -> Facts {
        Round::facts(self, service)
    }

    fn waiting(&self) -> &[Waiting] {
        &self.office.waiting
    }
}
