//! The sync protocol on the server's SQLite store: the same deterministic
//! simulation the core runs in memory, and the storage details memory does
//! not have (compaction, reopening).

use automerge::{AutoCommit, Change};
use doorstep_server::SqliteStore;
use doorstep_server::store::Councils;
use doorstep_shared::job::OfficeEditor;
use doorstep_shared::prelude::*;
use doorstep_shared::sync::memory::MemoryStore;
use doorstep_shared::sync::server::scope_record;
use doorstep_shared::sync::simulation::{self, Seen, TENANT};
use doorstep_shared::sync::store::{Author, SyncStore};
use doorstep_shared::sync::wire::DocumentId;

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    let store = SqliteStore::open(&dir.path().join("doorstep.db")).unwrap();
    store.put_tenant(TENANT, "Simulated council").unwrap();
    store
}

#[test]
fn the_sync_simulation_converges_on_sqlite_as_it_does_in_memory() {
    let services = ServiceCatalog::builtin().unwrap();
    for seed in 0..6 {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let on_sqlite = store
            .sync_transaction(&services, |sync| Ok(simulation::run(seed, sync, 200)))
            .unwrap();
        // The same seed takes the same path whatever the store.
        let in_memory = simulation::run(seed, MemoryStore::new(), 200);
        assert_eq!(on_sqlite, in_memory, "seed {seed}");
        assert_ne!(on_sqlite, Seen::default());
    }
}

#[test]
fn a_document_reads_back_whole_across_compactions_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let services = ServiceCatalog::builtin().unwrap();
    let repair = services.get(&"housing-repair".parse().unwrap()).unwrap();
    let id = DocumentId::Job(JobId::from_u128(1));
    let server = automerge::ActorId::from(b"server".as_slice());
    let mut doc = demo::job(
        repair,
        1,
        "1 Compaction Close, Worthing, BN11 1AA",
        Timestamp::from_millis(0),
    )
    .create_document(server)
    .unwrap();
    let store = open(&dir);
    let append = |store: &SqliteStore, doc: &mut AutoCommit, since: &[automerge::ChangeHash]| {
        let changes: Vec<(Author, Change)> = doc
            .get_changes(since)
            .into_iter()
            .map(|c| (Author::Server, c))
            .collect();
        let record = scope_record(doc, id, &services).unwrap();
        store
            .sync_transaction(&services, |sync| {
                sync.append(TENANT, id, doc, changes, record)
            })
            .unwrap();
    };
    append(&store, &mut doc, &[]);
    // Well past the compaction threshold, one change at a time.
    for n in 0..(3 * doorstep_server::store::COMPACT_AFTER) {
        let before = doc.get_heads();
        let assignee = Some(doorstep_shared::job::Assignee::User(UserId::from_u128(
            n as u128,
        )));
        OfficeEditor::new(&mut doc)
            .unwrap()
            .assign(assignee)
            .unwrap();
        doc.commit();
        append(&store, &mut doc, &before);
    }
    drop(store);

    let reopened = open(&dir);
    let (tenant, mut loaded) = reopened
        .sync_transaction(&services, |sync| sync.load(id))
        .unwrap()
        .unwrap();
    assert_eq!(tenant, TENANT);
    assert_eq!(loaded.get_heads(), doc.get_heads());
    let clock = reopened
        .sync_transaction(&services, |sync| sync.clock(TENANT))
        .unwrap();
    assert_eq!(
        clock.seq,
        doc.get_changes(&[]).len() as u64,
        "one sequence number per change"
    );
    let since = reopened
        .sync_transaction(&services, |sync| sync.changes_since(TENANT, clock.seq - 5))
        .unwrap();
    assert_eq!(since[&id].len(), 5, "change rows outlive compaction");
}
