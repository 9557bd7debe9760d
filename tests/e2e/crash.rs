//! The crash test: a server process killed (SIGKILL) at seeded random
//! points while several phones sync edits and upload photos through it,
//! restarted each time on the same database and photo folder. At the end
//! every change the server acknowledged is on it, every upload it said was
//! complete is there byte for byte, and every phone converges. On SQLite
//! and on PostgreSQL; `DOORSTEP_CRASH_KILLS` sets the number of kills (a
//! few in CI, a hundred by hand).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use automerge::ChangeHash;
use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
use doorstep_shared::prelude::*;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{StopAt, TestDevice, test_now};

/// A seeded generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n.max(1) as u64) as usize
    }
}

/// The server process and how to start it again.
struct Server {
    command: Vec<String>,
    child: Child,
    base: String,
}

impl Server {
    /// Starts it and waits for `ready`; returns the codes it printed.
    fn start(command: Vec<String>, base: String) -> (Server, Vec<String>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-server"))
            .args(&command)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut codes = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line == "ready" {
                break;
            }
            if let Some(code) = line.strip_prefix("code phone ") {
                codes.push(code.to_owned());
            }
        }
        (
            Server {
                command,
                child,
                base,
            },
            codes,
        )
    }

    /// Kills it (SIGKILL) and starts it again.
    fn kill_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let (restarted, _) = Server::start(self.command.clone(), self.base.clone());
        *self = restarted;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the server acknowledged.
#[derive(Default)]
struct Acknowledged {
    heads: Vec<(DocumentId, Vec<ChangeHash>)>,
    uploads: Vec<(BlobHash, Vec<u8>)>,
}

/// One step of a phone's work: a note on a job and a sync, or a photo, a
/// sync and its upload. Returns the phone with what the server
/// acknowledged.
async fn act(
    mut phone: TestDevice,
    base: String,
    job: JobId,
    photo: Option<u128>,
    n: usize,
) -> (TestDevice, Acknowledged) {
    let now = test_now().plus_minutes(n as i64);
    let doc = DocumentId::Job(job);
    let mut acknowledged = Acknowledged::default();
    let taken = match photo {
        Some(seed) if phone.docs.contains_key(&doc) => Some(crate::residents::photo_and_request(
            &mut phone, job, "before", seed, None, now,
        )),
        _ => {
            let me = Actor {
                user: DEMO_OPERATIVE,
                role: Role::Operative,
                device: Some(phone.device),
            };
            let _ = phone.edit(DEMO_TENANT, doc, |document| {
                if let Ok(mut editor) = JobEditor::new(document, me) {
                    let _ = editor.update_notes(&format!("Note {n}"));
                }
            });
            None
        }
    };
    if phone.sync_at(&base, now).await.unwrap_or(0) == 200 && phone.sync.waiting() == 0 {
        if let Some(document) = phone.docs.get_mut(&doc) {
            acknowledged.heads.push((doc, document.get_heads()));
        }
        if let Some(photo) = taken {
            let run = phone.upload_until(&base, now, StopAt::FirstFailure).await;
            if run.is_ok() && phone.uploads.is_empty() {
                for hash in [photo.display, photo.thumbnail].into_iter().flatten() {
                    if let Some(bytes) = phone.files.get(&hash) {
                        acknowledged.uploads.push((hash, bytes.clone()));
                    }
                }
            }
        }
    }
    (phone, acknowledged)
}

/// Syncs until the server has all the phone's changes and it has the
/// server's, and its uploads are done.
async fn catch_up(phone: &mut TestDevice, base: &str, at: Timestamp) {
    for round in 0..20 {
        let now = at.plus_minutes(round);
        phone.uploads.retry_now();
        let status = phone.sync_at(base, now).await.unwrap_or(0);
        if status == 200 && phone.sync.waiting() == 0 {
            phone.upload(base, now).await.unwrap();
            if phone.uploads.is_empty() {
                return;
            }
        }
    }
    panic!("the phone never caught up with the server");
}

async fn crash_run(command: Vec<String>, base: String, seed: u64) -> (usize, usize, usize) {
    let kills: usize = std::env::var("DOORSTEP_CRASH_KILLS")
        .ok()
        .and_then(|kills| kills.parse().ok())
        .unwrap_or(10);
    let steps = kills * 4;
    let (mut server, codes) = tokio::task::spawn_blocking(move || Server::start(command, base))
        .await
        .unwrap();
    assert_eq!(codes.len(), 3, "{codes:?}");
    let mut phones = Vec::new();
    for code in &codes {
        let mut phone = TestDevice::enrol_at(&server.base, code, DEMO_TENANT)
            .await
            .unwrap();
        assert_eq!(phone.sync_at(&server.base, test_now()).await.unwrap(), 200);
        phones.push(Some(phone));
    }
    let observer = phones.pop().unwrap().unwrap();
    let jobs: Vec<JobId> = observer
        .docs
        .keys()
        .filter_map(|doc| match doc {
            DocumentId::Job(job) => Some(*job),
            _ => None,
        })
        .collect();
    assert!(!jobs.is_empty(), "the operative has jobs");

    let mut rng = Rng(seed);
    let mut kill_at = BTreeSet::new();
    while kill_at.len() < kills {
        kill_at.insert(rng.below(steps));
    }
    let mut acknowledged = Acknowledged::default();
    let mut photos = 0u128;
    for step in 0..steps {
        let which = rng.below(phones.len());
        let job = jobs[rng.below(jobs.len())];
        let photo = (rng.below(3) == 0).then(|| {
            photos += 1;
            photos
        });
        let phone = phones[which].take().unwrap();
        let work = tokio::spawn(act(phone, server.base.clone(), job, photo, step));
        if kill_at.contains(&step) {
            // Somewhere in the middle of the phone's requests.
            for _ in 0..rng.below(64) {
                tokio::task::yield_now().await;
            }
            server = tokio::task::spawn_blocking(move || {
                server.kill_and_restart();
                server
            })
            .await
            .unwrap();
        }
        let (phone, done) = work.await.unwrap();
        phones[which] = Some(phone);
        acknowledged.heads.extend(done.heads);
        acknowledged.uploads.extend(done.uploads);
    }

    // Every phone catches up, twice (the second time it gets the others').
    let mut phones: Vec<TestDevice> = phones.into_iter().flatten().collect();
    phones.push(observer);
    let later = test_now().plus_minutes(steps as i64 + 10);
    for _ in 0..2 {
        for phone in &mut phones {
            catch_up(phone, &server.base, later).await;
        }
    }
    let heads_of: Vec<std::collections::BTreeMap<DocumentId, Vec<ChangeHash>>> = phones
        .iter_mut()
        .map(|phone| {
            phone
                .docs
                .iter_mut()
                .map(|(doc, document)| {
                    let mut heads = document.get_heads();
                    heads.sort();
                    (*doc, heads)
                })
                .collect()
        })
        .collect();
    let observer = phones.last_mut().unwrap();
    for (doc, heads) in &acknowledged.heads {
        let document = observer.docs.get_mut(doc).unwrap();
        for head in heads {
            assert!(
                document.get_change_by_hash(head).is_some(),
                "an acknowledged change to {doc:?} is gone"
            );
        }
    }
    let client = reqwest::Client::new();
    for (hash, bytes) in &acknowledged.uploads {
        let stored = client
            .get(format!("{}/api/blobs/{hash}", server.base))
            .bearer_auth(&observer.token)
            .send()
            .await
            .unwrap();
        assert_eq!(stored.status(), 200, "an acknowledged upload is gone");
        assert_eq!(&stored.bytes().await.unwrap()[..], &bytes[..], "{hash}");
    }
    let (observed, others) = heads_of.split_last().unwrap();
    for (doc, expected) in observed {
        for theirs in others {
            if let Some(heads) = theirs.get(doc) {
                assert_eq!(heads, expected, "{doc:?} has not converged");
            }
        }
    }
    (kills, acknowledged.heads.len(), acknowledged.uploads.len())
}

fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_at_random_loses_nothing_it_acknowledged_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let address = free_address();
    let command = vec![dir.path().display().to_string(), address.clone()];
    let (kills, changes, uploads) = crash_run(command, format!("http://{address}"), 20261208).await;
    println!(
        "crash test on SQLite: {kills} kills, {changes} acknowledged syncs, {uploads} uploads checked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_at_random_loses_nothing_it_acknowledged_on_postgres() {
    let schema = "doorstep_test_crash";
    tokio::task::spawn_blocking(move || crate::postgres_store::fresh_store(schema))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let address = free_address();
    let command = vec![
        dir.path().display().to_string(),
        address.clone(),
        crate::postgres_store::url(),
        schema.to_owned(),
    ];
    let (kills, changes, uploads) = crash_run(command, format!("http://{address}"), 20261209).await;
    println!(
        "crash test on PostgreSQL: {kills} kills, {changes} acknowledged syncs, {uploads} uploads checked"
    );
}
