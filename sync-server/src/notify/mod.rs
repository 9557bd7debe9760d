//! Telling residents: the outbox's delivery worker, its providers (GOV.UK
//! Notify, SMTP, the demo outbox), Notify's delivery-status callback and
//! the demo outbox page.

mod delivery;
mod demo_outbox;
pub mod gov_notify;
pub mod outbox;
pub mod smtp;

pub use gov_notify::GovNotify;
pub use outbox::{
    ByChannel, DemoProvider, NotifyError, Provider, SendError, SendFuture, deliver_due,
};
pub use smtp::SmtpEmail;

pub(crate) use delivery::NotifyCallback;

/// The delivery callback and the demo outbox page.
pub(crate) fn routes() -> Vec<crate::routes::Route> {
    let mut routes = delivery::routes();
    routes.extend(crate::routes::pages(demo_outbox::routes()));
    routes
}
