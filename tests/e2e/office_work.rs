//! The back office's work over HTTP: jobs imported from CSV (all or none,
//! every bad row reported), rounds made from a property list, reordered and
//! given to another crew, devices enrolled, listed with their last sync and
//! revoked, people added, moved and deactivated, and the Today board's
//! event stream answering a phone's sync. The same pages run in Chromium
//! with axe-core in `office_browser.rs`.

use doorstep_server::demo::{DEMO_CREW, DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_shared::prelude::*;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{TestDevice, TestServer, test_now};

use crate::office::{client, form_token, signed_in};
use crate::residents::{multipart, photo_and_request};

/// A signed-in member of staff: the session cookie and the form token.
pub(crate) struct Office<'s> {
    server: &'s TestServer,
    cookie: String,
    csrf: String,
}

impl<'s> Office<'s> {
    pub(crate) async fn sign_in(server: &'s TestServer) -> Self {
        let cookie = signed_in(server).await;
        let mut office = Self {
            server,
            cookie,
            csrf: String::new(),
        };
        let (_, page) = office.get("/office").await;
        office.csrf = form_token(&page);
        office
    }

    /// The session cookie (`name=value`).
    pub(crate) fn cookie(&self) -> &str {
        &self.cookie
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        let response = client()
            .get(self.server.url(path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Posts a form (the form token added); the status and the redirect's
    /// target or the page.
    pub(crate) async fn post(&self, path: &str, body: &str) -> (u16, String) {
        let response = client()
            .post(self.server.url(path))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={}&{body}", self.csrf))
            .send()
            .await
            .unwrap();
        answer(response).await
    }

    /// Posts a form with a file in `file` (the form token added).
    async fn post_file(&self, path: &str, fields: &[(&str, &str)], file: &str) -> (u16, String) {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let (content_type, body) = multipart(&all, &[("file", "text/csv", file.as_bytes())]);
        let response = client()
            .post(self.server.url(path))
            .header("cookie", &self.cookie)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        answer(response).await
    }
}

/// A server on a fresh PostgreSQL schema, with its photo folder.
pub(crate) async fn on_postgres(schema: &'static str) -> (TestServer, tempfile::TempDir) {
    let store = tokio::task::spawn_blocking(move || crate::postgres_store::fresh_store(schema))
        .await
        .unwrap();
    let photos = tempfile::tempdir().unwrap();
    let server = TestServer::start_with_options(
        std::sync::Arc::new(store),
        TestServer::photo_folder(photos.path()).unwrap(),
        doorstep_tests::ServerOptions::default(),
    )
    .await
    .unwrap();
    (server, photos)
}

/// The text a page shows right after `marker` (a code or a password).
fn shown_after(page: &str, marker: &str) -> String {
    page.split(marker)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("{marker} is not on the page: {page}"))
        .to_owned()
}

/// A response's status with its redirect target, or else its page.
async fn answer(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    match response.headers().get("location") {
        Some(location) => (status, location.to_str().unwrap().to_owned()),
        None => (status, response.text().await.unwrap()),
    }
}

#[tokio::test]
async fn jobs_import_from_csv_all_or_none_with_every_bad_row_reported() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let office = Office::sign_in(&server).await;

    let bad = "service,address,priority,assignee,name,phone\n\
               housing-repair,\"5 Ham Way, Worthing, BN11 2QZ\",urgent,Priya Sharma,Ana Costa,07700 900501\n\
               bins,,,,,\n\
               Housing repair,\"9 Ham Way, Worthing, BN11 2QZ\",whenever,Nobody Here,Bo,123\n";
    let (status, page) = office.post_file("/office/jobs/import", &[], bad).await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("2 of 3 rows have problems, so no job was made"),
        "{page}"
    );
    for said in [
        "scope=\"row\">3</th>",
        "There is no service called “bins”",
        "The address is missing",
        "scope=\"row\">4</th>",
        "has no priority called “whenever”",
        "Nobody and no team called “Nobody Here”",
        "The resident's details",
    ] {
        assert!(page.contains(said), "{said}: {page}");
    }
    assert!(!page.contains("scope=\"row\">2</th>"), "{page}");
    let (_, list) = office.get("/office").await;
    assert!(list.contains("7 of 7 jobs"), "nothing was made: {list}");

    // A whole file refused: a column nobody reads.
    let (status, page) = office
        .post_file(
            "/office/jobs/import",
            &[],
            "service,address,colour\nx,y,z\n",
        )
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("“colour”"), "{page}");

    let good = "Service,Address,Priority,Assignee,Description\n\
                housing-repair,\"5 Ham Way, Worthing, BN11 2QZ\",Urgent,priya sharma,Gutter hanging off\n\
                Housing repair,\"9 Ham Way, Worthing, BN11 2QZ\",,,\n";
    let (status, page) = office.post_file("/office/jobs/import", &[], good).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("2 jobs imported"), "{page}");
    assert!(
        page.contains("HR-00005") && page.contains("HR-00006"),
        "{page}"
    );
    let (_, list) = office.get("/office").await;
    assert!(list.contains("9 of 9 jobs"), "{list}");

    // The first went to Priya: her phone has it.
    let mut phone = TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    phone.sync(&server, test_now()).await.unwrap();
    let references: Vec<String> = phone
        .docs
        .iter()
        .filter(|(id, _)| matches!(id, DocumentId::Job(_)))
        .filter_map(|(_, doc)| Job::load(doc).ok())
        .map(|job| job.office.reference)
        .collect();
    assert!(
        references.contains(&"HR-00005".to_owned()),
        "{references:?}"
    );
    assert!(
        !references.contains(&"HR-00006".to_owned()),
        "{references:?}"
    );
}

#[tokio::test]
async fn a_round_from_a_property_list_reaches_its_crew_then_is_reordered_and_reassigned() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let office = Office::sign_in(&server).await;
    let list = "address,uprn,containers,note\n\
                \"1 Tarring Road, Worthing, BN11 4SS\",100061000001,refuse_240l x2,\n\
                \"3 Tarring Road, Worthing, BN11 4SS\",,recycling_box,Assisted collection\n\
                \"5 Tarring Road, Worthing, BN11 4SS\",,,\n";
    let crew = DEMO_CREW.to_string();
    let fields = [
        ("reference", "WR-TAR-1"),
        ("date", "2026-11-28"),
        ("service", "waste-round"),
        ("crew", crew.as_str()),
    ];
    // A bad list makes nothing and names its lines.
    let (status, page) = office
        .post_file("/office/rounds", &fields, "address,uprn\n,abc\n")
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("Line 2: the address is missing"), "{page}");
    assert!(page.contains("Line 2: “abc” is not a UPRN"), "{page}");

    let (status, location) = office.post_file("/office/rounds", &fields, list).await;
    assert_eq!(status, 303, "{location}");
    let round: RoundId = location
        .trim_start_matches("/office/rounds/")
        .parse()
        .unwrap();
    let (_, page) = office.get(&location).await;
    assert!(page.contains("Saturday 28 November 2026"), "{page}");
    assert!(page.contains("0 of 3 properties"), "{page}");

    // Sam's phone has it, in the list's order.
    let mut sam = TestDevice::enrol(&server, &server.code_for("Sam Lee"), DEMO_TENANT)
        .await
        .unwrap();
    sam.sync(&server, test_now()).await.unwrap();
    let on_phone = Round::load(&sam.docs[&DocumentId::Round(round)]).unwrap();
    let streets = |round: &Round| -> Vec<String> {
        round
            .visiting_order()
            .iter()
            .map(|id| round.office.properties[id].address.lines[0].clone())
            .collect()
    };
    assert_eq!(
        streets(&on_phone),
        ["1 Tarring Road", "3 Tarring Road", "5 Tarring Road"]
    );
    assert_eq!(on_phone.office.properties.len(), 3);

    // Moving the first stop down reaches the phone.
    let first = on_phone.visiting_order()[0];
    let (status, _) = office
        .post(
            &format!("/office/rounds/{round}/order"),
            &format!("property={first}&move=down"),
        )
        .await;
    assert_eq!(status, 303);
    sam.sync(&server, test_now().plus_minutes(1)).await.unwrap();
    let on_phone = Round::load(&sam.docs[&DocumentId::Round(round)]).unwrap();
    assert_eq!(
        streets(&on_phone),
        ["3 Tarring Road", "1 Tarring Road", "5 Tarring Road"]
    );

    // Given to a new crew: the round says so, and a stranger team is refused.
    let (status, _) = office.post("/office/teams", "name=Tarring+crew").await;
    assert_eq!(status, 303);
    let (_, page) = office.get(&location).await;
    let tarring = page
        .split("<option value=\"")
        .filter_map(|option| option.split_once("\">"))
        .find(|(_, label)| label.starts_with("Tarring crew"))
        .map(|(value, _)| value.to_owned())
        .expect("the new crew is offered");
    let (status, _) = office
        .post(
            &format!("/office/rounds/{round}/crew"),
            &format!("team={}", TeamId::from_u128(0xbad)),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = office
        .post(
            &format!("/office/rounds/{round}/crew"),
            &format!("team={tarring}"),
        )
        .await;
    assert_eq!(status, 303);
    let loaded = server
        .state
        .with_sync(move |sync, _| sync.load(DocumentId::Round(round)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Round::load(&loaded.1).unwrap().office.crew.to_string(),
        tarring
    );
    let (_, rounds) = office.get("/office/rounds").await;
    assert!(
        rounds.contains("WR-TAR-1") && rounds.contains("Tarring crew"),
        "{rounds}"
    );
    // The round's page says who did each of these.
    let (_, page) = office.get(&location).await;
    for done in [
        "Dan Okafor: Moved 1 Tarring Road",
        "Dan Okafor: Gave the round to Tarring crew",
    ] {
        assert!(page.contains(done), "{done}: {page}");
    }
}

#[tokio::test]
async fn a_device_enrolled_from_the_office_shows_its_last_sync_and_once_revoked_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    devices_enrolled_listed_and_revoked(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_device_enrolled_from_the_office_shows_its_last_sync_and_once_revoked_is_refused()
 {
    let (server, _photos) = on_postgres("doorstep_test_devices").await;
    devices_enrolled_listed_and_revoked(&server).await;
}

async fn devices_enrolled_listed_and_revoked(server: &TestServer) {
    let office = Office::sign_in(server).await;
    let (_, page) = office.get("/office/devices").await;
    assert!(page.contains("No phone has been enrolled yet"), "{page}");

    let (status, page) = office
        .post(
            "/office/devices/enrolments",
            &format!("user={DEMO_OPERATIVE}"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Enrolment code for Priya Sharma"), "{page}");
    assert!(
        page.contains("<svg role=\"img\" aria-label=\"QR code"),
        "{page}"
    );
    let code = shown_after(
        &page,
        "<p class=\"enrolment-code\" aria-label=\"Enrolment code\"><code>",
    );
    // Someone who does not work here gets no code.
    let (status, _) = office
        .post(
            "/office/devices/enrolments",
            &format!("user={}", UserId::from_u128(0xbad)),
        )
        .await;
    assert_eq!(status, 400);

    let mut phone = TestDevice::enrol(server, &code, DEMO_TENANT).await.unwrap();
    let (_, page) = office.get("/office/devices").await;
    assert!(page.contains("Never"), "{page}");
    server.clock.set(test_now().plus_minutes(25));
    assert_eq!(phone.sync(server, test_now()).await.unwrap(), 200);
    let (_, page) = office.get("/office/devices").await;
    assert!(
        page.contains(">Friday 27 November 2026 at 8:15am</td>"),
        "{page}"
    );
    assert!(!page.contains("Never"), "{page}");

    let (status, _) = office
        .post(&format!("/office/devices/{}/revoke", phone.device), "")
        .await;
    assert_eq!(status, 303);
    let (_, page) = office.get("/office/devices").await;
    assert!(page.contains("Revoked"), "{page}");
    assert_eq!(
        phone
            .sync(server, test_now().plus_minutes(30))
            .await
            .unwrap(),
        401
    );
    // Found again: re-enrolled from its row, it keeps its id, and syncs.
    let (_, page) = office.get("/office/devices").await;
    assert!(page.contains("Re-enrol"), "{page}");
    let (status, _) = office
        .post(
            "/office/devices/enrolments",
            &format!(
                "user={DEMO_OPERATIVE}&device={}",
                DeviceId::from_u128(0xbad)
            ),
        )
        .await;
    assert_eq!(status, 400);
    let (status, page) = office
        .post(
            "/office/devices/enrolments",
            &format!("user={DEMO_OPERATIVE}&device={}", phone.device),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let code = shown_after(
        &page,
        "<p class=\"enrolment-code\" aria-label=\"Enrolment code\"><code>",
    );
    let again = TestDevice::enrol(server, &code, DEMO_TENANT).await.unwrap();
    assert_eq!(again.device, phone.device);
    // Another council's device, or none: not found.
    let (status, _) = office
        .post(
            &format!("/office/devices/{}/revoke", DeviceId::from_u128(0xbad)),
            "",
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn people_are_added_moved_and_deactivated_and_only_administrators_may() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    people_added_moved_and_deactivated(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_people_are_added_moved_and_deactivated_and_only_administrators_may() {
    let (server, _photos) = on_postgres("doorstep_test_people").await;
    people_added_moved_and_deactivated(&server).await;
}

async fn people_added_moved_and_deactivated(server: &TestServer) {
    let office = Office::sign_in(server).await;

    // A new dispatcher with a sign-in; their first password shown once.
    let (status, page) = office
        .post(
            "/office/people",
            "name=Mo+Farah&role=dispatcher&team=&email=mo.farah%40example.org",
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Mo Farah can now sign in"), "{page}");
    let password = shown_after(
        &page,
        "Password</dt><dd class=\"govuk-summary-list__value\"><code>",
    );
    let (status, page) = office
        .post("/office/people", "name=&role=crew&email=not-an-email")
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("Enter the person's full name"), "{page}");

    // Mo signs in, as a dispatcher: people and teams are not theirs.
    let signed = server
        .sign_in("mo.farah@example.org", &password)
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let mo_cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mo_people = client()
        .get(server.url("/office/people"))
        .header("cookie", &mo_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(mo_people.status(), 403);

    // Priya moves into the Ham Way crew: her phone now sees its round.
    let mut priya = TestDevice::enrol(server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    priya.sync(server, test_now()).await.unwrap();
    let has_round = |phone: &TestDevice| {
        phone
            .docs
            .keys()
            .any(|id| matches!(id, DocumentId::Round(_)))
    };
    assert!(!has_round(&priya));
    let (status, _) = office
        .post(
            &format!("/office/people/{DEMO_OPERATIVE}/team"),
            &format!("team={DEMO_CREW}"),
        )
        .await;
    assert_eq!(status, 303);
    priya
        .sync(server, test_now().plus_minutes(1))
        .await
        .unwrap();
    assert!(has_round(&priya));

    // Deactivated: her phone is refused at once, and she is offered no work.
    let (status, _) = office
        .post(
            &format!("/office/people/{DEMO_OPERATIVE}/active"),
            "active=false",
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        priya
            .sync(server, test_now().plus_minutes(2))
            .await
            .unwrap(),
        401
    );
    let (_, page) = office.get("/office/people").await;
    assert!(page.contains("Deactivated"), "{page}");
    let (_, form) = office.get("/office/jobs/new").await;
    assert!(!form.contains("Priya Sharma (operative)"), "{form}");
    // Nobody deactivates themselves.
    let me = doorstep_server::demo::DEMO_DISPATCHER;
    let (status, _) = office
        .post(&format!("/office/people/{me}/active"), "active=false")
        .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_today_board_streams_a_new_board_when_a_phone_syncs_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    board_streams_on_sync(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_the_today_board_streams_a_new_board_when_a_phone_syncs_a_change() {
    let (server, _photos) = on_postgres("doorstep_test_board").await;
    board_streams_on_sync(&server).await;
}

async fn board_streams_on_sync(server: &TestServer) {
    let office = Office::sign_in(server).await;
    let (_, page) = office.get("/office/today").await;
    assert!(page.contains("jobs today"), "{page}");
    assert!(page.contains("Priya Sharma"), "{page}");

    let refused = client()
        .get(server.url("/office/today/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 303, "no session: off to sign in");
    let events = client()
        .get(server.url("/office/today/events"))
        .header("cookie", &office.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut events = events;
    let mut received = String::new();
    boards(&mut events, &mut received, 1).await;
    assert!(received.contains("Work started 1</span>"), "{received}");

    // Priya starts job 2 (with its before photo): the board comes again.
    let mut phone = TestDevice::enrol(server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    phone.sync(server, test_now()).await.unwrap();
    photo_and_request(
        &mut phone,
        JobId::from_u128(0xd00_0002),
        "before",
        41,
        Some(("booked", "in_progress")),
        test_now().plus_minutes(1),
    );
    phone
        .sync(server, test_now().plus_minutes(2))
        .await
        .unwrap();
    // The start waits for its photo; once it is up the server decides.
    phone
        .upload(&server.url(""), test_now().plus_minutes(3))
        .await
        .unwrap();
    board_showing(&mut events, &mut received, "Work started 2</span>").await;
}

/// Reads an event stream until its latest board shows `text`.
async fn board_showing(events: &mut reqwest::Response, received: &mut String, text: &str) {
    loop {
        let boards = received.matches("event: board").count();
        if boards > 0
            && received
                .rsplit("event: board")
                .next()
                .unwrap()
                .contains(text)
        {
            return;
        }
        let chunk = events.chunk().await.unwrap().expect("the stream goes on");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// Reads an event stream until it holds `n` board events.
async fn boards(events: &mut reqwest::Response, received: &mut String, n: usize) {
    while received.matches("event: board").count() < n {
        let chunk = events.chunk().await.unwrap().expect("the stream goes on");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn five_wrong_passwords_from_one_address_stop_it_for_fifteen_minutes_and_no_one_else() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    sign_in_locks(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_five_wrong_passwords_from_one_address_stop_it_for_fifteen_minutes_and_no_one_else()
 {
    let (server, _photos) = on_postgres("doorstep_test_sign_in_lock").await;
    sign_in_locks(&server).await;
}

async fn sign_in_locks(server: &TestServer) {
    use doorstep_server::demo::DEMO_DISPATCHER_EMAIL;
    use doorstep_tests::STAFF_PASSWORD;

    let attacker: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let office: std::net::IpAddr = "127.0.0.3".parse().unwrap();
    let attempt = |email: &'static str, password: &'static str, from| async move {
        let response = server
            .sign_in_from(email, password, Some(from))
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    // Four wrong, then right: the count starts again.
    for _ in 0..4 {
        assert_eq!(
            attempt(DEMO_DISPATCHER_EMAIL, "wrong", attacker).await.0,
            401
        );
    }
    assert_eq!(
        attempt(DEMO_DISPATCHER_EMAIL, STAFF_PASSWORD, attacker)
            .await
            .0,
        303
    );
    for _ in 0..5 {
        assert_eq!(
            attempt(DEMO_DISPATCHER_EMAIL, "wrong", attacker).await.0,
            401
        );
    }
    // That address is stopped, even with the right password...
    let (status, page) = attempt(DEMO_DISPATCHER_EMAIL, STAFF_PASSWORD, attacker).await;
    assert_eq!(status, 429);
    assert!(page.contains("too many wrong passwords"), "{page}");
    // ...but Dan, at the office, is not locked out by it.
    assert_eq!(
        attempt(DEMO_DISPATCHER_EMAIL, STAFF_PASSWORD, office)
            .await
            .0,
        303
    );
    // An email nobody has answers exactly as one that exists: the answers
    // tell no one which emails have accounts.
    for _ in 0..5 {
        assert_eq!(
            attempt("nobody@example.org", "wrong", attacker).await.0,
            401
        );
    }
    let (status, unknown) = attempt("nobody@example.org", "wrong", attacker).await;
    assert_eq!(status, 429);
    assert_eq!(
        unknown
            .replace("nobody@example.org", "EMAIL")
            .split("name=\"csrf\"")
            .next(),
        page.replace(DEMO_DISPATCHER_EMAIL, "EMAIL")
            .split("name=\"csrf\"")
            .next(),
    );
    server.clock.set(test_now().plus_minutes(16));
    assert_eq!(
        attempt(DEMO_DISPATCHER_EMAIL, STAFF_PASSWORD, attacker)
            .await
            .0,
        303
    );
}

#[tokio::test]
async fn staff_of_two_councils_switch_between_them() {
    use doorstep_server::demo::DEMO_DISPATCHER;
    use doorstep_server::store::staff::StaffRole;

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let other = TenantId::from_u128(0xc0c2);
    server
        .state
        .with_store(move |store| {
            store.put_tenant(other, "Lancing Parish Council")?;
            store.grant_staff_role(DEMO_DISPATCHER, other, StaffRole::Dispatcher)
        })
        .await
        .unwrap();
    let office = Office::sign_in(&server).await;
    let (_, page) = office.get("/office").await;
    assert!(page.contains("Lancing Parish Council"), "{page}");
    assert!(page.contains("7 of 7 jobs"), "{page}");

    let (status, _) = office
        .post("/office/council", &format!("council={other}"))
        .await;
    assert_eq!(status, 303);
    let (_, page) = office.get("/office").await;
    assert!(page.contains("0 of 0 jobs"), "{page}");
    assert!(page.contains("(dispatcher)"), "{page}");
    assert!(!page.contains("People and teams"), "{page}");

    // A council they do not work for is refused.
    let (status, _) = office
        .post(
            "/office/council",
            &format!("council={}", TenantId::from_u128(0xbad)),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_synced_to_one_node_wakes_the_board_on_another() {
    let schema = "doorstep_test_two_nodes";
    let (first, photos) = on_postgres(schema).await;
    let second_store = tokio::task::spawn_blocking(move || {
        doorstep_server::Store::connect_postgres(&crate::postgres_store::url(), Some(schema))
    })
    .await
    .unwrap()
    .unwrap();
    let second = TestServer::start_with_options(
        std::sync::Arc::new(second_store),
        TestServer::photo_folder(photos.path()).unwrap(),
        doorstep_tests::ServerOptions {
            node: Some("node-2".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // The dispatcher watches the board on the second node.
    let office = Office::sign_in(&second).await;
    let mut events = client()
        .get(second.url("/office/today/events"))
        .header("cookie", &office.cookie)
        .send()
        .await
        .unwrap();
    let mut received = String::new();
    boards(&mut events, &mut received, 1).await;
    assert!(received.contains("Work started 1</span>"), "{received}");

    // Priya's phone syncs with the first node only.
    let mut heard = second.state.subscribe();
    let mut phone = TestDevice::enrol(&first, &first.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    phone.sync(&first, test_now()).await.unwrap();
    photo_and_request(
        &mut phone,
        JobId::from_u128(0xd00_0002),
        "before",
        61,
        Some(("booked", "in_progress")),
        test_now().plus_minutes(1),
    );
    assert_eq!(
        phone
            .sync(&first, test_now().plus_minutes(2))
            .await
            .unwrap(),
        200
    );
    // The second node hears of it through the database (nothing else
    // tells its live connections: the bound only turns a broken relay
    // into a failure instead of a hang), and its board comes again with
    // the job started.
    let changed = tokio::time::timeout(std::time::Duration::from_secs(120), heard.recv())
        .await
        .expect("the second node never heard of the change")
        .unwrap();
    assert_eq!(changed.tenant, DEMO_TENANT);
    // The start waits for its photo, sent to the first node too.
    phone
        .upload(&first.url(""), test_now().plus_minutes(3))
        .await
        .unwrap();
    board_showing(&mut events, &mut received, "Work started 2</span>").await;
}

/// Demo job 4: reported, not booked, its resident texted.
const WAITING_JOB: JobId = JobId::from_u128(0xd00_0004);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatchers_step_is_checked_like_a_phones_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let office = Office::sign_in(&server).await;
    let job = format!("/office/jobs/{WAITING_JOB}");

    // The job's page offers the dispatcher's steps of its service now.
    let (status, page) = office.get(&job).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("href=\"{job}/steps/cancel\"")),
        "{page}"
    );
    assert!(
        page.contains(&format!("href=\"{job}/appointment\"")),
        "booking goes to the appointment page"
    );

    // Without the form token: refused, nothing written.
    let response = client()
        .post(server.url(&format!("{job}/steps/cancel")))
        .header("cookie", office.cookie())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("from=reported&note=Phoned+to+cancel")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);

    // Cancelling needs a note: the form says so, the job is unchanged.
    let (status, page) = office
        .post(&format!("{job}/steps/cancel"), "from=reported&note=")
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("Add a note saying why"), "{page}");

    // A page that showed another state is told the job moved on (409).
    let (status, page) = office
        .post(&format!("{job}/steps/cancel"), "from=booked&note=Phoned")
        .await;
    assert_eq!(status, 409, "{page}");

    // A step the workflow has not got from here is refused in its words.
    let (status, page) = office
        .post(&format!("{job}/steps/start"), "from=reported")
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("cannot be moved to “Work started”")
            || page.contains("cannot be moved to Work started"),
        "{page}"
    );

    // Taken: the job is cancelled, and its history names Dan.
    let (status, target) = office
        .post(
            &format!("{job}/steps/cancel"),
            "from=reported&note=Resident+phoned+to+cancel",
        )
        .await;
    assert_eq!((status, target.as_str()), (303, job.as_str()));
    let (_, page) = office.get(&job).await;
    assert!(page.contains("Cancelled"), "{page}");
    assert!(
        page.contains("Dan Okafor asked to move it to “Cancelled”"),
        "{page}"
    );

    // Another council's job, or none: not found.
    let (status, _) = office
        .post(
            &format!("/office/jobs/{}/steps/cancel", JobId::from_u128(0xbad)),
            "from=reported&note=x",
        )
        .await;
    assert_eq!(status, 404);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_books_for_a_resident_who_phoned_within_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let options = doorstep_tests::ServerOptions {
        booking_capacity: Some(1),
        ..Default::default()
    };
    let server = TestServer::start_at(dir.path(), options).await.unwrap();
    let office = Office::sign_in(&server).await;
    let job = format!("/office/jobs/{WAITING_JOB}");
    let (status, page) = office.get(&format!("{job}/appointment")).await;
    assert_eq!(status, 200);
    let slot = page
        .split("name=\"slot\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a half-day on offer")
        .to_owned();
    let (status, target) = office
        .post(&format!("{job}/appointment"), &format!("slot={slot}"))
        .await;
    assert_eq!((status, target.as_str()), (303, job.as_str()));
    let (_, page) = office.get(&job).await;
    assert!(page.contains("Booked"), "{page}");
    assert!(
        page.contains("Dan Okafor asked to move it to “Booked”"),
        "{page}"
    );
    assert!(page.contains("Change the appointment"), "{page}");

    // The crew's one place that half-day is taken: another job is refused it.
    let other = format!("/office/jobs/{}", JobId::from_u128(0xd00_0007));
    let (status, page) = office
        .post(&format!("{other}/appointment"), &format!("slot={slot}"))
        .await;
    assert!(status == 409 || status == 400, "{status} {page}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn deactivating_someone_for_one_council_leaves_their_work_for_another() {
    deactivated_for_one_council(
        &TestServer::start(tempfile::tempdir().unwrap().path())
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_deactivating_someone_for_one_council_leaves_their_work_for_another() {
    let (server, _photos) = on_postgres("doorstep_test_deactivate_per_council").await;
    deactivated_for_one_council(&server).await;
}

/// Kit (an operative) and Dee (a dispatcher) work for the demo council and
/// for Lancing. The demo council's administrator deactivates both: their
/// work for Lancing goes on.
async fn deactivated_for_one_council(server: &TestServer) {
    use doorstep_server::store::staff::StaffRole;
    use doorstep_tests::STAFF_PASSWORD;

    let lancing = TenantId::from_u128(0x1a0c);
    let kit = UserId::from_u128(0x1a01);
    let dee = UserId::from_u128(0x1a02);
    let hash = doorstep_server::office::staff::hash_password(STAFF_PASSWORD).unwrap();
    let expires = test_now().plus_minutes(60);
    server
        .state
        .with_store(move |store| {
            store.put_tenant(lancing, "Lancing Parish Council")?;
            store.create_user(kit, "Kit Marlowe", Role::Operative, &[DEMO_TENANT, lancing])?;
            store.create_enrolment("KIT-CODE-0001", kit, None, expires)?;
            store.create_user(
                dee,
                "Dee Dispatch",
                Role::Dispatcher,
                &[DEMO_TENANT, lancing],
            )?;
            store.put_staff_account(dee, "dee@example.org", &hash)?;
            store.grant_staff_role(dee, DEMO_TENANT, StaffRole::Dispatcher)?;
            store.grant_staff_role(dee, lancing, StaffRole::Dispatcher)
        })
        .await
        .unwrap();
    let mut phone = TestDevice::enrol(server, "KIT-CODE-0001", lancing)
        .await
        .unwrap();
    assert_eq!(phone.sync(server, test_now()).await.unwrap(), 200);

    let office = Office::sign_in(server).await;
    for person in [kit, dee] {
        let (status, to) = office
            .post(&format!("/office/people/{person}/active"), "active=false")
            .await;
        assert_eq!((status, to.as_str()), (303, "/office/people"));
    }
    let (_, page) = office.get("/office/people").await;
    assert!(page.contains("Deactivated"), "{page}");

    // Kit's phone still syncs Lancing's work.
    assert_eq!(
        phone
            .sync(server, test_now().plus_minutes(1))
            .await
            .unwrap(),
        200
    );
    // Dee signs in, to Lancing, and cannot switch to the demo council.
    let cookie = server
        .session_for("dee@example.org", STAFF_PASSWORD)
        .await
        .unwrap();
    let page = client()
        .get(server.url("/office"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Lancing Parish Council"), "{page}");
    let switched = client()
        .post(server.url("/office/council"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={}&council={DEMO_TENANT}", form_token(&page)))
        .send()
        .await
        .unwrap();
    assert_eq!(switched.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_cut_off_part_way_leaves_no_job_made() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_import-crasher"))
            .arg(&data)
            .env("DOORSTEP_FAILPOINT", "intake-between-jobs:2")
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(6),
            "aborted at the failpoint: {status}"
        );
    }
    let server = TestServer::start(dir.path()).await.unwrap();
    let jobs = server
        .state
        .with_store(|store| store.job_summaries(DEMO_TENANT))
        .await
        .unwrap();
    let imported: Vec<&str> = jobs
        .iter()
        .map(|job| job.address.as_str())
        .filter(|address| address.contains("Crash Close"))
        .collect();
    assert!(imported.is_empty(), "all or nothing: {imported:?}");

    // Sent again, the file makes all three.
    let office = Office::sign_in(&server).await;
    let csv = "service,address\n\
               housing-repair,\"1 Crash Close, Worthing, BN11 1AA\"\n\
               housing-repair,\"2 Crash Close, Worthing, BN11 1AA\"\n\
               housing-repair,\"3 Crash Close, Worthing, BN11 1AA\"\n";
    let (status, page) = office.post_file("/office/jobs/import", &[], csv).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("3 jobs imported"), "{page}");
}
