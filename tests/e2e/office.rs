//! The back office's sign-in and job list over HTTP: Argon2id passwords,
//! a session cookie the server keeps only hashed, form tokens on every
//! change, sessions that end, and the council's jobs searched and
//! filtered. The same pages run in Chromium with axe-core in
//! `resident_browser.rs`.

use doorstep_server::demo::DEMO_DISPATCHER_EMAIL;
use doorstep_tests::{STAFF_PASSWORD, TestServer, test_now};

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) async fn sign_in(server: &TestServer, email: &str, password: &str) -> reqwest::Response {
    server.sign_in(email, password).await.unwrap()
}

/// The session cookie a successful sign-in sets (`name=value`).
pub(crate) async fn signed_in(server: &TestServer) -> String {
    let response = sign_in(server, DEMO_DISPATCHER_EMAIL, STAFF_PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/office");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "the test server's public address is http://, where a Secure cookie would be dropped: {cookie}"
    );
    cookie.split(';').next().unwrap().to_owned()
}

async fn office(server: &TestServer, cookie: Option<&str>, query: &str) -> reqwest::Response {
    let mut request = client().get(server.url(&format!("/office{query}")));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn staff_sign_in_with_their_password_and_see_their_councils_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    sign_in_and_list_jobs(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_staff_sign_in_with_their_password_and_see_their_councils_jobs() {
    let (server, _photos) = crate::office_work::on_postgres("doorstep_test_staff").await;
    sign_in_and_list_jobs(&server).await;
}

async fn sign_in_and_list_jobs(server: &TestServer) {
    // Without a session, the office sends you to sign in.
    let away = office(server, None, "").await;
    assert_eq!(away.status(), 303);
    assert_eq!(away.headers()["location"], "/office/sign-in");

    // A wrong password and an unknown email get the same answer.
    for (email, password) in [
        (DEMO_DISPATCHER_EMAIL, "wrong"),
        ("nobody@example.org", STAFF_PASSWORD),
    ] {
        let refused = sign_in(server, email, password).await;
        assert_eq!(refused.status(), 401);
        let cookies: Vec<&str> = refused
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        assert!(
            cookies
                .iter()
                .all(|cookie| !cookie.starts_with("doorstep_session=")),
            "{cookies:?}"
        );
        let page = refused.text().await.unwrap();
        assert!(
            page.contains("Enter the email address and password"),
            "{page}"
        );
    }

    let cookie = signed_in(server).await;
    let page = office(server, Some(&cookie), "").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Signed in as Dan Okafor (administrator)"),
        "{page}"
    );
    assert!(page.contains("7 of 7 jobs"), "{page}");
    assert!(page.contains("HR-00001"), "{page}");

    let searched = office(server, Some(&cookie), "?q=tarring")
        .await
        .text()
        .await
        .unwrap();
    assert!(searched.contains("1 of 7 jobs"), "{searched}");
    assert!(searched.contains("HR-00002"), "{searched}");
    let filtered = office(
        server,
        Some(&cookie),
        "?status=reported&service=housing-repair",
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(filtered.contains("1 of 7 jobs"), "{filtered}");
    assert!(filtered.contains("HR-00004"), "{filtered}");

    // A session lasts twelve hours.
    server.clock.set(test_now().plus_minutes(12 * 60));
    assert_eq!(office(server, Some(&cookie), "").await.status(), 303);
}

#[tokio::test]
async fn signing_out_needs_the_forms_token_and_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let cookie = signed_in(&server).await;
    let page = office(&server, Some(&cookie), "")
        .await
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form token")
        .to_owned();
    let sign_out = |token: String| {
        client()
            .post(server.url("/office/sign-out"))
            .header("cookie", cookie.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={token}"))
            .send()
    };
    // A form from elsewhere (no or a wrong token) is refused.
    assert_eq!(sign_out(String::new()).await.unwrap().status(), 403);
    assert_eq!(sign_out("0".repeat(64)).await.unwrap().status(), 403);
    assert_eq!(office(&server, Some(&cookie), "").await.status(), 200);

    let out = sign_out(csrf).await.unwrap();
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(office(&server, Some(&cookie), "").await.status(), 303);
}

#[tokio::test]
async fn a_jobs_page_tells_its_history_in_plain_words_with_its_messages() {
    use automerge::AutoCommit;
    use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
    use doorstep_server::notify::{DemoProvider, deliver_due};
    use doorstep_shared::prelude::*;
    use doorstep_shared::sync::wire::DocumentId;
    use doorstep_tests::TestDevice;

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    // Priya says "no access" at job 2, which leads the server to rebook it.
    let job = JobId::from_u128(0xd00_0002);
    let mut phone = TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    phone.sync(&server, test_now()).await.unwrap();
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    };
    phone
        .edit(DEMO_TENANT, DocumentId::Job(job), |doc: &mut AutoCommit| {
            JobEditor::new(doc, me)
                .unwrap()
                .log_action(
                    EventId::from_u128(81),
                    "no_access".parse().unwrap(),
                    Some("Card left".into()),
                    test_now().plus_minutes(5),
                )
                .unwrap();
        })
        .unwrap();
    phone
        .sync(&server, test_now().plus_minutes(6))
        .await
        .unwrap();
    deliver_due(
        &server.state,
        &DemoProvider::default(),
        test_now().plus_minutes(20),
    )
    .await
    .unwrap();

    let cookie = signed_in(&server).await;
    let list = office(&server, Some(&cookie), "?q=HR-00002")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        list.contains(&format!("href=\"/office/jobs/{job}\"")),
        "{list}"
    );
    let page = client()
        .get(server.url(&format!("/office/jobs/{job}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    for said in [
        "Job HR-00002 created",
        "Dan Okafor asked to move it to “Booked”",
        "The server accepted the move to “Booked”",
        "Priya Sharma: No access — card left — “Card left”",
        "The server asked to move it to “Needs a new appointment”",
        "Assigned to",
        "Priya Sharma",
    ] {
        assert!(
            page.contains(&crate::office::escaped(said)),
            "{said}: {page}"
        );
    }
    assert!(
        page.contains("Sent Friday 27 November 2026 at 8:10am"),
        "{page}"
    );

    // Another council's job, or none, is a 404; without a session, sign in.
    let missing = client()
        .get(server.url(&format!("/office/jobs/{}", JobId::from_u128(0xbad))))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let away = client()
        .get(server.url(&format!("/office/jobs/{job}")))
        .send()
        .await
        .unwrap();
    assert_eq!(away.status(), 303);
}

/// Text as the pages write it (quotes and apostrophes escaped).
pub(crate) fn escaped(text: &str) -> String {
    doorstep_server::pages::escape(text)
}

/// The form token on a back-office page.
pub(crate) fn form_token(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form token")
        .to_owned()
}

#[tokio::test]
async fn a_dispatcher_makes_a_job_and_assigns_it_and_it_reaches_the_operatives_phone() {
    use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
    use doorstep_shared::prelude::*;
    use doorstep_shared::sync::wire::DocumentId;
    use doorstep_tests::TestDevice;

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let cookie = signed_in(&server).await;
    let form = client()
        .get(server.url("/office/jobs/new"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains("Priya Sharma (operative)"), "{form}");
    let csrf = form_token(&form);
    let post = |path: &str, body: String| {
        client()
            .post(server.url(path))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    // Refused: no token; an unknown priority; then made.
    let no_token = post(
        "/office/jobs",
        "service=housing-repair&address=1+High+St%2C+Worthing%2C+BN11+1AA".into(),
    )
    .await
    .unwrap();
    assert_eq!(no_token.status(), 403);
    let bad = post(
        "/office/jobs",
        format!("csrf={csrf}&service=housing-repair&priority=standard&address=1+High+St%2C+Worthing%2C+BN11+1AA"),
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("has no priority"));
    let made = post(
        "/office/jobs",
        format!("csrf={csrf}&service=housing-repair&priority=emergency&address=1+High+St%2C+Worthing%2C+BN11+1AA&description=Gas+smell+in+kitchen&assignee=&name=Sol+Reyes&phone=07700+900401"),
    )
    .await
    .unwrap();
    assert_eq!(made.status(), 303);
    let location = made.headers()["location"].to_str().unwrap().to_owned();
    let job: JobId = location
        .trim_start_matches("/office/jobs/")
        .parse()
        .unwrap();

    // Nobody has it yet; assigned to Priya, her phone gets it.
    let mut phone = TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    phone.sync(&server, test_now()).await.unwrap();
    assert!(!phone.docs.contains_key(&DocumentId::Job(job)));
    let assigned = post(
        &format!("/office/jobs/{job}/assignee"),
        format!("csrf={csrf}&assignee=user%3A{DEMO_OPERATIVE}"),
    )
    .await
    .unwrap();
    assert_eq!(assigned.status(), 303);
    let stranger = post(
        &format!("/office/jobs/{job}/assignee"),
        format!("csrf={csrf}&assignee=user%3A{}", UserId::from_u128(0xbad)),
    )
    .await
    .unwrap();
    assert_eq!(stranger.status(), 400);
    phone
        .sync(&server, test_now().plus_minutes(1))
        .await
        .unwrap();
    let on_phone = Job::load(&phone.docs[&DocumentId::Job(job)]).unwrap();
    assert_eq!(on_phone.office.reference, "HR-00005");
    assert_eq!(on_phone.office.due, Some(test_now().plus_minutes(24 * 60)));
    assert!(phone.docs.contains_key(&DocumentId::Contact(job)));

    let page = client()
        .get(server.url(&location))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Dan Okafor asked") || page.contains("Job HR-00005 created"),
        "{page}"
    );
    assert!(page.contains("selected>Priya Sharma (operative)"), "{page}");
}

#[tokio::test]
async fn an_error_on_a_page_is_a_page_and_on_an_api_is_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let cookie = signed_in(&server).await;
    let refused = client()
        .post(server.url("/office/sign-out"))
        .header("cookie", cookie.clone())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = refused.text().await.unwrap();
    assert!(page.contains(">You cannot do that</h1>"), "{page}");
    assert!(page.contains("This form is out of date"), "{page}");

    let api = client()
        .post(server.url("/api/jobs"))
        .header("authorization", "Bearer not-the-token")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"], "a valid admin token is needed");
}
