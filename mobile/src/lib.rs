//! # Doorstep's operative app
//!
//! The app repair operatives and waste crews carry all day, mostly without
//! signal. Screens are thin Dioxus components over plain state structs that
//! are tested without a renderer; the offline core (local store, sync,
//! photo queue) arrives in its own package in [4/8].

pub mod components;
pub mod views;

use dioxus::prelude::*;

/// The app's root component.
#[component]
pub fn App() -> Element {
    rsx! {
        views::Today { jobs: Vec::new() }
    }
}
