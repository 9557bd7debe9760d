//! The residents' pages in a real browser: `tests/browser/residents.mjs`
//! drives Debian's Chromium with JavaScript off through reporting a repair
//! (with a photo), following it, booking and changing its appointment, a
//! completed repair's photos, a missed bin the crew's record explains, the
//! back office's sign-in and job list, and a dead link; then does it all again with
//! JavaScript on, running axe-core on every page. The server here is real;
//! afterwards the reports the browser made must be on it as jobs.

use std::path::Path;
use std::process::Command;

use doorstep_server::demo::{DEMO_DISPATCHER_EMAIL, DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_shared::prelude::*;
use doorstep_tests::{STAFF_PASSWORD, TestDevice, TestServer, camera_file, test_now};

use crate::missed_bins::{FINISH, START, crew_logs};
use crate::residents::photo_and_request;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residents_report_follow_and_book_with_javascript_off_and_every_page_passes_axe() {
    let browser = axe_browser_folder();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();

    // Job 2, completed with before and after photos, for the photo page.
    let mut phone = TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    phone.sync(&server, test_now()).await.unwrap();
    let job = JobId::from_u128(0xd00_0002);
    photo_and_request(
        &mut phone,
        job,
        "before",
        31,
        Some(("booked", "in_progress")),
        test_now().plus_minutes(10),
    );
    photo_and_request(
        &mut phone,
        job,
        "after",
        32,
        Some(("in_progress", "completed")),
        test_now().plus_minutes(10),
    );
    phone
        .sync(&server, test_now().plus_minutes(12))
        .await
        .unwrap();
    phone
        .upload(&server.url(""), test_now().plus_minutes(13))
        .await
        .unwrap();
    server.state.blobs().settled().await;
    // The crew found 3 Ham Way's bin contaminated, and finished the round.
    let mut crew = TestDevice::enrol(&server, &server.code_for("Sam Lee"), DEMO_TENANT)
        .await
        .unwrap();
    crew.sync(&server, test_now()).await.unwrap();
    crew_logs(
        &server,
        &mut crew,
        &[(2, "contaminated", true)],
        &[START, FINISH],
    )
    .await;
    let token = doorstep_server::residents::issue(&server.state, DEMO_TENANT, job, test_now())
        .await
        .unwrap();
    let jpeg = dir.path().join("leak.jpg");
    std::fs::write(&jpeg, camera_file(1024, 768)).unwrap();

    let url = server.url("");
    let script = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("residents.mjs")
            .args([&url, &token])
            .arg(&jpeg)
            .args([DEMO_DISPATCHER_EMAIL, STAFF_PASSWORD])
            .current_dir(&browser)
            .status()
    })
    .await
    .unwrap()
    .expect("could not run node (scripts/setup.sh installs it)");
    assert!(script.success(), "the browser script failed ({script})");

    // Two reports (one per run of the journeys), each booked, each with
    // the resident's photo and the operative unassigned.
    let jobs = server
        .state
        .with_store(|store| store.job_summaries(DEMO_TENANT))
        .await
        .unwrap();
    let reported: Vec<_> = jobs
        .iter()
        .filter(|job| job.address == "12 Station Road, Worthing, BN11 1HA")
        .collect();
    assert_eq!(reported.len(), 2, "{jobs:?}");
    for summary in reported {
        assert_eq!(summary.status.as_str(), "booked");
        let id = summary.job;
        let job = server
            .state
            .with_sync(move |sync, _| sync.load(doorstep_shared::sync::wire::DocumentId::Job(id)))
            .await
            .unwrap()
            .map(|(_, doc)| Job::load(&doc).unwrap())
            .unwrap();
        assert_eq!(
            job.office.priority.as_ref().map(|p| p.as_str()),
            Some("urgent")
        );
        assert!(
            job.notes
                .as_str()
                .starts_with("A leak or drip: Water dripping")
        );
        let photo = job.photos.values().next().expect("the resident's photo");
        assert_eq!(photo.kind.as_str(), "reported");
        assert_eq!(photo.location, None);
        assert_ne!(photo.taken_by.user, DEMO_OPERATIVE);
    }
}

/// The browser scripts' folder, with axe-core installed in it.
pub(crate) fn axe_browser_folder() -> std::path::PathBuf {
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        browser.join("node_modules/axe-core").is_dir(),
        "axe-core is not installed in {}: run ./scripts/setup.sh",
        browser.display()
    );
    browser
}
