//! Devices' side of the server: enrolment, `POST /sync` and the live
//! WebSocket, and the relay that tells live connections on every node
//! when a council's documents change.

mod auth;
pub(crate) mod enrol;
pub(crate) mod exchange;
pub(crate) mod live;
pub(crate) mod relay;

pub(crate) use auth::{AdminToken, DeviceAuth};
pub(crate) use enrol::CODE_VALID_MINUTES;
pub(crate) use exchange::bearer;

use crate::routes::Route;

/// Enrolment, sync and the live connection.
pub(crate) fn routes() -> Vec<Route> {
    [exchange::routes(), live::routes(), enrol::routes()]
        .into_iter()
        .flatten()
        .collect()
}
