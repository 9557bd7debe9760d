//! Missed bins over HTTP: the crew's record answers first (their
//! explanation and photo, no job); a finished round that explains nothing
//! raises a missed collection; an unfinished round never makes the server
//! guess: the report waits, and is answered once the crew finishes.

use automerge::AutoCommit;
use doorstep_server::demo::DEMO_TENANT;
use doorstep_server::notify::{DemoProvider, deliver_due};
use doorstep_server::residents::check_waiting;
use doorstep_shared::photo::{PhotoLimits, process};
use doorstep_shared::prelude::*;
use doorstep_shared::round::RoundEditor;
use doorstep_shared::service::PhotoPolicy;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{TestDevice, TestServer, test_now};

use crate::residents::token_in;

const ROUND: RoundId = RoundId::from_u128(0xd20_0001);

fn later(minutes: i64) -> Timestamp {
    test_now().plus_minutes(minutes)
}

/// The demo round's property `n` (1 Ham Way is 1, 3 Ham Way is 2, …).
fn property(n: u128) -> PropertyId {
    PropertyId::from_u128(0xd10_0000 + n)
}

pub(crate) const START: (u128, &str, &str) = (1, "planned", "in_progress");
pub(crate) const FINISH: (u128, &str, &str) = (2, "in_progress", "finished");

/// Sam's phone logs outcomes on the demo round: `(property, outcome,
/// with a photo)`, then asks for `steps` (`START`, `FINISH`). A round is
/// finished only with every stop logged: before `FINISH`, the stops with
/// no outcome yet are logged collected.
pub(crate) async fn crew_logs(
    server: &TestServer,
    crew: &mut TestDevice,
    outcomes: &[(u128, &str, bool)],
    steps: &[(u128, &str, &str)],
) {
    logs_as(server, crew, UserId::from_u128(0xd04), outcomes, steps).await;
}

/// `user`'s phone logs outcomes on the demo round, as [`crew_logs`] does.
async fn logs_as(
    server: &TestServer,
    crew: &mut TestDevice,
    user: UserId,
    outcomes: &[(u128, &str, bool)],
    steps: &[(u128, &str, &str)],
) {
    let services = ServiceCatalog::builtin().unwrap();
    let service = services
        .get(&"waste-round".parse().unwrap())
        .unwrap()
        .clone();
    let sam = Actor {
        user,
        role: Role::Crew,
        device: Some(crew.device),
    };
    let mut queued = Vec::new();
    let outcomes: Vec<(u128, String, bool)> = outcomes
        .iter()
        .map(|(n, kind, photo)| (*n, (*kind).to_owned(), *photo))
        .collect();
    crew.edit(
        DEMO_TENANT,
        DocumentId::Round(ROUND),
        |doc: &mut AutoCommit| {
            let mut editor = RoundEditor::new(doc, sam.clone()).unwrap();
            for (n, kind, with_photo) in &outcomes {
                let photo = with_photo.then(|| {
                    let file = doorstep_tests::camera_file(900 + *n as usize, 700);
                    let processed = process(&file, &PhotoLimits::default()).unwrap();
                    let policy = PhotoPolicy {
                        keep_originals: false,
                        device_retention_days: 14,
                        evidence_wait_hours: 72,
                    };
                    let reference = processed.reference(
                        "evidence".parse().unwrap(),
                        sam.clone(),
                        later(20),
                        None,
                        &policy,
                    );
                    let id = PhotoId::from_u128(500 + n);
                    editor.add_photo(id, &reference).unwrap();
                    queued.push((id, processed, file, policy));
                    id
                });
                editor
                    .log_outcome(
                        &service,
                        property(*n),
                        kind.parse().unwrap(),
                        None,
                        photo,
                        later(20),
                    )
                    .unwrap()
                    .unwrap();
            }
            if steps.iter().any(|(_, _, to)| *to == "finished") {
                let round = Round::load(editor.document()).unwrap();
                let unlogged: Vec<PropertyId> = round
                    .office
                    .properties
                    .keys()
                    .filter(|property| !round.outcomes.contains_key(*property))
                    .copied()
                    .collect();
                for property in unlogged {
                    editor
                        .log_outcome(
                            &service,
                            property,
                            "collected".parse().unwrap(),
                            None,
                            None,
                            later(20),
                        )
                        .unwrap()
                        .unwrap();
                }
            }
            for (id, from, to) in steps {
                editor
                    .request_transition(
                        TransitionId::from_u128(0x5000 + id),
                        from.parse().unwrap(),
                        to.parse().unwrap(),
                        Evidence::default(),
                        later(21),
                    )
                    .unwrap();
            }
        },
    )
    .unwrap();
    for (id, processed, file, policy) in &queued {
        crew.queue_photo(*id, processed, file, policy);
    }
    crew.sync(server, later(22)).await.unwrap();
    crew.upload(&server.url(""), later(22)).await.unwrap();
    server.state.blobs().settled().await;
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Posts the missed-bin form for demo property `n`.
async fn report(server: &TestServer, n: u128, phone: &str) -> reqwest::Response {
    let body = format!(
        "postcode=BN11+2QZ&stop={ROUND}%3A{}&name=Ana+Costa&updates=sms&phone={}",
        property(n),
        phone.replace(' ', "+")
    );
    no_redirects()
        .post(server.url("/missed-bin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn jobs_at(server: &TestServer, address: &str) -> Vec<(JobId, String)> {
    let address = address.to_owned();
    server
        .state
        .with_store(|store| store.job_summaries(DEMO_TENANT))
        .await
        .unwrap()
        .into_iter()
        .filter(|job| job.address == address && job.service.as_str() == "missed-collection")
        .map(|job| (job.job, job.status.to_string()))
        .collect()
}

/// The photo a missed-bin answer shows for demo property `n`.
async fn answer_photo(server: &TestServer, n: u128, phone: &str) -> String {
    let page = report(server, n, phone).await.text().await.unwrap();
    assert!(page.contains("Your bin was not emptied"), "{page}");
    page.split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the crew's photo")
        .to_owned()
}

#[tokio::test]
async fn a_missed_bin_answer_shows_only_the_crews_own_photo_and_only_while_it_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut crew = TestDevice::enrol(&server, &server.code_for("Sam Lee"), DEMO_TENANT)
        .await
        .unwrap();
    crew.sync(&server, later(0)).await.unwrap();
    crew_logs(&server, &mut crew, &[(2, "contaminated", true)], &[START]).await;
    // The dispatcher's phone, which sees the round but is not its crew,
    // logs a stop with a photo of its own.
    let mut dan = TestDevice::enrol(&server, &server.code_for("Dan Okafor"), DEMO_TENANT)
        .await
        .unwrap();
    dan.sync(&server, later(0)).await.unwrap();
    logs_as(
        &server,
        &mut dan,
        doorstep_server::demo::DEMO_DISPATCHER,
        &[(4, "not_presented", true)],
        &[],
    )
    .await;
    assert_eq!(dan.sync.refused(), 0, "{:?}", dan.events);
    // The crew's phone hears of that stop before finishing the round.
    crew.sync(&server, later(21)).await.unwrap();
    crew_logs(&server, &mut crew, &[], &[FINISH]).await;

    let crews = answer_photo(&server, 2, "07700 900311").await;
    let fetch = |src: String| {
        let url = server.url(&src);
        async move { no_redirects().get(url).send().await.unwrap().status() }
    };
    assert_eq!(fetch(crews.clone()).await, 200);
    let not_the_crews = answer_photo(&server, 4, "07700 900312").await;
    assert_eq!(
        fetch(not_the_crews).await,
        404,
        "a photo from a phone outside the crew is never shown to residents"
    );

    // Two days on, the round no longer answers reports: its photo goes.
    server.clock.set(later(2 * 24 * 60));
    assert_eq!(fetch(crews).await, 404);
}

#[tokio::test]
async fn a_finished_round_answers_a_missed_bin_with_the_crews_record_or_sends_the_crew_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut crew = TestDevice::enrol(&server, &server.code_for("Sam Lee"), DEMO_TENANT)
        .await
        .unwrap();
    crew.sync(&server, later(0)).await.unwrap();
    crew_logs(
        &server,
        &mut crew,
        &[(2, "contaminated", true), (3, "collected", false)],
        &[START, FINISH],
    )
    .await;

    // The addresses at the postcode, and bad input.
    let page = server
        .get("/missed-bin/addresses?postcode=bn11+2qz")
        .await
        .unwrap();
    assert_eq!(page.0, 200);
    assert!(
        page.1
            .contains("3 Ham Way, Worthing, BN11 2QZ, due Friday 27 November 2026"),
        "{}",
        page.1
    );
    let (status, body) = server
        .get("/missed-bin/addresses?postcode=nonsense")
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("Enter a real postcode"), "{body}");
    let none_chosen = no_redirects()
        .post(server.url("/missed-bin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("postcode=BN11+2QZ&name=Ana+Costa&updates=none")
        .send()
        .await
        .unwrap();
    assert_eq!(none_chosen.status(), 400);
    assert!(
        none_chosen
            .text()
            .await
            .unwrap()
            .contains("Select the address")
    );

    // 3 Ham Way was contaminated: the crew's words and photo, no job.
    let explained = report(&server, 2, "07700 900301").await;
    assert_eq!(explained.status(), 200);
    let page = explained.text().await.unwrap();
    assert!(page.contains("Your bin was not emptied"), "{page}");
    assert!(
        page.contains("items in it that do not belong there"),
        "{page}"
    );
    let src = page
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the crew's photo")
        .to_owned();
    assert!(src.starts_with("/missed-bin/photos/"), "{src}");
    let photo = no_redirects().get(server.url(&src)).send().await.unwrap();
    assert_eq!(photo.status(), 200);
    assert_eq!(photo.headers()["content-type"], "image/jpeg");
    assert!(
        jobs_at(&server, "3 Ham Way, Worthing, BN11 2QZ")
            .await
            .is_empty()
    );

    // 5 Ham Way was logged collected: the crew goes back.
    let raised = report(&server, 3, "07700 900302").await;
    assert_eq!(raised.status(), 303);
    let location = raised.headers()["location"].to_str().unwrap().to_owned();
    let (_, confirmation) = server.get(&location).await.unwrap();
    assert!(
        confirmation.contains("Missed collection reported"),
        "{confirmation}"
    );
    assert!(confirmation.contains("MC-00001"), "{confirmation}");
    assert!(confirmation.contains("within two days"), "{confirmation}");
    let jobs = jobs_at(&server, "5 Ham Way, Worthing, BN11 2QZ").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].1, "reported");
}

#[tokio::test]
async fn a_missed_bin_on_an_unfinished_round_waits_for_the_crew_and_is_then_answered_from_their_record()
 {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut crew = TestDevice::enrol(&server, &server.code_for("Sam Lee"), DEMO_TENANT)
        .await
        .unwrap();
    crew.sync(&server, later(0)).await.unwrap();
    crew_logs(&server, &mut crew, &[(1, "not_presented", true)], &[START]).await;

    // The round is out: both reports wait, whatever is logged so far.
    for (n, phone) in [(1, "07700 900311"), (2, "07700 900312")] {
        let waiting = report(&server, n, phone).await;
        assert_eq!(waiting.status(), 303);
        let location = waiting.headers()["location"].to_str().unwrap().to_owned();
        let (_, confirmation) = server.get(&location).await.unwrap();
        assert!(
            confirmation.contains("has not finished the round yet"),
            "{confirmation}"
        );
    }
    assert_eq!(
        check_waiting(&server.state, later(25)).await.unwrap(),
        0,
        "still out"
    );

    // The crew logs 3 Ham Way collected and finishes.
    crew_logs(&server, &mut crew, &[(2, "collected", false)], &[FINISH]).await;
    assert_eq!(check_waiting(&server.state, later(30)).await.unwrap(), 2);
    assert_eq!(
        check_waiting(&server.state, later(31)).await.unwrap(),
        0,
        "done once"
    );

    let not_out = jobs_at(&server, "1 Ham Way, Worthing, BN11 2QZ").await;
    assert_eq!(not_out[0].1, "not_missed", "explained by the crew's record");
    let collected = jobs_at(&server, "3 Ham Way, Worthing, BN11 2QZ").await;
    assert_eq!(collected[0].1, "reported", "the crew goes back");

    // The resident of 1 Ham Way is told, and their link shows the crew's
    // photo.
    let provider = DemoProvider::default();
    deliver_due(&server.state, &provider, later(40))
        .await
        .unwrap();
    let told = provider
        .sent()
        .into_iter()
        .find(|m| m.to == "+447700900311" && m.body.contains("not emptied"))
        .expect("the explanation text");
    let token = token_in(&told.body);
    let (status, page) = server.get(&format!("/track/{token}")).await.unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("Not emptied, for the reason shown"), "{page}");
    let src = page
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the crew's photo on the job")
        .to_owned();
    let photo = no_redirects().get(server.url(&src)).send().await.unwrap();
    assert_eq!(photo.status(), 200);
}
