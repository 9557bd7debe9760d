//! What the sync server needs from storage. The server implements it on
//! SQLite and PostgreSQL; [`super::memory::MemoryStore`] implements it in
//! memory for simulations. Every call of one sync runs inside one
//! transaction of the implementation's choosing, committed before the reply
//! is sent.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, Change};

use super::wire::{Cursor, DocumentId};
use crate::ids::{BlobHash, DeviceId, JobId, TeamId, TenantId, UserId};
use crate::job::Assignee;
use crate::transition::Role;

/// A device as the server's records know it. Never taken from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The device.
    pub device: DeviceId,
    /// The user it is enrolled for.
    pub user: UserId,
    /// The user's role.
    pub role: Role,
    /// The user's teams.
    pub teams: BTreeSet<TeamId>,
    /// The councils the user works for.
    pub tenants: BTreeSet<TenantId>,
    /// The Automerge actor id fixed at enrolment.
    pub actor: automerge::ActorId,
}

/// Who made a stored change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Author {
    /// A device.
    Device(DeviceId),
    /// The server itself (verdicts, migrations, office edits).
    Server,
}

/// A stored change with its place in the tenant's sequence.
#[derive(Debug, Clone)]
pub struct StoredChange {
    /// Its sequence number.
    pub seq: u64,
    /// Who made it.
    pub author: Author,
    /// The raw Automerge change.
    pub bytes: Vec<u8>,
}

/// What decides who sees a document, kept beside it in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeRecord {
    /// A job, its assignee, and whether it is still open.
    Job {
        /// Who it is assigned to.
        assignee: Option<Assignee>,
        /// Not in a terminal state.
        open: bool,
    },
    /// A round and its crew.
    Round {
        /// The crew.
        crew: TeamId,
    },
    /// The contact document of a job: visible with the job while it is open.
    Contact {
        /// The job.
        job: JobId,
    },
}

/// Which documents the server has sent a device, for one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    /// Documents the device is known to hold.
    pub confirmed: BTreeSet<DocumentId>,
    /// What recent replies would leave the device holding, by the cursor
    /// each reply carried. A device that syncs with one of these cursors
    /// proves it applied that reply, and its set becomes the confirmed one.
    /// Several are kept because a duplicated or late request can be answered
    /// after a newer one; only the newest [`Delivery::KEPT`] are kept.
    pub proposals: BTreeMap<Cursor, BTreeSet<DocumentId>>,
}

impl Delivery {
    /// How many proposals are kept.
    pub const KEPT: usize = 8;

    /// Takes the device's cursor into account: a fresh start holds nothing
    /// confirmed; a cursor we proposed confirms that proposal and retires
    /// older ones. Proposals survive a fresh start, because a duplicated
    /// first request can arrive after the device applied a later reply.
    pub fn acknowledge(&mut self, cursor: Cursor) {
        if cursor == Cursor::default() {
            self.confirmed.clear();
        } else if let Some(docs) = self.proposals.remove(&cursor) {
            self.confirmed = docs;
            self.proposals.retain(|proposed, _| *proposed > cursor);
        }
    }

    /// Every document the device may hold: the confirmed ones and those of
    /// replies it may have applied. Telling a device that a document it
    /// does not hold left its scope is harmless; missing one it does hold
    /// would leave it there forever.
    pub fn possibly_held(&self) -> BTreeSet<DocumentId> {
        let mut held = self.confirmed.clone();
        held.extend(self.proposals.values().flatten().copied());
        held
    }

    /// Records what a reply with `cursor` leaves the device holding.
    pub fn propose(&mut self, cursor: Cursor, docs: BTreeSet<DocumentId>) {
        self.proposals.insert(cursor, docs);
        while self.proposals.len() > Self::KEPT {
            self.proposals.pop_first();
        }
    }
}

/// Storage for the sync server.
pub trait SyncStore {
    /// The store's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The tenant's current sequence number and scope version.
    fn clock(&mut self, tenant: TenantId) -> Result<Cursor, Self::Error>;

    /// Every document of the tenant the device's user may see.
    fn scope(
        &mut self,
        who: &DeviceIdentity,
        tenant: TenantId,
    ) -> Result<BTreeSet<DocumentId>, Self::Error>;

    /// What the server has sent the device.
    fn delivery(&mut self, device: DeviceId, tenant: TenantId) -> Result<Delivery, Self::Error>;

    /// Records what the server has sent the device.
    fn set_delivery(
        &mut self,
        device: DeviceId,
        tenant: TenantId,
        delivery: &Delivery,
    ) -> Result<(), Self::Error>;

    /// Whether a picture (a photo rendition, by hash) is already referenced
    /// by another document, first by someone other than `device`: a photo
    /// record naming it would borrow another job's or round's picture.
    fn picture_taken_elsewhere(
        &mut self,
        hash: BlobHash,
        doc: DocumentId,
        device: DeviceId,
    ) -> Result<bool, Self::Error>;

    /// What the server holds of each of `hashes`, renditions `doc`'s
    /// photos name, in order: uploaded whole, not yet, or a picture
    /// another document had first (never evidence for this one).
    fn arrivals(
        &mut self,
        doc: DocumentId,
        hashes: &[BlobHash],
    ) -> Result<Vec<crate::workflow::Arrival>, Self::Error>;

    /// A document and its tenant.
    fn load(&mut self, doc: DocumentId) -> Result<Option<(TenantId, AutoCommit)>, Self::Error>;

    /// Stores new changes of a document (already applied to `document`),
    /// numbering them in the tenant's sequence, with the scope record the
    /// document now implies. A record change that alters who sees the
    /// document bumps the tenant's scope version.
    fn append(
        &mut self,
        tenant: TenantId,
        doc: DocumentId,
        document: &mut AutoCommit,
        changes: Vec<(Author, Change)>,
        record: ScopeRecord,
    ) -> Result<(), Self::Error>;

    /// Every change of the tenant numbered after `after`, by document.
    fn changes_since(
        &mut self,
        tenant: TenantId,
        after: u64,
    ) -> Result<BTreeMap<DocumentId, Vec<StoredChange>>, Self::Error>;

    /// Records what residents must be told about changes just appended, in
    /// the same transaction (the server's outbox). Keys already recorded
    /// are kept as they are. Stores without an outbox ignore them.
    fn enqueue(
        &mut self,
        _tenant: TenantId,
        _events: &[crate::notify::ResidentEvent],
    ) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A borrowed store is a store: lets a caller keep ownership across a sync.
impl<S: SyncStore + ?Sized> SyncStore for &mut S {
    type Error = S::Error;

    fn clock(&mut self, tenant: TenantId) -> Result<Cursor, Self::Error> {
        (**self).clock(tenant)
    }

    fn scope(
        &mut self,
        who: &DeviceIdentity,
        tenant: TenantId,
    ) -> Result<BTreeSet<DocumentId>, Self::Error> {
        (**self).scope(who, tenant)
    }

    fn delivery(&mut self, device: DeviceId, tenant: TenantId) -> Result<Delivery, Self::Error> {
        (**self).delivery(device, tenant)
    }

    fn set_delivery(
        &mut self,
        device: DeviceId,
        tenant: TenantId,
        delivery: &Delivery,
    ) -> Result<(), Self::Error> {
        (**self).set_delivery(device, tenant, delivery)
    }

    fn picture_taken_elsewhere(
        &mut self,
        hash: BlobHash,
        doc: DocumentId,
        device: DeviceId,
    ) -> Result<bool, Self::Error> {
        (**self).picture_taken_elsewhere(hash, doc, device)
    }

    fn arrivals(
        &mut self,
        doc: DocumentId,
        hashes: &[BlobHash],
    ) -> Result<Vec<crate::workflow::Arrival>, Self::Error> {
        (**self).arrivals(doc, hashes)
    }

    fn load(&mut self, doc: DocumentId) -> Result<Option<(TenantId, AutoCommit)>, Self::Error> {
        (**self).load(doc)
    }

    fn append(
        &mut self,
        tenant: TenantId,
        doc: DocumentId,
        document: &mut AutoCommit,
        changes: Vec<(Author, Change)>,
        record: ScopeRecord,
    ) -> Result<(), Self::Error> {
        (**self).append(tenant, doc, document, changes, record)
    }

    fn changes_since(
        &mut self,
        tenant: TenantId,
        after: u64,
    ) -> Result<BTreeMap<DocumentId, Vec<StoredChange>>, Self::Error> {
        (**self).changes_since(tenant, after)
    }

    fn enqueue(
        &mut self,
        tenant: TenantId,
        events: &[crate::notify::ResidentEvent],
    ) -> Result<(), Self::Error> {
        (**self).enqueue(tenant, events)
    }
}
