//! Devices' side of the server: enrolment, `POST /sync` and the live
//! WebSocket, and the relay that tells live connections on every node
//! when a council's documents change.

mod auth;
pub(crate) mod enrol;
pub(crate) mod exchange;
pub(crate) mod live;
pub(crate) mod relay;

use axum::Router;

pub(crate) use auth::{AdminToken, DeviceAuth};
pub(crate) use enrol::CODE_VALID_MINUTES;
pub(crate) use exchange::bearer;

use crate::state::AppState;

/// Enrolment, sync and the live connection.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(exchange::router())
        .merge(live::router())
        .merge(enrol::router())
}
