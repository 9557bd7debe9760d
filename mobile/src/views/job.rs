//! **Job**: everything an operative needs at the door — address (opening
//! the phone's maps), service and slot, notes, checklist, photos, timeline —
//! and the buttons the service allows this role now, each disabled with
//! the reason when its evidence is missing.

use std::collections::BTreeMap;

use dioxus::prelude::*;
use doorstep_app_core::runtime::ContactCard;
use doorstep_shared::ids::{BlobHash, JobId, Name, PhotoId, StateId};
use doorstep_shared::job::Job;
use doorstep_shared::service::{EvidenceRule, ServiceDefinition};
use doorstep_shared::transition::{Decision, Role};
use doorstep_shared::workflow;

use super::today::slot_words;

/// One checklist line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistLine {
    /// The item.
    pub item: Name,
    /// Its words.
    pub label: String,
    /// Needed to complete the job.
    pub mandatory: bool,
    /// Ticked.
    pub done: bool,
}

/// One photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoLine {
    /// The photo.
    pub id: PhotoId,
    /// Its kind, in words ("Before").
    pub kind: String,
    /// Its thumbnail, once made.
    pub thumbnail: Option<BlobHash>,
    /// The thumbnail as a `data:` URL, when the phone holds it.
    pub image: Option<String>,
    /// Where its upload stands, in words.
    pub upload: String,
}

/// How to reach the resident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactLine {
    /// Their name.
    pub name: String,
    /// Their number, to show and as a `tel:` link.
    pub phone: Option<(String, String)>,
    /// Their email address, to show and as a `mailto:` link.
    pub email: Option<(String, String)>,
}

/// Where a photo's upload stands, as the core last reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadProgress {
    /// Bytes on the server, over its renditions.
    pub sent: u64,
    /// Bytes in all.
    pub total: u64,
}

/// What a button does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ButtonAction {
    /// Take an action ("On my way").
    Action(Name),
    /// Ask to move the job on.
    Transition(StateId),
}

/// A button the service offers this role now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    /// What it does.
    pub action: ButtonAction,
    /// Its words.
    pub label: String,
    /// Why it cannot be pressed yet ("tick work area left clean"), if it
    /// cannot: what the note-and-photo panel cannot put right.
    pub blocked: Option<String>,
    /// The step needs a note saying why.
    pub needs_note: bool,
    /// Photos the step needs that the job does not have yet: (kind, words).
    pub needs_photos: Vec<(Name, String)>,
}

impl Button {
    /// Whether pressing it opens the note-and-photo panel first.
    pub fn opens_panel(&self) -> bool {
        self.needs_note || !self.needs_photos.is_empty()
    }

    /// What it needs, as the button says before it is pressed.
    pub fn needs(&self) -> Option<&'static str> {
        match (self.needs_note, self.needs_photos.is_empty()) {
            (true, false) => Some("note and photo"),
            (true, true) => Some("note"),
            (false, false) => Some("photo"),
            (false, true) => None,
        }
    }
}

/// The note-and-photo panel of a step that needs them, while open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDraft {
    /// The step.
    pub action: ButtonAction,
    /// The note written so far.
    pub note: String,
}

/// What the operative did on the Job screen's steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobInput {
    /// Pressed a step's button.
    Press(ButtonAction),
    /// Wrote the panel's note.
    Note(String),
    /// Confirmed the step in the panel.
    Confirm,
    /// Closed the panel.
    Cancel,
}

/// Everything the Job screen shows, worked out from the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobScreen {
    /// The job.
    pub job: JobId,
    /// Its reference.
    pub reference: String,
    /// The service's name.
    pub service: String,
    /// The status in words.
    pub status: String,
    /// The address on one line.
    pub address: String,
    /// A link that opens the phone's maps at the address.
    pub maps: String,
    /// The slot, in words.
    pub slot: String,
    /// The appointment, to say its day relative to today.
    pub appointment: Option<doorstep_shared::job::Appointment>,
    /// The resident, when the phone holds their details.
    pub contact: Option<ContactLine>,
    /// The notes.
    pub notes: String,
    /// The checklist, in order.
    pub checklist: Vec<ChecklistLine>,
    /// The photos.
    pub photos: Vec<PhotoLine>,
    /// The kinds of photo the service takes: (kind, label).
    pub photo_kinds: Vec<(Name, String)>,
    /// The timeline, newest first: (when, what, note).
    pub timeline: Vec<(String, String, Option<String>)>,
    /// The buttons.
    pub buttons: Vec<Button>,
    /// Requests waiting for the office, in words.
    pub pending: Vec<String>,
    /// The latest refusal, if the latest decision was one.
    pub refused: Option<String>,
    /// The phone holds changes the server has not accepted yet.
    pub unsynced: bool,
    /// Why the job can no longer be changed on this phone, if it cannot:
    /// it was given to someone else, or the server refused a change to it.
    pub read_only: Option<String>,
    /// The note-and-photo panel, when open.
    pub draft: Option<JobDraft>,
}

impl JobScreen {
    /// The screen for `job` as `role` sees it.
    pub fn new(
        id: JobId,
        job: &Job,
        service: &ServiceDefinition,
        role: Role,
        unsynced: bool,
    ) -> Self {
        Self::with_uploads(id, job, service, role, unsynced, &|_| None)
    }

    /// The screen, with each photo's upload progress from `progress`.
    pub fn with_uploads(
        id: JobId,
        job: &Job,
        service: &ServiceDefinition,
        role: Role,
        unsynced: bool,
        progress: &dyn Fn(PhotoId) -> Option<UploadProgress>,
    ) -> Self {
        let facts = job.facts(service);
        let mut checklist: Vec<(u64, ChecklistLine)> = job
            .office
            .checklist
            .iter()
            .map(|(item, template)| {
                (
                    template.position,
                    ChecklistLine {
                        item: item.clone(),
                        label: template.label.clone(),
                        mandatory: template.mandatory,
                        done: job.ticks.get(item).is_some_and(|tick| tick.done),
                    },
                )
            })
            .collect();
        checklist.sort_by_key(|(position, _)| *position);
        let mut timeline: Vec<_> = job.timeline.values().collect();
        timeline.sort_by_key(|event| std::cmp::Reverse(event.at));
        // What a step's evidence asks for: photos the job lacks (taken in
        // the panel), a note (written there), and the facts as they will be
        // once those photos are taken, to find what the panel cannot fix.
        let missing_photos = |rule: &EvidenceRule| -> Vec<(Name, String)> {
            rule.photos
                .iter()
                .filter(|kind| !facts.photo_kinds.contains(*kind))
                .map(|kind| (kind.clone(), service.photo_label(kind).to_owned()))
                .collect()
        };
        let with_photos = |rule: &EvidenceRule| {
            let mut facts = facts.clone();
            facts.photo_kinds.extend(rule.photos.iter().cloned());
            facts
        };
        let mut buttons: Vec<Button> = workflow::available_actions(service, &facts, role)
            .into_iter()
            .map(|action| Button {
                action: ButtonAction::Action(action.id.clone()),
                label: action.label.clone(),
                blocked: workflow::check_action(
                    service,
                    &with_photos(&action.evidence),
                    role,
                    &action.id,
                    Some("a note"),
                )
                .err()
                .map(|why| capitalise(&why.to_string())),
                needs_note: action.evidence.note,
                needs_photos: missing_photos(&action.evidence),
            })
            .collect();
        let pending = job.transitions().pending();
        buttons.extend(
            workflow::offers(service, &facts, role)
                .into_iter()
                .map(|offer| {
                    let rule = &offer.transition.evidence;
                    let blocked = workflow::offers(service, &with_photos(rule), role)
                        .into_iter()
                        .find(|other| other.transition.id == offer.transition.id)
                        .and_then(|other| other.blocked);
                    Button {
                        action: ButtonAction::Transition(offer.transition.to.clone()),
                        label: offer.transition.label.clone(),
                        // One request at a time: the office decides it first.
                        blocked: if pending.is_empty() {
                            blocked.map(|why| capitalise(&why.to_string()))
                        } else {
                            Some("Waiting for the office to confirm the last step".into())
                        },
                        needs_note: rule.note,
                        needs_photos: missing_photos(rule),
                    }
                }),
        );
        let refused = job
            .office
            .verdicts
            .values()
            .max_by_key(|verdict| verdict.seq)
            .and_then(|verdict| match &verdict.decision {
                Decision::Refused { reason } => Some(reason.clone()),
                Decision::Accepted => None,
            });
        let address = job.office.address.one_line();
        Self {
            job: id,
            reference: job.office.reference.clone(),
            service: service.name.clone(),
            status: service.state_label(&facts.status).to_owned(),
            maps: maps_link(job, &address),
            address,
            slot: job.office.appointment.map_or_else(
                || "Not booked".to_owned(),
                |slot| slot_words(slot.starts, slot.ends, None),
            ),
            appointment: job.office.appointment,
            contact: None,
            notes: job.notes.as_str().to_owned(),
            checklist: checklist.into_iter().map(|(_, line)| line).collect(),
            photos: job
                .photos
                .iter()
                .map(|(id, photo)| PhotoLine {
                    id: *id,
                    kind: service.photo_label(&photo.kind).to_owned(),
                    thumbnail: photo.thumbnail,
                    image: None,
                    upload: match progress(*id) {
                        Some(UploadProgress { sent, total }) if total > 0 && sent >= total => {
                            "Sent".into()
                        }
                        Some(UploadProgress { sent, total }) if total > 0 => {
                            format!("Sending, {}%", sent * 100 / total)
                        }
                        // Not uploading from this phone (taken elsewhere, or
                        // sent before the app started): nothing to say.
                        _ => String::new(),
                    },
                })
                .collect(),
            // Staff take every kind but the one residents' reports file
            // their own photos under.
            photo_kinds: service
                .photo_kinds
                .iter()
                .filter(|kind| {
                    service
                        .report
                        .as_ref()
                        .and_then(|report| report.photo_kind.as_ref())
                        != Some(&kind.id)
                })
                .map(|kind| (kind.id.clone(), kind.label.clone()))
                .collect(),
            timeline: timeline
                .into_iter()
                .map(|event| {
                    let label = service
                        .action(&event.action)
                        .map_or_else(|| event.action.to_string(), |a| a.label.clone());
                    (
                        event.at.time_of_day().to_string(),
                        label,
                        event.note.clone(),
                    )
                })
                .collect(),
            buttons,
            pending: pending
                .iter()
                .map(|(id, request)| {
                    let to = service.state_label(&request.to);
                    if job.office.waiting.iter().any(|w| w.request == *id) {
                        format!("Waiting for the photos to upload: {to}")
                    } else {
                        format!("Waiting for the office: {to}")
                    }
                })
                .collect(),
            refused,
            unsynced,
            read_only: None,
            draft: None,
        }
    }

    /// A job this app cannot work with — its service's definition is not
    /// on the phone, or its document is newer than this app reads — shown
    /// read-only with why, never as a spinner.
    pub fn cannot_open(id: JobId, job: Option<&Job>, reason: String) -> Self {
        let address = job.map(|j| j.office.address.one_line()).unwrap_or_default();
        let appointment = job.and_then(|j| j.office.appointment);
        Self {
            job: id,
            reference: job.map(|j| j.office.reference.clone()).unwrap_or_default(),
            service: job
                .map(|j| j.office.service.to_string())
                .unwrap_or_default(),
            status: String::new(),
            maps: job.map(|j| maps_link(j, &address)).unwrap_or_default(),
            address,
            slot: appointment.map_or_else(
                || "Not booked".to_owned(),
                |slot| slot_words(slot.starts, slot.ends, None),
            ),
            appointment,
            contact: None,
            notes: job.map(|j| j.notes.as_str().to_owned()).unwrap_or_default(),
            checklist: Vec::new(),
            photos: Vec::new(),
            photo_kinds: Vec::new(),
            timeline: Vec::new(),
            buttons: Vec::new(),
            pending: Vec::new(),
            refused: None,
            unsynced: false,
            read_only: Some(reason),
            draft: None,
        }
    }

    /// The same screen as seen on `today` (the council's date): the slot's
    /// day in words unless it is today.
    pub fn on(mut self, today: doorstep_shared::time::Date) -> Self {
        if let Some(slot) = self.appointment {
            self.slot = slot_words(slot.starts, slot.ends, Some(today));
        }
        self
    }

    /// The same screen with the note-and-photo panel open on `draft`'s
    /// step, if that step is still offered.
    pub fn with_draft(mut self, draft: Option<JobDraft>) -> Self {
        self.draft = draft.filter(|draft| self.button(&draft.action).is_some());
        self
    }

    /// The button of a step, if offered now.
    pub fn button(&self, action: &ButtonAction) -> Option<&Button> {
        self.buttons.iter().find(|button| &button.action == action)
    }

    /// Why the open panel's step cannot be confirmed yet, if it cannot.
    pub fn draft_blocked(&self) -> Option<String> {
        let draft = self.draft.as_ref()?;
        let button = self.button(&draft.action)?;
        if let Some(why) = &button.blocked {
            return Some(why.clone());
        }
        if let Some((_, label)) = button.needs_photos.first() {
            return Some(format!(
                "Take {} {} photo first",
                a_or_an(label),
                label.to_lowercase()
            ));
        }
        if button.needs_note && draft.note.trim().is_empty() {
            return Some("Write a note saying why".into());
        }
        None
    }

    /// The same screen read-only, saying why: no steps, ticks, photos or
    /// notes can be added, since the server would take none of them.
    pub fn read_only(mut self, reason: Option<&str>) -> Self {
        if let Some(reason) = reason {
            self.buttons.clear();
            self.photo_kinds.clear();
            self.draft = None;
            self.read_only = Some(reason.to_owned());
        }
        self
    }
}

impl JobScreen {
    /// The same screen with what only the phone holds: the resident's
    /// contact details and the thumbnails (as `data:` URLs by hash).
    pub fn with_phone_data(
        mut self,
        contact: Option<&ContactCard>,
        images: &BTreeMap<BlobHash, String>,
    ) -> Self {
        self.contact = contact.map(|card| ContactLine {
            name: card.name.clone(),
            phone: card.phone.as_ref().map(|number| {
                let dial: String = number
                    .chars()
                    .filter(|c| c.is_ascii_digit() || *c == '+')
                    .collect();
                (national(number), format!("tel:{dial}"))
            }),
            email: card
                .email
                .as_ref()
                .map(|address| (address.clone(), format!("mailto:{address}"))),
        });
        for photo in &mut self.photos {
            photo.image = photo.thumbnail.and_then(|hash| images.get(&hash).cloned());
        }
        self
    }
}

/// A UK number as people write it (`07700 900101`); others as stored.
fn national(number: &str) -> String {
    match number.strip_prefix("+44") {
        Some(rest) if rest.len() == 10 && rest.bytes().all(|b| b.is_ascii_digit()) => {
            format!("0{} {}", &rest[..4], &rest[4..])
        }
        _ => number.to_owned(),
    }
}

/// "a" or "an" before a word, by its first letter.
fn a_or_an(word: &str) -> &'static str {
    match word.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A `geo:` link: the phone offers its maps app.
fn maps_link(job: &Job, address: &str) -> String {
    match job.office.location {
        Some(point) => format!("geo:{},{}", point.lat, point.lon),
        None => {
            let query: String = address
                .chars()
                .map(|c| if c == ' ' { '+' } else { c })
                .filter(|c| c.is_alphanumeric() || matches!(c, '+' | ',' | '-'))
                .collect();
            format!("geo:0,0?q={query}")
        }
    }
}

/// The Job screen. `on_input` gets the steps' buttons and their panel;
/// `on_tick` the item and its new state.
#[component]
pub fn JobView(
    screen: JobScreen,
    on_input: EventHandler<JobInput>,
    on_tick: EventHandler<(Name, bool)>,
    on_notes: Option<EventHandler<String>>,
    on_photo: Option<EventHandler<(Name, Vec<u8>)>>,
) -> Element {
    rsx! {
        main { class: "job",
            header {
                p { class: "reference", "{screen.reference} · {screen.service}" }
                h1 { a { href: "{screen.maps}", "{screen.address}" } }
                p { class: "slot", "{screen.slot}" }
                if let Some(contact) = &screen.contact {
                    div { class: "contact",
                        span { "{contact.name}" }
                        if let Some((number, tel)) = &contact.phone {
                            a { class: "big call", href: "{tel}", "Call {number}" }
                        }
                        if let Some((address, mailto)) = &contact.email {
                            a { class: "email", href: "{mailto}", "{address}" }
                        }
                    }
                }
                p { class: "status", "{screen.status}" }
                if screen.unsynced {
                    p { class: "unsynced", "Saved on this phone; waiting for signal to send" }
                }
            }
            for line in screen.pending.iter() {
                p { class: "pending", role: "status", "{line}" }
            }
            if let Some(reason) = &screen.refused {
                p { class: "refused", role: "alert", "The office said no: {reason}" }
            }
            if let Some(reason) = &screen.read_only {
                p { class: "read-only", role: "alert", "Read only: {reason}" }
            }
            section { class: "buttons",
                for button in screen.buttons.iter() {
                    div { key: "{button.label}",
                        button {
                            class: if screen.draft.as_ref().is_some_and(|d| d.action == button.action) { "big chosen" } else { "big" },
                            disabled: button.blocked.is_some(),
                            onclick: {
                                let action = button.action.clone();
                                move |_| on_input.call(JobInput::Press(action.clone()))
                            },
                            "{button.label}"
                            if let Some(needs) = button.needs() {
                                span { class: "needs", " ({needs})" }
                            }
                        }
                        if let Some(why) = &button.blocked {
                            p { class: "why", "{why}" }
                        }
                    }
                }
                if let Some(draft) = &screen.draft {
                    StepPanel {
                        draft: draft.clone(),
                        button: screen.button(&draft.action).cloned(),
                        blocked: screen.draft_blocked(),
                        on_input,
                        on_photo,
                    }
                }
            }
            section { class: "checklist",
                h2 { "Checklist" }
                for line in screen.checklist.iter() {
                    label { key: "{line.item}", class: "tick",
                        input {
                            r#type: "checkbox",
                            checked: line.done,
                            disabled: screen.read_only.is_some(),
                            onchange: {
                                let item = line.item.clone();
                                let done = line.done;
                                move |_| on_tick.call((item.clone(), !done))
                            },
                        }
                        "{line.label}"
                        if line.mandatory {
                            span { class: "mandatory", " (needed)" }
                        }
                    }
                }
            }
            section { class: "photos",
                h2 { "Photos" }
                if screen.photos.is_empty() {
                    p { "No photos yet." }
                }
                for photo in screen.photos.iter() {
                    figure { key: "{photo.id}",
                        if let Some(image) = &photo.image {
                            img { src: "{image}", alt: "{photo.kind} photo", width: "160" }
                        } else {
                            div { class: "no-image", "On the server" }
                        }
                        if photo.upload.is_empty() {
                            figcaption { "{photo.kind}" }
                        } else {
                            figcaption { "{photo.kind} — {photo.upload}" }
                        }
                    }
                }
                for (kind, label) in screen.photo_kinds.iter() {
                    CameraButton { key: "{kind}", kind: kind.clone(), label: label.clone(), on_photo }
                }
            }
            section { class: "notes",
                h2 { label { r#for: "notes", "Notes" } }
                // Saved when the field loses focus, so typing is never
                // interrupted by a re-render.
                textarea {
                    id: "notes",
                    rows: "5",
                    value: "{screen.notes}",
                    readonly: screen.read_only.is_some(),
                    onchange: move |event| {
                        if let Some(save) = on_notes {
                            save.call(event.value());
                        }
                    },
                }
            }
            section { class: "timeline",
                h2 { "Timeline" }
                ul {
                    for (n, (at, what, note)) in screen.timeline.iter().enumerate() {
                        li { key: "{n}",
                            "{at} {what}"
                            if let Some(note) = note {
                                " — {note}"
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A button that opens the phone's camera (a file input with `capture`)
/// for a photo of `kind`; `on_photo` gets the kind and the camera file.
#[component]
fn CameraButton(
    kind: Name,
    label: String,
    on_photo: Option<EventHandler<(Name, Vec<u8>)>>,
) -> Element {
    rsx! {
        label { class: "photo-button",
            "Take {a_or_an(&label)} {label.to_lowercase()} photo"
            input {
                r#type: "file",
                accept: "image/jpeg,image/png",
                "capture": "environment",
                onchange: move |event: FormEvent| {
                    let kind = kind.clone();
                    async move {
                        for file in event.files() {
                            if let (Ok(bytes), Some(take)) = (file.read_bytes().await, on_photo) {
                                take.call((kind.clone(), bytes.to_vec()));
                            }
                        }
                    }
                },
            }
        }
    }
}

/// The note-and-photo panel of a step that needs them: the note, a camera
/// button for each photo still missing, and the confirmation.
#[component]
fn StepPanel(
    draft: JobDraft,
    button: Option<Button>,
    blocked: Option<String>,
    on_input: EventHandler<JobInput>,
    on_photo: Option<EventHandler<(Name, Vec<u8>)>>,
) -> Element {
    let Some(button) = button else {
        return rsx! {};
    };
    rsx! {
        div { class: "evidence", role: "group", "aria-labelledby": "step-title",
            h2 { id: "step-title", "{button.label}" }
            if button.needs_note {
                label { r#for: "step-note", "Note (say why)" }
                textarea {
                    id: "step-note",
                    rows: "3",
                    value: "{draft.note}",
                    onchange: move |event| on_input.call(JobInput::Note(event.value())),
                }
            }
            for (kind, label) in button.needs_photos.iter() {
                CameraButton { key: "{kind}", kind: kind.clone(), label: label.clone(), on_photo }
            }
            button {
                class: "big",
                disabled: blocked.is_some(),
                onclick: move |_| on_input.call(JobInput::Confirm),
                "Confirm: {button.label}"
            }
            if let Some(why) = &blocked {
                p { class: "why", "{why}" }
            }
            button { class: "plain", onclick: move |_| on_input.call(JobInput::Cancel), "Cancel" }
        }
    }
}

#[cfg(test)]
mod tests {
    use automerge::AutoCommit;
    use doorstep_shared::prelude::*;

    use super::*;
    use crate::testing::Driven;

    fn repair() -> ServiceDefinition {
        ServiceCatalog::builtin()
            .unwrap()
            .get(&"housing-repair".parse().unwrap())
            .unwrap()
            .clone()
    }

    fn operative() -> Actor {
        Actor {
            user: UserId::from_u128(2),
            role: Role::Operative,
            device: Some(DeviceId::from_u128(3)),
        }
    }

    /// Job 1, booked and started (so "complete" is what comes next).
    fn started() -> AutoCommit {
        let service = repair();
        let now = Timestamp::from_millis(1_795_765_800_000);
        let mut doc = crate::testing::booked_repair(1, "7 Tarring Road, Worthing, BN11 4SS", now);
        let mut editor = JobEditor::new(&mut doc, operative()).unwrap();
        let before = demo::photo("before".parse().unwrap(), &operative(), now);
        editor.add_photo(PhotoId::from_u128(1), &before).unwrap();
        editor
            .request_transition(
                TransitionId::from_u128(2),
                "booked".parse().unwrap(),
                "in_progress".parse().unwrap(),
                Evidence::default(),
                now,
            )
            .unwrap();
        OfficeEditor::new(&mut doc)
            .unwrap()
            .decide_pending(&service, now, |a| a.role)
            .unwrap();
        doc
    }

    fn screen(doc: &AutoCommit, unsynced: bool) -> JobScreen {
        let service = repair();
        JobScreen::new(
            JobId::from_u128(1),
            &Job::load(doc).unwrap(),
            &service,
            Role::Operative,
            unsynced,
        )
    }

    fn render(screen: JobScreen) -> String {
        Driven::job(screen).html()
    }

    #[test]
    fn the_job_screen_shows_the_address_as_a_maps_link_and_the_photos() {
        let doc = started();
        let html = render(screen(&doc, false));
        assert!(html.contains("geo:"), "{html}");
        assert!(html.contains("7 Tarring Road"), "{html}");
        assert!(html.contains("Before"), "{html}");
        assert!(!html.contains("waiting for signal"), "{html}");
    }

    #[test]
    fn a_button_whose_checklist_is_unticked_is_disabled_with_the_reason() {
        let state = screen(&started(), false);
        let complete = state
            .buttons
            .iter()
            .find(|b| b.label == "Complete job")
            .unwrap();
        assert!(
            complete
                .blocked
                .as_deref()
                .is_some_and(|why| why.starts_with("Tick")),
            "{complete:?}"
        );
        let html = render(state.clone());
        assert!(
            html.contains(complete.blocked.as_deref().unwrap()),
            "{html}"
        );
        assert!(html.contains("disabled"), "{html}");
    }

    #[test]
    fn a_step_needing_a_note_or_photo_says_so_and_its_panel_asks_for_them() {
        let state = screen(&started(), false);
        let waiting = ButtonAction::Transition("awaiting_parts".parse().unwrap());
        let complete = ButtonAction::Transition("completed".parse().unwrap());
        assert_eq!(state.button(&waiting).unwrap().needs(), Some("note"));
        assert_eq!(state.button(&complete).unwrap().needs(), Some("photo"));
        let html = render(state.clone());
        assert!(
            html.contains("Waiting for parts<span class=\"needs\"> (note)"),
            "{html}"
        );

        // The note panel: confirmed only once a note is written.
        let mut draft = JobDraft {
            action: waiting.clone(),
            note: String::new(),
        };
        let open = state.clone().with_draft(Some(draft.clone()));
        assert_eq!(
            open.draft_blocked().as_deref(),
            Some("Write a note saying why")
        );
        let html = render(open);
        assert!(html.contains("Note (say why)"), "{html}");
        assert!(html.contains("Confirm: Waiting for parts"), "{html}");
        draft.note = "Needs a new valve".into();
        assert_eq!(state.clone().with_draft(Some(draft)).draft_blocked(), None);

        // With the checklist ticked, the photo panel offers the camera for
        // the missing photo.
        let mut doc = started();
        let mut editor = JobEditor::new(&mut doc, operative()).unwrap();
        for item in ["supply_isolated", "area_left_clean"] {
            editor
                .tick(&item.parse().unwrap(), true, Timestamp::from_millis(0))
                .unwrap();
        }
        let open = screen(&doc, false).with_draft(Some(JobDraft {
            action: complete,
            note: String::new(),
        }));
        assert_eq!(
            open.draft_blocked().as_deref(),
            Some("Take an after photo first")
        );
        let html = render(open);
        let panel = html.split("class=\"evidence\"").nth(1).unwrap();
        assert!(panel.contains("Take an after photo"), "{html}");
    }

    #[test]
    fn a_job_refused_by_the_server_is_read_only_and_says_why() {
        let state = screen(&started(), false)
            .read_only(Some("the checklist tick names another person or device"));
        assert!(state.buttons.is_empty() && state.photo_kinds.is_empty());
        let html = render(state);
        assert!(
            html.contains("Read only: the checklist tick names another person or device"),
            "{html}"
        );
        assert!(html.contains("readonly"), "{html}");
    }

    #[test]
    fn the_notes_are_an_editable_field_holding_the_merged_text() {
        let mut doc = started();
        JobEditor::new(&mut doc, operative())
            .unwrap()
            .update_notes("Dog in the garden")
            .unwrap();
        let html = render(screen(&doc, false));
        assert!(html.contains("<textarea"), "{html}");
        assert!(html.contains("Dog in the garden"), "{html}");
    }

    #[test]
    fn each_photo_kind_has_a_camera_button_and_each_photo_its_upload_state() {
        let doc = started();
        let service = repair();
        let job = Job::load(&doc).unwrap();
        let state = JobScreen::with_uploads(
            JobId::from_u128(1),
            &job,
            &service,
            Role::Operative,
            false,
            &|_| {
                Some(UploadProgress {
                    sent: 50,
                    total: 200,
                })
            },
        );
        let html = render(state);
        assert!(html.contains("Take a before photo"), "{html}");
        assert!(html.contains("Take an after photo"), "{html}");
        assert!(html.contains("capture=\"environment\""), "{html}");
        assert!(html.contains("Before — Sending, 25%"), "{html}");
    }

    #[test]
    fn an_unsynced_job_says_it_is_saved_and_waiting_for_signal() {
        let html = render(screen(&started(), true));
        assert!(html.contains("waiting for signal"), "{html}");
    }

    #[test]
    fn a_pending_request_is_shown_and_blocks_further_steps() {
        let service = repair();
        let mut doc = started();
        let job = Job::load(&doc).unwrap();
        let from = job.status(&service).clone();
        let to = service
            .transitions
            .iter()
            .find(|t| t.from.contains(&from))
            .unwrap()
            .to
            .clone();
        JobEditor::new(&mut doc, operative())
            .unwrap()
            .request_transition(
                TransitionId::from_u128(9),
                from,
                to,
                Evidence::default(),
                Timestamp::from_millis(1_795_765_900_000),
            )
            .unwrap();
        let state = screen(&doc, true);
        assert_eq!(state.pending.len(), 1);
        let html = render(state);
        assert!(html.contains("Waiting for the office"), "{html}");
    }

    #[test]
    fn a_refused_request_says_what_the_office_said() {
        let service = repair();
        let mut doc = started();
        // Asking to complete without the after photo: the office refuses.
        JobEditor::new(&mut doc, operative())
            .unwrap()
            .request_transition(
                TransitionId::from_u128(9),
                "in_progress".parse().unwrap(),
                "completed".parse().unwrap(),
                Evidence::default(),
                Timestamp::from_millis(1_795_765_900_000),
            )
            .unwrap();
        OfficeEditor::new(&mut doc)
            .unwrap()
            .decide_pending(&service, Timestamp::from_millis(1_795_765_900_000), |a| {
                a.role
            })
            .unwrap();
        let state = screen(&doc, false);
        let reason = state.refused.clone().expect("refused");
        assert!(state.pending.is_empty());
        let html = render(state);
        assert!(
            html.contains(&format!("The office said no: {reason}")),
            "{html}"
        );
    }

    #[test]
    fn the_resident_can_be_called_with_one_tap_and_photos_show_from_the_phone() {
        let doc = started();
        let thumbnail: BlobHash = "ab".repeat(32).parse().unwrap();
        let images = BTreeMap::from([(thumbnail, "data:image/jpeg;base64,/9j/".to_owned())]);
        let card = ContactCard {
            name: "Margaret Ellis".into(),
            phone: Some("+447700900123".into()),
            email: None,
        };
        let mut state = screen(&doc, false);
        state.photos[0].thumbnail = Some(thumbnail);
        let state = state.with_phone_data(Some(&card), &images);
        let html = render(state);
        assert!(html.contains("href=\"tel:+447700900123\""), "{html}");
        assert!(html.contains("Call 07700 900123"), "{html}");
        assert!(html.contains("Margaret Ellis"), "{html}");
        assert!(
            html.contains("src=\"data:image/jpeg;base64,/9j/\""),
            "{html}"
        );
        let without = render(screen(&doc, false));
        assert!(without.contains("On the server"), "{without}");
        assert!(!without.contains("tel:"), "{without}");
    }

    #[test]
    fn buttons_ticks_and_notes_reach_their_handlers() {
        let mut driven = Driven::job(screen(&started(), false));
        // Listeners are numbered in the order the DOM made them. The
        // disabled "Complete job" is not pressed: a browser would not fire it.
        driven.click(0);
        driven.change(0, "Side gate code 4411");
        driven.change(3, "on");
        assert_eq!(
            driven.taken(),
            [
                "transition awaiting_parts",
                "notes Side gate code 4411",
                "tick supply_isolated true"
            ]
        );
    }
}
