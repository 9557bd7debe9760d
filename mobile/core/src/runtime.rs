//! The core on a thread of its own, reached by messages: [`Command`]s in,
//! [`Update`]s out. The screens never wait on the database or the network;
//! sync and uploads run between commands, with the cores' own backoff.
//! The browser build ([5/8]) runs the same loop in a Web Worker with the
//! same messages.

#[cfg(feature = "native")]
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
#[cfg(feature = "native")]
use std::thread::JoinHandle;
#[cfg(feature = "native")]
use std::time::Duration;

use doorstep_shared::contact::Contact;
use doorstep_shared::ids::{BlobHash, JobId, Name, PhotoId, PropertyId, RoundId, StateId};
use doorstep_shared::job::{GeoPoint, Job};
use doorstep_shared::service::DefinitionFile;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::core::{AppCore, CoreError, CoreEvent, Enrolment, RoundRow, Settings};
use crate::store::JobRow;
use crate::transport::Transport;

/// How often an idle phone with signal syncs, so office changes arrive.
const SYNC_EVERY_MS: i64 = 60_000;

/// What the screens ask of the core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Redeem an enrolment code with a server.
    Enrol {
        /// The server's address.
        server: String,
        /// The code.
        code: String,
    },
    /// Sync now (the retry button, or the network came back).
    SyncNow,
    /// Replace a job's notes.
    UpdateNotes {
        /// The job.
        job: JobId,
        /// The whole new text.
        text: String,
    },
    /// Tick or untick a checklist item.
    Tick {
        /// The job.
        job: JobId,
        /// The item.
        item: Name,
        /// Ticked or not.
        done: bool,
    },
    /// Take an action ("on my way").
    TakeAction {
        /// The job.
        job: JobId,
        /// The action.
        action: Name,
        /// An optional note.
        note: Option<String>,
    },
    /// Ask to move a job on.
    RequestTransition {
        /// The job.
        job: JobId,
        /// The state to move to.
        to: StateId,
        /// A note, where the transition asks for one.
        note: Option<String>,
    },
    /// Add a photo to a job.
    AddJobPhoto {
        /// The job.
        job: JobId,
        /// Its kind (`before`, `after`…).
        kind: Name,
        /// The camera file.
        file: Vec<u8>,
        /// Where it was taken.
        location: Option<GeoPoint>,
    },
    /// Add a photo to a round.
    AddRoundPhoto {
        /// The round.
        round: RoundId,
        /// Its kind.
        kind: Name,
        /// The camera file.
        file: Vec<u8>,
        /// Where it was taken.
        location: Option<GeoPoint>,
    },
    /// Ask to move a round on (start it, finish it).
    RequestRoundTransition {
        /// The round.
        round: RoundId,
        /// The state to move to.
        to: StateId,
    },
    /// Show this document: its bytes come now and after every change.
    Open(DocumentId),
    /// Show the settings: the phone's enrolment, storage and sign-out.
    OpenSettings,
    /// Sign this phone out: send what is waiting, then revoke its token
    /// and forget everything.
    SignOut,
    /// Log what the crew found at a property.
    LogOutcome {
        /// The round.
        round: RoundId,
        /// The property.
        property: PropertyId,
        /// The outcome.
        outcome: Name,
        /// An optional note.
        note: Option<String>,
        /// An evidence photo, added first with [`Command::AddRoundPhoto`].
        photo: Option<PhotoId>,
    },
}

/// What the core tells the screens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Update {
    /// The phone is enrolled.
    Enrolled(Enrolment),
    /// The service definition files the screens read jobs and rounds by:
    /// sent first, and again whenever the council's change
    /// (`ServiceCatalog::default().with_received(&files)` builds the
    /// catalog).
    Services(Vec<DefinitionFile>),
    /// The job list, after anything that may have changed it.
    Jobs(Vec<JobRow>),
    /// The rounds on the phone, with the job list.
    Rounds(Vec<RoundRow>),
    /// A photo was added (so its screen can show it at once).
    PhotoAdded(PhotoId),
    /// The open document, as saved on the phone.
    Document {
        /// The document.
        doc: DocumentId,
        /// Its bytes (`AutoCommit::load` reads them).
        bytes: Vec<u8>,
        /// Why it can no longer be changed on this phone, if it cannot.
        read_only: Option<String>,
    },
    /// What the open job's screen shows besides its document: the
    /// resident's contact details and the photo thumbnails on the phone.
    JobExtras {
        /// The job.
        job: JobId,
        /// How to reach the resident, if the phone holds their details.
        contact: Option<ContactCard>,
        /// Thumbnails by hash (JPEG bytes).
        thumbnails: Vec<(BlobHash, Vec<u8>)>,
    },
    /// News from an edit, a sync or an upload.
    Event(CoreEvent),
    /// A command was refused; nothing changed.
    Refused {
        /// Why, in plain words.
        reason: String,
    },
    /// What the settings screen shows, after it is opened and after every
    /// step while it is.
    Settings(Settings),
    /// The phone signed out and forgot everything: back to enrolment.
    SignedOut,
    /// Sync and upload status counts for the status line.
    Waiting {
        /// Changes waiting to go up.
        changes: usize,
        /// Photo renditions waiting to go up.
        photos: usize,
    },
}

/// The core and what it is doing between commands: the due network work,
/// the open document. The native [`Runtime`] drives it from a thread; the
/// browser drives it from a Web Worker's message and timer callbacks. Every
/// call passes what the screens must hear to `out`.
pub struct Driver {
    core: AppCore,
    transport: Box<dyn Transport>,
    next_sync: Timestamp,
    open: Option<DocumentId>,
}

impl Driver {
    /// Takes over a core; `out` gets the lists the screens start from.
    pub fn new(
        core: AppCore,
        transport: Box<dyn Transport>,
        now: Timestamp,
        out: &mut dyn FnMut(Update),
    ) -> Self {
        let driver = Self {
            core,
            transport,
            next_sync: now,
            open: None,
        };
        // The browser's page learns its services and who the phone is from
        // its worker.
        out(Update::Services(driver.core.definition_files()));
        if let Some(enrolment) = driver.core.enrolment() {
            out(Update::Enrolled(enrolment.clone()));
        }
        driver.send_lists(out);
        driver
    }

    /// The core, for reading.
    pub fn core(&self) -> &AppCore {
        &self.core
    }

    /// Does the network work that is due: a sync when the minute is up or
    /// an edit asked for one, then uploads until they finish or stall.
    pub fn work(&mut self, now: &dyn Fn() -> Timestamp, out: &mut dyn FnMut(Update)) {
        if self.core.enrolment().is_none() {
            return;
        }
        let at = now();
        if at >= self.next_sync.max(self.core.next_sync_attempt()) {
            let synced = self.core.sync_step(self.transport.as_ref(), at);
            self.report(synced, out);
            self.next_sync = at.plus_millis(SYNC_EVERY_MS);
        }
        let waiting = self.core.uploads_waiting();
        while self.core.uploads_waiting() > 0
            && self
                .core
                .next_upload_attempt()
                .is_none_or(|retry| now() >= retry)
        {
            let before = self.core.uploads_waiting();
            let events = self.core.upload_step(self.transport.as_ref(), now());
            let stalled = matches!(&events, Ok(events) if events.is_empty());
            self.report(events, out);
            if stalled
                || (self.core.uploads_waiting() == before
                    && self.core.next_upload_attempt().is_some())
            {
                break;
            }
        }
        // A request waiting for these photos is decided as they arrive:
        // sync at once for the verdict rather than at the next minute.
        if self.core.uploads_waiting() < waiting {
            self.next_sync = now();
        }
        if self.core.signing_out() {
            match self.core.sign_out_step(self.transport.as_ref()) {
                Ok(true) => {
                    self.open = None;
                    out(Update::Services(self.core.definition_files()));
                    out(Update::SignedOut);
                    self.send_lists(out);
                }
                Ok(false) => self.send_settings(out),
                Err(error) => out(Update::Refused {
                    reason: error.to_string(),
                }),
            }
        }
    }

    fn send_settings(&self, out: &mut dyn FnMut(Update)) {
        if let Ok(settings) = self.core.settings() {
            out(Update::Settings(settings));
        }
    }

    /// How long to wait for a command before [`Driver::work`] is due again.
    pub fn wait_millis(&self, now: Timestamp) -> u64 {
        let next = self.next_sync.max(self.core.next_sync_attempt());
        let mut wait = next.as_millis().saturating_sub(now.as_millis());
        if self.core.enrolment().is_some()
            && self.core.uploads_waiting() > 0
            && let Some(retry) = self.core.next_upload_attempt()
        {
            wait = wait.min(retry.as_millis().saturating_sub(now.as_millis()));
        }
        wait.clamp(10, SYNC_EVERY_MS) as u64
    }

    /// Carries out one command from the screens.
    pub fn handle(&mut self, command: Command, at: Timestamp, out: &mut dyn FnMut(Update)) {
        let core = &mut self.core;
        let result = match command {
            Command::Enrol { server, code } => {
                match core.enrol(self.transport.as_ref(), &server, &code) {
                    Ok(enrolment) => {
                        out(Update::Enrolled(enrolment));
                        self.next_sync = at;
                        Ok(Vec::new())
                    }
                    Err(error) => Err(error),
                }
            }
            Command::SyncNow => {
                self.next_sync = at;
                Ok(Vec::new())
            }
            Command::Open(doc) => {
                self.open = Some(doc);
                self.send_document(doc, out);
                Ok(Vec::new())
            }
            Command::OpenSettings => {
                self.open = None;
                self.send_settings(out);
                Ok(Vec::new())
            }
            Command::SignOut => {
                let asked = core.request_sign_out();
                // Whatever is waiting goes now; the sign-out follows it.
                self.next_sync = at;
                if asked.is_ok() {
                    self.send_settings(out);
                }
                asked
            }
            Command::UpdateNotes { job, text } => core.update_notes(job, &text),
            Command::Tick { job, item, done } => core.tick(job, &item, done, at),
            Command::TakeAction { job, action, note } => core.take_action(job, &action, note, at),
            Command::RequestTransition { job, to, note } => {
                core.request_transition(job, &to, note, at)
            }
            Command::RequestRoundTransition { round, to } => {
                core.request_round_transition(round, &to, at)
            }
            Command::AddJobPhoto {
                job,
                kind,
                file,
                location,
            } => core
                .add_job_photo(job, &kind, &file, location, at)
                .map(|(photo, events)| {
                    out(Update::PhotoAdded(photo));
                    events
                }),
            Command::AddRoundPhoto {
                round,
                kind,
                file,
                location,
            } => core
                .add_round_photo(round, &kind, &file, location, at)
                .map(|(photo, events)| {
                    out(Update::PhotoAdded(photo));
                    events
                }),
            Command::LogOutcome {
                round,
                property,
                outcome,
                note,
                photo,
            } => core.log_outcome(round, property, &outcome, note, photo, at),
        };
        // An edit made in signal goes up soon.
        if matches!(&result, Ok(events) if !events.is_empty()) {
            self.next_sync = self.next_sync.min(at.plus_millis(2_000));
        }
        self.report(result, out);
    }

    fn send_lists(&self, out: &mut dyn FnMut(Update)) {
        if let Ok(rows) = self.core.job_rows() {
            out(Update::Jobs(rows));
        }
        if let Ok(rounds) = self.core.rounds() {
            out(Update::Rounds(rounds));
        }
    }

    fn send_document(&self, doc: DocumentId, out: &mut dyn FnMut(Update)) {
        let Ok(Some(mut document)) = self.core.document(doc) else {
            return;
        };
        out(Update::Document {
            doc,
            bytes: document.save(),
            read_only: self.core.read_only(doc).map(str::to_owned),
        });
        if let (DocumentId::Job(job), Ok(loaded)) = (doc, Job::load(&document)) {
            out(Update::JobExtras {
                job,
                contact: self
                    .core
                    .contact(job)
                    .ok()
                    .flatten()
                    .map(|contact| ContactCard::of(&contact)),
                thumbnails: self.core.thumbnails(&loaded).unwrap_or_default(),
            });
        }
    }

    /// Passes a step's outcome on: its events, the job list if documents
    /// changed, the waiting counts; or the refusal.
    fn report(&self, result: Result<Vec<CoreEvent>, CoreError>, out: &mut dyn FnMut(Update)) {
        match result {
            Ok(events) => {
                // A sync can change which jobs wait to go up without
                // changing any document; list rows are cheap to read, so
                // any news sends them.
                let changed = !events.is_empty();
                if events.contains(&CoreEvent::ServicesChanged) {
                    out(Update::Services(self.core.definition_files()));
                }
                let open_changed = events.iter().find_map(|e| match (e, self.open) {
                    (CoreEvent::Changed(docs), Some(doc)) if docs.contains(&doc) => Some(doc),
                    _ => None,
                });
                if let Some(doc) = open_changed {
                    self.send_document(doc, out);
                }
                for event in events {
                    out(Update::Event(event));
                }
                if changed {
                    self.send_lists(out);
                }
                out(Update::Waiting {
                    changes: self.core.waiting(),
                    photos: self.core.uploads_waiting(),
                });
            }
            Err(error) => out(Update::Refused {
                reason: error.to_string(),
            }),
        }
    }
}

/// A resident's contact details as the Job screen shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactCard {
    /// Their name.
    pub name: String,
    /// A phone number to call.
    pub phone: Option<String>,
    /// An email address.
    pub email: Option<String>,
}

impl ContactCard {
    /// The card for a contact document.
    pub fn of(contact: &Contact) -> Self {
        Self {
            name: contact.name.clone(),
            phone: contact.phone.as_ref().map(|p| p.as_str().to_owned()),
            email: contact.email.as_ref().map(|e| e.as_str().to_owned()),
        }
    }
}

/// Sends commands to a core's thread; cheap to clone.
#[cfg(feature = "native")]
#[derive(Debug, Clone)]
pub struct Commander(Sender<Command>);

#[cfg(feature = "native")]
impl Commander {
    /// Sends a command; its answer comes as updates.
    pub fn send(&self, command: Command) {
        // A stopped core takes no commands; the screen shows its error.
        let _ = self.0.send(command);
    }
}

/// The core's thread. Dropping it stops the thread after the command in
/// hand.
#[cfg(feature = "native")]
pub struct Runtime {
    commands: Option<Sender<Command>>,
    updates: Receiver<Update>,
    thread: Option<JoinHandle<()>>,
}

#[cfg(feature = "native")]
impl Runtime {
    /// Starts the core on its own thread. `now` is the clock.
    pub fn start(
        core: AppCore,
        transport: Box<dyn Transport + Send>,
        now: fn() -> Timestamp,
    ) -> std::io::Result<Self> {
        let (commands, inbox) = mpsc::channel();
        let (outbox, updates) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("doorstep-core".into())
            .spawn(move || run(core, transport, now, &inbox, &outbox))?;
        Ok(Self {
            commands: Some(commands),
            updates,
            thread: Some(thread),
        })
    }

    /// Sends a command; its answer comes as updates.
    pub fn send(&self, command: Command) {
        if let Some(commands) = &self.commands {
            // A stopped core takes no commands; the screen shows its error.
            let _ = commands.send(command);
        }
    }

    /// A handle for sending commands from elsewhere.
    pub fn commander(&self) -> Option<Commander> {
        self.commands.clone().map(Commander)
    }

    /// The updates so far, without waiting.
    pub fn updates(&self) -> Vec<Update> {
        self.updates.try_iter().collect()
    }

    /// Waits up to `timeout` for the next update.
    pub fn next_update(&self, timeout: Duration) -> Option<Update> {
        self.updates.recv_timeout(timeout).ok()
    }
}

#[cfg(feature = "native")]
impl Drop for Runtime {
    fn drop(&mut self) {
        self.commands = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(feature = "native")]
fn run(
    core: AppCore,
    transport: Box<dyn Transport + Send>,
    now: fn() -> Timestamp,
    inbox: &Receiver<Command>,
    outbox: &Sender<Update>,
) {
    let mut out = |update: Update| {
        let _ = outbox.send(update);
    };
    let mut driver = Driver::new(core, transport, now(), &mut out);
    loop {
        driver.work(&now, &mut out);
        let wait = driver.wait_millis(now());
        let command = match inbox.recv_timeout(Duration::from_millis(wait)) {
            Ok(command) => command,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        driver.handle(command, now(), &mut out);
    }
}
