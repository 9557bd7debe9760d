//! A [`SyncStore`] in memory: the reference the database stores are tested
//! against, and the server's storage in deterministic simulations.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, Change};

use super::store::{Author, Delivery, DeviceIdentity, ScopeRecord, StoredChange, SyncStore};
use super::wire::{Cursor, DocumentId};
use crate::document::DocumentError;
use crate::ids::{BlobHash, DeviceId, TenantId};
use crate::transition::Role;
use crate::workflow::Arrival;

struct StoredDocument {
    tenant: TenantId,
    saved: Vec<u8>,
    record: ScopeRecord,
}

/// Everything a sync server stores, in memory.
#[derive(Default)]
pub struct MemoryStore {
    clocks: BTreeMap<TenantId, Cursor>,
    documents: BTreeMap<DocumentId, StoredDocument>,
    changes: BTreeMap<TenantId, Vec<(DocumentId, StoredChange)>>,
    deliveries: BTreeMap<(DeviceId, TenantId), Delivery>,
    /// Each picture's first document, and the device whose push named it.
    pictures: BTreeMap<BlobHash, (DocumentId, Option<DeviceId>)>,
    /// Pictures uploaded whole.
    uploaded: BTreeSet<BlobHash>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a picture as uploaded whole, as the server's photo store
    /// does when an upload completes.
    pub fn upload(&mut self, hash: BlobHash) {
        self.uploaded.insert(hash);
    }

    /// Every document of a tenant.
    pub fn documents(&self, tenant: TenantId) -> impl Iterator<Item = DocumentId> + '_ {
        self.documents
            .iter()
            .filter(move |(_, d)| d.tenant == tenant)
            .map(|(id, _)| *id)
    }

    fn visible(&self, who: &DeviceIdentity, doc: &StoredDocument) -> bool {
        match &doc.record {
            // Dispatchers see every contact; others only an open job's.
            ScopeRecord::Contact { job } if who.role != Role::Dispatcher => self
                .documents
                .get(&DocumentId::Job(*job))
                .is_some_and(|job_doc| {
                    matches!(job_doc.record, ScopeRecord::Job { open: true, .. })
                        && job_doc.record.visible_to(who)
                }),
            record => record.visible_to(who),
        }
    }
}

impl SyncStore for MemoryStore {
    type Error = DocumentError;

    fn clock(&mut self, tenant: TenantId) -> Result<Cursor, Self::Error> {
        Ok(self.clocks.get(&tenant).copied().unwrap_or_default())
    }

    fn scope(
        &mut self,
        who: &DeviceIdentity,
        tenant: TenantId,
    ) -> Result<BTreeSet<DocumentId>, Self::Error> {
        Ok(self
            .documents
            .iter()
            .filter(|(_, doc)| doc.tenant == tenant && self.visible(who, doc))
            .map(|(id, _)| *id)
            .collect())
    }

    fn delivery(&mut self, device: DeviceId, tenant: TenantId) -> Result<Delivery, Self::Error> {
        Ok(self
            .deliveries
            .get(&(device, tenant))
            .cloned()
            .unwrap_or_default())
    }

    fn set_delivery(
        &mut self,
        device: DeviceId,
        tenant: TenantId,
        delivery: &Delivery,
    ) -> Result<(), Self::Error> {
        self.deliveries.insert((device, tenant), delivery.clone());
        Ok(())
    }

    fn picture_taken_elsewhere(
        &mut self,
        hash: BlobHash,
        doc: DocumentId,
        device: DeviceId,
    ) -> Result<bool, Self::Error> {
        Ok(self
            .pictures
            .get(&hash)
            .is_some_and(|(first, by)| *first != doc && *by != Some(device)))
    }

    fn arrivals(
        &mut self,
        doc: DocumentId,
        hashes: &[BlobHash],
    ) -> Result<Vec<Arrival>, Self::Error> {
        Ok(hashes
            .iter()
            .map(|hash| match self.pictures.get(hash) {
                Some((first, _)) if *first != doc => Arrival::Borrowed,
                _ if self.uploaded.contains(hash) => Arrival::Arrived,
                _ => Arrival::Expected,
            })
            .collect())
    }

    fn load(&mut self, doc: DocumentId) -> Result<Option<(TenantId, AutoCommit)>, Self::Error> {
        self.documents
            .get(&doc)
            .map(|stored| Ok((stored.tenant, AutoCommit::load(&stored.saved)?)))
            .transpose()
    }

    fn append(
        &mut self,
        tenant: TenantId,
        doc: DocumentId,
        document: &mut AutoCommit,
        changes: Vec<(Author, Change)>,
        record: ScopeRecord,
    ) -> Result<(), Self::Error> {
        if matches!(doc, DocumentId::Job(_) | DocumentId::Round(_)) {
            let device = changes.iter().find_map(|(author, _)| match author {
                Author::Device(device) => Some(*device),
                Author::Server => None,
            });
            for reference in crate::blob::references(document)? {
                self.pictures.entry(reference.hash).or_insert((doc, device));
            }
        }
        let clock = self.clocks.entry(tenant).or_default();
        let log = self.changes.entry(tenant).or_default();
        for (author, change) in changes {
            clock.seq += 1;
            log.push((
                doc,
                StoredChange {
                    seq: clock.seq,
                    author,
                    bytes: change.raw_bytes().to_vec(),
                },
            ));
        }
        let previous = self.documents.insert(
            doc,
            StoredDocument {
                tenant,
                saved: document.save(),
                record: record.clone(),
            },
        );
        if previous.is_none_or(|p| p.record != record) {
            clock.scope += 1;
        }
        Ok(())
    }

    fn changes_since(
        &mut self,
        tenant: TenantId,
        after: u64,
    ) -> Result<BTreeMap<DocumentId, Vec<StoredChange>>, Self::Error> {
        let mut by_doc: BTreeMap<DocumentId, Vec<StoredChange>> = BTreeMap::new();
        let log = self.changes.get(&tenant).map_or(&[][..], Vec::as_slice);
        let start = log.partition_point(|(_, change)| change.seq <= after);
        for (doc, change) in &log[start..] {
            by_doc.entry(*doc).or_default().push(change.clone());
        }
        Ok(by_doc)
    }
}
