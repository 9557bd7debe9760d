//! Photo uploads against a real server: resumable through a proxy that
//! cuts connections, content-addressed, access-checked, and refusing bad
//! uploads with their reasons.

use automerge::AutoCommit;
use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_shared::blob::RenditionKind;
use doorstep_shared::job::Assignee;
use doorstep_shared::photo::{PhotoLimits, Processed, process};
use doorstep_shared::prelude::*;
use doorstep_shared::service::PhotoPolicy;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::upload::{UploadEvent, UploadQueue};
use doorstep_tests::{
    CuttingProxy, S3Server, StopAt, TestDevice, TestServer, camera_file, test_now,
};
use futures::StreamExt;
use object_store::ObjectStore;

const JOB: JobId = JobId::from_u128(0xd00_0002);
const PHOTO: PhotoId = PhotoId::from_u128(0xf0);
/// Small chunks, so a photo spans several.
const CHUNK_BYTES: u64 = 16 * 1024;
const KEEP_NOTHING: PhotoPolicy = PhotoPolicy {
    keep_originals: false,
    device_retention_days: 7,
    evidence_wait_hours: 72,
};

fn later(minutes: i64) -> Timestamp {
    test_now().plus_minutes(minutes)
}

/// A phone photo whose display rendition spans several chunks.
fn photo() -> (Vec<u8>, Processed) {
    let file = camera_file(1600, 1200);
    let processed = process(&file, &PhotoLimits::default()).unwrap();
    assert!(
        processed.display.jpeg.len() as u64 > 4 * CHUNK_BYTES,
        "the display rendition is {} bytes: too small to test chunking",
        processed.display.jpeg.len()
    );
    (file, processed)
}

async fn enrol(server: &TestServer, name: &str) -> TestDevice {
    let mut phone = TestDevice::enrol(server, &server.code_for(name), DEMO_TENANT)
        .await
        .unwrap();
    assert_eq!(phone.sync(server, later(0)).await.unwrap(), 200);
    phone.uploads = UploadQueue::new().with_chunk_bytes(CHUNK_BYTES);
    phone
}

/// Priya's phone references `processed` as photo `id` of `kind` on `job`,
/// a change waiting for the next sync.
fn reference_photo(
    phone: &mut TestDevice,
    job: JobId,
    id: PhotoId,
    kind: &str,
    processed: &Processed,
    at: Timestamp,
) {
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    };
    let reference = processed.reference(kind.parse().unwrap(), me.clone(), at, None, &KEEP_NOTHING);
    phone
        .edit(DEMO_TENANT, DocumentId::Job(job), |doc: &mut AutoCommit| {
            JobEditor::new(doc, me)
                .unwrap()
                .add_photo(id, &reference)
                .unwrap();
        })
        .unwrap();
}

/// Priya takes a before photo of job 2 and syncs the reference; its files
/// wait in her upload queue.
async fn priya_with_a_photo(server: &TestServer) -> (TestDevice, Processed) {
    let mut phone = enrol(server, "Priya Sharma").await;
    let (file, processed) = photo();
    reference_photo(&mut phone, JOB, PHOTO, "before", &processed, later(1));
    phone.queue_photo(PHOTO, &processed, &file, &KEEP_NOTHING);
    assert_eq!(phone.sync(server, later(2)).await.unwrap(), 200);
    (phone, processed)
}

async fn download(server: &TestServer, hash: BlobHash, token: &str) -> (u16, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(server.url(&format!("/api/blobs/{hash}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// Object names under a prefix of the server's photo store.
async fn objects_under(server: &TestServer, prefix: &str) -> Vec<String> {
    let prefix = object_store::path::Path::from(prefix);
    server
        .state
        .blobs()
        .objects()
        .list(Some(&prefix))
        .map(|meta| meta.unwrap().location.to_string())
        .collect()
        .await
}

/// Cut points from a fixed seed: `count` increasing byte positions, each
/// gap at most `most`.
fn cut_points(seed: u64, count: usize, most: u64) -> Vec<u64> {
    let mut state = seed;
    let mut at = 0;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            at += 1 + state % most;
            at
        })
        .collect()
}

/// Priya's photo goes up through a proxy that cuts five connections at
/// byte counts from a fixed seed, and arrives whole.
async fn upload_through_cuts(server: &TestServer) -> Processed {
    let (mut phone, processed) = priya_with_a_photo(server).await;
    let total = (processed.display.jpeg.len() + processed.thumbnail.jpeg.len()) as u64;

    // Every cut comes before the last byte goes up, so every one happens.
    let cuts = cut_points(0x5eed, 5, total / 5);
    let proxy = CuttingProxy::start(server.address, cuts.clone())
        .await
        .unwrap();
    let run = phone.upload(&proxy.url(), later(3)).await.unwrap();

    assert!(phone.uploads.is_empty(), "{:?}", phone.upload_events);
    assert_eq!(proxy.cuts_made(), cuts.len(), "cuts at {cuts:?}");
    assert!(run.failures >= cuts.len(), "{run:?}");
    // Each cut costs at most the chunk in flight and one chunk sent from a
    // stale offset; never a restart from the first byte.
    assert!(
        run.bytes_sent <= total + 2 * cuts.len() as u64 * CHUNK_BYTES,
        "{run:?} for {total} bytes"
    );
    for kind in [RenditionKind::Display, RenditionKind::Thumbnail] {
        assert!(
            phone
                .upload_events
                .contains(&UploadEvent::Uploaded { photo: PHOTO, kind })
        );
    }
    let (status, display) = download(server, processed.display.hash, &phone.token).await;
    assert_eq!(status, 200);
    assert!(
        display == processed.display.jpeg,
        "the display rendition differs"
    );
    let (_, thumbnail) = download(server, processed.thumbnail.hash, &phone.token).await;
    assert!(
        thumbnail == processed.thumbnail.jpeg,
        "the thumbnail differs"
    );
    assert_eq!(
        objects_under(server, "uploads").await,
        Vec::<String>::new(),
        "no parts are left behind"
    );
    processed
}

#[tokio::test]
async fn an_upload_cut_at_random_points_resumes_and_arrives_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    upload_through_cuts(&server).await;
}

#[tokio::test]
async fn on_postgres_a_cut_upload_resumes_and_an_outsider_is_refused() {
    let store =
        tokio::task::spawn_blocking(|| crate::postgres_store::fresh_store("doorstep_test_photos"))
            .await
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(
        std::sync::Arc::new(store),
        TestServer::photo_folder(dir.path()).unwrap(),
    )
    .await
    .unwrap();
    let processed = upload_through_cuts(&server).await;
    let crew = enrol(&server, "Sam Lee").await;
    assert_eq!(
        download(&server, processed.display.hash, &crew.token)
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn on_s3_compatible_storage_a_cut_upload_resumes_and_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(&dir.path().join("s3"), "photos").unwrap();
    let server = TestServer::start_with(
        std::sync::Arc::new(
            doorstep_server::Store::open_sqlite(&dir.path().join("doorstep.db")).unwrap(),
        ),
        s3.blobs("photos", doorstep_tests::MAX_PHOTO_BYTES).unwrap(),
    )
    .await
    .unwrap();
    let processed = upload_through_cuts(&server).await;
    // The blob is an object in the bucket, under its hash.
    let stored = dir
        .path()
        .join("s3/photos/blobs")
        .join(processed.display.hash.to_string());
    assert!(std::fs::read(&stored).unwrap() == processed.display.jpeg);
}

#[tokio::test]
async fn progress_is_reported_as_the_server_takes_each_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let (mut phone, processed) = priya_with_a_photo(&server).await;
    phone.upload(&server.url(""), later(3)).await.unwrap();

    let display_total = processed.display.jpeg.len() as u64;
    let progress: Vec<u64> = phone
        .upload_events
        .iter()
        .filter_map(|event| match event {
            UploadEvent::Progress {
                kind: RenditionKind::Display,
                sent,
                total,
                ..
            } => {
                assert_eq!(*total, display_total);
                Some(*sent)
            }
            _ => None,
        })
        .collect();
    let mut expected: Vec<u64> = (0..display_total).step_by(CHUNK_BYTES as usize).collect();
    expected.push(display_total);
    assert_eq!(progress, expected, "0, each chunk, then done");
}

#[tokio::test]
async fn an_app_restarted_mid_upload_resumes_from_the_servers_offset() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let (mut phone, processed) = priya_with_a_photo(&server).await;
    let total = (processed.display.jpeg.len() + processed.thumbnail.jpeg.len()) as u64;

    // The thumbnail and the display's first chunk arrive whole (the phone
    // waits for each answer), then the connection dies and the app closes.
    let first_cut = processed.thumbnail.jpeg.len() as u64 + CHUNK_BYTES + 20_000;
    let proxy = CuttingProxy::start(server.address, vec![first_cut])
        .await
        .unwrap();
    phone
        .upload_until(&proxy.url(), later(3), StopAt::FirstFailure)
        .await
        .unwrap();
    assert_eq!(proxy.cuts_made(), 1);

    let saved = phone.uploads.save();
    phone.uploads = UploadQueue::restore(&saved)
        .unwrap()
        .with_chunk_bytes(CHUNK_BYTES);
    let run = phone.upload(&server.url(""), later(4)).await.unwrap();
    assert!(phone.uploads.is_empty());
    assert!(
        run.bytes_sent <= total - processed.thumbnail.jpeg.len() as u64 - CHUNK_BYTES,
        "after the restart only the rest was sent: {run:?} of {total}"
    );
    let (_, display) = download(&server, processed.display.hash, &phone.token).await;
    assert!(display == processed.display.jpeg);
}

#[tokio::test]
async fn the_same_rendition_uploaded_twice_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let (mut phone, processed) = priya_with_a_photo(&server).await;
    phone.upload(&server.url(""), later(3)).await.unwrap();

    // The same photo queued again, on the dispatcher's phone too.
    let mut dispatcher = enrol(&server, "Dan Okafor").await;
    for device in [&mut phone, &mut dispatcher] {
        device.queue_blob(
            PHOTO,
            RenditionKind::Display,
            processed.display.hash,
            processed.display.jpeg.clone(),
        );
        let run = device.upload(&server.url(""), later(4)).await.unwrap();
        assert_eq!(run.bytes_sent, 0, "the server has it: nothing is sent");
        assert_eq!(run.requests, 1);
        assert!(device.uploads.is_empty());
    }
    let mut stored = objects_under(&server, "blobs").await;
    stored.sort();
    let mut expected = vec![
        format!("blobs/{}", processed.display.hash),
        format!("blobs/{}", processed.thumbnail.hash),
    ];
    expected.sort();
    assert_eq!(stored, expected);
}

#[tokio::test]
async fn a_user_outside_the_jobs_scope_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let (mut phone, processed) = priya_with_a_photo(&server).await;
    phone.upload(&server.url(""), later(3)).await.unwrap();
    let display = processed.display.hash;

    // Sam's crew works the waste round, not Priya's repair.
    let crew = enrol(&server, "Sam Lee").await;
    let (status, body) = download(&server, display, &crew.token).await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    let (status, _) = server
        .get(&format!("/api/uploads/{display}"))
        .await
        .unwrap();
    assert_eq!(status, 401, "no token, no answer");
    let response = reqwest::Client::new()
        .get(server.url(&format!("/api/uploads/{display}")))
        .bearer_auth(&crew.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);

    // The dispatcher sees every job; a revoked-looking token nothing.
    let dispatcher = enrol(&server, "Dan Okafor").await;
    assert_eq!(download(&server, display, &dispatcher.token).await.0, 200);
    assert_eq!(download(&server, display, "not-a-token").await.0, 401);
}

#[tokio::test]
async fn a_phone_uploads_the_photos_of_a_job_reassigned_away_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let (mut phone, processed) = priya_with_a_photo(&server).await;

    let done = doorstep_server::office::Done {
        by: None,
        what: "Assigned the job to someone else".into(),
    };
    doorstep_server::office::edit_job(&server.state, JOB, done, |office| {
        office.assign(Some(Assignee::User(UserId::from_u128(0xbeef))))
    })
    .await
    .unwrap();
    phone.sync(&server, later(3)).await.unwrap();
    assert!(
        !phone.docs.contains_key(&DocumentId::Job(JOB)),
        "the job left her scope"
    );

    phone.upload(&server.url(""), later(4)).await.unwrap();
    assert!(phone.uploads.is_empty(), "{:?}", phone.upload_events);
    let dispatcher = enrol(&server, "Dan Okafor").await;
    let (status, display) = download(&server, processed.display.hash, &dispatcher.token).await;
    assert_eq!(status, 200);
    assert!(display == processed.display.jpeg);
    assert_eq!(
        download(&server, processed.display.hash, &phone.token)
            .await
            .0,
        403,
        "she may send it, but no longer read it"
    );

    // Copying the hash into a job she still has opens nothing: that
    // reference is borrowed, and grants no reads.
    let other_job = JobId::from_u128(0xd00_0001);
    reference_photo(
        &mut phone,
        other_job,
        PhotoId::from_u128(0xf1),
        "after",
        &processed,
        later(5),
    );
    assert_eq!(phone.sync(&server, later(6)).await.unwrap(), 200);
    assert_eq!(phone.sync.waiting(), 0, "the change itself is accepted");
    assert_eq!(
        download(&server, processed.display.hash, &phone.token)
            .await
            .0,
        403,
        "a copied hash is no key"
    );
}

#[tokio::test]
async fn a_photo_nobody_references_yet_waits_for_the_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = enrol(&server, "Priya Sharma").await;
    let (file, processed) = photo();
    phone.queue_photo(PHOTO, &processed, &file, &KEEP_NOTHING);

    let run = phone.upload(&server.url(""), later(1)).await.unwrap();
    assert_eq!(run.bytes_sent, 0);
    assert_eq!(
        phone.uploads.pending().count(),
        2,
        "both wait, none is lost"
    );

    reference_photo(&mut phone, JOB, PHOTO, "before", &processed, later(1));
    phone.sync(&server, later(2)).await.unwrap();
    phone.upload(&server.url(""), later(3)).await.unwrap();
    assert!(phone.uploads.is_empty());
}

#[tokio::test]
async fn bad_uploads_are_refused_with_their_reason_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let (phone, processed) = priya_with_a_photo(&server).await;
    let client = reqwest::Client::new();
    let display = processed.display.hash;
    let patch = |hash: String, offset: &str, length: &str, body: Vec<u8>| {
        client
            .patch(server.url(&format!("/api/uploads/{hash}")))
            .bearer_auth(&phone.token)
            .header("upload-offset", offset)
            .header("upload-length", length)
            .body(body)
    };
    let answer = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    };

    let (status, body) = answer(patch("not-a-hash".into(), "0", "10", vec![1; 10])).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("blob hash"), "{body}");

    let (status, body) = answer(patch(display.to_string(), "zero", "10", vec![1; 10])).await;
    assert_eq!(status, 400);
    assert!(body.contains("upload-offset"), "{body}");

    let too_big = (64 * 1024 * 1024).to_string();
    let (status, body) = answer(patch(display.to_string(), "0", &too_big, vec![1; 10])).await;
    assert_eq!(status, 413, "{body}");

    // One byte more than the declared length.
    let (status, body) = answer(patch(display.to_string(), "0", "10", vec![0xff; 11])).await;
    assert_eq!(status, 413, "{body}");

    // Every byte arrives, but they are not the photo the hash names: the
    // upload is thrown away and can start again.
    let mut wrong = processed.display.jpeg.clone();
    wrong[1000] ^= 0x55;
    let length = wrong.len().to_string();
    let mut offset = 0;
    let mut last = (0, String::new());
    for chunk in wrong.chunks(CHUNK_BYTES as usize) {
        last = answer(patch(
            display.to_string(),
            &offset.to_string(),
            &length,
            chunk.to_vec(),
        ))
        .await;
        offset += chunk.len();
    }
    assert_eq!(last.0, 422, "{}", last.1);
    assert!(last.1.contains("SHA-256"), "{}", last.1);
    let (status, body) = server
        .get(&format!("/api/uploads/{display}"))
        .await
        .unwrap();
    assert_eq!(status, 401, "{body}");
    let status: serde_json::Value = client
        .get(server.url(&format!("/api/uploads/{display}")))
        .bearer_auth(&phone.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        status,
        serde_json::json!({ "offset": 0, "complete": false })
    );
    assert_eq!(
        objects_under(&server, "uploads").await,
        Vec::<String>::new()
    );

    // The real photo still goes up afterwards.
    let mut phone = phone;
    phone.upload(&server.url(""), later(5)).await.unwrap();
    assert!(phone.uploads.is_empty(), "{:?}", phone.upload_events);
}
