//! Residents' tracking links. Every message carries a fresh token of 256
//! random bits (URL-safe base64); the server keeps only its SHA-256, so a
//! copy of the database opens no resident's page. A token leads to one
//! job, and stops working 30 days after the job closes
//! ([`doorstep_shared::notify::tracking_link_works`]). The pages that open
//! from it come with [7/8].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doorstep_shared::ids::{JobId, TenantId};
use doorstep_shared::job::Job;
use doorstep_shared::notify::tracking_link_works;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::secrets::random;
use crate::state::AppState;

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new tracking token for `job`.
pub async fn issue(
    state: &AppState,
    tenant: TenantId,
    job: JobId,
    now: Timestamp,
) -> Result<String, ApiError> {
    let token = URL_SAFE_NO_PAD.encode(random::<32>()?);
    let stored = hash(&token);
    state
        .with_store(move |store| store.put_tracking_token(&stored, tenant, job, now))
        .await?;
    Ok(token)
}

/// The job a token opens at `now`, if it opens one.
pub async fn resolve(
    state: &AppState,
    token: &str,
    now: Timestamp,
) -> Result<Option<(TenantId, JobId)>, ApiError> {
    // Anything that is not one of ours is not looked up at all.
    if token.len() != 43 || URL_SAFE_NO_PAD.decode(token).is_err() {
        return Ok(None);
    }
    let stored = hash(token);
    let Some((tenant, job)) = state
        .with_store(move |store| store.tracking_token(&stored))
        .await?
    else {
        return Ok(None);
    };
    let document = state
        .with_sync(move |sync, _| sync.load(DocumentId::Job(job)))
        .await?;
    let Some(loaded) = document.and_then(|(_, document)| Job::load(&document).ok()) else {
        return Ok(None);
    };
    let works = state
        .services()
        .get(&loaded.office.service)
        .is_some_and(|service| tracking_link_works(&loaded, service, now));
    Ok(works.then_some((tenant, job)))
}
