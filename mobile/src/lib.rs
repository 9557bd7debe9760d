//! # Doorstep's operative app
//!
//! The app repair operatives and waste crews carry all day, mostly without
//! signal. Screens are thin Dioxus components over plain state structs
//! ([`model`], [`views`]) that are tested without a renderer; everything
//! else — the phone's database, sync, photos — is the offline core in
//! `doorstep-app-core`, reached through [`services::CoreLink`].

pub mod components;
pub mod model;
pub mod services;
#[cfg(test)]
mod testing;
pub mod views;

use std::rc::Rc;

use dioxus::prelude::*;
use doorstep_app_core::runtime::Command;
use futures_util::StreamExt;

use crate::components::SyncStatusLine;
use crate::model::{AppModel, Screen};
use crate::services::CoreLink;
use crate::views::{EnrolView, JobView, RoundView, SettingsView, Today};

/// The app's stylesheet: high contrast and large touch targets for outdoor
/// use.
pub const STYLESHEET: &str = include_str!("../../assets/styles/app.css");

/// The app's root component. With a [`CoreLink`] in context (the desktop
/// and phone builds provide one) it drives the core; without, it shows an
/// unenrolled phone.
#[component]
pub fn App() -> Element {
    let link = try_use_context::<CoreLink>();
    let enrolment = link.as_ref().and_then(|l| l.enrolment.clone());
    let server = link.as_ref().and_then(|l| l.server.clone());
    let code = link.as_ref().and_then(|l| l.code.clone());
    let mut model = use_signal(move || {
        let mut model = AppModel::new(enrolment);
        if let Some(server) = server {
            model.enrol.server = server;
        }
        if let Some(code) = code {
            model.enrol.code = code;
        }
        model
    });
    let updates_link = link.clone();
    use_future(move || {
        let link = updates_link.clone();
        async move {
            let Some(mut updates) = link.and_then(|l| l.take_updates()) else {
                return;
            };
            while let Some(update) = updates.next().await {
                model.write().apply(update);
            }
        }
    });
    let send = move |command: Command| {
        if let Some(link) = &link {
            link.send(command);
        }
    };
    let send = Rc::new(send);
    let current = model.read().clone();
    // The catalog comes from the core, with the council's definitions.
    let services = Rc::clone(&current.services);
    let today = crate::services::today();
    let body = match current.screen {
        Screen::Enrol => {
            let send = Rc::clone(&send);
            rsx! {
                EnrolView {
                    screen: current.enrol.clone(),
                    on_server: move |server| model.write().enrol.server = server,
                    on_code: move |code| model.write().enrol.code = code,
                    on_enrol: move |(server, code)| {
                        model.write().enrol.busy = true;
                        send(Command::Enrol { server, code });
                    },
                }
            }
        }
        Screen::Today => {
            let (open, round) = (Rc::clone(&send), Rc::clone(&send));
            let settings = Rc::clone(&send);
            rsx! {
                button {
                    class: "back settings-link",
                    onclick: move |_| {
                        if let Some(command) = model.write().show(Screen::Settings) {
                            settings(command);
                        }
                    },
                    "Settings"
                }
                Today {
                    state: current.today(&services, today),
                    on_open: move |job| {
                        if let Some(command) = model.write().show(Screen::Job(job)) {
                            open(command);
                        }
                    },
                    on_round: move |id| {
                        if let Some(command) = model.write().show(Screen::Round(id)) {
                            round(command);
                        }
                    },
                    on_filter: move |filter| model.write().today_filter = filter,
                }
            }
        }
        Screen::Job(job) => match current.job_screen(&services, today) {
            Some(screen) => {
                let (press, tick, notes) = (Rc::clone(&send), Rc::clone(&send), Rc::clone(&send));
                let photo = Rc::clone(&send);
                let shown = screen.clone();
                rsx! {
                    button { class: "back", onclick: move |_| { model.write().show(Screen::Today); }, "← Today" }
                    JobView {
                        screen,
                        on_input: move |input| {
                            if let Some(command) = model.write().job_input(job, &shown, input) {
                                press(command);
                            }
                        },
                        on_tick: move |(item, done)| tick(Command::Tick { job, item, done }),
                        on_notes: move |text| notes(Command::UpdateNotes { job, text }),
                        on_photo: move |(kind, file)| {
                            let photo = Rc::clone(&photo);
                            spawn(async move {
                                let location = crate::services::here().await;
                                photo(Command::AddJobPhoto { job, kind, file, location });
                            });
                        },
                    }
                }
            }
            None => rsx! { p { "Opening the job…" } },
        },
        Screen::Settings => {
            let send = Rc::clone(&send);
            rsx! {
                button { class: "back", onclick: move |_| { model.write().show(Screen::Today); }, "← Today" }
                SettingsView {
                    screen: current.settings.clone(),
                    on_input: move |input| {
                        if let Some(command) = model.write().settings_input(input) {
                            send(command);
                        }
                    },
                }
            }
        }
        Screen::Round(round) => match current.round_screen(&services) {
            Some(screen) => {
                let send = Rc::clone(&send);
                let shown = screen.clone();
                rsx! {
                    button { class: "back", onclick: move |_| { model.write().show(Screen::Today); }, "← Today" }
                    RoundView {
                        screen,
                        on_input: move |input| {
                            let command = model.write().round_input(round, &shown, input);
                            match command {
                                Some(Command::AddRoundPhoto { round, kind, file, .. }) => {
                                    let send = Rc::clone(&send);
                                    spawn(async move {
                                        let location = crate::services::here().await;
                                        send(Command::AddRoundPhoto { round, kind, file, location });
                                    });
                                }
                                Some(command) => send(command),
                                None => {}
                            }
                        },
                    }
                }
            }
            None => rsx! { p { "Opening the round…" } },
        },
    };
    let retry = Rc::clone(&send);
    rsx! {
        style { {STYLESHEET} }
        SyncStatusLine { status: current.sync.clone(), on_retry: move |_| retry(Command::SyncNow) }
        if let Some(notice) = &current.notice {
            p { class: "notice", role: "alert", "{notice}" }
        }
        {body}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_core_the_app_opens_on_the_enrol_screen_with_its_status_line() {
        let mut dom = VirtualDom::new(App);
        dom.rebuild_in_place();
        let html = dioxus_ssr::render(&dom);
        assert!(html.contains("Enrol this phone"), "{html}");
        assert!(html.contains("Not synced yet"), "{html}");
    }
}
