//! Residents' messages end to end: a phone's change syncs, the outbox row
//! is written with it, and the delivery worker (driven here with the test
//! clock, never real waiting) hands each message to a provider exactly
//! once — through re-syncs, repeated taps and a provider that is down.
//! The test clock starts at 07:50, inside housing repairs' quiet hours for
//! texts (20:00–08:00), so deliveries are run from 08:10 on.

use std::sync::Mutex;

use automerge::AutoCommit;
use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_server::outbox::{DemoProvider, Provider, SendError, SendFuture, deliver_due};
use doorstep_shared::contact::Channel;
use doorstep_shared::notify::Message;
use doorstep_shared::prelude::*;
use doorstep_shared::sync::device::DeviceSync;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{ServerOptions, TestDevice, TestServer, test_now};

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

    let again = deliver_due(&server.state, &provider, later(60))
        .await
        .unwrap();
    assert_eq!(again.sent, 0, "nothing is sent twice");
    let (_, page) = server.get("/demo/outbox").await.unwrap();
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
    let provider = Flaky {
        down: Mutex::new(2),
        inner: DemoProvider::default(),
    };

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
    let (status, page) = restarted.get("/demo/outbox").await.unwrap();
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

    let provider = Flaky {
        down: Mutex::new(1),
        inner: DemoProvider::default(),
    };
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
