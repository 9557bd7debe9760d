//! The web app end to end in a real browser: Debian's Chromium, driven by
//! `tests/browser/offline.mjs` (playwright-core), against a real server
//! that this test stops and starts again when the script asks, so the
//! network is really gone (a browser's offline switch does not cover
//! service-worker requests). Afterwards the dispatcher's view on the server
//! must hold the note, the completed job and the photo.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use doorstep_server::demo::DEMO_TENANT;
use doorstep_shared::prelude::*;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{ServerOptions, TestDevice, TestServer, camera_file, test_now};

const JOB: JobId = JobId::from_u128(0xd00_0001);
const NOTE: &str = "Washer replaced; the tap no longer drips.";

/// The browser build, made by `scripts/build-web.sh` into the build folder.
pub(crate) fn web_app_folder() -> anyhow::Result<PathBuf> {
    let folder = match std::env::var_os("DOORSTEP_WEB_APP") {
        Some(folder) => PathBuf::from(folder),
        None => {
            // This binary is <target>/debug/deps/e2e-…; the app is in <target>/web-app.
            let exe = std::env::current_exe()?;
            let target = exe
                .ancestors()
                .nth(3)
                .context("the test binary is not in a cargo build folder")?;
            target.join("web-app")
        }
    };
    if !folder.join("index.html").is_file() {
        bail!(
            "the web app is not built in {}: run ./scripts/build-web.sh (./scripts/test.sh does)",
            folder.display()
        );
    }
    Ok(folder)
}

pub(crate) fn browser_folder() -> anyhow::Result<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    if !folder.join("node_modules/playwright-core").is_dir() {
        bail!(
            "playwright-core is not installed in {}: run ./scripts/setup.sh",
            folder.display()
        );
    }
    Ok(folder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_works_offline_survives_a_reload_and_syncs_when_the_server_returns() {
    let web_app = web_app_folder().unwrap();
    let browser = browser_folder().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    std::fs::create_dir_all(&data).unwrap();
    let options = ServerOptions {
        web_app: Some(web_app),
        ..ServerOptions::default()
    };
    let mut server = Some(TestServer::start_at(&data, options.clone()).await.unwrap());
    let first = server.as_ref().unwrap();
    let address = first.address;
    let url = first.url("/app/");
    let operative_code = first.code_for("Priya Sharma");
    let dispatcher_code = first.code_for("Dan Okafor");
    let jpeg = dir.path().join("after.jpg");
    std::fs::write(&jpeg, camera_file(1200, 900)).unwrap();
    let shots = std::env::var("DOORSTEP_SCREENSHOTS").unwrap_or_else(|_| "-".into());

    let mut script = Command::new("node")
        .arg("offline.mjs")
        .args([&url, &operative_code])
        .arg(&jpeg)
        .arg(&shots)
        .current_dir(&browser)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("could not run node (scripts/setup.sh installs it)")
        .unwrap();
    let mut answer = script.stdin.take().unwrap();
    let (lines, mut said) = tokio::sync::mpsc::unbounded_channel();
    let stdout = script.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let mut finished = false;
    while let Some(line) = said.recv().await {
        eprintln!("browser: {line}");
        match line.as_str() {
            "need: offline" => {
                server.take().unwrap().stop().await.unwrap();
                writeln!(answer, "ok").unwrap();
            }
            "need: online" => {
                let restarted = ServerOptions {
                    listen: Some(address),
                    ..options.clone()
                };
                server = Some(TestServer::start_at(&data, restarted).await.unwrap());
                writeln!(answer, "ok").unwrap();
            }
            "done" => finished = true,
            _ => {}
        }
    }
    let status = script.wait().unwrap();
    assert!(
        finished && status.success(),
        "the browser script failed ({status})"
    );

    // What arrived, as the dispatcher's device sees it.
    let server = server.unwrap();
    let mut office = TestDevice::enrol(&server, &dispatcher_code, DEMO_TENANT)
        .await
        .unwrap();
    office.sync(&server, test_now()).await.unwrap();
    let doc = &office.docs[&DocumentId::Job(JOB)];
    let job = Job::load(doc).unwrap();
    let services = ServiceCatalog::builtin().unwrap();
    let service = services.get(&job.office.service).unwrap();
    assert_eq!(job.notes.as_str(), NOTE);
    assert_eq!(job.status(service).as_str(), "completed");
    let after = job
        .photos
        .values()
        .find(|photo| photo.kind.as_str() == "after")
        .expect("the after photo is on the job");
    let display = after.display.expect("its display rendition");
    server.state.blobs().settled().await;
    let response = reqwest::Client::new()
        .get(server.url(&format!("/api/blobs/{display}")))
        .bearer_auth(&office.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "a JPEG arrived");
}
