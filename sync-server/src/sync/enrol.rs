//! Enrolment. A dispatcher (for now with the admin token; the back office
//! comes later) issues a one-time code for a user; the phone redeems it for
//! its device token and actor id. Revoking a device refuses its token from
//! then on. A phone signs itself out with `POST /api/device/sign-out`,
//! which revokes the calling device's own token and nothing else.

use automerge::ActorId;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use doorstep_shared::ids::{DeviceId, TenantId, UserId};
use doorstep_shared::transition::Role;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::{self, Caller, Route};
use crate::secrets;
use crate::state::AppState;
use crate::sync::{AdminToken, DeviceAuth};
use crate::throttle::Bucket;

/// How long an enrolment code stays valid.
pub(crate) const CODE_VALID_MINUTES: i64 = 7 * 24 * 60;

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::post("/api/enrol", Caller::Anyone, redeem).throttled(Bucket::Enrolment),
        routes::post("/api/admin/enrolments", Caller::Operator, issue),
        routes::post(
            "/api/admin/devices/{device}/revoke",
            Caller::Operator,
            revoke,
        ),
        routes::post("/api/device/sign-out", Caller::Device, sign_out),
    ]
}

/// `POST /api/device/sign-out`. Callers: an enrolled device, for itself
/// only — the token it presents is the one revoked.
async fn sign_out(
    State(state): State<AppState>,
    DeviceAuth { who, .. }: DeviceAuth,
) -> Result<StatusCode, ApiError> {
    let now = state.clock().now();
    state
        .with_store(move |store| store.revoke_device(who.device, now))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Issue {
    user: UserId,
    /// Set to re-enrol a known device, keeping its actor id.
    device: Option<DeviceId>,
}

#[derive(Serialize)]
struct Issued {
    code: String,
    expires_at: i64,
}

async fn issue(
    State(state): State<AppState>,
    _: AdminToken,
    Json(issue): Json<Issue>,
) -> Result<Json<Issued>, ApiError> {
    let code = secrets::enrolment_code()?;
    let expires_at = state.clock().now().plus_minutes(CODE_VALID_MINUTES);
    let stored = code.clone();
    state
        .with_store(move |store| {
            store.create_enrolment(&stored, issue.user, issue.device, expires_at)
        })
        .await
        .map_err(|_| ApiError::BadRequest("no such user or device".into()))?;
    Ok(Json(Issued {
        code,
        expires_at: expires_at.as_millis(),
    }))
}

#[derive(Deserialize)]
struct Redeem {
    code: String,
}

/// What a newly enrolled device needs to sync.
#[derive(Serialize)]
struct Credentials {
    device: DeviceId,
    user: UserId,
    /// The user's role, so the app offers what the role may do.
    role: Role,
    /// The councils the user works for.
    tenants: Vec<TenantId>,
    /// Their names, in the same order.
    councils: Vec<String>,
    /// The user's name, for the phone's settings.
    name: String,
    /// The Automerge actor id to sign changes with, as hex.
    actor: String,
    /// The bearer token for `/sync`.
    token: String,
    rebound: bool,
}

async fn redeem(
    State(state): State<AppState>,
    Json(redeem): Json<Redeem>,
) -> Result<Json<Credentials>, ApiError> {
    let token = secrets::device_token()?;
    let (device, actor) = secrets::new_device()?;
    let now = state.clock().now();
    let code = redeem.code.trim().to_uppercase();
    let stored_token = token.clone();
    let (enrolled, identity) = state
        .with_store(move |store| {
            let enrolled = store.redeem_enrolment(&code, &stored_token, device, &actor, now)?;
            let identity = store.device_by_token(&stored_token)?;
            let mut names = None;
            if let Some(identity) = &identity {
                let councils = identity
                    .tenants
                    .iter()
                    .map(|tenant| {
                        Ok(store
                            .tenant_name(*tenant)?
                            .unwrap_or_else(|| tenant.to_string()))
                    })
                    .collect::<Result<Vec<String>, crate::store::StoreError>>()?;
                let name = store.user_name(identity.user)?.unwrap_or_default();
                names = Some((councils, name));
            }
            Ok((enrolled, identity.zip(names)))
        })
        .await?;
    let enrolled = enrolled.map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    let (identity, (councils, name)) = identity.ok_or_else(|| {
        ApiError::BadRequest("the enrolment did not take; ask for a new code".into())
    })?;
    Ok(Json(Credentials {
        device: enrolled.device,
        user: enrolled.user,
        role: identity.role,
        tenants: identity.tenants.into_iter().collect(),
        councils,
        name,
        actor: enrolled.actor.to_hex_string(),
        token,
        rebound: enrolled.rebound,
    }))
}

async fn revoke(
    State(state): State<AppState>,
    _: AdminToken,
    Path(device): Path<String>,
) -> Result<StatusCode, ApiError> {
    let device: DeviceId = device
        .parse()
        .map_err(|e: doorstep_shared::ids::ParseIdError| ApiError::BadRequest(e.to_string()))?;
    let now = state.clock().now();
    if state
        .with_store(move |store| store.revoke_device(device, now))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such enrolled device".into()))
    }
}

/// What a redeemed enrolment code gives the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The device's id.
    pub device: DeviceId,
    /// The Automerge actor id the device must sign its changes with.
    pub actor: ActorId,
    /// The user it is enrolled for.
    pub user: UserId,
    /// Whether an existing device was re-enrolled (keeping its actor id).
    pub rebound: bool,
}

/// Why an enrolment code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnrolmentRefused {
    /// No such code.
    #[error("that enrolment code is not valid; ask your dispatcher for a new one")]
    Unknown,
    /// Too old.
    #[error("that enrolment code has expired; ask your dispatcher for a new one")]
    Expired,
    /// Used before.
    #[error("that enrolment code has already been used; ask your dispatcher for a new one")]
    Used,
}
