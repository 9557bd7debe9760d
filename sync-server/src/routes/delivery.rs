//! `POST /api/notify/status`: GOV.UK Notify's delivery-status callback
//! (delivered, permanent-failure, temporary-failure, technical-failure),
//! authenticated by the bearer token the council set in Notify
//! (`--notify-callback-token`). The status is kept on the outbox row and
//! written on the job's timeline with the channel, the status and the
//! outbox id only: the job's history never holds a number or an address.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use doorstep_shared::ids::{EventId, Name};
use doorstep_shared::job::JobEditor;
use doorstep_shared::sync::server::scope_record;
use doorstep_shared::sync::store::Author;
use doorstep_shared::sync::wire::DocumentId;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::sync::bearer;
use crate::error::ApiError;
use crate::state::{AppState, Changed};

/// The action the timeline shows a delivery status under.
const TIMELINE_ACTION: &str = "message_status";
/// Notify's statuses.
const STATUSES: [&str; 4] = [
    "delivered",
    "permanent-failure",
    "temporary-failure",
    "technical-failure",
];

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/notify/status", post(receive))
}

#[derive(Deserialize)]
struct Callback {
    id: String,
    status: String,
}

async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let Some(expected) = state.notify_callback_token() else {
        return Err(ApiError::NotFound(
            "delivery callbacks are off: no --notify-callback-token is set".into(),
        ));
    };
    if !bearer(&headers).is_some_and(|offered| expected.matches(offered)) {
        return Err(ApiError::Unauthorized(
            "a delivery callback needs the bearer token set in Notify".into(),
        ));
    }
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
    let doc = DocumentId::Job(row.job);
    let tenant = state
        .with_sync(move |sync, server| {
            let Some((tenant, mut document)) = sync.load(doc)? else {
                return Ok(None);
            };
            let already = doorstep_shared::job::Job::load(&document)
                .map(|job| job.timeline.contains_key(&event))
                .unwrap_or(true);
            if already {
                return Ok(None);
            }
            document.set_actor(server.actor.clone());
            let before = document.get_heads();
            let action: Name =
                TIMELINE_ACTION
                    .parse()
                    .map_err(|_| crate::store::StoreError::Corrupt {
                        what: "timeline action name",
                        value: TIMELINE_ACTION.into(),
                    })?;
            JobEditor::new(&mut document, server.system.clone())?.log_action(
                event,
                action,
                Some(note),
                now,
            )?;
            document.commit();
            let changes = document
                .get_changes(&before)
                .into_iter()
                .map(|change| (Author::Server, change))
                .collect();
            let record = scope_record(&document, doc, server.services)?;
            sync.append(tenant, doc, &mut document, changes, record)?;
            Ok(Some(tenant))
        })
        .await?;
    if let Some(tenant) = tenant {
        state.notify(Changed { tenant, by: None });
    }
    Ok(StatusCode::NO_CONTENT)
}
