//! The app's state between screens, as a plain struct: which screen is
//! showing, and what the core has said. Components read it and send
//! commands; [`AppModel::apply`] folds each update from the core in. Tested
//! without a renderer.

use std::collections::BTreeMap;
use std::rc::Rc;

use automerge::AutoCommit;
use base64::Engine as _;
use doorstep_app_core::core::{CoreEvent, Enrolment, RoundRow, SyncNews, UploadNews};
use doorstep_app_core::runtime::{Command, ContactCard, Update};
use doorstep_app_core::store::JobRow;
use doorstep_shared::blob::RenditionKind;
use doorstep_shared::ids::{BlobHash, JobId, PhotoId, RoundId, ServiceId};
use doorstep_shared::job::Job;
use doorstep_shared::round::Round;
use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Date;
use doorstep_shared::transition::Role;

use crate::components::SyncStatus;
use crate::views::{
    ButtonAction, EnrolScreen, JobDraft, JobInput, JobScreen, RoundDraft, RoundInput, RoundScreen,
    SettingsInput, SettingsScreen, TodayFilter, TodayState, UploadProgress,
};

/// Which screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Not enrolled yet.
    Enrol,
    /// Today's jobs.
    Today,
    /// One job.
    Job(JobId),
    /// A waste round.
    Round(RoundId),
    /// The phone's settings and signing out.
    Settings,
}

/// Everything the screens show.
#[derive(Debug, Clone)]
pub struct AppModel {
    /// The screen showing.
    pub screen: Screen,
    /// The enrol form.
    pub enrol: EnrolScreen,
    /// The job list.
    pub jobs: Vec<JobRow>,
    /// The rounds on the phone.
    pub rounds: Vec<RoundRow>,
    /// The status line.
    pub sync: SyncStatus,
    /// The last refusal, shown until the next action.
    pub notice: Option<String>,
    /// Upload progress by photo and rendition: (sent, total).
    pub uploads: BTreeMap<(PhotoId, RenditionKind), (u64, u64)>,
    /// Which jobs the Today list shows.
    pub today_filter: TodayFilter,
    /// The open job's resident, if the phone holds their details.
    pub contact: Option<ContactCard>,
    /// The open job's thumbnails on the phone, as `data:` URLs by hash.
    pub images: BTreeMap<BlobHash, String>,
    /// The round's note-and-photo panel, when open.
    pub round_draft: Option<RoundDraft>,
    /// The job's note-and-photo panel for a step, when open.
    pub job_draft: Option<JobDraft>,
    /// The settings screen.
    pub settings: SettingsScreen,
    /// The service definitions, as the core last sent them.
    pub services: Rc<ServiceCatalog>,
    open: Option<(DocumentId, Vec<u8>)>,
    /// Why the open document is read-only on this phone, if it is.
    open_read_only: Option<String>,
}

impl AppModel {
    /// A model for a phone enrolled as `enrolment`, or not yet.
    pub fn new(enrolment: Option<Enrolment>) -> Self {
        Self {
            screen: if enrolment.is_some() {
                Screen::Today
            } else {
                Screen::Enrol
            },
            enrol: EnrolScreen {
                enrolled: enrolment,
                ..EnrolScreen::default()
            },
            jobs: Vec::new(),
            rounds: Vec::new(),
            sync: SyncStatus::default(),
            notice: None,
            uploads: BTreeMap::new(),
            today_filter: TodayFilter::default(),
            contact: None,
            images: BTreeMap::new(),
            round_draft: None,
            job_draft: None,
            settings: SettingsScreen::default(),
            services: Rc::new(ServiceCatalog::default()),
            open: None,
            open_read_only: None,
        }
    }

    /// Shows `screen`; returns the command that asks the core for its
    /// document.
    pub fn show(&mut self, screen: Screen) -> Option<Command> {
        self.screen = screen;
        self.notice = None;
        self.contact = None;
        self.images.clear();
        self.round_draft = None;
        self.job_draft = None;
        self.settings.confirming = false;
        match screen {
            Screen::Job(job) => Some(Command::Open(DocumentId::Job(job))),
            Screen::Round(round) => Some(Command::Open(DocumentId::Round(round))),
            Screen::Settings => Some(Command::OpenSettings),
            Screen::Enrol | Screen::Today => None,
        }
    }

    /// The Today screen, under the filter chosen.
    pub fn today(&self, services: &ServiceCatalog, today: Date) -> TodayState {
        TodayState::new(
            &self.jobs,
            self.rounds.clone(),
            self.today_filter,
            self.enrol.enrolled.is_some(),
            |summary| {
                services
                    .get(&summary.service)
                    .and_then(|service| service.state(&summary.status))
                    .is_some_and(|state| state.terminal)
            },
        )
        .on(today)
    }

    /// Folds in what was done on the settings screen; returns the command
    /// for the core, if it needs one. Signing out asks to be sure first.
    pub fn settings_input(&mut self, input: SettingsInput) -> Option<Command> {
        match input {
            SettingsInput::SignOut => {
                self.settings.confirming = true;
                None
            }
            SettingsInput::Cancel => {
                self.settings.confirming = false;
                None
            }
            SettingsInput::Confirm => {
                self.settings.confirming = false;
                Some(Command::SignOut)
            }
        }
    }

    /// Folds in what the operative did with a job's steps; returns the
    /// command for the core, if it needs one. A step that needs a note or a
    /// photo opens its panel first, and is asked for from there.
    pub fn job_input(
        &mut self,
        job: doorstep_shared::ids::JobId,
        screen: &JobScreen,
        input: JobInput,
    ) -> Option<Command> {
        self.notice = None;
        let step = |action: ButtonAction, note: Option<String>| match action {
            ButtonAction::Action(action) => Command::TakeAction { job, action, note },
            ButtonAction::Transition(to) => Command::RequestTransition { job, to, note },
        };
        match input {
            JobInput::Press(action) => {
                let button = screen.button(&action)?;
                if button.opens_panel() {
                    self.job_draft = Some(JobDraft {
                        action,
                        note: String::new(),
                    });
                    None
                } else {
                    self.job_draft = None;
                    Some(step(action, None))
                }
            }
            JobInput::Note(text) => {
                if let Some(draft) = self.job_draft.as_mut() {
                    draft.note = text;
                }
                None
            }
            JobInput::Confirm => {
                if screen.draft_blocked().is_some() {
                    return None;
                }
                let draft = self.job_draft.take()?;
                let note = Some(draft.note.trim().to_owned()).filter(|note| !note.is_empty());
                Some(step(draft.action, note))
            }
            JobInput::Cancel => {
                self.job_draft = None;
                None
            }
        }
    }

    /// Folds in what the crew did on the round screen; returns the command
    /// for the core, if it needs one.
    pub fn round_input(
        &mut self,
        round: RoundId,
        screen: &RoundScreen,
        input: RoundInput,
    ) -> Option<Command> {
        self.notice = None;
        let log = |draft: RoundDraft, outcome| Command::LogOutcome {
            round,
            property: draft.property,
            outcome,
            note: Some(draft.note.trim().to_owned()).filter(|note| !note.is_empty()),
            photo: draft.photo,
        };
        match input {
            RoundInput::Tap(property, outcome) => {
                let button = screen.outcome(&outcome)?;
                if button.needs_photo || button.needs_note {
                    self.round_draft = Some(RoundDraft::new(property, Some(outcome)));
                    None
                } else {
                    self.round_draft = None;
                    Some(log(RoundDraft::new(property, None), outcome))
                }
            }
            RoundInput::Evidence(property) => {
                self.round_draft = Some(RoundDraft::new(property, None));
                None
            }
            RoundInput::Choose(outcome) => {
                self.round_draft.as_mut()?.outcome = Some(outcome);
                None
            }
            RoundInput::Note(note) => {
                self.round_draft.as_mut()?.note = note;
                None
            }
            RoundInput::Photo(file) => {
                self.round_draft.as_mut()?.photo_saving = true;
                Some(Command::AddRoundPhoto {
                    round,
                    kind: screen.photo_kind.clone()?,
                    file,
                    location: None,
                })
            }
            RoundInput::Log => {
                let ready = screen
                    .clone()
                    .with_draft(self.round_draft.clone())
                    .draft_blocked()
                    .is_none();
                let draft = self.round_draft.take_if(|_| ready)?;
                let outcome = draft.outcome.clone()?;
                Some(log(draft, outcome))
            }
            RoundInput::Cancel => {
                self.round_draft = None;
                None
            }
            RoundInput::Step(to) => {
                let step = screen.steps.iter().find(|step| step.to == to)?;
                if step.blocked.is_some() {
                    return None;
                }
                self.round_draft = None;
                Some(Command::RequestRoundTransition { round, to })
            }
        }
    }

    /// The role the phone is enrolled as.
    pub fn role(&self) -> Role {
        self.enrol
            .enrolled
            .as_ref()
            .map_or(Role::Operative, |e| e.role)
    }

    /// Folds in one update from the core.
    pub fn apply(&mut self, update: Update) {
        self.sync.apply(&update);
        match update {
            Update::Enrolled(enrolment) => {
                self.enrol.busy = false;
                self.enrol.error = None;
                self.enrol.enrolled = Some(enrolment);
                self.screen = Screen::Today;
            }
            Update::Jobs(rows) => self.jobs = rows,
            Update::Services(files) => {
                self.services = Rc::new(ServiceCatalog::default().with_received(&files));
            }
            Update::Settings(settings) => self.settings.settings = Some(settings),
            Update::SignedOut => {
                *self = AppModel::new(None);
            }
            Update::Event(CoreEvent::Sync(news)) => {
                let line = match news {
                    SyncNews::Synced { at } => Some(format!("{}: synced", at.time_of_day())),
                    SyncNews::Failed { reason, retry_at } => Some(format!(
                        "Failed: {reason} (next try at {})",
                        retry_at.time_of_day()
                    )),
                    SyncNews::Refused { reason, .. } => {
                        Some(format!("A change was refused: {reason}"))
                    }
                    SyncNews::UpdateRequired(message) => Some(format!("Update needed: {message}")),
                };
                if let Some(line) = line {
                    self.settings.syncs.insert(0, line);
                    self.settings.syncs.truncate(5);
                }
            }
            Update::Rounds(rounds) => self.rounds = rounds,
            Update::Document {
                doc,
                bytes,
                read_only,
            } => {
                self.open = Some((doc, bytes));
                self.open_read_only = read_only;
            }
            Update::JobExtras {
                job,
                contact,
                thumbnails,
            } if self.screen == Screen::Job(job) => {
                self.contact = contact;
                for (hash, jpeg) in thumbnails {
                    self.images.entry(hash).or_insert_with(|| {
                        let encoded = base64::engine::general_purpose::STANDARD.encode(jpeg);
                        format!("data:image/jpeg;base64,{encoded}")
                    });
                }
            }
            Update::PhotoAdded(photo) => {
                if let Some(draft) = self.round_draft.as_mut().filter(|d| d.photo_saving) {
                    draft.photo = Some(photo);
                    draft.photo_saving = false;
                }
            }
            Update::Refused { reason } => {
                if let Some(draft) = self.round_draft.as_mut() {
                    draft.photo_saving = false;
                }
                if self.screen == Screen::Enrol {
                    self.enrol.busy = false;
                    self.enrol.error = Some(reason);
                } else {
                    self.notice = Some(reason);
                }
            }
            Update::Event(CoreEvent::Upload(UploadNews::Progress {
                photo,
                kind,
                sent,
                total,
            })) => {
                self.uploads.insert((photo, kind), (sent, total));
            }
            Update::JobExtras { .. } | Update::Event(_) | Update::Waiting { .. } => {}
        }
    }

    /// The open job's screen, once its document has arrived.
    pub fn job_screen(&self, services: &ServiceCatalog, today: Date) -> Option<JobScreen> {
        let Screen::Job(id) = self.screen else {
            return None;
        };
        let document = self.document(DocumentId::Job(id))?;
        let Ok(job) = Job::load(&document) else {
            return Some(JobScreen::cannot_open(id, None, NEWER_DOCUMENT.into()));
        };
        let Some(service) = services.get(&job.office.service) else {
            return Some(
                JobScreen::cannot_open(id, Some(&job), not_readable(services, &job.office.service))
                    .with_phone_data(self.contact.as_ref(), &self.images)
                    .on(today),
            );
        };
        let unsynced = self
            .jobs
            .iter()
            .any(|row| row.summary.job == id && row.unsynced);
        let progress = |photo: PhotoId| {
            let mut renditions = self
                .uploads
                .range((photo, RenditionKind::Display)..=(photo, RenditionKind::Original));
            let first = renditions.next()?;
            let (sent, total) =
                renditions.fold(*first.1, |(s, t), (_, (sent, total))| (s + sent, t + total));
            Some(UploadProgress { sent, total })
        };
        Some(
            JobScreen::with_uploads(id, &job, service, self.role(), unsynced, &progress)
                .with_phone_data(self.contact.as_ref(), &self.images)
                .with_draft(self.job_draft.clone())
                .read_only(self.open_read_only.as_deref())
                .on(today),
        )
    }

    /// The open round's screen, once its document has arrived.
    pub fn round_screen(&self, services: &ServiceCatalog) -> Option<RoundScreen> {
        let Screen::Round(id) = self.screen else {
            return None;
        };
        let document = self.document(DocumentId::Round(id))?;
        let Ok(round) = Round::load(&document) else {
            return Some(RoundScreen::cannot_open(id, None, NEWER_DOCUMENT.into()));
        };
        let Some(service) = services.get(&round.office.service) else {
            return Some(RoundScreen::cannot_open(
                id,
                Some(&round),
                not_readable(services, &round.office.service),
            ));
        };
        Some(
            RoundScreen::new(id, &round, service)
                .with_steps(&round, service, self.role())
                .with_draft(self.round_draft.clone())
                .read_only(self.open_read_only.as_deref()),
        )
    }

    fn document(&self, doc: DocumentId) -> Option<AutoCommit> {
        let (open, bytes) = self.open.as_ref()?;
        (*open == doc).then(|| AutoCommit::load(bytes).ok())?
    }
}

/// Why a document saved by a newer app cannot be worked on.
const NEWER_DOCUMENT: &str =
    "this was saved by a newer version of Doorstep: update the app to work on it";

/// Why a job or round of `service` cannot be worked on: the app does not
/// know the service, or cannot read the definition the council sent.
fn not_readable(services: &ServiceCatalog, service: &ServiceId) -> String {
    match services.unreadable(service) {
        Some(why) => format!(
            "the council's \"{service}\" service needs a newer version of this app ({why}): update the app to work on it"
        ),
        None => format!(
            "this app does not know the \"{service}\" service: update the app to work on it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use doorstep_shared::prelude::*;

    use super::*;

    /// The council's date in these tests.
    fn today() -> Date {
        Date::from_days_since_epoch(0)
    }

    /// A reported repair, as the server made it.
    fn reported_repair(number: u32) -> automerge::AutoCommit {
        let services = ServiceCatalog::builtin().unwrap();
        let repair = services.get(&"housing-repair".parse().unwrap()).unwrap();
        demo::job(
            repair,
            number,
            "3 Broadwater Street, Worthing",
            Timestamp::from_millis(0),
        )
        .create_document(automerge::ActorId::from(b"server".as_slice()))
        .unwrap()
    }

    /// A phone enrolled for `person` in `role`.
    fn enrolment(role: Role, person: &str) -> Enrolment {
        Enrolment {
            server: "https://doorstep.adur.gov.uk".into(),
            device: DeviceId::from_u128(2),
            user: UserId::from_u128(3),
            role,
            tenants: vec![TenantId::from_u128(5)],
            councils: vec!["Adur & Worthing Councils".into()],
            person: person.into(),
            actor: "0102".into(),
            token: "token".into(),
        }
    }

    /// A job of the council's own pest-control service.
    fn pest_control_job(number: u32) -> automerge::AutoCommit {
        let mut document = reported_repair(number);
        let office = match automerge::ReadDoc::get(&document, automerge::ROOT, "office").unwrap() {
            Some((_, id)) => id,
            None => panic!("no office"),
        };
        automerge::transaction::Transactable::put(
            &mut document,
            &office,
            "service",
            "pest-control",
        )
        .unwrap();
        document
    }

    #[test]
    fn a_new_phone_starts_on_enrol_and_moves_to_today_once_enrolled() {
        let mut model = AppModel::new(None);
        assert_eq!(model.screen, Screen::Enrol);
        model.enrol.busy = true;
        model.apply(Update::Refused {
            reason: "that enrolment code has expired".into(),
        });
        assert!(!model.enrol.busy);
        assert_eq!(
            model.enrol.error.as_deref(),
            Some("that enrolment code has expired")
        );
        model.apply(Update::Enrolled(enrolment(Role::Crew, "Sam Lee")));
        assert_eq!(model.screen, Screen::Today);
        assert_eq!(model.role(), Role::Crew);
    }

    #[test]
    fn the_job_screen_is_made_from_the_document_the_core_sent() {
        let services = ServiceCatalog::builtin().unwrap();
        let mut document = reported_repair(4);
        let job = JobId::from_u128(4);
        let mut model = AppModel::new(None);
        model.screen = Screen::Job(job);
        assert!(
            model.job_screen(&services, today()).is_none(),
            "nothing until it arrives"
        );
        model.apply(Update::Document {
            doc: DocumentId::Job(job),
            bytes: document.save(),
            read_only: None,
        });
        let screen = model.job_screen(&services, today()).unwrap();
        assert_eq!(screen.reference, "HR-00004");
    }

    #[test]
    fn a_job_of_a_service_the_app_does_not_know_opens_read_only_saying_why() {
        let services = ServiceCatalog::builtin().unwrap();
        // The council's own service, which this phone has no definition of.
        let mut document = pest_control_job(9);
        let job = JobId::from_u128(9);
        let mut model = AppModel::new(None);
        model.screen = Screen::Job(job);
        model.apply(Update::Document {
            doc: DocumentId::Job(job),
            bytes: document.save(),
            read_only: None,
        });
        let screen = model.job_screen(&services, today()).expect("not a spinner");
        assert_eq!(screen.address, "3 Broadwater Street, Worthing");
        assert!(screen.buttons.is_empty());
        assert!(
            screen
                .read_only
                .as_deref()
                .is_some_and(|why| why.contains("\"pest-control\" service")),
            "{screen:?}"
        );
    }

    #[test]
    fn the_screens_read_the_definitions_the_core_sends_and_name_one_they_cannot_read() {
        let mut document = pest_control_job(9);
        let job = JobId::from_u128(9);
        let mut model = AppModel::new(None);
        model.screen = Screen::Job(job);
        model.apply(Update::Document {
            doc: DocumentId::Job(job),
            bytes: document.save(),
            read_only: None,
        });
        let pest_control = |text: &str| doorstep_shared::service::DefinitionFile {
            service: "pest-control".parse().unwrap(),
            text: text.into(),
        };
        let readable = "id = \"pest-control\"\nname = \"Pest control\"\nkind = \"job\"\nreference_prefix = \"PC\"\ninitial = \"reported\"\n\n[[states]]\nid = \"reported\"\nlabel = \"Reported\"\n\n[[states]]\nid = \"treated\"\nlabel = \"Treated\"\nterminal = true\n\n[[transitions]]\nid = \"treat\"\nlabel = \"Treated\"\nfrom = [\"reported\"]\nto = \"treated\"\nroles = [\"operative\"]\n";

        // The council's file arrives from the core: the job opens with its steps.
        model.apply(Update::Services(vec![pest_control(readable)]));
        let services = Rc::clone(&model.services);
        let screen = model.job_screen(&services, today()).unwrap();
        assert_eq!(screen.service, "Pest control");
        assert_eq!(screen.read_only, None);
        assert_eq!(screen.buttons.len(), 1);

        // A later file this app cannot read: read-only, saying why.
        model.apply(Update::Services(vec![pest_control(&format!(
            "format = 2\n{readable}"
        ))]));
        let services = Rc::clone(&model.services);
        let screen = model.job_screen(&services, today()).unwrap();
        assert!(screen.buttons.is_empty());
        let why = screen.read_only.unwrap();
        assert!(why.contains("needs a newer version of this app"), "{why}");
        assert!(why.contains("format = 2"), "{why}");
    }

    #[test]
    fn a_photos_upload_progress_adds_up_its_renditions() {
        let mut model = AppModel::new(None);
        let photo = PhotoId::from_u128(7);
        for (kind, sent, total) in [
            (RenditionKind::Thumbnail, 30, 30),
            (RenditionKind::Display, 70, 170),
        ] {
            model.apply(Update::Event(CoreEvent::Upload(UploadNews::Progress {
                photo,
                kind,
                sent,
                total,
            })));
        }
        let ((_, first), (_, second)) = (
            model.uploads.first_key_value().unwrap(),
            model.uploads.last_key_value().unwrap(),
        );
        assert_eq!(first.0 + second.0, 100);
        assert_eq!(first.1 + second.1, 200);
    }

    fn waste_round() -> (RoundId, RoundScreen, Vec<u8>) {
        let services = ServiceCatalog::builtin().unwrap();
        let service = services.get(&"waste-round".parse().unwrap()).unwrap();
        let round = demo::round(
            service,
            "WR-FRI-1",
            "2026-11-27".parse().unwrap(),
            TeamId::from_u128(3),
            &[(PropertyId::from_u128(1), "1 Marine Parade, Worthing")],
            &"refuse_240l".parse().unwrap(),
        );
        let mut doc = round
            .create_document(automerge::ActorId::from(b"server".as_slice()))
            .unwrap();
        let id = RoundId::from_u128(8);
        let screen = RoundScreen::new(id, &Round::load(&doc).unwrap(), service);
        (id, screen, doc.save())
    }

    #[test]
    fn signing_out_asks_to_be_sure_and_once_done_the_phone_is_back_at_enrolment() {
        let (mut model, _, _) = booked_job_on_screen();
        assert_eq!(model.show(Screen::Settings), Some(Command::OpenSettings));
        assert_eq!(model.settings_input(SettingsInput::SignOut), None);
        assert!(model.settings.confirming);
        assert_eq!(model.settings_input(SettingsInput::Cancel), None);
        model.settings_input(SettingsInput::SignOut);
        assert_eq!(
            model.settings_input(SettingsInput::Confirm),
            Some(Command::SignOut)
        );
        model.apply(Update::SignedOut);
        assert_eq!(model.screen, Screen::Enrol);
        assert!(model.enrol.enrolled.is_none() && model.jobs.is_empty());
    }

    /// A booked repair, open on the Job screen of an operative's phone.
    fn booked_job_on_screen() -> (AppModel, JobId, JobScreen) {
        let services = ServiceCatalog::builtin().unwrap();
        let mut document = crate::testing::booked_repair(
            4,
            "3 Broadwater Street, Worthing",
            Timestamp::from_millis(0),
        );
        let job = JobId::from_u128(4);
        let mut model = AppModel::new(Some(enrolment(Role::Operative, "Priya Sharma")));
        model.show(Screen::Job(job));
        model.apply(Update::Document {
            doc: DocumentId::Job(job),
            bytes: document.save(),
            read_only: None,
        });
        let screen = model.job_screen(&services, today()).unwrap();
        (model, job, screen)
    }

    #[test]
    fn a_step_needing_nothing_is_asked_for_at_once_and_one_needing_a_note_after_it() {
        let (mut model, job, screen) = booked_job_on_screen();
        let on_my_way = ButtonAction::Action("on_my_way".parse().unwrap());
        let no_access = ButtonAction::Action("no_access".parse().unwrap());
        assert_eq!(
            model.job_input(job, &screen, JobInput::Press(on_my_way)),
            Some(Command::TakeAction {
                job,
                action: "on_my_way".parse().unwrap(),
                note: None,
            })
        );
        assert_eq!(
            model.job_input(job, &screen, JobInput::Press(no_access.clone())),
            None,
            "the panel opens"
        );
        let services = ServiceCatalog::builtin().unwrap();
        let screen = model.job_screen(&services, today()).unwrap();
        assert_eq!(screen.draft.as_ref().map(|d| &d.action), Some(&no_access));
        assert_eq!(model.job_input(job, &screen, JobInput::Confirm), None);
        model.job_input(
            job,
            &screen,
            JobInput::Note("  Nobody home, card left ".into()),
        );
        let screen = model.job_screen(&services, today()).unwrap();
        assert_eq!(
            model.job_input(job, &screen, JobInput::Confirm),
            Some(Command::TakeAction {
                job,
                action: "no_access".parse().unwrap(),
                note: Some("Nobody home, card left".into()),
            })
        );
        assert!(model.job_draft.is_none());
    }

    #[test]
    fn a_document_the_phone_may_no_longer_change_shows_why_and_offers_no_steps() {
        let (round, _, bytes) = waste_round();
        let mut model = AppModel::new(None);
        model.show(Screen::Round(round));
        model.apply(Update::Document {
            doc: DocumentId::Round(round),
            bytes,
            read_only: Some("it is no longer given to you".into()),
        });
        let screen = model
            .round_screen(&ServiceCatalog::builtin().unwrap())
            .unwrap();
        assert_eq!(
            screen.read_only.as_deref(),
            Some("it is no longer given to you")
        );
        assert!(screen.outcomes.is_empty(), "no outcome can be logged");
        assert!(screen.draft.is_none());
    }

    #[test]
    fn a_plain_outcome_is_logged_with_one_tap() {
        let (round, screen, _) = waste_round();
        let mut model = AppModel::new(None);
        let property = PropertyId::from_u128(1);
        let command = model.round_input(
            round,
            &screen,
            RoundInput::Tap(property, "collected".parse().unwrap()),
        );
        assert_eq!(
            command,
            Some(Command::LogOutcome {
                round,
                property,
                outcome: "collected".parse().unwrap(),
                note: None,
                photo: None,
            })
        );
        assert!(model.round_draft.is_none());
    }

    #[test]
    fn an_outcome_needing_a_photo_opens_the_panel_and_logs_with_the_saved_photo() {
        let (round, _, bytes) = waste_round();
        let mut model = AppModel::new(None);
        model.show(Screen::Round(round));
        model.apply(Update::Document {
            doc: DocumentId::Round(round),
            bytes,
            read_only: None,
        });
        let property = PropertyId::from_u128(1);
        let contaminated: Name = "contaminated".parse().unwrap();
        let input = |model: &mut AppModel, input| {
            let screen = model
                .round_screen(&ServiceCatalog::builtin().unwrap())
                .unwrap();
            model.round_input(round, &screen, input)
        };
        assert_eq!(
            input(&mut model, RoundInput::Tap(property, contaminated.clone())),
            None,
            "nothing logged before the photo"
        );
        assert_eq!(input(&mut model, RoundInput::Log), None, "blocked");
        let taken = input(&mut model, RoundInput::Photo(vec![0xFF, 0xD8]));
        assert!(
            matches!(&taken, Some(Command::AddRoundPhoto { kind, file, .. }) if kind.as_str() == "evidence" && file.len() == 2),
            "{taken:?}"
        );
        assert_eq!(input(&mut model, RoundInput::Log), None, "still saving");
        model.apply(Update::PhotoAdded(PhotoId::from_u128(5)));
        input(
            &mut model,
            RoundInput::Note("  Food in the recycling ".into()),
        );
        assert_eq!(
            input(&mut model, RoundInput::Log),
            Some(Command::LogOutcome {
                round,
                property,
                outcome: contaminated,
                note: Some("Food in the recycling".into()),
                photo: Some(PhotoId::from_u128(5)),
            })
        );
        assert!(model.round_draft.is_none(), "the panel closes once logged");
    }

    #[test]
    fn the_open_jobs_contact_and_thumbnails_arrive_with_it_and_go_when_it_closes() {
        let job = JobId::from_u128(4);
        let mut model = AppModel::new(None);
        assert_eq!(
            model.show(Screen::Job(job)),
            Some(Command::Open(DocumentId::Job(job)))
        );
        let hash: BlobHash = "cd".repeat(32).parse().unwrap();
        let extras = |job| Update::JobExtras {
            job,
            contact: Some(ContactCard {
                name: "Margaret Ellis".into(),
                phone: None,
                email: None,
            }),
            thumbnails: vec![(hash, vec![0xFF, 0xD8, 0xFF])],
        };
        model.apply(extras(JobId::from_u128(99)));
        assert!(model.contact.is_none(), "another job's extras are ignored");
        model.apply(extras(job));
        assert_eq!(model.images[&hash], "data:image/jpeg;base64,/9j/");
        assert_eq!(model.contact.as_ref().unwrap().name, "Margaret Ellis");
        assert_eq!(model.show(Screen::Today), None);
        assert!(model.images.is_empty() && model.contact.is_none());
    }
}
