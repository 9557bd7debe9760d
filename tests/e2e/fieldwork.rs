//! A day's field steps taken through the web app's screens in Chromium
//! (`tests/browser/fieldwork.mjs`): the operative's steps that need a note
//! or a photo, through the panel that asks for them; the crew's round
//! started, logged stop by stop and finished. Then what the server holds,
//! and the missed-bin journey that follows: the resident of the stop the
//! crew logged "not put out" is answered with the crew's photo, and no job
//! is made.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::Context;
use doorstep_server::demo::DEMO_TENANT;
use doorstep_shared::prelude::*;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{ServerOptions, TestDevice, TestServer, camera_file, test_now};

use crate::web_app::{browser_folder, web_app_folder};

fn job(number: u128) -> DocumentId {
    DocumentId::Job(JobId::from_u128(0xd00_0000 + number))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operative_and_a_crew_take_their_steps_in_the_app_and_a_missed_bin_is_answered() {
    let web_app = web_app_folder().unwrap();
    let browser = browser_folder().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = ServerOptions {
        web_app: Some(web_app),
        ..ServerOptions::default()
    };
    let server = TestServer::start_at(dir.path(), options).await.unwrap();
    // Each phone's own picture: the server refuses one another phone sent.
    let jpeg = dir.path().join("photo.jpg");
    std::fs::write(&jpeg, camera_file(1200, 900)).unwrap();
    let crew_jpeg = dir.path().join("bin.jpg");
    std::fs::write(&crew_jpeg, camera_file(1000, 750)).unwrap();
    let shots = std::env::var("DOORSTEP_SCREENSHOTS").unwrap_or_else(|_| "-".into());

    let mut script = Command::new("node")
        .arg("fieldwork.mjs")
        .arg(server.url("/app/"))
        .arg(server.code_for("Priya Sharma"))
        .arg(server.code_for("Sam Lee"))
        .arg(&jpeg)
        .arg(&crew_jpeg)
        .arg(&shots)
        .current_dir(&browser)
        .stdout(Stdio::piped())
        .spawn()
        .context("could not run node (scripts/setup.sh installs it)")
        .unwrap();
    let stdout = script.stdout.take().unwrap();
    let said = tokio::task::spawn_blocking(move || {
        let mut done = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            eprintln!("browser: {line}");
            done |= line == "done";
        }
        done
    })
    .await
    .unwrap();
    let status = tokio::task::spawn_blocking(move || script.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        said && status.success(),
        "the browser script failed ({status})"
    );

    // What the server holds, as the dispatcher's device sees it.
    let mut office = TestDevice::enrol(&server, &server.code_for("Dan Okafor"), DEMO_TENANT)
        .await
        .unwrap();
    office.sync(&server, test_now()).await.unwrap();
    let services = ServiceCatalog::builtin().unwrap();
    let repair = services.get(&"housing-repair".parse().unwrap()).unwrap();
    let load = |n| Job::load(&office.docs[&job(n)]).unwrap();

    let waiting = load(1);
    assert_eq!(waiting.status(repair).as_str(), "awaiting_parts");
    assert!(
        waiting
            .requests
            .values()
            .any(|r| r.evidence.note.as_deref() == Some("Needs a new mixer valve, ordered.")),
        "the note went with the request"
    );
    let no_access = load(3);
    assert_eq!(no_access.status(repair).as_str(), "needs_rebooking");
    assert!(no_access.timeline.values().any(|event| {
        event.note.as_deref() == Some("Nobody home at 10:05, card through the door.")
    }));
    let started = load(2);
    assert_eq!(started.status(repair).as_str(), "in_progress");
    let before = started
        .photos
        .values()
        .find(|p| p.kind.as_str() == "before")
        .expect("the before photo");
    let at = before.location.expect("where the photo was taken");
    assert!(
        (at.lat - 50.81127).abs() < 1e-6 && (at.lon + 0.37531).abs() < 1e-6,
        "{at:?}"
    );
    // Staff see where; the residents' pages never show it.
    let office_page = crate::office_work::Office::sign_in(&server)
        .await
        .get(&format!("/office/jobs/{}", JobId::from_u128(0xd00_0002)))
        .await
        .1;
    assert!(
        office_page.contains("at 50.81127, -0.37531"),
        "{office_page}"
    );

    let round_doc = office
        .docs
        .iter()
        .find(|(doc, _)| matches!(doc, DocumentId::Round(_)))
        .map(|(_, doc)| Round::load(doc).unwrap())
        .unwrap();
    let rounds = services.get(&"waste-round".parse().unwrap()).unwrap();
    assert_eq!(round_doc.status(rounds).as_str(), "finished");
    assert_eq!(round_doc.outcomes.len(), round_doc.office.properties.len());
    let first = round_doc.visiting_order()[0];
    assert_eq!(round_doc.outcomes[&first].kind.as_str(), "not_presented");

    // The resident at the first stop says their bin was missed.
    let address = round_doc.office.properties[&first].address.one_line();
    let round_id = office
        .docs
        .keys()
        .find_map(|doc| match doc {
            DocumentId::Round(id) => Some(*id),
            _ => None,
        })
        .unwrap();
    server.state.blobs().settled().await;
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(server.url("/missed-bin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "postcode=BN11+2QZ&stop={round_id}%3A{first}&name=Ana+Costa&updates=none"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "answered at once, no job");
    let page = answer.text().await.unwrap();
    assert!(page.contains("no bin put out"), "{page}");
    let src = page
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the crew's photo");
    let photo = reqwest::get(server.url(src)).await.unwrap();
    assert_eq!(photo.status(), 200, "{address}: {src}");
    let summaries = server
        .state
        .with_store(|store| store.job_summaries(DEMO_TENANT))
        .await
        .unwrap();
    assert!(
        summaries
            .iter()
            .all(|job| job.service.as_str() != "missed-collection"),
        "no missed collection was raised"
    );
}
