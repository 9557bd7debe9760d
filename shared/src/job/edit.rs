//! The write paths into a job document: [`JobEditor`] for devices and
//! [`OfficeEditor`] for the server.
//!
//! Each method writes one key of one map (or splices the notes text), never a
//! whole hydrated struct, so a write made from a view read before a merge
//! cannot erase what the merge brought in.

use automerge::AutoCommit;
use automerge::transaction::Transactable;

use super::{Appointment, Assignee, JOB_SCHEMA_VERSION, Job, PhotoRef, Tick, TimelineEvent};
use crate::document::{DocumentError, append_at, ensure_writable, object_at, put_at, replace_at};
use crate::ids::{EventId, Name, PhotoId, StateId, TransitionId};
use crate::service::ServiceDefinition;
use crate::time::Timestamp;
use crate::transition::{Actor, Evidence, OfficeEntry, Role, file_request};
use crate::workflow::{self, Decided};

/// Device-side edits to a job, all recorded as made by one actor.
pub struct JobEditor<'d> {
    doc: &'d mut AutoCommit,
    actor: Actor,
}

impl<'d> JobEditor<'d> {
    /// Opens a job for editing. Refuses documents of another schema version:
    /// newer ones are read-only until the app is updated, older ones until the
    /// server has migrated them.
    pub fn new(doc: &'d mut AutoCommit, actor: Actor) -> Result<Self, DocumentError> {
        ensure_writable(doc, "job", JOB_SCHEMA_VERSION)?;
        Ok(Self { doc, actor })
    }

    /// The document being edited, to read from between edits.
    pub fn document(&self) -> &AutoCommit {
        self.doc
    }

    /// Replaces `delete` characters at `position` in the notes with `insert`.
    /// Positions count Unicode scalar values.
    pub fn splice_notes(
        &mut self,
        position: usize,
        delete: isize,
        insert: &str,
    ) -> Result<(), DocumentError> {
        let notes = object_at(self.doc, &["notes"])?;
        self.doc.splice_text(&notes, position, delete, insert)?;
        Ok(())
    }

    /// Makes the notes read `text`, as the smallest set of splices from what
    /// they read now; what others typed elsewhere in the notes is kept.
    pub fn update_notes(&mut self, text: &str) -> Result<(), DocumentError> {
        let notes = object_at(self.doc, &["notes"])?;
        self.doc.update_text(&notes, text)?;
        Ok(())
    }

    /// Ticks or unticks a checklist item from the job's template. The tick
    /// is written whole, as a new record naming this device's user.
    pub fn tick(&mut self, item: &Name, done: bool, now: Timestamp) -> Result<(), DocumentError> {
        object_at(self.doc, &["office", "checklist", item.as_str()])?;
        let tick = Tick {
            done,
            by: self.actor.clone(),
            at: now,
        };
        replace_at(self.doc, &["ticks"], item.as_str(), &tick)
    }

    /// Adds a photo taken on this device, with its renditions' hashes.
    pub fn add_photo(&mut self, id: PhotoId, photo: &PhotoRef) -> Result<(), DocumentError> {
        put_at(self.doc, &["photos"], &id.to_string(), photo)
    }

    /// Records an action that is not a transition ("on my way").
    pub fn log_action(
        &mut self,
        id: EventId,
        action: Name,
        note: Option<String>,
        now: Timestamp,
    ) -> Result<(), DocumentError> {
        let event = TimelineEvent {
            action,
            actor: self.actor.clone(),
            at: now,
            note,
        };
        put_at(self.doc, &["timeline"], &id.to_string(), &event)
    }

    /// Asks the server to move the job from `from` (the status this device
    /// sees) to `to`. The app shows it as pending until the verdict arrives.
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

/// Server-side edits to the office part of a job.
pub struct OfficeEditor<'d> {
    doc: &'d mut AutoCommit,
}

impl<'d> OfficeEditor<'d> {
    /// Opens a job's office part for the server. The server migrates older
    /// documents before editing them.
    pub fn new(doc: &'d mut AutoCommit) -> Result<Self, DocumentError> {
        ensure_writable(doc, "job", JOB_SCHEMA_VERSION)?;
        Ok(Self { doc })
    }

    /// Books, moves or clears the appointment.
    pub fn set_appointment(&mut self, slot: Option<Appointment>) -> Result<(), DocumentError> {
        put_at(self.doc, &["office"], "appointment", slot)
    }

    /// Sets the job's priority, which picks its SLA target, and writes when
    /// that target falls due (counted from the job's creation; none without
    /// a target for the priority or a known creation time).
    pub fn set_priority(
        &mut self,
        service: &ServiceDefinition,
        priority: Option<Name>,
    ) -> Result<(), DocumentError> {
        let created = Job::load(self.doc)?.office.created_at;
        let due = priority
            .as_ref()
            .and_then(|priority| service.sla_target(priority))
            .zip(created)
            .map(|(target, created)| target.due_from(created));
        put_at(self.doc, &["office"], "priority", priority)?;
        put_at(self.doc, &["office"], "due", due)
    }

    /// Assigns the job, or unassigns it.
    pub fn assign(&mut self, assignee: Option<Assignee>) -> Result<(), DocumentError> {
        put_at(self.doc, &["office"], "assignee", assignee)
    }

    /// Records what a member of staff did, for the job's history.
    pub fn note(&mut self, entry: &OfficeEntry) -> Result<(), DocumentError> {
        append_at(self.doc, &["office"], "log", entry)
    }

    /// Carries out what logged actions lead to ("no access — card left"
    /// leads to rebooking): for each such action taken by a role allowed to
    /// take it, requests the target state as `system` and decides. Each
    /// action is followed once: the request is filed under the event's own
    /// id, so running this again after every sync adds nothing.
    pub fn follow_actions(
        &mut self,
        service: &ServiceDefinition,
        system: &Actor,
        now: Timestamp,
        role_of: impl Fn(&Actor) -> Option<Role>,
        arrivals: Option<&workflow::Arrivals>,
    ) -> Result<Vec<Decided>, DocumentError> {
        let job = Job::load(self.doc)?;
        let status = job.status(service);
        for (event_id, event) in job.timeline() {
            let Some(action) = service.action(&event.action) else {
                continue;
            };
            let Some(target) = &action.leads_to else {
                continue;
            };
            let request_id = TransitionId::from_u128(event_id.as_uuid().as_u128());
            if job.requests.contains_key(&request_id)
                || !role_of(&event.actor).is_some_and(|role| action.roles.contains(&role))
            {
                continue;
            }
            let evidence = Evidence {
                photos: Vec::new(),
                note: event.note.clone(),
            };
            file_request(
                self.doc,
                system,
                request_id,
                status.clone(),
                target.clone(),
                evidence,
                now,
            )?;
        }
        self.decide_as_server(service, now, role_of, arrivals)
    }

    /// Makes `transition` as `system` (request `id`, with `evidence`,
    /// decided at once) if
    /// the job is in one of its starting states; `None` if it is not, or
    /// the service has no such transition. Booking a slot makes the
    /// service's booking transition this way.
    pub fn make_as_system(
        &mut self,
        service: &ServiceDefinition,
        transition: &Name,
        system: &Actor,
        id: TransitionId,
        evidence: Evidence,
        now: Timestamp,
    ) -> Result<Option<Decided>, DocumentError> {
        let Some(transition) = service.transition(transition) else {
            return Ok(None);
        };
        let status = Job::load(self.doc)?.status(service).clone();
        if !transition.from.contains(&status) {
            return Ok(None);
        }
        file_request(
            self.doc,
            system,
            id,
            status,
            transition.to.clone(),
            evidence,
            now,
        )?;
        let system_user = system.user;
        // Only the system's own request is decided here; anyone else's
        // waits for a sync that knows who they are.
        let decided = self.decide_as_server(
            service,
            now,
            |actor| (actor.user == system_user).then_some(Role::System),
            None,
        )?;
        Ok(decided.into_iter().find(|(decided, _)| *decided == id))
    }

    /// Files a request by `actor`, whom the server vouches for (a member
    /// of staff signed in, a resident on their own page), from the state
    /// they saw, and decides it at once with the phone's rules: the new
    /// state, or why not.
    pub fn request_as(
        &mut self,
        service: &ServiceDefinition,
        actor: &Actor,
        id: TransitionId,
        (from, to): (StateId, StateId),
        evidence: Evidence,
        now: Timestamp,
    ) -> Result<Result<StateId, workflow::InvalidTransition>, DocumentError> {
        workflow::request_as::<Job>(self.doc, service, actor, id, (from, to), evidence, now)
    }

    /// Takes an action as `actor`, whom the server vouches for, if their
    /// role may take it now (with the note it asks for), and carries out
    /// what it leads to as `system`.
    pub fn take_action_as(
        &mut self,
        service: &ServiceDefinition,
        (actor, system): (&Actor, &Actor),
        id: EventId,
        action: &Name,
        note: Option<String>,
        now: Timestamp,
    ) -> Result<Result<(), workflow::InvalidTransition>, DocumentError> {
        let facts = Job::load(self.doc)?.facts(service);
        if let Err(why) =
            workflow::check_action(service, &facts, actor.role, action, note.as_deref())
        {
            return Ok(Err(why));
        }
        let event = TimelineEvent {
            action: action.clone(),
            actor: actor.clone(),
            at: now,
            note,
        };
        put_at(self.doc, &["timeline"], &id.to_string(), &event)?;
        let role_of = |asker: &Actor| {
            if asker == actor {
                Some(actor.role)
            } else {
                (asker == system).then_some(Role::System)
            }
        };
        self.follow_actions(service, system, now, role_of, None)?;
        Ok(Ok(()))
    }

    /// Decides every pending request, oldest first, with the same rules the
    /// app uses to offer actions. `role_of` gives the role the server's own
    /// records hold for the requester: the role written in the request is
    /// the device's claim, not proof.
    pub fn decide_pending(
        &mut self,
        service: &ServiceDefinition,
        now: Timestamp,
        role_of: impl Fn(&Actor) -> Role,
    ) -> Result<Vec<Decided>, DocumentError> {
        workflow::decide_pending::<Job>(self.doc, service, now, |actor| Some(role_of(actor)), None)
    }

    /// Decides every pending request as the server does, with the roles its
    /// records hold: a requester they do not know has no rights. With
    /// `arrivals`, a request whose photos have not reached the server
    /// waits for them (see [`workflow::Arrivals`]).
    pub fn decide_as_server(
        &mut self,
        service: &ServiceDefinition,
        now: Timestamp,
        role_of: impl Fn(&Actor) -> Option<Role>,
        arrivals: Option<&workflow::Arrivals>,
    ) -> Result<Vec<Decided>, DocumentError> {
        workflow::decide_pending::<Job>(self.doc, service, now, role_of, arrivals)
    }
}
