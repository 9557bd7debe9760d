//! `POST /sync`: one request and one reply per reconnect, authenticated by
//! the device's token. The reply is sent only after the pushed changes are
//! committed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use doorstep_shared::sync::store::DeviceIdentity;
use doorstep_shared::sync::wire::{MAX_MESSAGE_BYTES, SyncRequest, WireError, update_required};

use super::DeviceAuth;
use crate::error::ApiError;
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use crate::state::Changed;

pub(super) fn routes() -> Vec<Route> {
    vec![routes::post("/sync", Caller::Device, exchange).limit(MAX_MESSAGE_BYTES)]
}

/// The bearer token of a request, if it has one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn exchange(
    State(state): State<AppState>,
    DeviceAuth { who, .. }: DeviceAuth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (status, reply) = answer_as(&state, who, body).await?;
    Ok((
        status,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        reply,
    )
        .into_response())
}

/// The device a token belongs to, or why not.
pub(crate) async fn authenticate(
    state: &AppState,
    token: String,
) -> Result<DeviceIdentity, ApiError> {
    state
        .with_store(move |store| store.device_by_token(&token))
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "this device's access was revoked or never granted: ask your dispatcher to enrol it again"
                    .into(),
            )
        })
}

/// Answers one sync request: authenticates the token (again, on live
/// connections, so a revoked device is cut off), applies it in one
/// transaction, and tells live connections if anything was pushed.
pub(crate) async fn answer(
    state: &AppState,
    token: String,
    body: Bytes,
) -> Result<(StatusCode, Vec<u8>), ApiError> {
    let who = authenticate(state, token).await?;
    answer_as(state, who, body).await
}

/// Answers one sync request from `who`, already authenticated.
async fn answer_as(
    state: &AppState,
    who: DeviceIdentity,
    body: Bytes,
) -> Result<(StatusCode, Vec<u8>), ApiError> {
    let request = match SyncRequest::decode(&body) {
        Ok(request) => request,
        Err(error @ WireError::UnsupportedVersion { .. }) => {
            return Ok((
                StatusCode::UPGRADE_REQUIRED,
                update_required(&error.to_string()),
            ));
        }
        Err(error) => return Err(ApiError::BadRequest(error.to_string())),
    };
    let now = state.clock().now();
    let device = who.device;
    let reply = state
        .with_sync(move |sync, server| server.handle(sync, &who, now, &request))
        .await?;
    state
        .with_store(move |store| store.touch_device(device, now))
        .await?;
    for tenant in reply.tenants.iter().filter(|t| !t.accepted.is_empty()) {
        state.notify(Changed {
            tenant: tenant.tenant,
            by: Some(device),
        });
    }
    Ok((StatusCode::OK, reply.encode()))
}
