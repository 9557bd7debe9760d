//! Test support: a screen rendered in a real `VirtualDom` whose events can
//! be fired by hand (a tap on the n-th button, a typed value), with what
//! each handler received written to a log the test reads back; and the
//! booked repair the screens' tests start from.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Once;

use dioxus::prelude::*;
use dioxus_core::{ElementId, Mutation};
use dioxus_html::{
    PlatformEventData, SerializedFormData, SerializedHtmlEventConverter, SerializedMouseData,
};

use crate::views::{
    ButtonAction, JobInput, JobScreen, JobView, RoundInput, RoundScreen, RoundView, Today,
    TodayFilter, TodayState,
};

/// What the handlers received, in order, as short lines.
#[derive(Clone, Default)]
pub(crate) struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.borrow_mut().push(line);
    }
}

impl PartialEq for Log {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// A screen in a live `VirtualDom`.
pub(crate) struct Driven {
    dom: VirtualDom,
    listeners: Vec<(String, ElementId)>,
    log: Log,
}

impl Driven {
    fn start<P: Clone + 'static>(component: fn(P) -> Element, props: P, log: Log) -> Self {
        static CONVERTER: Once = Once::new();
        CONVERTER.call_once(|| {
            dioxus_html::set_event_converter(Box::new(SerializedHtmlEventConverter));
        });
        let mut dom = VirtualDom::new_with_props(component, props);
        let edits = dom.rebuild_to_vec().edits;
        let mut driven = Self {
            dom,
            listeners: Vec::new(),
            log,
        };
        driven.note_listeners(edits);
        driven
    }

    fn note_listeners(&mut self, edits: Vec<Mutation>) {
        for edit in edits {
            if let Mutation::NewEventListener { name, id } = edit {
                self.listeners.push((name, id));
            }
        }
    }

    /// The Today screen.
    pub(crate) fn today(state: TodayState) -> Self {
        let log = Log::default();
        Self::start(
            TodayHarness,
            TodayHarnessProps {
                state,
                log: log.clone(),
            },
            log,
        )
    }

    /// The Job screen.
    pub(crate) fn job(screen: JobScreen) -> Self {
        let log = Log::default();
        Self::start(
            JobHarness,
            JobHarnessProps {
                screen,
                log: log.clone(),
            },
            log,
        )
    }

    /// The Round screen.
    pub(crate) fn round(screen: RoundScreen) -> Self {
        let log = Log::default();
        Self::start(
            RoundHarness,
            RoundHarnessProps {
                screen,
                log: log.clone(),
            },
            log,
        )
    }

    /// The screen as HTML.
    pub(crate) fn html(&self) -> String {
        dioxus_ssr::render(&self.dom)
    }

    /// Taps the `n`-th element (in document order) that listens for taps.
    pub(crate) fn click(&mut self, n: usize) {
        self.fire("click", n, Box::new(SerializedMouseData::default()));
    }

    /// Changes the `n`-th field (in document order) to `value`.
    pub(crate) fn change(&mut self, n: usize, value: &str) {
        let data = SerializedFormData::new(value.to_owned(), Vec::new());
        self.fire("change", n, Box::new(data));
    }

    fn fire(&mut self, name: &str, n: usize, data: Box<dyn Any>) {
        let Some((_, id)) = self.listeners.iter().filter(|(l, _)| l == name).nth(n) else {
            panic!("no {n}-th {name} listener in {:?}", self.listeners);
        };
        let data: Rc<dyn Any> = Rc::new(PlatformEventData::new(data));
        self.dom
            .runtime()
            .handle_event(name, dioxus_core::Event::new(data, true), *id);
        let edits = self.dom.render_immediate_to_vec().edits;
        self.note_listeners(edits);
    }

    /// What the handlers received so far.
    pub(crate) fn taken(&self) -> Vec<String> {
        self.log.0.borrow().clone()
    }
}

#[component]
fn TodayHarness(state: TodayState, log: Log) -> Element {
    let (open, round, filter) = (log.clone(), log.clone(), log);
    rsx! {
        Today {
            state,
            on_open: move |job| open.push(format!("open {job}")),
            on_round: move |id| round.push(format!("round {id}")),
            on_filter: move |f: TodayFilter| filter.push(format!("filter {f:?}")),
        }
    }
}

#[component]
fn JobHarness(screen: JobScreen, log: Log) -> Element {
    let (button, tick, notes, photo) = (log.clone(), log.clone(), log.clone(), log);
    rsx! {
        JobView {
            screen,
            on_input: move |input| button.push(match input {
                JobInput::Press(ButtonAction::Action(action)) => format!("action {action}"),
                JobInput::Press(ButtonAction::Transition(to)) => format!("transition {to}"),
                other => format!("{other:?}"),
            }),
            on_tick: move |(item, done)| tick.push(format!("tick {item} {done}")),
            on_notes: move |text| notes.push(format!("notes {text}")),
            on_photo: move |(kind, bytes): (doorstep_shared::ids::Name, Vec<u8>)| {
                photo.push(format!("photo {kind} {}", bytes.len()))
            },
        }
    }
}

#[component]
fn RoundHarness(screen: RoundScreen, log: Log) -> Element {
    rsx! {
        RoundView {
            screen,
            on_input: move |input| log.push(match input {
                RoundInput::Tap(property, outcome) => format!("tap {property} {outcome}"),
                RoundInput::Photo(bytes) => format!("photo {}", bytes.len()),
                other => format!("{other:?}"),
            }),
        }
    }
}

/// Housing repair `number` at `address`, made by the server at `now` and
/// booked by a dispatcher, as a phone receives it.
pub(crate) fn booked_repair(
    number: u32,
    address: &str,
    now: doorstep_shared::time::Timestamp,
) -> automerge::AutoCommit {
    use doorstep_shared::prelude::*;
    let services = ServiceCatalog::builtin().unwrap();
    let repair = services.get(&"housing-repair".parse().unwrap()).unwrap();
    let mut doc = demo::job(repair, number, address, now)
        .create_document(automerge::ActorId::from(b"server".as_slice()))
        .unwrap();
    let dispatcher = Actor {
        user: UserId::from_u128(4),
        role: Role::Dispatcher,
        device: None,
    };
    JobEditor::new(&mut doc, dispatcher)
        .unwrap()
        .request_transition(
            TransitionId::from_u128(1),
            "reported".parse().unwrap(),
            "booked".parse().unwrap(),
            Evidence::default(),
            now,
        )
        .unwrap();
    OfficeEditor::new(&mut doc)
        .unwrap()
        .decide_pending(repair, now, |actor| actor.role)
        .unwrap();
    doc
}
