//! What a resident's tracking link shows, as HTML: the job's reference and
//! status, its timeline in plain words, the appointment (with a calendar
//! file and, while it can change, a link to change it), the operative's
//! first name, and the before/after photos — display renditions only,
//! never originals, never where a photo was taken. Also the booking form
//! and the calendar file. Rendering only: `residents/track.rs` loads and
//! checks, and nothing here reads a store.

use std::collections::BTreeSet;

use doorstep_shared::booking::{Half, HalfDay};
use doorstep_shared::ids::{BlobHash, JobId};
use doorstep_shared::job::{Appointment, Job};
use doorstep_shared::service::{ServiceDefinition, Transition};
use doorstep_shared::time::{Timestamp, uk};
use doorstep_shared::transition::{Decision, Role};
use doorstep_shared::workflow;

use maud::{Markup, html};

use crate::pages::layout::{error_message, error_summary, summary_list};

/// What the tracking page needs beyond the job.
pub(crate) struct TrackView<'a> {
    /// The link's token (the page's own address).
    pub token: &'a str,
    /// The assigned operative's first name, if one is assigned.
    pub operative: Option<String>,
    /// Display renditions the server holds (others are not shown yet).
    pub stored: BTreeSet<BlobHash>,
    /// Whether the resident may book or change the appointment now.
    pub can_book: bool,
    /// Whether the job has contact details the resident may correct.
    pub has_contact: bool,
}

/// The steps the service gives a resident now, other than booking (which
/// has its own page).
pub(crate) fn resident_steps<'a>(job: &Job, service: &'a ServiceDefinition) -> Vec<&'a Transition> {
    let facts = job.facts(service);
    workflow::offers(service, &facts, Role::Resident)
        .into_iter()
        .filter(|offer| offer.blocked.is_none())
        .map(|offer| offer.transition)
        .filter(|transition| service.booking.as_ref() != Some(&transition.id))
        .collect()
}

/// `Friday 27 November 2026 at 12:05pm`, UK time.
pub(crate) fn when(at: Timestamp) -> String {
    let (date, time) = uk::local(at);
    format!("{} at {}", date.in_words(), time.in_words())
}

/// `Monday 30 November 2026, 8am to midday`, UK time.
pub(crate) fn slot_words(slot: Appointment) -> String {
    let (date, starts) = uk::local(slot.starts);
    let (_, ends) = uk::local(slot.ends);
    format!(
        "{}, {} to {}",
        date.in_words(),
        starts.in_words(),
        ends.in_words()
    )
}

/// The first word of a name: residents are told who is coming, not their
/// full name.
pub(crate) fn first_name(name: &str) -> Option<String> {
    name.split_whitespace().next().map(str::to_owned)
}

/// Whether a job's appointment can be booked or changed by its resident:
/// it waits for a slot, or is booked and not yet started.
pub(crate) fn can_book(job: &Job, service: &ServiceDefinition) -> bool {
    let Some(booking) = service
        .booking
        .as_ref()
        .and_then(|id| service.transition(id))
    else {
        return false;
    };
    let status = job.status(service);
    booking.from.contains(status) || &booking.to == status
}

/// The job's history in plain words, oldest first.
fn timeline(job: &Job, service: &ServiceDefinition) -> Vec<(Timestamp, String)> {
    let mut entries = Vec::new();
    if let Some(created) = job.office.created_at {
        entries.push((created, "Request received".to_owned()));
    }
    for (id, verdict) in &job.office.verdicts {
        if verdict.decision != Decision::Accepted {
            continue;
        }
        if let Some((_, to)) = job.transitions().decided_move(id) {
            entries.push((verdict.at, service.state_label(to).to_owned()));
        }
    }
    // Only the service's own actions: the server's notes (message
    // delivery) are for staff.
    for event in job.timeline.values() {
        if let Some(action) = service.action(&event.action) {
            entries.push((event.at, action.label.clone()));
        }
    }
    entries.sort();
    entries
}

/// The tracking page's main column.
pub(crate) fn track_page(job: &Job, service: &ServiceDefinition, view: &TrackView<'_>) -> Markup {
    let status = job.status(service);
    let terminal = service.state(status).is_some_and(|state| state.terminal);
    let base = format!("/track/{}", view.token);
    let mut rows = vec![
        (
            "Status",
            html! { strong.govuk-tag.govuk-tag--green[terminal] { (service.state_label(status)) } },
        ),
        ("Address", html! { (job.office.address.one_line()) }),
    ];
    match job.office.appointment {
        Some(slot) => rows.push((
            "Appointment",
            html! {
                (slot_words(slot))
                @if !terminal {
                    br;
                    a.govuk-link href={ (base) "/appointment.ics" } { "Add it to your calendar" }
                }
                @if view.can_book {
                    br;
                    a.govuk-link href={ (base) "/book" } { "Change the appointment" }
                }
            },
        )),
        None if view.can_book => rows.push((
            "Appointment",
            html! { "Not booked yet. " a.govuk-link href={ (base) "/book" } { "Choose an appointment" } },
        )),
        None => {}
    }
    if let Some(name) = &view.operative
        && !terminal
    {
        rows.push(("Your operative", html! { (name) }));
    }
    let mut photos: Vec<_> = job
        .photos
        .values()
        .filter_map(|photo| {
            let hash = photo.display?;
            view.stored.contains(&hash).then_some((photo, hash))
        })
        .collect();
    photos.sort_by_key(|(photo, _)| photo.taken_at);
    let steps = resident_steps(job, service);
    html! {
        span.govuk-caption-l { (service.name) }
        h1.govuk-heading-l { (job.office.reference) }
        (summary_list(&rows))
        @if !steps.is_empty() || view.has_contact {
            h2.govuk-heading-m { "What you can do" }
            ul.govuk-list {
                @for step in &steps {
                    li { a.govuk-link href={ (base) "/steps/" (step.id) } { (step.label) } }
                }
                @if view.has_contact {
                    li { a.govuk-link href={ (base) "/contact" } { "Change your contact details or stop updates" } }
                }
            }
        }
        h2.govuk-heading-m { "What has happened" }
        ol.timeline {
            @for (at, what) in timeline(job, service) {
                li {
                    span.timeline__what { (what) }
                    span.timeline__when { (when(at)) }
                }
            }
        }
        h2.govuk-heading-m #photos { "Photos" }
        @if photos.is_empty() {
            p.govuk-body { "There are no photos yet. Our operative takes them before and after the work." }
        } @else {
            div.photos {
                @for (photo, hash) in photos {
                    @let label = service.photo_label(&photo.kind);
                    @let taken = when(photo.taken_at);
                    figure {
                        img src={ (base) "/photos/" (hash) } alt={ (label) " photo, taken " (taken) }
                            width="800" height="600" loading="lazy";
                        figcaption { (label) ", " (taken) }
                    }
                }
            }
        }
    }
}

/// `Morning, 8am to midday`.
fn half_words(slot: HalfDay) -> String {
    let appointment = slot.appointment();
    let (_, starts) = uk::local(appointment.starts);
    let (_, ends) = uk::local(appointment.ends);
    let half = match slot.half {
        Half::Morning => "Morning",
        Half::Afternoon => "Afternoon",
    };
    format!("{half}, {} to {}", starts.in_words(), ends.in_words())
}

/// A page choosing a half-day: where it posts, and the words around it.
pub(crate) struct SlotChoice<'a> {
    /// The job's reference, above the heading.
    pub reference: &'a str,
    /// The question, as the page's heading.
    pub heading: &'a str,
    /// The appointment it has now, in a sentence.
    pub now: Option<String>,
    /// Where the form posts.
    pub action: &'a str,
    /// Hidden fields the form carries (the back office's form token).
    pub hidden: Markup,
    /// The hint under the question.
    pub hint: &'a str,
    /// The button's words.
    pub button: &'a str,
    /// The link back: where, and its words.
    pub back: (&'a str, &'a str),
    /// The half-days on offer.
    pub slots: &'a [HalfDay],
    /// The half-day chosen before, if the form is shown again.
    pub chosen: Option<&'a str>,
    /// Why the last answer was refused.
    pub error: Option<&'a str>,
}

/// The half-days on offer as radios grouped by day, JavaScript-off.
pub(crate) fn slot_choice(choice: &SlotChoice<'_>) -> Markup {
    let SlotChoice {
        slots,
        chosen,
        error,
        heading,
        ..
    } = *choice;
    let errors: Vec<(&str, String)> = error
        .map(|message| vec![("slot-first", message.to_owned())])
        .unwrap_or_default();
    let described_by = if error.is_some() {
        "slot-hint slot-error"
    } else {
        "slot-hint"
    };
    html! {
        (error_summary(&errors))
        span.govuk-caption-l { (choice.reference) }
        @if let Some(slot) = &choice.now {
            div.govuk-inset-text { (slot) }
        }
        @if slots.is_empty() {
            h1.govuk-heading-l { (heading) }
            p.govuk-body { "There are no free appointments in the next three weeks. Please call us and we will find a time." }
        } @else {
            form method="post" action=(choice.action) novalidate {
                (choice.hidden)
                div.govuk-form-group.govuk-form-group--error[error.is_some()] {
                    fieldset.govuk-fieldset aria-describedby=(described_by) {
                        legend.govuk-fieldset__legend.govuk-fieldset__legend--l { h1.govuk-fieldset__heading { (heading) } }
                        div.govuk-hint #slot-hint { (choice.hint) }
                        @if let Some(message) = error {
                            (error_message("slot", message))
                        }
                        div.govuk-radios {
                        @for (index, slot) in slots.iter().enumerate() {
                            @if index == 0 || slots[index - 1].date != slot.date {
                                p.govuk-body.doorstep-radios-day { strong { (slot.date.in_words()) } }
                            }
                            @let value = slot.to_string();
                            @let id = if index == 0 { "slot-first".to_owned() } else { format!("slot-{value}") };
                            div.govuk-radios__item {
                                input.govuk-radios__input type="radio" id=(id) name="slot" value=(value)
                                    checked[chosen == Some(value.as_str())];
                                label.govuk-label.govuk-radios__label for=(id) {
                                    (slot.date.in_words()) " " (half_words(*slot).to_lowercase())
                                }
                            }
                        }
                        }
                    }
                }
                button.govuk-button type="submit" { (choice.button) }
            }
        }
        p.govuk-body { a.govuk-link href=(choice.back.0) { (choice.back.1) } }
    }
}

/// The resident's page choosing or changing their appointment.
pub(crate) fn book_page(
    job: &Job,
    token: &str,
    slots: &[HalfDay],
    chosen: Option<&str>,
    error: Option<&str>,
) -> Markup {
    let heading = if job.office.appointment.is_some() {
        "Change your appointment"
    } else {
        "Choose an appointment"
    };
    slot_choice(&SlotChoice {
        reference: &job.office.reference,
        heading,
        now: job
            .office
            .appointment
            .map(|slot| format!("Your appointment now: {}", slot_words(slot))),
        action: &format!("/track/{token}/book"),
        hidden: html! {},
        hint: "Our operative arrives during the half-day you choose.",
        button: "Book this appointment",
        back: (&format!("/track/{token}"), "Back to your request"),
        slots,
        chosen,
        error,
    })
}

/// The confirmation after booking.
pub(crate) fn booked_page(job: &Job, token: &str) -> Markup {
    let when = job.office.appointment.map(slot_words).unwrap_or_default();
    html! {
        div.govuk-panel.govuk-panel--confirmation {
            h1.govuk-panel__title { "Appointment booked" }
            div.govuk-panel__body { (when) br; strong { (job.office.reference) } }
        }
        p.govuk-body { "We have sent you a confirmation, and we will remind you the evening before." }
        p.govuk-body { a.govuk-link href={ "/track/" (token) "/appointment.ics" } { "Add it to your calendar" } }
        p.govuk-body { a.govuk-link href={ "/track/" (token) } { "Back to your request" } }
    }
}

/// Text escaped for an iCalendar value (RFC 5545 3.3.11).
fn ics_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            other => out.push(other),
        }
    }
    out
}

/// A content line folded at 75 octets (RFC 5545 3.1), never inside a
/// character.
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

/// `20261130T080000Z`.
fn ics_time(at: Timestamp) -> String {
    let (date, minutes) = (at.date(), at.time_of_day().minutes());
    let seconds = at.as_millis().rem_euclid(60_000) / 1000;
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        date.year(),
        date.month(),
        date.day(),
        minutes / 60,
        minutes % 60,
        seconds
    )
}

/// The appointment as an iCalendar file, or `None` without one.
pub(crate) fn appointment_ics(
    job_id: JobId,
    job: &Job,
    service: &ServiceDefinition,
    council: &str,
    now: Timestamp,
) -> Option<String> {
    let slot = job.office.appointment?;
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Doorstep//Residents' appointments//EN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{job_id}-{}@doorstep", slot.starts.as_millis()),
        format!("DTSTAMP:{}", ics_time(now)),
        format!("DTSTART:{}", ics_time(slot.starts)),
        format!("DTEND:{}", ics_time(slot.ends)),
        format!(
            "SUMMARY:{}",
            ics_text(&format!("{} {}", service.name, job.office.reference))
        ),
        format!("LOCATION:{}", ics_text(&job.office.address.one_line())),
        format!(
            "DESCRIPTION:{}",
            ics_text(&format!(
                "{council} will call during this time for {}.",
                job.office.reference
            ))
        ),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    Some(lines.iter().map(|line| fold(line)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_lines_are_folded_at_75_octets_and_text_escaped() {
        let long = format!("DESCRIPTION:{}", "é".repeat(60));
        let folded = fold(&long);
        for line in folded.split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
        assert_eq!(folded.replace("\r\n ", ""), format!("{long}\r\n"));
        assert_eq!(
            ics_text("Flat 4, 18; a\\b\nc"),
            "Flat 4\\, 18\\; a\\\\b\\nc"
        );
    }

    #[test]
    fn residents_see_first_names_only() {
        assert_eq!(first_name("Priya Sharma").as_deref(), Some("Priya"));
        assert_eq!(first_name("  "), None);
    }
}
