//! The app's state between screens, as a plain struct: which screen is
//! showing, and what the core has said. Components read it and send
//! commands; [`AppModel::apply`] folds each update from the core in. Tested
//! without a renderer.

use automerge::AutoCommit;
use doorstep_app_core::core::{CoreEvent, Enrolment, RoundRow, UploadNews};
use doorstep_app_core::runtime::Update;
use doorstep_app_core::store::JobRow;
use doorstep_shared::blob::RenditionKind;
use doorstep_shared::ids::PhotoId;
use doorstep_shared::ids::{JobId, RoundId};
use doorstep_shared::job::Job;
use doorstep_shared::round::Round;
use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::transition::Role;

use crate::components::SyncStatus;
use crate::views::{EnrolScreen, JobScreen, RoundScreen, UploadProgress};

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
    pub uploads: std::collections::BTreeMap<(PhotoId, RenditionKind), (u64, u64)>,
    open: Option<(DocumentId, Vec<u8>)>,
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
            uploads: std::collections::BTreeMap::new(),
            open: None,
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
            Update::Rounds(rounds) => self.rounds = rounds,
            Update::Document { doc, bytes } => self.open = Some((doc, bytes)),
            Update::Refused { reason } => {
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
            Update::PhotoAdded(_) | Update::Event(_) | Update::Waiting { .. } => {}
        }
    }

    /// The open job's screen, once its document has arrived.
    pub fn job_screen(&self, services: &ServiceCatalog) -> Option<JobScreen> {
        let Screen::Job(id) = self.screen else {
            return None;
        };
        let document = self.document(DocumentId::Job(id))?;
        let job = Job::load(&document).ok()?;
        let service = services.get(&job.office.service)?;
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
        Some(JobScreen::with_uploads(
            id,
            &job,
            service,
            self.role(),
            unsynced,
            &progress,
        ))
    }

    /// The open round's screen, once its document has arrived.
    pub fn round_screen(&self, services: &ServiceCatalog) -> Option<RoundScreen> {
        let Screen::Round(id) = self.screen else {
            return None;
        };
        let document = self.document(DocumentId::Round(id))?;
        let round = Round::load(&document).ok()?;
        let service = services.get(&round.office.service)?;
        Some(RoundScreen::new(id, &round, service))
    }

    fn document(&self, doc: DocumentId) -> Option<AutoCommit> {
        let (open, bytes) = self.open.as_ref()?;
        (*open == doc).then(|| AutoCommit::load(bytes).ok())?
    }
}

#[cfg(test)]
mod tests {
    use doorstep_shared::prelude::*;

    use super::*;

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
        model.apply(Update::Enrolled(Enrolment {
            server: "https://doorstep.adur.gov.uk".into(),
            device: DeviceId::from_u128(1),
            user: UserId::from_u128(2),
            role: Role::Crew,
            tenants: vec![TenantId::from_u128(3)],
            actor: "0102".into(),
            token: "t".into(),
        }));
        assert_eq!(model.screen, Screen::Today);
        assert_eq!(model.role(), Role::Crew);
    }

    #[test]
    fn the_job_screen_is_made_from_the_document_the_core_sent() {
        let services = ServiceCatalog::builtin().unwrap();
        let repair = services.get(&"housing-repair".parse().unwrap()).unwrap();
        let mut document = demo::job(
            repair,
            4,
            "3 Broadwater Street, Worthing",
            Timestamp::from_millis(0),
        )
        .create_document(automerge::ActorId::from(b"server".as_slice()))
        .unwrap();
        let job = JobId::from_u128(4);
        let mut model = AppModel::new(None);
        model.screen = Screen::Job(job);
        assert!(
            model.job_screen(&services).is_none(),
            "nothing until it arrives"
        );
        model.apply(Update::Document {
            doc: DocumentId::Job(job),
            bytes: document.save(),
        });
        let screen = model.job_screen(&services).unwrap();
        assert_eq!(screen.reference, "HR-00004");
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
}
