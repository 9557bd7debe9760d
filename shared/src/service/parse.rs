//! Reading a service definition from TOML and checking it.
//!
//! The file is first read into `Raw*` structs that keep the position of every
//! name that refers to something else; then each reference is checked, and
//! the first problem is reported with its file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{
    Action, ChecklistTemplateItem, EvidenceRule, Labelled, Notification, OutcomeKind, PhotoPolicy,
    QuietHours, Report, ReportCategory, ServiceDefinition, ServiceKind, SlaTarget, State, Template,
    TemplateError, Transition,
};
use crate::ids::{Name, ServiceId, StateId};
use crate::time::TimeOfDay;
use crate::transition::Role;

/// GOV.UK Notify's limit: a text message may be up to 918 characters long.
const SMS_MAX_CHARS: usize = 918;

/// A service definition that cannot be used, and where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {problem}")]
pub struct DefinitionError {
    /// The file, as named by the caller.
    pub file: String,
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, in characters.
    pub column: usize,
    /// What is wrong.
    pub problem: DefinitionProblem,
}

/// What is wrong with a service definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionProblem {
    /// Not valid TOML, or a field of the wrong type, or an unknown field.
    #[error("{0}")]
    Syntax(String),
    /// The file name and the service id differ.
    #[error("the service id is {id:?} but the file is named {file_stem:?}: they must match")]
    IdDoesNotMatchFile {
        /// The id in the file.
        id: String,
        /// The file's name without `.toml`.
        file_stem: String,
    },
    /// Two things of one kind share an id.
    #[error("{what} {id:?} is defined twice")]
    Duplicate {
        /// `state`, `transition`, …
        what: &'static str,
        /// The repeated id.
        id: String,
    },
    /// A state that is not listed under `[[states]]`.
    #[error("unknown state {state:?}; the states are {known}")]
    UnknownState {
        /// The name used.
        state: String,
        /// The states defined.
        known: String,
    },
    /// A photo kind that is not listed under `[[photo_kinds]]`.
    #[error("unknown photo kind {kind:?}; declare it under [[photo_kinds]]")]
    UnknownPhotoKind {
        /// The name used.
        kind: String,
    },
    /// A transition or action nobody may take.
    #[error("roles is empty: list who may do this (operative, crew, dispatcher, resident, system)")]
    NoRoles,
    /// A definition without states.
    #[error("a service needs at least one [[states]] entry")]
    NoStates,
    /// A round service without outcomes, or a job service with them.
    #[error("{0}")]
    Outcomes(&'static str),
    /// A notification for an event that never happens.
    #[error(
        "unknown event {event:?}: notifications are sent on \"created\", \"reminder\" (the day before an appointment), a transition id or an action id"
    )]
    UnknownEvent {
        /// The event named.
        event: String,
    },
    /// A notification with a broken template.
    #[error("{0}")]
    Template(TemplateError),
    /// A text message too long to send.
    #[error("the text message is {chars} characters long; the limit is {SMS_MAX_CHARS} (6 texts)")]
    SmsTooLong {
        /// Its length.
        chars: usize,
    },
    /// An email with a subject and no body, or a body and no subject.
    #[error("an email needs both email_subject and email_body")]
    IncompleteEmail,
    /// A notification that sends nothing.
    #[error("a notification needs sms, or email_subject and email_body")]
    EmptyNotification,
    /// An SLA target of zero hours.
    #[error("within_hours must be at least 1")]
    ZeroHours,
    /// `booking` names something other than a transition the system may make.
    #[error(
        "booking = {transition:?}: it must name a [[transitions]] entry whose roles include \"system\", which the server makes when a slot is booked"
    )]
    BookingTransition {
        /// The name given.
        transition: String,
    },
    /// A `[report]` section that cannot be offered to residents.
    #[error("{0}")]
    Report(String),
    /// Evidence that asks for the checklist in a service without one.
    #[error("checklist = true, but the service has no [[checklist]] items")]
    NoChecklist,
    /// `outcomes` evidence that is not `"all"`, or in a service that is not
    /// a round.
    #[error(
        "outcomes = {given:?}: the only rule is outcomes = \"all\" (every stop logged), and only a round service has stops"
    )]
    OutcomesRule {
        /// What was given.
        given: String,
    },
    /// Written for a later version of Doorstep than this one.
    #[error(
        "format = {found}: this version of Doorstep reads definitions up to format {DEFINITION_FORMAT}; update it to use this one"
    )]
    NewerFormat {
        /// The format the file declares.
        found: u32,
    },
}

/// The definition format this build reads. A file may say `format = 1`;
/// one that says more was written for a later version of Doorstep, and is
/// refused with a clear reason rather than misread.
pub const DEFINITION_FORMAT: u32 = 1;

/// Just the format, read first: a newer file's unknown fields would
/// otherwise hide the real reason it cannot be read.
#[derive(Deserialize)]
struct RawFormat {
    format: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    /// Checked first, through [`RawFormat`].
    #[serde(rename = "format")]
    _format: Option<u32>,
    id: Spanned<ServiceId>,
    name: String,
    kind: Spanned<ServiceKind>,
    reference_prefix: String,
    initial: Spanned<StateId>,
    booking: Option<Spanned<Name>>,
    states: Spanned<Vec<RawState>>,
    #[serde(default)]
    transitions: Vec<RawTransition>,
    #[serde(default)]
    actions: Vec<RawAction>,
    #[serde(default)]
    photo_kinds: Vec<RawLabelled>,
    #[serde(default)]
    checklist: Vec<RawChecklistItem>,
    outcomes: Option<Spanned<Vec<RawOutcome>>>,
    #[serde(default)]
    sla: Vec<RawSla>,
    #[serde(default)]
    notifications: Vec<RawNotification>,
    quiet_hours: Option<RawQuietHours>,
    #[serde(default)]
    photos: RawPhotoPolicy,
    report: Option<RawReport>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    photo_kind: Option<Spanned<Name>>,
    categories: Spanned<Vec<RawCategory>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    id: Spanned<Name>,
    label: String,
    priority: Option<Spanned<Name>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    id: Spanned<StateId>,
    label: String,
    #[serde(default)]
    terminal: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLabelled {
    id: Spanned<Name>,
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransition {
    id: Spanned<Name>,
    label: String,
    from: Vec<Spanned<StateId>>,
    to: Spanned<StateId>,
    roles: Spanned<Vec<Role>>,
    #[serde(default)]
    evidence: RawEvidence,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEvidence {
    #[serde(default)]
    photos: Vec<Spanned<Name>>,
    #[serde(default)]
    checklist: Option<Spanned<bool>>,
    #[serde(default)]
    note: bool,
    #[serde(default)]
    outcomes: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    id: Spanned<Name>,
    label: String,
    roles: Spanned<Vec<Role>>,
    when: Vec<Spanned<StateId>>,
    #[serde(default)]
    evidence: RawEvidence,
    leads_to: Option<Spanned<StateId>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecklistItem {
    id: Spanned<Name>,
    label: String,
    #[serde(default)]
    mandatory: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutcome {
    id: Spanned<Name>,
    label: String,
    #[serde(default)]
    evidence: RawEvidence,
    resident_explanation: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSla {
    priority: Spanned<Name>,
    label: String,
    within_hours: Spanned<u32>,
    until: Vec<Spanned<StateId>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotification {
    event: Spanned<Name>,
    sms: Option<Spanned<String>>,
    email_subject: Option<Spanned<String>>,
    email_body: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuietHours {
    sms_from: TimeOfDay,
    sms_until: TimeOfDay,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhotoPolicy {
    #[serde(default)]
    keep_originals: bool,
    #[serde(default = "default_retention_days")]
    device_retention_days: u32,
    #[serde(default = "default_evidence_wait_hours")]
    evidence_wait_hours: u32,
}

impl Default for RawPhotoPolicy {
    fn default() -> Self {
        Self {
            keep_originals: false,
            device_retention_days: default_retention_days(),
            evidence_wait_hours: default_evidence_wait_hours(),
        }
    }
}

fn default_retention_days() -> u32 {
    30
}

/// Three days: a phone out of signal over a weekend still gets its photos
/// up in time.
fn default_evidence_wait_hours() -> u32 {
    72
}

/// Turns byte offsets into lines and columns for errors.
struct Locator<'a> {
    file: &'a str,
    source: &'a str,
}

impl Locator<'_> {
    fn error(&self, span: Range<usize>, problem: DefinitionProblem) -> DefinitionError {
        let start = span.start.min(self.source.len());
        let before = self.source.get(..start).unwrap_or(self.source);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        DefinitionError {
            file: self.file.to_owned(),
            line,
            column: before[line_start..].chars().count() + 1,
            problem,
        }
    }
}

pub(super) fn parse(file: &str, source: &str) -> Result<ServiceDefinition, DefinitionError> {
    let at = Locator { file, source };
    if let Ok(RawFormat {
        format: Some(format),
    }) = toml::from_str::<RawFormat>(source)
        && *format.get_ref() > DEFINITION_FORMAT
    {
        return Err(at.error(
            format.span(),
            DefinitionProblem::NewerFormat {
                found: *format.get_ref(),
            },
        ));
    }
    let raw: RawDefinition = toml::from_str(source).map_err(|error| {
        at.error(
            error.span().unwrap_or(0..0),
            DefinitionProblem::Syntax(error.message().to_owned()),
        )
    })?;

    let file_stem = file
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file)
        .trim_end_matches(".toml");
    if raw.id.get_ref().as_str() != file_stem {
        return Err(at.error(
            raw.id.span(),
            DefinitionProblem::IdDoesNotMatchFile {
                id: raw.id.get_ref().to_string(),
                file_stem: file_stem.to_owned(),
            },
        ));
    }

    if raw.states.get_ref().is_empty() {
        return Err(at.error(raw.states.span(), DefinitionProblem::NoStates));
    }
    let states = unique(&at, "state", raw.states.get_ref().iter().map(|s| &s.id))?;
    let known_states = states
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let check_state = |state: &Spanned<StateId>| -> Result<StateId, DefinitionError> {
        if states.contains(state.get_ref()) {
            Ok(state.get_ref().clone())
        } else {
            Err(at.error(
                state.span(),
                DefinitionProblem::UnknownState {
                    state: state.get_ref().to_string(),
                    known: known_states.clone(),
                },
            ))
        }
    };
    let check_states = |list: &[Spanned<StateId>]| -> Result<Vec<StateId>, DefinitionError> {
        list.iter().map(&check_state).collect()
    };
    let check_roles = |roles: &Spanned<Vec<Role>>| -> Result<Vec<Role>, DefinitionError> {
        if roles.get_ref().is_empty() {
            Err(at.error(roles.span(), DefinitionProblem::NoRoles))
        } else {
            Ok(roles.get_ref().clone())
        }
    };

    let photo_kinds = unique(&at, "photo kind", raw.photo_kinds.iter().map(|k| &k.id))?;
    unique(&at, "checklist item", raw.checklist.iter().map(|c| &c.id))?;
    let has_checklist = !raw.checklist.is_empty();
    let check_evidence = |evidence: &RawEvidence| -> Result<EvidenceRule, DefinitionError> {
        let photos = evidence
            .photos
            .iter()
            .map(|kind| {
                if photo_kinds.contains(kind.get_ref()) {
                    Ok(kind.get_ref().clone())
                } else {
                    Err(at.error(
                        kind.span(),
                        DefinitionProblem::UnknownPhotoKind {
                            kind: kind.get_ref().to_string(),
                        },
                    ))
                }
            })
            .collect::<Result<_, _>>()?;
        let checklist = match &evidence.checklist {
            Some(flag) if *flag.get_ref() && !has_checklist => {
                return Err(at.error(flag.span(), DefinitionProblem::NoChecklist));
            }
            Some(flag) => *flag.get_ref(),
            None => false,
        };
        let all_outcomes = match &evidence.outcomes {
            Some(rule) if rule.get_ref() == "all" && *raw.kind.get_ref() == ServiceKind::Round => {
                true
            }
            Some(rule) => {
                return Err(at.error(
                    rule.span(),
                    DefinitionProblem::OutcomesRule {
                        given: rule.get_ref().clone(),
                    },
                ));
            }
            None => false,
        };
        Ok(EvidenceRule {
            photos,
            checklist,
            note: evidence.note,
            all_outcomes,
        })
    };

    let transition_ids = unique(&at, "transition", raw.transitions.iter().map(|t| &t.id))?;
    let action_ids = unique(&at, "action", raw.actions.iter().map(|a| &a.id))?;
    for action in &raw.actions {
        if transition_ids.contains(action.id.get_ref()) {
            return Err(at.error(
                action.id.span(),
                DefinitionProblem::Duplicate {
                    what: "transition or action",
                    id: action.id.get_ref().to_string(),
                },
            ));
        }
    }
    let raw_outcomes = raw
        .outcomes
        .as_ref()
        .map_or(&[][..], |o| o.get_ref().as_slice());
    let outcome_ids = unique(&at, "outcome", raw_outcomes.iter().map(|o| &o.id))?;
    match (*raw.kind.get_ref(), &raw.outcomes) {
        (ServiceKind::Round, None) => {
            return Err(at.error(
                raw.kind.span(),
                DefinitionProblem::Outcomes("a round service needs [[outcomes]] for crews to log"),
            ));
        }
        (ServiceKind::Round, Some(outcomes)) if outcomes.get_ref().is_empty() => {
            return Err(at.error(
                outcomes.span(),
                DefinitionProblem::Outcomes("a round service needs [[outcomes]] for crews to log"),
            ));
        }
        (ServiceKind::Job, Some(outcomes)) => {
            return Err(at.error(
                outcomes.span(),
                DefinitionProblem::Outcomes("only round services (kind = \"round\") have outcomes"),
            ));
        }
        _ => {}
    }

    let transitions: Vec<Transition> = raw
        .transitions
        .iter()
        .map(|t| {
            Ok(Transition {
                id: t.id.get_ref().clone(),
                label: t.label.clone(),
                from: check_states(&t.from)?,
                to: check_state(&t.to)?,
                roles: check_roles(&t.roles)?,
                evidence: check_evidence(&t.evidence)?,
            })
        })
        .collect::<Result<_, DefinitionError>>()?;

    let actions = raw
        .actions
        .iter()
        .map(|a| {
            Ok(Action {
                id: a.id.get_ref().clone(),
                label: a.label.clone(),
                roles: check_roles(&a.roles)?,
                when: check_states(&a.when)?,
                evidence: check_evidence(&a.evidence)?,
                leads_to: a.leads_to.as_ref().map(&check_state).transpose()?,
            })
        })
        .collect::<Result<_, DefinitionError>>()?;

    let outcomes = raw_outcomes
        .iter()
        .map(|o| {
            Ok(OutcomeKind {
                id: o.id.get_ref().clone(),
                label: o.label.clone(),
                resident_explanation: o.resident_explanation.clone(),
                evidence: check_evidence(&o.evidence)?,
            })
        })
        .collect::<Result<_, DefinitionError>>()?;

    let sla = raw
        .sla
        .iter()
        .map(|s| {
            if *s.within_hours.get_ref() == 0 {
                return Err(at.error(s.within_hours.span(), DefinitionProblem::ZeroHours));
            }
            Ok(SlaTarget {
                priority: s.priority.get_ref().clone(),
                label: s.label.clone(),
                within_hours: *s.within_hours.get_ref(),
                until: check_states(&s.until)?,
            })
        })
        .collect::<Result<_, DefinitionError>>()?;
    unique(&at, "SLA priority", raw.sla.iter().map(|s| &s.priority))?;

    unique(
        &at,
        "notification for event",
        raw.notifications.iter().map(|n| &n.event),
    )?;
    if let Some(booking) = &raw.booking {
        let allowed = transitions
            .iter()
            .any(|t| &t.id == booking.get_ref() && t.roles.contains(&Role::System));
        if !allowed {
            return Err(at.error(
                booking.span(),
                DefinitionProblem::BookingTransition {
                    transition: booking.get_ref().to_string(),
                },
            ));
        }
    }
    let report = match &raw.report {
        None => None,
        Some(report) => {
            if report.categories.get_ref().is_empty() {
                return Err(at.error(
                    report.categories.span(),
                    DefinitionProblem::Report(
                        "[report] needs at least one category for residents to choose".into(),
                    ),
                ));
            }
            unique(
                &at,
                "report category",
                report.categories.get_ref().iter().map(|c| &c.id),
            )?;
            if let Some(kind) = &report.photo_kind
                && !photo_kinds.contains(kind.get_ref())
            {
                return Err(at.error(
                    kind.span(),
                    DefinitionProblem::UnknownPhotoKind {
                        kind: kind.get_ref().to_string(),
                    },
                ));
            }
            let mut categories = Vec::new();
            for category in report.categories.get_ref() {
                if let Some(priority) = &category.priority
                    && !raw
                        .sla
                        .iter()
                        .any(|t| t.priority.get_ref() == priority.get_ref())
                {
                    return Err(at.error(
                        priority.span(),
                        DefinitionProblem::Report(format!(
                            "priority {:?} has no [[sla]] target",
                            priority.get_ref().as_str()
                        )),
                    ));
                }
                categories.push(ReportCategory {
                    id: category.id.get_ref().clone(),
                    label: category.label.clone(),
                    priority: category.priority.as_ref().map(|p| p.get_ref().clone()),
                });
            }
            Some(Report {
                photo_kind: report.photo_kind.as_ref().map(|k| k.get_ref().clone()),
                categories,
            })
        }
    };
    let mut notifications = BTreeMap::new();
    for raw_notification in &raw.notifications {
        let event = raw_notification.event.get_ref();
        let known = matches!(event.as_str(), "created" | "reminder")
            || transition_ids.contains(event)
            || action_ids.contains(event)
            || outcome_ids.contains(event);
        if !known {
            return Err(at.error(
                raw_notification.event.span(),
                DefinitionProblem::UnknownEvent {
                    event: event.to_string(),
                },
            ));
        }
        let notification = check_notification(&at, raw_notification)?;
        notifications.insert(event.clone(), notification);
    }

    Ok(ServiceDefinition {
        id: raw.id.into_inner(),
        name: raw.name,
        kind: raw.kind.into_inner(),
        reference_prefix: raw.reference_prefix,
        initial: check_state(&raw.initial)?,
        booking: raw.booking.map(Spanned::into_inner),
        states: raw
            .states
            .into_inner()
            .into_iter()
            .map(|s| State {
                id: s.id.into_inner(),
                label: s.label,
                terminal: s.terminal,
            })
            .collect(),
        transitions,
        actions,
        photo_kinds: raw
            .photo_kinds
            .into_iter()
            .map(|k| Labelled {
                id: k.id.into_inner(),
                label: k.label,
            })
            .collect(),
        checklist: raw
            .checklist
            .into_iter()
            .map(|c| ChecklistTemplateItem {
                id: c.id.into_inner(),
                label: c.label,
                mandatory: c.mandatory,
            })
            .collect(),
        outcomes,
        sla,
        notifications,
        quiet_hours: raw.quiet_hours.map(|q| QuietHours {
            from: q.sms_from,
            until: q.sms_until,
        }),
        photos: PhotoPolicy {
            keep_originals: raw.photos.keep_originals,
            device_retention_days: raw.photos.device_retention_days,
            evidence_wait_hours: raw.photos.evidence_wait_hours,
        },
        report,
    })
}

/// The set of ids, or an error at the first one seen twice.
fn unique<'a, T>(
    at: &Locator<'_>,
    what: &'static str,
    ids: impl Iterator<Item = &'a Spanned<T>>,
) -> Result<BTreeSet<T>, DefinitionError>
where
    T: Ord + Clone + std::fmt::Display + 'a,
{
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(id.get_ref().clone()) {
            return Err(at.error(
                id.span(),
                DefinitionProblem::Duplicate {
                    what,
                    id: id.get_ref().to_string(),
                },
            ));
        }
    }
    Ok(seen)
}

fn check_template(at: &Locator<'_>, text: &Spanned<String>) -> Result<Template, DefinitionError> {
    Template::parse(text.get_ref()).map_err(|error| {
        // Point at the placeholder's line inside a multi-line string.
        let newlines_before = error
            .offset()
            .map_or(0, |offset| text.get_ref()[..offset].matches('\n').count());
        let mut located = at.error(text.span(), DefinitionProblem::Template(error));
        if newlines_before > 0 {
            located.line += newlines_before;
            located.column = 1;
        }
        located
    })
}

fn check_notification(
    at: &Locator<'_>,
    raw: &RawNotification,
) -> Result<Notification, DefinitionError> {
    let sms = match &raw.sms {
        Some(text) => {
            let chars = text.get_ref().chars().count();
            if chars > SMS_MAX_CHARS {
                return Err(at.error(text.span(), DefinitionProblem::SmsTooLong { chars }));
            }
            Some(check_template(at, text)?)
        }
        None => None,
    };
    let email = match (&raw.email_subject, &raw.email_body) {
        (Some(subject), Some(body)) => {
            Some((check_template(at, subject)?, check_template(at, body)?))
        }
        (Some(only), None) | (None, Some(only)) => {
            return Err(at.error(only.span(), DefinitionProblem::IncompleteEmail));
        }
        (None, None) => None,
    };
    if sms.is_none() && email.is_none() {
        return Err(at.error(raw.event.span(), DefinitionProblem::EmptyNotification));
    }
    Ok(Notification { sms, email })
}
