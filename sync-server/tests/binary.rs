//! The `doorstep-server` binary as the README runs it: started with `--demo`
//! on an empty folder, it seeds, serves, and stops cleanly on SIGTERM; bad
//! configuration stops it at once with a message naming the problem.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a failing test waits for the server before giving up. Never a
/// pass condition: tests wait for the log line, this only bounds a hang.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorstep-server"));
    command
        .env_remove("DOORSTEP_LISTEN")
        .env_remove("DOORSTEP_DATA_DIR")
        .env_remove("DOORSTEP_SERVICES_DIR")
        .env_remove("DOORSTEP_DEMO")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for the "serving" log line and returns the address in it, with the
/// channel that keeps receiving later lines.
fn wait_until_serving(child: &mut Child) -> (String, mpsc::Receiver<String>) {
    let (lines, received) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = received
            .recv_timeout(GIVE_UP_AFTER)
            .expect("the server printed no 'serving' line");
        if line.contains("Doorstep is serving") {
            let address = line
                .split_whitespace()
                .find_map(|field| field.strip_prefix("address="))
                .expect("the serving line names the address")
                .to_owned();
            return (address, received);
        }
    }
}

fn http_get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn the_readme_command_serves_the_demo_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = server()
        .args(["--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .spawn()
        .unwrap();
    let (address, lines) = wait_until_serving(&mut child);

    let health = http_get(&address, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""documents":15"#), "{health}");
    let page = http_get(&address, "/");
    assert!(page.contains("Sign in to the back office"), "{page}");
    assert!(
        !page.contains("HR-00001"),
        "the home page shows no one's jobs: {page}"
    );
    let jobs = http_get(&address, "/api/jobs");
    assert!(jobs.starts_with("HTTP/1.1 401"), "{jobs}");

    assert!(data.join("doorstep.db").exists());

    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    let rest: Vec<String> = lines.iter().collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}

fn run_to_failure(args: &[&str]) -> String {
    let output = server().args(args).output().unwrap();
    assert!(
        !output.status.success(),
        "the server should have refused to start"
    );
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn a_malformed_service_definition_stops_the_server_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let services = dir.path().join("services");
    std::fs::create_dir(&services).unwrap();
    std::fs::write(
        services.join("pest-control.toml"),
        "id = \"pest-control\"\nname = \"Pest control\"\nkind = \"job\"\nreference_prefix = \"PC\"\ninitial = \"reportd\"\n\n[[states]]\nid = \"reported\"\nlabel = \"Reported\"\n",
    )
    .unwrap();
    let stderr = run_to_failure(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.path().join("data").to_str().unwrap(),
        "--services-dir",
        services.to_str().unwrap(),
    ]);
    assert!(stderr.contains("pest-control.toml:5:"), "{stderr}");
    assert!(stderr.contains("unknown state \"reportd\""), "{stderr}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing is written before the configuration is checked"
    );
}

#[test]
fn an_address_that_is_not_an_address_is_refused() {
    let stderr = run_to_failure(&["--listen", "not-an-address"]);
    assert!(stderr.contains("--listen"), "{stderr}");
}

#[test]
fn a_data_folder_that_cannot_be_created_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let stderr = run_to_failure(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        file.join("data").to_str().unwrap(),
    ]);
    assert!(stderr.contains("could not create"), "{stderr}");
    assert!(stderr.contains("a-file"), "{stderr}");
}

fn run_ok(data: &std::path::Path, args: &[&str]) -> String {
    let output = server()
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn councils_people_and_teams_are_set_up_from_the_command_line_and_a_phone_code_issued() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tenant = run_ok(&data, &["add-tenant", "--name", "Adur District Council"]);
    assert_eq!(tenant.len(), 36, "{tenant}");
    let user = run_ok(
        &data,
        &[
            "add-user",
            "--name",
            "Priya Sharma",
            "--role",
            "operative",
            "--tenant",
            &tenant,
        ],
    );
    let team = run_ok(
        &data,
        &[
            "add-team",
            "--name",
            "North crew",
            "--tenant",
            &tenant,
            "--member",
            &user,
        ],
    );
    assert_eq!(team.len(), 36, "{team}");
    let code = run_ok(&data, &["enrol", "--user", &user]);
    assert_eq!(code.len(), 11, "{code}");

    let unknown = server()
        .arg("--data-dir")
        .arg(&data)
        .args(["enrol", "--user", "00000000-0000-0000-0000-000000000999"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("is the user id right?"));
}

#[test]
fn settings_come_from_a_file_under_flags_and_a_bad_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doorstep.toml");
    let from_file = dir.path().join("from-file");
    let from_flag = dir.path().join("from-flag");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:0\"\ndemo = true\ndata_dir = {:?}\n",
            from_file.display().to_string()
        ),
    )
    .unwrap();

    let mut child = server().arg("--config").arg(&file).spawn().unwrap();
    let (address, _lines) = wait_until_serving(&mut child);
    assert!(
        http_get(&address, "/health").contains(r#""documents":15"#),
        "demo = true came from the file"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(from_file.join("doorstep.db").exists());

    let mut child = server()
        .arg("--config")
        .arg(&file)
        .arg("--data-dir")
        .arg(&from_flag)
        .spawn()
        .unwrap();
    wait_until_serving(&mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        from_flag.join("doorstep.db").exists(),
        "the flag wins over the file"
    );

    std::fs::write(&file, "lisen = \"127.0.0.1:0\"\n").unwrap();
    let stderr = run_to_failure(&["--config", file.to_str().unwrap()]);
    assert!(stderr.contains("doorstep.toml is not valid"), "{stderr}");
    assert!(stderr.contains("lisen"), "{stderr}");
}
