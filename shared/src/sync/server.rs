//! The server side of a sync: apply a device's pushes, run the workflow
//! rules as the server's own actor, and answer with what changed in the
//! device's scope. Pure: all state is in the [`SyncStore`].

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ActorId, AutoCommit, Change};

use super::store::{Author, DeviceIdentity, ScopeRecord, SyncStore};
use super::wire::{
    Content, Cursor, DefinitionChanges, DefinitionNews, DocumentId, HeldDefinitions, Push, Refusal,
    SyncReply, SyncRequest, TenantReply, TenantRequest, Update,
};
use crate::document::{DocumentError, compatibility};
use crate::ids::BlobHash;
use crate::job::{JOB_SCHEMA_VERSION, Job, OfficeEditor};
use crate::migrate::{mend_job_after_older_writes, migrate_job};
use crate::policy::{self, WriteRefused};
use crate::round::{Round, RoundOfficeEditor};
use crate::service::ServiceCatalog;
use crate::time::Timestamp;
use crate::transition::{Actor, Role};
use crate::workflow::{Arrival, Arrivals};

/// The server's sync logic, with what it needs to run the workflow rules.
pub struct SyncServer<'a> {
    /// The service definitions.
    pub services: &'a ServiceCatalog,
    /// This server node's Automerge actor id.
    pub actor: ActorId,
    /// Who the server acts as when it follows up actions.
    pub system: Actor,
}

/// A push was refused; the reason goes back to the device.
struct Refused(String);

impl<E: std::error::Error> From<E> for Refused {
    fn from(error: E) -> Self {
        Refused(error.to_string())
    }
}

impl SyncServer<'_> {
    /// Answers one sync request from `who`.
    pub fn handle<S: SyncStore + ?Sized>(
        &self,
        store: &mut S,
        who: &DeviceIdentity,
        now: Timestamp,
        request: &SyncRequest,
    ) -> Result<SyncReply, S::Error> {
        let mut tenants = Vec::with_capacity(request.tenants.len());
        for tenant in &request.tenants {
            tenants.push(if who.tenants.contains(&tenant.tenant) {
                self.handle_tenant(store, who, now, tenant)?
            } else {
                TenantReply::refused(
                    tenant.tenant,
                    tenant.cursor,
                    "this device is not enrolled for that council".into(),
                )
            });
        }
        Ok(SyncReply {
            request_id: request.request_id,
            tenants,
        })
    }

    fn handle_tenant<S: SyncStore + ?Sized>(
        &self,
        store: &mut S,
        who: &DeviceIdentity,
        now: Timestamp,
        request: &TenantRequest,
    ) -> Result<TenantReply, S::Error> {
        let tenant = request.tenant;
        let mut delivery = store.delivery(who.device, tenant)?;
        let delivery_before = delivery.clone();
        // What the device may still hold before this request tells the
        // server what it applied: its last offline edits to a document that
        // left its scope, pushed in the request that learns of it, are kept.
        let held = delivery_before.possibly_held();
        delivery.acknowledge(request.cursor);

        let mut accepted = Vec::new();
        let mut refused = Vec::new();
        for push in &request.pushes {
            match self.apply_push(store, who, now, tenant, &held, push)? {
                Ok(()) => accepted.push(push.doc),
                Err(Refused(reason)) => refused.push(Refusal {
                    doc: push.doc,
                    reason,
                }),
            }
        }

        let clock = store.clock(tenant)?;
        // Nothing changed if the tenant is where the device's cursor says and
        // the device confirmed the reply that gave it that cursor: then its
        // scope is what it holds, and there is nothing to look up.
        let unchanged = request.cursor != Cursor::default()
            && request.cursor == clock
            && delivery_before.proposals.contains_key(&request.cursor);
        let mut updates = Vec::new();
        let mut left_scope = Vec::new();
        let scope = if unchanged {
            delivery.confirmed.clone()
        } else {
            let scope = store.scope(who, tenant)?;
            if request.cursor.seq < clock.seq {
                let since = store.changes_since(tenant, request.cursor.seq)?;
                for (doc, changes) in since {
                    if !scope.contains(&doc) || !delivery.confirmed.contains(&doc) {
                        continue;
                    }
                    let theirs: Vec<Vec<u8>> = changes
                        .into_iter()
                        .filter(|c| c.author != Author::Device(who.device))
                        .map(|c| c.bytes)
                        .collect();
                    if !theirs.is_empty() {
                        updates.push(Update {
                            doc,
                            content: Content::Changes(theirs),
                        });
                    }
                }
            }
            for doc in scope.difference(&delivery.confirmed) {
                if let Some((_, mut document)) = store.load(*doc)? {
                    self.bring_up_to_date(store, tenant, *doc, &mut document)?;
                    updates.push(Update {
                        doc: *doc,
                        content: Content::Snapshot(document.save()),
                    });
                }
            }
            left_scope.extend(delivery.possibly_held().difference(&scope).copied());
            scope
        };

        delivery.propose(clock, scope);
        if delivery != delivery_before {
            store.set_delivery(who.device, tenant, &delivery)?;
        }
        // Every tenant runs the server's services for now; [6/7] gives
        // each council its own.
        let definitions = request.definitions.as_ref().map(|held| match held {
            HeldDefinitions::Digest(digest) if *digest == self.services.digest() => {
                DefinitionNews::Same
            }
            HeldDefinitions::Digest(_) => DefinitionNews::Differ,
            HeldDefinitions::List(held) => {
                let (changed, removed) = self.services.changes_since(held);
                DefinitionNews::Changed(DefinitionChanges { changed, removed })
            }
        });
        Ok(TenantReply {
            tenant,
            cursor: clock,
            accepted,
            refused,
            updates,
            left_scope,
            error: None,
            definitions,
        })
    }

    /// Applies one push, or says why not. The outer error is the store's.
    /// `held` is what the device may hold as this request arrives.
    fn apply_push<S: SyncStore + ?Sized>(
        &self,
        store: &mut S,
        who: &DeviceIdentity,
        now: Timestamp,
        tenant: crate::ids::TenantId,
        held: &BTreeSet<DocumentId>,
        push: &Push,
    ) -> Result<Result<(), Refused>, S::Error> {
        let no_such = || {
            Err(Refused(
                "there is no such job or round in your council".into(),
            ))
        };
        let Some((doc_tenant, mut document)) = store.load(push.doc)? else {
            return Ok(no_such());
        };
        if doc_tenant != tenant {
            return Ok(no_such());
        }
        // The job as it was, to tell its resident what is new.
        let before = match push.doc {
            DocumentId::Job(_) => Job::load(&document).ok(),
            _ => None,
        };
        let Checked { new, photos } = match self.check_push(&mut document, who, push, held) {
            Ok(checked) => checked,
            Err(refused) => return Ok(Err(refused)),
        };
        for (key, hash) in photos {
            if store.picture_taken_elsewhere(hash, push.doc, who.device)? {
                return Ok(Err(Refused(
                    WriteRefused::BorrowedPhoto { key }.to_string(),
                )));
            }
        }
        let arrivals = match Self::arrivals(store, &document, push.doc)? {
            Ok(arrivals) => arrivals,
            Err(refused) => return Ok(Err(refused)),
        };
        let outcome = (|| -> Result<(Vec<(Author, Change)>, ScopeRecord), Refused> {
            let mut stored: Vec<(Author, Change)> = new
                .into_iter()
                .map(|c| (Author::Device(who.device), c))
                .collect();
            stored.extend(self.run_rules(&mut document, push.doc, who, now, &arrivals)?);
            let record = scope_record(&document, push.doc, self.services)?;
            Ok((stored, record))
        })();
        match outcome {
            Ok((changes, record)) => {
                if !changes.is_empty() {
                    store.append(tenant, push.doc, &mut document, changes, record)?;
                    if let (DocumentId::Job(job), Some(before)) = (push.doc, &before) {
                        let events =
                            crate::notify::events_in(job, Some(before), &document, self.services);
                        if !events.is_empty() {
                            store.enqueue(tenant, &events)?;
                        }
                    }
                }
                Ok(Ok(()))
            }
            Err(refused) => Ok(Err(refused)),
        }
    }

    /// Applies a push's changes to `document` and checks the new ones
    /// against the document's write policy: returns them, with the
    /// pictures their photos name (which the store must check). Changes the
    /// server already holds are always taken; new ones only to a document
    /// the device may hold.
    fn check_push(
        &self,
        document: &mut AutoCommit,
        who: &DeviceIdentity,
        push: &Push,
        held: &BTreeSet<DocumentId>,
    ) -> Result<Checked, Refused> {
        let mut changes = Vec::with_capacity(push.changes.len());
        for bytes in &push.changes {
            changes.push(Change::from_bytes(bytes.clone())?);
        }
        let new: Vec<Change> = changes
            .iter()
            .filter(|c| document.get_change_by_hash(&c.hash()).is_none())
            .cloned()
            .collect();
        if new.is_empty() {
            return Ok(Checked {
                new,
                photos: Vec::new(),
            });
        }
        if !held.contains(&push.doc) {
            return Err(Refused(
                "this job or round is not given to you now, so the server takes no more changes to it from this phone"
                    .into(),
            ));
        }
        document.apply_changes(changes)?;
        if new
            .iter()
            .any(|c| document.get_change_by_hash(&c.hash()).is_none())
        {
            return Err(Refused(
                "the changes depend on others the server has not received".into(),
            ));
        }
        let policy = policy::for_document(push.doc);
        let mut written = Vec::new();
        for change in &new {
            written.extend(policy::check_change(document, policy, who, change)?);
        }
        if let DocumentId::Round(_) = push.doc
            && written.iter().any(|w| w.part.key == "outcomes")
        {
            let round = Round::load(document)?;
            if let Some(service) = self.services.get(&round.office.service) {
                policy::check_outcomes(document, &written, service)?;
            }
        }
        let photos = policy::photo_hashes(document, &written)?;
        Ok(Checked { new, photos })
    }

    /// Migrates a stored job of an older schema, as the server's actor, and
    /// stores the migration before the document is sent anywhere. A job the
    /// migration cannot read is sent as it is: the app shows it read-only.
    fn bring_up_to_date<S: SyncStore + ?Sized>(
        &self,
        store: &mut S,
        tenant: crate::ids::TenantId,
        doc: DocumentId,
        document: &mut AutoCommit,
    ) -> Result<(), S::Error> {
        let DocumentId::Job(_) = doc else {
            return Ok(());
        };
        if !matches!(
            compatibility(document, JOB_SCHEMA_VERSION),
            Ok(crate::document::Compatibility::Older(_))
        ) {
            return Ok(());
        }
        let before = document.get_heads();
        document.set_actor(self.actor.clone());
        if migrate_job(document).is_err() {
            return Ok(());
        }
        let changes: Vec<(Author, Change)> = document
            .get_changes(&before)
            .into_iter()
            .map(|change| (Author::Server, change))
            .collect();
        if let Ok(record) = scope_record(document, doc, self.services) {
            store.append(tenant, doc, document, changes, record)?;
        }
        Ok(())
    }

    /// What the server holds of the pictures a job's or round's photos
    /// name: the evidence its requests may count.
    fn arrivals<S: SyncStore + ?Sized>(
        store: &mut S,
        document: &AutoCommit,
        doc: DocumentId,
    ) -> Result<Result<Arrivals, Refused>, S::Error> {
        let photos: Vec<crate::job::PhotoRef> = match doc {
            DocumentId::Job(_) => match Job::load(document) {
                Ok(job) => job.photos.into_values().collect(),
                Err(error) => return Ok(Err(error.into())),
            },
            DocumentId::Round(_) => match Round::load(document) {
                Ok(round) => round.photos.into_values().collect(),
                Err(error) => return Ok(Err(error.into())),
            },
            DocumentId::Contact(_) => return Ok(Ok(Arrivals::default())),
        };
        let hashes = Arrivals::renditions(&photos);
        let held: BTreeMap<BlobHash, Arrival> = hashes
            .iter()
            .copied()
            .zip(store.arrivals(doc, &hashes)?)
            .collect();
        Ok(Ok(Arrivals::of(&photos, |hash| {
            held.get(&hash).copied().unwrap_or(Arrival::Expected)
        })))
    }

    /// Runs the workflow rules on a document a device changed, as the
    /// server's actor, and returns the server's own new changes.
    /// `arrivals` say which photos count as evidence.
    fn run_rules(
        &self,
        document: &mut AutoCommit,
        doc: DocumentId,
        who: &DeviceIdentity,
        now: Timestamp,
        arrivals: &Arrivals,
    ) -> Result<Vec<(Author, Change)>, DocumentError> {
        let before = document.get_heads();
        match doc {
            DocumentId::Job(_) => self.run_job_rules(document, who, now, arrivals)?,
            DocumentId::Round(_) => {
                // Starting and finishing a round are decided like a job's
                // transitions.
                document.set_actor(self.actor.clone());
                let round = Round::load(document)?;
                if let Some(service) = self.services.get(&round.office.service) {
                    RoundOfficeEditor::new(document)?.decide_as_server(
                        service,
                        now,
                        self.role_of(who),
                        Some(arrivals),
                    )?;
                }
            }
            DocumentId::Contact(_) => return Ok(Vec::new()),
        }
        document.commit();
        Ok(document
            .get_changes(&before)
            .into_iter()
            .filter(|c| c.actor_id() == &self.actor)
            .map(|c| (Author::Server, c))
            .collect())
    }

    /// Who a request's or action's author is, as the server's records say:
    /// the pushing device's user has their role, the server its own. The
    /// write policy lets a device name only its own user, so anyone else's
    /// record was never pushed by a device the server knows, and has no
    /// rights.
    fn role_of<'a>(&'a self, who: &'a DeviceIdentity) -> impl Fn(&Actor) -> Option<Role> + 'a {
        move |actor: &Actor| {
            if actor.user == who.user {
                Some(who.role)
            } else if actor.user == self.system.user {
                Some(Role::System)
            } else {
                None
            }
        }
    }

    /// A job's rules: migrate an older document, then follow up actions and
    /// decide pending requests.
    fn run_job_rules(
        &self,
        document: &mut AutoCommit,
        who: &DeviceIdentity,
        now: Timestamp,
        arrivals: &Arrivals,
    ) -> Result<(), DocumentError> {
        document.set_actor(self.actor.clone());
        match compatibility(document, JOB_SCHEMA_VERSION)? {
            crate::document::Compatibility::Older(_) => {
                migrate_job(document)?;
            }
            crate::document::Compatibility::Current => {
                // An app of an older schema may have written over what the
                // migration made.
                mend_job_after_older_writes(document)?;
            }
            crate::document::Compatibility::Newer(_) => {}
        }
        let job = Job::load(document)?;
        if let Some(service) = self.services.get(&job.office.service) {
            let mut office = OfficeEditor::new(document)?;
            office.follow_actions(
                service,
                &self.system,
                now,
                self.role_of(who),
                Some(arrivals),
            )?;
        }
        Ok(())
    }
}

/// Who sees a document, as its current content implies.
pub fn scope_record(
    document: &AutoCommit,
    doc: DocumentId,
    services: &ServiceCatalog,
) -> Result<ScopeRecord, DocumentError> {
    Ok(match doc {
        DocumentId::Job(_) => {
            let job = Job::load(document)?;
            let open = services
                .get(&job.office.service)
                .and_then(|s| s.state(job.status(s)))
                .is_none_or(|state| !state.terminal);
            ScopeRecord::Job {
                assignee: job.office.assignee,
                open,
            }
        }
        DocumentId::Round(_) => ScopeRecord::Round {
            crew: Round::load(document)?.office.crew,
        },
        DocumentId::Contact(job) => ScopeRecord::Contact { job },
    })
}

/// A push that passed the checks the document alone can make: the changes
/// the server did not hold yet, and the pictures their photos name (which
/// the store must check were not sent for another document).
struct Checked {
    new: Vec<Change>,
    photos: Vec<(String, crate::ids::BlobHash)>,
}
