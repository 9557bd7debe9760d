//! The app's offline core against a real server: phones that edit the
//! same job and log the same round offline converge once back in signal,
//! a core killed in the middle of a write reopens with every edit it had
//! committed, and a phone signing out sends its work first, then revokes
//! itself and forgets everything.

use doorstep_app_core::core::AppCore;
use doorstep_app_core::store::LocalStore;
use doorstep_app_core::transport::NativeTransport;
use doorstep_server::demo::DEMO_TENANT;
use doorstep_shared::prelude::*;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{ADMIN_TOKEN, TestServer, camera_file, test_now};

const JOB: JobId = JobId::from_u128(0xd00_0002);
const ROUND: RoundId = RoundId::from_u128(0xd20_0001);
const PRIYA: UserId = UserId::from_u128(0xd02);
const SAM: UserId = UserId::from_u128(0xd04);

fn later(minutes: i64) -> Timestamp {
    test_now().plus_minutes(minutes)
}

fn transport() -> NativeTransport {
    NativeTransport::new(std::time::Duration::from_secs(30)).unwrap()
}

/// Blocking work (the core's HTTP client) off the async test's thread.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

/// A fresh enrolment code for a user, from the admin API.
async fn code_for(server: &TestServer, user: UserId) -> String {
    let (status, body) = server
        .post_json(
            "/api/admin/enrolments",
            &serde_json::json!({ "user": user }),
            Some(ADMIN_TOKEN),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body["code"].as_str().unwrap().to_owned()
}

/// A phone's core with its database at `path`, enrolled and synced.
async fn phone(server: &TestServer, user: UserId, path: &std::path::Path) -> AppCore {
    let code = code_for(server, user).await;
    let url = server.url("");
    blocking(move || {
        let mut core = AppCore::open(
            LocalStore::open(path).unwrap(),
            ServiceCatalog::builtin().unwrap(),
        )
        .unwrap();
        core.enrol(&transport(), &url, &code).unwrap();
        core.sync_step(&transport(), later(0)).unwrap();
        core
    })
}

/// Back in signal, as the app is: its changes go up, then its photos,
/// then a last sync brings what the server decided once they arrived.
fn sync(core: &mut AppCore, now: Timestamp) {
    blocking(|| {
        // Until nothing is left to send and the last reply is applied.
        let mut sent = false;
        for _ in 0..5 {
            core.sync_step(&transport(), now).unwrap();
            if core.waiting() == 0 {
                sent = true;
                break;
            }
        }
        assert!(sent, "{} changes never went up", core.waiting());
        for _ in 0..50 {
            if core.uploads_waiting() == 0 {
                break;
            }
            core.upload_step(&transport(), now).unwrap();
        }
        assert_eq!(core.uploads_waiting(), 0, "the photos went up");
        core.sync_step(&transport(), now).unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phones_offline_edit_the_same_job_and_round_and_converge() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut first = phone(&server, PRIYA, &dir.path().join("first.db")).await;
    let mut second = phone(&server, PRIYA, &dir.path().join("second.db")).await;
    assert_eq!(first.job_rows().unwrap().len(), 7, "her seven jobs arrived");

    // Both offline: each changes the notes and the checklist; one starts
    // the job, the other records an action.
    let (job, _) = first.job(JOB).unwrap();
    let original = job.notes.as_str().to_owned();
    first
        .update_notes(JOB, &format!("Gas isolated first. {original}"))
        .unwrap();
    second
        .update_notes(JOB, &format!("{original} Resident has a dog."))
        .unwrap();
    let items: Vec<Name> = job.office.checklist.keys().cloned().collect();
    first.tick(JOB, &items[0], true, later(1)).unwrap();
    second.tick(JOB, &items[1], true, later(1)).unwrap();
    let start: StateId = "in_progress".parse().unwrap();
    let refused = first.request_transition(JOB, &start, None, later(2));
    assert!(
        matches!(
            refused,
            Err(doorstep_app_core::core::CoreError::Invalid(
                InvalidTransition::MissingPhoto { .. }
            ))
        ),
        "no before photo yet: {refused:?}"
    );
    first
        .add_job_photo(
            JOB,
            &"before".parse().unwrap(),
            &camera_file(640, 480),
            None,
            later(2),
        )
        .unwrap();
    first
        .request_transition(JOB, &start, None, later(2))
        .unwrap();
    assert!(
        first.job_rows().unwrap().iter().any(|row| row.unsynced),
        "the list shows the job waiting to sync"
    );

    // Two crew phones log the same round.
    let mut crew_a = phone(&server, SAM, &dir.path().join("crew-a.db")).await;
    let mut crew_b = phone(&server, SAM, &dir.path().join("crew-b.db")).await;
    let (round, _) = crew_a.round(ROUND).unwrap();
    let stops = round.visiting_order();
    crew_a
        .log_outcome(
            ROUND,
            stops[0],
            &"collected".parse().unwrap(),
            None,
            None,
            later(3),
        )
        .unwrap();
    // A picture of its own: the server refuses a picture another phone
    // already sent for another document.
    let (photo, _) = crew_b
        .add_round_photo(
            ROUND,
            &"evidence".parse().unwrap(),
            &camera_file(600, 400),
            None,
            later(3),
        )
        .unwrap();
    crew_b
        .log_outcome(
            ROUND,
            stops[1],
            &"contaminated".parse().unwrap(),
            Some("Food waste in the recycling".into()),
            Some(photo),
            later(3),
        )
        .unwrap();

    // Back in signal, in any order.
    sync(&mut second, later(10));
    sync(&mut first, later(11));
    sync(&mut second, later(12));
    sync(&mut crew_b, later(10));
    sync(&mut crew_a, later(11));
    sync(&mut crew_b, later(12));
    sync(&mut first, later(13));

    let job_doc = DocumentId::Job(JOB);
    let mut a = first.document(job_doc).unwrap().unwrap();
    let mut b = second.document(job_doc).unwrap().unwrap();
    assert_eq!(a.get_heads(), b.get_heads(), "the job converged");
    let (merged, service) = first.job(JOB).unwrap();
    let notes = merged.notes.as_str();
    assert!(
        notes.starts_with("Gas isolated first.") && notes.ends_with("Resident has a dog."),
        "{notes:?}"
    );
    assert!(merged.ticks[&items[0]].done && merged.ticks[&items[1]].done);
    assert_eq!(
        merged.status(service).as_str(),
        "in_progress",
        "the server's verdict came back"
    );
    let _ = (&mut a, &mut b);

    let round_doc = DocumentId::Round(ROUND);
    assert_eq!(
        crew_a.document(round_doc).unwrap().unwrap().get_heads(),
        crew_b.document(round_doc).unwrap().unwrap().get_heads(),
        "the round converged"
    );
    let (round, _) = crew_a.round(ROUND).unwrap();
    assert_eq!(round.outcomes.len(), 2);
    let rounds = crew_a.rounds().unwrap();
    assert_eq!(rounds.len(), 1, "the crew's list holds its round");
    assert_eq!(
        (rounds[0].done, rounds[0].total),
        (2, round.office.properties.len())
    );

    // The crew's evidence photo goes up in the background.
    blocking(|| {
        for _ in 0..50 {
            if crew_b.uploads_waiting() == 0 {
                break;
            }
            crew_b.upload_step(&transport(), later(14)).unwrap();
        }
    });
    assert_eq!(crew_b.uploads_waiting(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_killed_in_the_middle_of_a_write_reopens_with_every_committed_edit() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let path = dir.path().join("phone.db");
    let core = phone(&server, PRIYA, &path).await;
    let waiting_before = core.waiting();
    drop(core);

    // Two edits commit; the process dies inside the third's transaction.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_app-core-crasher"))
        .arg(&path)
        .arg(JOB.to_string())
        .arg("5")
        .env("DOORSTEP_FAILPOINT", "edit-before-commit:3")
        .status()
        .unwrap();
    assert!(!status.success(), "the crasher was meant to die: {status}");

    let mut core = AppCore::open(
        LocalStore::open(&path).unwrap(),
        ServiceCatalog::builtin().unwrap(),
    )
    .unwrap();
    let (job, _) = core.job(JOB).unwrap();
    let notes = job.notes.as_str();
    assert!(notes.ends_with("crasher edit 2"), "{notes:?}");
    assert!(!notes.contains("crasher edit 3"), "{notes:?}");
    assert_eq!(
        core.waiting(),
        waiting_before + 2,
        "both committed edits wait to sync"
    );
    let row = core
        .job_rows()
        .unwrap()
        .into_iter()
        .find(|row| row.summary.job == JOB)
        .unwrap();
    assert!(row.unsynced);

    // And they reach the server.
    sync(&mut core, later(5));
    let dispatcher = phone(
        &server,
        UserId::from_u128(0xd01),
        &dir.path().join("office.db"),
    )
    .await;
    let (seen, _) = dispatcher.job(JOB).unwrap();
    assert!(seen.notes.as_str().ends_with("crasher edit 2"));
    let _ = DEMO_TENANT;
}

fn wall_clock() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Timestamp::from_millis(millis)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_on_its_thread_enrols_syncs_and_sends_an_edit_up_by_itself() {
    use doorstep_app_core::runtime::{Command, Runtime, Update};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let code = code_for(&server, PRIYA).await;
    let url = server.url("");
    let path = dir.path().join("phone.db");
    blocking(move || {
        let core = AppCore::open(
            LocalStore::open(&path).unwrap(),
            ServiceCatalog::builtin().unwrap(),
        )
        .unwrap();
        let runtime = Runtime::start(core, Box::new(transport()), wall_clock).unwrap();
        // Waits, without sleeping, for an update that passes `check`.
        let wait_for = |check: &dyn Fn(&Update) -> bool| {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while std::time::Instant::now() < deadline {
                if let Some(update) = runtime.next_update(Duration::from_secs(1))
                    && check(&update)
                {
                    return update;
                }
            }
            panic!("the awaited update never came");
        };
        runtime.send(Command::Enrol { server: url, code });
        wait_for(&|u| matches!(u, Update::Enrolled(_)));
        wait_for(&|u| matches!(u, Update::Jobs(rows) if rows.len() == 7));

        // Opening a job brings its resident's number from the phone's copy
        // of the contact document, and a photo taken shows at once from the
        // phone's storage.
        runtime.send(Command::Open(DocumentId::Job(JOB)));
        let Update::JobExtras { contact, .. } =
            wait_for(&|u| matches!(u, Update::JobExtras { job, .. } if *job == JOB))
        else {
            unreachable!()
        };
        let contact = contact.expect("the demo job's resident");
        assert_eq!(contact.name, "Tomasz Nowak");
        assert_eq!(contact.phone.as_deref(), Some("+447700900102"));
        runtime.send(Command::AddJobPhoto {
            job: JOB,
            kind: "before".parse().unwrap(),
            file: camera_file(640, 480),
            location: None,
        });
        let Update::JobExtras { thumbnails, .. } = wait_for(
            &|u| matches!(u, Update::JobExtras { thumbnails, .. } if !thumbnails.is_empty()),
        ) else {
            unreachable!()
        };
        assert_eq!(thumbnails.len(), 1);
        assert!(thumbnails[0].1.starts_with(&[0xFF, 0xD8]), "a JPEG");

        runtime.send(Command::UpdateNotes {
            job: JOB,
            text: "Sent up without a button.".into(),
        });
        wait_for(&|u| matches!(u, Update::Waiting { changes: 1, .. }));
        wait_for(&|u| matches!(u, Update::Waiting { changes: 0, .. }));

        runtime.send(Command::RequestTransition {
            job: JOB,
            to: "completed".parse().unwrap(),
            note: None,
        });
        let Update::Refused { reason } = wait_for(&|u| matches!(u, Update::Refused { .. })) else {
            unreachable!()
        };
        assert!(!reason.is_empty());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_sends_what_is_waiting_then_revokes_the_phone_and_forgets_everything() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut core = phone(&server, PRIYA, &dir.path().join("phone.db")).await;
    let token = core.enrolment().unwrap().token.clone();
    let url = server.url("");

    // A note made with no signal, then "Sign out of this phone".
    core.update_notes(JOB, "Left the spare key with the neighbour at 12.")
        .unwrap();
    core.request_sign_out().unwrap();
    assert!(core.settings().unwrap().signing_out);
    assert!(
        matches!(
            core.update_notes(JOB, "more"),
            Err(doorstep_app_core::core::CoreError::ReadOnly(_))
        ),
        "nothing new is made while signing out"
    );
    // Not yet: the note is still on the phone.
    assert!(!blocking(|| core.sign_out_step(&transport()).unwrap()));

    blocking(|| {
        core.sync_step(&transport(), later(5)).unwrap();
        assert!(core.sign_out_step(&transport()).unwrap(), "signed out");
    });
    assert!(core.enrolment().is_none());
    assert!(
        core.documents().unwrap().is_empty(),
        "the phone forgot its jobs"
    );

    // The note reached the server, and the phone's token is refused.
    let stored = server
        .state
        .with_sync(|sync, _| sync.load(DocumentId::Job(JOB)))
        .await
        .unwrap()
        .unwrap()
        .1;
    assert!(
        Job::load(&stored)
            .unwrap()
            .notes
            .as_str()
            .contains("spare key")
    );
    let refused = reqwest::Client::new()
        .post(format!("{url}/api/device/sign-out"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let nobody = reqwest::Client::new()
        .post(format!("{url}/api/device/sign-out"))
        .send()
        .await
        .unwrap();
    assert_eq!(nobody.status(), 401, "only a device, for itself");
}
