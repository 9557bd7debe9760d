//! **Waste round**: the streets in visiting order, one tap per property
//! for what the crew found, and how far along the round is. An outcome that
//! needs evidence (a contaminated bin needs a photo, say) asks for it first.

use dioxus::prelude::*;
use doorstep_shared::ids::{Name, PropertyId, RoundId};
use doorstep_shared::round::Round;
use doorstep_shared::service::ServiceDefinition;

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
        }
    }

    /// The progress line.
    pub fn progress_line(&self) -> String {
        let (done, all) = self.progress;
        format!("{done} of {all} done")
    }
}

/// The round screen: `on_outcome` gets the property and the outcome tapped.
#[component]
pub fn RoundView(
    screen: RoundScreen,
    on_outcome: EventHandler<(PropertyId, OutcomeButton)>,
) -> Element {
    rsx! {
        main { class: "round",
            header {
                h1 { "{screen.reference}" }
                p { class: "progress", "{screen.progress_line()}" }
            }
            ol { class: "stops",
                for stop in screen.stops.iter() {
                    li { key: "{stop.property}", class: if stop.logged.is_some() { "stop done" } else { "stop" },
                        strong { "{stop.address}" }
                        if let Some(note) = &stop.crew_note {
                            p { class: "crew-note", "{note}" }
                        }
                        match &stop.logged {
                            Some(logged) => rsx! { p { class: "logged", "{logged}" } },
                            None => rsx! {
                                div { class: "outcomes",
                                    for outcome in screen.outcomes.iter() {
                                        button {
                                            key: "{outcome.outcome}",
                                            class: "big",
                                            onclick: {
                                                let pressed = (stop.property, outcome.clone());
                                                move |_| on_outcome.call(pressed.clone())
                                            },
                                            "{outcome.label}"
                                            if outcome.needs_photo {
                                                span { class: "needs", " (photo)" }
                                            }
                                        }
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

#[cfg(test)]
mod tests {
    use automerge::ActorId;
    use doorstep_shared::prelude::*;

    use super::*;

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

    #[component]
    fn Harness(screen: RoundScreen) -> Element {
        rsx! { RoundView { screen, on_outcome: move |_| {} } }
    }

    #[test]
    fn the_round_lists_streets_in_order_with_progress_and_one_tap_outcomes() {
        let (round, service) = round_and_service();
        let screen = RoundScreen::new(RoundId::from_u128(1), &round, &service);
        assert_eq!(screen.progress_line(), "1 of 2 done");
        assert_eq!(screen.stops[0].logged.as_deref(), Some("Collected"));
        assert!(
            screen.outcomes.iter().any(|o| o.needs_photo),
            "contaminated needs a photo"
        );
        let mut dom = VirtualDom::new_with_props(Harness, HarnessProps { screen });
        dom.rebuild_in_place();
        let html = dioxus_ssr::render(&dom);
        assert!(html.contains("1 Marine Parade"), "{html}");
        assert!(html.contains("(photo)"), "{html}");
        assert!(html.contains("1 of 2 done"), "{html}");
    }
}
