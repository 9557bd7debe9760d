//! `POST /api/notify/status`: GOV.UK Notify's delivery-status callback
//! (delivered, permanent-failure, temporary-failure, technical-failure),
//! authenticated by the bearer token the council set in Notify
//! (`--notify-callback-token`). The status is kept on the outbox row and
//! written on the job's timeline with the channel, the status and the
//! outbox id only: the job's history never holds a number or an address.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use doorstep_shared::ids::{EventId, Name};
use doorstep_shared::job::{Job, JobEditor};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::office;
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use crate::sync::bearer;

/// The action the timeline shows a delivery status under.
const TIMELINE_ACTION: &str = "message_status";
/// Notify's statuses.
const STATUSES: [&str; 4] = [
    "delivered",
    "permanent-failure",
    "temporary-failure",
    "technical-failure",
];

pub(super) fn routes() -> Vec<Route> {
    vec![routes::post("/api/notify/status", Caller::Notify, receive)]
}

/// A request from GOV.UK Notify: the bearer token set in Notify's callback
/// settings (404 while callbacks are off, 401 without the token).
#[derive(Clone)]
pub(crate) struct NotifyCallback;

impl FromRequestParts<AppState> for NotifyCallback {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(expected) = state.notify_callback_token() else {
            return Err(ApiError::NotFound(
                "delivery callbacks are off: no --notify-callback-token is set".into(),
            ));
        };
        if !bearer(&parts.headers).is_some_and(|offered| expected.matches(offered)) {
            return Err(ApiError::Unauthorized(
                "a delivery callback needs the bearer token set in Notify".into(),
            ));
        }
        Ok(NotifyCallback)
    }
}

#[derive(Deserialize)]
struct Callback {
    id: String,
    status: String,
}

async fn receive(
    State(state): State<AppState>,
    _: NotifyCallback,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let callback: Callback = serde_json::from_slice(&body)
        .map_err(|error| ApiError::BadRequest(format!("not a Notify callback: {error}")))?;
    if !STATUSES.contains(&callback.status.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "unknown delivery status {:?}",
            callback.status
        )));
    }
    let (id, status) = (callback.id.clone(), callback.status.clone());
    let row = state
        .with_store(move |store| store.record_delivery(&id, &status))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no message {} was sent", callback.id)))?;
    let note = format!(
        "{} {} (message {})",
        match row.channel {
            doorstep_shared::contact::Channel::Sms => "Text",
            _ => "Email",
        },
        callback.status.replace('-', " "),
        row.id
    );
    // One timeline entry per message and status, however often Notify calls.
    let digest = Sha256::digest(format!("outbox:{}:{}", row.id, callback.status).as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    let event = EventId::from_u128(u128::from_be_bytes(first));
    let now = state.clock().now();
    let action: Name = TIMELINE_ACTION.parse().map_err(|_| {
        ApiError::Store(crate::store::StoreError::Corrupt {
            what: "timeline action name",
            value: TIMELINE_ACTION.into(),
        })
    })?;
    let noted = office::edit_job_document(&state, row.job, move |document, server| {
        // An unreadable job gets no note, as one that has it already.
        let already = Job::load(document)
            .map(|job| job.timeline.contains_key(&event))
            .unwrap_or(true);
        if already {
            return Ok(());
        }
        JobEditor::new(document, server.system.clone())?.log_action(event, action, Some(note), now)
    })
    .await;
    match noted {
        // The message's job is gone: its status is still kept on the row.
        Ok(()) | Err(crate::office::edits::EditError::Missing(_)) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(StatusCode::NO_CONTENT)
}
