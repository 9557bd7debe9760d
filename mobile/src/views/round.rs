//! **Waste round**: the streets in visiting order, one tap per property
//! for what the crew found, and how far along the round is. An outcome that
//! needs evidence (a contaminated bin needs a photo, say) asks for it first.
//! Starting and finishing the round are buttons at the top, each disabled
//! with the reason while it cannot be asked for (a round is finished only
//! with every stop logged).

use dioxus::prelude::*;
use doorstep_shared::ids::{Name, PhotoId, PropertyId, RoundId, StateId};
use doorstep_shared::round::Round;
use doorstep_shared::service::ServiceDefinition;
use doorstep_shared::transition::Role;
use doorstep_shared::workflow;

/// A step the round may take now ("Start round", "Finish round").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundStep {
    /// The state it asks for.
    pub to: StateId,
    /// Its words.
    pub label: String,
    /// Why it cannot be asked for yet, if it cannot.
    pub blocked: Option<String>,
}

/// One outcome button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeButton {
    /// The outcome.
    pub outcome: Name,
    /// Its words.
    pub label: String,
    /// It needs a photo first.
    pub needs_photo: bool,
    /// It needs a note first.
    pub needs_note: bool,
}

/// One property on the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// The property.
    pub property: PropertyId,
    /// Its first address line (the street list reads better short).
    pub address: String,
    /// The crew's standing note ("bin behind the side gate").
    pub crew_note: Option<String>,
    /// What was logged, in words, once it was.
    pub logged: Option<String>,
}

/// An outcome being written with a note or photo, before it is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundDraft {
    /// The property.
    pub property: PropertyId,
    /// The outcome chosen, once chosen.
    pub outcome: Option<Name>,
    /// The note typed so far.
    pub note: String,
    /// The photo taken, once the phone has saved it.
    pub photo: Option<PhotoId>,
    /// A photo is being processed and saved.
    pub photo_saving: bool,
}

impl RoundDraft {
    /// A panel for `property`, with `outcome` already chosen if it was.
    pub fn new(property: PropertyId, outcome: Option<Name>) -> Self {
        Self {
            property,
            outcome,
            note: String::new(),
            photo: None,
            photo_saving: false,
        }
    }
}

/// What the crew did on the round screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundInput {
    /// Tapped an outcome on a property's row.
    Tap(PropertyId, Name),
    /// Asked to add a note or photo before logging a property.
    Evidence(PropertyId),
    /// Chose the outcome in the note-and-photo panel.
    Choose(Name),
    /// Typed the note.
    Note(String),
    /// Took a photo (the camera file).
    Photo(Vec<u8>),
    /// Logged the panel's outcome.
    Log,
    /// Closed the panel without logging.
    Cancel,
    /// Asked to move the round on (start or finish it).
    Step(StateId),
}

/// Everything the round screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundScreen {
    /// The round.
    pub round: RoundId,
    /// Its reference.
    pub reference: String,
    /// Properties done and in all.
    pub progress: (usize, usize),
    /// The properties in visiting order.
    pub stops: Vec<Stop>,
    /// The outcomes the service defines.
    pub outcomes: Vec<OutcomeButton>,
    /// The kind of photo evidence is taken as.
    pub photo_kind: Option<Name>,
    /// The note-and-photo panel, when open.
    pub draft: Option<RoundDraft>,
    /// Why the round can no longer be changed on this phone, if it cannot.
    pub read_only: Option<String>,
    /// Its status, in words.
    pub status: String,
    /// The steps this role may ask for now.
    pub steps: Vec<RoundStep>,
    /// Requests waiting for the office, in words.
    pub pending: Vec<String>,
}

impl RoundScreen {
    /// The screen for a round.
    pub fn new(id: RoundId, round: &Round, service: &ServiceDefinition) -> Self {
        let label = |kind: &Name| {
            service
                .outcome(kind)
                .map_or_else(|| kind.to_string(), |o| o.label.clone())
        };
        Self {
            round: id,
            reference: round.office.reference.clone(),
            progress: round.progress(),
            stops: round
                .visiting_order()
                .into_iter()
                .filter_map(|property| {
                    let stop = round.office.properties.get(&property)?;
                    Some(Stop {
                        property,
                        address: stop
                            .address
                            .lines
                            .first()
                            .cloned()
                            .unwrap_or_else(|| stop.address.one_line()),
                        crew_note: stop.crew_note.clone(),
                        logged: round.outcomes.get(&property).map(|o| label(&o.kind)),
                    })
                })
                .collect(),
            outcomes: service
                .outcomes
                .iter()
                .map(|outcome| OutcomeButton {
                    outcome: outcome.id.clone(),
                    label: outcome.label.clone(),
                    needs_photo: !outcome.evidence.photos.is_empty(),
                    needs_note: outcome.evidence.note,
                })
                .collect(),
            photo_kind: service.photo_kinds.first().map(|kind| kind.id.clone()),
            draft: None,
            read_only: None,
            status: service.state_label(round.status(service)).to_owned(),
            steps: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// The screen of a round this app cannot work on — its service is
    /// unknown or unreadable here, or its document is newer than this app
    /// reads — shown read-only with why, never as a spinner.
    pub fn cannot_open(id: RoundId, round: Option<&Round>, reason: String) -> Self {
        Self {
            round: id,
            reference: round.map_or_else(|| "A round".into(), |r| r.office.reference.clone()),
            progress: round.map_or((0, 0), Round::progress),
            stops: Vec::new(),
            outcomes: Vec::new(),
            photo_kind: None,
            draft: None,
            read_only: Some(reason),
            status: String::new(),
            steps: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// The same screen with the steps `role` may ask for now, each blocked
    /// with the reason the workflow gives; none while a request waits.
    pub fn with_steps(mut self, round: &Round, service: &ServiceDefinition, role: Role) -> Self {
        let facts = round.facts(service);
        let transitions = round.transitions();
        let pending = transitions.pending();
        self.steps = workflow::offers(service, &facts, role)
            .into_iter()
            .map(|offer| RoundStep {
                to: offer.transition.to.clone(),
                label: offer.transition.label.clone(),
                blocked: if pending.is_empty() {
                    offer.blocked.map(|why| {
                        let why = why.to_string();
                        let mut chars = why.chars();
                        chars.next().map_or_else(String::new, |first| {
                            first.to_uppercase().chain(chars).collect()
                        })
                    })
                } else {
                    Some("Waiting for the office to confirm the last step".into())
                },
            })
            .collect();
        self.pending = pending
            .iter()
            .map(|(id, request)| {
                let to = service.state_label(&request.to);
                if round.office.waiting.iter().any(|w| w.request == *id) {
                    format!("Waiting for the photos to upload: {to}")
                } else {
                    format!("Waiting for the office: {to}")
                }
            })
            .collect();
        self
    }

    /// The same screen with the note-and-photo panel open (or not).
    pub fn with_draft(mut self, draft: Option<RoundDraft>) -> Self {
        self.draft = draft;
        self
    }

    /// The same screen read-only, saying why: no outcome can be logged.
    pub fn read_only(mut self, reason: Option<&str>) -> Self {
        if let Some(reason) = reason {
            self.outcomes.clear();
            self.steps.clear();
            self.draft = None;
            self.read_only = Some(reason.to_owned());
        }
        self
    }

    /// The progress line.
    pub fn progress_line(&self) -> String {
        let (done, all) = self.progress;
        format!("{done} of {all} done")
    }

    /// The outcome button for `outcome`.
    pub fn outcome(&self, outcome: &Name) -> Option<&OutcomeButton> {
        self.outcomes.iter().find(|o| &o.outcome == outcome)
    }

    /// Why the panel's outcome cannot be logged yet, if it cannot.
    pub fn draft_blocked(&self) -> Option<&'static str> {
        let draft = self.draft.as_ref()?;
        let Some(outcome) = draft.outcome.as_ref().and_then(|o| self.outcome(o)) else {
            return Some("Choose what you found");
        };
        if draft.photo_saving {
            Some("Saving the photo…")
        } else if outcome.needs_photo && draft.photo.is_none() {
            Some("Take a photo first")
        } else if outcome.needs_note && draft.note.trim().is_empty() {
            Some("Write a note first")
        } else {
            None
        }
    }
}

/// The round screen: every tap, choice and typed note goes to `on_input`.
#[component]
pub fn RoundView(screen: RoundScreen, on_input: EventHandler<RoundInput>) -> Element {
    let blocked = screen.draft_blocked();
    rsx! {
        main { class: "round",
            header {
                h1 { "{screen.reference}" }
                p { class: "progress", "{screen.progress_line()}" }
                p { class: "status", "{screen.status}" }
                if let Some(reason) = &screen.read_only {
                    p { class: "read-only", role: "alert", "Read only: {reason}" }
                }
            }
            for line in screen.pending.iter() {
                p { class: "pending", role: "status", "{line}" }
            }
            if !screen.steps.is_empty() {
                section { class: "buttons",
                    for step in screen.steps.iter() {
                        div { key: "{step.to}",
                            button {
                                class: "big",
                                disabled: step.blocked.is_some(),
                                onclick: {
                                    let to = step.to.clone();
                                    move |_| on_input.call(RoundInput::Step(to.clone()))
                                },
                                "{step.label}"
                            }
                            if let Some(why) = &step.blocked {
                                p { class: "why", "{why}" }
                            }
                        }
                    }
                }
            }
            ol { class: "stops",
                for stop in screen.stops.iter() {
                    li { key: "{stop.property}", class: if stop.logged.is_some() { "stop done" } else { "stop" },
                        strong { "{stop.address}" }
                        if let Some(note) = &stop.crew_note {
                            p { class: "crew-note", "{note}" }
                        }
                        match (&stop.logged, &screen.draft) {
                            (Some(logged), _) => rsx! { p { class: "logged", "{logged}" } },
                            (None, Some(draft)) if draft.property == stop.property => rsx! {
                                EvidencePanel { draft: draft.clone(), outcomes: screen.outcomes.clone(), blocked, on_input }
                            },
                            (None, _) if screen.read_only.is_some() => rsx! {},
                            (None, _) => rsx! {
                                div { class: "outcomes",
                                    for outcome in screen.outcomes.iter() {
                                        button {
                                            key: "{outcome.outcome}",
                                            class: "big",
                                            onclick: {
                                                let tapped = RoundInput::Tap(stop.property, outcome.outcome.clone());
                                                move |_| on_input.call(tapped.clone())
                                            },
                                            "{outcome.label}"
                                            if outcome.needs_photo {
                                                span { class: "needs", " (photo)" }
                                            } else if outcome.needs_note {
                                                span { class: "needs", " (note)" }
                                            }
                                        }
                                    }
                                    button {
                                        class: "plain",
                                        onclick: {
                                            let property = stop.property;
                                            move |_| on_input.call(RoundInput::Evidence(property))
                                        },
                                        "Add a note or photo"
                                    }
                                }
                            },
                        }
                    }
                }
            }
        }
    }
}

/// The note-and-photo panel under one property.
#[component]
fn EvidencePanel(
    draft: RoundDraft,
    outcomes: Vec<OutcomeButton>,
    blocked: Option<&'static str>,
    on_input: EventHandler<RoundInput>,
) -> Element {
    rsx! {
        div { class: "evidence",
            p { "What did you find?" }
            div { class: "outcomes",
                for outcome in outcomes.iter() {
                    button {
                        key: "{outcome.outcome}",
                        class: if draft.outcome.as_ref() == Some(&outcome.outcome) { "big chosen" } else { "big" },
                        "aria-pressed": draft.outcome.as_ref() == Some(&outcome.outcome),
                        onclick: {
                            let chosen = RoundInput::Choose(outcome.outcome.clone());
                            move |_| on_input.call(chosen.clone())
                        },
                        "{outcome.label}"
                    }
                }
            }
            label { r#for: "round-note", "Note" }
            textarea {
                id: "round-note",
                rows: "3",
                value: "{draft.note}",
                onchange: move |event| on_input.call(RoundInput::Note(event.value())),
            }
            label { class: "photo-button",
                if draft.photo.is_some() { "Retake the photo" } else { "Take a photo" }
                input {
                    r#type: "file",
                    accept: "image/jpeg,image/png",
                    "capture": "environment",
                    onchange: move |event: FormEvent| async move {
                        for file in event.files() {
                            if let Ok(bytes) = file.read_bytes().await {
                                on_input.call(RoundInput::Photo(bytes.to_vec()));
                            }
                        }
                    },
                }
            }
            if draft.photo_saving {
                p { class: "photo-state", "Saving the photo…" }
            } else if draft.photo.is_some() {
                p { class: "photo-state", "Photo added" }
            }
            button {
                class: "big",
                disabled: blocked.is_some(),
                onclick: move |_| on_input.call(RoundInput::Log),
                "Log it"
            }
            if let Some(why) = blocked {
                p { class: "why", "{why}" }
            }
            button { class: "plain", onclick: move |_| on_input.call(RoundInput::Cancel), "Cancel" }
        }
    }
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;
    use doorstep_shared::prelude::*;

    use super::*;
    use crate::testing::Driven;

    fn round_and_service() -> (Round, ServiceDefinition) {
        let services = ServiceCatalog::builtin().unwrap();
        let service = services
            .get(&"waste-round".parse().unwrap())
            .unwrap()
            .clone();
        let stops = [
            (
                PropertyId::from_u128(1),
                "1 Marine Parade, Worthing, BN11 3PN",
            ),
            (
                PropertyId::from_u128(2),
                "2 Marine Parade, Worthing, BN11 3PN",
            ),
        ];
        let round = demo::round(
            &service,
            "WR-FRI-1",
            "2026-11-27".parse().unwrap(),
            TeamId::from_u128(3),
            &stops,
            &"refuse_240l".parse().unwrap(),
        );
        let mut doc = round
            .create_document(ActorId::from(b"server".as_slice()))
            .unwrap();
        let crew = Actor {
            user: UserId::from_u128(4),
            role: Role::Crew,
            device: None,
        };
        RoundEditor::new(&mut doc, crew)
            .unwrap()
            .log_outcome(
                &service,
                PropertyId::from_u128(1),
                "collected".parse().unwrap(),
                None,
                None,
                Timestamp::from_millis(0),
            )
            .unwrap()
            .unwrap();
        (Round::load(&doc).unwrap(), service)
    }

    fn screen() -> RoundScreen {
        let (round, service) = round_and_service();
        RoundScreen::new(RoundId::from_u128(1), &round, &service)
    }

    #[test]
    fn the_round_lists_streets_in_order_with_progress_and_one_tap_outcomes() {
        let screen = screen();
        assert_eq!(screen.progress_line(), "1 of 2 done");
        assert_eq!(screen.stops[0].logged.as_deref(), Some("Collected"));
        assert!(
            screen.outcomes.iter().any(|o| o.needs_photo),
            "contaminated needs a photo"
        );
        let html = Driven::round(screen).html();
        assert!(html.contains("1 Marine Parade"), "{html}");
        assert!(html.contains("(photo)"), "{html}");
        assert!(html.contains("(note)"), "{html}");
        assert!(html.contains("1 of 2 done"), "{html}");
        assert!(html.contains("Add a note or photo"), "{html}");
    }

    #[test]
    fn tapping_an_outcome_on_the_next_property_reaches_the_handler() {
        let mut driven = Driven::round(screen());
        // The logged first stop has no buttons. Listeners are numbered in
        // the order the DOM made them: the row's last button comes first.
        driven.click(1);
        driven.click(0);
        assert_eq!(
            driven.taken(),
            [
                "tap 00000000-0000-0000-0000-000000000002 collected",
                "Evidence(PropertyId(00000000-0000-0000-0000-000000000002))"
            ]
        );
    }

    #[test]
    fn the_panel_asks_for_what_the_chosen_outcome_still_needs() {
        let property = PropertyId::from_u128(2);
        let mut draft = RoundDraft::new(property, None);
        let open = |draft: &RoundDraft| screen().with_draft(Some(draft.clone()));
        assert_eq!(open(&draft).draft_blocked(), Some("Choose what you found"));
        draft.outcome = Some("contaminated".parse().unwrap());
        assert_eq!(open(&draft).draft_blocked(), Some("Take a photo first"));
        draft.photo_saving = true;
        assert_eq!(open(&draft).draft_blocked(), Some("Saving the photo…"));
        draft.photo_saving = false;
        draft.photo = Some(PhotoId::from_u128(9));
        assert_eq!(open(&draft).draft_blocked(), None);
        draft.outcome = Some("other".parse().unwrap());
        draft.photo = None;
        assert_eq!(open(&draft).draft_blocked(), Some("Write a note first"));
        draft.note = "Bin lid broken".into();
        assert_eq!(open(&draft).draft_blocked(), None);

        let mut driven = Driven::round(open(&RoundDraft::new(
            property,
            Some("contaminated".parse().unwrap()),
        )));
        let html = driven.html();
        assert!(html.contains("What did you find?"), "{html}");
        assert!(html.contains("Take a photo first"), "{html}");
        assert!(html.contains("capture=\"environment\""), "{html}");
        driven.change(0, "Food waste in the recycling");
        assert_eq!(driven.taken(), ["Note(\"Food waste in the recycling\")"]);
    }
}
