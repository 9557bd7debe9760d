//! The sync simulation (`doorstep_shared::sync::simulation`) on the
//! in-memory store, over many seeds.
//!
//! `SIM_SEEDS=1000 cargo test -p doorstep-shared --test core simulation`
//! runs more seeds than CI does; `SIM_FROM=N` starts at seed N.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, Change};
use doorstep_shared::prelude::*;
use doorstep_shared::sync::memory::MemoryStore;
use doorstep_shared::sync::server::SyncServer;
use doorstep_shared::sync::simulation::{self, Seen, World};
use doorstep_shared::sync::store::{Author, DeviceIdentity, SyncStore};
use doorstep_shared::sync::wire::{DocumentId, SyncRequest};

use crate::setup::*;

fn seeds() -> std::ops::Range<u64> {
    let count = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let from = std::env::var("SIM_FROM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    from..from + count
}

#[test]
fn devices_converge_through_a_lossy_network_while_an_adversary_forges_and_none_lands() {
    let mut seen = Seen::default();
    for seed in seeds() {
        seen += simulation::run(seed, MemoryStore::new(), 300);
    }
    assert!(
        seen.snapshots > 0
            && seen.change_batches > 0
            && seen.removals > 0
            && seen.lost_or_late_replies > 0
            && seen.forgeries > 0,
        "the storm did not exercise every path: {seen:?}"
    );
}

#[test]
fn a_device_reconnecting_with_nothing_changed_gets_an_empty_reply_and_no_document_is_read() {
    let mut world = World::new(99, MemoryStore::new(), 2, 20);
    world.network.loss = 0;
    world.network.duplication = 0;
    world.network.max_delay_ms = 0;
    world.settle();
    world.assert_converged(99);

    world.now += 60_000;
    let now = world.timestamp();
    let request = world.devices[0].sync.poll(now).unwrap();
    let server = SyncServer {
        services: &world.services,
        actor: world.server_actor.clone(),
        system: person(1, Role::System),
    };
    let mut counting = CountingStore(&mut world.store, 0);
    let who = world.devices[0].who.clone();
    let reply = server
        .handle(
            &mut counting,
            &who,
            now,
            &SyncRequest::decode(&request).unwrap(),
        )
        .unwrap();
    assert_eq!(counting.1, 0, "no document was loaded");
    let tenant = &reply.tenants[0];
    assert!(
        tenant.updates.is_empty() && tenant.left_scope.is_empty() && tenant.accepted.is_empty()
    );
    let reply_bytes = reply.encode();
    assert!(request.len() < 64, "request {} bytes", request.len());
    assert!(reply_bytes.len() < 64, "reply {} bytes", reply_bytes.len());
}

/// A store that counts document loads and scope computations.
struct CountingStore<'s>(&'s mut MemoryStore, usize);

impl SyncStore for CountingStore<'_> {
    type Error = <MemoryStore as SyncStore>::Error;
    fn clock(&mut self, t: TenantId) -> Result<doorstep_shared::sync::wire::Cursor, Self::Error> {
        self.0.clock(t)
    }
    fn scope(
        &mut self,
        w: &DeviceIdentity,
        t: TenantId,
    ) -> Result<BTreeSet<DocumentId>, Self::Error> {
        self.1 += 1;
        self.0.scope(w, t)
    }
    fn delivery(
        &mut self,
        d: DeviceId,
        t: TenantId,
    ) -> Result<doorstep_shared::sync::store::Delivery, Self::Error> {
        self.0.delivery(d, t)
    }
    fn set_delivery(
        &mut self,
        d: DeviceId,
        t: TenantId,
        x: &doorstep_shared::sync::store::Delivery,
    ) -> Result<(), Self::Error> {
        self.0.set_delivery(d, t, x)
    }
    fn picture_taken_elsewhere(
        &mut self,
        hash: doorstep_shared::ids::BlobHash,
        doc: DocumentId,
        d: DeviceId,
    ) -> Result<bool, Self::Error> {
        self.0.picture_taken_elsewhere(hash, doc, d)
    }
    fn arrivals(
        &mut self,
        doc: DocumentId,
        hashes: &[doorstep_shared::ids::BlobHash],
    ) -> Result<Vec<doorstep_shared::workflow::Arrival>, Self::Error> {
        self.0.arrivals(doc, hashes)
    }
    fn load(&mut self, doc: DocumentId) -> Result<Option<(TenantId, AutoCommit)>, Self::Error> {
        self.1 += 1;
        self.0.load(doc)
    }
    fn append(
        &mut self,
        t: TenantId,
        doc: DocumentId,
        d: &mut AutoCommit,
        c: Vec<(Author, Change)>,
        r: doorstep_shared::sync::store::ScopeRecord,
    ) -> Result<(), Self::Error> {
        self.0.append(t, doc, d, c, r)
    }
    fn changes_since(
        &mut self,
        t: TenantId,
        after: u64,
    ) -> Result<BTreeMap<DocumentId, Vec<doorstep_shared::sync::store::StoredChange>>, Self::Error>
    {
        self.1 += 1;
        self.0.changes_since(t, after)
    }
}
