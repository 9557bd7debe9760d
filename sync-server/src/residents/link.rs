//! Residents' tracking links. Every message carries a fresh token of 256
//! random bits (URL-safe base64); the server keeps only its SHA-256, so a
//! copy of the database opens no resident's page. A token leads to one
//! job, and stops working 30 days after the job closes
//! ([`doorstep_shared::notify::tracking_link_works`]).

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doorstep_shared::ids::{JobId, TenantId};
use doorstep_shared::job::Job;
use doorstep_shared::notify::tracking_link_works;
use doorstep_shared::service::ServiceDefinition;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::pages::layout::Page;
use crate::pages::render;
use crate::routes::checked;
use crate::secrets::random;
use crate::state::{AppState, WorkError};
use maud::html;

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Why a tracking link could not be made or followed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The store failed.
    #[error(transparent)]
    Work(#[from] WorkError),
    /// No randomness for a new token.
    #[error(transparent)]
    Randomness(#[from] crate::secrets::NoRandomness),
}

/// A new tracking token for `job`.
pub async fn issue(
    state: &AppState,
    tenant: TenantId,
    job: JobId,
    now: Timestamp,
) -> Result<String, LinkError> {
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
) -> Result<Option<(TenantId, JobId)>, WorkError> {
    Ok(open(state, token, now)
        .await?
        .map(|(tenant, job, _)| (tenant, job)))
}

/// The council, id and job a token opens at `now`.
async fn open(
    state: &AppState,
    token: &str,
    now: Timestamp,
) -> Result<Option<(TenantId, JobId, Job)>, WorkError> {
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
    Ok(works.then_some((tenant, job, loaded)))
}

/// A resident's request through their tracking link (`/track/{token}…`):
/// the job it opens, with its service and council. An unknown, forged or
/// expired token gets the same plain "page not found" as any missing page.
#[derive(Clone)]
pub(crate) struct ResidentLink {
    /// The token, for the links on the page.
    pub(crate) token: String,
    /// The job's id.
    pub(crate) id: JobId,
    /// The job.
    pub(crate) job: Job,
    /// Its service.
    pub(crate) service: ServiceDefinition,
    /// The council's name.
    pub(crate) council: String,
}

impl FromRequestParts<AppState> for ResidentLink {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(found) = checked::<ResidentLink>(parts) {
            return Ok(found);
        }
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| not_found(state))?;
        let Some((_, token)) = params.iter().find(|(name, _)| *name == "token") else {
            return Err(not_found(state));
        };
        let token = token.to_owned();
        let now = state.clock().now();
        let failed = |error: WorkError| ApiError::from(error).into_response();
        let Some((tenant, id, job)) = open(state, &token, now).await.map_err(failed)? else {
            return Err(not_found(state));
        };
        let Some(service) = state.services().get(&job.office.service).cloned() else {
            return Err(not_found(state));
        };
        let council = state.council_name(tenant).await.map_err(failed)?;
        Ok(ResidentLink {
            token,
            id,
            job,
            service,
            council,
        })
    }
}

/// The same plain page for every missing thing: it tells a guesser nothing.
pub(crate) fn not_found(state: &AppState) -> Response {
    let page = Page {
        council: "Doorstep",
        service: "Track your request",
        title: "Page not found",
        has_errors: false,
        staff: false,
        main: html! {
            h1.govuk-heading-l { "Page not found" }
            p.govuk-body { "If you typed the web address, check it is correct." }
            p.govuk-body {
                "If you followed a link from a message, the link may have expired: links stop working 30 days after the request is closed."
            }
        },
    };
    render(state, StatusCode::NOT_FOUND, &page)
}
