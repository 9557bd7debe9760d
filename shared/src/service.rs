//! Service definitions: workflows as data.
//!
//! A council adds a service by writing a TOML file under `assets/services/`,
//! not Rust. The file names the states, the transitions and who may make
//! them, the evidence each needs, actions that are not transitions, the
//! checklist, SLA targets, notification texts and photo policy. Parsing
//! checks every cross-reference and reports the file, line and problem.

mod catalog;
mod parse;
mod template;

use std::collections::BTreeMap;

pub use catalog::{DefinitionFile, DefinitionVersion, DefinitionsDigest, ServiceCatalog};
pub use parse::{DEFINITION_FORMAT, DefinitionError, DefinitionProblem};
pub use template::{PLACEHOLDERS, Template, TemplateError};

use crate::ids::{Name, ServiceId, StateId};
use crate::time::{TimeOfDay, Timestamp};
use crate::transition::Role;

/// One service's workflow and rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDefinition {
    /// The service's id, which is also its file name.
    pub id: ServiceId,
    /// Its name, shown to staff and residents.
    pub name: String,
    /// Jobs (one document per piece of work) or rounds (one per crew and day).
    pub kind: ServiceKind,
    /// Prefix of job references, such as `HR` in `HR-01042`.
    pub reference_prefix: String,
    /// The state new jobs or rounds start in.
    pub initial: StateId,
    /// The transition the server makes, as `system`, when a slot is booked
    /// for a job that is waiting for one ("book": reported → booked).
    pub booking: Option<Name>,
    /// Every state, in the order they are listed.
    pub states: Vec<State>,
    /// The allowed moves between states.
    pub transitions: Vec<Transition>,
    /// Things people do that are not transitions.
    pub actions: Vec<Action>,
    /// The kinds of photo this service takes.
    pub photo_kinds: Vec<Labelled>,
    /// The checklist template copied into each new job.
    pub checklist: Vec<ChecklistTemplateItem>,
    /// Outcomes a crew logs per property (round services only).
    pub outcomes: Vec<OutcomeKind>,
    /// Service level targets by priority.
    pub sla: Vec<SlaTarget>,
    /// Messages to the resident, by event (`created`, a transition or an action).
    pub notifications: BTreeMap<Name, Notification>,
    /// Hours in which no text messages are sent.
    pub quiet_hours: Option<QuietHours>,
    /// What happens to original photos.
    pub photos: PhotoPolicy,
    /// Residents may report it on the council's pages, in these terms.
    pub report: Option<Report>,
}

/// How residents report a service's work on the council's pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The photo kind a resident's photos are filed as; none: no photos.
    pub photo_kind: Option<Name>,
    /// What residents choose from ("a leak or drip").
    pub categories: Vec<ReportCategory>,
}

/// One thing a resident can report, with the priority it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportCategory {
    /// Its id.
    pub id: Name,
    /// Its words on the form.
    pub label: String,
    /// The SLA priority a report of it gets.
    pub priority: Option<Name>,
}

/// Whether a service's documents are jobs or rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// One document per piece of work.
    Job,
    /// One document per crew and day, with many properties.
    Round,
}

/// A workflow state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// Its id.
    pub id: StateId,
    /// Its name in plain words.
    pub label: String,
    /// No work happens after it (completed, cancelled).
    pub terminal: bool,
}

/// An id with a label in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labelled {
    /// Its id.
    pub id: Name,
    /// Its name in plain words.
    pub label: String,
}

/// A move from one of several states to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// Its id.
    pub id: Name,
    /// The button's words, such as "Complete job".
    pub label: String,
    /// States it may start from.
    pub from: Vec<StateId>,
    /// The state it leads to.
    pub to: StateId,
    /// Roles that may make it.
    pub roles: Vec<Role>,
    /// What must be there first.
    pub evidence: EvidenceRule,
}

/// What a transition, action or outcome needs before it is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidenceRule {
    /// A photo of each of these kinds must be on the job.
    pub photos: Vec<Name>,
    /// Every mandatory checklist item must be ticked.
    pub checklist: bool,
    /// A note saying why must be given.
    pub note: bool,
    /// Every stop of a round must have an outcome logged (`outcomes =
    /// "all"`; rounds only).
    pub all_outcomes: bool,
}

/// Something done on a job that is not a transition ("on my way").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Its id.
    pub id: Name,
    /// The button's words.
    pub label: String,
    /// Roles that may take it.
    pub roles: Vec<Role>,
    /// States in which it is offered.
    pub when: Vec<StateId>,
    /// What it needs.
    pub evidence: EvidenceRule,
    /// The state the server moves the job to after it ("no access — card
    /// left" leads to rebooking).
    pub leads_to: Option<StateId>,
}

/// An item of the checklist template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistTemplateItem {
    /// Its id.
    pub id: Name,
    /// What to check.
    pub label: String,
    /// Whether evidence rules with `checklist = true` need it ticked.
    pub mandatory: bool,
}

/// An outcome a crew can log for a property on a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeKind {
    /// Its id, such as `contaminated`.
    pub id: Name,
    /// The button's words.
    pub label: String,
    /// What it needs (a contaminated bin needs a photo).
    pub evidence: EvidenceRule,
    /// Why a bin was left, in words for the resident: an outcome with one
    /// answers a missed-bin report instead of sending the crew back.
    pub resident_explanation: Option<String>,
}

/// A service level target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaTarget {
    /// The priority it applies to, such as `emergency`.
    pub priority: Name,
    /// The priority's name in plain words.
    pub label: String,
    /// Hours from creation to reach one of `until`.
    pub within_hours: u32,
    /// States that meet the target.
    pub until: Vec<StateId>,
}

impl SlaTarget {
    /// When a job made at `created` falls due under this target.
    pub fn due_from(&self, created: Timestamp) -> Timestamp {
        created.plus_minutes(i64::from(self.within_hours) * 60)
    }
}

/// The texts sent to the resident for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The text message, if one is sent.
    pub sms: Option<Template>,
    /// The email subject and body, if one is sent.
    pub email: Option<(Template, Template)>,
}

/// Hours in which text messages wait until morning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// From this time…
    pub from: TimeOfDay,
    /// …until this time the next morning (or the same day, if later).
    pub until: TimeOfDay,
}

impl QuietHours {
    /// Whether a local time of day falls inside the quiet hours.
    pub fn contains(&self, time: TimeOfDay) -> bool {
        let (from, until, now) = (self.from.minutes(), self.until.minutes(), time.minutes());
        if from <= until {
            from <= now && now < until
        } else {
            now >= from || now < until
        }
    }
}

/// What happens to original photos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoPolicy {
    /// Upload originals as staff-only evidence.
    pub keep_originals: bool,
    /// Days an original stays on the device when not uploaded.
    pub device_retention_days: u32,
    /// Hours a request whose photos are taken but not uploaded waits for
    /// them before it is refused.
    pub evidence_wait_hours: u32,
}

impl ServiceDefinition {
    /// Parses and checks a definition. `file` names it in errors, and its
    /// stem must be the service id.
    pub fn parse(file: &str, source: &str) -> Result<Self, DefinitionError> {
        parse::parse(file, source)
    }

    /// A state by id.
    pub fn state(&self, id: &StateId) -> Option<&State> {
        self.states.iter().find(|s| &s.id == id)
    }

    /// The transition from one state to another, if the workflow has one.
    pub fn transition_between(&self, from: &StateId, to: &StateId) -> Option<&Transition> {
        self.transitions
            .iter()
            .find(|t| &t.to == to && t.from.contains(from))
    }

    /// A transition by id.
    pub fn transition(&self, id: &Name) -> Option<&Transition> {
        self.transitions.iter().find(|t| &t.id == id)
    }

    /// The SLA target for a priority.
    pub fn sla_target(&self, priority: &Name) -> Option<&SlaTarget> {
        self.sla.iter().find(|t| &t.priority == priority)
    }

    /// An action by id.
    pub fn action(&self, id: &Name) -> Option<&Action> {
        self.actions.iter().find(|a| &a.id == id)
    }

    /// A round outcome by id.
    pub fn outcome(&self, id: &Name) -> Option<&OutcomeKind> {
        self.outcomes.iter().find(|o| &o.id == id)
    }

    /// The label of a photo kind, or its id if it has none.
    pub fn photo_label<'a>(&'a self, kind: &'a Name) -> &'a str {
        self.photo_kinds
            .iter()
            .find(|k| &k.id == kind)
            .map_or(kind.as_str(), |k| k.label.as_str())
    }

    /// The label of a state, or its id if unknown.
    pub fn state_label<'a>(&'a self, state: &'a StateId) -> &'a str {
        self.state(state)
            .map_or(state.as_str(), |s| s.label.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_may_span_midnight() {
        let t = |s: &str| s.parse::<TimeOfDay>().unwrap();
        let overnight = QuietHours {
            from: t("20:00"),
            until: t("08:00"),
        };
        assert!(overnight.contains(t("23:30")));
        assert!(overnight.contains(t("07:59")));
        assert!(!overnight.contains(t("08:00")));
        assert!(!overnight.contains(t("12:00")));
        let lunchtime = QuietHours {
            from: t("12:00"),
            until: t("13:00"),
        };
        assert!(lunchtime.contains(t("12:30")));
        assert!(!lunchtime.contains(t("13:30")));
    }
}
