//! Evidence that must really exist: a request whose photos were taken but
//! have not reached the server waits for them (`office.waiting` in its
//! document, shown as "waiting for the photos" on the phone and in the
//! back office) and holds back the requests after it. It is decided when
//! its renditions arrive — [`arrived`], called as each upload completes —
//! or at the phone's next sync; [`decide_waiting`], a worker pass, refuses
//! those still waiting once their service's `evidence_wait_hours` are
//! over. A picture another document had first never counts.

use std::collections::BTreeMap;

use doorstep_shared::ids::{BlobHash, UserId};
use doorstep_shared::job::{Job, PhotoRef};
use doorstep_shared::round::Round;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::transition::TransitionLog;
use doorstep_shared::workflow::{Arrival, Arrivals};

use crate::office::edits::{EditError, decide_held};
use crate::state::AppState;

/// What the server holds of a job's or round's photos, with the people
/// whose requests are pending; `None` if it has no request waiting (or is
/// gone).
async fn waiting_arrivals(
    state: &AppState,
    doc: DocumentId,
) -> Result<Option<(Arrivals, Vec<UserId>)>, EditError> {
    let found = state
        .with_sync(move |sync, _| {
            let Some((_, document)) = sync.load(doc)? else {
                return Ok(None);
            };
            let (photos, asking): (Vec<PhotoRef>, Vec<UserId>) = match doc {
                DocumentId::Job(_) => match Job::load(&document) {
                    Ok(job) if !job.office.waiting.is_empty() => {
                        let asking = pending_users(job.transitions());
                        (job.photos.into_values().collect(), asking)
                    }
                    _ => return Ok(None),
                },
                DocumentId::Round(_) => match Round::load(&document) {
                    Ok(round) if !round.office.waiting.is_empty() => {
                        let asking = pending_users(round.transitions());
                        (round.photos.into_values().collect(), asking)
                    }
                    _ => return Ok(None),
                },
                DocumentId::Contact(_) => return Ok(None),
            };
            let hashes = Arrivals::renditions(&photos);
            let held = sync.arrivals(doc, &hashes)?;
            let by_hash: BTreeMap<BlobHash, Arrival> = hashes.into_iter().zip(held).collect();
            let arrivals = Arrivals::of(&photos, |hash| {
                by_hash.get(&hash).copied().unwrap_or(Arrival::Expected)
            });
            Ok(Some((arrivals, asking)))
        })
        .await?;
    Ok(found)
}

/// The people whose requests wait to be decided.
fn pending_users(log: TransitionLog<'_>) -> Vec<UserId> {
    let mut users: Vec<UserId> = log
        .pending()
        .iter()
        .map(|(_, request)| request.actor.user)
        .collect();
    users.sort();
    users.dedup();
    users
}

/// Decides what waits on `doc`, if anything does. The requests held
/// behind a waiting one are decided with their requesters' roles as the
/// server's records hold them now (a phone may only ask as its own user).
async fn decide(state: &AppState, doc: DocumentId) -> Result<bool, EditError> {
    let Some((arrivals, asking)) = waiting_arrivals(state, doc).await? else {
        return Ok(false);
    };
    let roles = state
        .with_store(move |store| {
            let mut roles = BTreeMap::new();
            for user in asking {
                if let Some(role) = store.active_role(user)? {
                    roles.insert(user, role);
                }
            }
            Ok(roles)
        })
        .await?;
    decide_held(state, doc, arrivals, roles).await
}

/// A picture has been uploaded whole: the requests waiting for it on the
/// jobs and rounds that name it are decided. Returns how many documents
/// had something decided.
pub async fn arrived(state: &AppState, hash: BlobHash) -> Result<usize, EditError> {
    let holders = state
        .with_store(move |store| store.blob_holders(hash))
        .await?;
    let mut decided = 0;
    for holder in holders {
        if matches!(holder.doc, DocumentId::Job(_) | DocumentId::Round(_))
            && decide(state, holder.doc).await?
        {
            decided += 1;
        }
    }
    Ok(decided)
}

/// A worker pass: every job with a request still waiting is decided at the
/// server's time, so one whose photos never came is refused once its wait
/// is over. Returns how many jobs had something decided.
pub async fn decide_waiting(state: &AppState) -> Result<usize, EditError> {
    let jobs = state
        .with_store(|store| store.jobs_with_pending_requests())
        .await?;
    let mut decided = 0;
    for job in jobs {
        if decide(state, DocumentId::Job(job)).await? {
            decided += 1;
        }
    }
    Ok(decided)
}
