//! Deterministic simulation of sync: a server on the in-memory store, a few
//! devices, and a network that loses, duplicates, delays and reorders
//! messages, while people edit offline and the office reassigns jobs. After
//! the storm the network heals, and every device must hold exactly the
//! server's documents for its scope, change for change.
//!
//! `SIM_SEEDS=1000 cargo test -p doorstep-shared --test core simulation`
//! runs more seeds than CI does.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ActorId, AutoCommit, Change};
use doorstep_shared::job::{Assignee, OfficeEditor};
use doorstep_shared::prelude::*;
use doorstep_shared::sync::device::{DeviceSync, Effect};
use doorstep_shared::sync::memory::MemoryStore;
use doorstep_shared::sync::server::{SyncServer, scope_record};
use doorstep_shared::sync::store::{Author, DeviceIdentity, SyncStore};
use doorstep_shared::sync::wire::{Content, Cursor, DocumentId, SyncRequest};

use crate::setup::*;

/// SplitMix64: a small, well-mixed generator, seeded per run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

const TENANT: TenantId = TenantId::from_u128(0x7e);
const TEAM: TeamId = TeamId::from_u128(0x7ea);

struct Device {
    who: DeviceIdentity,
    sync: DeviceSync,
    docs: BTreeMap<DocumentId, AutoCommit>,
    online: bool,
}

enum To {
    Server { from: usize },
    Device(usize),
}

struct Message {
    to: To,
    at: i64,
    bytes: Vec<u8>,
}

struct Network {
    queue: Vec<Message>,
    loss: u64,
    duplication: u64,
    max_delay_ms: i64,
}

impl Network {
    fn send(&mut self, rng: &mut Rng, now: i64, to: To, bytes: Vec<u8>) {
        if rng.chance(self.loss) {
            return;
        }
        let copies = if rng.chance(self.duplication) { 2 } else { 1 };
        for copy in 0..copies {
            let delay = if self.max_delay_ms == 0 {
                0
            } else {
                rng.below(self.max_delay_ms as usize) as i64
            };
            let to = match (&to, copy) {
                (To::Server { from }, _) => To::Server { from: *from },
                (To::Device(d), _) => To::Device(*d),
            };
            self.queue.push(Message {
                to,
                at: now + delay,
                bytes: bytes.clone(),
            });
        }
    }

    /// Messages due by `now`, in delivery-time order (so delays reorder them).
    fn due(&mut self, now: i64) -> Vec<Message> {
        let (mut due, later): (Vec<_>, Vec<_>) = self.queue.drain(..).partition(|m| m.at <= now);
        self.queue = later;
        due.sort_by_key(|m| m.at);
        due
    }
}

/// A device's cursor and the heads of each document it holds.
type Fingerprint = (
    Option<Cursor>,
    Vec<(DocumentId, Vec<automerge::ChangeHash>)>,
);

struct World {
    rng: Rng,
    store: MemoryStore,
    services: ServiceCatalog,
    server_actor: ActorId,
    devices: Vec<Device>,
    network: Network,
    now: i64,
    jobs: Vec<JobId>,
    seen: Seen,
}

/// What happened during a run, so the test can show the storm exercised
/// what it claims to.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    snapshots: usize,
    change_batches: usize,
    removals: usize,
    lost_or_late_replies: usize,
}

impl World {
    fn new(seed: u64, devices: usize, jobs: usize) -> Self {
        let services = ServiceCatalog::builtin().unwrap();
        let mut world = World {
            rng: Rng(seed),
            store: MemoryStore::new(),
            services,
            server_actor: server_actor(),
            devices: Vec::new(),
            network: Network {
                queue: Vec::new(),
                loss: 20,
                duplication: 10,
                max_delay_ms: 3_000,
            },
            now: at(0).as_millis(),
            jobs: Vec::new(),
            seen: Seen::default(),
        };
        for n in 0..devices {
            // The last device is a dispatcher, who sees everything.
            let role = if n + 1 == devices && devices > 1 {
                Role::Dispatcher
            } else {
                Role::Operative
            };
            let device = DeviceId::from_u128(0xde0 + n as u128);
            world.devices.push(Device {
                who: DeviceIdentity {
                    device,
                    user: UserId::from_u128(0x100 + n as u128),
                    role,
                    teams: if n % 2 == 0 {
                        BTreeSet::from([TEAM])
                    } else {
                        BTreeSet::new()
                    },
                    tenants: BTreeSet::from([TENANT]),
                    actor: ActorId::from(device.as_uuid().as_bytes().as_slice()),
                },
                sync: DeviceSync::new([TENANT]),
                docs: BTreeMap::new(),
                online: true,
            });
        }
        for n in 0..jobs {
            world.create_job(n as u32);
        }
        world.create_round();
        world
    }

    fn create_round(&mut self) {
        let service = self.services.get(&name("waste-round")).unwrap().clone();
        let stops: Vec<(PropertyId, &str)> = (1..=6)
            .map(|n| (PropertyId::from_u128(n), "2 Sim Street, Worthing, BN11 1AA"))
            .collect();
        let mut doc = demo::round(
            &service,
            "WR-SIM",
            name("2026-11-27"),
            TEAM,
            &stops,
            &name("refuse_240l"),
        )
        .create_document(self.server_actor.clone())
        .unwrap();
        self.store_server_changes(DocumentId::Round(RoundId::from_u128(0x70)), &mut doc, &[]);
    }

    /// The office cancels a job: it closes, and its contact details leave
    /// the operatives' scope.
    fn cancel(&mut self) {
        let Some(job) = self.rng.pick(&self.jobs).copied() else {
            return;
        };
        let doc = DocumentId::Job(job);
        let (_, mut document) = self.store.load(doc).unwrap().unwrap();
        document.set_actor(self.server_actor.clone());
        let before = document.get_heads();
        let repair = self.services.get(&name("housing-repair")).unwrap().clone();
        let status = Job::load(&document).unwrap().status(&repair).clone();
        let evidence = Evidence {
            note: Some("Resident fixed it".into()),
            ..Evidence::default()
        };
        let request = TransitionId::from_u128(u128::from(self.rng.next()));
        JobEditor::new(&mut document, dispatcher())
            .unwrap()
            .request_transition(
                request,
                status,
                name("cancelled"),
                evidence,
                self.timestamp(),
            )
            .unwrap();
        OfficeEditor::new(&mut document)
            .unwrap()
            .decide_pending(&repair, self.timestamp(), |a| a.role)
            .unwrap();
        document.commit();
        self.store_server_changes(doc, &mut document, &before);
    }

    fn timestamp(&self) -> Timestamp {
        Timestamp::from_millis(self.now)
    }

    fn random_assignee(&mut self) -> Option<Assignee> {
        match self.rng.below(4) {
            0 => None,
            1 => Some(Assignee::Team(TEAM)),
            _ => {
                let n = self.rng.below(self.devices.len());
                Some(Assignee::User(self.devices[n].who.user))
            }
        }
    }

    fn create_job(&mut self, number: u32) {
        let repair = self.services.get(&name("housing-repair")).unwrap().clone();
        let id = JobId::from_u128(0x10b0 + u128::from(number));
        let mut doc = demo::job(
            &repair,
            number,
            "1 Sim Street, Worthing, BN11 1AA",
            self.timestamp(),
        )
        .create_document(self.server_actor.clone())
        .unwrap();
        let assignee = self.random_assignee();
        OfficeEditor::new(&mut doc)
            .unwrap()
            .assign(assignee)
            .unwrap();
        // Book it, so operatives have something to start.
        JobEditor::new(&mut doc, dispatcher())
            .unwrap()
            .request_transition(
                TransitionId::from_u128(u128::from(number)),
                name("reported"),
                name("booked"),
                Evidence::default(),
                self.timestamp(),
            )
            .unwrap();
        OfficeEditor::new(&mut doc)
            .unwrap()
            .decide_pending(&repair, self.timestamp(), |a| a.role)
            .unwrap();
        self.store_server_changes(DocumentId::Job(id), &mut doc, &[]);
        self.jobs.push(id);

        let contact = Contact {
            schema_version: 1,
            job: id,
            name: format!("Resident {number}"),
            phone: Some("07700 900123".parse().unwrap()),
            email: None,
            preferred_channel: Channel::Sms,
            sms_opt_out: false,
        };
        let mut contact_doc = contact.create_document(self.server_actor.clone()).unwrap();
        self.store_server_changes(DocumentId::Contact(id), &mut contact_doc, &[]);
    }

    fn store_server_changes(
        &mut self,
        doc: DocumentId,
        document: &mut AutoCommit,
        since: &[automerge::ChangeHash],
    ) {
        let changes: Vec<(Author, Change)> = document
            .get_changes(since)
            .into_iter()
            .map(|c| (Author::Server, c))
            .collect();
        let record = scope_record(document, doc, &self.services).unwrap();
        self.store
            .append(TENANT, doc, document, changes, record)
            .unwrap();
    }

    fn reassign(&mut self) {
        let Some(job) = self.rng.pick(&self.jobs).copied() else {
            return;
        };
        let doc = DocumentId::Job(job);
        let (_, mut document) = self.store.load(doc).unwrap().unwrap();
        document.set_actor(self.server_actor.clone());
        let before = document.get_heads();
        let assignee = self.random_assignee();
        OfficeEditor::new(&mut document)
            .unwrap()
            .assign(assignee)
            .unwrap();
        document.commit();
        self.store_server_changes(doc, &mut document, &before);
    }

    fn edit(&mut self, d: usize) {
        let now = self.timestamp();
        let choice = self.rng.below(5);
        let photo = PhotoId::from_u128(u128::from(self.rng.next()));
        let event = EventId::from_u128(u128::from(self.rng.next()));
        let request = TransitionId::from_u128(u128::from(self.rng.next()));
        let splice_at = self.rng.next() as usize;
        let device = &mut self.devices[d];
        let editable: Vec<DocumentId> = device
            .docs
            .keys()
            .filter(|doc| !matches!(doc, DocumentId::Contact(_)))
            .copied()
            .collect();
        let Some(doc) = editable.get(splice_at % editable.len().max(1)).copied() else {
            return;
        };
        if let DocumentId::Round(_) = doc {
            let service = self.services.get(&name("waste-round")).unwrap();
            let document = device.docs.get_mut(&doc).unwrap();
            let before = document.get_heads();
            let actor = Actor {
                user: device.who.user,
                role: Role::Crew,
                device: Some(device.who.device),
            };
            let property = PropertyId::from_u128(1 + (splice_at % 6) as u128);
            let outcome = if choice.is_multiple_of(2) {
                "collected"
            } else {
                "other"
            };
            RoundEditor::new(document, actor)
                .unwrap()
                .log_outcome(
                    service,
                    property,
                    name(outcome),
                    Some("sim".into()),
                    None,
                    now,
                )
                .unwrap()
                .unwrap();
            document.commit();
            let changes = document
                .get_changes(&before)
                .into_iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect();
            device.sync.record_local(TENANT, doc, changes);
            return;
        }
        let document = device.docs.get_mut(&doc).unwrap();
        let before = document.get_heads();
        let actor = Actor {
            user: device.who.user,
            role: device.who.role,
            device: Some(device.who.device),
        };
        let mut editor = JobEditor::new(document, actor.clone()).unwrap();
        match choice {
            0 => {
                let length = Job::load(editor_doc(&mut editor))
                    .unwrap()
                    .notes
                    .as_str()
                    .chars()
                    .count();
                editor
                    .splice_notes(splice_at % (length + 1), 0, "x")
                    .unwrap();
            }
            1 => editor
                .tick(&name("supply_isolated"), splice_at.is_multiple_of(2), now)
                .unwrap(),
            2 => editor
                .add_photo(photo, &demo::photo(name("before"), &actor, now))
                .unwrap(),
            3 => editor
                .log_action(event, name("on_my_way"), None, now)
                .unwrap(),
            _ => editor
                .request_transition(
                    request,
                    name("booked"),
                    name("in_progress"),
                    Evidence::default(),
                    now,
                )
                .unwrap(),
        }
        document.commit();
        let changes: Vec<Vec<u8>> = document
            .get_changes(&before)
            .into_iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        device.sync.record_local(TENANT, doc, changes);
    }

    fn deliver(&mut self) {
        let now = self.timestamp();
        for message in self.network.due(self.now) {
            match message.to {
                To::Server { from } => {
                    let request = SyncRequest::decode(&message.bytes).unwrap();
                    let server = SyncServer {
                        services: &self.services,
                        actor: self.server_actor.clone(),
                        system: person(1, Role::System),
                    };
                    let reply = server
                        .handle(&mut self.store, &self.devices[from].who, now, &request)
                        .unwrap();
                    self.network
                        .send(&mut self.rng, self.now, To::Device(from), reply.encode());
                }
                To::Device(d) => {
                    if !self.devices[d].online {
                        continue;
                    }
                    let effects = self.devices[d].sync.receive(now, &message.bytes);
                    if effects.is_empty() {
                        self.seen.lost_or_late_replies += 1;
                    }
                    for effect in &effects {
                        match effect {
                            Effect::Apply {
                                content: Content::Snapshot(_),
                                ..
                            } => self.seen.snapshots += 1,
                            Effect::Apply { .. } => self.seen.change_batches += 1,
                            Effect::Remove { .. } => self.seen.removals += 1,
                            Effect::Event(_) => {}
                        }
                    }
                    apply(&mut self.devices[d], effects);
                }
            }
        }
    }

    fn poll(&mut self, d: usize) {
        if !self.devices[d].online {
            return;
        }
        let now = self.timestamp();
        if let Some(bytes) = self.devices[d].sync.poll(now) {
            self.network
                .send(&mut self.rng, self.now, To::Server { from: d }, bytes);
        }
    }

    fn storm(&mut self, steps: usize) {
        for _ in 0..steps {
            self.now += 500;
            let d = self.rng.below(self.devices.len());
            match self.rng.below(20) {
                0..=7 => self.edit(d),
                8 => self.reassign(),
                10 if self.rng.chance(20) => self.cancel(),
                9 => self.devices[d].online = !self.devices[d].online,
                _ => self.poll(d),
            }
            self.deliver();
        }
    }

    /// Heals the network and syncs until every device has nothing to send and
    /// a full round brings nothing new.
    fn settle(&mut self) {
        self.network = Network {
            queue: Vec::new(),
            loss: 0,
            duplication: 0,
            max_delay_ms: 0,
        };
        for device in &mut self.devices {
            device.online = true;
        }
        let mut quiet_rounds = 0;
        for _ in 0..200 {
            let before = self.fingerprint();
            // Past any backoff or timeout left from the storm.
            self.now += 60_000;
            for d in 0..self.devices.len() {
                self.poll(d);
                self.deliver();
            }
            let after = self.fingerprint();
            let idle = self.devices.iter().all(|d| d.sync.waiting() == 0);
            quiet_rounds = if idle && before == after {
                quiet_rounds + 1
            } else {
                0
            };
            if quiet_rounds == 2 {
                return;
            }
        }
        panic!("sync did not settle");
    }

    /// What each device holds and how far it has synced.
    fn fingerprint(&mut self) -> Vec<Fingerprint> {
        self.devices
            .iter_mut()
            .map(|device| {
                let docs = device
                    .docs
                    .iter_mut()
                    .map(|(id, doc)| (*id, doc.get_heads()))
                    .collect();
                (device.sync.cursor(TENANT), docs)
            })
            .collect()
    }

    fn assert_converged(&mut self, seed: u64) {
        for d in 0..self.devices.len() {
            let who = self.devices[d].who.clone();
            let scope = self.store.scope(&who, TENANT).unwrap();
            let held: BTreeSet<DocumentId> = self.devices[d].docs.keys().copied().collect();
            assert_eq!(
                held, scope,
                "seed {seed}: device {d} holds other documents than its scope"
            );
            assert_eq!(
                self.devices[d].sync.refused(),
                0,
                "seed {seed}: device {d} had changes refused"
            );
            for doc in &scope {
                let (_, mut server_doc) = self.store.load(*doc).unwrap().unwrap();
                let mut server_heads = server_doc.get_heads();
                let mut device_heads = self.devices[d].docs.get_mut(doc).unwrap().get_heads();
                server_heads.sort();
                device_heads.sort();
                assert_eq!(
                    device_heads, server_heads,
                    "seed {seed}: device {d} differs on {doc}"
                );
            }
        }
    }
}

fn editor_doc<'e>(editor: &'e mut JobEditor<'_>) -> &'e AutoCommit {
    editor.document()
}

fn apply(device: &mut Device, effects: Vec<Effect>) {
    for effect in effects {
        match effect {
            Effect::Apply { doc, content, .. } => match content {
                Content::Snapshot(bytes) => {
                    let mut incoming = AutoCommit::load(&bytes).unwrap();
                    match device.docs.get_mut(&doc) {
                        Some(existing) => {
                            existing.merge(&mut incoming).unwrap();
                        }
                        None => {
                            incoming.set_actor(device.who.actor.clone());
                            device.docs.insert(doc, incoming);
                        }
                    }
                }
                Content::Changes(changes) => {
                    let document = device.docs.get_mut(&doc).unwrap_or_else(|| {
                        panic!("changes for {doc}, which the device does not hold")
                    });
                    let changes: Vec<Change> = changes
                        .into_iter()
                        .map(|c| Change::from_bytes(c).unwrap())
                        .collect();
                    document.apply_changes(changes).unwrap();
                }
            },
            Effect::Remove { doc, .. } => {
                device.docs.remove(&doc);
            }
            Effect::Event(_) => {}
        }
    }
}

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
fn devices_converge_to_the_servers_documents_for_their_scope_through_a_lossy_network() {
    let mut seen = Seen::default();
    for seed in seeds() {
        let mut world = World::new(seed, 3, 6);
        world.storm(300);
        world.settle();
        world.assert_converged(seed);
        seen.snapshots += world.seen.snapshots;
        seen.change_batches += world.seen.change_batches;
        seen.removals += world.seen.removals;
        seen.lost_or_late_replies += world.seen.lost_or_late_replies;
    }
    assert!(
        seen.snapshots > 0
            && seen.change_batches > 0
            && seen.removals > 0
            && seen.lost_or_late_replies > 0,
        "the storm did not exercise every path: {seen:?}"
    );
}

#[test]
fn a_device_reconnecting_with_nothing_changed_gets_an_empty_reply_and_no_document_is_read() {
    let mut world = World::new(99, 2, 20);
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
    fn ever_delivered(&mut self, d: DeviceId, doc: DocumentId) -> Result<bool, Self::Error> {
        self.0.ever_delivered(d, doc)
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
