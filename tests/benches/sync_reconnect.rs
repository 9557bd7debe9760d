//! A device holding many jobs reconnects: Doorstep's one-round-trip sync
//! against samod (the Rust automerge-repo), side by side in one run, over
//! loopback TCP.
//!
//! (a) nothing changed on either side; (b) some jobs changed on the server
//! and some on the device while it was away. For each system: messages and
//! bytes each way, wall time, documents the server loaded.
//!
//! `cargo bench -p doorstep-tests --bench sync_reconnect`; with
//! `DOORSTEP_BENCH_QUICK=1` (as CI runs it) the inputs are small.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use automerge::{AutoCommit, Automerge, Change};
use doorstep_server::store::{Store, documents_loaded, run_sync};
use doorstep_shared::job::{Appointment, Assignee, OfficeEditor};
use doorstep_shared::prelude::*;
use doorstep_shared::sync::server::scope_record;
use doorstep_shared::sync::store::Author;
use doorstep_shared::sync::wire::DocumentId;
use doorstep_tests::{TestDevice, TestServer, test_now};
use futures::{SinkExt, StreamExt};

const TENANT: TenantId = TenantId::from_u128(0xbe);
const OPERATIVE: UserId = UserId::from_u128(0xbe1);

struct Sizes {
    jobs: usize,
    server_edits: usize,
    device_edits: usize,
}

fn sizes() -> Sizes {
    if std::env::var_os("DOORSTEP_BENCH_QUICK").is_some() {
        Sizes {
            jobs: 200,
            server_edits: 20,
            device_edits: 5,
        }
    } else {
        Sizes {
            jobs: 5_000,
            server_edits: 200,
            device_edits: 50,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Measure {
    messages_up: u64,
    messages_down: u64,
    bytes_up: u64,
    bytes_down: u64,
    wall: Duration,
    /// Not measured for samod, whose server keeps documents in memory.
    docs_loaded: Option<u64>,
    raw_change_bytes: u64,
}

impl Measure {
    fn bytes(&self) -> u64 {
        self.bytes_up + self.bytes_down
    }
}

fn repair() -> ServiceDefinition {
    ServiceCatalog::builtin()
        .unwrap()
        .get(&"housing-repair".parse().unwrap())
        .unwrap()
        .clone()
}

/// The same job documents for both systems.
fn job_document(n: usize, server: &automerge::ActorId) -> AutoCommit {
    let repair = repair();
    let address = format!("{} Benchmark Road, Worthing, BN11 1AA", n + 1);
    let mut doc = demo::job(&repair, n as u32, &address, test_now())
        .create_document(server.clone())
        .unwrap();
    OfficeEditor::new(&mut doc)
        .unwrap()
        .assign(Some(Assignee::User(OPERATIVE)))
        .unwrap();
    JobEditor::new(
        &mut doc,
        Actor {
            user: UserId::from_u128(1),
            role: Role::Dispatcher,
            device: None,
        },
    )
    .unwrap()
    .update_notes("Leak under the kitchen sink; resident works nights.")
    .unwrap();
    doc.commit();
    doc
}

fn job_id(n: usize) -> DocumentId {
    DocumentId::Job(JobId::from_u128(0x10_0000 + n as u128))
}

fn server_edit(doc: &mut AutoCommit, n: usize) {
    let starts = test_now().plus_minutes(60 * (n as i64 % 8));
    OfficeEditor::new(doc)
        .unwrap()
        .set_appointment(Some(Appointment {
            starts,
            ends: starts.plus_minutes(120),
        }))
        .unwrap();
    doc.commit();
}

fn device_edit(doc: &mut AutoCommit) {
    let me = Actor {
        user: OPERATIVE,
        role: Role::Operative,
        device: None,
    };
    JobEditor::new(doc, me)
        .unwrap()
        .splice_notes(0, 0, "Parts fitted. ")
        .unwrap();
    doc.commit();
}

async fn doorstep(sizes: &Sizes) -> (Measure, Measure) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let jobs = sizes.jobs;
    let store: Arc<Store> = tokio::task::spawn_blocking(move || {
        let store = Store::open_sqlite(&db).unwrap();
        store.put_tenant(TENANT, "Benchmark council").unwrap();
        store
            .create_user(OPERATIVE, "Bench Operative", Role::Operative, &[TENANT])
            .unwrap();
        store
            .create_enrolment("BENCH-CODE1", OPERATIVE, None, test_now().plus_minutes(60))
            .unwrap();
        let services = ServiceCatalog::builtin().unwrap();
        let server = doorstep_server::state::node_actor("node-1");
        for n in 0..jobs {
            let mut doc = job_document(n, &server);
            let changes: Vec<(Author, Change)> = doc
                .get_changes(&[])
                .into_iter()
                .map(|c| (Author::Server, c))
                .collect();
            let record = scope_record(&doc, job_id(n), &services).unwrap();
            run_sync(&store, &services, |sync| {
                sync.append(TENANT, job_id(n), &mut doc, changes, record)
            })
            .unwrap();
        }
        Arc::new(store)
    })
    .await
    .unwrap();
    let server =
        TestServer::start_with(store.clone(), TestServer::photo_folder(dir.path()).unwrap())
            .await
            .unwrap();
    let mut device = TestDevice::enrol(&server, "BENCH-CODE1", TENANT)
        .await
        .unwrap();
    device.sync(&server, test_now()).await.unwrap();
    assert_eq!(device.docs.len(), sizes.jobs);

    // (a) Nothing changed.
    let nothing = reconnect(&server, &mut device, 1).await;

    // (b) Jobs changed on the server and on the device meanwhile.
    let server_edits = sizes.server_edits;
    let raw_server = tokio::task::spawn_blocking(move || {
        let services = ServiceCatalog::builtin().unwrap();
        let mut raw = 0u64;
        for n in 0..server_edits {
            let id = job_id(n * 7 % jobs);
            run_sync(store.as_ref(), &services, |sync| {
                let (_, mut doc) = sync.load(id)?.unwrap();
                doc.set_actor(doorstep_server::state::node_actor("node-1"));
                let before = doc.get_heads();
                server_edit(&mut doc, n);
                let changes: Vec<(Author, Change)> = doc
                    .get_changes(&before)
                    .into_iter()
                    .map(|c| (Author::Server, c))
                    .collect();
                raw += changes
                    .iter()
                    .map(|(_, c)| c.raw_bytes().len() as u64)
                    .sum::<u64>();
                let record = scope_record(&doc, id, &services).unwrap();
                sync.append(TENANT, id, &mut doc, changes, record)
            })
            .unwrap();
        }
        raw
    })
    .await
    .unwrap();
    let mut raw_device = 0u64;
    for n in 0..sizes.device_edits {
        let id = job_id(n * 13 % jobs + 1);
        let doc = device.docs.get_mut(&id).unwrap();
        let before = doc.get_heads();
        device_edit(doc);
        let changes: Vec<Vec<u8>> = doc
            .get_changes(&before)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        raw_device += changes.iter().map(|c| c.len() as u64).sum::<u64>();
        device.sync.record_local(TENANT, id, changes);
    }
    let mut changed = reconnect(&server, &mut device, 2).await;
    changed.raw_change_bytes = raw_server + raw_device;
    assert_eq!(device.sync.waiting(), 0);
    server.stop().await.unwrap();
    (nothing, changed)
}

async fn reconnect(server: &TestServer, device: &mut TestDevice, minutes: i64) -> Measure {
    let now = test_now().plus_minutes(minutes);
    let loaded_before = documents_loaded();
    let start = Instant::now();
    let request = device.sync.poll(now).unwrap();
    let bytes_up = request.len() as u64;
    let (status, reply) = server.post_sync(request, &device.token).await.unwrap();
    assert_eq!(status, 200);
    let bytes_down = reply.len() as u64;
    let effects = device.sync.receive(now, &reply);
    doorstep_shared::sync::simulation::apply_effects(&mut device.docs, &device.actor, effects);
    Measure {
        messages_up: 1,
        messages_down: 1,
        bytes_up,
        bytes_down,
        wall: start.elapsed(),
        docs_loaded: Some(documents_loaded() - loaded_before),
        raw_change_bytes: 0,
    }
}

/// Counts frames and bytes (with samod's 4-byte length prefixes) each way.
#[derive(Default)]
struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

struct CountingDialer {
    address: std::net::SocketAddr,
    counters: Arc<Counters>,
}

impl samod::Dialer for CountingDialer {
    type Error = std::io::Error;

    fn url(&self) -> samod::Url {
        samod::Url::parse(&format!("tcp://{}", self.address)).unwrap()
    }

    fn connect(
        &self,
    ) -> futures::future::BoxFuture<'static, Result<samod::Transport, samod::DialError<Self::Error>>>
    {
        let (address, counters) = (self.address, self.counters.clone());
        Box::pin(async move {
            let io = tokio::net::TcpStream::connect(address)
                .await
                .map_err(samod::DialError::transient)?;
            let codec = tokio_util::codec::LengthDelimitedCodec::builder()
                .max_frame_length(usize::MAX)
                .new_codec();
            let (sink, stream) = tokio_util::codec::Framed::new(io, codec).split();
            let down = counters.clone();
            let stream = stream.map(move |frame| {
                frame.map(|bytes| {
                    down.down.fetch_add(1, Ordering::Relaxed);
                    down.bytes_down
                        .fetch_add(bytes.len() as u64 + 4, Ordering::Relaxed);
                    bytes.to_vec()
                })
            });
            let sink = sink.with(move |message: Vec<u8>| {
                counters.up.fetch_add(1, Ordering::Relaxed);
                counters
                    .bytes_up
                    .fetch_add(message.len() as u64 + 4, Ordering::Relaxed);
                futures::future::ready(Ok::<_, std::io::Error>(bytes::Bytes::from(message)))
            });
            Ok(samod::Transport::new(stream, Box::pin(sink)))
        })
    }
}

async fn samod_repo(name: &str, storage: samod::storage::InMemoryStorage) -> samod::Repo {
    samod::Repo::build_tokio()
        .with_peer_id(samod::PeerId::from(name))
        .with_storage(storage)
        .load()
        .await
}

/// Opens every document on the device and waits until both sides have each
/// other's changes for all of them: what samod does on a reconnect.
async fn samod_sync_all(
    device: &samod::Repo,
    ids: &[samod::DocumentId],
    address: std::net::SocketAddr,
    counters: &Arc<Counters>,
) -> Duration {
    let start = Instant::now();
    let dialer = device
        .dial(
            samod::BackoffConfig::default(),
            Arc::new(CountingDialer {
                address,
                counters: counters.clone(),
            }),
        )
        .unwrap();
    dialer.established().await.unwrap();
    let connection = dialer.connection_id().unwrap();
    let waits = ids.iter().map(|id| async move {
        let handle = device.find(id.clone()).await.unwrap().unwrap();
        handle.we_have_their_changes(connection).await;
        handle.they_have_our_changes(connection).await;
    });
    futures::future::join_all(waits).await;
    start.elapsed()
}

fn take(counters: &Counters, wall: Duration) -> Measure {
    Measure {
        messages_up: counters.up.swap(0, Ordering::Relaxed),
        messages_down: counters.down.swap(0, Ordering::Relaxed),
        bytes_up: counters.bytes_up.swap(0, Ordering::Relaxed),
        bytes_down: counters.bytes_down.swap(0, Ordering::Relaxed),
        wall,
        docs_loaded: None,
        raw_change_bytes: 0,
    }
}

async fn samod(sizes: &Sizes) -> (Measure, Measure) {
    let server = samod_repo("server", samod::storage::InMemoryStorage::new()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = server
        .make_acceptor(samod::Url::parse(&format!("tcp://{address}")).unwrap())
        .unwrap();
    tokio::spawn(async move {
        while let Ok((io, _)) = listener.accept().await {
            if acceptor.accept_tokio_io(io).is_err() {
                break;
            }
        }
    });

    let storage = samod::storage::InMemoryStorage::new();
    let device = samod_repo("device", storage.clone()).await;
    let actor = automerge::ActorId::from(b"bench-server".as_slice());
    let mut ids = Vec::new();
    for n in 0..sizes.jobs {
        let doc = Automerge::load(&job_document(n, &actor).save()).unwrap();
        ids.push(device.create(doc).await.unwrap().document_id().clone());
    }
    let counters = Arc::new(Counters::default());
    samod_sync_all(&device, &ids, address, &counters).await;
    // The server now holds every document; keep them open there.
    let mut server_handles = Vec::new();
    for id in &ids {
        server_handles.push(server.find(id.clone()).await.unwrap().unwrap());
    }
    device.stop().await;
    take(&counters, Duration::ZERO);

    // (a) Nothing changed.
    let device = samod_repo("device", storage.clone()).await;
    let wall = samod_sync_all(&device, &ids, address, &counters).await;
    let nothing = take(&counters, wall);
    device.stop().await;

    // (b) Changes on both sides while the device was away.
    let mut raw = 0u64;
    for n in 0..sizes.server_edits {
        let handle = &server_handles[n * 7 % sizes.jobs];
        raw += handle.with_document(|doc| {
            let mut copy = AutoCommit::load(&doc.save()).unwrap();
            let before = copy.get_heads();
            copy.set_actor(automerge::ActorId::from(b"bench-server".as_slice()));
            server_edit(&mut copy, n);
            let changes = copy.get_changes(&before);
            let bytes: u64 = changes.iter().map(|c| c.raw_bytes().len() as u64).sum();
            doc.apply_changes(changes).unwrap();
            bytes
        });
    }
    let device = samod_repo("device", storage.clone()).await;
    for n in 0..sizes.device_edits {
        let handle = device
            .find(ids[n * 13 % sizes.jobs + 1].clone())
            .await
            .unwrap()
            .unwrap();
        raw += handle.with_document(|doc| {
            let mut copy = AutoCommit::load(&doc.save()).unwrap();
            let before = copy.get_heads();
            device_edit(&mut copy);
            let changes = copy.get_changes(&before);
            let bytes: u64 = changes.iter().map(|c| c.raw_bytes().len() as u64).sum();
            doc.apply_changes(changes).unwrap();
            bytes
        });
    }
    let wall = samod_sync_all(&device, &ids, address, &counters).await;
    let mut changed = take(&counters, wall);
    changed.raw_change_bytes = raw;
    device.stop().await;
    server.stop().await;
    (nothing, changed)
}

fn row(system: &str, case: &str, m: &Measure) {
    println!(
        "{system:<9} {case:<22} {:>5} {:>6} {:>11} {:>11} {:>10.1} {:>7}",
        m.messages_up,
        m.messages_down,
        m.bytes_up,
        m.bytes_down,
        m.wall.as_secs_f64() * 1000.0,
        m.docs_loaded
            .map_or_else(|| "n/a".to_owned(), |n| n.to_string()),
    );
}

fn main() {
    let sizes = sizes();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (doorstep_a, doorstep_b) = runtime.block_on(doorstep(&sizes));
    let (samod_a, samod_b) = runtime.block_on(samod(&sizes));

    println!(
        "sync_reconnect: {} jobs on the device; (b) {} changed on the server, {} on the device",
        sizes.jobs, sizes.server_edits, sizes.device_edits
    );
    println!(
        "{:<9} {:<22} {:>5} {:>6} {:>11} {:>11} {:>10} {:>7}",
        "system", "case", "msgs↑", "msgs↓", "bytes↑", "bytes↓", "wall ms", "loaded"
    );
    row("doorstep", "(a) nothing changed", &doorstep_a);
    row("samod", "(a) nothing changed", &samod_a);
    row("doorstep", "(b) both sides changed", &doorstep_b);
    row("samod", "(b) both sides changed", &samod_b);
    println!(
        "raw change bytes in (b): doorstep {}, samod {}",
        doorstep_b.raw_change_bytes, samod_b.raw_change_bytes
    );
    let ratio = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
    let json = serde_json::json!({
        "bench": "sync_reconnect",
        "jobs": sizes.jobs,
        "server_edits": sizes.server_edits,
        "device_edits": sizes.device_edits,
        "doorstep_a": { "messages": doorstep_a.messages_up + doorstep_a.messages_down, "bytes": doorstep_a.bytes(), "wall_ms": doorstep_a.wall.as_secs_f64() * 1000.0, "docs_loaded": doorstep_a.docs_loaded },
        "samod_a": { "messages": samod_a.messages_up + samod_a.messages_down, "bytes": samod_a.bytes(), "wall_ms": samod_a.wall.as_secs_f64() * 1000.0 },
        "doorstep_b": { "messages": doorstep_b.messages_up + doorstep_b.messages_down, "bytes": doorstep_b.bytes(), "wall_ms": doorstep_b.wall.as_secs_f64() * 1000.0, "docs_loaded": doorstep_b.docs_loaded, "raw_change_bytes": doorstep_b.raw_change_bytes },
        "samod_b": { "messages": samod_b.messages_up + samod_b.messages_down, "bytes": samod_b.bytes(), "wall_ms": samod_b.wall.as_secs_f64() * 1000.0, "raw_change_bytes": samod_b.raw_change_bytes },
        "a_bytes_ratio_samod_over_doorstep": ratio(samod_a.bytes() as f64, doorstep_a.bytes() as f64),
        "a_wall_ratio_samod_over_doorstep": ratio(samod_a.wall.as_secs_f64(), doorstep_a.wall.as_secs_f64()),
        "b_doorstep_bytes_over_raw_changes": ratio(doorstep_b.bytes() as f64, doorstep_b.raw_change_bytes as f64),
        "b_samod_bytes_over_raw_changes": ratio(samod_b.bytes() as f64, samod_b.raw_change_bytes as f64),
    });
    println!("{json}");
}
