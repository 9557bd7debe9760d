//! **Enrol**: the council's server address and the one-time code from the
//! dispatcher; then who the phone is enrolled as.

use dioxus::prelude::*;
use doorstep_app_core::core::Enrolment;

/// What the enrol screen shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrolScreen {
    /// The server typed so far.
    pub server: String,
    /// The code typed so far.
    pub code: String,
    /// Waiting for the server's answer.
    pub busy: bool,
    /// Why the last try failed.
    pub error: Option<String>,
    /// Set once enrolled.
    pub enrolled: Option<Enrolment>,
}

impl EnrolScreen {
    /// Why the form cannot be sent yet, if it cannot.
    pub fn problem(&self) -> Option<&'static str> {
        let server = self.server.trim();
        if server.is_empty() {
            Some("Enter your council's Doorstep address")
        } else if !(server.starts_with("https://") || server.starts_with("http://")) {
            Some("The address starts with https://")
        } else if self.code.trim().len() < 8 {
            Some("Enter the code your dispatcher gave you")
        } else {
            None
        }
    }
}

/// The enrol screen: `on_enrol` gets the server and code.
#[component]
pub fn EnrolView(
    screen: EnrolScreen,
    on_server: EventHandler<String>,
    on_code: EventHandler<String>,
    on_enrol: EventHandler<(String, String)>,
) -> Element {
    if let Some(enrolment) = &screen.enrolled {
        let role = enrolment.role.as_str();
        return rsx! {
            main { class: "enrol",
                h1 { "This phone is enrolled" }
                p { "Signed in as a {role}, for {enrolment.tenants.len()} council(s)." }
                p { "Your jobs arrive as soon as there is signal." }
            }
        };
    }
    let problem = screen.problem();
    let (server, code) = (screen.server.clone(), screen.code.clone());
    rsx! {
        main { class: "enrol",
            h1 { "Enrol this phone" }
            label { r#for: "server", "Your council's Doorstep address" }
            input {
                id: "server",
                r#type: "url",
                // Uncontrolled: re-rendering a typed value back drops keys
                // typed quickly; the screen keeps what `oninput` reports.
                placeholder: "https://doorstep.example.gov.uk",
                oninput: move |event| on_server.call(event.value()),
            }
            label { r#for: "code", "Code from your dispatcher" }
            input {
                id: "code",
                autocomplete: "one-time-code",
                oninput: move |event| on_code.call(event.value()),
            }
            if let Some(error) = &screen.error {
                p { class: "error", role: "alert", "{error}" }
            }
            button {
                class: "big",
                disabled: problem.is_some() || screen.busy,
                onclick: move |_| on_enrol.call((server.clone(), code.clone())),
                if screen.busy { "Enrolling…" } else { "Enrol" }
            }
            if let Some(problem) = problem {
                p { class: "why", "{problem}" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[component]
    fn Harness(screen: EnrolScreen) -> Element {
        rsx! {
            EnrolView { screen, on_server: move |_| {}, on_code: move |_| {}, on_enrol: move |_| {} }
        }
    }

    fn render(screen: EnrolScreen) -> String {
        let mut dom = VirtualDom::new_with_props(Harness, HarnessProps { screen });
        dom.rebuild_in_place();
        dioxus_ssr::render(&dom)
    }

    #[test]
    fn the_form_says_what_is_missing_until_it_can_be_sent() {
        let mut screen = EnrolScreen::default();
        assert_eq!(
            screen.problem(),
            Some("Enter your council's Doorstep address")
        );
        screen.server = "doorstep.adur.gov.uk".into();
        assert_eq!(screen.problem(), Some("The address starts with https://"));
        screen.server = "https://doorstep.adur.gov.uk".into();
        assert_eq!(
            screen.problem(),
            Some("Enter the code your dispatcher gave you")
        );
        screen.code = "ABCDE-FGHJK".into();
        assert_eq!(screen.problem(), None);
        let html = render(screen);
        assert!(!html.contains("disabled"), "{html}");
    }

    #[test]
    fn a_refused_code_is_shown_as_an_alert() {
        let html = render(EnrolScreen {
            server: "https://doorstep.adur.gov.uk".into(),
            code: "ABCDE-FGHJK".into(),
            error: Some(
                "that enrolment code has expired; ask your dispatcher for a new one".into(),
            ),
            ..EnrolScreen::default()
        });
        assert!(html.contains("role=\"alert\""), "{html}");
        assert!(html.contains("has expired"), "{html}");
    }
}
