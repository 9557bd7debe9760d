//! One screen per file.

mod job;
mod today;

pub use job::{Button, ButtonAction, ChecklistLine, JobScreen, JobView, PhotoLine};
pub use today::{Today, TodayState};
