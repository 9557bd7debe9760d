//! The sync server's rules, one at a time: who may push what, what each
//! device gets, and malformed input.

use std::collections::BTreeSet;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Change, ROOT};
use doorstep_shared::job::{Assignee, OfficeEditor};
use doorstep_shared::prelude::*;
use doorstep_shared::sync::memory::MemoryStore;
use doorstep_shared::sync::server::{SyncServer, scope_record};
use doorstep_shared::sync::store::{Author, DeviceIdentity, SyncStore};
use doorstep_shared::sync::wire::{
    Content, Cursor, DocumentId, Push, SyncReply, SyncRequest, TenantReply, TenantRequest,
};

use crate::setup::*;

const COUNCIL: TenantId = TenantId::from_u128(0xc1);
const OTHER_COUNCIL: TenantId = TenantId::from_u128(0xc2);

struct Fixture {
    store: MemoryStore,
    services: ServiceCatalog,
}

fn identity(n: u128, role: Role, tenant: TenantId) -> DeviceIdentity {
    let device = DeviceId::from_u128(0xd0 + n);
    DeviceIdentity {
        device,
        user: UserId::from_u128(n),
        role,
        teams: BTreeSet::new(),
        tenants: BTreeSet::from([tenant]),
        actor: ActorId::from(device.as_uuid().as_bytes().as_slice()),
    }
}

fn alice() -> DeviceIdentity {
    identity(1, Role::Operative, COUNCIL)
}

fn bob() -> DeviceIdentity {
    identity(2, Role::Operative, COUNCIL)
}

impl Fixture {
    fn new() -> Self {
        Self {
            store: MemoryStore::new(),
            services: ServiceCatalog::builtin().unwrap(),
        }
    }

    /// A booked repair assigned to `user`, stored as the server's.
    fn job(&mut self, tenant: TenantId, n: u128, user: UserId) -> DocumentId {
        let mut doc = booked_repair();
        OfficeEditor::new(&mut doc)
            .unwrap()
            .assign(Some(Assignee::User(user)))
            .unwrap();
        let id = DocumentId::Job(JobId::from_u128(n));
        self.put(tenant, id, &mut doc, &[]);
        id
    }

    fn put(
        &mut self,
        tenant: TenantId,
        id: DocumentId,
        doc: &mut AutoCommit,
        since: &[automerge::ChangeHash],
    ) {
        let changes = doc
            .get_changes(since)
            .into_iter()
            .map(|c| (Author::Server, c))
            .collect();
        let record = scope_record(doc, id, &self.services).unwrap();
        self.store.append(tenant, id, doc, changes, record).unwrap();
    }

    fn reassign(&mut self, id: DocumentId, user: UserId) {
        let (tenant, mut doc) = self.store.load(id).unwrap().unwrap();
        doc.set_actor(server_actor());
        let before = doc.get_heads();
        OfficeEditor::new(&mut doc)
            .unwrap()
            .assign(Some(Assignee::User(user)))
            .unwrap();
        doc.commit();
        self.put(tenant, id, &mut doc, &before);
    }

    fn sync(&mut self, who: &DeviceIdentity, cursor: Cursor, pushes: Vec<Push>) -> TenantReply {
        self.sync_tenant(who, COUNCIL, cursor, pushes)
    }

    fn sync_tenant(
        &mut self,
        who: &DeviceIdentity,
        tenant: TenantId,
        cursor: Cursor,
        pushes: Vec<Push>,
    ) -> TenantReply {
        let request = SyncRequest {
            request_id: 1,
            tenants: vec![TenantRequest {
                tenant,
                cursor,
                pushes,
                definitions: None,
            }],
        };
        let server = SyncServer {
            services: &self.services,
            actor: server_actor(),
            system: person(1, Role::System),
        };
        let reply: SyncReply = server
            .handle(&mut self.store, who, at(0), &request)
            .unwrap();
        reply.tenants.into_iter().next().unwrap()
    }
}

/// The device's copy of a document from a snapshot in a reply.
fn copy_from(reply: &TenantReply, id: DocumentId, who: &DeviceIdentity) -> AutoCommit {
    let content = &reply.updates.iter().find(|u| u.doc == id).unwrap().content;
    let Content::Snapshot(bytes) = content else {
        panic!("expected a snapshot")
    };
    AutoCommit::load(bytes)
        .unwrap()
        .with_actor(who.actor.clone())
}

fn changes_since(doc: &mut AutoCommit, heads: &[automerge::ChangeHash]) -> Vec<Vec<u8>> {
    doc.get_changes(heads)
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

fn child(doc: &AutoCommit, parent: &automerge::ObjId, key: &str) -> automerge::ObjId {
    match automerge::ReadDoc::get(doc, parent, key).unwrap() {
        Some((_, id)) => id,
        None => panic!("no {key}"),
    }
}

fn docs(reply: &TenantReply) -> Vec<DocumentId> {
    reply.updates.iter().map(|u| u.doc).collect()
}

#[test]
fn a_device_gets_its_users_jobs_and_never_another_users_or_councils() {
    let mut fixture = Fixture::new();
    let mine = fixture.job(COUNCIL, 1, alice().user);
    let _bobs = fixture.job(COUNCIL, 2, bob().user);
    let _other_council = fixture.job(OTHER_COUNCIL, 3, alice().user);

    let reply = fixture.sync(&alice(), Cursor::default(), vec![]);
    assert_eq!(docs(&reply), [mine]);

    let refused = fixture.sync_tenant(&alice(), OTHER_COUNCIL, Cursor::default(), vec![]);
    assert!(refused.updates.is_empty());
    assert!(refused.error.unwrap().contains("not enrolled"));

    let dispatcher = identity(9, Role::Dispatcher, COUNCIL);
    let everything = fixture.sync(&dispatcher, Cursor::default(), vec![]);
    assert_eq!(
        everything.updates.len(),
        2,
        "a dispatcher sees the council's jobs, not the other council's"
    );
}

#[test]
fn a_reassigned_job_leaves_one_device_and_reaches_the_other_without_any_edit() {
    let mut fixture = Fixture::new();
    let job = fixture.job(COUNCIL, 1, alice().user);
    let alice_cursor = fixture.sync(&alice(), Cursor::default(), vec![]).cursor;
    let alice_cursor = fixture.sync(&alice(), alice_cursor, vec![]).cursor;
    let bob_cursor = fixture.sync(&bob(), Cursor::default(), vec![]).cursor;

    fixture.reassign(job, bob().user);

    let alice_reply = fixture.sync(&alice(), alice_cursor, vec![]);
    assert_eq!(alice_reply.left_scope, [job]);
    let bob_reply = fixture.sync(&bob(), bob_cursor, vec![]);
    assert_eq!(docs(&bob_reply), [job]);
    assert!(matches!(bob_reply.updates[0].content, Content::Snapshot(_)));
}

#[test]
fn changes_made_before_a_reassignment_are_accepted_after_it() {
    let mut fixture = Fixture::new();
    let job = fixture.job(COUNCIL, 1, alice().user);
    let first = fixture.sync(&alice(), Cursor::default(), vec![]);
    let mut copy = copy_from(&first, job, &alice());

    // Offline, Alice adds a note; meanwhile the office gives the job to Bob.
    let heads = copy.get_heads();
    JobEditor::new(&mut copy, operative())
        .unwrap()
        .splice_notes(0, 0, "Parts ordered. ")
        .unwrap();
    copy.commit();
    fixture.reassign(job, bob().user);

    let push = Push {
        doc: job,
        changes: changes_since(&mut copy, &heads),
    };
    let reply = fixture.sync(&alice(), first.cursor, vec![push]);
    assert_eq!(reply.accepted, [job]);
    assert_eq!(reply.left_scope, [job]);
    let (_, stored) = fixture.store.load(job).unwrap().unwrap();
    assert!(
        Job::load(&stored)
            .unwrap()
            .notes
            .as_str()
            .starts_with("Parts ordered.")
    );
}

#[test]
fn pushed_changes_are_never_echoed_back_but_the_servers_verdict_is_sent() {
    let mut fixture = Fixture::new();
    let job = fixture.job(COUNCIL, 1, alice().user);
    let first = fixture.sync(&alice(), Cursor::default(), vec![]);
    let mut copy = copy_from(&first, job, &alice());
    let heads = copy.get_heads();
    let actor = Actor {
        user: alice().user,
        role: Role::Operative,
        device: Some(alice().device),
    };
    let mut editor = JobEditor::new(&mut copy, actor.clone()).unwrap();
    // A before photo whose picture has reached the server.
    let picture = doorstep_shared::ids::BlobHash::of(b"the before picture");
    fixture.store.upload(picture);
    let photo = doorstep_shared::job::PhotoRef {
        display: Some(picture),
        ..demo::photo(name("before"), &actor, at(3))
    };
    editor.add_photo(PhotoId::from_u128(5), &photo).unwrap();
    editor
        .request_transition(
            TransitionId::from_u128(9),
            name("booked"),
            name("in_progress"),
            Evidence::default(),
            at(3),
        )
        .unwrap();
    copy.commit();
    let pushed = changes_since(&mut copy, &heads);

    let reply = fixture.sync(
        &alice(),
        first.cursor,
        vec![Push {
            doc: job,
            changes: pushed.clone(),
        }],
    );
    assert_eq!(reply.accepted, [job]);
    let Content::Changes(received) = &reply.updates[0].content else {
        panic!("expected changes")
    };
    assert!(
        received.iter().all(|c| !pushed.contains(c)),
        "none of the device's own changes come back"
    );
    let received: Vec<Change> = received
        .iter()
        .map(|c| Change::from_bytes(c.clone()).unwrap())
        .collect();
    copy.apply_changes(received).unwrap();
    let job_now = Job::load(&copy).unwrap();
    assert_eq!(
        job_now.status(&service("housing-repair")).as_str(),
        "in_progress",
        "the verdict arrived"
    );

    // Sending the same changes again is harmless.
    let again = fixture.sync(
        &alice(),
        reply.cursor,
        vec![Push {
            doc: job,
            changes: pushed,
        }],
    );
    assert_eq!(again.accepted, [job]);
    assert!(again.updates.is_empty());
    assert_eq!(again.cursor, reply.cursor, "nothing new was stored");
}

#[rstest::rstest]
#[case::assigning_itself_another_job(|doc: &mut AutoCommit| {
    OfficeEditor::new(doc).unwrap().assign(Some(Assignee::User(bob().user))).unwrap();
})]
#[case::changing_the_schema_version(|doc: &mut AutoCommit| {
    doc.put(ROOT, "schema_version", 7u64).unwrap();
})]
#[case::changing_the_reference(|doc: &mut AutoCommit| {
    let office = child(doc, &ROOT, "office");
    doc.put(&office, "reference", "HR-99999").unwrap();
})]
#[case::writing_itself_a_verdict(|doc: &mut AutoCommit| {
    let verdicts = child(doc, &child(doc, &ROOT, "office"), "verdicts");
    let verdict = doc.put_object(&verdicts, "forged", automerge::ObjType::Map).unwrap();
    doc.put(&verdict, "seq", 99u64).unwrap();
})]
fn a_push_touching_server_owned_fields_is_refused_and_nothing_is_stored(
    #[case] tamper: fn(&mut AutoCommit),
) {
    let mut fixture = Fixture::new();
    let job = fixture.job(COUNCIL, 1, alice().user);
    let first = fixture.sync(&alice(), Cursor::default(), vec![]);
    let mut copy = copy_from(&first, job, &alice());
    let heads = copy.get_heads();
    tamper(&mut copy);
    copy.commit();
    let changes = changes_since(&mut copy, &heads);
    assert!(!changes.is_empty());
    let clock_before = fixture.store.clock(COUNCIL).unwrap();

    let reply = fixture.sync(&alice(), first.cursor, vec![Push { doc: job, changes }]);
    assert!(reply.accepted.is_empty());
    assert!(
        reply.refused[0]
            .reason
            .contains("only the council's server may change"),
        "{:?}",
        reply.refused
    );
    assert_eq!(fixture.store.clock(COUNCIL).unwrap(), clock_before);
}

#[test]
fn changes_signed_by_another_actor_are_refused() {
    let mut fixture = Fixture::new();
    let job = fixture.job(COUNCIL, 1, alice().user);
    let first = fixture.sync(&alice(), Cursor::default(), vec![]);
    let mut copy = copy_from(&first, job, &alice()).with_actor(bob().actor);
    let heads = copy.get_heads();
    JobEditor::new(&mut copy, operative())
        .unwrap()
        .splice_notes(0, 0, "As Bob. ")
        .unwrap();
    copy.commit();

    let reply = fixture.sync(
        &alice(),
        first.cursor,
        vec![Push {
            doc: job,
            changes: changes_since(&mut copy, &heads),
        }],
    );
    assert!(
        reply.refused[0].reason.contains("another device's key"),
        "{:?}",
        reply.refused
    );
}

#[test]
fn pushes_to_jobs_never_sent_to_the_device_or_unknown_or_malformed_are_refused() {
    let mut fixture = Fixture::new();
    let bobs = fixture.job(COUNCIL, 2, bob().user);
    let cursor = fixture.sync(&alice(), Cursor::default(), vec![]).cursor;
    let unknown = DocumentId::Job(JobId::from_u128(404));
    // A change of her own making, to a job she was never sent.
    let mut made_up = AutoCommit::new().with_actor(alice().actor);
    made_up.put(ROOT, "notes", "mine now").unwrap();
    made_up.commit();
    let reply = fixture.sync(
        &alice(),
        cursor,
        vec![
            Push {
                doc: bobs,
                changes: changes_since(&mut made_up, &[]),
            },
            Push {
                doc: unknown,
                changes: vec![],
            },
        ],
    );
    assert!(reply.refused[0].reason.contains("not given to you now"));
    assert!(reply.refused[1].reason.contains("no such job"));

    let mine = fixture.job(COUNCIL, 3, alice().user);
    let reply = fixture.sync(&alice(), cursor, vec![]);
    let reply = fixture.sync(
        &alice(),
        reply.cursor,
        vec![Push {
            doc: mine,
            changes: vec![b"not a change".to_vec()],
        }],
    );
    assert_eq!(reply.refused.len(), 1, "{reply:?}");
}

#[test]
fn a_stored_v1_job_is_migrated_by_the_server_before_a_device_receives_it() {
    let mut fixture = Fixture::new();
    let mut v1 =
        AutoCommit::load(include_bytes!("../fixtures/v1/job-v1-worked.automerge")).unwrap();
    let id = DocumentId::Job(JobId::from_u128(0x317));
    // A v1 job is stored as it was, assigned to Alice in the scope record.
    let changes = v1
        .get_changes(&[])
        .into_iter()
        .map(|c| (Author::Server, c))
        .collect();
    let record = doorstep_shared::sync::store::ScopeRecord::Job {
        assignee: Some(Assignee::User(alice().user)),
        open: true,
    };
    fixture
        .store
        .append(COUNCIL, id, &mut v1, changes, record)
        .unwrap();

    let reply = fixture.sync(&alice(), Cursor::default(), vec![]);
    let copy = copy_from(&reply, id, &alice());
    let job = Job::load(&copy).unwrap();
    assert_eq!(job.schema_version, 2, "the device got the migrated job");
    assert!(
        job.notes.as_str().contains("roof valley"),
        "{:?}",
        job.notes
    );
    let (_, mut stored) = fixture.store.load(id).unwrap().unwrap();
    assert_eq!(
        doorstep_shared::document::schema_version(&stored).unwrap(),
        2,
        "the migration was stored, as the server's change"
    );
    let last = stored.get_changes(&[]).pop().unwrap();
    assert_eq!(last.actor_id(), &server_actor());
}

#[test]
fn notes_written_by_an_older_app_after_the_server_migrated_the_job_are_kept() {
    let mut fixture = Fixture::new();
    let bytes = include_bytes!("../fixtures/v1/job-v1-worked.automerge");
    let mut v1 = AutoCommit::load(bytes).unwrap();
    let id = DocumentId::Job(JobId::from_u128(0x318));
    let changes = v1
        .get_changes(&[])
        .into_iter()
        .map(|c| (Author::Server, c))
        .collect();
    let record = doorstep_shared::sync::store::ScopeRecord::Job {
        assignee: Some(Assignee::User(alice().user)),
        open: true,
    };
    fixture
        .store
        .append(COUNCIL, id, &mut v1, changes, record)
        .unwrap();
    // Alice's phone got the job before the upgrade; the server migrates it now.
    let first = fixture.sync(&alice(), Cursor::default(), vec![]);

    // Her phone still runs the v1 app: offline, it rewrites the notes string.
    let mut old_copy = AutoCommit::load(bytes).unwrap().with_actor(alice().actor);
    let heads = old_copy.get_heads();
    old_copy
        .put(ROOT, "notes", "Roof valley cleared, gutter replaced.")
        .unwrap();
    old_copy.commit();
    let push = Push {
        doc: id,
        changes: changes_since(&mut old_copy, &heads),
    };
    let reply = fixture.sync(&alice(), first.cursor, vec![push]);
    assert_eq!(reply.accepted, [id], "{:?}", reply.refused);

    let (_, stored) = fixture.store.load(id).unwrap().unwrap();
    let notes = Job::load(&stored).unwrap().notes.as_str().to_owned();
    assert!(
        notes.contains("roof valley blocked with leaves"),
        "the migrated text stays: {notes}"
    );
    assert!(
        notes.contains("Roof valley cleared, gutter replaced."),
        "the old app's note is kept: {notes}"
    );
}

#[test]
fn a_device_receives_its_councils_definitions_once_and_then_only_what_changed() {
    use doorstep_shared::sync::device::{DeviceSync, Effect};

    let mut fixture = Fixture::new();
    fixture.services = ServiceCatalog::builtin()
        .unwrap()
        .with_overrides([("pest-control.toml", PEST_CONTROL)])
        .unwrap();
    let who = alice();
    let mut device = DeviceSync::new([COUNCIL]);
    let exchange = |fixture: &mut Fixture, device: &mut DeviceSync| {
        let request = SyncRequest::decode(&device.poll(at(0)).unwrap()).unwrap();
        let server = SyncServer {
            services: &fixture.services,
            actor: server_actor(),
            system: person(9, Role::System),
        };
        let reply = server
            .handle(&mut fixture.store, &who, at(0), &request)
            .unwrap();
        device
            .receive(at(0), &reply.encode())
            .into_iter()
            .filter_map(|effect| match effect {
                Effect::Definitions { tenant, changes } => Some((tenant, changes)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };

    let first = exchange(&mut fixture, &mut device);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, COUNCIL);
    assert_eq!(first[0].1.changed.len(), 7, "every definition, once");
    assert!(
        exchange(&mut fixture, &mut device).is_empty(),
        "nothing changed"
    );

    // The council edits its file: the next sync finds the digests differ,
    // and the one after, listing what the device holds, carries that file
    // alone.
    let edited = PEST_CONTROL.replace("Pest control", "Pests and vermin");
    fixture.services = ServiceCatalog::builtin()
        .unwrap()
        .with_overrides([("pest-control.toml", edited.as_str())])
        .unwrap();
    assert!(!device.wants_definitions());
    assert!(exchange(&mut fixture, &mut device).is_empty());
    assert!(device.wants_definitions());
    let next = exchange(&mut fixture, &mut device);
    assert!(!device.wants_definitions());
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].1.changed.len(), 1);
    assert_eq!(next[0].1.changed[0].text, edited);
    assert!(next[0].1.removed.is_empty());

    // It removes it: the device is told to drop it.
    fixture.services = ServiceCatalog::builtin().unwrap();
    assert!(exchange(&mut fixture, &mut device).is_empty());
    let next = exchange(&mut fixture, &mut device);
    assert_eq!(next[0].1.removed, ["pest-control".parse().unwrap()]);
    assert!(next[0].1.changed.is_empty());

    // A restarted device that says what it holds gets nothing again.
    let mut restarted = DeviceSync::restore(&device.save()).unwrap();
    restarted.hold_definitions(COUNCIL, device.definitions(COUNCIL));
    assert!(exchange(&mut fixture, &mut restarted).is_empty());
}
