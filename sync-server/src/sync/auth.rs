//! Who an API request comes from, stated in each handler's signature and
//! checked before its body is read:
//!
//! - [`DeviceAuth`]: an enrolled device, by the bearer token it presents,
//!   with its identity from the server's records (never from what the
//!   request claims; a WebSocket may name it in its query as `?token=`);
//!   a revoked or unknown token gets 401;
//! - [`AdminToken`]: the operator's admin token (403 while the admin API
//!   is off, 401 without the token).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use doorstep_shared::sync::store::DeviceIdentity;

use super::exchange::{authenticate, bearer};
use crate::error::ApiError;
use crate::routes::checked;
use crate::state::AppState;

/// A request from an enrolled device.
#[derive(Clone)]
pub(crate) struct DeviceAuth {
    /// The device and its user, as the server's records have them.
    pub(crate) who: DeviceIdentity,
    /// The token it presented (a live connection checks it again on each
    /// message, so a revocation cuts it off).
    pub(crate) token: String,
}

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(found) = checked::<DeviceAuth>(parts) {
            return Ok(found);
        }
        // A browser cannot set headers on a WebSocket: the web app's live
        // connection names its token in the query instead.
        let websocket = parts
            .headers
            .get(axum::http::header::UPGRADE)
            .is_some_and(|upgrade| upgrade.as_bytes().eq_ignore_ascii_case(b"websocket"));
        let from_query = || {
            let query = parts.uri.query()?;
            serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .ok()?
                .into_iter()
                .find_map(|(name, value)| (name == "token").then_some(value))
        };
        let token = match bearer(&parts.headers) {
            Some(token) => token.to_owned(),
            None => websocket
                .then(from_query)
                .flatten()
                .ok_or_else(|| ApiError::Unauthorized("this device is not enrolled".into()))?,
        };
        let who = authenticate(state, token.clone()).await?;
        Ok(DeviceAuth { who, token })
    }
}

/// A request carrying the admin token.
#[derive(Clone)]
pub(crate) struct AdminToken;

impl FromRequestParts<AppState> for AdminToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.check_admin(bearer(&parts.headers))?;
        Ok(AdminToken)
    }
}
