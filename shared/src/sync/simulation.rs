#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]
//! Deterministic simulation of sync: a server on the in-memory store, a few
//! devices, and a network that loses, duplicates, delays and reorders
//! messages, while people edit offline and the office reassigns jobs. After
//! the storm the network heals, and every device must hold exactly the
//! server's documents for its scope, change for change.
//!
//! One device is an adversary: now and then, instead of an honest edit, it
//! tries a random forgery (a request in another's name, a rewritten
//! record, a write to the server's part or a contact). None may land, the
//! honest devices must still converge, and the adversary's honest edits to
//! the documents it did not forge must land too.
//!
//! Test support, compiled with the `testing` feature: the same simulation
//! runs against the in-memory store here and the database stores in the
//! server's tests. Failures panic with the seed, as tests expect.

use std::collections::{BTreeMap, BTreeSet};

use super::device::{DeviceSync, Effect};
use super::server::{SyncServer, scope_record};
use super::store::{Author, DeviceIdentity, SyncStore};
use super::wire::{Content, Cursor, DocumentId, SyncRequest};
use crate::job::{Assignee, OfficeEditor};
use crate::prelude::*;
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Change, ReadDoc};

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

/// The simulated council; database stores must have it before a run.
pub const TENANT: TenantId = TenantId::from_u128(0x7e);
const TEAM: TeamId = TeamId::from_u128(0x7ea);

pub struct Device {
    pub who: DeviceIdentity,
    pub sync: DeviceSync,
    pub docs: BTreeMap<DocumentId, AutoCommit>,
    pub online: bool,
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

pub struct Network {
    queue: Vec<Message>,
    pub loss: u64,
    pub duplication: u64,
    pub max_delay_ms: i64,
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

pub struct World<S> {
    rng: Rng,
    pub store: S,
    pub services: ServiceCatalog,
    pub server_actor: ActorId,
    pub devices: Vec<Device>,
    pub network: Network,
    pub now: i64,
    jobs: Vec<JobId>,
    pub seen: Seen,
    /// The adversary's index among the devices, if there is one.
    pub adversary: Option<usize>,
    /// Documents the adversary forged a change to, and the changes.
    forged: BTreeMap<DocumentId, Vec<automerge::ChangeHash>>,
}

/// What happened during a run, so the test can show the storm exercised
/// what it claims to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub snapshots: usize,
    pub change_batches: usize,
    pub removals: usize,
    pub lost_or_late_replies: usize,
    pub forgeries: usize,
}

impl<S: SyncStore> World<S> {
    pub fn new(seed: u64, store: S, devices: usize, jobs: usize) -> Self {
        let services = ServiceCatalog::builtin().unwrap();
        let mut world = World {
            rng: Rng(seed),
            store,
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
            adversary: None,
            forged: BTreeMap::new(),
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

    pub fn timestamp(&self) -> Timestamp {
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

    /// Adds an adversarial operative in the team: it sees the team's jobs
    /// and rounds like an honest colleague, and forges now and then.
    pub fn with_adversary(mut self) -> Self {
        let n = self.devices.len();
        let device = DeviceId::from_u128(0xbad0 + n as u128);
        self.devices.push(Device {
            who: DeviceIdentity {
                device,
                user: UserId::from_u128(0xbad),
                role: Role::Operative,
                teams: BTreeSet::from([TEAM]),
                tenants: BTreeSet::from([TENANT]),
                actor: ActorId::from(device.as_uuid().as_bytes().as_slice()),
            },
            sync: DeviceSync::new([TENANT]),
            docs: BTreeMap::new(),
            online: true,
        });
        self.adversary = Some(n);
        self
    }

    /// The adversary writes a random forgery to a random document it holds
    /// and may still edit, to push with its honest changes.
    fn forge(&mut self, d: usize) {
        let now = self.timestamp();
        let choice = self.rng.below(5);
        let pick = self.rng.next() as usize;
        let key = u128::from(self.rng.next());
        let device = &mut self.devices[d];
        let editable: Vec<DocumentId> = device
            .docs
            .keys()
            .filter(|doc| device.sync.read_only(**doc).is_none())
            .copied()
            .collect();
        let Some(doc) = editable.get(pick % editable.len().max(1)).copied() else {
            return;
        };
        let document = device.docs.get_mut(&doc).unwrap();
        let before = document.get_heads();
        let someone_else = dispatcher();
        match (doc, choice) {
            (DocumentId::Contact(_), _) => {
                document.put(automerge::ROOT, "sms_opt_out", true).unwrap();
            }
            (_, 0) => {
                let office = match document.get(automerge::ROOT, "office").unwrap() {
                    Some((_, id)) => id,
                    None => return,
                };
                document.put(&office, "reference", "FORGED").unwrap();
            }
            (DocumentId::Job(_), 1) => JobEditor::new(document, someone_else)
                .unwrap()
                .request_transition(
                    TransitionId::from_u128(key),
                    name("booked"),
                    name("cancelled"),
                    Evidence::default(),
                    now,
                )
                .unwrap(),
            (DocumentId::Job(_), 2) => JobEditor::new(document, someone_else)
                .unwrap()
                .tick(&name("supply_isolated"), true, now)
                .unwrap(),
            (DocumentId::Round(_), 1 | 2) => {
                let service = self.services.get(&name("waste-round")).unwrap();
                let property = PropertyId::from_u128(1 + (pick % 6) as u128);
                RoundEditor::new(document, someone_else)
                    .unwrap()
                    .log_outcome(service, property, name("collected"), None, None, now)
                    .unwrap()
                    .unwrap();
            }
            _ => {
                // Rewrite a record already made, or delete it.
                let Some((_, requests)) = document.get(automerge::ROOT, "requests").unwrap() else {
                    return;
                };
                let Some(key) = document.keys(&requests).next() else {
                    return;
                };
                if choice == 3 {
                    let Some((_, record)) = document.get(&requests, key.as_str()).unwrap() else {
                        return;
                    };
                    document.put(&record, "to", "completed").unwrap();
                } else {
                    document.delete(&requests, key.as_str()).unwrap();
                }
            }
        }
        document.commit();
        let changes = document.get_changes(&before);
        if changes.is_empty() {
            return;
        }
        self.forged
            .entry(doc)
            .or_default()
            .extend(changes.iter().map(|c| c.hash()));
        self.seen.forgeries += 1;
        let changes = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
        device.sync.record_local(TENANT, doc, changes);
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
            .filter(|doc| device.sync.read_only(**doc).is_none())
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
                            Effect::Definitions { .. } | Effect::Event(_) => {}
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

    pub fn storm(&mut self, steps: usize) {
        for _ in 0..steps {
            self.now += 500;
            let d = self.rng.below(self.devices.len());
            match self.rng.below(20) {
                0..=2 if self.adversary == Some(d) => self.forge(d),
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
    pub fn settle(&mut self) {
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

    pub fn assert_converged(&mut self, seed: u64) {
        for hashes in self.forged.values() {
            for hash in hashes {
                for doc in self.forged.keys() {
                    if let Some((_, stored)) = self.store.load(*doc).unwrap() {
                        assert!(
                            stored.get_change_by_hash(hash).is_none(),
                            "seed {seed}: a forged change landed on {doc}"
                        );
                    }
                }
            }
        }
        for d in 0..self.devices.len() {
            let who = self.devices[d].who.clone();
            let scope = self.store.scope(&who, TENANT).unwrap();
            let held: BTreeSet<DocumentId> = self.devices[d].docs.keys().copied().collect();
            assert_eq!(
                held, scope,
                "seed {seed}: device {d} holds other documents than its scope"
            );
            let adversary = self.adversary == Some(d);
            if adversary {
                // Only what it forged was refused: its honest edits to every
                // other document landed.
                let refused = self.devices[d].sync.refused_documents();
                let forged: BTreeSet<DocumentId> = self.forged.keys().copied().collect();
                assert!(
                    refused.is_subset(&forged),
                    "seed {seed}: the adversary had honest changes refused: {refused:?}"
                );
            } else {
                assert_eq!(
                    self.devices[d].sync.refused(),
                    0,
                    "seed {seed}: device {d} had changes refused"
                );
            }
            for doc in &scope {
                if adversary && self.devices[d].sync.read_only(*doc).is_some() {
                    continue;
                }
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
    apply_effects(&mut device.docs, &device.who.actor, effects);
}

/// Applies sync effects to documents held in memory, as a device's shell
/// does: snapshots are merged or added (signed by `actor` from then on),
/// changes applied, removals done. Events are ignored.
pub fn apply_effects(
    docs: &mut BTreeMap<DocumentId, AutoCommit>,
    actor: &ActorId,
    effects: Vec<Effect>,
) {
    for effect in effects {
        match effect {
            Effect::Apply { doc, content, .. } => match content {
                Content::Snapshot(bytes) => {
                    let mut incoming = AutoCommit::load(&bytes).unwrap();
                    match docs.get_mut(&doc) {
                        Some(existing) => {
                            existing.merge(&mut incoming).unwrap();
                        }
                        None => {
                            incoming.set_actor(actor.clone());
                            docs.insert(doc, incoming);
                        }
                    }
                }
                Content::Changes(changes) => {
                    let document = docs.get_mut(&doc).unwrap_or_else(|| {
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
                docs.remove(&doc);
            }
            Effect::Definitions { .. } | Effect::Event(_) => {}
        }
    }
}

fn name<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse().unwrap()
}

/// Minutes after 2026-11-27 08:00 UTC.
fn at(minutes: i64) -> Timestamp {
    Timestamp::at(name("2026-11-27"), 8, 0).plus_minutes(minutes)
}

fn person(n: u128, role: Role) -> Actor {
    Actor {
        user: UserId::from_u128(n),
        role,
        device: Some(DeviceId::from_u128(n)),
    }
}

fn dispatcher() -> Actor {
    person(20, Role::Dispatcher)
}

/// The simulated server node's actor id.
pub fn server_actor() -> ActorId {
    ActorId::from(b"server-node-1".as_slice())
}

/// Runs one seed: a storm of `steps`, then the healed network settles, and
/// every device must match the server. Returns what the storm exercised.
pub fn run<S: SyncStore>(seed: u64, store: S, steps: usize) -> Seen {
    let mut world = World::new(seed, store, 3, 6).with_adversary();
    world.storm(steps);
    world.settle();
    world.assert_converged(seed);
    world.seen
}

impl std::ops::AddAssign for Seen {
    fn add_assign(&mut self, other: Seen) {
        self.snapshots += other.snapshots;
        self.change_batches += other.change_batches;
        self.removals += other.removals;
        self.lost_or_late_replies += other.lost_or_late_replies;
        self.forgeries += other.forgeries;
    }
}
