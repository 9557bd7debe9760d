//! New jobs made by the office: the next reference number of the service's
//! prefix, the SLA due date from the priority, the resident's contact
//! document beside the job and their first message queued with it; a
//! booked slot books a waiting job; and contact details erased, on request
//! or when their retention ends, from the server, the phones that held
//! them and the messages sent.

use std::sync::Arc;

use automerge::AutoCommit;
use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_server::notify::{DemoProvider, deliver_due};
use doorstep_server::residents::erase_expired_contacts;
use doorstep_shared::prelude::*;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{ADMIN_TOKEN, ServerOptions, TestDevice, TestServer, test_now};

fn later(minutes: i64) -> Timestamp {
    test_now().plus_minutes(minutes)
}

fn new_repair(contact: bool) -> serde_json::Value {
    let mut job = serde_json::json!({
        "service": "housing-repair",
        "priority": "emergency",
        "address": "12 Station Road, Worthing, BN11 1HA",
        "description": "  Boiler out: no heating or hot water.  ",
        "assignee": { "user": DEMO_OPERATIVE.to_string() },
    });
    if contact {
        job["contact"] = serde_json::json!({
            "name": "Olu Adeyemi",
            "phone": "07700 900222",
            "email": "olu@example.org",
        });
    }
    job
}

/// Makes a job through the API; returns its id and reference.
async fn make(server: &TestServer, job: &serde_json::Value) -> (JobId, String) {
    let (status, body) = server
        .post_json("/api/jobs", job, Some(ADMIN_TOKEN))
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    (
        body["job"].as_str().unwrap().parse().unwrap(),
        body["reference"].as_str().unwrap().to_owned(),
    )
}

async fn priya(server: &TestServer) -> TestDevice {
    let mut phone = TestDevice::enrol(server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    phone.sync(server, later(0)).await.unwrap();
    phone
}

async fn erase(server: &TestServer, job: JobId) -> u16 {
    reqwest::Client::new()
        .delete(server.url(&format!("/api/jobs/{job}/contact")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_office_makes_a_job_with_the_next_reference_its_sla_and_the_residents_first_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();

    // The demo holds HR-00001 to HR-00004.
    let (job, reference) = make(&server, &new_repair(true)).await;
    assert_eq!(reference, "HR-00005");
    let (_, next) = make(&server, &new_repair(false)).await;
    assert_eq!(next, "HR-00006");

    // The operative's phone gets the job and its contact.
    let phone = priya(&server).await;
    let made = Job::load(&phone.docs[&DocumentId::Job(job)]).unwrap();
    assert_eq!(made.office.reference, "HR-00005");
    assert_eq!(made.office.created_at, Some(test_now()));
    assert_eq!(
        made.office.due,
        Some(later(24 * 60)),
        "an emergency is due in 24 hours"
    );
    assert_eq!(made.notes.as_str(), "Boiler out: no heating or hot water.");
    assert_eq!(made.office.checklist.len(), 3, "the service's checklist");
    let contact = Contact::load(&phone.docs[&DocumentId::Contact(job)]).unwrap();
    assert_eq!(contact.name, "Olu Adeyemi");

    // The resident hears that the request arrived, by text and email, once
    // quiet hours for texts are over.
    let provider = DemoProvider::default();
    deliver_due(&server.state, &provider, later(20))
        .await
        .unwrap();
    let sent = provider.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|m| m.body.contains("HR-00005")), "{sent:?}");
    assert!(sent.iter().any(|m| m.to == "+447700900222"));
    assert!(sent.iter().any(|m| m.to == "olu@example.org"));
}

#[tokio::test]
async fn jobs_that_cannot_be_made_are_refused_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let with = |key: &str, value: serde_json::Value| {
        let mut job = new_repair(true);
        job[key] = value;
        job
    };
    let cases = [
        (
            "unknown service",
            with("service", "pest-control".into()),
            "no service",
        ),
        (
            "a round service",
            with("service", "waste-round".into()),
            "round service",
        ),
        (
            "unknown priority",
            with("priority", "whenever".into()),
            "emergency, urgent, routine",
        ),
        (
            "empty address",
            with("address", " ".into()),
            "address is empty",
        ),
        (
            "bad phone number",
            with(
                "contact",
                serde_json::json!({ "name": "A", "phone": "12345" }),
            ),
            "not a phone number",
        ),
        (
            "bad channel",
            with(
                "contact",
                serde_json::json!({ "name": "A", "preferred": "pigeon" }),
            ),
            "not a channel",
        ),
    ];
    for (case, job, reason) in cases {
        let (status, body) = server
            .post_json("/api/jobs", &job, Some(ADMIN_TOKEN))
            .await
            .unwrap();
        assert_eq!(status, 400, "{case}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(reason),
            "{case}: {body}"
        );
    }
    let (status, _) = server
        .post_json("/api/jobs", &new_repair(true), None)
        .await
        .unwrap();
    assert_eq!(status, 401);
    // Nothing was made, and no number was used up by a refused request.
    let (_, reference) = make(&server, &new_repair(false)).await;
    assert_eq!(reference, "HR-00005");
}

#[tokio::test]
async fn booking_a_reported_job_books_it_and_tells_the_resident() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    // Demo job 4 is reported, with no appointment.
    let job = JobId::from_u128(0xd00_0004);
    let (status, body) = server
        .post_json(
            &format!("/api/jobs/{job}/booking"),
            &serde_json::json!({ "slot": "2026-11-30-am" }),
            Some(ADMIN_TOKEN),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");

    let phone = priya(&server).await;
    let booked = Job::load(&phone.docs[&DocumentId::Job(job)]).unwrap();
    let repair = ServiceCatalog::builtin().unwrap();
    let repair = repair.get(&"housing-repair".parse().unwrap()).unwrap();
    assert_eq!(booked.status(repair).as_str(), "booked");

    let provider = DemoProvider::default();
    deliver_due(&server.state, &provider, later(20))
        .await
        .unwrap();
    let sent = provider.sent();
    assert_eq!(sent.len(), 1, "Graham gave a mobile number only: {sent:?}");
    assert!(
        sent[0].body.contains("booked for Monday 30 November"),
        "{}",
        sent[0].body
    );
}

/// A job with a contact, its messages sent, then its contact erased.
async fn erasing_contact_details_removes_them_from_phones_and_sent_messages(server: &TestServer) {
    let (job, _) = make(server, &new_repair(true)).await;
    let mut phone = priya(server).await;
    assert!(phone.docs.contains_key(&DocumentId::Contact(job)));
    let provider = DemoProvider::default();
    deliver_due(&server.state, &provider, later(20))
        .await
        .unwrap();
    assert_eq!(provider.sent().len(), 2);

    assert_eq!(erase(server, job).await, 204);
    assert_eq!(erase(server, job).await, 404, "nothing left to erase");

    let rows = server.state.with_store(|s| s.outbox(50)).await.unwrap();
    let rows: Vec<_> = rows.into_iter().filter(|row| row.job == job).collect();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.status, "sent", "what happened is kept");
        assert_eq!(
            (&row.recipient, &row.subject, &row.body),
            (&None, &None, &None)
        );
    }
    let stored = server
        .state
        .with_sync(move |sync, _| sync.load(DocumentId::Contact(job)))
        .await
        .unwrap();
    assert!(stored.is_none());

    // The phone drops its copy at its next sync; the job stays.
    phone.sync(server, later(30)).await.unwrap();
    assert!(!phone.docs.contains_key(&DocumentId::Contact(job)));
    assert!(phone.docs.contains_key(&DocumentId::Job(job)));
}

#[tokio::test]
async fn erasing_contact_details_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    erasing_contact_details_removes_them_from_phones_and_sent_messages(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_erasing_contact_details_on_request() {
    let store =
        tokio::task::spawn_blocking(|| crate::postgres_store::fresh_store("doorstep_test_intake"))
            .await
            .unwrap();
    let photos = tempfile::tempdir().unwrap();
    let server = TestServer::start_with_options(
        Arc::new(store),
        TestServer::photo_folder(photos.path()).unwrap(),
        ServerOptions::default(),
    )
    .await
    .unwrap();
    erasing_contact_details_removes_them_from_phones_and_sent_messages(&server).await;
}

#[tokio::test]
async fn contact_details_are_erased_when_their_retention_ends_and_unsent_messages_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let (job, _) = make(&server, &new_repair(true)).await;

    // The office cancels the job at 09:00; the "request received" messages
    // are still waiting (nothing was delivered).
    let mut office = TestDevice::enrol(&server, &server.code_for("Dan Okafor"), DEMO_TENANT)
        .await
        .unwrap();
    office.sync(&server, later(60)).await.unwrap();
    let dan = Actor {
        user: UserId::from_u128(0xd01),
        role: Role::Dispatcher,
        device: Some(office.device),
    };
    office
        .edit(DEMO_TENANT, DocumentId::Job(job), |doc: &mut AutoCommit| {
            JobEditor::new(doc, dan.clone())
                .unwrap()
                .request_transition(
                    TransitionId::from_u128(1),
                    "reported".parse().unwrap(),
                    "cancelled".parse().unwrap(),
                    Evidence {
                        photos: Vec::new(),
                        note: Some("Resident fixed it themselves".into()),
                    },
                    later(70),
                )
                .unwrap();
        })
        .unwrap();
    office.sync(&server, later(70)).await.unwrap();
    let closed = server
        .state
        .with_sync(move |sync, _| sync.load(DocumentId::Job(job)))
        .await
        .unwrap()
        .map(|(_, doc)| Job::load(&doc).unwrap())
        .unwrap();
    let repair = ServiceCatalog::builtin().unwrap();
    let repair = repair.get(&"housing-repair".parse().unwrap()).unwrap();
    let closed_at = closed.closed_at(repair).expect("the job is closed");

    let day = 24 * 60;
    let kept = erase_expired_contacts(&server.state, 90, closed_at.plus_minutes(89 * day))
        .await
        .unwrap();
    assert_eq!(kept, 0, "kept for 90 days");
    let erased = erase_expired_contacts(&server.state, 90, closed_at.plus_minutes(90 * day))
        .await
        .unwrap();
    assert_eq!(erased, 1);

    let rows = server.state.with_store(|s| s.outbox(50)).await.unwrap();
    let rows: Vec<_> = rows.into_iter().filter(|row| row.job == job).collect();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.status, "skipped", "never sent now: {row:?}");
        assert!(
            row.outcome.as_deref().unwrap().contains("erased"),
            "{row:?}"
        );
    }
    let provider = DemoProvider::default();
    deliver_due(&server.state, &provider, closed_at.plus_minutes(91 * day))
        .await
        .unwrap();
    assert!(provider.sent().is_empty());
}

#[tokio::test]
async fn the_office_assigns_a_job_to_someone_who_exists_and_to_one_assignee_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let (job, _) = make(&server, &new_repair(false)).await;
    let put = |body: serde_json::Value| {
        reqwest::Client::new()
            .put(server.url(&format!("/api/jobs/{job}/assignee")))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
    };
    let status = |response: reqwest::Response| response.status().as_u16();
    let both = serde_json::json!({ "user": DEMO_OPERATIVE.to_string(), "team": DEMO_OPERATIVE.to_string() });
    assert_eq!(status(put(both).await.unwrap()), 400);
    let nobody = serde_json::json!({ "user": UserId::from_u128(0xbad).to_string() });
    assert_eq!(status(put(nobody).await.unwrap()), 400);
    assert_eq!(status(put(serde_json::json!({})).await.unwrap()), 204);
    let unknown_job = reqwest::Client::new()
        .put(server.url(&format!("/api/jobs/{}/assignee", JobId::from_u128(0xbad))))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_job.status(), 404);

    // Unassigned, the job leaves the operative's phone.
    let phone = priya(&server).await;
    assert!(!phone.docs.contains_key(&DocumentId::Job(job)));
}
