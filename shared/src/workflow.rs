//! Workflow rules: may this role move this job to that state now?
//!
//! The same code runs in two places. The app uses [`offers`] to show only the
//! actions a role may take, with the ones whose evidence is missing disabled
//! and the reason given ("add an after photo"), even with no signal. The
//! server uses [`check_request`] to write its verdict on every request.

use std::collections::BTreeSet;

use automerge::AutoCommit;
use autosurgeon::reconcile_prop;

use crate::document::{DocumentError, object_at, put_at};
use crate::ids::{BlobHash, Name, StateId, TransitionId};
use crate::job::PhotoRef;
use crate::service::{Action, EvidenceRule, OutcomeKind, ServiceDefinition, Transition};
use crate::time::Timestamp;
use crate::transition::{
    Actor, Decision, Evidence, Role, TransitionLog, TransitionRequest, Verdict, Waiting,
    file_request,
};

/// What the rules need to know about a job or round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The current state.
    pub status: StateId,
    /// Kinds of photo present.
    pub photo_kinds: BTreeSet<Name>,
    /// Mandatory checklist items not ticked.
    pub unticked_mandatory: Vec<Name>,
    /// Stops on a round with no outcome logged (none on a job).
    pub unlogged_stops: usize,
}

/// Why a transition, action or outcome is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTransition {
    /// The target state is not in the service.
    #[error("there is no state \"{state}\" in this service")]
    UnknownState {
        /// The state asked for.
        state: StateId,
    },
    /// The workflow has no move from the current state to the target.
    #[error("a job that is {from} cannot be moved to {to}")]
    NoSuchTransition {
        /// The current state's label.
        from: String,
        /// The target state's label.
        to: String,
    },
    /// The job changed state between the request and the decision.
    #[error(
        "the job was already {current} when this request to move it from {requested_from} arrived"
    )]
    Stale {
        /// The state the requester saw.
        requested_from: String,
        /// The state it is in now.
        current: String,
    },
    /// The role may not make this transition or take this action.
    #[error("a {role} cannot \"{what}\"")]
    RoleNotAllowed {
        /// The requester's role.
        role: Role,
        /// The transition or action's label.
        what: String,
    },
    /// A required photo is missing.
    #[error("add {} {} photo", article(label), label.to_lowercase())]
    MissingPhoto {
        /// The photo kind.
        kind: Name,
        /// Its label.
        label: String,
    },
    /// Mandatory checklist items are not ticked.
    #[error("tick {}", items.join(", "))]
    ChecklistIncomplete {
        /// Labels of the unticked items.
        items: Vec<String>,
    },
    /// A note is required.
    #[error("add a note saying why")]
    NoteRequired,
    /// The step needs an outcome at every stop, and some have none.
    #[error("log an outcome at every stop first ({count} still to do)")]
    StopsUnlogged {
        /// How many stops have no outcome.
        count: usize,
    },
    /// The action is not in the service.
    #[error("there is no action \"{action}\" in this service")]
    UnknownAction {
        /// The action named.
        action: Name,
    },
    /// The action is not offered in the current state.
    #[error("\"{action}\" is not possible while the job is {state}")]
    ActionNotNow {
        /// The action's label.
        action: String,
        /// The current state's label.
        state: String,
    },
    /// The server has no record of the person who asked.
    #[error("the council's records do not know who asked for this")]
    UnknownRequester,
    /// The photos the step needs were taken but did not reach the server
    /// in the time the service allows.
    #[error("the photos were not uploaded within {hours} hours of the request")]
    PhotosNotUploaded {
        /// The service's `evidence_wait_hours`.
        hours: u32,
    },
    /// An earlier request is waiting for its photos to upload, and holds
    /// back every request after it.
    #[error(
        "an earlier request on it is waiting for its photos to upload: try again once they have"
    )]
    WaitingForPhotos,
    /// The outcome is not in the round service.
    #[error("there is no outcome \"{outcome}\" in this service")]
    UnknownOutcome {
        /// The outcome named.
        outcome: Name,
    },
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    }
}

/// A transition a role could make now, and whether its evidence is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer<'a> {
    /// The transition.
    pub transition: &'a Transition,
    /// `None` if it can be made now; otherwise what is missing. A required
    /// note is asked for when the button is pressed, so it never blocks here.
    pub blocked: Option<InvalidTransition>,
}

/// The transitions `role` could make from the current state, in definition
/// order, each enabled or disabled with the reason.
pub fn offers<'a>(service: &'a ServiceDefinition, facts: &Facts, role: Role) -> Vec<Offer<'a>> {
    service
        .transitions
        .iter()
        .filter(|t| t.from.contains(&facts.status) && t.roles.contains(&role))
        .map(|transition| Offer {
            transition,
            blocked: check_evidence(service, &transition.evidence, facts, None, false).err(),
        })
        .collect()
}

/// The actions `role` may take in the current state.
pub fn available_actions<'a>(
    service: &'a ServiceDefinition,
    facts: &Facts,
    role: Role,
) -> Vec<&'a Action> {
    service
        .actions
        .iter()
        .filter(|a| a.when.contains(&facts.status) && a.roles.contains(&role))
        .collect()
}

/// Decides a transition request: the transition it makes, or why not.
pub fn check_request<'a>(
    service: &'a ServiceDefinition,
    facts: &Facts,
    role: Role,
    request: &TransitionRequest,
) -> Result<&'a Transition, InvalidTransition> {
    if service.state(&request.to).is_none() {
        return Err(InvalidTransition::UnknownState {
            state: request.to.clone(),
        });
    }
    if request.from != facts.status {
        return Err(InvalidTransition::Stale {
            requested_from: service.state_label(&request.from).to_owned(),
            current: service.state_label(&facts.status).to_owned(),
        });
    }
    let transition = service
        .transition_between(&facts.status, &request.to)
        .ok_or_else(|| InvalidTransition::NoSuchTransition {
            from: service.state_label(&facts.status).to_owned(),
            to: service.state_label(&request.to).to_owned(),
        })?;
    if !transition.roles.contains(&role) {
        return Err(InvalidTransition::RoleNotAllowed {
            role,
            what: transition.label.clone(),
        });
    }
    check_evidence(
        service,
        &transition.evidence,
        facts,
        request.evidence.note.as_deref(),
        true,
    )?;
    Ok(transition)
}

/// Checks that `role` may take an action now, with the note given.
pub fn check_action<'a>(
    service: &'a ServiceDefinition,
    facts: &Facts,
    role: Role,
    action: &Name,
    note: Option<&str>,
) -> Result<&'a Action, InvalidTransition> {
    let found = service
        .action(action)
        .ok_or_else(|| InvalidTransition::UnknownAction {
            action: action.clone(),
        })?;
    if !found.roles.contains(&role) {
        return Err(InvalidTransition::RoleNotAllowed {
            role,
            what: found.label.clone(),
        });
    }
    if !found.when.contains(&facts.status) {
        return Err(InvalidTransition::ActionNotNow {
            action: found.label.clone(),
            state: service.state_label(&facts.status).to_owned(),
        });
    }
    check_evidence(service, &found.evidence, facts, note, true)?;
    Ok(found)
}

/// Checks a round outcome: it exists and its evidence is there. `photo_kinds`
/// are the kinds of the photos attached to this outcome.
pub fn check_outcome<'a>(
    service: &'a ServiceDefinition,
    outcome: &Name,
    photo_kinds: &BTreeSet<Name>,
    note: Option<&str>,
) -> Result<&'a OutcomeKind, InvalidTransition> {
    let found = service
        .outcome(outcome)
        .ok_or_else(|| InvalidTransition::UnknownOutcome {
            outcome: outcome.clone(),
        })?;
    let facts = Facts {
        status: service.initial.clone(),
        photo_kinds: photo_kinds.clone(),
        unticked_mandatory: Vec::new(),
        unlogged_stops: 0,
    };
    check_evidence(service, &found.evidence, &facts, note, true)?;
    Ok(found)
}

fn check_evidence(
    service: &ServiceDefinition,
    rule: &EvidenceRule,
    facts: &Facts,
    note: Option<&str>,
    note_given_now: bool,
) -> Result<(), InvalidTransition> {
    if let Some(kind) = rule.photos.iter().find(|k| !facts.photo_kinds.contains(*k)) {
        return Err(InvalidTransition::MissingPhoto {
            kind: kind.clone(),
            label: service.photo_label(kind).to_owned(),
        });
    }
    if rule.checklist && !facts.unticked_mandatory.is_empty() {
        let items = facts
            .unticked_mandatory
            .iter()
            .map(|id| {
                service
                    .checklist
                    .iter()
                    .find(|item| &item.id == id)
                    .map_or_else(|| id.to_string(), |item| item.label.to_lowercase())
            })
            .collect();
        return Err(InvalidTransition::ChecklistIncomplete { items });
    }
    if rule.all_outcomes && facts.unlogged_stops > 0 {
        return Err(InvalidTransition::StopsUnlogged {
            count: facts.unlogged_stops,
        });
    }
    let has_note = note.is_some_and(|n| !n.trim().is_empty());
    if rule.note && note_given_now && !has_note {
        return Err(InvalidTransition::NoteRequired);
    }
    Ok(())
}

/// The server's decision on one pending request: the new state, or why not.
pub type Decided = (TransitionId, Result<StateId, InvalidTransition>);

/// What the server holds of one rendition a document's photo names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Uploaded whole.
    Arrived,
    /// Not uploaded yet.
    Expected,
    /// A picture another document had first: never evidence here.
    Borrowed,
}

/// What the server knows of a document's photos beyond the document
/// itself: which kinds have a photo taken for it (none of its renditions
/// borrowed), and which of those have every rendition uploaded. A photo
/// entry alone proves nothing: its picture must reach the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arrivals {
    /// Kinds with a photo taken for this document.
    pub taken: BTreeSet<Name>,
    /// Kinds with such a photo whose renditions the server holds.
    pub arrived: BTreeSet<Name>,
}

impl Arrivals {
    /// Sorts `photos` by what the server holds of each rendition. A photo
    /// that names no rendition has nothing to show and does not count.
    pub fn of<'a>(
        photos: impl IntoIterator<Item = &'a PhotoRef>,
        held: impl Fn(BlobHash) -> Arrival,
    ) -> Self {
        let mut arrivals = Arrivals::default();
        for photo in photos {
            let renditions: Vec<Arrival> = [photo.thumbnail, photo.display, photo.original]
                .into_iter()
                .flatten()
                .map(&held)
                .collect();
            if renditions.is_empty() || renditions.contains(&Arrival::Borrowed) {
                continue;
            }
            arrivals.taken.insert(photo.kind.clone());
            if renditions
                .iter()
                .all(|arrival| *arrival == Arrival::Arrived)
            {
                arrivals.arrived.insert(photo.kind.clone());
            }
        }
        arrivals
    }

    /// The renditions `photos` name, to look up.
    pub fn renditions<'a>(photos: impl IntoIterator<Item = &'a PhotoRef>) -> Vec<BlobHash> {
        photos
            .into_iter()
            .flat_map(|photo| [photo.thumbnail, photo.display, photo.original])
            .flatten()
            .collect()
    }
}

/// A document whose requests the server decides: jobs and rounds.
pub(crate) trait Decidable: Sized {
    fn load(doc: &AutoCommit) -> Result<Self, DocumentError>;
    fn transitions(&self) -> TransitionLog<'_>;
    fn facts(&self, service: &ServiceDefinition) -> Facts;
    fn waiting(&self) -> &[Waiting];
}

/// Decides every pending request of a document, oldest first, each against
/// the state the previous decisions left, and files the verdicts under
/// `office.verdicts`. `role_of` gives the role the server's records hold for
/// the requester, or `None` if they have no record of them (then the
/// request is refused): the role written in a request is a claim, not proof.
///
/// With `arrivals` (the server's knowledge of the photos), a request that
/// passes every check but whose photos have not reached the server waits
/// (in `office.waiting`, with the role checked) and holds back the
/// requests after it; once the service's `evidence_wait_hours` have passed
/// since it first waited, it is refused. Without `arrivals`, a waiting
/// request stays waiting.
pub(crate) fn decide_pending<D: Decidable>(
    doc: &mut AutoCommit,
    service: &ServiceDefinition,
    now: Timestamp,
    role_of: impl Fn(&Actor) -> Option<Role>,
    arrivals: Option<&Arrivals>,
) -> Result<Vec<Decided>, DocumentError> {
    let verdicts = object_at(doc, &["office", "verdicts"])?;
    let mut decided = Vec::new();
    loop {
        let subject = D::load(doc)?;
        let log = subject.transitions();
        let Some((id, request)) = log.pending().into_iter().next() else {
            break;
        };
        let held = subject.waiting().iter().find(|w| w.request == id).cloned();
        if held.is_some() && arrivals.is_none() {
            break;
        }
        let role = held
            .as_ref()
            .map(|w| w.role)
            .or_else(|| role_of(&request.actor));
        let mut facts = subject.facts(service);
        if let Some(arrivals) = arrivals {
            facts.photo_kinds = arrivals.taken.clone();
        }
        let checked = match role {
            Some(role) => check_request(service, &facts, role, request),
            None => Err(InvalidTransition::UnknownRequester),
        };
        let mut outcome = checked.map(|transition| (transition.to.clone(), &transition.evidence));
        if let (Ok((_, evidence)), Some(arrivals), Some(role)) = (&outcome, arrivals, role) {
            let missing: Vec<Name> = evidence
                .photos
                .iter()
                .filter(|kind| !arrivals.arrived.contains(*kind))
                .cloned()
                .collect();
            if !missing.is_empty() {
                let hours = service.photos.evidence_wait_hours;
                let since = held.as_ref().map_or(now, |w| w.since);
                if now < since.plus_millis(i64::from(hours) * 3_600_000) {
                    if held.is_none() {
                        let mut waiting = subject.waiting().to_vec();
                        waiting.push(Waiting {
                            request: id,
                            since: now,
                            role,
                            photos: missing,
                        });
                        put_at(doc, &["office"], "waiting", &waiting)?;
                    }
                    break;
                }
                outcome = Err(InvalidTransition::PhotosNotUploaded { hours });
            }
        }
        let outcome = outcome.map(|(to, _)| to);
        let verdict = Verdict {
            seq: log.next_seq(),
            at: now,
            decision: match &outcome {
                Ok(_) => Decision::Accepted,
                Err(why) => Decision::Refused {
                    reason: why.to_string(),
                },
            },
            from: Some(request.from.clone()),
            to: Some(request.to.clone()),
            requester: role.map(|role| Actor {
                role,
                ..request.actor.clone()
            }),
        };
        reconcile_prop(doc, &verdicts, id.to_string().as_str(), &verdict)?;
        if held.is_some() {
            let waiting: Vec<Waiting> = subject
                .waiting()
                .iter()
                .filter(|w| w.request != id)
                .cloned()
                .collect();
            put_at(doc, &["office"], "waiting", &waiting)?;
        }
        decided.push((id, outcome));
    }
    Ok(decided)
}

/// Files a request by `actor`, someone the server itself vouches for (a
/// member of staff signed in to the back office, a resident on their own
/// page), and decides it at once: the same checks and verdict as a
/// phone's request, in `actor.role`. `from` is the state the requester
/// saw. Returns the outcome.
pub(crate) fn request_as<D: Decidable>(
    doc: &mut AutoCommit,
    service: &ServiceDefinition,
    actor: &Actor,
    id: TransitionId,
    (from, to): (StateId, StateId),
    evidence: Evidence,
    now: Timestamp,
) -> Result<Result<StateId, InvalidTransition>, DocumentError> {
    if !D::load(doc)?.waiting().is_empty() {
        return Ok(Err(InvalidTransition::WaitingForPhotos));
    }
    file_request(doc, actor, id, from, to, evidence, now)?;
    let decided = decide_pending::<D>(
        doc,
        service,
        now,
        |asker| (asker == actor).then_some(actor.role),
        None,
    )?;
    Ok(decided
        .into_iter()
        .find(|(decided, _)| *decided == id)
        .map_or(Err(InvalidTransition::WaitingForPhotos), |(_, outcome)| {
            outcome
        }))
}
