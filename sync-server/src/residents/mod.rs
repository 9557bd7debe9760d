//! Residents' self-service, with JavaScript off: reporting a repair,
//! following it behind a tracking link, booking a slot (and the booking
//! API), a calendar entry, the steps their service gives them (cancel,
//! ask to rebook...) and their own contact details, reporting a missed
//! bin; and how long their contact details are kept.

pub(crate) mod booking;
mod booking_api;
pub mod link;
mod missed_bin_pages;
pub mod missed_bins;
pub(crate) mod progress;
pub(crate) mod report;
mod report_pages;
pub mod retention;
mod steps;
mod track;

pub(crate) use link::ResidentLink;
pub use link::{LinkError, issue, resolve};
pub use missed_bins::{CheckError, check_waiting};
pub use retention::erase_expired_contacts;

use crate::routes::Route;

/// Every resident's page (errors answered as pages), and the booking API.
pub(crate) fn routes() -> Vec<Route> {
    let pages = [
        track::routes(),
        steps::routes(),
        report_pages::routes(),
        missed_bin_pages::routes(),
    ];
    let mut routes = booking_api::routes();
    routes.extend(crate::routes::pages(pages.into_iter().flatten().collect()));
    routes
}
