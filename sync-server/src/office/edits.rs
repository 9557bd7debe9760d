//! The office's own edits to job and round documents (assigning,
//! rebooking, reordering), made by this server node and stored like any
//! other change, so devices get them at their next sync; what residents
//! must hear of them goes to the outbox in the same transaction. Edits made
//! by staff are written into the document's office log with the person the
//! server's session names, so the history says who did what.

use std::collections::BTreeMap;

use automerge::{AutoCommit, Change};
use doorstep_shared::document::DocumentError;
use doorstep_shared::ids::{EventId, JobId, Name, RoundId, StateId, TransitionId, UserId};
use doorstep_shared::job::{Job, OfficeEditor};
use doorstep_shared::notify::{ResidentEvent, events_in};
use doorstep_shared::round::{Round, RoundOfficeEditor};
use doorstep_shared::service::ServiceDefinition;
use doorstep_shared::sync::server::{SyncServer, scope_record};
use doorstep_shared::sync::store::Author;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::{Actor, Evidence, OfficeEntry, Role, TransitionRequest};
use doorstep_shared::workflow::{Arrivals, Facts, InvalidTransition, check_request};

use crate::state::{AppState, WorkError};
use crate::store::StoreError;

/// Why the server could not edit a document.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The store failed.
    #[error(transparent)]
    Work(#[from] WorkError),
    /// There is no such document.
    #[error("{0}")]
    Missing(String),
    /// No randomness for a new request's id.
    #[error(transparent)]
    Randomness(#[from] crate::secrets::NoRandomness),
}

/// Who made an office edit and what it was, for the document's history.
#[derive(Debug, Clone)]
pub struct Done {
    /// The member of staff signed in; none for the admin API's token.
    pub by: Option<UserId>,
    /// What they did, in words ("Assigned to Sam Patel").
    pub what: String,
}

impl Done {
    /// The entry for the office log, made at `now`.
    fn entry(self, now: doorstep_shared::time::Timestamp) -> OfficeEntry {
        OfficeEntry {
            at: now,
            by: self.by,
            what: self.what,
        }
    }
}

/// Edits a job's office part as this server node, in one transaction with
/// the office log's entry saying who did it, and tells live devices.
pub async fn edit_job<F>(state: &AppState, job: JobId, done: Done, edit: F) -> Result<(), EditError>
where
    F: FnOnce(&mut OfficeEditor<'_>) -> Result<(), DocumentError> + Send + 'static,
{
    let entry = done.entry(state.clock().now());
    edit_job_document(state, job, move |document, _| {
        let mut office = OfficeEditor::new(document)?;
        edit(&mut office)?;
        office.note(&entry)
    })
    .await
}

/// Edits a job's document as this server node (`edit` gets the document,
/// already set to the node's actor, and the server's sync logic: the
/// services and the system actor it acts as), in one transaction with
/// what its resident must hear of it, and tells live devices.
pub async fn edit_job_document<F, T>(state: &AppState, job: JobId, edit: F) -> Result<T, EditError>
where
    F: FnOnce(&mut AutoCommit, &SyncServer<'_>) -> Result<T, DocumentError> + Send + 'static,
    T: Send + 'static,
{
    edit_as_server(state, DocumentId::Job(job), move |document, server| {
        let was = Job::load(document).ok();
        let made = edit(document, server)?;
        // What the resident hears of it (a new appointment's reminder).
        let events = match &was {
            Some(was) => events_in(job, Some(was), document, server.services),
            None => Vec::new(),
        };
        Ok((made, events))
    })
    .await
}

/// A step someone takes on a job or round from a page: a transition or an
/// action of its service, with the note it asks for, from the state the
/// page showed.
#[derive(Debug, Clone)]
pub struct Step {
    /// The transition's or action's id.
    pub id: Name,
    /// The state the page showed when the step was chosen.
    pub from: StateId,
    /// The note written, if any.
    pub note: Option<String>,
}

/// Takes `step` on a job as `actor`, whom the server vouches for (a
/// dispatcher signed in, a resident on their own page), through the same
/// checks and verdict as a phone's request. Nothing is written if the
/// checks refuse it: the reason comes back for the form.
pub async fn take_job_step(
    state: &AppState,
    job: JobId,
    actor: Actor,
    step: Step,
) -> Result<Result<(), InvalidTransition>, EditError> {
    let now = state.clock().now();
    let ids = (
        TransitionId::from_random_bytes(crate::secrets::random::<16>()?),
        EventId::from_random_bytes(crate::secrets::random::<16>()?),
    );
    edit_job_document(state, job, move |document, server| {
        let loaded = Job::load(document)?;
        let Some(service) = server.services.get(&loaded.office.service) else {
            return Ok(Err(InvalidTransition::UnknownAction { action: step.id }));
        };
        let mut office = OfficeEditor::new(document)?;
        if let Some(action) = service.action(&step.id) {
            if &step.from != loaded.status(service) {
                return Ok(Err(stale(service, &step.from, loaded.status(service))));
            }
            return office.take_action_as(
                service,
                (&actor, &server.system),
                ids.1,
                &action.id,
                step.note,
                now,
            );
        }
        let (from, to, evidence) = match checked(service, &loaded.facts(service), &actor, step, now)
        {
            Ok(request) => request,
            Err(why) => return Ok(Err(why)),
        };
        office
            .request_as(service, &actor, ids.0, (from, to), evidence, now)
            .map(|decided| decided.map(drop))
    })
    .await
}

/// `step` as a request by `actor` at `now`, if the workflow's checks pass
/// on `facts`: its move and evidence, or why not.
fn checked(
    service: &ServiceDefinition,
    facts: &Facts,
    actor: &Actor,
    step: Step,
    now: Timestamp,
) -> Result<(StateId, StateId, Evidence), InvalidTransition> {
    let transition = service
        .transition(&step.id)
        .ok_or(InvalidTransition::UnknownAction { action: step.id })?;
    let request = TransitionRequest {
        from: step.from,
        to: transition.to.clone(),
        actor: actor.clone(),
        at: now,
        evidence: Evidence {
            photos: Vec::new(),
            note: step.note,
        },
    };
    check_request(service, facts, actor.role, &request)?;
    Ok((request.from, request.to, request.evidence))
}

/// Takes a transition of a round as `actor`, whom the server vouches for
/// (a dispatcher signed in), as [`take_job_step`] does for jobs.
pub async fn take_round_step(
    state: &AppState,
    round: RoundId,
    actor: Actor,
    step: Step,
) -> Result<Result<(), InvalidTransition>, EditError> {
    let now = state.clock().now();
    let id = TransitionId::from_random_bytes(crate::secrets::random::<16>()?);
    edit_as_server(state, DocumentId::Round(round), move |document, server| {
        let loaded = Round::load(document)?;
        let Some(service) = server.services.get(&loaded.office.service) else {
            let why = InvalidTransition::UnknownAction { action: step.id };
            return Ok((Err(why), Vec::new()));
        };
        let (from, to, evidence) = match checked(service, &loaded.facts(service), &actor, step, now)
        {
            Ok(request) => request,
            Err(why) => return Ok((Err(why), Vec::new())),
        };
        let decided = RoundOfficeEditor::new(document)?
            .request_as(service, &actor, id, (from, to), evidence, now)?
            .map(drop);
        Ok((decided, Vec::new()))
    })
    .await
}

/// Decides the requests of a job or round that wait for their photos,
/// now that `arrivals` says what the server holds of them: each is
/// accepted once its photos are in, refused once the service's wait is
/// over, or left waiting. What its resident must hear of it goes to the
/// outbox in the same transaction. `roles` are the server's records of
/// the people whose requests wait behind one. Returns whether anything
/// was decided.
pub async fn decide_held(
    state: &AppState,
    doc: DocumentId,
    arrivals: Arrivals,
    roles: BTreeMap<UserId, Role>,
) -> Result<bool, EditError> {
    let now = state.clock().now();
    edit_as_server(state, doc, move |document, server| {
        let system = server.system.clone();
        let role_of = |actor: &Actor| {
            if *actor == system {
                Some(Role::System)
            } else {
                roles.get(&actor.user).copied()
            }
        };
        match doc {
            DocumentId::Job(job) => {
                let was = Job::load(document)?;
                let Some(service) = server.services.get(&was.office.service) else {
                    return Ok((false, Vec::new()));
                };
                let decided = OfficeEditor::new(document)?.decide_as_server(
                    service,
                    now,
                    role_of,
                    Some(&arrivals),
                )?;
                let events = events_in(job, Some(&was), document, server.services);
                Ok((!decided.is_empty(), events))
            }
            DocumentId::Round(_) => {
                let round = Round::load(document)?;
                let Some(service) = server.services.get(&round.office.service) else {
                    return Ok((false, Vec::new()));
                };
                let decided = RoundOfficeEditor::new(document)?.decide_as_server(
                    service,
                    now,
                    role_of,
                    Some(&arrivals),
                )?;
                Ok((!decided.is_empty(), Vec::new()))
            }
            DocumentId::Contact(_) => Ok((false, Vec::new())),
        }
    })
    .await
}

/// "The job was already …": the page showed an older state.
fn stale(service: &ServiceDefinition, seen: &StateId, now: &StateId) -> InvalidTransition {
    InvalidTransition::Stale {
        requested_from: service.state_label(seen).to_owned(),
        current: service.state_label(now).to_owned(),
    }
}

/// Edits a round's office part as this server node, in one transaction
/// with the office log's entry saying who did it, and tells live devices.
pub async fn edit_round<F>(
    state: &AppState,
    round: RoundId,
    done: Done,
    edit: F,
) -> Result<(), EditError>
where
    F: FnOnce(&mut RoundOfficeEditor<'_>) -> Result<(), DocumentError> + Send + 'static,
{
    let entry = done.entry(state.clock().now());
    edit_as_server(state, DocumentId::Round(round), move |document, _| {
        let mut office = RoundOfficeEditor::new(document)?;
        edit(&mut office)?;
        office.note(&entry)?;
        Ok(((), Vec::new()))
    })
    .await
}

/// Edits a document as this server node in one sync transaction: `edit`
/// makes the change and returns what residents must hear of it, which goes
/// to the outbox in the same transaction. Live devices are told.
async fn edit_as_server<F, T>(state: &AppState, doc: DocumentId, edit: F) -> Result<T, EditError>
where
    F: FnOnce(&mut AutoCommit, &SyncServer<'_>) -> Result<(T, Vec<ResidentEvent>), DocumentError>
        + Send
        + 'static,
    T: Send + 'static,
{
    let (tenant, made) = state
        .with_sync(move |sync, server| {
            let Some((tenant, mut document)) = sync.load(doc)? else {
                return Ok(None);
            };
            document.set_actor(server.actor.clone());
            let before = document.get_heads();
            let (made, events) = edit(&mut document, server)?;
            document.commit();
            let changes: Vec<(Author, Change)> = document
                .get_changes(&before)
                .into_iter()
                .map(|change| (Author::Server, change))
                .collect();
            if changes.is_empty() {
                return Ok(Some((tenant, made)));
            }
            let record = scope_record(&document, doc, server.services)?;
            sync.append(tenant, doc, &mut document, changes, record)?;
            if !events.is_empty() {
                sync.enqueue(tenant, &events)?;
            }
            Ok::<_, StoreError>(Some((tenant, made)))
        })
        .await?
        .ok_or_else(|| {
            EditError::Missing(match doc {
                DocumentId::Job(id) => format!("there is no job {id}"),
                DocumentId::Round(id) => format!("there is no round {id}"),
                DocumentId::Contact(id) => format!("there is no contact for job {id}"),
            })
        })?;
    state.notify(crate::state::Changed { tenant, by: None });
    Ok(made)
}

/// Corrects a job's contact document as this server node (`edit` gets the
/// resident's details as they stand), then notes in the job's office log
/// who did it. Devices never write contact documents; this is how staff
/// put right a wrong number or address.
pub async fn edit_contact<F>(
    state: &AppState,
    job: JobId,
    done: Done,
    edit: F,
) -> Result<(), EditError>
where
    F: FnOnce(&mut doorstep_shared::contact::Contact) + Send + 'static,
{
    edit_as_server(state, DocumentId::Contact(job), move |document, _| {
        let mut contact = doorstep_shared::contact::Contact::load(document)?;
        edit(&mut contact);
        contact.write_to(document)?;
        Ok(((), Vec::new()))
    })
    .await?;
    edit_job(state, job, done, |_| Ok(())).await
}
