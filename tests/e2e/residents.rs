//! The resident's pages behind a tracking link, over HTTP: what a link
//! shows (its own job, display renditions only, no GPS, no other job),
//! when it stops working, booking through it with a calendar file, and
//! fifty residents booking one half-day at once on PostgreSQL. The same
//! journeys run in Chromium with JavaScript off (and axe-core) in
//! `resident_browser.rs`.

use std::sync::Arc;

use automerge::AutoCommit;
use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_server::notify::{DemoProvider, deliver_due};
use doorstep_shared::job::{GeoPoint, PhotoRef};
use doorstep_shared::photo::{PhotoLimits, process};
use doorstep_shared::prelude::*;
use doorstep_shared::service::PhotoPolicy;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{ADMIN_TOKEN, ServerOptions, TestDevice, TestServer, test_now};

fn later(minutes: i64) -> Timestamp {
    test_now().plus_minutes(minutes)
}

const JOB_ONE: JobId = JobId::from_u128(0xd00_0001);
const JOB_TWO: JobId = JobId::from_u128(0xd00_0002);

/// The token of the first `/track/…` link in a message.
pub(crate) fn token_in(text: &str) -> String {
    let start = text.find("/track/").expect("a tracking link") + "/track/".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A photo of `kind` taken by the demo operative on `job` at `at`, at a
/// known spot, with a request to move the job on a minute later (ticking
/// the mandatory checklist to complete it), queued for upload. Returns the
/// photo's references.
pub(crate) fn photo_and_request(
    phone: &mut TestDevice,
    job: JobId,
    kind: &str,
    n: u128,
    request: Option<(&str, &str)>,
    at: Timestamp,
) -> PhotoRef {
    photo_kept(phone, job, kind, n, request, at, false)
}

/// [`photo_and_request`], keeping the original (as clinical waste does).
fn photo_kept(
    phone: &mut TestDevice,
    job: JobId,
    kind: &str,
    n: u128,
    request: Option<(&str, &str)>,
    at: Timestamp,
    keep_originals: bool,
) -> PhotoRef {
    // A different picture each time: renditions are named by their content.
    let file = doorstep_tests::camera_file(1200 + n as usize, 900);
    let processed = process(&file, &PhotoLimits::default()).unwrap();
    let policy = PhotoPolicy {
        keep_originals,
        device_retention_days: 7,
        evidence_wait_hours: 72,
    };
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    };
    let spot = GeoPoint {
        lat: 50.8123456,
        lon: -0.3712345,
    };
    let photo = processed.reference(kind.parse().unwrap(), me.clone(), at, Some(spot), &policy);
    let reference = photo.clone();
    phone
        .edit(DEMO_TENANT, DocumentId::Job(job), |doc: &mut AutoCommit| {
            let mut editor = JobEditor::new(doc, me.clone()).unwrap();
            editor.add_photo(PhotoId::from_u128(n), &photo).unwrap();
            if let Some((from, to)) = request {
                if to == "completed" {
                    for item in ["supply_isolated", "area_left_clean"] {
                        editor
                            .tick(&item.parse().unwrap(), true, at.plus_minutes(1))
                            .unwrap();
                    }
                }
                editor
                    .request_transition(
                        TransitionId::from_u128(n),
                        from.parse().unwrap(),
                        to.parse().unwrap(),
                        Evidence::default(),
                        at.plus_minutes(1),
                    )
                    .unwrap();
            }
        })
        .unwrap();
    phone.queue_photo(PhotoId::from_u128(n), &processed, &file, &policy);
    reference
}

async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url(path))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_tracking_link_shows_its_own_job_in_plain_words_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    phone.sync(&server, later(0)).await.unwrap();

    // Job 2 is started with a before photo and completed with an after
    // photo; job 1 gets a photo too, which job 2's link must never open.
    let before = photo_and_request(
        &mut phone,
        JOB_TWO,
        "before",
        21,
        Some(("booked", "in_progress")),
        later(10),
    );
    let after = photo_and_request(
        &mut phone,
        JOB_TWO,
        "after",
        22,
        Some(("in_progress", "completed")),
        later(10),
    );
    let elsewhere = photo_and_request(&mut phone, JOB_ONE, "after", 23, None, later(10));
    // Clinical waste (job 6) keeps originals as staff-only evidence.
    let clinical = JobId::from_u128(0xd00_0006);
    let evidence = photo_kept(
        &mut phone,
        clinical,
        "collection",
        24,
        None,
        later(10),
        true,
    );
    let original = evidence.original.expect("the original is kept");
    phone.sync(&server, later(12)).await.unwrap();
    phone.upload(&server.url(""), later(13)).await.unwrap();
    server.state.blobs().settled().await;

    let provider = DemoProvider::default();
    deliver_due(&server.state, &provider, later(30))
        .await
        .unwrap();
    let text = provider
        .sent()
        .into_iter()
        .find(|m| m.body.contains("HR-00002 is complete"))
        .expect("the completion text");
    let token = token_in(&text.body);
    assert_eq!(token.len(), 43);

    let response = get(&server, &format!("/track/{token}/photos")).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    let page = response.text().await.unwrap();
    for shown in [
        "HR-00002",
        "Completed",
        "Work started",
        "Request received",
        "7 Tarring Road",
        "Before photo, taken Friday 27 November 2026 at 8am",
        "After photo",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    let display = |photo: &PhotoRef| photo.display.unwrap().to_string();
    assert!(page.contains(&format!("/track/{token}/photos/{}", display(&before))));
    assert!(page.contains(&format!("/track/{token}/photos/{}", display(&after))));
    for hidden in [
        "HR-00001".to_owned(),
        "50.81".to_owned(),
        "-0.37".to_owned(),
        "Sharma".to_owned(),
        after.thumbnail.unwrap().to_string(),
        display(&elsewhere),
    ] {
        assert!(!page.contains(&hidden), "{hidden} is shown: {page}");
    }

    // The display rendition, a JPEG without GPS; nothing else.
    // The clinical-waste link shows the display rendition, never the
    // original, though the server holds it.
    let clinical_token =
        doorstep_server::residents::issue(&server.state, DEMO_TENANT, clinical, test_now())
            .await
            .unwrap();
    let clinical_page = get(&server, &format!("/track/{clinical_token}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        clinical_page.contains(&display(&evidence)),
        "{clinical_page}"
    );
    assert!(
        !clinical_page.contains(&original.to_string()),
        "{clinical_page}"
    );
    let stored = server
        .state
        .with_store(move |s| s.stored_blob(original))
        .await
        .unwrap();
    assert!(stored.is_some(), "the original was uploaded, for staff");
    let refused = get(
        &server,
        &format!("/track/{clinical_token}/photos/{original}"),
    )
    .await;
    assert_eq!(refused.status(), 404);

    let photo = get(
        &server,
        &format!("/track/{token}/photos/{}", display(&after)),
    )
    .await;
    assert_eq!(photo.status(), 200);
    assert_eq!(photo.headers()["content-type"], "image/jpeg");
    let bytes = photo.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
    assert!(!bytes.windows(4).any(|w| w == b"GPS\0"), "no GPS block");
    for refused in [
        after.thumbnail.unwrap().to_string(),
        display(&elsewhere),
        "not-a-hash".to_owned(),
    ] {
        let response = get(&server, &format!("/track/{token}/photos/{refused}")).await;
        assert_eq!(response.status(), 404, "{refused}");
    }

    // Forged and garbled links are the same plain 404 as a missing page.
    let forged = "A".repeat(43);
    for path in [
        format!("/track/{forged}"),
        "/track/short".into(),
        format!("/track/{forged}/book"),
    ] {
        let response = get(&server, &path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body = response.text().await.unwrap();
        assert!(body.contains("Page not found"), "{body}");
        assert!(!body.contains("HR-0000"), "{body}");
    }

    // The link works for 30 days after the job closed, then stops.
    let job = server
        .state
        .with_sync(|sync, _| sync.load(DocumentId::Job(JOB_TWO)))
        .await
        .unwrap()
        .map(|(_, doc)| Job::load(&doc).unwrap())
        .unwrap();
    let catalog = ServiceCatalog::builtin().unwrap();
    let repair = catalog.get(&"housing-repair".parse().unwrap()).unwrap();
    let closed = job.closed_at(repair).unwrap();
    server.clock.set(closed.plus_minutes(30 * 24 * 60 - 1));
    assert_eq!(get(&server, &format!("/track/{token}")).await.status(), 200);
    server.clock.set(closed.plus_minutes(30 * 24 * 60));
    assert_eq!(get(&server, &format!("/track/{token}")).await.status(), 404);
}

#[tokio::test]
async fn a_resident_books_through_the_link_and_gets_a_calendar_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    // Graham's radiator (HR-00004) waits for an appointment.
    let job = JobId::from_u128(0xd00_0004);
    let token = doorstep_server::residents::issue(&server.state, DEMO_TENANT, job, test_now())
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let page = get(&server, &format!("/track/{token}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Not booked yet"), "{page}");
    let form = get(&server, &format!("/track/{token}/book")).await;
    assert_eq!(form.status(), 200);
    let form = form.text().await.unwrap();
    assert!(form.contains("value=\"2026-11-30-am\""), "{form}");
    assert!(!form.contains("2026-11-28"), "no Saturday: {form}");

    let post = |slot: &str| {
        client
            .post(server.url(&format!("/track/{token}/book")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("slot={slot}"))
            .send()
    };
    let empty = post("").await.unwrap();
    assert_eq!(empty.status(), 400);
    let empty = empty.text().await.unwrap();
    assert!(empty.contains("There is a problem"), "{empty}");
    assert!(empty.contains("<title>Error: "), "{empty}");
    let weekend = post("2026-11-28-am").await.unwrap();
    assert_eq!(weekend.status(), 400);

    let booked = post("2026-11-30-am").await.unwrap();
    assert_eq!(booked.status(), 303);
    assert_eq!(
        booked.headers()["location"],
        format!("/track/{token}/booked")
    );
    let done = get(&server, &format!("/track/{token}/booked"))
        .await
        .text()
        .await
        .unwrap();
    assert!(done.contains("Appointment booked"), "{done}");
    assert!(
        done.contains("Monday 30 November 2026, 8am to midday"),
        "{done}"
    );

    let ics = get(&server, &format!("/track/{token}/appointment.ics")).await;
    assert_eq!(
        ics.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let ics = ics.text().await.unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
    assert!(ics.contains("DTSTART:20261130T080000Z\r\n"), "{ics}");
    assert!(ics.contains("DTEND:20261130T120000Z\r\n"), "{ics}");
    assert!(
        ics.contains("LOCATION:2 Brooklands Road\\, Sompting\\, BN15 0DD\r\n"),
        "{ics}"
    );

    // The job is now booked; the page says so and offers a change.
    let page = get(&server, &format!("/track/{token}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Booked"), "{page}");
    assert!(page.contains("Change the appointment"), "{page}");

    // A job whose work has started cannot be rebooked from its link.
    let started =
        doorstep_server::residents::issue(&server.state, DEMO_TENANT, JOB_ONE, test_now())
            .await
            .unwrap();
    let refused = get(&server, &format!("/track/{started}/book")).await;
    assert_eq!(refused.status(), 409);
    let admin = server
        .post_json(
            &format!("/api/jobs/{JOB_ONE}/booking"),
            &serde_json::json!({ "slot": "2026-11-30-pm" }),
            Some(ADMIN_TOKEN),
        )
        .await
        .unwrap();
    assert_eq!(admin.0, 200, "the office still can");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_fifty_residents_booking_one_half_day_of_capacity_four_get_four_places() {
    let store = tokio::task::spawn_blocking(|| {
        crate::postgres_store::fresh_store("doorstep_test_fifty_bookings")
    })
    .await
    .unwrap();
    let photos = tempfile::tempdir().unwrap();
    let server = TestServer::start_with_options(
        Arc::new(store),
        TestServer::photo_folder(photos.path()).unwrap(),
        ServerOptions {
            booking_capacity: Some(4),
            ..ServerOptions::default()
        },
    )
    .await
    .unwrap();
    // Fifty reported repairs for the same operative.
    let mut tokens = Vec::new();
    for n in 0..50 {
        let (status, body) = server
            .post_json(
                "/api/jobs",
                &serde_json::json!({
                    "service": "housing-repair",
                    "address": format!("{} Ham Way, Worthing, BN11 2QZ", n + 1),
                    "assignee": { "user": DEMO_OPERATIVE.to_string() },
                }),
                Some(ADMIN_TOKEN),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{body}");
        let job: JobId = body["job"].as_str().unwrap().parse().unwrap();
        tokens.push(
            doorstep_server::residents::issue(&server.state, DEMO_TENANT, job, test_now())
                .await
                .unwrap(),
        );
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let attempts = tokens.iter().map(|token| {
        client
            .post(server.url(&format!("/track/{token}/book")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("slot=2026-11-30-am")
            .send()
    });
    let answers = futures::future::join_all(attempts).await;
    let statuses: Vec<u16> = answers
        .into_iter()
        .map(|answer| answer.unwrap().status().as_u16())
        .collect();
    let booked = statuses.iter().filter(|s| **s == 303).count();
    let full = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((booked, full), (4, 46), "{statuses:?}");
    let taken = server
        .state
        .with_store(|store| {
            store.booked(
                DEMO_TENANT,
                &format!("user:{DEMO_OPERATIVE}"),
                &["2026-11-30-am".parse().unwrap()],
            )
        })
        .await
        .unwrap();
    assert_eq!(taken, [4]);
}

/// A `multipart/form-data` body with text fields and files, each file as
/// `(field, content type, bytes)`.
pub(crate) fn multipart(
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> (String, Vec<u8>) {
    let boundary = "doorstep-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (n, (field, content_type, file)) in files.iter().enumerate() {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"f{n}\"\r\nContent-Type: {content_type}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn a_report_with_a_corrupt_or_fourth_photo_is_refused_with_its_reason_and_makes_no_job() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let fields = [
        ("category", "housing-repair:damp"),
        ("description", "Mould behind the wardrobe"),
        ("street", "3 Ham Way"),
        ("town", "Worthing"),
        ("postcode", "BN11 2QZ"),
        ("name", "Ana Costa"),
        ("updates", "none"),
    ];
    let photo = doorstep_tests::camera_file(800, 600);
    let send = |files: Vec<&[u8]>| {
        let files: Vec<(&str, &str, &[u8])> = files
            .into_iter()
            .map(|file| ("photos", "image/jpeg", file))
            .collect();
        let (content_type, body) = multipart(&fields, &files);
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(server.url("/report"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let corrupt = send(vec![&photo[..photo.len() / 2]]).await.unwrap();
    assert_eq!(corrupt.status(), 400);
    let page = corrupt.text().await.unwrap();
    assert!(page.contains("Photo 1 cannot be used"), "{page}");
    assert!(
        page.contains("value=\"3 Ham Way\""),
        "answers are kept: {page}"
    );
    let four = send(vec![&photo, &photo, &photo, &photo]).await.unwrap();
    assert_eq!(four.status(), 400);
    assert!(four.text().await.unwrap().contains("Choose up to 3 photos"));
    let not_multipart = reqwest::Client::new()
        .post(server.url("/report"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(not_multipart.status(), 400);

    let jobs = server
        .state
        .with_store(|store| store.job_summaries(DEMO_TENANT))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 7, "only the demo's jobs");

    let fine = send(vec![&photo]).await.unwrap();
    assert_eq!(fine.status(), 303);
    let location = fine.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("/reported"), "{location}");
    let confirmation = get(&server, &location).await.text().await.unwrap();
    assert!(confirmation.contains("HR-00005"), "{confirmation}");
    assert!(
        confirmation.contains("you asked us not to send updates"),
        "{confirmation}"
    );
}

/// The demo's walk for a resident: report a repair with a photo, the
/// office assigns it, the resident books through the link, the operative
/// starts and completes it with before and after photos; the link then
/// shows all three photos, and the resident got a text at each step.
#[tokio::test]
async fn the_demo_walks_a_resident_from_report_to_booked_to_completed_with_before_and_after_photos()
{
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let address = "12 Station Road, Worthing, BN11 1HA";
    let photo = doorstep_tests::camera_file(1000, 750);
    let (content_type, body) = multipart(
        &[
            ("category", "housing-repair:leak"),
            ("description", "Water through the kitchen ceiling light"),
            ("street", "12 Station Road"),
            ("town", "Worthing"),
            ("postcode", "BN11 1HA"),
            ("name", "Olu Adeyemi"),
            ("updates", "sms"),
            ("phone", "07700 900222"),
        ],
        &[("photos", "image/jpeg", &photo)],
    );
    let reported = client
        .post(server.url("/report"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reported.status(), 303);
    let token = token_in(reported.headers()["location"].to_str().unwrap());
    let job = server
        .state
        .with_store(|store| store.job_summaries(DEMO_TENANT))
        .await
        .unwrap()
        .into_iter()
        .find(|job| job.address == address)
        .unwrap()
        .job;

    // The office gives it to Priya; the resident books this afternoon.
    let assigned = client
        .put(server.url(&format!("/api/jobs/{job}/assignee")))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(format!("{{\"user\": \"{DEMO_OPERATIVE}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(assigned.status(), 204);
    let booked = client
        .post(server.url(&format!("/track/{token}/book")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("slot=2026-11-27-pm")
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), 303);

    // Priya's phone: on her way, started with a before photo, completed
    // with an after photo.
    let mut phone = TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    phone.sync(&server, later(0)).await.unwrap();
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    };
    phone
        .edit(DEMO_TENANT, DocumentId::Job(job), |doc: &mut AutoCommit| {
            JobEditor::new(doc, me.clone())
                .unwrap()
                .log_action(
                    EventId::from_u128(71),
                    "on_my_way".parse().unwrap(),
                    None,
                    later(8),
                )
                .unwrap();
        })
        .unwrap();
    photo_and_request(
        &mut phone,
        job,
        "before",
        72,
        Some(("booked", "in_progress")),
        later(10),
    );
    photo_and_request(
        &mut phone,
        job,
        "after",
        73,
        Some(("in_progress", "completed")),
        later(10),
    );
    phone.sync(&server, later(12)).await.unwrap();
    phone.upload(&server.url(""), later(13)).await.unwrap();
    server.state.blobs().settled().await;

    let provider = DemoProvider::default();
    deliver_due(&server.state, &provider, later(30))
        .await
        .unwrap();
    let texts: Vec<String> = provider
        .sent()
        .into_iter()
        .filter(|m| m.to == "+447700900222")
        .map(|m| m.body)
        .collect();
    for expected in [
        "we have your repair request",
        "is booked for Friday 27 November 2026, midday to 5pm",
        "on the way",
        "is complete",
    ] {
        assert!(
            texts.iter().any(|t| t.contains(expected)),
            "{expected}: {texts:?}"
        );
    }

    let page = get(&server, &format!("/track/{token}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Completed"), "{page}");
    for label in ["From the resident photo", "Before photo", "After photo"] {
        assert!(page.contains(label), "{label}: {page}");
    }
    let sources: Vec<String> = page
        .split("<img src=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_owned))
        .collect();
    assert_eq!(sources.len(), 3, "{page}");
    for source in sources {
        let image = get(&server, &source).await;
        assert_eq!(image.status(), 200, "{source}");
        assert_eq!(image.headers()["content-type"], "image/jpeg");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_cancels_from_their_tracking_page_and_stops_texts() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    // Graham's radiator (HR-00004): reported, his updates by text.
    let job = JobId::from_u128(0xd00_0004);
    let token = doorstep_server::residents::issue(&server.state, DEMO_TENANT, job, test_now())
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |path: String, body: &'static str| {
        client
            .post(server.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };

    // The page offers what his service lets a resident do now.
    let page = get(&server, &format!("/track/{token}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("What you can do"), "{page}");
    assert!(
        page.contains(&format!("/track/{token}/steps/cancel")),
        "{page}"
    );
    assert!(page.contains(&format!("/track/{token}/contact")), "{page}");
    // A step his role has not got is not offered, and not taken.
    assert!(!page.contains("/steps/start"), "{page}");
    let start = post(format!("/track/{token}/steps/start"), "from=reported&note=")
        .await
        .unwrap();
    assert_eq!(start.status(), 409);

    // Cancelling asks why; without a reason nothing happens.
    let form = get(&server, &format!("/track/{token}/steps/cancel")).await;
    assert_eq!(form.status(), 200);
    let empty = post(
        format!("/track/{token}/steps/cancel"),
        "from=reported&note=",
    )
    .await
    .unwrap();
    assert_eq!(empty.status(), 400);
    assert!(empty.text().await.unwrap().contains("There is a problem"));
    let cancelled = post(
        format!("/track/{token}/steps/cancel"),
        "from=reported&note=Fixed+it+myself",
    )
    .await
    .unwrap();
    assert_eq!(cancelled.status(), 303);
    let done = get(&server, &format!("/track/{token}/steps/cancel/done"))
        .await
        .text()
        .await
        .unwrap();
    assert!(done.contains("Cancelled"), "{done}");

    // The office's history says the resident asked, with the reason.
    let office = crate::office_work::Office::sign_in(&server).await;
    let (_, history) = office.get(&format!("/office/jobs/{job}")).await;
    assert!(
        history.contains("The resident asked to move it to “Cancelled”, noting “Fixed it myself”"),
        "{history}"
    );

    // He stops texts: a bad email is refused, then his choice is kept.
    let bad = post(
        format!("/track/{token}/contact"),
        "name=Graham+Pike&updates=email&phone=07700+900104&email=nope",
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    let saved = post(
        format!("/track/{token}/contact"),
        "name=Graham+Pike&updates=sms&phone=07700+900104&email=graham%40example.org&no_texts=yes",
    )
    .await
    .unwrap();
    assert_eq!(saved.status(), 303);
    let contact = server
        .state
        .with_sync(move |sync, _| sync.load(DocumentId::Contact(job)))
        .await
        .unwrap()
        .map(|(_, document)| Contact::load(&document).unwrap())
        .unwrap();
    assert!(contact.sms_opt_out);
    assert_eq!(
        contact.reachable_by(),
        Some(Channel::Email),
        "texts stopped, email instead"
    );
    let (_, history) = office.get(&format!("/office/jobs/{job}")).await;
    assert!(
        history.contains("The resident: Changed their contact details"),
        "{history}"
    );
    server.stop().await.unwrap();
}
