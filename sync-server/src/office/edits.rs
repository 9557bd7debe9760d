//! The office's own edits to job and round documents (assigning,
//! rebooking, reordering), made by this server node and stored like any
//! other change, so devices get them at their next sync; what residents
//! must hear of them goes to the outbox in the same transaction. Edits made
//! by staff are written into the document's office log with the person the
//! server's session names, so the history says who did what.

use automerge::{AutoCommit, Change};
use doorstep_shared::document::DocumentError;
use doorstep_shared::ids::{JobId, RoundId, UserId};
use doorstep_shared::job::{Job, OfficeEditor};
use doorstep_shared::notify::{ResidentEvent, events_in};
use doorstep_shared::round::RoundOfficeEditor;
use doorstep_shared::sync::server::{SyncServer, scope_record};
use doorstep_shared::sync::store::Author;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::transition::OfficeEntry;

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
pub async fn edit_job_document<F>(state: &AppState, job: JobId, edit: F) -> Result<(), EditError>
where
    F: FnOnce(&mut AutoCommit, &SyncServer<'_>) -> Result<(), DocumentError> + Send + 'static,
{
    edit_as_server(state, DocumentId::Job(job), move |document, server| {
        let was = Job::load(document).ok();
        edit(document, server)?;
        // What the resident hears of it (a new appointment's reminder).
        Ok(match &was {
            Some(was) => events_in(job, Some(was), document, server.services),
            None => Vec::new(),
        })
    })
    .await
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
        Ok(Vec::new())
    })
    .await
}

/// Edits a document as this server node in one sync transaction: `edit`
/// makes the change and returns what residents must hear of it, which goes
/// to the outbox in the same transaction. Live devices are told.
async fn edit_as_server<F>(state: &AppState, doc: DocumentId, edit: F) -> Result<(), EditError>
where
    F: FnOnce(&mut AutoCommit, &SyncServer<'_>) -> Result<Vec<ResidentEvent>, DocumentError>
        + Send
        + 'static,
{
    let tenant = state
        .with_sync(move |sync, server| {
            let Some((tenant, mut document)) = sync.load(doc)? else {
                return Ok(None);
            };
            document.set_actor(server.actor.clone());
            let before = document.get_heads();
            let events = edit(&mut document, server)?;
            document.commit();
            let changes: Vec<(Author, Change)> = document
                .get_changes(&before)
                .into_iter()
                .map(|change| (Author::Server, change))
                .collect();
            if changes.is_empty() {
                return Ok(Some(tenant));
            }
            let record = scope_record(&document, doc, server.services)?;
            sync.append(tenant, doc, &mut document, changes, record)?;
            if !events.is_empty() {
                sync.enqueue(tenant, &events)?;
            }
            Ok::<_, StoreError>(Some(tenant))
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
    Ok(())
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
        Ok(Vec::new())
    })
    .await?;
    edit_job(state, job, done, |_| Ok(())).await
}
