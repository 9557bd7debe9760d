//! [`AppCore`]: the app's state and rules over the local store. Every
//! command that changes something is one SQLite transaction — document,
//! list row and sync state together — committed before the command
//! returns, so what the screen shows as done is on disk.
//!
//! Network work is split into steps ([`AppCore::sync_step`],
//! [`AppCore::upload_step`]) over a [`Transport`], so the same core runs on a
//! native thread and, in the browser, inside a Web Worker.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ActorId, AutoCommit, Change};
use doorstep_shared::blob::RenditionKind;
use doorstep_shared::contact::Contact;
use doorstep_shared::document::DocumentError;
use doorstep_shared::ids::{
    BlobHash, DeviceId, EventId, JobId, Name, PhotoId, PropertyId, RoundId, ServiceId, StateId,
    TenantId, TransitionId, UserId,
};
use doorstep_shared::job::{GeoPoint, Job, JobEditor};
use doorstep_shared::photo::{PhotoError, PhotoLimits, process};
use doorstep_shared::round::{Round, RoundEditor};
use doorstep_shared::service::{DefinitionFile, ServiceCatalog, ServiceDefinition};
use doorstep_shared::sync::device::{DeviceSync, Effect, SyncEvent};
use doorstep_shared::sync::wire::{Content, DocumentId};
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::{Actor, Evidence, Role};
use doorstep_shared::upload::{
    LENGTH_HEADER, OFFSET_HEADER, UploadEvent, UploadQueue, UploadStatus, UploadStep,
};
use doorstep_shared::workflow::{self, InvalidTransition};
use serde::{Deserialize, Serialize};

use crate::store::{JobRow, LocalStore, StoreError, Write};
use crate::transport::{HttpRequest, Method, Transport};

const ENROLMENT: &str = "enrolment";
const SYNC: &str = "sync";
const UPLOADS: &str = "uploads";
/// Set while the phone signs out: it sends what is waiting first.
const SIGNING_OUT: &str = "signing_out";
/// The service definitions received from the server, by tenant.
const DEFINITIONS: &str = "definitions";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Days an uploaded thumbnail stays on the phone.
const THUMBNAIL_DAYS: i64 = 30;

/// Who this phone is enrolled as, and where it syncs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// The council's Doorstep server, such as `https://doorstep.adur.gov.uk`.
    pub server: String,
    /// This phone.
    pub device: DeviceId,
    /// Its user.
    pub user: UserId,
    /// The user's role.
    pub role: Role,
    /// The councils the user works for.
    pub tenants: Vec<TenantId>,
    /// Their names, in the same order (none from servers before names
    /// were sent).
    #[serde(default)]
    pub councils: Vec<String>,
    /// The person this phone is enrolled for.
    #[serde(default)]
    pub person: String,
    /// The Automerge actor id, as hex.
    pub actor: String,
    /// The bearer token.
    pub token: String,
}

/// Why a command was not carried out. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The phone's database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A document could not be edited.
    #[error("the job could not be changed")]
    Document(#[from] DocumentError),
    /// The workflow does not allow it now.
    #[error(transparent)]
    Invalid(#[from] InvalidTransition),
    /// The photo could not be used.
    #[error(transparent)]
    Photo(#[from] PhotoError),
    /// The phone is not enrolled yet.
    #[error("this phone is not enrolled: enter the code your dispatcher gave you")]
    NotEnrolled,
    /// No such job or round on this phone.
    #[error("that job is not on this phone")]
    Missing,
    /// The job's service is unknown to this version of the app.
    #[error("this job's service is not known to this version of the app: update the app")]
    UnknownService,
    /// Enrolment failed.
    #[error("{0}")]
    Enrolment(String),
    /// The document is read-only on this phone: it left the phone's work,
    /// or the server refused a change to it.
    #[error("this can no longer be changed on this phone: {0}")]
    ReadOnly(String),
}

/// What the settings screen shows about the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Who the phone is enrolled as, with which server and councils.
    pub enrolment: Option<Enrolment>,
    /// Room the phone's database takes.
    pub storage_bytes: u64,
    /// Jobs, rounds and contacts on the phone.
    pub documents: usize,
    /// The phone is signing out.
    pub signing_out: bool,
    /// Changes not sent yet.
    pub changes_waiting: usize,
    /// Photo renditions not sent yet.
    pub photos_waiting: usize,
}

/// What the screens may want to know after a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoreEvent {
    /// Documents changed (on this phone or from the server): lists and open
    /// screens showing them should re-read.
    Changed(BTreeSet<DocumentId>),
    /// Sync news for the status line.
    Sync(SyncNews),
    /// The council's service definitions changed: screens should take
    /// [`AppCore::definition_files`] again.
    ServicesChanged,
    /// Photo upload news.
    Upload(UploadNews),
}

/// Sync news, in plain data for any screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncNews {
    /// A sync finished.
    Synced {
        /// When.
        at: Timestamp,
    },
    /// A sync failed; the next try is at `retry_at`.
    Failed {
        /// Why.
        reason: String,
        /// When it tries again.
        retry_at: Timestamp,
    },
    /// The server refused changes to a document; they stay on the phone.
    Refused {
        /// The document.
        doc: DocumentId,
        /// Why.
        reason: String,
    },
    /// The server needs a newer app.
    UpdateRequired(String),
}

/// Upload news for the photo screens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UploadNews {
    /// `sent` of `total` bytes of a rendition are on the server.
    Progress {
        /// The photo.
        photo: PhotoId,
        /// The rendition.
        kind: RenditionKind,
        /// Bytes on the server.
        sent: u64,
        /// Its length.
        total: u64,
    },
    /// A rendition is on the server.
    Uploaded {
        /// The photo.
        photo: PhotoId,
        /// The rendition.
        kind: RenditionKind,
    },
    /// An upload failed; it is tried again at `retry_at`.
    Failed {
        /// Why.
        reason: String,
        /// When.
        retry_at: Timestamp,
    },
    /// The server refused a rendition for good.
    Refused {
        /// The photo.
        photo: PhotoId,
        /// Why.
        reason: String,
    },
}

/// A round as the crew's list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundRow {
    /// The round.
    pub round: RoundId,
    /// Its reference.
    pub reference: String,
    /// Its day.
    pub date: doorstep_shared::time::Date,
    /// Properties logged.
    pub done: usize,
    /// Properties on it.
    pub total: usize,
}

/// The shipped definitions with those received in their place.
fn merged(shipped: &ServiceCatalog, received: &Received) -> ServiceCatalog {
    shipped
        .clone()
        .with_received(received.values().flat_map(BTreeMap::values))
}

/// A source of fresh ids; random on phones, counted in tests.
pub type IdSource = Box<dyn FnMut() -> [u8; 16] + Send>;

fn random_id() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source (never seen on a phone): the clock and a
        // counter still keep this phone's ids apart from each other.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&nanos.to_le_bytes());
        bytes[8..].copy_from_slice(&count.to_le_bytes());
    }
    bytes
}

/// Service definition files received from the server, by tenant.
type Received = BTreeMap<TenantId, BTreeMap<ServiceId, DefinitionFile>>;

/// The app's core.
pub struct AppCore {
    store: LocalStore,
    /// The definitions this build shipped with.
    shipped: ServiceCatalog,
    /// The definitions received from the server, which replace them.
    received: Received,
    /// The shipped definitions with the received ones in their place.
    services: ServiceCatalog,
    enrolment: Option<Enrolment>,
    actor: Option<ActorId>,
    sync: DeviceSync,
    uploads: UploadQueue,
    ids: IdSource,
    limits: PhotoLimits,
}

impl AppCore {
    /// Opens the core over a store, restoring its enrolment, sync state,
    /// upload queue and the service definitions its server sent, which
    /// replace those of `shipped` (the ones this build knows offline).
    pub fn open(store: LocalStore, shipped: ServiceCatalog) -> Result<Self, CoreError> {
        let corrupt = |what| CoreError::Store(StoreError::Corrupt { what });
        let enrolment: Option<Enrolment> = store
            .state(ENROLMENT)?
            .map(|bytes| serde_json::from_slice(&bytes))
            .transpose()
            .map_err(|_| corrupt("enrolment"))?;
        let mut sync = match store.state(SYNC)? {
            Some(bytes) => DeviceSync::restore(&bytes).map_err(|_| corrupt("sync state"))?,
            None => DeviceSync::new(enrolment.iter().flat_map(|e| e.tenants.iter().copied())),
        };
        let received: Received = store
            .state(DEFINITIONS)?
            .map(|bytes| serde_json::from_slice(&bytes))
            .transpose()
            .map_err(|_| corrupt("service definitions"))?
            .unwrap_or_default();
        for (tenant, files) in &received {
            sync.hold_definitions(
                *tenant,
                files.values().map(|f| (f.service.clone(), f.version())),
            );
        }
        let services = merged(&shipped, &received);
        let uploads = match store.state(UPLOADS)? {
            Some(bytes) => UploadQueue::restore(&bytes).map_err(|_| corrupt("upload queue"))?,
            None => UploadQueue::new(),
        };
        let actor = enrolment
            .as_ref()
            .map(|e| actor_from_hex(&e.actor))
            .transpose()?;
        Ok(Self {
            store,
            shipped,
            received,
            services,
            enrolment,
            actor,
            sync,
            uploads,
            ids: Box::new(random_id),
            limits: PhotoLimits::default(),
        })
    }

    /// Draws ids from `ids` instead of randomness (tests).
    pub fn with_ids(mut self, ids: IdSource) -> Self {
        self.ids = ids;
        self
    }

    /// What the settings screen shows.
    pub fn settings(&self) -> Result<Settings, CoreError> {
        Ok(Settings {
            enrolment: self.enrolment.clone(),
            storage_bytes: self.store.size_bytes()?,
            documents: self.store.document_ids()?.len(),
            signing_out: self.store.state(SIGNING_OUT)?.is_some(),
            changes_waiting: self.waiting(),
            photos_waiting: self.uploads_waiting(),
        })
    }

    /// Starts signing this phone out: from now on it only sends what it
    /// has not sent yet (its documents read-only), then revokes its own
    /// token and forgets everything ([`AppCore::sign_out_step`]).
    pub fn request_sign_out(&mut self) -> Result<Vec<CoreEvent>, CoreError> {
        if self.enrolment.is_none() {
            return Err(CoreError::NotEnrolled);
        }
        self.store
            .write(|write| write.put_state(SIGNING_OUT, b"1"))?;
        Ok(Vec::new())
    }

    /// Whether the phone is signing out.
    pub fn signing_out(&self) -> bool {
        self.store.state(SIGNING_OUT).ok().flatten().is_some()
    }

    /// Finishes signing out once nothing is waiting: revokes this phone's
    /// own token on the server, then wipes the phone. Returns whether it
    /// did (a failed request is tried again at the next step).
    pub fn sign_out_step(&mut self, transport: &dyn Transport) -> Result<bool, CoreError> {
        if !self.signing_out() || self.waiting() > 0 || self.uploads_waiting() > 0 {
            return Ok(false);
        }
        let Some(enrolment) = self.enrolment.clone() else {
            return Ok(false);
        };
        let server = enrolment.server.trim_end_matches('/').to_owned();
        let answer = transport.send(HttpRequest {
            method: Method::Post,
            url: format!("{server}/api/device/sign-out"),
            token: Some(enrolment.token.clone()),
            headers: Vec::new(),
            body: Vec::new(),
        });
        match answer {
            // Signed out now, or its token was revoked already.
            Ok(response) if response.status == 204 || response.status == 401 => {
                self.store.write(|write| write.wipe())?;
                self.received.clear();
                self.services = self.shipped.clone();
                self.enrolment = None;
                self.actor = None;
                self.sync = DeviceSync::new([]);
                self.uploads = UploadQueue::new();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Who the phone is enrolled as.
    pub fn enrolment(&self) -> Option<&Enrolment> {
        self.enrolment.as_ref()
    }

    /// The service definitions.
    pub fn services(&self) -> &ServiceCatalog {
        &self.services
    }

    /// The definition files the screens build their catalog from
    /// ([`ServiceCatalog::with_received`]): those shipped, with those the
    /// server sent in their place, readable or not.
    pub fn definition_files(&self) -> Vec<DefinitionFile> {
        let mut files: BTreeMap<ServiceId, DefinitionFile> = self
            .shipped
            .files()
            .map(|file| (file.service.clone(), file))
            .collect();
        for file in self.received.values().flat_map(BTreeMap::values) {
            files.insert(file.service.clone(), file.clone());
        }
        files.into_values().collect()
    }

    /// The job list.
    pub fn job_rows(&self) -> Result<Vec<JobRow>, CoreError> {
        Ok(self.store.job_rows()?)
    }

    /// The rounds on the phone, by date then reference.
    pub fn rounds(&self) -> Result<Vec<RoundRow>, CoreError> {
        let mut rows = Vec::new();
        for doc in self.store.document_ids()? {
            let DocumentId::Round(id) = doc else {
                continue;
            };
            let (round, _) = self.round(id)?;
            let (done, total) = round.progress();
            rows.push(RoundRow {
                round: id,
                reference: round.office.reference.clone(),
                date: round.office.date,
                done,
                total,
            });
        }
        rows.sort_by(|a, b| (a.date, &a.reference).cmp(&(b.date, &b.reference)));
        Ok(rows)
    }

    /// A service definition this app knows.
    fn service(&self, id: &ServiceId) -> Result<&ServiceDefinition, CoreError> {
        self.services.get(id).ok_or(CoreError::UnknownService)
    }

    /// A document loaded for a local edit, signed with this phone's actor,
    /// with who edits and the heads the edit starts from.
    fn open_for_edit(
        &self,
        doc: DocumentId,
    ) -> Result<(Actor, TenantId, AutoCommit, Vec<automerge::ChangeHash>), CoreError> {
        if let Some(reason) = self.sync.read_only(doc) {
            return Err(CoreError::ReadOnly(reason.to_owned()));
        }
        if self.signing_out() {
            return Err(CoreError::ReadOnly(
                "this phone is signing out and sends only what it has not sent yet".into(),
            ));
        }
        let (me, actor) = self.me()?;
        let (tenant, mut document) = self.store.document(doc)?.ok_or(CoreError::Missing)?;
        document.set_actor(actor);
        let before = document.get_heads();
        Ok((me, tenant, document, before))
    }

    /// Why a job or round is read-only on this phone, if it is: it is no
    /// longer given to this phone, or the server refused a change to it
    /// (the reason the server gave). Its screen says so and offers no steps.
    pub fn read_only(&self, doc: DocumentId) -> Option<&str> {
        self.sync.read_only(doc)
    }

    /// A job and its service.
    pub fn job(&self, job: JobId) -> Result<(Job, &ServiceDefinition), CoreError> {
        let (_, document) = self
            .store
            .document(DocumentId::Job(job))?
            .ok_or(CoreError::Missing)?;
        let job = Job::load(&document)?;
        let service = self.service(&job.office.service)?;
        Ok((job, service))
    }

    /// A round and its service.
    pub fn round(&self, round: RoundId) -> Result<(Round, &ServiceDefinition), CoreError> {
        let (_, document) = self
            .store
            .document(DocumentId::Round(round))?
            .ok_or(CoreError::Missing)?;
        let round = Round::load(&document)?;
        let service = self.service(&round.office.service)?;
        Ok((round, service))
    }

    /// Every document on the phone.
    pub fn documents(&self) -> Result<BTreeSet<DocumentId>, CoreError> {
        Ok(self.store.document_ids()?)
    }

    /// A document's bytes, for comparing phones in tests and for support.
    pub fn document(&self, doc: DocumentId) -> Result<Option<AutoCommit>, CoreError> {
        Ok(self.store.document(doc)?.map(|(_, document)| document))
    }

    /// Changes waiting to go up.
    pub fn waiting(&self) -> usize {
        self.sync.waiting()
    }

    /// Photo renditions waiting to go up.
    pub fn uploads_waiting(&self) -> usize {
        self.uploads.pending().count()
    }

    /// When the sync core next wants to try, after failures.
    pub fn next_sync_attempt(&self) -> Timestamp {
        self.sync.next_attempt()
    }

    /// When the upload queue next wants to try, after failures.
    pub fn next_upload_attempt(&self) -> Option<Timestamp> {
        self.uploads.next_attempt()
    }

    /// A photo file kept on the phone (shown at once, before upload).
    pub fn file(&self, hash: BlobHash) -> Result<Option<Vec<u8>>, CoreError> {
        Ok(self.store.file(hash)?)
    }

    /// The thumbnails of a job's photos that this phone holds, by hash.
    pub fn thumbnails(&self, job: &Job) -> Result<Vec<(BlobHash, Vec<u8>)>, CoreError> {
        let mut found = Vec::new();
        for hash in job.photos.values().filter_map(|photo| photo.thumbnail) {
            if let Some(bytes) = self.store.file(hash)? {
                found.push((hash, bytes));
            }
        }
        Ok(found)
    }

    /// The resident's contact details for a job, if the phone holds them
    /// (the server sends them with the job while it is assigned here).
    pub fn contact(&self, job: JobId) -> Result<Option<Contact>, CoreError> {
        match self.store.document(DocumentId::Contact(job))? {
            Some((_, document)) => Ok(Some(Contact::load(&document)?)),
            None => Ok(None),
        }
    }

    fn me(&self) -> Result<(Actor, ActorId), CoreError> {
        let (Some(enrolment), Some(actor)) = (&self.enrolment, &self.actor) else {
            return Err(CoreError::NotEnrolled);
        };
        Ok((
            Actor {
                user: enrolment.user,
                role: enrolment.role,
                device: Some(enrolment.device),
            },
            actor.clone(),
        ))
    }

    /// Redeems an enrolment code with the server.
    pub fn enrol(
        &mut self,
        transport: &dyn Transport,
        server: &str,
        code: &str,
    ) -> Result<Enrolment, CoreError> {
        let server = server.trim().trim_end_matches('/').to_owned();
        let body = serde_json::json!({ "code": code }).to_string().into_bytes();
        let response = transport
            .send(HttpRequest {
                method: Method::Post,
                url: format!("{server}/api/enrol"),
                token: None,
                headers: vec![("content-type".into(), "application/json".into())],
                body,
            })
            .map_err(|error| CoreError::Enrolment(format!("could not reach {server}: {error}")))?;
        #[derive(Deserialize)]
        struct Credentials {
            device: DeviceId,
            user: UserId,
            role: Role,
            tenants: Vec<TenantId>,
            #[serde(default)]
            councils: Vec<String>,
            #[serde(default)]
            name: String,
            actor: String,
            token: String,
        }
        if response.status != 200 {
            let message = serde_json::from_slice::<serde_json::Value>(&response.body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("the server answered {}", response.status));
            return Err(CoreError::Enrolment(message));
        }
        let credentials: Credentials = serde_json::from_slice(&response.body)
            .map_err(|_| CoreError::Enrolment("the server's answer was not understood".into()))?;
        let enrolment = Enrolment {
            server,
            device: credentials.device,
            user: credentials.user,
            role: credentials.role,
            tenants: credentials.tenants,
            councils: credentials.councils,
            person: credentials.name,
            actor: credentials.actor,
            token: credentials.token,
        };
        let actor = actor_from_hex(&enrolment.actor)?;
        let sync = DeviceSync::new(enrolment.tenants.iter().copied());
        let saved = serde_json::to_vec(&enrolment).unwrap_or_default();
        self.store.write(|write| {
            write.put_state(ENROLMENT, &saved)?;
            write.put_state(SYNC, &sync.save())
        })?;
        self.enrolment = Some(enrolment.clone());
        self.actor = Some(actor);
        self.sync = sync;
        Ok(enrolment)
    }

    /// Edits a job as this phone's user, in one transaction with the sync
    /// state. `edit` may refuse (a workflow rule); then nothing is written.
    fn edit_job(
        &mut self,
        job: JobId,
        edit: impl FnOnce(&mut JobEditor<'_>, &Job, &ServiceDefinition) -> Result<(), CoreError>,
    ) -> Result<Vec<CoreEvent>, CoreError> {
        let doc = DocumentId::Job(job);
        let (me, tenant, mut document, before) = self.open_for_edit(doc)?;
        let loaded = Job::load(&document)?;
        let service = self.service(&loaded.office.service)?.clone();
        edit(&mut JobEditor::new(&mut document, me)?, &loaded, &service)?;
        self.save_local_edit(tenant, doc, document, &before, |_| Ok(()))
    }

    /// Stores a local edit: the document, the change for the next sync and
    /// `extra` writes, in one transaction.
    fn save_local_edit(
        &mut self,
        tenant: TenantId,
        doc: DocumentId,
        mut document: AutoCommit,
        before: &[automerge::ChangeHash],
        extra: impl FnOnce(&mut Write<'_>) -> Result<(), StoreError>,
    ) -> Result<Vec<CoreEvent>, CoreError> {
        document.commit();
        let changes: Vec<Vec<u8>> = document
            .get_changes(before)
            .into_iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        let mut sync = self.sync.clone();
        sync.record_local(tenant, doc, changes);
        let services = &self.services;
        let unsynced: BTreeSet<DocumentId> = sync
            .waiting_documents()
            .union(&sync.refused_documents())
            .copied()
            .collect();
        self.store.write(|write| {
            write.put_document(tenant, doc, &mut document, services)?;
            write.put_state(SYNC, &sync.save())?;
            write.mark_unsynced(&unsynced)?;
            extra(write)?;
            doorstep_shared::failpoint::hit("edit-before-commit");
            Ok(())
        })?;
        // Only now, with everything on disk, does memory move on.
        self.sync = sync;
        Ok(vec![CoreEvent::Changed(BTreeSet::from([doc]))])
    }

    /// Replaces a job's notes with `text` (merged character by character
    /// with other phones' edits).
    pub fn update_notes(&mut self, job: JobId, text: &str) -> Result<Vec<CoreEvent>, CoreError> {
        self.edit_job(job, |editor, _, _| Ok(editor.update_notes(text)?))
    }

    /// Ticks or unticks a checklist item.
    pub fn tick(
        &mut self,
        job: JobId,
        item: &Name,
        done: bool,
        now: Timestamp,
    ) -> Result<Vec<CoreEvent>, CoreError> {
        self.edit_job(job, |editor, _, _| Ok(editor.tick(item, done, now)?))
    }

    /// Takes an action the service allows this role now ("on my way").
    pub fn take_action(
        &mut self,
        job: JobId,
        action: &Name,
        note: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<CoreEvent>, CoreError> {
        let id = EventId::from_random_bytes((self.ids)());
        let role = self.me()?.0.role;
        self.edit_job(job, |editor, loaded, service| {
            workflow::check_action(
                service,
                &loaded.facts(service),
                role,
                action,
                note.as_deref(),
            )?;
            Ok(editor.log_action(id, action.clone(), note, now)?)
        })
    }

    /// Asks the server to move a job to `to`; refused at once if the
    /// workflow does not allow it from here or its evidence is missing.
    pub fn request_transition(
        &mut self,
        job: JobId,
        to: &StateId,
        note: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<CoreEvent>, CoreError> {
        let id = TransitionId::from_random_bytes((self.ids)());
        let (me, _) = self.me()?;
        self.edit_job(job, |editor, loaded, service| {
            let from = loaded.status(service).clone();
            let evidence = Evidence {
                photos: loaded.photos.keys().copied().collect(),
                note,
            };
            let request = doorstep_shared::transition::TransitionRequest {
                from: from.clone(),
                to: to.clone(),
                actor: me.clone(),
                at: now,
                evidence: evidence.clone(),
            };
            workflow::check_request(service, &loaded.facts(service), me.role, &request)?;
            Ok(editor.request_transition(id, from, to.clone(), evidence, now)?)
        })
    }

    /// Adds a photo to a job: processed on the phone, kept in its database,
    /// referenced by the job at once and queued for upload.
    pub fn add_job_photo(
        &mut self,
        job: JobId,
        kind: &Name,
        file: &[u8],
        location: Option<GeoPoint>,
        now: Timestamp,
    ) -> Result<(PhotoId, Vec<CoreEvent>), CoreError> {
        self.add_photo(DocumentId::Job(job), kind, file, location, now)
    }

    /// Adds a photo to a round (evidence for an outcome).
    pub fn add_round_photo(
        &mut self,
        round: RoundId,
        kind: &Name,
        file: &[u8],
        location: Option<GeoPoint>,
        now: Timestamp,
    ) -> Result<(PhotoId, Vec<CoreEvent>), CoreError> {
        self.add_photo(DocumentId::Round(round), kind, file, location, now)
    }

    /// Adds a photo to a job or round document: the renditions and (where
    /// kept) the original go into the phone's files and the upload queue in
    /// the same transaction as the reference.
    fn add_photo(
        &mut self,
        doc: DocumentId,
        kind: &Name,
        file: &[u8],
        location: Option<GeoPoint>,
        now: Timestamp,
    ) -> Result<(PhotoId, Vec<CoreEvent>), CoreError> {
        let (me, tenant, mut document, before) = self.open_for_edit(doc)?;
        let photo = PhotoId::from_random_bytes((self.ids)());
        let processed = process(file, &self.limits)?;
        let service_id = match doc {
            DocumentId::Job(_) => Job::load(&document)?.office.service,
            DocumentId::Round(_) => Round::load(&document)?.office.service,
            DocumentId::Contact(_) => return Err(CoreError::Missing),
        };
        let service = self.service(&service_id)?.clone();
        let reference =
            processed.reference(kind.clone(), me.clone(), now, location, &service.photos);
        match doc {
            DocumentId::Round(_) => {
                RoundEditor::new(&mut document, me)?.add_photo(photo, &reference)?
            }
            _ => JobEditor::new(&mut document, me)?.add_photo(photo, &reference)?,
        }
        let mut uploads = self.uploads.clone();
        for (kind, hash, bytes) in processed.uploads(file, &service.photos) {
            uploads.add(hash, bytes.len() as u64, photo, kind);
        }
        let saved_queue = uploads.save();
        let retention = now.plus_millis(i64::from(service.photos.device_retention_days) * DAY_MS);
        let keep_original = !service.photos.keep_originals;
        let events = self.save_local_edit(tenant, doc, document, &before, |write| {
            write.put_file(processed.thumbnail.hash, &processed.thumbnail.jpeg, None)?;
            write.put_file(processed.display.hash, &processed.display.jpeg, None)?;
            // An original that is not uploaded stays for the retention days;
            // one that is uploaded stays until it is.
            write.put_file(processed.original, file, keep_original.then_some(retention))?;
            write.put_state(UPLOADS, &saved_queue)
        })?;
        self.uploads = uploads;
        Ok((photo, events))
    }

    /// Logs what the crew found at a property on a round.
    pub fn log_outcome(
        &mut self,
        round: RoundId,
        property: PropertyId,
        outcome: &Name,
        note: Option<String>,
        photo: Option<PhotoId>,
        now: Timestamp,
    ) -> Result<Vec<CoreEvent>, CoreError> {
        let doc = DocumentId::Round(round);
        let (me, tenant, mut document, before) = self.open_for_edit(doc)?;
        let service = self
            .service(&Round::load(&document)?.office.service)?
            .clone();
        RoundEditor::new(&mut document, me)?.log_outcome(
            &service,
            property,
            outcome.clone(),
            note,
            photo,
            now,
        )??;
        self.save_local_edit(tenant, doc, document, &before, |_| Ok(()))
    }

    /// Asks to move a round on (start it, finish it), checked here with the
    /// same rules the server decides with: a round is finished only once
    /// every stop has an outcome.
    pub fn request_round_transition(
        &mut self,
        round: RoundId,
        to: &StateId,
        now: Timestamp,
    ) -> Result<Vec<CoreEvent>, CoreError> {
        let id = TransitionId::from_random_bytes((self.ids)());
        let doc = DocumentId::Round(round);
        let (me, tenant, mut document, before) = self.open_for_edit(doc)?;
        let loaded = Round::load(&document)?;
        let service = self.service(&loaded.office.service)?.clone();
        let from = loaded.status(&service).clone();
        let request = doorstep_shared::transition::TransitionRequest {
            from: from.clone(),
            to: to.clone(),
            actor: me.clone(),
            at: now,
            evidence: Evidence::default(),
        };
        workflow::check_request(&service, &loaded.facts(&service), me.role, &request)?;
        RoundEditor::new(&mut document, me)?.request_transition(
            id,
            from,
            to.clone(),
            Evidence::default(),
            now,
        )?;
        self.save_local_edit(tenant, doc, document, &before, |_| Ok(()))
    }

    /// One sync, if the sync core wants one now: send what is waiting,
    /// apply the reply, and save both in one transaction. When the server
    /// says its service definitions differ from the phone's, a second
    /// exchange fetches the ones that changed.
    pub fn sync_step(
        &mut self,
        transport: &dyn Transport,
        now: Timestamp,
    ) -> Result<Vec<CoreEvent>, CoreError> {
        let mut events = self.exchange(transport, now)?;
        if self.sync.wants_definitions() {
            events.extend(self.exchange(transport, now)?);
        }
        Ok(events)
    }

    /// One request and its reply.
    fn exchange(
        &mut self,
        transport: &dyn Transport,
        now: Timestamp,
    ) -> Result<Vec<CoreEvent>, CoreError> {
        let Some(enrolment) = self.enrolment.clone() else {
            return Err(CoreError::NotEnrolled);
        };
        let mut sync = self.sync.clone();
        let Some(request) = sync.poll(now) else {
            return Ok(Vec::new());
        };
        let effects = match transport.send(HttpRequest {
            method: Method::Post,
            url: format!("{}/sync", enrolment.server),
            token: Some(enrolment.token.clone()),
            headers: vec![("content-type".into(), "application/octet-stream".into())],
            body: request,
        }) {
            Ok(response) if response.status == 200 || response.status == 426 => {
                sync.receive(now, &response.body)
            }
            Ok(response) => {
                let reason = serde_json::from_slice::<serde_json::Value>(&response.body)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("the server answered {}", response.status));
                vec![sync.failed(now, &reason)]
            }
            Err(error) => vec![sync.failed(now, &error.to_string())],
        };
        self.apply(sync, effects)
    }

    /// Applies a sync reply's effects and saves the sync state with them.
    fn apply(
        &mut self,
        sync: DeviceSync,
        effects: Vec<Effect>,
    ) -> Result<Vec<CoreEvent>, CoreError> {
        let actor = self.actor.clone().ok_or(CoreError::NotEnrolled)?;
        let mut changed = BTreeSet::new();
        let mut news = Vec::new();
        let mut updates = Vec::new();
        let mut removals = Vec::new();
        let mut received = None::<Received>;
        for effect in effects {
            match effect {
                Effect::Definitions { tenant, changes } => {
                    let files = received
                        .get_or_insert_with(|| self.received.clone())
                        .entry(tenant)
                        .or_default();
                    for service in &changes.removed {
                        files.remove(service);
                    }
                    for file in changes.changed {
                        files.insert(file.service.clone(), file);
                    }
                }
                Effect::Apply {
                    tenant,
                    doc,
                    content,
                } => {
                    let existing = updates
                        .iter()
                        .position(|(_, d, _)| *d == doc)
                        .map(|at| updates.swap_remove(at))
                        .map(|(_, _, document)| document);
                    let existing = match existing {
                        Some(document) => Some(document),
                        None => self.store.document(doc)?.map(|(_, document)| document),
                    };
                    let document = merge_content(existing, content, &actor)?;
                    changed.insert(doc);
                    updates.push((tenant, doc, document));
                }
                Effect::Remove { doc, .. } => {
                    updates.retain(|(_, d, _)| *d != doc);
                    changed.insert(doc);
                    removals.push(doc);
                }
                Effect::Event(event) => news.push(CoreEvent::Sync(match event {
                    SyncEvent::Synced { at } => SyncNews::Synced { at },
                    SyncEvent::Failed { reason, retry_at } => SyncNews::Failed { reason, retry_at },
                    SyncEvent::Refused { doc, reason } => SyncNews::Refused { doc, reason },
                    SyncEvent::TenantRefused { reason, .. } => SyncNews::Failed {
                        reason,
                        retry_at: sync.next_attempt(),
                    },
                    SyncEvent::UpdateRequired(message) => SyncNews::UpdateRequired(message),
                })),
            }
        }
        let unsynced: BTreeSet<DocumentId> = sync
            .waiting_documents()
            .union(&sync.refused_documents())
            .copied()
            .collect();
        // Documents arriving with new definitions are listed by them; the
        // catalog is rebuilt only when definitions came.
        let rebuilt = received.as_ref().map(|r| merged(&self.shipped, r));
        let services = rebuilt.as_ref().unwrap_or(&self.services);
        self.store.write(|write| {
            if let Some(received) = &received {
                let saved = serde_json::to_vec(received).unwrap_or_default();
                write.put_state(DEFINITIONS, &saved)?;
                // Rows are made by the service: remake them all.
                write.relist(services)?;
            }
            for (tenant, doc, document) in &mut updates {
                write.put_document(*tenant, *doc, document, services)?;
            }
            for doc in &removals {
                write.remove_document(*doc)?;
            }
            write.put_state(SYNC, &sync.save())?;
            write.mark_unsynced(&unsynced)
        })?;
        self.sync = sync;
        if let (Some(received), Some(rebuilt)) = (received, rebuilt) {
            self.received = received;
            self.services = rebuilt;
            news.push(CoreEvent::ServicesChanged);
        }
        // Photos waiting for their job to reach the server may go now.
        self.uploads.synced();
        if !changed.is_empty() {
            news.insert(0, CoreEvent::Changed(changed));
        }
        Ok(news)
    }

    /// One upload request, if the queue wants one now.
    pub fn upload_step(
        &mut self,
        transport: &dyn Transport,
        now: Timestamp,
    ) -> Result<Vec<CoreEvent>, CoreError> {
        let Some(enrolment) = self.enrolment.clone() else {
            return Err(CoreError::NotEnrolled);
        };
        let mut queue = self.uploads.clone();
        let Some(step) = queue.next(now) else {
            return Ok(Vec::new());
        };
        let (hash, request) = match step {
            UploadStep::Ask { hash } => (
                hash,
                HttpRequest {
                    method: Method::Get,
                    url: format!("{}/api/uploads/{hash}", enrolment.server),
                    token: Some(enrolment.token.clone()),
                    headers: Vec::new(),
                    body: Vec::new(),
                },
            ),
            UploadStep::Send {
                hash,
                offset,
                end,
                length,
            } => {
                let Some(file) = self.store.file(hash)? else {
                    // The file is gone (cleared storage): nothing to send.
                    let events = queue.refused(hash, "the photo file is no longer on this phone");
                    return self.save_queue(queue, events, now);
                };
                let body = file
                    .get(offset as usize..end as usize)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default();
                (
                    hash,
                    HttpRequest {
                        method: Method::Patch,
                        url: format!("{}/api/uploads/{hash}", enrolment.server),
                        token: Some(enrolment.token.clone()),
                        headers: vec![
                            (OFFSET_HEADER.into(), offset.to_string()),
                            (LENGTH_HEADER.into(), length.to_string()),
                        ],
                        body,
                    },
                )
            }
        };
        let events = match transport.send(request) {
            Ok(response) if response.status == 200 || response.status == 409 => {
                match serde_json::from_slice::<UploadStatus>(&response.body) {
                    Ok(status) => queue.held(hash, status),
                    Err(_) => vec![queue.failed(now, "the server's answer was not understood")],
                }
            }
            Ok(response) if response.status == 403 => {
                queue.not_referenced_yet(hash);
                Vec::new()
            }
            Ok(response) if response.status == 413 || response.status == 422 => {
                let reason = String::from_utf8_lossy(&response.body).into_owned();
                let sound = self
                    .store
                    .file(hash)?
                    .is_some_and(|file| BlobHash::of(&file) == hash);
                if response.status == 422 && sound {
                    // Someone else's bytes were mixed in and thrown away;
                    // this phone's are sound, so it tries again.
                    vec![queue.failed(now, &reason)]
                } else {
                    queue.refused(hash, &reason)
                }
            }
            Ok(response) => {
                vec![queue.failed(now, &format!("the server answered {}", response.status))]
            }
            Err(error) => vec![queue.failed(now, &error.to_string())],
        };
        self.save_queue(queue, events, now)
    }

    fn save_queue(
        &mut self,
        queue: UploadQueue,
        events: Vec<UploadEvent>,
        now: Timestamp,
    ) -> Result<Vec<CoreEvent>, CoreError> {
        let saved = queue.save();
        let uploaded: Vec<(BlobHash, RenditionKind)> = self
            .uploads
            .pending()
            .filter(|blob| !queue.pending().any(|left| left.hash == blob.hash))
            .map(|blob| (blob.hash, blob.kind))
            .collect();
        self.store.write(|write| {
            write.put_state(UPLOADS, &saved)?;
            // Uploaded renditions may go from the phone's storage: the large
            // ones after a day, thumbnails (a few kilobytes, shown on the Job
            // screen) after a month.
            for (hash, kind) in &uploaded {
                let days = match kind {
                    RenditionKind::Thumbnail => THUMBNAIL_DAYS,
                    RenditionKind::Display | RenditionKind::Original => 1,
                };
                write.release_file(*hash, now.plus_millis(days * DAY_MS))?;
            }
            write.prune_files(now)?;
            Ok(())
        })?;
        self.uploads = queue;
        Ok(events
            .into_iter()
            .map(|event| {
                CoreEvent::Upload(match event {
                    UploadEvent::Progress {
                        photo,
                        kind,
                        sent,
                        total,
                    } => UploadNews::Progress {
                        photo,
                        kind,
                        sent,
                        total,
                    },
                    UploadEvent::Uploaded { photo, kind } => UploadNews::Uploaded { photo, kind },
                    UploadEvent::Failed { reason, retry_at } => {
                        UploadNews::Failed { reason, retry_at }
                    }
                    UploadEvent::Refused { photo, reason, .. } => {
                        UploadNews::Refused { photo, reason }
                    }
                })
            })
            .collect())
    }
}

fn actor_from_hex(hex: &str) -> Result<ActorId, CoreError> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect();
    match bytes {
        Some(bytes) if !bytes.is_empty() && hex.len().is_multiple_of(2) => Ok(ActorId::from(bytes)),
        _ => Err(CoreError::Store(StoreError::Corrupt { what: "actor id" })),
    }
}

/// Merges what the server sent into the phone's copy (or starts one).
fn merge_content(
    existing: Option<AutoCommit>,
    content: Content,
    actor: &ActorId,
) -> Result<AutoCommit, CoreError> {
    let mut document = match (existing, content) {
        (Some(mut document), Content::Snapshot(bytes)) => {
            let mut incoming = AutoCommit::load(&bytes).map_err(DocumentError::from)?;
            document.merge(&mut incoming).map_err(DocumentError::from)?;
            document
        }
        (None, Content::Snapshot(bytes)) => {
            AutoCommit::load(&bytes).map_err(DocumentError::from)?
        }
        (existing, Content::Changes(changes)) => {
            let mut document = existing.unwrap_or_default();
            let changes = changes
                .into_iter()
                .map(Change::from_bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| DocumentError::from(automerge::AutomergeError::from(error)))?;
            document
                .apply_changes(changes)
                .map_err(DocumentError::from)?;
            document
        }
    };
    document.set_actor(actor.clone());
    Ok(document)
}
