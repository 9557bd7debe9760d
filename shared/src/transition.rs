//! Status changes as requests and verdicts.
//!
//! A device never overwrites a status. It appends a keyed request (from, to,
//! who, when, evidence); the server appends a verdict under the same key,
//! numbered in the order it decided. The status is the target of the accepted
//! request with the highest verdict number. Concurrent requests from two
//! devices are both kept in the history and decided one after the other, so
//! the merge never has to pick a winner and the server has the last word.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, Reconcile};

use crate::ids::{DeviceId, Name, ParseIdError, PhotoId, StateId, TransitionId, UserId};
use crate::time::Timestamp;

/// What someone may do, as named in service definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A repair operative.
    Operative,
    /// A member of a waste crew.
    Crew,
    /// A dispatcher or back-office officer.
    Dispatcher,
    /// The resident the job is for.
    Resident,
    /// The server acting on its own rules (timers, follow-ups).
    System,
}

impl Role {
    /// Every role, in the order they are listed to people.
    pub const ALL: [Role; 5] = [
        Role::Operative,
        Role::Crew,
        Role::Dispatcher,
        Role::Resident,
        Role::System,
    ];

    /// The role's name in service definitions.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Operative => "operative",
            Role::Crew => "crew",
            Role::Dispatcher => "dispatcher",
            Role::Resident => "resident",
            Role::System => "system",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ParseIdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == input)
            .ok_or_else(|| ParseIdError {
                kind: "role",
                input: input.to_owned(),
                expected: "one of operative, crew, dispatcher, resident, system",
            })
    }
}

string_encoded!(Role);

/// Who did something: recorded with every request, tick, photo and event.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Actor {
    /// The person, or the server's own user for `System`.
    pub user: UserId,
    /// The role they acted in.
    pub role: Role,
    /// The device it was done on, if any.
    pub device: Option<DeviceId>,
}

/// A request to move a job or round from one state to another.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct TransitionRequest {
    /// The state the requester saw when asking.
    pub from: StateId,
    /// The state asked for.
    pub to: StateId,
    /// Who asked.
    pub actor: Actor,
    /// When they asked, by their device's clock.
    pub at: Timestamp,
    /// What they offered as evidence.
    pub evidence: Evidence,
}

/// Evidence attached to a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Evidence {
    /// Photos the requester points to.
    pub photos: Vec<PhotoId>,
    /// A free-text reason or note.
    pub note: Option<String>,
}

/// The server's decision on one request. It copies what it decided (the
/// move and who asked), so the status is read from verdicts alone and
/// nothing a device writes after the verdict can move a job. Verdicts
/// written before the copies were kept have none; their request is read
/// instead (requests are written once, so it still says what was decided).
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Verdict {
    /// Decision order: verdicts are numbered 1, 2, 3… per document.
    pub seq: u64,
    /// When the server decided.
    pub at: Timestamp,
    /// Accepted, or refused with the reason shown to the requester.
    pub decision: Decision,
    /// The state the request asked to move from.
    #[autosurgeon(missing = "Option::default")]
    pub from: Option<StateId>,
    /// The state the request asked for.
    #[autosurgeon(missing = "Option::default")]
    pub to: Option<StateId>,
    /// Who asked, as the server's records say (not as the request claims).
    #[autosurgeon(missing = "Option::default")]
    pub requester: Option<Actor>,
}

/// What a member of staff did to a document in the back office (assigned
/// it, reordered a round, corrected the resident's details...), written
/// by the server with the signed-in person from its own records, so the
/// history names them.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct OfficeEntry {
    /// When.
    pub at: Timestamp,
    /// Who, as the server's session says; none for an edit made through
    /// the admin API's token, which is no one person's.
    pub by: Option<UserId>,
    /// What they did, in words.
    pub what: String,
}

/// A request the server has checked and would accept, held until the
/// photos it needs reach the server (a phone may push the request before
/// its uploads finish). Written by the server, so the phone and the back
/// office can say "waiting for the photos", and so the role it checked
/// stands when the request is decided later.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Waiting {
    /// The request.
    pub request: TransitionId,
    /// When the server first held it, by the server's clock: the wait is
    /// counted from here, not from the device's clock.
    pub since: Timestamp,
    /// The requester's role, as the server's records said then.
    pub role: Role,
    /// The kinds of photo it waits for.
    pub photos: Vec<Name>,
}

/// Accepted or refused.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub enum Decision {
    /// The transition happened.
    Accepted,
    /// The transition did not happen.
    Refused {
        /// Why, in plain words.
        reason: String,
    },
}

/// Where one request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState<'a> {
    /// Not yet decided by the server: the app shows it as pending.
    Pending,
    /// Decided.
    Decided(&'a Verdict),
}

/// A read-only view over a document's requests and verdicts.
#[derive(Debug, Clone, Copy)]
pub struct TransitionLog<'a> {
    requests: &'a BTreeMap<TransitionId, TransitionRequest>,
    verdicts: &'a BTreeMap<TransitionId, Verdict>,
}

impl<'a> TransitionLog<'a> {
    /// A view over the two maps of a document.
    pub fn new(
        requests: &'a BTreeMap<TransitionId, TransitionRequest>,
        verdicts: &'a BTreeMap<TransitionId, Verdict>,
    ) -> Self {
        Self { requests, verdicts }
    }

    /// The current state: the target of the latest accepted verdict, or
    /// `initial` if none was accepted yet.
    pub fn status(&self, initial: &'a StateId) -> &'a StateId {
        self.verdicts
            .iter()
            .filter(|(_, verdict)| verdict.decision == Decision::Accepted)
            .max_by_key(|(_, verdict)| verdict.seq)
            .and_then(|(id, _)| self.decided_move(id))
            .map_or(initial, |(_, to)| to)
    }

    /// The move a verdict decided on, `(from, to)`: the verdict's own copy,
    /// or for verdicts written before copies were kept, the request's.
    /// `None` if the request was never decided.
    pub fn decided_move(&self, id: &TransitionId) -> Option<(&'a StateId, &'a StateId)> {
        let verdict = self.verdicts.get(id)?;
        let request = self.requests.get(id);
        let from = verdict
            .from
            .as_ref()
            .or_else(|| request.map(|request| &request.from))?;
        let to = verdict
            .to
            .as_ref()
            .or_else(|| request.map(|request| &request.to))?;
        Some((from, to))
    }

    /// Requests without a verdict, oldest first (by requested time, then id,
    /// so every replica lists them in the same order).
    pub fn pending(&self) -> Vec<(TransitionId, &'a TransitionRequest)> {
        let mut pending: Vec<_> = self
            .requests
            .iter()
            .filter(|(id, _)| !self.verdicts.contains_key(id))
            .map(|(id, request)| (*id, request))
            .collect();
        pending.sort_by_key(|(id, request)| (request.at, *id));
        pending
    }

    /// Where a request stands, or `None` if there is no such request.
    pub fn state_of(&self, id: &TransitionId) -> Option<RequestState<'a>> {
        self.requests.get(id)?;
        Some(match self.verdicts.get(id) {
            Some(verdict) => RequestState::Decided(verdict),
            None => RequestState::Pending,
        })
    }

    /// The number the next verdict gets.
    pub fn next_seq(&self) -> u64 {
        self.verdicts.values().map(|v| v.seq).max().unwrap_or(0) + 1
    }
}

/// Files a transition request under `requests` in a job or round document.
pub(crate) fn file_request(
    doc: &mut automerge::AutoCommit,
    actor: &Actor,
    id: TransitionId,
    from: StateId,
    to: StateId,
    evidence: Evidence,
    now: Timestamp,
) -> Result<(), crate::document::DocumentError> {
    let request = TransitionRequest {
        from,
        to,
        actor: actor.clone(),
        at: now,
        evidence,
    };
    crate::document::put_at(doc, &["requests"], &id.to_string(), &request)
}
