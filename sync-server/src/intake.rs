//! New work arriving: a job made by the office (and, in [7/8], reported by
//! a resident). The job gets the next reference number of its service's
//! prefix, its SLA due date from its priority, and the resident's contact
//! document beside it; the job, the contact and the resident's "we have
//! your request" message in the outbox are stored in one transaction, as
//! this server node.

use automerge::{ActorId, AutoCommit};
use doorstep_shared::contact::{
    CONTACT_SCHEMA_VERSION, Channel, Contact, EmailAddress, PhoneNumber,
};
use doorstep_shared::document::DocumentError;
use doorstep_shared::ids::{JobId, Name, PhotoId, ServiceId, TenantId};
use doorstep_shared::job::{Assignee, JobEditor, OfficeEditor, PhotoRef};
use doorstep_shared::notify::events_in;
use doorstep_shared::prelude::demo as build;
use doorstep_shared::service::{ServiceCatalog, ServiceDefinition, ServiceKind};
use doorstep_shared::sync::server::scope_record;
use doorstep_shared::sync::store::{Author, SyncStore};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::Actor;

use crate::store::{Store, StoreError, run_sync};

/// A job to make.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Its service (a job service, not a round).
    pub service: ServiceId,
    /// Its SLA priority, one the service lists.
    pub priority: Option<Name>,
    /// The address, on one line (`7 Tarring Road, Worthing, BN11 4SS`).
    pub address: String,
    /// What is wrong, in the reporter's words: the job's first notes.
    pub description: String,
    /// Who works it.
    pub assignee: Option<Assignee>,
    /// How to reach the resident, if they are to be told.
    pub contact: Option<NewContact>,
    /// Photos sent with the report, their renditions already stored.
    pub photos: Vec<(PhotoId, PhotoRef)>,
}

/// How to reach the resident about a new job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    /// Their name.
    pub name: String,
    /// A phone number.
    pub phone: Option<PhoneNumber>,
    /// An email address.
    pub email: Option<EmailAddress>,
    /// The channel they asked for.
    pub preferred: Channel,
}

/// A job was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Its id.
    pub job: JobId,
    /// The reference residents quote (`HR-00042`).
    pub reference: String,
}

/// A job could not be made.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// No service with that id.
    #[error("there is no service {0:?}")]
    UnknownService(ServiceId),
    /// The service's documents are rounds.
    #[error("{0} is a round service: rounds are made from a list of properties, not as jobs")]
    NotAJobService(ServiceId),
    /// A priority the service has no SLA target for.
    #[error("{service} has no priority {priority:?}; it has {known}")]
    UnknownPriority {
        /// The service.
        service: ServiceId,
        /// The priority asked for.
        priority: Name,
        /// The priorities it has.
        known: String,
    },
    /// No address was given.
    #[error("the address is empty")]
    NoAddress,
    /// Storage failed.
    #[error("could not store the new job")]
    Store(#[from] StoreError),
    /// The document could not be built.
    #[error("could not build the new job's document")]
    Document(#[from] DocumentError),
}

impl NewJob {
    /// The job's service, if the request makes sense for it.
    pub fn check<'s>(
        &self,
        services: &'s ServiceCatalog,
    ) -> Result<&'s ServiceDefinition, IntakeError> {
        let service = services
            .get(&self.service)
            .ok_or_else(|| IntakeError::UnknownService(self.service.clone()))?;
        if service.kind != ServiceKind::Job {
            return Err(IntakeError::NotAJobService(self.service.clone()));
        }
        if let Some(priority) = &self.priority
            && service.sla_target(priority).is_none()
        {
            let known: Vec<&str> = service.sla.iter().map(|t| t.priority.as_str()).collect();
            return Err(IntakeError::UnknownPriority {
                service: self.service.clone(),
                priority: priority.clone(),
                known: if known.is_empty() {
                    "no priorities".into()
                } else {
                    known.join(", ")
                },
            });
        }
        if self.address.trim().is_empty() {
            return Err(IntakeError::NoAddress);
        }
        Ok(service)
    }
}

/// A job made but not stored: its id, document, contact document and
/// reference.
type Prepared = (JobId, AutoCommit, Option<AutoCommit>, String);

/// Where new jobs are made: the store, the service definitions and the
/// server node writing them.
pub struct Intake<'a> {
    /// The store.
    pub store: &'a Store,
    /// The service definitions.
    pub services: &'a ServiceCatalog,
    /// This server node's Automerge actor id.
    pub server: &'a ActorId,
}

impl Intake<'_> {
    /// Makes a job (`id`, fresh) for `tenant` at `now`, written by
    /// `author`, whose words the description is.
    pub fn create_job(
        &self,
        author: &Actor,
        tenant: TenantId,
        id: JobId,
        new: &NewJob,
        now: Timestamp,
    ) -> Result<Created, IntakeError> {
        let mut prepared = [self.prepare(author, tenant, id, new, now)?];
        self.store_all(tenant, &mut prepared)?;
        let [(job, _, _, reference)] = prepared;
        Ok(Created { job, reference })
    }

    /// Makes several jobs in one transaction: all of them, or (if any
    /// fails) none. Reference numbers taken for a batch that fails are
    /// not used again.
    pub fn create_jobs(
        &self,
        author: &Actor,
        tenant: TenantId,
        jobs: Vec<(JobId, &NewJob)>,
        now: Timestamp,
    ) -> Result<Vec<Created>, IntakeError> {
        let mut prepared = Vec::with_capacity(jobs.len());
        for (id, new) in jobs {
            prepared.push(self.prepare(author, tenant, id, new, now)?);
        }
        self.store_all(tenant, &mut prepared)?;
        Ok(prepared
            .into_iter()
            .map(|(job, _, _, reference)| Created { job, reference })
            .collect())
    }

    /// Stores prepared jobs, their contacts and first messages in one
    /// transaction.
    fn store_all(&self, tenant: TenantId, prepared: &mut [Prepared]) -> Result<(), IntakeError> {
        let services = self.services;
        run_sync(self.store, services, |sync| {
            for (id, doc, contact, _) in prepared.iter_mut() {
                store_new(sync, services, tenant, DocumentId::Job(*id), doc)?;
                if let Some(contact) = contact {
                    store_new(sync, services, tenant, DocumentId::Contact(*id), contact)?;
                }
                let events = events_in(*id, None, doc, services);
                sync.enqueue(tenant, &events)?;
                doorstep_shared::failpoint::hit("intake-between-jobs");
            }
            Ok(())
        })?;
        Ok(())
    }

    /// A job's documents, made but not stored.
    fn prepare(
        &self,
        author: &Actor,
        tenant: TenantId,
        id: JobId,
        new: &NewJob,
        now: Timestamp,
    ) -> Result<Prepared, IntakeError> {
        let service = new.check(self.services)?;
        let number = self
            .store
            .next_reference(tenant, &service.reference_prefix)?;
        let job = build::job(service, number, &new.address, now);
        let reference = job.office.reference.clone();
        let mut doc = job.create_document(self.server.clone())?;
        let mut office = OfficeEditor::new(&mut doc)?;
        office.set_priority(service, new.priority.clone())?;
        office.assign(new.assignee)?;
        let mut editor = JobEditor::new(&mut doc, author.clone())?;
        if !new.description.trim().is_empty() {
            editor.update_notes(new.description.trim())?;
        }
        for (id, photo) in &new.photos {
            editor.add_photo(*id, photo)?;
        }
        let contact = match &new.contact {
            Some(contact) => Some(
                Contact {
                    schema_version: CONTACT_SCHEMA_VERSION,
                    job: id,
                    name: contact.name.trim().to_owned(),
                    phone: contact.phone.clone(),
                    email: contact.email.clone(),
                    preferred_channel: contact.preferred,
                    sms_opt_out: false,
                }
                .create_document(self.server.clone())?,
            ),
            None => None,
        };
        Ok((id, doc, contact, reference))
    }
}

/// Makes a job with a fresh id through the state's store, as `author`,
/// and tells live devices.
pub async fn create(
    state: &crate::state::AppState,
    author: Actor,
    tenant: TenantId,
    new: NewJob,
    now: Timestamp,
) -> Result<Created, crate::error::ApiError> {
    let id = JobId::from_random_bytes(crate::secrets::random::<16>()?);
    let created = state
        .with_server(move |store, services, server| {
            Intake {
                store,
                services,
                server,
            }
            .create_job(&author, tenant, id, &new, now)
        })
        .await?;
    state.notify(crate::state::Changed { tenant, by: None });
    Ok(created)
}

/// Stores a document the server made, all its changes the server's.
pub fn store_new(
    sync: &mut dyn SyncStore<Error = StoreError>,
    services: &ServiceCatalog,
    tenant: TenantId,
    id: DocumentId,
    doc: &mut AutoCommit,
) -> Result<(), StoreError> {
    let changes = doc
        .get_changes(&[])
        .into_iter()
        .map(|change| (Author::Server, change))
        .collect();
    let record = scope_record(doc, id, services)?;
    sync.append(tenant, id, doc, changes, record)
}
