//! Telling residents: the outbox's delivery worker, its providers (GOV.UK
//! Notify, SMTP, the demo outbox), Notify's delivery-status callback and
//! the demo outbox page.

mod delivery;
mod demo_outbox;
pub mod gov_notify;
pub mod outbox;
pub mod smtp;

use axum::Router;

pub use gov_notify::GovNotify;
pub use outbox::{
    ByChannel, DemoProvider, NotifyError, Provider, SendError, SendFuture, deliver_due,
};
pub use smtp::SmtpEmail;

use crate::state::AppState;

/// The delivery callback and the demo outbox page.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let page = demo_outbox::router().layer(axum::middleware::map_response_with_state(
        state.clone(),
        crate::pages::errors_as_pages,
    ));
    Router::new().merge(delivery::router()).merge(page)
}
