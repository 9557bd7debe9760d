//! The back office in a real browser: `tests/browser/office.mjs` drives
//! Debian's Chromium (JavaScript on, axe-core on every page) through the
//! Today board updating live, making a job, a job's photos, importing
//! jobs, making and reordering a round, enrolling and revoking a phone,
//! and people and teams. This side plays the phones: when the script
//! needs one it says so on stdout, and this test does it against the same
//! real server and answers on stdin.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use doorstep_server::demo::{DEMO_DISPATCHER_EMAIL, DEMO_TENANT};
use doorstep_shared::prelude::*;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{STAFF_PASSWORD, TestDevice, TestServer, test_now};

use crate::residents::photo_and_request;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatchers_work_the_back_office_in_a_browser_and_every_page_passes_axe() {
    let browser = crate::resident_browser::axe_browser_folder();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await.unwrap();
    let mut priya = TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    priya.sync(&server, test_now()).await.unwrap();

    let mut script = Command::new("node")
        .arg("office.mjs")
        .arg(server.url(""))
        .args([DEMO_DISPATCHER_EMAIL, STAFF_PASSWORD])
        .current_dir(&browser)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("could not run node (scripts/setup.sh installs it)");
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
    let mut enrolled: Option<TestDevice> = None;
    let mut finished = false;
    let mut minute = 0;
    let mut later = || {
        minute += 1;
        test_now().plus_minutes(minute)
    };
    while let Some(line) = said.recv().await {
        eprintln!("browser: {line}");
        if line == "done" {
            finished = true;
            break;
        }
        let Some(need) = line.strip_prefix("need: ") else {
            continue;
        };
        let reply = if need == "phone starts job 2" {
            // Priya starts job 2 with its before photo, which goes up too.
            photo_and_request(
                &mut priya,
                JobId::from_u128(0xd00_0002),
                "before",
                51,
                Some(("booked", "in_progress")),
                later(),
            );
            assert_eq!(priya.sync(&server, later()).await.unwrap(), 200);
            priya.upload(&server.url(""), later()).await.unwrap();
            server.state.blobs().settled().await;
            "ok".to_owned()
        } else if let Some(job) = need.strip_prefix("job on the phone ") {
            let job: JobId = job.parse().unwrap();
            assert_eq!(priya.sync(&server, later()).await.unwrap(), 200);
            let on_phone = Job::load(&priya.docs[&DocumentId::Job(job)]).unwrap();
            assert_eq!(
                on_phone.office.address.one_line(),
                "4 Ham Way, Worthing, BN11 2QZ"
            );
            "ok".to_owned()
        } else if let Some(code) = need.strip_prefix("enrol ") {
            let mut phone = TestDevice::enrol(&server, code, DEMO_TENANT).await.unwrap();
            assert_eq!(phone.sync(&server, later()).await.unwrap(), 200);
            let short: String = phone.device.to_string().chars().take(8).collect();
            enrolled = Some(phone);
            format!("ok {short}")
        } else if need == "revoked" {
            let phone = enrolled.as_mut().expect("a phone was enrolled");
            assert_eq!(phone.sync(&server, later()).await.unwrap(), 401);
            "ok".to_owned()
        } else {
            panic!("the browser script asked for something unknown: {need}");
        };
        writeln!(answer, "{reply}").unwrap();
    }
    drop(answer);
    let status = script.wait().unwrap();
    assert!(
        finished && status.success(),
        "the browser script failed ({status})"
    );
}
