//! The server's write policy tried as a hostile phone would, over HTTP
//! against a real server on SQLite and on PostgreSQL: one row per document
//! kind, record kind and attack, each pushed by a freshly enrolled phone of
//! the demo's operative or crew member, each refused with its reason while
//! nothing reaches the server's copy; then every edit the app makes, pushed
//! honestly, accepted; and a job's history naming exactly the people the
//! server's records say worked on it.

use std::collections::BTreeSet;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc};
use doorstep_server::demo::{DEMO_CREW, DEMO_DISPATCHER, DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_server::state::SYSTEM_USER;
use doorstep_shared::job::{PhotoRef, Tick};
use doorstep_shared::prelude::*;
use doorstep_shared::round::Outcome;
use doorstep_shared::sync::device::SyncEvent;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{ADMIN_TOKEN, TestDevice, TestServer, test_now};

use crate::office::escaped;
use crate::office_work::Office;

/// The demo's crew member, Sam Lee.
const SAM: UserId = UserId::from_u128(0xd04);

fn later(minutes: i64) -> Timestamp {
    test_now().plus_minutes(minutes)
}

fn job(number: u128) -> DocumentId {
    DocumentId::Job(JobId::from_u128(0xd00_0000 + number))
}

fn name<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse().unwrap()
}

fn child(doc: &AutoCommit, parent: &ObjId, key: &str) -> ObjId {
    match doc.get(parent, key).unwrap() {
        Some((automerge::Value::Object(_), id)) => id,
        other => panic!("no object at {key}: {other:?}"),
    }
}

/// What a forgery knows: the phone's honest self, and facts of the world.
struct Ctx {
    /// The phone's user, role and device, as an honest edit names them.
    me: Actor,
    /// A picture another phone sent for a job.
    borrowed: BlobHash,
    /// A property on the demo round.
    property: PropertyId,
}

impl Ctx {
    fn as_user(&self, user: UserId, role: Role) -> Actor {
        Actor {
            user,
            role,
            device: Some(self.me.device.unwrap()),
        }
    }
}

/// Whose phone tries it, and on what.
#[derive(Clone, Copy)]
enum Target {
    /// Priya's phone, on a job (or its contact) by number.
    Job(u128),
    Contact(u128),
    /// Sam's phone, on the demo round.
    Round,
}

struct Attack {
    name: &'static str,
    target: Target,
    forge: fn(&mut AutoCommit, &Ctx),
    refusal: &'static str,
}

const NOT_THE_AUTHOR: &str = "names another person or device as its author";
const RECORDED: &str = "was already recorded and cannot change";
const SERVER_OWNED: &str = "which only the council's server may change";
const CONTACT: &str = "a resident's contact details cannot be changed from a device";

fn request(doc: &mut AutoCommit, actor: Actor, from: &str, to: &str) {
    JobEditor::new(doc, actor)
        .unwrap()
        .request_transition(
            TransitionId::from_u128(0xf0f0),
            name(from),
            name(to),
            Evidence::default(),
            later(5),
        )
        .unwrap();
}

fn first_key(doc: &AutoCommit, part: &str) -> String {
    let map = child(doc, &ROOT, part);
    doc.keys(&map).next().expect("a record to attack")
}

fn outcome(kind: &str, by: Actor) -> Outcome {
    Outcome {
        kind: name(kind),
        note: None,
        at: later(5),
        by,
        photo: None,
    }
}

fn attacks() -> Vec<Attack> {
    vec![
        // Transition requests: create-once, authored by the pusher.
        Attack {
            name: "job request claiming another user (the dispatcher)",
            target: Target::Job(2),
            forge: |doc, ctx| {
                request(
                    doc,
                    ctx.as_user(DEMO_DISPATCHER, Role::Dispatcher),
                    "booked",
                    "cancelled",
                )
            },
            refusal: NOT_THE_AUTHOR,
        },
        Attack {
            name: "job request claiming the system",
            target: Target::Job(2),
            forge: |doc, _| {
                let system = Actor {
                    user: SYSTEM_USER,
                    role: Role::System,
                    device: None,
                };
                request(doc, system, "booked", "needs_rebooking")
            },
            refusal: NOT_THE_AUTHOR,
        },
        Attack {
            name: "job request claiming a resident",
            target: Target::Job(2),
            forge: |doc, _| {
                let resident = Actor {
                    user: UserId::from_u128(0xbad),
                    role: Role::Resident,
                    device: None,
                };
                request(doc, resident, "booked", "cancelled")
            },
            refusal: NOT_THE_AUTHOR,
        },
        Attack {
            name: "job request naming its user but another device",
            target: Target::Job(2),
            forge: |doc, ctx| {
                let elsewhere = Actor {
                    device: Some(DeviceId::from_u128(0xbad)),
                    ..ctx.me.clone()
                };
                request(doc, elsewhere, "booked", "in_progress")
            },
            refusal: NOT_THE_AUTHOR,
        },
        Attack {
            name: "job request rewritten after its verdict",
            target: Target::Job(1),
            forge: |doc, _| {
                let key = first_key(doc, "requests");
                let record = child(doc, &child(doc, &ROOT, "requests"), &key);
                doc.put(&record, "to", "completed").unwrap();
            },
            refusal: RECORDED,
        },
        Attack {
            name: "job request deleted",
            target: Target::Job(1),
            forge: |doc, _| {
                let key = first_key(doc, "requests");
                let requests = child(doc, &ROOT, "requests");
                doc.delete(&requests, key.as_str()).unwrap();
            },
            refusal: "records are never deleted",
        },
        Attack {
            name: "job request replaced whole under its key",
            target: Target::Job(1),
            forge: |doc, ctx| {
                let key = first_key(doc, "requests");
                let requests = child(doc, &ROOT, "requests");
                let forged = doorstep_shared::transition::TransitionRequest {
                    from: name("in_progress"),
                    to: name("completed"),
                    actor: ctx.me.clone(),
                    at: later(5),
                    evidence: Evidence::default(),
                };
                doc.put_object(&requests, key.as_str(), ObjType::Map)
                    .unwrap();
                autosurgeon::reconcile_prop(doc, requests, key.as_str(), &forged).unwrap();
            },
            refusal: RECORDED,
        },
        // Timeline events and photos: create-once, authored by the pusher.
        Attack {
            name: "job action claiming another user",
            target: Target::Job(2),
            forge: |doc, ctx| {
                JobEditor::new(doc, ctx.as_user(DEMO_DISPATCHER, Role::Dispatcher))
                    .unwrap()
                    .log_action(EventId::from_u128(0xf1), name("on_my_way"), None, later(5))
                    .unwrap();
            },
            refusal: NOT_THE_AUTHOR,
        },
        Attack {
            name: "job photo claiming another user",
            target: Target::Job(2),
            forge: |doc, ctx| {
                let other = ctx.as_user(DEMO_DISPATCHER, Role::Dispatcher);
                JobEditor::new(doc, ctx.me.clone())
                    .unwrap()
                    .add_photo(
                        PhotoId::from_u128(0xf2),
                        &demo::photo(name("before"), &other, later(5)),
                    )
                    .unwrap();
            },
            refusal: NOT_THE_AUTHOR,
        },
        Attack {
            name: "job photo edited after it was recorded",
            target: Target::Job(1),
            forge: |doc, _| {
                let key = first_key(doc, "photos");
                let photo = child(doc, &child(doc, &ROOT, "photos"), &key);
                doc.put(&photo, "kind", "after").unwrap();
            },
            refusal: RECORDED,
        },
        // Checklist ticks: current state, replaced whole, naming the pusher.
        Attack {
            name: "job tick naming another user",
            target: Target::Job(2),
            forge: |doc, ctx| {
                JobEditor::new(doc, ctx.as_user(DEMO_DISPATCHER, Role::Dispatcher))
                    .unwrap()
                    .tick(&name("supply_isolated"), true, later(5))
                    .unwrap();
            },
            refusal: NOT_THE_AUTHOR,
        },
        Attack {
            name: "job tick of an item not on the checklist",
            target: Target::Job(2),
            forge: |doc, ctx| {
                let ticks = child(doc, &ROOT, "ticks");
                let tick = Tick {
                    done: true,
                    by: ctx.me.clone(),
                    at: later(5),
                };
                doc.put_object(&ticks, "roof_replaced", ObjType::Map)
                    .unwrap();
                autosurgeon::reconcile_prop(doc, ticks, "roof_replaced", &tick).unwrap();
            },
            refusal: "there is no checklist item \"roof_replaced\" on this job",
        },
        Attack {
            name: "job ticks replaced as a whole",
            target: Target::Job(2),
            forge: |doc, _| {
                doc.put_object(ROOT, "ticks", ObjType::Map).unwrap();
            },
            refusal: "replaces the checklist tick as a whole",
        },
        // The server's part and anything unnamed.
        Attack {
            name: "job assigned by the phone",
            target: Target::Job(2),
            forge: |doc, _| {
                let office = child(doc, &ROOT, "office");
                doc.put(&office, "reference", "HR-99999").unwrap();
            },
            refusal: SERVER_OWNED,
        },
        Attack {
            name: "job verdict written by the phone",
            target: Target::Job(2),
            forge: |doc, _| {
                let verdicts = child(doc, &child(doc, &ROOT, "office"), "verdicts");
                let verdict = doc.put_object(&verdicts, "forged", ObjType::Map).unwrap();
                doc.put(&verdict, "seq", 99u64).unwrap();
            },
            refusal: SERVER_OWNED,
        },
        Attack {
            name: "a request marked as waiting for its photos by the phone",
            target: Target::Job(2),
            forge: |doc, _| {
                let office = child(doc, &ROOT, "office");
                let waiting = doc.put_object(&office, "waiting", ObjType::List).unwrap();
                doc.insert_object(&waiting, 0, ObjType::Map).unwrap();
            },
            refusal: SERVER_OWNED,
        },
        Attack {
            name: "job key the schema does not have",
            target: Target::Job(2),
            forge: |doc, _| {
                doc.put(ROOT, "priority_override", "emergency").unwrap();
            },
            refusal: "which is not part of a job",
        },
        Attack {
            name: "job change signed with another actor",
            target: Target::Job(2),
            forge: |doc, ctx| {
                doc.set_actor(ActorId::from(b"someone-else".as_slice()));
                JobEditor::new(doc, ctx.me.clone())
                    .unwrap()
                    .tick(&name("supply_isolated"), true, later(5))
                    .unwrap();
            },
            refusal: "signed by another device's key",
        },
        // Contact documents: read-only for every device.
        Attack {
            name: "contact phone number redirected",
            target: Target::Contact(2),
            forge: |doc, _| {
                doc.put(ROOT, "phone", "07700900999").unwrap();
            },
            refusal: CONTACT,
        },
        Attack {
            name: "contact opted out of texts",
            target: Target::Contact(2),
            forge: |doc, _| {
                doc.put(ROOT, "sms_opt_out", true).unwrap();
            },
            refusal: CONTACT,
        },
        // Round outcomes: current state, naming the pusher, with evidence.
        Attack {
            name: "round outcome naming another user",
            target: Target::Round,
            forge: |doc, ctx| {
                let services = ServiceCatalog::builtin().unwrap();
                let service = services.get(&name("waste-round")).unwrap();
                RoundEditor::new(doc, ctx.as_user(DEMO_OPERATIVE, Role::Crew))
                    .unwrap()
                    .log_outcome(
                        service,
                        ctx.property,
                        name("collected"),
                        None,
                        None,
                        later(5),
                    )
                    .unwrap()
                    .unwrap();
            },
            refusal: NOT_THE_AUTHOR,
        },
        Attack {
            name: "round outcome without the photo its service demands",
            target: Target::Round,
            forge: |doc, ctx| {
                let outcomes = child(doc, &ROOT, "outcomes");
                let key = ctx.property.to_string();
                let record = outcome("contaminated", ctx.me.clone());
                doc.put_object(&outcomes, key.as_str(), ObjType::Map)
                    .unwrap();
                autosurgeon::reconcile_prop(doc, outcomes, key.as_str(), &record).unwrap();
            },
            refusal: "was refused: ",
        },
        Attack {
            name: "round outcome without the note its service demands",
            target: Target::Round,
            forge: |doc, ctx| {
                let outcomes = child(doc, &ROOT, "outcomes");
                let key = ctx.property.to_string();
                let record = outcome("other", ctx.me.clone());
                doc.put_object(&outcomes, key.as_str(), ObjType::Map)
                    .unwrap();
                autosurgeon::reconcile_prop(doc, outcomes, key.as_str(), &record).unwrap();
            },
            refusal: "was refused: ",
        },
        Attack {
            name: "round outcome for a property not on the round",
            target: Target::Round,
            forge: |doc, ctx| {
                let outcomes = child(doc, &ROOT, "outcomes");
                let record = outcome("collected", ctx.me.clone());
                doc.put_object(&outcomes, "elsewhere", ObjType::Map)
                    .unwrap();
                autosurgeon::reconcile_prop(doc, outcomes, "elsewhere", &record).unwrap();
            },
            refusal: "there is no property \"elsewhere\" on this round",
        },
        Attack {
            name: "round outcome with a photo borrowed from a job",
            target: Target::Round,
            forge: |doc, ctx| {
                let services = ServiceCatalog::builtin().unwrap();
                let service = services.get(&name("waste-round")).unwrap();
                let photo = PhotoId::from_u128(0xf3);
                let picture = PhotoRef {
                    display: Some(ctx.borrowed),
                    ..demo::photo(name("evidence"), &ctx.me, later(5))
                };
                let mut editor = RoundEditor::new(doc, ctx.me.clone()).unwrap();
                editor.add_photo(photo, &picture).unwrap();
                editor
                    .log_outcome(
                        service,
                        ctx.property,
                        name("contaminated"),
                        None,
                        Some(photo),
                        later(5),
                    )
                    .unwrap()
                    .unwrap();
            },
            refusal: "uses a picture already sent for another job or round",
        },
        Attack {
            name: "round finished as the system",
            target: Target::Round,
            forge: |doc, _| {
                let system = Actor {
                    user: SYSTEM_USER,
                    role: Role::System,
                    device: None,
                };
                RoundEditor::new(doc, system)
                    .unwrap()
                    .request_transition(
                        TransitionId::from_u128(0xf4),
                        name("planned"),
                        name("in_progress"),
                        Evidence::default(),
                        later(5),
                    )
                    .unwrap();
            },
            refusal: NOT_THE_AUTHOR,
        },
        Attack {
            name: "round reordered by the phone",
            target: Target::Round,
            forge: |doc, _| {
                let office = child(doc, &ROOT, "office");
                doc.put(&office, "crew", TeamId::from_u128(0xbad).to_string())
                    .unwrap();
            },
            refusal: SERVER_OWNED,
        },
    ]
}

/// A new phone for `user`, enrolled with a code set up behind the back
/// office (the world before the attack), and synced.
async fn phone(server: &TestServer, user: UserId, code: &str) -> TestDevice {
    let code = code.to_owned();
    let issued = code.clone();
    server
        .state
        .with_store(move |store| {
            store.create_enrolment(&issued, user, None, test_now().plus_minutes(60))
        })
        .await
        .unwrap();
    let mut phone = TestDevice::enrol(server, &code, DEMO_TENANT).await.unwrap();
    assert_eq!(phone.sync(server, later(0)).await.unwrap(), 200);
    phone
}

/// The server's heads of a document, to show nothing of a refusal landed.
async fn server_heads(server: &TestServer, doc: DocumentId) -> BTreeSet<automerge::ChangeHash> {
    let (_, mut document) = server
        .state
        .with_sync(move |sync, _| sync.load(doc))
        .await
        .unwrap()
        .unwrap();
    document.get_heads().into_iter().collect()
}

async fn every_forgery_is_refused(server: &TestServer) {
    // An honest photo of a job, sent by Priya's phone: the picture the
    // crew's forgery borrows.
    let mut priya = phone(server, DEMO_OPERATIVE, "WRITE-POLICY-PRIYA").await;
    let borrowed = BlobHash::of(b"a picture of job 3");
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(priya.device),
    };
    priya
        .edit(DEMO_TENANT, job(3), |doc| {
            let picture = PhotoRef {
                display: Some(borrowed),
                ..demo::photo(name("before"), &me, later(1))
            };
            JobEditor::new(doc, me.clone())
                .unwrap()
                .add_photo(PhotoId::from_u128(0xf5), &picture)
                .unwrap();
        })
        .unwrap();
    priya.sync(server, later(1)).await.unwrap();
    assert_eq!(priya.sync.refused(), 0, "{:?}", priya.events);

    let sam = phone(server, SAM, "WRITE-POLICY-SAM").await;
    let round = *sam
        .docs
        .keys()
        .find(|doc| matches!(doc, DocumentId::Round(_)))
        .unwrap();
    let property = *Round::load(&sam.docs[&round])
        .unwrap()
        .office
        .properties
        .keys()
        .next()
        .unwrap();

    let mut failures = Vec::new();
    for (n, attack) in attacks().into_iter().enumerate() {
        let (user, role, doc) = match attack.target {
            Target::Job(number) => (DEMO_OPERATIVE, Role::Operative, job(number)),
            Target::Contact(number) => (
                DEMO_OPERATIVE,
                Role::Operative,
                DocumentId::Contact(JobId::from_u128(0xd00_0000 + number)),
            ),
            Target::Round => (SAM, Role::Crew, round),
        };
        let mut device = phone(server, user, &format!("WRITE-POLICY-{n}")).await;
        let ctx = Ctx {
            me: Actor {
                user,
                role,
                device: Some(device.device),
            },
            borrowed,
            property,
        };
        let before = server_heads(server, doc).await;
        device
            .edit(DEMO_TENANT, doc, |document| (attack.forge)(document, &ctx))
            .unwrap();
        assert_eq!(device.sync(server, later(10)).await.unwrap(), 200);
        let reason = device.events.iter().find_map(|event| match event {
            SyncEvent::Refused {
                doc: refused,
                reason,
            } if *refused == doc => Some(reason.clone()),
            _ => None,
        });
        let landed = server_heads(server, doc).await != before;
        match reason {
            Some(reason) if reason.contains(attack.refusal) && !landed => {
                // The phone shows the document read-only, saying why.
                assert_eq!(device.sync.read_only(doc), Some(reason.as_str()));
                eprintln!("refused: {} — {reason}", attack.name);
            }
            other => failures.push(format!(
                "{}: expected a refusal saying {:?}, got {other:?}{}",
                attack.name,
                attack.refusal,
                if landed { " and it landed" } else { "" }
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_forgery_a_phone_can_write_is_refused_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    every_forgery_is_refused(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_forgery_a_phone_can_write_is_refused_on_postgres() {
    let (server, _photos) = crate::office_work::on_postgres("doorstep_test_forgeries").await;
    every_forgery_is_refused(&server).await;
}

/// Reassigns a job through the admin API.
async fn assign(server: &TestServer, number: u128, to: UserId) {
    let job = JobId::from_u128(0xd00_0000 + number);
    let response = reqwest::Client::new()
        .put(server.url(&format!("/api/jobs/{job}/assignee")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({ "user": to.to_string() }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
}

async fn writes_after_a_removal_are_refused_but_the_last_offline_ones_kept(server: &TestServer) {
    let mut priya = phone(server, DEMO_OPERATIVE, "SCOPE-PRIYA").await;
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(priya.device),
    };
    // Offline, she notes something on job 3; meanwhile it is given to Dan.
    priya
        .edit(DEMO_TENANT, job(3), |doc| {
            JobEditor::new(doc, me.clone())
                .unwrap()
                .update_notes("Gate code 1234")
                .unwrap();
        })
        .unwrap();
    let mut kept = priya.docs[&job(3)].clone();
    assign(server, 3, DEMO_DISPATCHER).await;
    // The request that learns of the removal carries her last edit: kept.
    priya.sync(server, later(10)).await.unwrap();
    assert_eq!(priya.sync.refused(), 0, "{:?}", priya.events);
    assert!(!priya.docs.contains_key(&job(3)), "the job left the phone");
    let on_server = server
        .state
        .with_sync(|sync, _| sync.load(job(3)))
        .await
        .unwrap()
        .unwrap()
        .1;
    assert!(
        Job::load(&on_server)
            .unwrap()
            .notes
            .as_str()
            .contains("Gate code 1234")
    );
    // The next sync acknowledges the removal; after it, a copy kept back
    // on the phone writes again: refused.
    priya.sync(server, later(15)).await.unwrap();
    let before = kept.get_heads();
    JobEditor::new(&mut kept, me.clone())
        .unwrap()
        .update_notes("Gate code 1234, dog in garden")
        .unwrap();
    kept.commit();
    let changes = kept
        .get_changes(&before)
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    priya.sync.record_local(DEMO_TENANT, job(3), changes);
    priya.sync(server, later(20)).await.unwrap();
    let refused = priya.events.iter().any(|event| {
        matches!(event, SyncEvent::Refused { doc, reason }
            if *doc == job(3) && reason.contains("not given to you now"))
    });
    assert!(refused, "{:?}", priya.events);
}

#[tokio::test]
async fn writes_after_a_removal_was_acknowledged_are_refused_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    writes_after_a_removal_are_refused_but_the_last_offline_ones_kept(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_after_a_removal_was_acknowledged_are_refused_on_postgres() {
    let (server, _photos) = crate::office_work::on_postgres("doorstep_test_scope_writes").await;
    writes_after_a_removal_are_refused_but_the_last_offline_ones_kept(&server).await;
}

#[tokio::test]
async fn a_request_claiming_a_role_is_decided_by_the_role_the_server_knows() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut priya = phone(&server, DEMO_OPERATIVE, "ROLE-PRIYA").await;
    // Her own name and device, but the dispatcher's role: cancelling is
    // the dispatcher's or the resident's step, never an operative's.
    let claims = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Dispatcher,
        device: Some(priya.device),
    };
    priya
        .edit(DEMO_TENANT, job(2), |doc| {
            request(doc, claims.clone(), "booked", "cancelled")
        })
        .unwrap();
    priya.sync(&server, later(5)).await.unwrap();
    assert_eq!(priya.sync.refused(), 0, "the record itself is hers");
    let services = ServiceCatalog::builtin().unwrap();
    let repair = services.get(&name("housing-repair")).unwrap();
    let now = Job::load(&priya.docs[&job(2)]).unwrap();
    assert_eq!(now.status(repair).as_str(), "booked", "not cancelled");
    let verdict = &now.office.verdicts[&TransitionId::from_u128(0xf0f0)];
    assert!(matches!(verdict.decision, Decision::Refused { .. }));
    assert_eq!(
        verdict.requester.as_ref().map(|r| (r.user, r.role)),
        Some((DEMO_OPERATIVE, Role::Operative)),
        "the verdict names who asked as the server's records say"
    );
}

#[tokio::test]
async fn every_edit_the_app_makes_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let services = ServiceCatalog::builtin().unwrap();
    let rounds = services.get(&name("waste-round")).unwrap();

    // A second crew member, Kim, in Sam's crew (the world before).
    let kim = UserId::from_u128(0xd05);
    server
        .state
        .with_store(move |store| {
            store.create_user(kim, "Kim Ali", Role::Crew, &[DEMO_TENANT])?;
            store.set_team(kim, DEMO_TENANT, Some(DEMO_CREW))?;
            Ok(())
        })
        .await
        .unwrap();

    let mut priya = phone(&server, DEMO_OPERATIVE, "HONEST-PRIYA").await;
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(priya.device),
    };
    let before = priya
        .take_photo(PhotoId::from_u128(1), "before", &me, later(2), 0)
        .unwrap();
    priya
        .edit(DEMO_TENANT, job(2), |doc| {
            let mut editor = JobEditor::new(doc, me.clone()).unwrap();
            editor
                .tick(&name("supply_isolated"), true, later(1))
                .unwrap();
            editor.update_notes("Stopcock under the sink").unwrap();
            editor
                .log_action(EventId::from_u128(1), name("on_my_way"), None, later(1))
                .unwrap();
            editor.add_photo(PhotoId::from_u128(1), &before).unwrap();
            editor
                .request_transition(
                    TransitionId::from_u128(1),
                    name("booked"),
                    name("in_progress"),
                    Evidence::default(),
                    later(2),
                )
                .unwrap();
        })
        .unwrap();
    priya.sync(&server, later(3)).await.unwrap();
    priya.upload(&server.url(""), later(3)).await.unwrap();
    // Unticking and more notes, in a later change.
    priya
        .edit(DEMO_TENANT, job(2), |doc| {
            let mut editor = JobEditor::new(doc, me.clone()).unwrap();
            editor
                .tick(&name("supply_isolated"), false, later(4))
                .unwrap();
            editor.splice_notes(0, 0, "Note: ").unwrap();
        })
        .unwrap();
    priya.sync(&server, later(5)).await.unwrap();
    assert_eq!(priya.sync.refused(), 0, "{:?}", priya.events);
    let repair = services.get(&name("housing-repair")).unwrap();
    assert_eq!(
        Job::load(&priya.docs[&job(2)])
            .unwrap()
            .status(repair)
            .as_str(),
        "in_progress"
    );

    // Sam logs an outcome with its photo; Kim corrects it with a note.
    let mut sam = phone(&server, SAM, "HONEST-SAM").await;
    let round = *sam
        .docs
        .keys()
        .find(|doc| matches!(doc, DocumentId::Round(_)))
        .unwrap();
    let property = *Round::load(&sam.docs[&round])
        .unwrap()
        .office
        .properties
        .keys()
        .next()
        .unwrap();
    let sam_actor = Actor {
        user: SAM,
        role: Role::Crew,
        device: Some(sam.device),
    };
    sam.edit(DEMO_TENANT, round, |doc| {
        let mut editor = RoundEditor::new(doc, sam_actor.clone()).unwrap();
        let picture = PhotoRef {
            display: Some(BlobHash::of(b"Sam's photo of the bin")),
            ..demo::photo(name("evidence"), &sam_actor, later(6))
        };
        editor.add_photo(PhotoId::from_u128(2), &picture).unwrap();
        editor
            .log_outcome(
                rounds,
                property,
                name("contaminated"),
                None,
                Some(PhotoId::from_u128(2)),
                later(6),
            )
            .unwrap()
            .unwrap();
    })
    .unwrap();
    sam.sync(&server, later(7)).await.unwrap();
    assert_eq!(sam.sync.refused(), 0, "{:?}", sam.events);

    let mut kim_phone = phone(&server, kim, "HONEST-KIM").await;
    let kim_actor = Actor {
        user: kim,
        role: Role::Crew,
        device: Some(kim_phone.device),
    };
    kim_phone
        .edit(DEMO_TENANT, round, |doc| {
            RoundEditor::new(doc, kim_actor.clone())
                .unwrap()
                .log_outcome(
                    rounds,
                    property,
                    name("other"),
                    Some("Bin was behind the gate after all".into()),
                    None,
                    later(8),
                )
                .unwrap()
                .unwrap();
        })
        .unwrap();
    kim_phone.sync(&server, later(9)).await.unwrap();
    assert_eq!(kim_phone.sync.refused(), 0, "{:?}", kim_phone.events);
    let corrected = Round::load(&kim_phone.docs[&round]).unwrap();
    assert_eq!(corrected.outcomes[&property].by.user, kim);
    assert_eq!(corrected.outcomes[&property].kind.as_str(), "other");

    // Priya's phone is revoked and re-enrolled: it keeps its actor, and
    // what it wrote meanwhile is taken.
    let device = priya.device;
    priya
        .edit(DEMO_TENANT, job(2), |doc| {
            JobEditor::new(doc, me.clone())
                .unwrap()
                .tick(&name("area_left_clean"), true, later(10))
                .unwrap();
        })
        .unwrap();
    server
        .state
        .with_store(move |store| {
            store.revoke_device(device, later(10))?;
            store.create_enrolment("HONEST-AGAIN", DEMO_OPERATIVE, Some(device), later(60))
        })
        .await
        .unwrap();
    let again = TestDevice::enrol(&server, "HONEST-AGAIN", DEMO_TENANT)
        .await
        .unwrap();
    assert_eq!((again.device, &again.actor), (priya.device, &priya.actor));
    priya.token = again.token;
    priya.sync(&server, later(11)).await.unwrap();
    assert_eq!(priya.sync.refused(), 0, "{:?}", priya.events);
    assert_eq!(priya.sync.waiting(), 0);
}

#[tokio::test]
async fn a_jobs_history_names_exactly_the_two_phones_people_and_the_dispatcher() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    // A second operative, Olu, in a repairs team with Priya (the world).
    let olu = UserId::from_u128(0xd06);
    let team = TeamId::from_u128(0xd07);
    server
        .state
        .with_store(move |store| {
            store.create_user(olu, "Olu Adeyemi", Role::Operative, &[DEMO_TENANT])?;
            store.create_team(team, DEMO_TENANT, "Repairs team", &[DEMO_OPERATIVE, olu])
        })
        .await
        .unwrap();
    let waiting = JobId::from_u128(0xd00_0004);

    // Dan gives the reported job to the team in the back office.
    let office = Office::sign_in(&server).await;
    let (status, _) = office
        .post(
            &format!("/office/jobs/{waiting}/assignee"),
            &format!("assignee=team%3A{team}"),
        )
        .await;
    assert_eq!(status, 303);

    // Both phones work on it; Priya's also tries to sign as Olu.
    let mut priya = phone(&server, DEMO_OPERATIVE, "HISTORY-PRIYA").await;
    let mut olu_phone = phone(&server, olu, "HISTORY-OLU").await;
    let priya_actor = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(priya.device),
    };
    let olu_actor = Actor {
        user: olu,
        role: Role::Operative,
        device: Some(olu_phone.device),
    };
    priya
        .edit(DEMO_TENANT, job(4), |doc| {
            JobEditor::new(doc, priya_actor.clone())
                .unwrap()
                .tick(&name("supply_isolated"), true, later(1))
                .unwrap();
        })
        .unwrap();
    priya.sync(&server, later(2)).await.unwrap();
    olu_phone
        .edit(DEMO_TENANT, job(4), |doc| {
            JobEditor::new(doc, olu_actor.clone())
                .unwrap()
                .log_action(EventId::from_u128(9), name("on_my_way"), None, later(3))
                .unwrap();
        })
        .unwrap();
    olu_phone.sync(&server, later(4)).await.unwrap();
    assert_eq!(priya.sync.refused() + olu_phone.sync.refused(), 0);

    let (status, page) = office.get(&format!("/office/jobs/{waiting}")).await;
    assert_eq!(status, 200);
    let history = page
        .split(">History</h2>")
        .nth(1)
        .and_then(|rest| rest.split("</ol>").next())
        .unwrap();
    for (person, did) in [
        ("Priya Sharma", "ticked"),
        ("Olu Adeyemi", "On my way"),
        ("Dan Okafor", "Assigned the job to Team: Repairs team"),
    ] {
        assert!(
            history.contains(person) && history.contains(did),
            "{person} {did}: {history}"
        );
    }
    let everyone = [
        "Priya Sharma",
        "Olu Adeyemi",
        "Dan Okafor",
        "Sam Lee",
        "The server",
        "The resident",
        "Someone",
    ];
    let named: Vec<&str> = everyone
        .into_iter()
        .filter(|person| history.contains(person))
        .collect();
    assert_eq!(named, ["Priya Sharma", "Olu Adeyemi", "Dan Okafor"]);
}

#[tokio::test]
async fn staff_correct_a_residents_contact_details_and_the_phone_and_history_follow() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut priya = phone(&server, DEMO_OPERATIVE, "CONTACT-PRIYA").await;
    let job_id = JobId::from_u128(0xd00_0002);
    let office = Office::sign_in(&server).await;
    let path = format!("/office/jobs/{job_id}");
    let (_, page) = office.get(&path).await;
    assert!(page.contains("Tomasz Nowak"), "{page}");
    assert!(
        page.contains("Correct the contact details"),
        "the form is on the job's page"
    );

    // Only signed-in staff, with the form's token, may correct them.
    let form = "name=Someone+Else&phone=07700+900666&updates=sms";
    let anonymous = crate::office::client()
        .post(server.url(&format!("{path}/contact")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf=x&{form}"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303, "to the sign-in page");
    let forged = crate::office::client()
        .post(server.url(&format!("{path}/contact")))
        .header("cookie", office.cookie())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf=not-the-token&{form}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "a form posted from elsewhere");

    // A number that is not one: refused, with the field named, nothing kept.
    let (status, refused) = office
        .post(
            &format!("{path}/contact"),
            "name=Tomasz+Nowak&phone=12345&email=&updates=sms",
        )
        .await;
    assert_eq!(status, 400);
    assert!(refused.contains("Enter a UK phone number"), "{refused}");

    let (status, _) = office
        .post(
            &format!("{path}/contact"),
            "name=Tomasz+Nowak&phone=07700+900999&email=tomasz%40example.org&updates=email&no_texts=yes",
        )
        .await;
    assert_eq!(status, 303);
    let (_, page) = office.get(&path).await;
    let history = page
        .split(">History</h2>")
        .nth(1)
        .and_then(|rest| rest.split("</ol>").next())
        .unwrap();
    assert!(
        history.contains(&escaped(
            "Dan Okafor: Corrected the resident's contact details"
        )),
        "{history}"
    );

    // The phone gets the corrected details at its next sync.
    priya.sync(&server, later(5)).await.unwrap();
    let contact = Contact::load(&priya.docs[&DocumentId::Contact(job_id)]).unwrap();
    assert_eq!(
        contact.phone.as_ref().map(PhoneNumber::as_str),
        Some("+447700900999")
    );
    assert_eq!(contact.preferred_channel, Channel::Email);
    assert!(contact.sms_opt_out);
}
