//! The store conformance suite: each store method, written once for both
//! databases, runs from one test body against SQLite and against this
//! machine's PostgreSQL (a schema of its own per case), and must answer the
//! same.

use doorstep_server::SqliteStore;
use doorstep_server::store::Store;
use doorstep_server::store::missed_bins::MissedBinCheck;
use doorstep_shared::booking::{Half, HalfDay};
use doorstep_shared::prelude::*;
use rstest::rstest;

use crate::postgres_store::fresh_store;

const COUNCIL: TenantId = TenantId::from_u128(0xc0);

/// Which database a case runs on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh store of `backend`, named after the test (its folder, if any,
/// goes when the store does).
fn open(backend: Backend, test: &str) -> (Box<dyn Store>, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(&dir.path().join("doorstep.db")).unwrap();
            store.put_tenant(COUNCIL, "Conformance council").unwrap();
            (Box::new(store), Some(dir))
        }
        Backend::Postgres => {
            let store = fresh_store(&format!("doorstep_conformance_{test}"));
            store.put_tenant(COUNCIL, "Conformance council").unwrap();
            (Box::new(store), None)
        }
    }
}

fn half_day(day: u8, half: Half) -> HalfDay {
    HalfDay {
        date: Date::new(2026, 12, day).unwrap(),
        half,
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn a_slot_takes_jobs_up_to_its_capacity_and_a_moved_or_released_booking_frees_its_place(
    #[case] backend: Backend,
) {
    let (store, _dir) = open(backend, "bookings");
    let now = Timestamp::from_millis(1_795_765_800_000);
    let monday = half_day(7, Half::Morning);
    let tuesday = half_day(8, Half::Afternoon);
    let job = |n: u128| JobId::from_u128(0xb00 + n);

    assert!(
        store
            .take_slot(COUNCIL, "crew-1", job(1), monday, 2, now)
            .unwrap()
    );
    assert!(
        store
            .take_slot(COUNCIL, "crew-1", job(2), monday, 2, now)
            .unwrap()
    );
    assert!(
        !store
            .take_slot(COUNCIL, "crew-1", job(3), monday, 2, now)
            .unwrap(),
        "full"
    );
    assert!(
        store
            .take_slot(COUNCIL, "crew-2", job(3), monday, 2, now)
            .unwrap(),
        "another crew's places are its own"
    );
    assert!(
        store
            .take_slot(COUNCIL, "crew-1", job(1), monday, 2, now)
            .unwrap(),
        "a job booked again where it is does not count against itself"
    );
    assert_eq!(
        store.booked(COUNCIL, "crew-1", &[monday, tuesday]).unwrap(),
        [2, 0]
    );

    // Moving a job frees its old place; releasing one frees it too.
    assert!(
        store
            .take_slot(COUNCIL, "crew-1", job(2), tuesday, 2, now)
            .unwrap()
    );
    assert_eq!(
        store.booked(COUNCIL, "crew-1", &[monday, tuesday]).unwrap(),
        [1, 1]
    );
    store.release_slot(job(1)).unwrap();
    assert_eq!(
        store.booked(COUNCIL, "crew-1", &[monday, tuesday]).unwrap(),
        [0, 1]
    );
    assert_eq!(store.booked(COUNCIL, "crew-2", &[monday]).unwrap(), [1]);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn missed_bin_checks_wait_oldest_first_once_each_until_removed(#[case] backend: Backend) {
    let (store, _dir) = open(backend, "missed_bins");
    let check = |n: u128| MissedBinCheck {
        tenant: COUNCIL,
        job: JobId::from_u128(0xe00 + n),
        round: RoundId::from_u128(0xe10),
        property: PropertyId::from_u128(0xe20 + n),
    };
    let at = |minutes| Timestamp::from_millis(1_795_765_800_000).plus_minutes(minutes);
    store.put_missed_bin_check(&check(2), at(1)).unwrap();
    store.put_missed_bin_check(&check(1), at(2)).unwrap();
    // Reported again: still one check, still where it was.
    store.put_missed_bin_check(&check(2), at(3)).unwrap();
    assert_eq!(store.missed_bin_checks().unwrap(), [check(2), check(1)]);
    store.remove_missed_bin_check(check(2).job).unwrap();
    assert_eq!(store.missed_bin_checks().unwrap(), [check(1)]);
    assert!(store.round_ids(COUNCIL).unwrap().is_empty());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn erasing_a_contact_that_is_not_there_finds_nothing(#[case] backend: Backend) {
    let (store, _dir) = open(backend, "erasure");
    let now = Timestamp::from_millis(1_795_765_800_000);
    assert!(store.contacts_closed_before(now).unwrap().is_empty());
    assert!(
        !store
            .erase_contact(COUNCIL, JobId::from_u128(0xf00), now)
            .unwrap()
    );
}
