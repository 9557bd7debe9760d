//! The HTTP routes; each resource module owns its router.

mod blobs;
mod bookings;
mod delivery;
mod demo_outbox;
mod enrol;
mod health;
mod jobs;
mod live;
mod missed_bin;
mod office;
mod report;
mod sync;
mod track;
mod web_app;

use axum::Router;

use crate::state::AppState;

/// Every route the server answers.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(jobs::router())
        .merge(sync::router())
        .merge(live::router())
        .merge(enrol::router())
        .merge(blobs::router())
        .merge(bookings::router())
        .merge(demo_outbox::router())
        .merge(delivery::router())
        .merge(track::router())
        .merge(report::router())
        .merge(missed_bin::router())
        .merge(office::router())
        .merge(web_app::router(state.web_app()))
        .with_state(state)
}
