//! The HTTP routes; each resource module owns its router.

mod health;
mod jobs;

use axum::Router;

use crate::state::AppState;

/// Every route the server answers.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(jobs::router())
        .with_state(state)
}
