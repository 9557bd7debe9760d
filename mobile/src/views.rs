//! One screen per file.

mod enrol;
mod job;
mod round;
mod today;

pub use enrol::{EnrolScreen, EnrolView};
pub use job::{
    Button, ButtonAction, ChecklistLine, ContactLine, JobScreen, JobView, PhotoLine, UploadProgress,
};
pub use round::{OutcomeButton, RoundDraft, RoundInput, RoundScreen, RoundView, Stop};
pub use today::{Today, TodayFilter, TodayLine, TodayState};
