//! A council's own service, added as a file in its server's services
//! folder, reaches the phones with the sync: a job of it is listed, worked
//! and finished on the phone's core; the phone still knows it offline
//! after a restart; and when the council edits the file, the next sync
//! carries that one definition and nothing else.

use doorstep_app_core::core::{AppCore, CoreEvent};
use doorstep_app_core::store::LocalStore;
use doorstep_app_core::transport::NativeTransport;
use doorstep_server::demo::DEMO_TENANT;
use doorstep_shared::prelude::*;
use doorstep_tests::{
    ADMIN_TOKEN, COUNCIL_SERVICE, ServerOptions, TestDevice, TestServer, camera_file,
    council_services, test_now,
};

const PRIYA: UserId = UserId::from_u128(0xd02);

fn transport() -> NativeTransport {
    NativeTransport::new(std::time::Duration::from_secs(30)).unwrap()
}

fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

fn pest_control() -> ServiceId {
    "pest-control".parse().unwrap()
}

fn name(text: &str) -> Name {
    text.parse().unwrap()
}

/// Syncs until nothing waits to go up, then once more for the verdicts.
/// Back in signal, as the app is: changes up, then photos, then a last
/// sync for what the server decided once they arrived.
fn sync(core: &mut AppCore, now: Timestamp) -> Vec<CoreEvent> {
    blocking(|| {
        let mut events = Vec::new();
        for _ in 0..5 {
            events.extend(core.sync_step(&transport(), now).unwrap());
            if core.waiting() == 0 {
                for _ in 0..50 {
                    if core.uploads_waiting() == 0 {
                        break;
                    }
                    events.extend(core.upload_step(&transport(), now).unwrap());
                }
                events.extend(core.sync_step(&transport(), now).unwrap());
                return events;
            }
        }
        panic!("{} changes never went up", core.waiting());
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_councils_own_service_reaches_the_phone_and_an_edit_arrives_as_one_definition() {
    let dir = tempfile::tempdir().unwrap();
    let folder = council_services(dir.path()).unwrap();
    let options = ServerOptions {
        services_dir: Some(folder.clone()),
        ..ServerOptions::default()
    };
    let server = TestServer::start_at(dir.path(), options.clone())
        .await
        .unwrap();

    // The office makes a pest-control job for Priya through the public API.
    let (status, body) = server
        .post_json(
            "/api/jobs",
            &serde_json::json!({
                "service": "pest-control",
                "address": "12 Mill Lane, Shoreham-by-Sea, BN43 5AG",
                "description": "Rats seen under the garden shed.",
                "assignee": { "user": PRIYA.to_string() },
            }),
            Some(ADMIN_TOKEN),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let job: JobId = body["job"].as_str().unwrap().parse().unwrap();

    // A second phone, to see exactly what each sync carries.
    let mut watcher = TestDevice::enrol(&server, &server.code_for("Sam Lee"), DEMO_TENANT)
        .await
        .unwrap();
    watcher.sync(&server, test_now()).await.unwrap();
    assert_eq!(watcher.definitions.len(), 1);
    assert_eq!(
        watcher.definitions[0].changed.len(),
        7,
        "six shipped, one the council's"
    );
    watcher.sync(&server, test_now()).await.unwrap();
    assert!(
        watcher.definitions.is_empty(),
        "nothing changed, nothing sent"
    );

    // Priya's phone ships without pest control; the sync brings it.
    let path = dir.path().join("phone.db");
    let code = server.code_for("Priya Sharma");
    let url = server.url("");
    let mut phone = blocking(|| {
        let mut core = AppCore::open(
            LocalStore::open(&path).unwrap(),
            ServiceCatalog::builtin().unwrap(),
        )
        .unwrap();
        assert!(core.services().get(&pest_control()).is_none());
        core.enrol(&transport(), &url, &code).unwrap();
        core
    });
    let events = sync(&mut phone, test_now());
    assert!(events.contains(&CoreEvent::ServicesChanged));
    assert!(
        phone
            .definition_files()
            .iter()
            .any(|f| f.service == pest_control() && f.text == COUNCIL_SERVICE)
    );
    let row = |phone: &AppCore| {
        phone
            .job_rows()
            .unwrap()
            .into_iter()
            .find(|row| row.summary.job == job)
            .expect("the pest-control job is on Priya's list")
    };
    assert_eq!(row(&phone).summary.service_name, "Pest control");
    assert_eq!(row(&phone).summary.status_label, "Reported");

    // Its steps ask for what its file says: a note, then a note and a photo.
    let now = test_now().plus_minutes(5);
    let refused = phone.take_action(job, &name("bait_laid"), None, now);
    assert!(
        refused.is_err(),
        "a step needing a note is refused without one"
    );
    phone
        .take_action(
            job,
            &name("bait_laid"),
            Some("Two bait boxes by the shed.".into()),
            now,
        )
        .unwrap();
    let treated: StateId = "treated".parse().unwrap();
    let refused = phone.request_transition(job, &treated, Some("Burrow filled.".into()), now);
    assert!(refused.is_err(), "treating needs the after photo");
    phone
        .add_job_photo(job, &name("after"), &camera_file(800, 600), None, now)
        .unwrap();
    phone
        .request_transition(job, &treated, Some("Burrow filled.".into()), now)
        .unwrap();
    sync(&mut phone, now);
    assert_eq!(row(&phone).summary.status_label, "Treated");

    // Offline after a restart, the phone still reads the council's service.
    drop(phone);
    let phone = AppCore::open(
        LocalStore::open(&path).unwrap(),
        ServiceCatalog::builtin().unwrap(),
    )
    .unwrap();
    assert_eq!(
        phone.services().get(&pest_control()).unwrap().name,
        "Pest control"
    );
    let mut phone = phone;

    // The council renames the service; the server restarts on its folder.
    let address = server.address;
    server.stop().await.unwrap();
    let edited = COUNCIL_SERVICE.replace("name = \"Pest control\"", "name = \"Pests and vermin\"");
    std::fs::write(folder.join("pest-control.toml"), &edited).unwrap();
    let server = TestServer::start_at(
        dir.path(),
        ServerOptions {
            listen: Some(address),
            ..options
        },
    )
    .await
    .unwrap();

    // Its digest differs now; listing what it holds brings the one file.
    watcher.sync(&server, test_now()).await.unwrap();
    assert!(watcher.definitions.is_empty() && watcher.sync.wants_definitions());
    watcher.sync(&server, test_now()).await.unwrap();
    assert_eq!(watcher.definitions.len(), 1);
    assert_eq!(
        watcher.definitions[0].changed.len(),
        1,
        "one changed definition"
    );
    assert_eq!(watcher.definitions[0].changed[0].text, edited);
    assert!(watcher.definitions[0].removed.is_empty());

    let events = sync(&mut phone, test_now().plus_minutes(10));
    assert!(events.contains(&CoreEvent::ServicesChanged));
    assert_eq!(row(&phone).summary.service_name, "Pests and vermin");
    server.stop().await.unwrap();
}
