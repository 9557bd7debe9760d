//! The store conformance suite: each store method, written once for both
//! databases, runs from one test body against SQLite and against this
//! machine's PostgreSQL (a schema of its own per case), and must answer the
//! same.

use doorstep_server::store::Store;
use doorstep_server::store::blobs::{Part, PartOutcome, StoredBlob};
use doorstep_server::store::identity::EnrolmentRefused;
use doorstep_server::store::missed_bins::MissedBinCheck;
use doorstep_server::store::staff::StaffRole;
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
fn open(backend: Backend, test: &str) -> (Store, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_sqlite(&dir.path().join("doorstep.db")).unwrap();
            store.put_tenant(COUNCIL, "Conformance council").unwrap();
            (store, Some(dir))
        }
        Backend::Postgres => {
            let store = fresh_store(&format!("doorstep_conformance_{test}"));
            store.put_tenant(COUNCIL, "Conformance council").unwrap();
            (store, None)
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

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn staff_sessions_follow_roles_accounts_and_each_councils_deactivation(#[case] backend: Backend) {
    let (store, _dir) = open(backend, "staff");
    let now = Timestamp::from_millis(1_795_765_800_000);
    let dan = UserId::from_u128(0x5a1);
    let other = TenantId::from_u128(0xc1);
    store.put_tenant(other, "Another council").unwrap();
    store
        .create_user(dan, "Dan Okafor", Role::Dispatcher, &[COUNCIL, other])
        .unwrap();
    store
        .put_staff_account(dan, " Dan.Okafor@Example.org ", "argon2-hash")
        .unwrap();
    store
        .grant_staff_role(dan, COUNCIL, StaffRole::Admin)
        .unwrap();
    let account = store
        .staff_account("dan.okafor@example.org")
        .unwrap()
        .unwrap();
    assert_eq!((account.user, account.active), (dan, true));
    assert_eq!(
        store.staff_roles(dan).unwrap(),
        [(COUNCIL, StaffRole::Admin)]
    );

    // A session opens while unexpired; it moves only to a council with a role.
    let token = [7u8; 32];
    store
        .create_staff_session(&token, dan, COUNCIL, "csrf-1", now, now.plus_minutes(60))
        .unwrap();
    let session = store.staff_session(&token, now).unwrap().unwrap();
    assert_eq!(
        (session.user, session.tenant, session.role),
        (dan, COUNCIL, StaffRole::Admin)
    );
    assert_eq!(session.name, "Dan Okafor");
    assert!(
        store
            .staff_session(&token, now.plus_minutes(61))
            .unwrap()
            .is_none()
    );
    assert!(!store.switch_staff_council(&token, other).unwrap());
    store
        .grant_staff_role(dan, other, StaffRole::Dispatcher)
        .unwrap();
    assert!(store.switch_staff_council(&token, other).unwrap());
    assert_eq!(
        store.staff_session(&token, now).unwrap().unwrap().role,
        StaffRole::Dispatcher
    );

    // Deactivated by one council: no session opens there, and the
    // other council's work goes on.
    assert!(store.set_active(dan, COUNCIL, false, now).unwrap());
    assert_eq!(
        store.staff_roles(dan).unwrap(),
        [(other, StaffRole::Dispatcher)]
    );
    assert!(store.staff_session(&token, now).unwrap().is_some());
    assert!(!store.switch_staff_council(&token, COUNCIL).unwrap());
    let there = [8u8; 32];
    store
        .create_staff_session(&there, dan, COUNCIL, "csrf-2", now, now.plus_minutes(60))
        .unwrap();
    assert!(store.staff_session(&there, now).unwrap().is_none());
    assert!(
        store
            .staff_account("dan.okafor@example.org")
            .unwrap()
            .unwrap()
            .active
    );
    store.end_staff_session(&token).unwrap();
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn the_roster_lists_people_with_their_teams_and_moves_them_between_teams(#[case] backend: Backend) {
    let (store, _dir) = open(backend, "roster");
    let now = Timestamp::from_millis(1_795_765_800_000);
    let (priya, sam) = (UserId::from_u128(0x5b1), UserId::from_u128(0x5b2));
    let (ham, west) = (TeamId::from_u128(0x5c1), TeamId::from_u128(0x5c2));
    store
        .create_user(priya, "Priya Sharma", Role::Operative, &[COUNCIL])
        .unwrap();
    store
        .create_user(sam, "Sam Lee", Role::Crew, &[COUNCIL])
        .unwrap();
    store
        .create_team(ham, COUNCIL, "Ham Way crew", &[sam])
        .unwrap();
    store.create_team(west, COUNCIL, "West crew", &[]).unwrap();

    let roster = store.roster(COUNCIL).unwrap();
    let names: Vec<&str> = roster.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Priya Sharma", "Sam Lee"]);
    assert_eq!(roster[1].teams, [ham]);
    assert!(roster.iter().all(|p| p.active));

    assert!(store.set_team(sam, COUNCIL, Some(west)).unwrap());
    assert_eq!(store.roster(COUNCIL).unwrap()[1].teams, [west]);
    assert!(store.set_team(sam, COUNCIL, None).unwrap());
    assert!(store.roster(COUNCIL).unwrap()[1].teams.is_empty());
    assert!(
        !store
            .set_team(sam, COUNCIL, Some(TeamId::from_u128(0x5cf)))
            .unwrap(),
        "not the council's team"
    );
    assert!(
        !store
            .set_active(priya, TenantId::from_u128(0xc9), false, now)
            .unwrap(),
        "not the council's person"
    );
    assert!(store.set_active(priya, COUNCIL, false, now).unwrap());
    assert!(!store.roster(COUNCIL).unwrap()[0].active);
    assert!(store.devices(COUNCIL).unwrap().is_empty());
    assert!(store.job_assignees(COUNCIL).unwrap().is_empty());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn tracking_tokens_lead_to_their_job_and_an_empty_outbox_claims_nothing(#[case] backend: Backend) {
    let (store, _dir) = open(backend, "outbox");
    let now = Timestamp::from_millis(1_795_765_800_000);
    let job = JobId::from_u128(0xd10);
    store
        .put_tracking_token(&[1; 32], COUNCIL, job, now)
        .unwrap();
    assert_eq!(
        store.tracking_token(&[1; 32]).unwrap(),
        Some((COUNCIL, job))
    );
    assert_eq!(store.tracking_token(&[2; 32]).unwrap(), None);
    assert!(
        store
            .claim_due(now, now.plus_minutes(5), 10)
            .unwrap()
            .is_empty()
    );
    assert!(store.outbox(10).unwrap().is_empty());
    assert!(store.outbox_for_job(job).unwrap().is_empty());
    assert_eq!(
        store
            .record_delivery("no-such-message", "delivered")
            .unwrap(),
        None
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn an_upload_takes_its_parts_in_order_only_and_ends_stored_whole(#[case] backend: Backend) {
    let (store, _dir) = open(backend, "uploads");
    let now = Timestamp::from_millis(1_795_765_800_000);
    let hash = BlobHash::of(b"a photo");
    let part = |start: u64, length: u64| Part {
        start,
        length,
        object: format!("parts/{start}"),
    };
    assert_eq!(store.upload(hash).unwrap(), None);
    assert_eq!(
        store.add_part(hash, 100, &part(0, 40), now).unwrap(),
        PartOutcome::Added { received: 40 }
    );
    assert_eq!(
        store.add_part(hash, 100, &part(0, 40), now).unwrap(),
        PartOutcome::Conflict { received: 40 },
        "a part already taken"
    );
    assert_eq!(
        store.add_part(hash, 90, &part(40, 10), now).unwrap(),
        PartOutcome::LengthDiffers { length: 100 }
    );
    assert_eq!(
        store.add_part(hash, 100, &part(40, 60), now).unwrap(),
        PartOutcome::Added { received: 100 }
    );
    let upload = store.upload(hash).unwrap().unwrap();
    assert_eq!((upload.length, upload.received), (100, 100));
    assert_eq!(upload.parts, [part(0, 40), part(40, 60)]);
    assert_eq!(store.stale_uploads(now.plus_minutes(1)).unwrap(), [hash]);
    assert!(store.stale_uploads(now).unwrap().is_empty());

    let blob = StoredBlob {
        length: 100,
        content_type: "image/jpeg".into(),
    };
    store.blob_stored(hash, &blob, now).unwrap();
    assert_eq!(store.stored_blob(hash).unwrap(), Some(blob));
    assert_eq!(store.upload(hash).unwrap(), None);
    assert_eq!(
        store.add_part(hash, 100, &part(0, 10), now).unwrap(),
        PartOutcome::Stored
    );
    assert!(store.blob_holders(hash).unwrap().is_empty());

    let other = BlobHash::of(b"another photo");
    store.add_part(other, 10, &part(0, 5), now).unwrap();
    assert_eq!(store.drop_upload(other).unwrap(), ["parts/0"]);
    assert_eq!(store.upload(other).unwrap(), None);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn an_enrolment_code_works_once_and_a_re_enrolled_device_keeps_its_actor(#[case] backend: Backend) {
    let (store, _dir) = open(backend, "identity");
    let now = Timestamp::from_millis(1_795_765_800_000);
    let (priya, crew) = (UserId::from_u128(0x5d1), TeamId::from_u128(0x5d2));
    store
        .create_user(priya, "Priya Sharma", Role::Operative, &[COUNCIL])
        .unwrap();
    store
        .create_team(crew, COUNCIL, "Ham Way crew", &[priya])
        .unwrap();
    assert_eq!(
        store.people(COUNCIL).unwrap(),
        [(priya, "Priya Sharma".to_owned(), Role::Operative)]
    );
    assert_eq!(
        store.teams(COUNCIL).unwrap(),
        [(crew, "Ham Way crew".to_owned())]
    );
    assert_eq!(
        store.user_name(priya).unwrap().as_deref(),
        Some("Priya Sharma")
    );

    let (device, actor) = (
        DeviceId::from_u128(0x5d3),
        automerge::ActorId::from(&[3u8; 16][..]),
    );
    store
        .create_enrolment("CODE-1", priya, None, now.plus_minutes(60))
        .unwrap();
    store
        .create_enrolment("CODE-OLD", priya, None, now.plus_minutes(-1))
        .unwrap();
    assert_eq!(
        store
            .redeem_enrolment("NO-SUCH", "t0", device, &actor, now)
            .unwrap(),
        Err(EnrolmentRefused::Unknown)
    );
    assert_eq!(
        store
            .redeem_enrolment("CODE-OLD", "t0", device, &actor, now)
            .unwrap(),
        Err(EnrolmentRefused::Expired)
    );
    let enrolled = store
        .redeem_enrolment("CODE-1", "token-1", device, &actor, now)
        .unwrap()
        .unwrap();
    assert_eq!(
        (enrolled.device, enrolled.user, enrolled.rebound),
        (device, priya, false)
    );
    assert_eq!(
        store
            .redeem_enrolment("CODE-1", "token-2", device, &actor, now)
            .unwrap(),
        Err(EnrolmentRefused::Used)
    );
    let identity = store.device_by_token("token-1").unwrap().unwrap();
    assert_eq!(
        (identity.device, identity.user, identity.role),
        (device, priya, Role::Operative)
    );
    assert_eq!(identity.teams.into_iter().collect::<Vec<_>>(), [crew]);
    assert_eq!(identity.tenants.into_iter().collect::<Vec<_>>(), [COUNCIL]);
    assert_eq!(identity.actor, actor);
    assert_eq!(store.user_of_actor(&actor).unwrap(), Some(priya));
    assert!(store.device_in_team(device, crew).unwrap());

    // Revoked, then enrolled again with a code naming the device.
    assert!(store.revoke_device(device, now).unwrap());
    assert!(
        !store.revoke_device(device, now).unwrap(),
        "already revoked"
    );
    assert!(store.device_by_token("token-1").unwrap().is_none());
    store
        .create_enrolment("CODE-2", priya, Some(device), now.plus_minutes(60))
        .unwrap();
    let other_actor = automerge::ActorId::from(&[4u8; 16][..]);
    let again = store
        .redeem_enrolment(
            "CODE-2",
            "token-3",
            DeviceId::from_u128(0x5d4),
            &other_actor,
            now,
        )
        .unwrap()
        .unwrap();
    assert_eq!((again.device, again.rebound), (device, true));
    assert_eq!(again.actor, actor, "its actor id is kept");
    assert!(store.device_by_token("token-3").unwrap().is_some());
}

/// The same store opened again, as a restarted server opens it.
fn reopen(backend: Backend, test: &str, dir: Option<&tempfile::TempDir>) -> Result<Store, String> {
    match (backend, dir) {
        (Backend::Sqlite, Some(dir)) => Store::open_sqlite(&dir.path().join("doorstep.db")),
        _ => Store::connect_postgres(
            &crate::postgres_store::url(),
            Some(&format!("doorstep_conformance_{test}")),
        ),
    }
    .map_err(|error| error.to_string())
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn reads_answer_with_the_last_committed_state_while_a_write_is_under_way(#[case] backend: Backend) {
    use std::sync::{Arc, mpsc};

    use doorstep_server::{args, sql};

    let (store, _dir) = open(backend, "reads_during_a_write");
    let store = Arc::new(store);
    let (begun, writing) = mpsc::channel();
    let (read, done_reading) = mpsc::channel::<()>();
    let writer = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            store.write(|tx| {
                tx.execute(
                    sql!("UPDATE tenants SET name = 'Worthing' WHERE id = ?1"),
                    args![COUNCIL.to_string()],
                )?;
                begun.send(()).unwrap();
                // The writer holds on until the read has answered.
                done_reading.recv().unwrap();
                Ok(())
            })
        })
    };
    writing.recv().unwrap();
    let (answer, answered) = mpsc::channel();
    let reading = Arc::clone(&store);
    std::thread::spawn(move || answer.send(reading.tenant_name(COUNCIL)).unwrap());
    // A read waiting behind the writer would never answer; a minute is far
    // beyond any machine's read of one row.
    let name = answered
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("a read waited behind the writer")
        .unwrap();
    assert_eq!(name.as_deref(), Some("Conformance council"));
    read.send(()).unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(
        store.tenant_name(COUNCIL).unwrap().as_deref(),
        Some("Worthing")
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn reopening_keeps_the_rows_and_a_database_from_a_newer_server_is_refused(
    #[case] backend: Backend,
) {
    let test = "reopening";
    let (store, dir) = open(backend, test);
    drop(store);
    let reopened = reopen(backend, test, dir.as_ref()).unwrap();
    assert_eq!(
        reopened.tenant_name(COUNCIL).unwrap().as_deref(),
        Some("Conformance council"),
        "the migrations did not run again over the rows"
    );
    reopened.put_tenant(COUNCIL, "Adur & Worthing").unwrap();
    // A newer server has been here and migrated further.
    reopened
        .write(|tx| {
            let now = tx.schema_version()?;
            tx.set_schema_version(now + 90)
        })
        .unwrap();
    drop(reopened);
    let refused = reopen(backend, test, dir.as_ref()).err().unwrap();
    assert!(refused.contains("run a newer doorstep-server"), "{refused}");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
fn a_column_of_the_wrong_kind_is_an_error_not_a_panic(#[case] backend: Backend) {
    use doorstep_server::{args, sql};

    let (store, _dir) = open(backend, "wrong_kind");
    let row = store
        .read(|tx| tx.query_one(sql!("SELECT 'seven', NULL, -1"), args![]))
        .unwrap();
    assert!(row.get::<i64>(0).is_err());
    assert_eq!(row.get::<Option<i64>>(1).unwrap(), None);
    assert!(row.get::<String>(1).is_err());
    assert!(row.get::<u32>(2).is_err(), "a negative count");
    assert!(row.get::<i64>(3).is_err(), "no such column");
    assert!(row.get::<TenantId>(0).is_err(), "text that is no id");
}

#[test]
fn statements_are_written_once_and_rewritten_per_dialect() {
    use doorstep_server::store::db::Sql;

    let params = Sql::new("SELECT a FROM t WHERE b = ?1 AND c IN (?2, ?10) AND d = '?x'");
    assert_eq!(
        params.postgres(),
        "SELECT a FROM t WHERE b = $1 AND c IN ($2, $10) AND d = '?x'"
    );
    let claim = Sql::new("SELECT id FROM outbox WHERE a = ?1 {skip_locked}");
    assert_eq!(claim.sqlite(), "SELECT id FROM outbox WHERE a = ?1 ");
    assert_eq!(
        claim.postgres(),
        "SELECT id FROM outbox WHERE a = $1 FOR UPDATE SKIP LOCKED"
    );
    let hold = Sql::new("SELECT 1 FROM uploads WHERE hash = ?1 {for_update}");
    assert_eq!(hold.sqlite(), "SELECT 1 FROM uploads WHERE hash = ?1 ");
    assert_eq!(
        hold.postgres(),
        "SELECT 1 FROM uploads WHERE hash = $1 FOR UPDATE"
    );
    let scope = Sql::new("SELECT id FROM d WHERE team IN {json_list ?4} AND a = ?1");
    assert_eq!(
        scope.sqlite(),
        "SELECT id FROM d WHERE team IN (SELECT value FROM json_each(?4)) AND a = ?1"
    );
    assert_eq!(
        scope.postgres(),
        "SELECT id FROM d WHERE team IN \
         (SELECT json_array_elements_text(CAST(CAST($4 AS text) AS json))) AND a = $1"
    );
}
