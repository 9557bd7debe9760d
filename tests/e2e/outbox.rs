//! Residents' messages end to end: a phone's change syncs, the outbox row
//! is written with it, and the delivery worker (driven here with the test
//! clock, never real waiting) hands each message to a provider exactly
//! once — through re-syncs, repeated taps and a provider that is down.
//! The test clock starts at 07:50, inside housing repairs' quiet hours for
//! texts (20:00–08:00), so deliveries are run from 08:10 on.

use std::sync::Mutex;

use automerge::AutoCommit;
use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_server::notify::{DemoProvider, Provider, SendError, SendFuture, deliver_due};
use doorstep_shared::contact::Channel;
use doorstep_shared::notify::Message;
use doorstep_shared::prelude::*;
use doorstep_shared::sync::device::DeviceSync;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{ServerOptions, TestDevice, TestServer, test_now};

use crate::residents::photo_and_request;

const JOB: JobId = JobId::from_u128(0xd00_0002);

fn later(minutes: i64) -> Timestamp {
    test_now().plus_minutes(minutes)
}

/// Priya's phone says "no access — card left" at job 2 (booked), `taps`
/// times, and syncs.
async fn no_access(server: &TestServer, phone: &mut TestDevice, taps: u128) {
    no_access_unsynced(phone, taps);
    assert_eq!(phone.sync(server, later(6)).await.unwrap(), 200);
}

/// The taps of [`no_access`], left unsynced.
fn no_access_unsynced(phone: &mut TestDevice, taps: u128) {
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    };
    phone
        .edit(DEMO_TENANT, DocumentId::Job(JOB), |doc: &mut AutoCommit| {
            let mut editor = JobEditor::new(doc, me.clone()).unwrap();
            for tap in 0..taps {
                editor
                    .log_action(
                        EventId::from_u128(100 + tap),
                        "no_access".parse().unwrap(),
                        Some("Card through the letterbox".into()),
                        later(5),
                    )
                    .unwrap();
            }
        })
        .unwrap();
}

async fn priya(server: &TestServer) -> TestDevice {
    let mut phone = TestDevice::enrol(server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    phone.sync(server, later(0)).await.unwrap();
    phone
}

#[tokio::test]
async fn an_action_on_a_phone_sends_the_resident_one_text_and_one_email_even_when_synced_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = priya(&server).await;
    let provider = DemoProvider::default();

    // Two taps, and the push replayed from before the first sync.
    no_access_unsynced(&mut phone, 2);
    let unsent = phone.sync.save();
    assert_eq!(phone.sync(&server, later(6)).await.unwrap(), 200);
    phone.sync = DeviceSync::restore(&unsent).unwrap();
    assert_eq!(phone.sync(&server, later(7)).await.unwrap(), 200);

    let done = deliver_due(&server.state, &provider, later(20))
        .await
        .unwrap();
    assert_eq!((done.sent, done.skipped, done.failed), (2, 0, 0));
    let sent = provider.sent();
    let sms: Vec<&Message> = sent.iter().filter(|m| m.channel == Channel::Sms).collect();
    let email: Vec<&Message> = sent
        .iter()
        .filter(|m| m.channel == Channel::Email)
        .collect();
    assert_eq!(sms.len(), 1, "{sent:?}");
    assert_eq!(email.len(), 1, "{sent:?}");
    assert_eq!(sms[0].to, "+447700900102");
    assert!(sms[0].body.contains("HR-00002"), "{}", sms[0].body);
    assert_eq!(email[0].to, "tomasz.nowak@example.org");
    assert!(
        email[0].body.contains("Dear Tomasz Nowak"),
        "{}",
        email[0].body
    );

    // The link in the text opens this job, with a token of its own.
    let token = sms[0]
        .body
        .split("/track/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a tracking link")
        .to_owned();
    let email_token = email[0].body.split("/track/").nth(1).unwrap_or_default();
    assert!(
        !email_token.starts_with(&token),
        "each message its own token"
    );
    let opened = doorstep_server::residents::resolve(&server.state, &token, later(30))
        .await
        .unwrap();
    assert_eq!(opened, Some((DEMO_TENANT, JOB)));
    let mut forged = token.clone();
    forged.replace_range(0..1, if token.starts_with('A') { "B" } else { "A" });
    for bad in [forged.as_str(), "", "not-a-token", &format!("{token}x")] {
        let opened = doorstep_server::residents::resolve(&server.state, bad, later(30))
            .await
            .unwrap();
        assert_eq!(opened, None, "{bad:?}");
    }

    let again = deliver_due(&server.state, &provider, later(60))
        .await
        .unwrap();
    assert_eq!(again.sent, 0, "nothing is sent twice");
    let (_, page) = server.get("/demo/outbox").await.unwrap();
    assert!(
        page.contains("Sign in") && !page.contains("+447700"),
        "the outbox is staff's: {page}"
    );
    let (_, page) = server.get_as_staff("/demo/outbox").await.unwrap();
    assert!(
        page.contains("only on a demo server"),
        "the page is off without --demo"
    );
}

/// Fails with a temporary error until `down` calls have been made.
struct Flaky {
    down: Mutex<usize>,
    inner: DemoProvider,
}

impl Flaky {
    /// Down for the first `calls` calls.
    fn down_for(calls: usize) -> Self {
        Self {
            down: Mutex::new(calls),
            inner: DemoProvider::default(),
        }
    }
}

impl Provider for Flaky {
    fn send<'a>(&'a self, message: &'a Message, reference: &'a str) -> SendFuture<'a> {
        let failing = {
            let mut down = self.down.lock().unwrap();
            let failing = *down > 0;
            *down = down.saturating_sub(1);
            failing
        };
        if failing {
            return Box::pin(async { Err(SendError::Temporary("503 from the provider".into())) });
        }
        self.inner.send(message, reference)
    }
}

#[tokio::test]
async fn a_provider_that_is_down_gets_each_message_once_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = priya(&server).await;
    no_access(&server, &mut phone, 1).await;
    let provider = Flaky::down_for(2);

    let first = deliver_due(&server.state, &provider, later(20))
        .await
        .unwrap();
    assert_eq!((first.sent, first.retried), (0, 2));
    let too_soon = deliver_due(&server.state, &provider, later(20))
        .await
        .unwrap();
    assert_eq!(
        too_soon,
        Default::default(),
        "not due until the backoff ends"
    );
    let back = deliver_due(&server.state, &provider, later(22))
        .await
        .unwrap();
    assert_eq!((back.sent, back.retried), (2, 0));
    let after = deliver_due(&server.state, &provider, later(120))
        .await
        .unwrap();
    assert_eq!(after, Default::default());
    assert_eq!(provider.inner.sent().len(), 2, "each message once");
}

#[tokio::test]
async fn a_server_stopped_before_sending_sends_after_its_restart_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = priya(&server).await;
    no_access(&server, &mut phone, 1).await;
    // The change is committed with its outbox rows; nothing was sent when
    // the server stops.
    server.stop().await.unwrap();

    let options = ServerOptions {
        demo_pages: true,
        ..ServerOptions::default()
    };
    let restarted = TestServer::start_at(dir.path(), options).await.unwrap();
    let provider = DemoProvider::default();
    let done = deliver_due(&restarted.state, &provider, later(20))
        .await
        .unwrap();
    assert_eq!(done.sent, 2);
    let again = deliver_due(&restarted.state, &provider, later(21))
        .await
        .unwrap();
    assert_eq!(again.sent, 0);
    assert_eq!(provider.sent().len(), 2);
    let (status, page) = restarted.get_as_staff("/demo/outbox").await.unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("+447700900102"), "{page}");
    assert!(page.contains("could not get in"), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_an_action_synced_twice_is_told_once_and_a_down_provider_is_retried() {
    use std::sync::Arc;

    let store =
        tokio::task::spawn_blocking(|| crate::postgres_store::fresh_store("doorstep_test_outbox"))
            .await
            .unwrap();
    let photos = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(
        Arc::new(store),
        TestServer::photo_folder(photos.path()).unwrap(),
    )
    .await
    .unwrap();
    let mut phone = priya(&server).await;
    no_access_unsynced(&mut phone, 1);
    let unsent = phone.sync.save();
    assert_eq!(phone.sync(&server, later(6)).await.unwrap(), 200);
    phone.sync = DeviceSync::restore(&unsent).unwrap();
    assert_eq!(phone.sync(&server, later(7)).await.unwrap(), 200);

    let provider = Flaky::down_for(1);
    let first = deliver_due(&server.state, &provider, later(20))
        .await
        .unwrap();
    assert_eq!((first.sent, first.retried), (1, 1));
    let back = deliver_due(&server.state, &provider, later(22))
        .await
        .unwrap();
    assert_eq!((back.sent, back.retried), (1, 0));
    assert_eq!(provider.inner.sent().len(), 2, "one text and one email");
    let rows = server
        .state
        .with_store(|store| store.outbox(10))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|row| row.status == "sent"), "{rows:?}");
}

#[tokio::test]
async fn a_text_in_quiet_hours_waits_for_the_morning_and_the_email_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = priya(&server).await;
    no_access(&server, &mut phone, 1).await;
    let provider = DemoProvider::default();
    // Housing repairs keep texts between 20:00 and 08:00 (UK time; GMT in
    // November).
    let evening = Timestamp::at(test_now().date(), 21, 15);
    let night = deliver_due(&server.state, &provider, evening)
        .await
        .unwrap();
    assert_eq!((night.sent, night.held), (1, 1));
    assert_eq!(provider.sent()[0].channel, Channel::Email);
    let before_eight = Timestamp::at(test_now().date().succ(), 7, 59);
    let early = deliver_due(&server.state, &provider, before_eight)
        .await
        .unwrap();
    assert_eq!(early, Default::default(), "still quiet");
    let eight = Timestamp::at(test_now().date().succ(), 8, 0);
    let morning = deliver_due(&server.state, &provider, eight).await.unwrap();
    assert_eq!((morning.sent, morning.held), (1, 0));
    assert_eq!(provider.sent()[1].channel, Channel::Sms);
}

/// What the stand-in for GOV.UK Notify received, and how it answers.
#[derive(Default)]
struct NotifyLog {
    accepted: Vec<serde_json::Value>,
    refused: Vec<String>,
    fail_next: usize,
}

const NOTIFY_KEY: &str =
    "doorstep_test-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0";

/// Checks a request's bearer token as Notify does: an HS256 JWT signed
/// with the key's secret, `iss` the service id, `iat` within 30 seconds.
fn notify_would_accept(authorization: Option<&str>) -> Result<(), String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, KeyInit, Mac};

    let token = authorization
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or("no bearer token")?;
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("not a JWT".into());
    };
    let decode = |part: &str| -> Result<serde_json::Value, String> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    if decode(header)?["alg"] != "HS256" {
        return Err("not HS256".into());
    }
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"3d844edf-8d35-48ac-975b-e847b4f122b0")
            .unwrap();
    mac.update(format!("{header}.{claims}").as_bytes());
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| e.to_string())?;
    mac.verify_slice(&signature)
        .map_err(|_| "bad signature".to_owned())?;
    let claims = decode(claims)?;
    if claims["iss"] != "26785a09-ab16-4eb0-8407-a37497a57506" {
        return Err("wrong iss".into());
    }
    let iat = claims["iat"].as_i64().ok_or("no iat")?;
    if (iat - test_now().as_millis() / 1000).abs() > 30 {
        return Err("iat too far from now".into());
    }
    Ok(())
}

/// Notify at `url` (the stand-in), with the test clock and `key`.
fn notify_at(url: &str, key: &str) -> doorstep_server::notify::GovNotify {
    doorstep_server::notify::GovNotify::new(
        key.parse().unwrap(),
        "sms-template".into(),
        "email-template".into(),
        url,
        std::sync::Arc::new(doorstep_server::FixedClock(test_now())),
    )
    .unwrap()
}

/// A local HTTP server standing in for Notify's API.
async fn fake_notify() -> (String, std::sync::Arc<Mutex<NotifyLog>>) {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;

    let log = std::sync::Arc::new(Mutex::new(NotifyLog::default()));
    let handler = |log: std::sync::Arc<Mutex<NotifyLog>>| {
        move |headers: HeaderMap, axum::Json(body): axum::Json<serde_json::Value>| {
            let log = log.clone();
            async move {
                let mut log = log.lock().unwrap();
                let auth = headers
                    .get("authorization")
                    .and_then(|value| value.to_str().ok());
                if let Err(why) = notify_would_accept(auth) {
                    log.refused.push(why);
                    return (
                        StatusCode::FORBIDDEN,
                        axum::Json(serde_json::json!({"errors": [{"error": "AuthError"}]})),
                    );
                }
                if log.fail_next > 0 {
                    log.fail_next -= 1;
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(serde_json::json!({"errors": [{"error": "Exception"}]})),
                    );
                }
                let id = format!("0000000{}-0000-0000-0000-000000000000", log.accepted.len());
                log.accepted.push(body);
                (
                    StatusCode::CREATED,
                    axum::Json(serde_json::json!({ "id": id })),
                )
            }
        }
    };
    let app = axum::Router::new()
        .route("/v2/notifications/sms", post(handler(log.clone())))
        .route("/v2/notifications/email", post(handler(log.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, log)
}

#[tokio::test]
async fn gov_uk_notify_gets_one_text_and_one_email_with_a_valid_token_and_a_failure_retried() {
    let (url, log) = fake_notify().await;
    log.lock().unwrap().fail_next = 1;
    let dir = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        notify_callback_token: Some(CALLBACK_TOKEN.into()),
        ..ServerOptions::default()
    };
    let server = TestServer::start_at(dir.path(), options).await.unwrap();
    let mut phone = priya(&server).await;
    no_access(&server, &mut phone, 1).await;
    let notify = notify_at(&url, NOTIFY_KEY);

    let first = deliver_due(&server.state, &notify, later(20))
        .await
        .unwrap();
    assert_eq!((first.sent, first.retried), (1, 1), "Notify failed once");
    let second = deliver_due(&server.state, &notify, later(22))
        .await
        .unwrap();
    assert_eq!((second.sent, second.retried), (1, 0));
    let received = log.lock().unwrap().accepted.clone();
    let refused = log.lock().unwrap().refused.clone();
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(received.len(), 2, "each message once");
    let sms = received
        .iter()
        .find(|body| body.get("phone_number").is_some())
        .expect("a text");
    assert_eq!(sms["phone_number"], "+447700900102");
    assert_eq!(sms["template_id"], "sms-template");
    assert!(sms["reference"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(
        sms["personalisation"]["body"]
            .as_str()
            .unwrap()
            .contains("could not get in")
    );
    let email = received
        .iter()
        .find(|body| body.get("email_address").is_some())
        .expect("an email");
    assert_eq!(email["email_address"], "tomasz.nowak@example.org");
    assert_eq!(email["template_id"], "email-template");
    assert!(
        email["personalisation"]["subject"]
            .as_str()
            .unwrap()
            .contains("HR-00002")
    );

    // Notify calls back: the status lands on the job's timeline, with no
    // number or address in it, once however often Notify calls.
    let callback = |token: &str, id: &str, status: &str| {
        reqwest::Client::new()
            .post(server.url("/api/notify/status"))
            .bearer_auth(token)
            .json(&serde_json::json!({
                "id": id, "reference": "1", "to": "+447700900102", "status": status,
                "notification_type": "sms",
            }))
            .send()
    };
    let rows = server.state.with_store(|s| s.outbox(10)).await.unwrap();
    let sms_row = rows.iter().find(|r| r.channel == Channel::Sms).unwrap();
    let sms_id = sms_row.provider_ref.clone().unwrap();
    for _ in 0..2 {
        let answer = callback(CALLBACK_TOKEN, &sms_id, "delivered")
            .await
            .unwrap();
        assert_eq!(answer.status(), 204);
    }
    assert_eq!(
        callback("wrong-token-wrong-token", &sms_id, "delivered")
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        callback(CALLBACK_TOKEN, &sms_id, "lost-in-the-post")
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        callback(CALLBACK_TOKEN, "no-such-id", "delivered")
            .await
            .unwrap()
            .status(),
        404
    );
    let mut office = TestDevice::enrol(&server, &server.code_for("Dan Okafor"), DEMO_TENANT)
        .await
        .unwrap();
    office.sync(&server, later(30)).await.unwrap();
    let job = Job::load(&office.docs[&DocumentId::Job(JOB)]).unwrap();
    let statuses: Vec<&doorstep_shared::job::TimelineEvent> = job
        .timeline
        .values()
        .filter(|event| event.action.as_str() == "message_status")
        .collect();
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    let note = statuses[0].note.as_deref().unwrap();
    assert_eq!(note, format!("Text delivered (message {})", sms_row.id));
    assert!(!note.contains("+44"), "no number on the job's history");
}

const CALLBACK_TOKEN: &str = "notify-callback-token-0123456789";

#[tokio::test]
async fn a_notify_key_notify_does_not_accept_fails_the_message_without_retrying() {
    let (url, log) = fake_notify().await;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = priya(&server).await;
    no_access(&server, &mut phone, 1).await;
    let wrong =
        "doorstep_test-26785a09-ab16-4eb0-8407-a37497a57506-00000000-8d35-48ac-975b-e847b4f122b0";
    let notify = notify_at(&url, wrong);
    let done = deliver_due(&server.state, &notify, later(20))
        .await
        .unwrap();
    assert_eq!((done.sent, done.failed, done.retried), (0, 2, 0));
    assert_eq!(
        log.lock().unwrap().refused,
        ["bad signature", "bad signature"]
    );
}

/// aiosmtpd (installed by `scripts/setup.sh`) on a free loopback port,
/// keeping what it receives in a Maildir.
struct SmtpServer {
    process: std::process::Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    fn start() -> Self {
        let tools = std::env::var_os("DOORSTEP_TOOLS_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(std::env::var_os("HOME").unwrap())
                    .join(".cache/doorstep-tools")
            });
        let python = tools.join("aiosmtpd/bin/python");
        assert!(
            python.exists(),
            "aiosmtpd is not installed in {}: run ./scripts/setup.sh",
            tools.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = tempfile::tempdir().unwrap();
        let process = std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .spawn()
            .unwrap();
        // Ready when it answers, not after a fixed time.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "aiosmtpd never listened"
            );
            std::thread::yield_now();
        }
        Self {
            process,
            port,
            maildir,
        }
    }

    /// Every message received, as raw text.
    fn received(&self) -> Vec<String> {
        let folder = self.maildir.path().join("mail/new");
        let mut mails: Vec<String> = std::fs::read_dir(folder)
            .map(|entries| {
                entries
                    .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        mails.sort();
        mails
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Job 1 (in progress, Margaret's) on `phone`, offline: an after photo, the
/// checklist, then a request to complete it (request and photo numbered
/// `n`); the photo's files wait in the upload queue.
fn complete_job_one(phone: &mut TestDevice, n: u128) {
    use doorstep_shared::photo::{PhotoLimits, process};
    use doorstep_shared::service::PhotoPolicy;

    let file = doorstep_tests::camera_file(1200, 900);
    let processed = process(&file, &PhotoLimits::default()).unwrap();
    let policy = PhotoPolicy {
        keep_originals: false,
        device_retention_days: 7,
        evidence_wait_hours: 72,
    };
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    };
    let after = processed.reference(
        "after".parse().unwrap(),
        me.clone(),
        later(3),
        None,
        &policy,
    );
    phone
        .edit(
            DEMO_TENANT,
            DocumentId::Job(JOB_ONE),
            |doc: &mut AutoCommit| {
                let mut editor = JobEditor::new(doc, me.clone()).unwrap();
                editor.add_photo(PhotoId::from_u128(n), &after).unwrap();
                for item in ["supply_isolated", "area_left_clean"] {
                    editor.tick(&item.parse().unwrap(), true, later(4)).unwrap();
                }
                editor
                    .request_transition(
                        TransitionId::from_u128(n),
                        "in_progress".parse().unwrap(),
                        "completed".parse().unwrap(),
                        Evidence::default(),
                        later(5),
                    )
                    .unwrap();
            },
        )
        .unwrap();
    phone.queue_photo(PhotoId::from_u128(n), &processed, &file, &policy);
}

const JOB_ONE: JobId = JobId::from_u128(0xd00_0001);

#[tokio::test]
async fn two_phones_completing_the_same_job_offline_tell_the_resident_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut first = priya(&server).await;
    let (status, issued) = server
        .post_json(
            "/api/admin/enrolments",
            &serde_json::json!({ "user": DEMO_OPERATIVE }),
            Some(doorstep_tests::ADMIN_TOKEN),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{issued}");
    let mut second = TestDevice::enrol(&server, issued["code"].as_str().unwrap(), DEMO_TENANT)
        .await
        .unwrap();
    second.sync(&server, later(0)).await.unwrap();
    complete_job_one(&mut first, 9);
    complete_job_one(&mut second, 10);
    assert_eq!(first.sync(&server, later(6)).await.unwrap(), 200);
    assert_eq!(second.sync(&server, later(7)).await.unwrap(), 200);
    first.upload(&server.url(""), later(8)).await.unwrap();
    second.upload(&server.url(""), later(8)).await.unwrap();
    server.state.blobs().settled().await;

    let provider = DemoProvider::default();
    let done = deliver_due(&server.state, &provider, later(26))
        .await
        .unwrap();
    assert_eq!((done.sent, done.held), (2, 0), "{done:?}");
    let sent = provider.sent();
    assert_eq!(
        sent.iter().filter(|m| m.channel == Channel::Sms).count(),
        1,
        "one text for one completed job: {sent:?}"
    );
    assert!(sent.iter().all(|m| m.body.contains("HR-00001")));
    let again = deliver_due(&server.state, &provider, later(60))
        .await
        .unwrap();
    assert_eq!(again, Default::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_job_emails_the_resident_over_smtp_with_the_photo_inline_once_it_is_uploaded() {
    use doorstep_server::notify::ByChannel;
    use doorstep_server::notify::SmtpEmail;

    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = priya(&server).await;
    complete_job_one(&mut phone, 9);
    assert_eq!(phone.sync(&server, later(6)).await.unwrap(), 200);
    let demo = std::sync::Arc::new(DemoProvider::default());
    let provider = ByChannel {
        sms: demo.clone(),
        email: std::sync::Arc::new(
            SmtpEmail::new(
                &format!("smtp://127.0.0.1:{}", smtp.port),
                "Adur & Worthing Councils <repairs@example.org>",
            )
            .unwrap(),
        ),
    };
    // The after photo is not on the server yet, so the job is not
    // completed and nobody is told anything.
    let waiting = deliver_due(&server.state, &provider, later(20))
        .await
        .unwrap();
    assert_eq!(waiting, Default::default());
    phone.upload(&server.url(""), later(21)).await.unwrap();
    server.state.blobs().settled().await;
    let done = deliver_due(&server.state, &provider, later(26))
        .await
        .unwrap();
    assert_eq!(done.sent, 2, "{done:?}");

    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "one email");
    let mail = &mails[0];
    assert!(mail.contains("To: margaret.ellis@example.org"), "{mail}");
    assert!(mail.contains("HR-00001"), "{mail}");
    assert!(mail.contains("multipart/related"), "{mail}");
    assert!(mail.contains("Content-Type: image/jpeg"), "{mail}");
    assert!(mail.contains("cid:photo-0"), "{mail}");
    assert!(mail.contains("Content-ID: <photo-0>"), "{mail}");
    assert_eq!(demo.sent().len(), 1, "one text");
    assert!(demo.sent()[0].body.contains("HR-00001"));
}

#[tokio::test]
async fn a_moved_appointment_drops_the_old_reminder_and_sends_the_new_one_the_evening_before() {
    use doorstep_shared::job::Appointment;

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let day = test_now().date();
    let slot = |date: Date| Appointment {
        starts: Timestamp::at(date, 9, 0),
        ends: Timestamp::at(date, 11, 0),
    };
    let (tomorrow, day_after) = (day.succ(), day.succ().succ());
    for date in [tomorrow, day_after] {
        let done = doorstep_server::office::Done {
            by: None,
            what: "Moved the appointment".into(),
        };
        doorstep_server::office::edit_job(&server.state, JOB, done, move |office| {
            office.set_appointment(Some(slot(date)))
        })
        .await
        .unwrap();
    }
    let provider = DemoProvider::default();
    // This evening (18:00, GMT in November): the reminder for tomorrow's
    // slot is due, but the appointment moved, so it is dropped.
    let this_evening = Timestamp::at(day, 18, 0);
    let dropped = deliver_due(&server.state, &provider, this_evening)
        .await
        .unwrap();
    assert_eq!((dropped.sent, dropped.skipped), (0, 1));
    let tomorrow_evening = Timestamp::at(tomorrow, 18, 0);
    let early = deliver_due(&server.state, &provider, tomorrow_evening.plus_minutes(-1))
        .await
        .unwrap();
    assert_eq!(early, Default::default(), "not before the evening before");
    let sent = deliver_due(&server.state, &provider, tomorrow_evening)
        .await
        .unwrap();
    assert_eq!(sent.sent, 1);
    let text = &provider.sent()[0];
    assert!(text.body.contains("booked for tomorrow"), "{}", text.body);
    assert!(text.body.contains(&day_after.in_words()), "{}", text.body);
    let again = deliver_due(&server.state, &provider, tomorrow_evening.plus_minutes(60))
        .await
        .unwrap();
    assert_eq!(again, Default::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_after_the_commit_and_before_sending_sends_once_after_its_restart() {
    let (url, log) = fake_notify().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let crasher_url = url.clone();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_server-crasher"))
            .arg(&data)
            .arg(&crasher_url)
            .env("DOORSTEP_FAILPOINT", "outbox-before-send:1")
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
    assert!(
        log.lock().unwrap().accepted.is_empty(),
        "nothing went before the crash"
    );

    let server = TestServer::start(dir.path()).await.unwrap();
    let notify = notify_at(&url, NOTIFY_KEY);
    // The crashed worker's claim lasts five minutes; after it, the rows go.
    let done = deliver_due(&server.state, &notify, later(30))
        .await
        .unwrap();
    assert_eq!(done.sent, 2);
    let again = deliver_due(&server.state, &notify, later(60))
        .await
        .unwrap();
    assert_eq!(again, Default::default());
    assert_eq!(log.lock().unwrap().accepted.len(), 2, "each message once");
}

/// The demo's walk-through: a reported repair is booked for this
/// afternoon, the operative says she is on her way, starts with a before
/// photo and completes with an after photo; the demo outbox page shows
/// each text the resident got (and the reminder it was too late for).
#[tokio::test]
async fn the_demo_outbox_shows_a_repair_booked_then_on_the_way_then_completed() {
    let dir = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        demo_pages: true,
        ..ServerOptions::default()
    };
    let server = TestServer::start_at(dir.path(), options).await.unwrap();
    let provider = DemoProvider::default();
    // Graham Pike's radiator (HR-00004), reported, not yet booked.
    let job = JobId::from_u128(0xd00_0004);
    let (status, body) = server
        .post_json(
            &format!("/api/jobs/{job}/booking"),
            &serde_json::json!({ "slot": "2026-11-27-pm" }),
            Some(doorstep_tests::ADMIN_TOKEN),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let booked = deliver_due(&server.state, &provider, later(20))
        .await
        .unwrap();
    // The text goes; the email (Graham gave no address) and the reminder
    // (the appointment is today) do not.
    assert_eq!((booked.sent, booked.skipped), (1, 2), "{booked:?}");

    let mut phone = priya(&server).await;
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    };
    let noon = Timestamp::at(test_now().date(), 12, 5);
    phone
        .edit(DEMO_TENANT, DocumentId::Job(job), |doc: &mut AutoCommit| {
            JobEditor::new(doc, me.clone())
                .unwrap()
                .log_action(
                    EventId::from_u128(41),
                    "on_my_way".parse().unwrap(),
                    None,
                    noon,
                )
                .unwrap();
        })
        .unwrap();
    phone.sync(&server, noon).await.unwrap();
    deliver_due(&server.state, &provider, noon).await.unwrap();

    let start = noon.plus_minutes(25);
    photo_and_request(
        &mut phone,
        job,
        "before",
        42,
        Some(("booked", "in_progress")),
        start,
    );
    let finish = start.plus_minutes(60);
    photo_and_request(
        &mut phone,
        job,
        "after",
        43,
        Some(("in_progress", "completed")),
        finish,
    );
    phone.sync(&server, finish).await.unwrap();
    phone.upload(&server.url(""), finish).await.unwrap();
    server.state.blobs().settled().await;
    let completed = deliver_due(&server.state, &provider, finish.plus_minutes(1))
        .await
        .unwrap();
    assert_eq!(completed.sent, 1, "{completed:?}");

    let texts: Vec<String> = provider.sent().into_iter().map(|m| m.body).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[0].contains("booked for Friday 27 November 2026, midday to 5pm"));
    assert!(texts[1].contains("on the way to 2 Brooklands Road"));
    assert!(texts[2].contains("HR-00004 is complete"));
    assert!(texts[2].contains("/track/"), "with a link to the photos");

    let (status, page) = server.get_as_staff("/demo/outbox").await.unwrap();
    assert_eq!(status, 200);
    // What is kept of a sent message does not open the resident's pages.
    for text in &texts {
        let token = text
            .split("/track/")
            .nth(1)
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect::<String>()
            })
            .unwrap_or_default();
        if !token.is_empty() {
            assert!(
                !page.contains(&token),
                "a live tracking link is kept: {page}"
            );
        }
    }
    assert!(page.contains("/track/[link not kept]"), "{page}");
    for event in ["book", "on_my_way", "complete"] {
        assert!(
            page.contains(&format!("<td>{event}</td>")),
            "{event}: {page}"
        );
    }
    assert_eq!(page.matches("<td>sent</td>").count(), 3, "{page}");
    assert!(page.contains("too late for a reminder"), "{page}");
    assert!(page.contains("HR-00004 is complete"), "{page}");
}

/// Hands each message to the test the moment the server's worker sends it.
struct Told(tokio::sync::mpsc::UnboundedSender<Message>);

impl Provider for Told {
    fn send<'a>(&'a self, message: &'a Message, reference: &'a str) -> SendFuture<'a> {
        let _ = self.0.send(message.clone());
        Box::pin(async move { Ok(format!("told-{reference}")) })
    }
}

#[tokio::test]
async fn the_server_runs_its_delivery_worker_itself_and_stops_it_with_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (told, mut sent) = tokio::sync::mpsc::unbounded_channel();
    let mut workers = doorstep_server::workers::Workers::new(std::sync::Arc::new(Told(told)), 90);
    // Passes follow each other quickly so the test waits little; what it
    // waits for is the messages.
    workers.every = std::time::Duration::from_millis(20);
    let options = ServerOptions {
        workers: Some(workers),
        ..ServerOptions::default()
    };
    let server = TestServer::start_at(dir.path(), options).await.unwrap();
    server.clock.set(later(20));
    let mut phone = priya(&server).await;
    no_access(&server, &mut phone, 1).await;

    let mut channels = Vec::new();
    while channels.len() < 2 {
        // A bound for a broken worker, far beyond any pass: not a timing check.
        let message = tokio::time::timeout(std::time::Duration::from_secs(120), sent.recv())
            .await
            .expect("the server's own worker never sent the messages")
            .expect("the worker stopped");
        channels.push(message.channel);
    }
    assert!(channels.contains(&Channel::Sms) && channels.contains(&Channel::Email));
    // Stopping the server waits for the pass under way, which records what
    // it sent.
    let state = server.state.clone();
    server.stop().await.unwrap();
    let rows = state
        .with_store(|store| store.outbox_for_job(JOB))
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|row| row.status == "sent" && row.attempts == 1),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_photo_file_is_gone_is_retried_then_given_up_and_holds_up_nothing() {
    use doorstep_server::notify::ByChannel;

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = priya(&server).await;
    complete_job_one(&mut phone, 11);
    assert_eq!(phone.sync(&server, later(6)).await.unwrap(), 200);
    phone.upload(&server.url(""), later(7)).await.unwrap();
    server.state.blobs().settled().await;
    // The photo files go missing from the folder (a restore gone wrong).
    let mut folders = vec![dir.path().join("photos")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    let texts = std::sync::Arc::new(DemoProvider::default());
    let emails = std::sync::Arc::new(DemoProvider::default());
    let provider = ByChannel {
        sms: texts.clone(),
        email: emails.clone(),
    };
    let first = deliver_due(&server.state, &provider, later(26))
        .await
        .unwrap();
    assert_eq!((first.sent, first.retried), (1, 1), "{first:?}");
    assert_eq!(texts.sent().len(), 1, "the text went");
    assert!(emails.sent().is_empty());
    // Tried again with backoff, then given up.
    let mut failed = 0;
    for hour in 1..=12 {
        let pass = deliver_due(&server.state, &provider, later(26 + hour * 60))
            .await
            .unwrap();
        failed += pass.failed;
        assert_eq!(pass.sent, 0, "{pass:?}");
    }
    assert_eq!(failed, 1, "given up once");
}

/// Erases the resident's contact details while it "sends".
struct ErasingWhileSending {
    state: doorstep_server::AppState,
    sent: Mutex<usize>,
}

impl Provider for ErasingWhileSending {
    fn send<'a>(&'a self, _message: &'a Message, _reference: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            self.state
                .with_store(|store| store.erase_contact(DEMO_TENANT, JOB, later(30)))
                .await
                .map_err(|error| SendError::Temporary(error.to_string()))?;
            *self.sent.lock().unwrap() += 1;
            Ok("provider-ref".to_owned())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_erased_while_its_message_is_sent_is_not_written_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut phone = priya(&server).await;
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    };
    let action: Name = "no_access".parse().unwrap();
    phone
        .edit(DEMO_TENANT, DocumentId::Job(JOB), |doc: &mut AutoCommit| {
            JobEditor::new(doc, me.clone())
                .unwrap()
                .log_action(
                    EventId::from_u128(100),
                    action.clone(),
                    Some("Card through the letterbox".into()),
                    later(5),
                )
                .unwrap();
        })
        .unwrap();
    assert_eq!(phone.sync(&server, later(6)).await.unwrap(), 200);
    let provider = ErasingWhileSending {
        state: server.state.clone(),
        sent: Mutex::new(0),
    };
    let done = deliver_due(&server.state, &provider, later(20))
        .await
        .unwrap();
    assert!(done.sent >= 1, "{done:?}");
    let rows = server
        .state
        .with_store(|store| store.outbox_for_job(JOB))
        .await
        .unwrap();
    for row in &rows {
        assert_eq!(row.recipient, None, "{row:?}");
        assert_eq!(row.body, None, "{row:?}");
    }
}
