//! One screen per file.

mod today;

pub use today::{Today, TodayState};
