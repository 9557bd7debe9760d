//! Sync over HTTP against a real server: enrolment, scopes, pushes and
//! verdicts, revocation and re-enrolment, and bad input.

use automerge::AutoCommit;
use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_shared::prelude::*;
use doorstep_shared::sync::device::SyncEvent;
use doorstep_shared::sync::wire::{DocumentId, SyncReply, WireError};
use doorstep_tests::{ADMIN_TOKEN, TestDevice, TestServer, test_now};

fn later(minutes: i64) -> Timestamp {
    test_now().plus_minutes(minutes)
}

fn job(number: u128) -> DocumentId {
    DocumentId::Job(JobId::from_u128(0xd00_0000 + number))
}

async fn priya(server: &TestServer) -> TestDevice {
    TestDevice::enrol(server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_enrolled_operative_gets_her_jobs_and_a_crew_member_his_round() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();

    let mut phone = priya(&server).await;
    assert_eq!(phone.sync(&server, later(0)).await.unwrap(), 200);
    let held: Vec<DocumentId> = phone.docs.keys().copied().collect();
    let contacts = (1..=7).map(|n| DocumentId::Contact(JobId::from_u128(0xd00_0000 + n)));
    assert_eq!(held, (1..=7).map(job).chain(contacts).collect::<Vec<_>>());

    let mut crew = TestDevice::enrol(&server, &server.code_for("Sam Lee"), DEMO_TENANT)
        .await
        .unwrap();
    crew.sync(&server, later(0)).await.unwrap();
    assert!(matches!(
        crew.docs.keys().collect::<Vec<_>>()[..],
        [DocumentId::Round(_)]
    ));

    // Nothing changed: the next sync brings nothing and costs little.
    let request = phone.sync.poll(later(1)).unwrap();
    let request_size = request.len();
    let (status, reply) = server.post_sync(request, &phone.token).await.unwrap();
    assert_eq!(status, 200);
    let decoded = SyncReply::decode(&reply).unwrap();
    assert!(decoded.tenants[0].updates.is_empty());
    assert!(
        request_size < 64 && reply.len() < 64,
        "{request_size} and {} bytes",
        reply.len()
    );
}

#[tokio::test]
async fn starting_work_offline_syncs_up_and_the_server_decides_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = priya(&server).await;
    phone.sync(&server, later(0)).await.unwrap();

    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    };
    let photo = phone
        .take_photo(PhotoId::from_u128(1), "before", &me, later(5), 0)
        .unwrap();
    phone
        .edit(DEMO_TENANT, job(2), |doc: &mut AutoCommit| {
            let mut editor = JobEditor::new(doc, me.clone()).unwrap();
            editor.add_photo(PhotoId::from_u128(1), &photo).unwrap();
            editor
                .request_transition(
                    TransitionId::from_u128(1),
                    "booked".parse().unwrap(),
                    "in_progress".parse().unwrap(),
                    Evidence::default(),
                    later(5),
                )
                .unwrap();
        })
        .unwrap();
    assert_eq!(
        phone.sync.waiting(),
        1,
        "the photo and request, one change, wait for signal"
    );

    phone.sync(&server, later(10)).await.unwrap();
    assert_eq!(phone.sync.waiting(), 0);
    // The request waits for its photo, which goes up once there is signal.
    phone.upload(&server.url(""), later(11)).await.unwrap();
    phone.sync(&server, later(12)).await.unwrap();
    let repair = ServiceCatalog::builtin().unwrap();
    let repair = repair.get(&"housing-repair".parse().unwrap()).unwrap();
    let on_phone = Job::load(&phone.docs[&job(2)]).unwrap();
    assert_eq!(
        on_phone.status(repair).as_str(),
        "in_progress",
        "the verdict came back"
    );

    let (_, jobs) = server.get_json_as_staff("/api/jobs").await.unwrap();
    let row = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["reference"] == "HR-00002")
        .unwrap();
    assert_eq!(
        row["status"], "in_progress",
        "the list row was updated with the change"
    );
}

#[tokio::test]
async fn an_enrolment_code_works_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    priya(&server).await;
    let again = TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT).await;
    let error = again.err().unwrap().to_string();
    assert!(error.contains("already been used"), "{error}");
    let unknown = TestDevice::enrol(&server, "NOPE1-NOPE2", DEMO_TENANT).await;
    assert!(unknown.err().unwrap().to_string().contains("not valid"));
}

#[tokio::test]
async fn a_revoked_device_is_refused_keeps_its_work_and_is_rebound_on_re_enrolment() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = priya(&server).await;
    phone.sync(&server, later(0)).await.unwrap();
    let actor_before = phone.actor.clone();

    // Offline, she adds a note; meanwhile the office revokes the phone.
    phone
        .edit(DEMO_TENANT, job(3), |doc: &mut AutoCommit| {
            let me = Actor {
                user: DEMO_OPERATIVE,
                role: Role::Operative,
                device: None,
            };
            JobEditor::new(doc, me)
                .unwrap()
                .splice_notes(0, 0, "Gate code 4512. ")
                .unwrap();
        })
        .unwrap();
    let path = format!("/api/admin/devices/{}/revoke", phone.device);
    let (status, _) = server
        .post_json(&path, &serde_json::json!({}), Some(ADMIN_TOKEN))
        .await
        .unwrap();
    assert_eq!(status, 204);

    assert_eq!(phone.sync(&server, later(5)).await.unwrap(), 401);
    assert!(
        matches!(&phone.events[..], [SyncEvent::Failed { reason, .. }] if reason.contains("revoked"))
    );
    assert_eq!(phone.docs.len(), 14, "the phone keeps its documents");
    assert_eq!(phone.sync.waiting(), 1, "and its unsynced note");

    // The dispatcher re-enrols this phone; it keeps its actor id.
    let (status, issued) = server
        .post_json(
            "/api/admin/enrolments",
            &serde_json::json!({ "user": DEMO_OPERATIVE, "device": phone.device }),
            Some(ADMIN_TOKEN),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{issued}");
    let re_enrolled = TestDevice::enrol(&server, issued["code"].as_str().unwrap(), DEMO_TENANT)
        .await
        .unwrap();
    assert_eq!(re_enrolled.device, phone.device);
    assert_eq!(re_enrolled.actor, actor_before);
    phone.token = re_enrolled.token;

    assert_eq!(phone.sync(&server, later(60)).await.unwrap(), 200);
    assert_eq!(
        phone.sync.waiting(),
        0,
        "the note made before revocation was accepted"
    );
    assert_eq!(phone.sync.refused(), 0);
}

#[tokio::test]
async fn bad_tokens_and_malformed_messages_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = priya(&server).await;
    let request = phone.sync.poll(later(0)).unwrap();

    let (status, body) = server
        .post_sync(request.clone(), "not-a-token")
        .await
        .unwrap();
    assert_eq!(status, 401);
    assert!(String::from_utf8_lossy(&body).contains("enrol it again"));

    let (status, body) = server
        .post_sync(b"hello".to_vec(), &phone.token)
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("not a Doorstep sync message"));

    let (status, body) = server
        .post_sync(request[..request.len() - 3].to_vec(), &phone.token)
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("malformed"));

    let mut future = request.clone();
    future[4] = 99;
    let (status, body) = server.post_sync(future, &phone.token).await.unwrap();
    assert_eq!(status, 426);
    assert!(
        matches!(SyncReply::decode(&body), Err(WireError::UpdateRequired(m)) if m.contains("please update"))
    );

    let (status, _) = server
        .post_json(
            "/api/admin/enrolments",
            &serde_json::json!({ "user": DEMO_OPERATIVE }),
            Some("wrong-token"),
        )
        .await
        .unwrap();
    assert_eq!(status, 401);
    let (health, _) = server.get("/health").await.unwrap();
    assert_eq!(health, 200, "the server is still fine");
}

/// A phone whose own checks were out of date (an older app, or evidence
/// removed on another phone) asks for what the rules forbid: the server
/// refuses, and the reason reaches the phone with the next sync.
#[tokio::test]
async fn requests_the_server_refuses_come_back_to_the_phone_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = priya(&server).await;
    phone.sync(&server, later(0)).await.unwrap();
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    };
    let request = |number: u128, from: &str, to: &str, note: Option<&str>| {
        let me = me.clone();
        let (from, to) = (from.parse().unwrap(), to.parse().unwrap());
        let evidence = Evidence {
            photos: Vec::new(),
            note: note.map(str::to_owned),
        };
        move |doc: &mut AutoCommit| {
            JobEditor::new(doc, me)
                .unwrap()
                .request_transition(
                    TransitionId::from_u128(number),
                    from,
                    to,
                    evidence,
                    later(5),
                )
                .unwrap();
        }
    };
    // Cancelling is for the office and the resident; completing needs an
    // after photo.
    let cancel = request(61, "booked", "cancelled", Some("Resident away"));
    phone.edit(DEMO_TENANT, job(2), cancel).unwrap();
    let complete = request(62, "in_progress", "completed", None);
    phone.edit(DEMO_TENANT, job(1), complete).unwrap();
    phone.sync(&server, later(10)).await.unwrap();

    let repair = ServiceCatalog::builtin().unwrap();
    let repair = repair.get(&"housing-repair".parse().unwrap()).unwrap();
    let reason = |number: u128, id: u128| {
        let job = Job::load(&phone.docs[&job(number)]).unwrap();
        let decision = job.office.verdicts[&TransitionId::from_u128(id)]
            .decision
            .clone();
        (job.status(repair).as_str().to_owned(), decision)
    };
    let (status, decision) = reason(2, 61);
    assert_eq!(status, "booked", "nothing moved");
    let Decision::Refused { reason: why } = decision else {
        panic!("cancelling was not refused: {decision:?}");
    };
    assert!(why.contains("operative"), "says who may not: {why}");
    let (status, decision) = reason(1, 62);
    assert_eq!(status, "in_progress");
    let Decision::Refused { reason: why } = decision else {
        panic!("completing was not refused: {decision:?}");
    };
    assert!(why.contains("after photo"), "says what is missing: {why}");
}
