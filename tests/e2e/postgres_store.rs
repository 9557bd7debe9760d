//! The sync store on the real PostgreSQL of this machine: the simulation,
//! and concurrent writers that must never let a reader skip a change.
//!
//! Each test works in a schema of its own in the database named by
//! `DATABASE_URL` (default: `host=127.0.0.1 user=postgres dbname=test`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use automerge::Change;
use doorstep_server::Store;
use doorstep_server::store::postgres::PgStore;
use doorstep_shared::job::OfficeEditor;
use doorstep_shared::prelude::*;
use doorstep_shared::sync::memory::MemoryStore;
use doorstep_shared::sync::server::scope_record;
use doorstep_shared::sync::simulation::{self, TENANT};
use doorstep_shared::sync::store::{Author, SyncStore};
use doorstep_shared::sync::wire::DocumentId;

pub(crate) fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=test".into())
}

/// A store in a fresh schema named after the test.
pub(crate) fn fresh_store(schema: &str) -> Store {
    let url = url();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|error| {
        panic!(
            "PostgreSQL is not reachable at {url:?}: {error}. Start it with ./scripts/setup.sh \
             (or `pg_ctlcluster 15 main start`), or set DATABASE_URL."
        )
    });
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .unwrap();
    let store = Store::connect_postgres(&url, Some(schema)).unwrap();
    store.put_tenant(TENANT, "Simulated council").unwrap();
    store
}

#[test]
fn the_sync_simulation_converges_on_postgres_as_it_does_in_memory() {
    let store = fresh_store("doorstep_test_simulation");
    let services = ServiceCatalog::builtin().unwrap();
    for seed in 0..3 {
        let schema = format!("doorstep_test_simulation_{seed}");
        let store = if seed == 0 {
            &store
        } else {
            &fresh_store(&schema)
        };
        let on_postgres = store
            .sync_transaction(&services, |sync| Ok(simulation::run(seed, sync, 150)))
            .unwrap();
        let in_memory = simulation::run(seed, MemoryStore::new(), 150);
        assert_eq!(on_postgres, in_memory, "seed {seed}");
    }
}

#[test]
fn concurrent_commits_never_let_a_reader_skip_a_change() {
    let store = Arc::new(fresh_store("doorstep_test_concurrency"));
    let services = Arc::new(ServiceCatalog::builtin().unwrap());
    let writers_done = Arc::new(AtomicBool::new(false));

    let reader = {
        let (store, services, done) = (store.clone(), services.clone(), writers_done.clone());
        std::thread::spawn(move || {
            let mut observations = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let seqs: Vec<u64> = store
                    .sync_transaction(&services, |sync| {
                        let changes = sync.changes_since(TENANT, 0)?;
                        let mut seqs: Vec<u64> =
                            changes.values().flatten().map(|c| c.seq).collect();
                        seqs.sort_unstable();
                        Ok(seqs)
                    })
                    .unwrap();
                let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
                assert_eq!(seqs, expected, "a reader saw a gap in the sequence");
                observations += 1;
                if finished {
                    return (observations, seqs.len());
                }
            }
        })
    };

    let writers: Vec<_> = (0..4u128)
        .map(|writer| {
            let (store, services) = (store.clone(), services.clone());
            std::thread::spawn(move || {
                let repair = services
                    .get(&"housing-repair".parse().unwrap())
                    .unwrap()
                    .clone();
                let id = DocumentId::Job(JobId::from_u128(writer + 1));
                let server = automerge::ActorId::from(format!("writer-{writer}").as_bytes());
                let mut doc = demo::job(
                    &repair,
                    writer as u32,
                    "1 Race Street, Worthing, BN11 1AA",
                    Timestamp::from_millis(0),
                )
                .create_document(server)
                .unwrap();
                let mut heads = Vec::new();
                for n in 0..25u128 {
                    if n > 0 {
                        let assignee =
                            Some(doorstep_shared::job::Assignee::User(UserId::from_u128(n)));
                        OfficeEditor::new(&mut doc)
                            .unwrap()
                            .assign(assignee)
                            .unwrap();
                        doc.commit();
                    }
                    let changes: Vec<(Author, Change)> = doc
                        .get_changes(&heads)
                        .into_iter()
                        .map(|c| (Author::Server, c))
                        .collect();
                    heads = doc.get_heads();
                    let record = scope_record(&doc, id, &services).unwrap();
                    store
                        .sync_transaction(&services, |sync| {
                            sync.append(TENANT, id, &mut doc, changes, record)
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    writers_done.store(true, Ordering::SeqCst);
    let (observations, total) = reader.join().unwrap();
    assert!(observations > 0);
    let clock = store
        .sync_transaction(&services, |sync| sync.clock(TENANT))
        .unwrap();
    assert_eq!(total as u64, clock.seq, "the last read saw every change");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_on_postgres_enrols_syncs_and_decides_like_one_on_sqlite() {
    use automerge::AutoCommit;
    use doorstep_server::demo::{DEMO_OPERATIVE, DEMO_TENANT};
    use doorstep_tests::{TestDevice, TestServer, test_now};

    let store = tokio::task::spawn_blocking(|| fresh_store("doorstep_test_http"))
        .await
        .unwrap();
    let photos = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(
        Arc::new(store),
        TestServer::photo_folder(photos.path()).unwrap(),
    )
    .await
    .unwrap();
    let mut phone = TestDevice::enrol(&server, &server.code_for("Priya Sharma"), DEMO_TENANT)
        .await
        .unwrap();
    assert_eq!(phone.sync(&server, test_now()).await.unwrap(), 200);
    assert_eq!(
        phone.docs.len(),
        14,
        "seven jobs and their residents' contacts"
    );

    let job = DocumentId::Job(JobId::from_u128(0xd00_0002));
    let me = Actor {
        user: DEMO_OPERATIVE,
        role: Role::Operative,
        device: Some(phone.device),
    };
    let before = phone
        .take_photo(PhotoId::from_u128(1), "before", &me, test_now(), 0)
        .unwrap();
    phone
        .edit(DEMO_TENANT, job, |doc: &mut AutoCommit| {
            let mut editor = JobEditor::new(doc, me.clone()).unwrap();
            editor.add_photo(PhotoId::from_u128(1), &before).unwrap();
            editor
                .request_transition(
                    TransitionId::from_u128(1),
                    "booked".parse().unwrap(),
                    "in_progress".parse().unwrap(),
                    Evidence::default(),
                    test_now(),
                )
                .unwrap();
        })
        .unwrap();
    assert_eq!(
        phone
            .sync(&server, test_now().plus_minutes(1))
            .await
            .unwrap(),
        200
    );
    assert_eq!(phone.sync.waiting(), 0);
    // The start waits for its photo; once it is up the server decides.
    phone
        .upload(&server.url(""), test_now().plus_minutes(2))
        .await
        .unwrap();
    let (_, jobs) = server.get_json_as_staff("/api/jobs").await.unwrap();
    let row = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["reference"] == "HR-00002")
        .unwrap();
    assert_eq!(row["status"], "in_progress");
    let (_, health) = server.get_json("/health").await.unwrap();
    assert_eq!(health["database"], "ok");
}

#[test]
fn sslmode_is_read_as_libpq_reads_it_and_left_to_the_driver_in_words_it_knows() {
    use doorstep_server::store::postgres::Tls;
    let cases = [
        (
            "host=db user=app",
            "host=db user=app sslmode=prefer",
            Tls::Prefer,
        ),
        (
            "host=db sslmode=disable user=app",
            "host=db user=app sslmode=disable",
            Tls::Disable,
        ),
        (
            "host=db password='a b' sslmode=verify-full sslrootcert=/ca.pem",
            "host=db password='a b' sslmode=require",
            Tls::VerifyFull(Some("/ca.pem".into())),
        ),
        (
            "postgres://app@db/doorstep",
            "postgres://app@db/doorstep?sslmode=prefer",
            Tls::Prefer,
        ),
        (
            "postgresql://app@db/doorstep?sslmode=verify-ca&application_name=x",
            "postgresql://app@db/doorstep?application_name=x&sslmode=require",
            Tls::VerifyCa(None),
        ),
        (
            "postgres://app@db/doorstep?sslmode=require",
            "postgres://app@db/doorstep?sslmode=require",
            Tls::Require,
        ),
    ];
    for (given, driver, tls) in cases {
        assert_eq!(
            Tls::from_url(given).unwrap(),
            (driver.to_owned(), tls),
            "{given}"
        );
    }
    let error = Tls::from_url("host=db sslmode=sometimes").unwrap_err();
    assert!(error.to_string().contains("verify-full"), "{error}");
}

/// `url` with one more connection parameter.
fn with_param(url: &str, param: &str) -> String {
    if url.starts_with("postgres") && url.contains("://") {
        let joiner = if url.contains('?') { '&' } else { '?' };
        format!("{url}{joiner}{param}")
    } else {
        format!("{url} {param}")
    }
}

/// Whether the store's connection to PostgreSQL is encrypted.
fn over_tls(store: &Store) -> bool {
    use doorstep_server::{args, sql};
    store
        .read(|tx| {
            tx.query_one(
                sql!("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
                args![],
            )?
            .get(0)
        })
        .unwrap()
}

#[test]
fn sslmode_chooses_tls_and_verify_modes_check_the_servers_certificate() {
    let url = url();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let certificate: String = admin.query_one("SHOW ssl_cert_file", &[]).unwrap().get(0);
    let offered: String = admin.query_one("SHOW ssl", &[]).unwrap().get(0);
    assert_eq!(
        offered, "on",
        "this test needs PostgreSQL with TLS on (Debian's default, with its snakeoil certificate)"
    );
    let schema = Some("doorstep_test_tls");
    let plain = Store::connect_postgres(&with_param(&url, "sslmode=disable"), schema).unwrap();
    assert!(!over_tls(&plain));
    let required = Store::connect_postgres(&with_param(&url, "sslmode=require"), schema).unwrap();
    assert!(over_tls(&required));
    // The server's self-signed certificate is no authority the system
    // trusts, and names the machine, not 127.0.0.1.
    let refused = Store::connect_postgres(&with_param(&url, "sslmode=verify-full"), schema).err();
    assert!(
        refused.is_some(),
        "verify-full accepted an untrusted certificate"
    );
    let wrong_name = Store::connect_postgres(
        &with_param(
            &with_param(&url, "sslmode=verify-full"),
            &format!("sslrootcert={certificate}"),
        ),
        schema,
    )
    .err();
    assert!(wrong_name.is_some(), "verify-full accepted the wrong name");
    let trusted = Store::connect_postgres(
        &with_param(
            &with_param(&url, "sslmode=verify-ca"),
            &format!("sslrootcert={certificate}"),
        ),
        schema,
    )
    .unwrap();
    assert!(over_tls(&trusted));
}

#[test]
fn a_request_waits_for_a_free_connection_only_as_long_as_the_pool_says() {
    use doorstep_server::store::StoreError;
    use doorstep_server::store::postgres::PgPool;
    let settings = PgPool {
        max_connections: 1,
        wait: std::time::Duration::from_millis(200),
    };
    fresh_store("doorstep_test_pool_wait");
    let store = Arc::new(Store::from(
        PgStore::connect_with(&url(), Some("doorstep_test_pool_wait"), &settings).unwrap(),
    ));
    let (holding, held) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            store.write(|_| {
                holding.send(()).unwrap();
                released.recv().unwrap();
                Ok(())
            })
        })
    };
    held.recv().unwrap();
    let waited = store.tenant_name(TENANT);
    assert!(
        matches!(waited, Err(StoreError::Pool(_))),
        "a request beyond the pool must fail after its wait, not hang: {waited:?}"
    );
    release.send(()).unwrap();
    holder.join().unwrap().unwrap();
    assert_eq!(
        store.tenant_name(TENANT).unwrap().as_deref(),
        Some("Simulated council")
    );
}
