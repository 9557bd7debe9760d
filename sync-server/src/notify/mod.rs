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
pub use outbox::{ByChannel, DemoProvider, Provider, SendError, SendFuture, deliver_due};
pub use smtp::SmtpEmail;

use crate::state::AppState;

/// The delivery callback and the demo outbox page.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(delivery::router())
        .merge(demo_outbox::router())
}
