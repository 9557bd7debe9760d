//! Booking appointments through the server: half-days counted against the
//! crew's capacity, the appointment written to the job by the server (and
//! its reminder queued), and bad requests refused with their reason.

use std::sync::Arc;

use doorstep_server::demo::DEMO_TENANT;
use doorstep_shared::booking::HalfDay;
use doorstep_shared::prelude::*;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{ADMIN_TOKEN, ServerOptions, TestDevice, TestServer, test_now};

const JOB_TWO: JobId = JobId::from_u128(0xd00_0002);
const JOB_THREE: JobId = JobId::from_u128(0xd00_0003);

async fn book(server: &TestServer, job: JobId, slot: &str, token: Option<&str>) -> u16 {
    let (status, _) = server
        .post_json(
            &format!("/api/jobs/{job}/booking"),
            &serde_json::json!({ "slot": slot }),
            token,
        )
        .await
        .unwrap();
    status
}

async fn offered(server: &TestServer, job: JobId) -> Vec<String> {
    let response = reqwest::Client::new()
        .get(server.url(&format!("/api/jobs/{job}/slots")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let slots: serde_json::Value = response.json().await.unwrap();
    slots
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| slot["slot"].as_str().unwrap().to_owned())
        .collect()
}

/// Two of the demo operative's jobs competing for one place per half-day.
async fn a_full_half_day_is_refused_and_a_moved_booking_frees_its_place(server: &TestServer) {
    let admin = Some(ADMIN_TOKEN);
    assert_eq!(book(server, JOB_TWO, "2026-11-30-am", admin).await, 200);
    assert_eq!(book(server, JOB_THREE, "2026-11-30-am", admin).await, 409);
    assert!(
        !offered(server, JOB_THREE)
            .await
            .contains(&"2026-11-30-am".to_owned())
    );
    // Job 2 moves to the afternoon: its morning place is free again.
    assert_eq!(book(server, JOB_TWO, "2026-11-30-pm", admin).await, 200);
    assert_eq!(book(server, JOB_THREE, "2026-11-30-am", admin).await, 200);

    // The appointment is the server's change, seen by the office's device,
    // and the resident's reminder for it is queued.
    let mut office = TestDevice::enrol(server, &server.code_for("Dan Okafor"), DEMO_TENANT)
        .await
        .unwrap();
    office.sync(server, test_now()).await.unwrap();
    let job = Job::load(&office.docs[&DocumentId::Job(JOB_TWO)]).unwrap();
    let afternoon: HalfDay = "2026-11-30-pm".parse().unwrap();
    assert_eq!(job.office.appointment, Some(afternoon.appointment()));
    let rows = server.state.with_store(|s| s.outbox(20)).await.unwrap();
    assert!(
        rows.iter().any(|row| row.job == JOB_TWO
            && row.event.as_str() == "reminder"
            && row
                .key
                .ends_with(&afternoon.appointment().starts.as_millis().to_string())),
        "{rows:?}"
    );
}

#[tokio::test]
async fn a_crew_books_up_to_its_capacity_per_half_day() {
    let dir = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        booking_capacity: Some(1),
        ..ServerOptions::default()
    };
    let server = TestServer::start_at(dir.path(), options).await.unwrap();
    a_full_half_day_is_refused_and_a_moved_booking_frees_its_place(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_a_crew_books_up_to_its_capacity_per_half_day() {
    let store = tokio::task::spawn_blocking(|| {
        crate::postgres_store::fresh_store("doorstep_test_bookings")
    })
    .await
    .unwrap();
    let photos = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        booking_capacity: Some(1),
        ..ServerOptions::default()
    };
    let server = TestServer::start_with_options(
        Arc::new(store),
        TestServer::photo_folder(photos.path()).unwrap(),
        options,
    )
    .await
    .unwrap();
    a_full_half_day_is_refused_and_a_moved_booking_frees_its_place(&server).await;
}

#[tokio::test]
async fn bookings_that_cannot_be_made_are_refused_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let admin = Some(ADMIN_TOKEN);
    // Friday 27 November 2026, 07:50.
    let offers = offered(&server, JOB_TWO).await;
    assert_eq!(offers[0], "2026-11-27-am", "this morning is still ahead");
    assert!(
        !offers.iter().any(|slot| slot.starts_with("2026-11-28")),
        "no Saturday"
    );
    for (slot, why) in [
        ("2026-11-28-am", "a Saturday"),
        ("2026-11-26-pm", "yesterday"),
        ("2027-03-01-am", "too far ahead"),
        ("tomorrow morning", "not a half-day"),
    ] {
        assert_eq!(book(&server, JOB_TWO, slot, admin).await, 400, "{why}");
    }
    assert_eq!(book(&server, JOB_TWO, "2026-11-30-am", None).await, 401);
    assert_eq!(
        book(&server, JobId::from_u128(0xbad), "2026-11-30-am", admin).await,
        404
    );
    let (status, _) = server
        .post_json(
            "/api/jobs/not-a-job/booking",
            &serde_json::json!({"slot": "2026-11-30-am"}),
            admin,
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
}
