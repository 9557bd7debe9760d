//! Evidence that must really exist, against a real server: a request that
//! needs a photo waits until the photo's renditions are uploaded ("waiting
//! for the photos" on the phone), is decided when the upload completes
//! (with its resident told once), is refused when the service's wait is
//! over, and a picture borrowed from another job never counts.

use automerge::AutoCommit;
use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_shared::job::Job;
use doorstep_shared::photo::{PhotoLimits, Processed, process};
use doorstep_shared::prelude::*;
use doorstep_shared::service::PhotoPolicy;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::transition::Verdict;
use doorstep_tests::{TestDevice, TestServer, camera_file, test_now};

/// Demo jobs booked for Priya: Tomasz Nowak's (texts) and Aisha Rahman's.
const TOMASZ: JobId = JobId::from_u128(0xd00_0002);
const AISHA: JobId = JobId::from_u128(0xd00_0003);
const KEEP_NOTHING: PhotoPolicy = PhotoPolicy {
    keep_originals: false,
    device_retention_days: 30,
    evidence_wait_hours: 72,
};

fn later(minutes: i64) -> Timestamp {
    test_now().plus_minutes(minutes)
}

fn priya(phone: &TestDevice) -> Actor {
    Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    }
}

/// A photo from the phone's camera, processed as the app does; `size`
/// makes each one a different picture.
fn picture(size: usize) -> (Vec<u8>, Processed) {
    let file = camera_file(1200 + size, 900 + size);
    let processed = process(&file, &PhotoLimits::default()).unwrap();
    (file, processed)
}

/// Priya takes a photo of `kind` for `job` and asks for `to` with it, as
/// the app does: the photo's renditions wait in her upload queue.
fn ask_with_photo(
    phone: &mut TestDevice,
    job: JobId,
    (photo, kind): (PhotoId, &str),
    (file, processed): &(Vec<u8>, Processed),
    (from, to): (&str, &str),
    at: Timestamp,
) -> TransitionId {
    let me = priya(phone);
    let reference = processed.reference(kind.parse().unwrap(), me.clone(), at, None, &KEEP_NOTHING);
    let request = TransitionId::from_u128(photo.as_uuid().as_u128());
    phone
        .edit(DEMO_TENANT, DocumentId::Job(job), |doc: &mut AutoCommit| {
            let mut editor = JobEditor::new(doc, me).unwrap();
            editor.add_photo(photo, &reference).unwrap();
            let evidence = Evidence {
                photos: vec![photo],
                note: None,
            };
            editor
                .request_transition(
                    request,
                    from.parse().unwrap(),
                    to.parse().unwrap(),
                    evidence,
                    at,
                )
                .unwrap();
        })
        .unwrap();
    phone.queue_photo(photo, processed, file, &KEEP_NOTHING);
    request
}

fn job_on(phone: &TestDevice, job: JobId) -> Job {
    Job::load(&phone.docs[&DocumentId::Job(job)]).unwrap()
}

fn verdict(job: &Job, request: TransitionId) -> Option<&Verdict> {
    job.office.verdicts.get(&request)
}

async fn phone(server: &TestServer) -> TestDevice {
    let mut phone = TestDevice::enrol(server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    assert_eq!(phone.sync(server, later(0)).await.unwrap(), 200);
    phone
}

/// The channels of the messages the outbox holds for a job's resident
/// about `event` (a row per channel the service has words for; the one
/// the resident's preference picks is sent, the other skipped).
async fn messages_about(server: &TestServer, job: JobId, event: &str) -> Vec<String> {
    let rows = server
        .state
        .with_store(move |store| store.outbox_for_job(job))
        .await
        .unwrap();
    let mut channels: Vec<String> = rows
        .iter()
        .filter(|row| row.event.as_str() == event)
        .map(|row| format!("{:?}", row.channel))
        .collect();
    channels.sort();
    channels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waits_for_its_photos_and_is_decided_when_they_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let housing = server
        .state
        .services()
        .get(&"housing-repair".parse().unwrap())
        .unwrap()
        .clone();
    let mut phone = phone(&server).await;

    // Start: the before photo is on the job, its picture still on the phone.
    let before = picture(0);
    let start = ask_with_photo(
        &mut phone,
        TOMASZ,
        (PhotoId::from_u128(0xe1), "before"),
        &before,
        ("booked", "in_progress"),
        later(1),
    );
    assert_eq!(phone.sync(&server, later(2)).await.unwrap(), 200);
    let job = job_on(&phone, TOMASZ);
    assert_eq!(
        job.status(&housing).as_str(),
        "booked",
        "not started without the picture"
    );
    assert!(
        verdict(&job, start).is_none(),
        "undecided while its photo is on its way"
    );
    assert_eq!(
        job.office.waiting.len(),
        1,
        "the server says it waits for the photos"
    );
    assert_eq!(job.office.waiting[0].request, start);
    assert_eq!(job.office.waiting[0].role, Role::Operative);

    // Syncing again changes nothing: it still waits.
    assert_eq!(phone.sync(&server, later(3)).await.unwrap(), 200);
    assert_eq!(job_on(&phone, TOMASZ).status(&housing).as_str(), "booked");

    // The upload completes: the server decides at once.
    phone.upload(&server.url(""), later(4)).await.unwrap();
    assert_eq!(phone.sync(&server, later(5)).await.unwrap(), 200);
    let job = job_on(&phone, TOMASZ);
    assert_eq!(
        job.status(&housing).as_str(),
        "in_progress",
        "started once the photo arrived"
    );
    assert_eq!(
        verdict(&job, start).map(|v| v.decision.clone()),
        Some(Decision::Accepted)
    );
    assert!(job.office.waiting.is_empty());

    // Complete, with the after photo (and the checklist ticked): the
    // resident hears of it once, when it is decided, not before.
    let me = priya(&phone);
    phone
        .edit(
            DEMO_TENANT,
            DocumentId::Job(TOMASZ),
            |doc: &mut AutoCommit| {
                let mut editor = JobEditor::new(doc, me).unwrap();
                for item in housing.checklist.iter().filter(|item| item.mandatory) {
                    editor.tick(&item.id, true, later(6)).unwrap();
                }
            },
        )
        .unwrap();
    let after = picture(40);
    let complete = ask_with_photo(
        &mut phone,
        TOMASZ,
        (PhotoId::from_u128(0xe2), "after"),
        &after,
        ("in_progress", "completed"),
        later(7),
    );
    assert_eq!(phone.sync(&server, later(8)).await.unwrap(), 200);
    assert_eq!(
        job_on(&phone, TOMASZ).status(&housing).as_str(),
        "in_progress"
    );
    assert!(
        messages_about(&server, TOMASZ, "complete").await.is_empty(),
        "nobody is told yet"
    );
    phone.upload(&server.url(""), later(9)).await.unwrap();
    // The worker's pass and another sync decide nothing twice.
    doorstep_server::photos::evidence::decide_waiting(&server.state)
        .await
        .unwrap();
    assert_eq!(phone.sync(&server, later(10)).await.unwrap(), 200);
    let job = job_on(&phone, TOMASZ);
    assert_eq!(job.status(&housing).as_str(), "completed");
    assert_eq!(
        verdict(&job, complete).map(|v| v.decision.clone()),
        Some(Decision::Accepted)
    );
    // Decided once: one message per channel, never a second.
    assert_eq!(
        messages_about(&server, TOMASZ, "complete").await,
        ["Email", "Sms"],
        "one message to the resident"
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_photos_never_arrive_is_refused_after_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let housing = server
        .state
        .services()
        .get(&"housing-repair".parse().unwrap())
        .unwrap()
        .clone();
    let mut phone = phone(&server).await;
    let start = ask_with_photo(
        &mut phone,
        AISHA,
        (PhotoId::from_u128(0xe3), "before"),
        &picture(80),
        ("booked", "in_progress"),
        later(1),
    );
    assert_eq!(phone.sync(&server, later(2)).await.unwrap(), 200);
    assert_eq!(job_on(&phone, AISHA).office.waiting.len(), 1);

    // The wait is counted on the server's clock from when it first held
    // the request (the phone's clock is its own): a minute short of the
    // service's 72 hours, it still waits.
    server.clock.set(test_now().plus_minutes(72 * 60 - 1));
    assert_eq!(
        doorstep_server::photos::evidence::decide_waiting(&server.state)
            .await
            .unwrap(),
        0
    );
    // Then over: refused, with the reason.
    server.clock.set(test_now().plus_minutes(72 * 60));
    assert_eq!(
        doorstep_server::photos::evidence::decide_waiting(&server.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        phone.sync(&server, later(2 + 72 * 60 + 1)).await.unwrap(),
        200
    );
    let job = job_on(&phone, AISHA);
    assert_eq!(job.status(&housing).as_str(), "booked");
    assert!(job.office.waiting.is_empty());
    match verdict(&job, start).map(|v| &v.decision) {
        Some(Decision::Refused { reason }) => {
            assert!(reason.contains("not uploaded within 72 hours"), "{reason}")
        }
        other => panic!("refused after the wait, not {other:?}"),
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_borrowed_from_another_job_never_counts() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let housing = server
        .state
        .services()
        .get(&"housing-repair".parse().unwrap())
        .unwrap()
        .clone();
    let mut phone = phone(&server).await;

    // The picture is taken, uploaded and counted for Tomasz's job...
    let shared = picture(120);
    ask_with_photo(
        &mut phone,
        TOMASZ,
        (PhotoId::from_u128(0xe4), "before"),
        &shared,
        ("booked", "in_progress"),
        later(1),
    );
    assert_eq!(phone.sync(&server, later(2)).await.unwrap(), 200);
    phone.upload(&server.url(""), later(3)).await.unwrap();
    assert_eq!(phone.sync(&server, later(4)).await.unwrap(), 200);
    assert_eq!(
        job_on(&phone, TOMASZ).status(&housing).as_str(),
        "in_progress"
    );

    // ...then offered again as Aisha's before photo: it is on the server
    // already, but it is Tomasz's picture, so her job is not started.
    let start = ask_with_photo(
        &mut phone,
        AISHA,
        (PhotoId::from_u128(0xe5), "before"),
        &shared,
        ("booked", "in_progress"),
        later(5),
    );
    assert_eq!(phone.sync(&server, later(6)).await.unwrap(), 200);
    phone.upload(&server.url(""), later(7)).await.unwrap();
    assert_eq!(phone.sync(&server, later(8)).await.unwrap(), 200);
    let job = job_on(&phone, AISHA);
    assert_eq!(job.status(&housing).as_str(), "booked");
    assert!(
        job.office.waiting.is_empty(),
        "a borrowed picture is not waited for"
    );
    match verdict(&job, start).map(|v| &v.decision) {
        Some(Decision::Refused { reason }) => assert!(reason.contains("before photo"), "{reason}"),
        other => panic!("refused, not {other:?}"),
    }
    server.stop().await.unwrap();
}
