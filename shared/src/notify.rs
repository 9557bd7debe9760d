//! What a resident is told, worked out from a job's document: the events
//! they experience (the job was created, a transition was accepted, an
//! action was taken) and the messages each one sends, by the service
//! definition's notification texts.
//!
//! Each event has a **key** made of what the resident experiences — the
//! job and the accepted transition's request id, the job, the action and
//! the step the job had reached, the job's creation — never of which push
//! or tap carried it. The
//! server's outbox keeps one row per key and channel, so a change synced
//! twice, two taps, or two phones completing the same job offline send one
//! message. Nothing here does IO; the server stores and sends.

use std::collections::BTreeMap;

use crate::contact::{Channel, Contact};
use crate::ids::{JobId, Name};
use crate::job::Job;
use crate::service::ServiceDefinition;
use crate::time::Timestamp;
use crate::transition::Decision;

/// Something that happened to a job that its resident hears about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentEvent {
    /// The job.
    pub job: JobId,
    /// Unique per thing the resident experiences (see the module docs).
    pub key: String,
    /// The notification it sends: `created`, a transition id or an action id.
    pub event: Name,
    /// When it happened.
    pub at: Timestamp,
    /// The channels the service has texts for.
    pub channels: Vec<Channel>,
}

/// The notification event for a job's creation.
pub const CREATED: &str = "created";
/// The notification sent the day before an appointment.
pub const REMINDER: &str = "reminder";
/// When a reminder goes: the evening before the appointment, UK time.
const REMINDER_TIME: (u8, u8) = (18, 0);

/// The appointment start a reminder's key names, to check at send time
/// that the appointment has not moved since.
pub fn reminder_for(key: &str) -> Option<Timestamp> {
    key.rsplit_once(":reminder:")
        .and_then(|(_, millis)| millis.parse().ok())
        .map(Timestamp::from_millis)
}

/// The events in `after` that were not in `before` (`None`: the job is
/// new), for which the service has a notification.
pub fn new_events(
    job: JobId,
    before: Option<&Job>,
    after: &Job,
    service: &ServiceDefinition,
) -> Vec<ResidentEvent> {
    let mut events = Vec::new();
    let mut add = |key: String, event: Name, at: Timestamp| {
        if let Some(notification) = service.notifications.get(&event) {
            let mut channels = Vec::new();
            if notification.sms.is_some() {
                channels.push(Channel::Sms);
            }
            if notification.email.is_some() {
                channels.push(Channel::Email);
            }
            events.push(ResidentEvent {
                job,
                key,
                event,
                at,
                channels,
            });
        }
    };
    if before.is_none()
        && let Ok(created) = CREATED.parse::<Name>()
    {
        add(
            format!("job:{job}:created"),
            created,
            after.office.created_at.unwrap_or(Timestamp::from_millis(0)),
        );
    }
    for (id, verdict) in &after.office.verdicts {
        let known = before.is_some_and(|b| b.office.verdicts.contains_key(id));
        if known || verdict.decision != Decision::Accepted {
            continue;
        }
        let Some((from, to)) = after.transitions().decided_move(id) else {
            continue;
        };
        if let Some(transition) = service.transition_between(from, to) {
            add(
                format!("job:{job}:transition:{id}"),
                transition.id.clone(),
                verdict.at,
            );
        }
    }
    // A new or moved appointment: a reminder the evening before, keyed by
    // the appointment's start, so a moved appointment's old reminder is a
    // different row (and is dropped when its time comes).
    let appointment = after.office.appointment;
    if appointment != before.and_then(|b| b.office.appointment)
        && let (Some(slot), Ok(reminder)) = (appointment, REMINDER.parse::<Name>())
    {
        let (day, _) = crate::time::uk::local(slot.starts);
        let day_before = crate::time::Date::from_days_since_epoch(day.days_since_epoch() - 1);
        let evening = crate::time::Timestamp::at(day_before, REMINDER_TIME.0, REMINDER_TIME.1);
        let at = evening.plus_millis(-crate::time::uk::offset_millis(evening));
        add(
            format!("job:{job}:reminder:{}", slot.starts.as_millis()),
            reminder,
            at,
        );
    }
    for (id, event) in &after.timeline {
        if before.is_some_and(|b| b.timeline.contains_key(id)) {
            continue;
        }
        // Keyed by the action and the step the job had reached, not the
        // tap: two taps (or two phones) saying "on my way" for one visit
        // tell the resident once; the same action after the job moved on
        // (a later visit) tells them again.
        let step = after
            .office
            .verdicts
            .values()
            .filter(|v| v.decision == Decision::Accepted && v.at <= event.at)
            .count();
        add(
            format!("job:{job}:action:{}:step:{step}", event.action),
            event.action.clone(),
            event.at,
        );
    }
    events
}

/// The events a stored job document holds beyond `before` (`None`: the
/// job is new), under its service's notifications; none if the document
/// or its service cannot be read.
pub fn events_in(
    job: JobId,
    before: Option<&Job>,
    after: &automerge::AutoCommit,
    services: &crate::service::ServiceCatalog,
) -> Vec<ResidentEvent> {
    let Ok(loaded) = Job::load(after) else {
        return Vec::new();
    };
    match services.get(&loaded.office.service) {
        Some(service) => new_events(job, before, &loaded, service),
        None => Vec::new(),
    }
}

/// When a text may go if not now: the end of the service's quiet hours
/// (UK local time), if `now` falls inside them. Emails are never held.
pub fn sms_held_until(service: &ServiceDefinition, now: Timestamp) -> Option<Timestamp> {
    let quiet = service.quiet_hours?;
    let (_, time) = crate::time::uk::local(now);
    quiet
        .contains(time)
        .then(|| crate::time::uk::next(now, quiet.until))
}

/// Days a resident's tracking link keeps working after the job closes.
pub const TRACKING_DAYS_AFTER_CLOSURE: i64 = 30;

/// Whether a tracking link to `job` still works at `now`: while the job is
/// open, and for [`TRACKING_DAYS_AFTER_CLOSURE`] days after it closed.
pub fn tracking_link_works(job: &Job, service: &ServiceDefinition, now: Timestamp) -> bool {
    job.closed_at(service)
        .is_none_or(|at| now < at.plus_minutes(TRACKING_DAYS_AFTER_CLOSURE * 24 * 60))
}

/// One message, ready to hand to a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// SMS or email.
    pub channel: Channel,
    /// A phone number (E.164) or an email address.
    pub to: String,
    /// The email subject (none for SMS).
    pub subject: Option<String>,
    /// The text.
    pub body: String,
    /// Photos shown in the email itself (providers that can embed them).
    pub photos: Vec<InlinePhoto>,
}

/// A photo shown inside an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePhoto {
    /// What it shows, in words ("Before").
    pub label: String,
    /// The JPEG (the display rendition).
    pub jpeg: Vec<u8>,
}

/// Whether an event's texts show the job's photos (they link to them, and
/// emails that can embed them do): such a message waits a while for the
/// photos to finish uploading.
pub fn shows_photos(event: &Name, service: &ServiceDefinition) -> bool {
    service
        .notifications
        .get(event)
        .is_some_and(|notification| {
            let mut templates: Vec<&crate::service::Template> = notification.sms.iter().collect();
            if let Some((subject, body)) = &notification.email {
                templates.extend([subject, body]);
            }
            templates
                .iter()
                .any(|template| template.placeholders().contains(&"photos_url"))
        })
}

/// Why a message is not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotSent {
    /// The resident cannot be reached on this channel (no number, a
    /// landline for SMS, opted out, or asked for no updates).
    #[error("the resident cannot be reached by {0:?}")]
    Unreachable(Channel),
    /// The service has no text for this event and channel.
    #[error("the service has no text for this event on this channel")]
    NoText,
    /// A text uses a placeholder with no value.
    #[error("the text could not be filled in: {0}")]
    Template(String),
}

/// The links and names a message may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContext {
    /// The council's name.
    pub council: String,
    /// The resident's tracking page.
    pub track_url: String,
    /// Where the resident books another slot.
    pub rebook_url: String,
    /// Where the resident sees the before and after photos.
    pub photos_url: String,
}

/// The message an event sends on `channel`, written for this resident.
pub fn compose(
    event: &Name,
    channel: Channel,
    job: &Job,
    contact: &Contact,
    service: &ServiceDefinition,
    context: &MessageContext,
) -> Result<Message, NotSent> {
    let notification = service.notifications.get(event).ok_or(NotSent::NoText)?;
    let to = match channel {
        Channel::Sms
            if contact.preferred_channel != Channel::None
                && !contact.sms_opt_out
                && contact.phone.as_ref().is_some_and(|p| p.is_mobile()) =>
        {
            contact.phone.as_ref().map(|p| p.as_str().to_owned())
        }
        Channel::Email if contact.preferred_channel != Channel::None => {
            contact.email.as_ref().map(|e| e.as_str().to_owned())
        }
        _ => None,
    }
    .ok_or(NotSent::Unreachable(channel))?;
    let mut values: BTreeMap<&str, String> = BTreeMap::new();
    values.insert("council", context.council.clone());
    values.insert("reference", job.office.reference.clone());
    values.insert("name", contact.name.clone());
    values.insert("address", job.office.address.one_line());
    values.insert("track_url", context.track_url.clone());
    values.insert("rebook_url", context.rebook_url.clone());
    values.insert("photos_url", context.photos_url.clone());
    if let Some(slot) = job.office.appointment {
        // In the resident's clock (BST in summer) and words.
        let (day, starts) = crate::time::uk::local(slot.starts);
        let (_, ends) = crate::time::uk::local(slot.ends);
        values.insert("appointment_date", day.in_words());
        values.insert(
            "appointment_time",
            format!("{} to {}", starts.in_words(), ends.in_words()),
        );
    }
    let render = |template: &crate::service::Template| {
        template
            .render(&values)
            .map_err(|error| NotSent::Template(error.to_string()))
    };
    match channel {
        Channel::Sms => {
            let text = notification.sms.as_ref().ok_or(NotSent::NoText)?;
            Ok(Message {
                channel,
                to,
                subject: None,
                body: render(text)?,
                photos: Vec::new(),
            })
        }
        Channel::Email => {
            let (subject, body) = notification.email.as_ref().ok_or(NotSent::NoText)?;
            Ok(Message {
                channel,
                to,
                subject: Some(render(subject)?),
                body: render(body)?,
                photos: Vec::new(),
            })
        }
        Channel::None => Err(NotSent::Unreachable(channel)),
    }
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::contact::{CONTACT_SCHEMA_VERSION, Channel};
    use crate::prelude::*;

    fn repair() -> ServiceDefinition {
        ServiceCatalog::builtin()
            .unwrap()
            .get(&"housing-repair".parse().unwrap())
            .unwrap()
            .clone()
    }

    fn contact(phone: &str, email: Option<&str>) -> Contact {
        Contact {
            schema_version: CONTACT_SCHEMA_VERSION,
            job: JobId::from_u128(1),
            name: "Margaret Ellis".into(),
            phone: Some(phone.parse().unwrap()),
            email: email.map(|e| e.parse().unwrap()),
            preferred_channel: Channel::Sms,
            sms_opt_out: false,
        }
    }

    fn context() -> MessageContext {
        MessageContext {
            council: "Adur & Worthing Councils".into(),
            track_url: "https://doorstep.example/t/abc".into(),
            rebook_url: "https://doorstep.example/t/abc/book".into(),
            photos_url: "https://doorstep.example/t/abc/photos".into(),
        }
    }

    #[test]
    fn a_new_job_an_accepted_transition_and_an_action_are_each_one_event_with_a_stable_key() {
        let service = repair();
        let now = Timestamp::from_millis(1_795_765_800_000);
        let job_id = JobId::from_u128(1);
        let mut doc = demo::job(&service, 1, "7 Tarring Road, Worthing, BN11 4SS", now)
            .create_document(ActorId::from(b"server".as_slice()))
            .unwrap();
        let created = Job::load(&doc).unwrap();
        let events = new_events(job_id, None, &created, &service);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].key, format!("job:{job_id}:created"));
        assert_eq!(events[0].channels, [Channel::Sms, Channel::Email]);

        let dispatcher = Actor {
            user: UserId::from_u128(4),
            role: Role::Dispatcher,
            device: None,
        };
        JobEditor::new(&mut doc, dispatcher.clone())
            .unwrap()
            .request_transition(
                TransitionId::from_u128(7),
                "reported".parse().unwrap(),
                "booked".parse().unwrap(),
                Evidence::default(),
                now,
            )
            .unwrap();
        OfficeEditor::new(&mut doc)
            .unwrap()
            .decide_pending(&service, now, |a| a.role)
            .unwrap();
        let booked = Job::load(&doc).unwrap();
        let events = new_events(job_id, Some(&created), &booked, &service);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event.as_str(), "book");
        assert!(
            events[0]
                .key
                .ends_with(&TransitionId::from_u128(7).to_string())
        );
        assert!(
            new_events(job_id, Some(&booked), &booked, &service).is_empty(),
            "nothing new, nothing told"
        );
    }

    #[test]
    fn a_message_is_written_for_the_resident_and_refused_where_they_cannot_be_reached() {
        let service = repair();
        let now = Timestamp::from_millis(1_795_765_800_000);
        let job = Job::load(
            &demo::job(&service, 1, "7 Tarring Road, Worthing, BN11 4SS", now)
                .create_document(ActorId::from(b"server".as_slice()))
                .unwrap(),
        )
        .unwrap();
        let created: Name = CREATED.parse().unwrap();
        let resident = contact("07700 900101", Some("margaret@example.org"));
        let sms = compose(
            &created,
            Channel::Sms,
            &job,
            &resident,
            &service,
            &context(),
        )
        .unwrap();
        assert_eq!(sms.to, "+447700900101");
        assert!(sms.body.contains("HR-00001"), "{}", sms.body);
        assert!(sms.body.contains("https://doorstep.example/t/abc"));
        let email = compose(
            &created,
            Channel::Email,
            &job,
            &resident,
            &service,
            &context(),
        )
        .unwrap();
        assert!(email.body.contains("Dear Margaret Ellis"), "{}", email.body);

        let landline = contact("01903 900103", None);
        assert_eq!(
            compose(
                &created,
                Channel::Sms,
                &job,
                &landline,
                &service,
                &context()
            ),
            Err(NotSent::Unreachable(Channel::Sms))
        );
        let mut opted_out = resident.clone();
        opted_out.sms_opt_out = true;
        assert_eq!(
            compose(
                &created,
                Channel::Sms,
                &job,
                &opted_out,
                &service,
                &context()
            ),
            Err(NotSent::Unreachable(Channel::Sms))
        );
        assert!(
            compose(
                &created,
                Channel::Email,
                &job,
                &opted_out,
                &service,
                &context()
            )
            .is_ok(),
            "a text opt-out is not an email opt-out"
        );
    }

    #[test]
    fn a_tracking_link_works_while_the_job_is_open_and_for_thirty_days_after_it_closes() {
        let service = ServiceCatalog::builtin()
            .unwrap()
            .get(&"bulky-waste".parse().unwrap())
            .unwrap()
            .clone();
        let now = Timestamp::from_millis(1_795_765_800_000);
        let mut doc = demo::job(&service, 1, "56 Downview Road, Worthing", now)
            .create_document(ActorId::from(b"server".as_slice()))
            .unwrap();
        assert!(tracking_link_works(
            &Job::load(&doc).unwrap(),
            &service,
            now
        ));
        let cancel = service
            .transitions
            .iter()
            .find(|t| {
                service.state(&t.to).is_some_and(|s| s.terminal)
                    && t.evidence.photos.is_empty()
                    && !t.evidence.note
            })
            .expect("a way to close a bulky waste job without evidence");
        let dispatcher = Actor {
            user: UserId::from_u128(4),
            role: *cancel.roles.first().unwrap(),
            device: None,
        };
        let job = Job::load(&doc).unwrap();
        JobEditor::new(&mut doc, dispatcher)
            .unwrap()
            .request_transition(
                TransitionId::from_u128(1),
                job.status(&service).clone(),
                cancel.to.clone(),
                Evidence::default(),
                now,
            )
            .unwrap();
        OfficeEditor::new(&mut doc)
            .unwrap()
            .decide_pending(&service, now, |a| a.role)
            .unwrap();
        let closed = Job::load(&doc).unwrap();
        assert!(service.state(closed.status(&service)).unwrap().terminal);
        assert!(tracking_link_works(
            &closed,
            &service,
            now.plus_minutes(29 * 24 * 60)
        ));
        assert!(!tracking_link_works(
            &closed,
            &service,
            now.plus_minutes(30 * 24 * 60)
        ));
    }
}
