//! The sync protocol on the server's SQLite store: the same deterministic
//! simulation the core runs in memory, and the storage details memory does
//! not have (compaction, reopening).

use automerge::{AutoCommit, Change};
use doorstep_server::Store;
use doorstep_shared::job::OfficeEditor;
use doorstep_shared::prelude::*;
use doorstep_shared::sync::memory::MemoryStore;
use doorstep_shared::sync::server::scope_record;
use doorstep_shared::sync::simulation::{self, Seen, TENANT};
use doorstep_shared::sync::store::{Author, SyncStore};
use doorstep_shared::sync::wire::DocumentId;

fn open(dir: &tempfile::TempDir) -> Store {
    let store = Store::open_sqlite(&dir.path().join("doorstep.db")).unwrap();
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
    let append = |store: &Store, doc: &mut AutoCommit, since: &[automerge::ChangeHash]| {
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

#[test]
fn photos_of_jobs_stored_before_blob_references_existed_are_found_after_the_upgrade() {
    use doorstep_shared::ids::{BlobHash, JobId, PhotoId};
    use doorstep_shared::job::JobEditor;
    use doorstep_shared::sync::server::scope_record;
    use doorstep_shared::sync::store::Author;
    use doorstep_shared::transition::{Actor, Role};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doorstep.db");
    let services = doorstep_shared::service::ServiceCatalog::builtin().unwrap();
    let repair = services.get(&"housing-repair".parse().unwrap()).unwrap();
    let tenant = doorstep_shared::ids::TenantId::from_u128(1);
    let doc = DocumentId::Job(JobId::from_u128(1));
    let hash = BlobHash::of(b"display");
    {
        let store = Store::open_sqlite(&path).unwrap();
        store.put_tenant(tenant, "Adur").unwrap();
        let mut document = doorstep_shared::demo::job(
            repair,
            1,
            "1 High Street",
            doorstep_shared::time::Timestamp::from_millis(0),
        )
        .create_document(automerge::ActorId::from(&[1u8; 16][..]))
        .unwrap();
        let by = Actor {
            user: doorstep_shared::ids::UserId::from_u128(2),
            role: Role::Operative,
            device: None,
        };
        let mut photo = doorstep_shared::demo::photo(
            "before".parse().unwrap(),
            &by,
            doorstep_shared::time::Timestamp::from_millis(0),
        );
        photo.display = Some(hash);
        JobEditor::new(&mut document, by)
            .unwrap()
            .add_photo(PhotoId::from_u128(1), &photo)
            .unwrap();
        document.commit();
        let changes = document
            .get_changes(&[])
            .into_iter()
            .map(|c| (Author::Server, c))
            .collect();
        let record = scope_record(&document, doc, &services).unwrap();
        store
            .sync_transaction(&services, |sync| {
                sync.append(tenant, doc, &mut document, changes, record)
            })
            .unwrap();
        // As a server from before blob references left it.
        drop(store);
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(
                "ALTER TABLE user_tenants DROP COLUMN active; ALTER TABLE users DROP COLUMN active; ALTER TABLE devices DROP COLUMN last_sync_at;
                 DROP TABLE staff_sessions; DROP TABLE staff_roles; DROP TABLE staff_accounts;
                 DROP TABLE missed_bin_checks; DROP TABLE job_references; ALTER TABLE job_summaries DROP COLUMN closed_at;
                 DROP TABLE bookings; DROP TABLE tracking_tokens; DROP TABLE outbox; DROP TABLE upload_parts; DROP TABLE uploads;
                 DROP TABLE blobs; DROP TABLE blob_refs; PRAGMA user_version = 1;",
            )
            .unwrap();
    }
    let upgraded = Store::open_sqlite(&path).unwrap();
    let holders = upgraded.blob_holders(hash).unwrap();
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0].doc, doc);
    assert!(!holders[0].borrowed);
}
