//! **Settings**: which server and council(s) the phone works for and as
//! whom, the phone's own id, the room its data takes, the last syncs and
//! how they went, and signing out of this phone — which sends whatever is
//! still on the phone first (and says so), then revokes the phone's own
//! token and forgets everything it held.

use dioxus::prelude::*;
use doorstep_app_core::core::{Enrolment, Settings};

/// What the settings screen shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsScreen {
    /// What the core said, once it has.
    pub settings: Option<Settings>,
    /// The last syncs since the app opened, newest first, in words.
    pub syncs: Vec<String>,
    /// "Sign out" was pressed once: the button asks to be sure.
    pub confirming: bool,
}

impl SettingsScreen {
    /// The storage line: "1.2 MB for 14 jobs, rounds and contacts".
    pub fn storage_line(&self) -> Option<String> {
        let settings = self.settings.as_ref()?;
        let megabytes = settings.storage_bytes as f64 / 1_000_000.0;
        Some(format!(
            "{megabytes:.1} MB for {} jobs, rounds and contacts",
            settings.documents
        ))
    }

    /// What signing out is waiting for, while it waits.
    pub fn signing_out_line(&self) -> Option<String> {
        let settings = self.settings.as_ref().filter(|s| s.signing_out)?;
        Some(match (settings.changes_waiting, settings.photos_waiting) {
            (0, 0) => "Signing out…".to_owned(),
            (changes, photos) => format!(
                "Signing out once {changes} change(s) and {photos} photo(s) still on this phone are sent. Keep the app open with signal."
            ),
        })
    }
}

/// The councils, by name where the server gave them.
fn councils(enrolment: &Enrolment) -> String {
    if enrolment.councils.is_empty() {
        format!("{}", enrolment.tenants.len())
    } else {
        enrolment.councils.join(", ")
    }
}

/// Who the phone is enrolled for, in what role.
fn signed_in_as(enrolment: &Enrolment) -> String {
    let role = enrolment.role.as_str();
    if enrolment.person.is_empty() {
        role.to_owned()
    } else {
        format!("{} ({role})", enrolment.person)
    }
}

/// The phone's name: its person's phone, and its id for the office.
fn phone_name(enrolment: &Enrolment) -> String {
    if enrolment.person.is_empty() {
        enrolment.device.to_string()
    } else {
        format!("{}'s phone ({})", enrolment.person, enrolment.device)
    }
}

/// What was done on the settings screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsInput {
    /// Pressed "Sign out of this phone".
    SignOut,
    /// Confirmed it.
    Confirm,
    /// Thought better of it.
    Cancel,
}

/// The settings screen.
#[component]
pub fn SettingsView(screen: SettingsScreen, on_input: EventHandler<SettingsInput>) -> Element {
    let Some(settings) = screen.settings.clone() else {
        return rsx! { main { class: "settings", h1 { "Settings" } p { "Reading the phone's settings…" } } };
    };
    let storage = screen.storage_line().unwrap_or_default();
    rsx! {
        main { class: "settings",
            h1 { "Settings" }
            if let Some(enrolment) = &settings.enrolment {
                dl { class: "facts",
                    dt { "Server" }
                    dd { "{enrolment.server}" }
                    dt { if enrolment.tenants.len() == 1 { "Council" } else { "Councils" } }
                    dd { "{councils(enrolment)}" }
                    dt { "Signed in as" }
                    dd { "{signed_in_as(enrolment)}" }
                    dt { "This phone" }
                    dd { "{phone_name(enrolment)}" }
                    dt { "Storage" }
                    dd { "{storage}" }
                }
            }
            h2 { "Last syncs" }
            if screen.syncs.is_empty() {
                p { "None since the app opened." }
            }
            ul { class: "syncs",
                for (n, line) in screen.syncs.iter().enumerate() {
                    li { key: "{n}", "{line}" }
                }
            }
            h2 { "Sign out of this phone" }
            if let Some(line) = screen.signing_out_line() {
                p { class: "pending", role: "status", "{line}" }
            } else if screen.confirming {
                p { "Everything on this phone is sent first; then the phone forgets its jobs, rounds and residents' details, and needs a new code to be used again." }
                button { class: "big", onclick: move |_| on_input.call(SettingsInput::Confirm), "Yes, sign out" }
                button { class: "plain", onclick: move |_| on_input.call(SettingsInput::Cancel), "Cancel" }
            } else {
                button { class: "big", onclick: move |_| on_input.call(SettingsInput::SignOut), "Sign out of this phone" }
            }
        }
    }
}
