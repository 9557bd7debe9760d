//! One screen per file.

mod enrol;
mod job;
mod round;
mod settings;
mod today;

pub use enrol::{EnrolScreen, EnrolView};
pub use job::{
    Button, ButtonAction, ChecklistLine, ContactLine, JobDraft, JobInput, JobScreen, JobView,
    PhotoLine, UploadProgress,
};
pub use round::{OutcomeButton, RoundDraft, RoundInput, RoundScreen, RoundStep, RoundView, Stop};
pub use settings::{SettingsInput, SettingsScreen, SettingsView};
pub use today::{Day, Today, TodayFilter, TodayLine, TodayState, slot_words};
