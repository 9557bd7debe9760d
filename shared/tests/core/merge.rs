//! The merge table: two replicas edit offline, then merge in both orders;
//! both must end identical and keep both sides' work.

use automerge::{AutoCommit, ROOT};
use autosurgeon::reconcile_prop;
use doorstep_shared::prelude::*;
use doorstep_shared::round::Round;
use rstest::rstest;

use crate::setup::*;

/// One row of the table: the document both start from, each side's edits,
/// and what the merged document must show.
struct Case {
    start: fn() -> AutoCommit,
    edit_a: fn(&mut AutoCommit),
    edit_b: fn(&mut AutoCommit),
    check: fn(&AutoCommit),
}

fn different_fields() -> Case {
    Case {
        start: booked_repair,
        edit_a: |doc| tick_all(doc, &["supply_isolated"]),
        edit_b: |doc| {
            JobEditor::new(doc, dispatcher())
                .unwrap()
                .update_notes("Leak under the kitchen sink. Resident has a dog.")
                .unwrap();
        },
        check: |doc| {
            let job = Job::load(doc).unwrap();
            assert!(job.ticks[&name("supply_isolated")].done);
            assert_eq!(
                job.notes.as_str(),
                "Leak under the kitchen sink. Resident has a dog."
            );
        },
    }
}

fn same_note() -> Case {
    Case {
        start: booked_repair,
        edit_a: |doc| {
            JobEditor::new(doc, operative())
                .unwrap()
                .splice_notes(0, 0, "URGENT: ")
                .unwrap();
        },
        edit_b: |doc| {
            JobEditor::new(doc, dispatcher())
                .unwrap()
                .update_notes("Leak under the kitchen sink. Washer replaced.")
                .unwrap();
        },
        check: |doc| {
            let job = Job::load(doc).unwrap();
            assert_eq!(
                job.notes.as_str(),
                "URGENT: Leak under the kitchen sink. Washer replaced."
            );
        },
    }
}

fn both_add_photos() -> Case {
    Case {
        start: started_repair,
        edit_a: |doc| add_photo(doc, 201, "before"),
        edit_b: |doc| add_photo(doc, 202, "after"),
        check: |doc| {
            let job = Job::load(doc).unwrap();
            let ids: Vec<_> = job.photos.keys().copied().collect();
            assert_eq!(
                ids,
                [100, 201, 202].map(PhotoId::from_u128),
                "the earlier photo and both new ones"
            );
        },
    }
}

fn two_crew_members_log_different_properties() -> Case {
    fn log(doc: &mut AutoCommit, crew_member: u128, property: u128, outcome: &str) {
        let round = service("waste-round");
        RoundEditor::new(doc, person(crew_member, Role::Crew))
            .unwrap()
            .log_outcome(
                &round,
                PropertyId::from_u128(property),
                name(outcome),
                None,
                None,
                at(30),
            )
            .unwrap()
            .unwrap();
    }
    Case {
        start: planned_round,
        edit_a: |doc| {
            log(doc, 31, 1, "collected");
            log(doc, 31, 2, "collected");
        },
        edit_b: |doc| log(doc, 32, 3, "collected"),
        check: |doc| {
            let round = Round::load(doc).unwrap();
            assert_eq!(round.progress(), (3, 5));
            assert_eq!(
                round.outcomes[&PropertyId::from_u128(3)].by.user,
                UserId::from_u128(32)
            );
        },
    }
}

fn round_reordered_while_crew_logs() -> Case {
    Case {
        start: planned_round,
        edit_a: |doc| {
            let reversed: Vec<_> = (1..=5).rev().map(PropertyId::from_u128).collect();
            RoundOfficeEditor::new(doc)
                .unwrap()
                .reorder(&reversed)
                .unwrap();
        },
        edit_b: |doc| {
            let round = service("waste-round");
            RoundEditor::new(doc, person(31, Role::Crew))
                .unwrap()
                .log_outcome(
                    &round,
                    PropertyId::from_u128(1),
                    name("other"),
                    Some("Gate locked, left a note".into()),
                    None,
                    at(30),
                )
                .unwrap()
                .unwrap();
        },
        check: |doc| {
            let round = Round::load(doc).unwrap();
            let expected: Vec<_> = (1..=5).rev().map(PropertyId::from_u128).collect();
            assert_eq!(round.visiting_order(), expected);
            assert_eq!(round.progress(), (1, 5));
        },
    }
}

fn two_concurrent_reorders() -> Case {
    fn reorder(doc: &mut AutoCommit, order: [u128; 5]) {
        let order = order.map(PropertyId::from_u128);
        RoundOfficeEditor::new(doc)
            .unwrap()
            .reorder(&order)
            .unwrap();
    }
    Case {
        start: planned_round,
        edit_a: |doc| reorder(doc, [5, 1, 2, 3, 4]),
        edit_b: |doc| reorder(doc, [2, 1, 3, 4, 5]),
        check: |doc| {
            let order = Round::load(doc).unwrap().visiting_order();
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(
                sorted,
                (1..=5).map(PropertyId::from_u128).collect::<Vec<_>>(),
                "every property exactly once, whatever order won: {order:?}"
            );
        },
    }
}

fn different_transitions_offline() -> Case {
    Case {
        start: started_repair,
        edit_a: |doc| {
            let repair = service("housing-repair");
            let from = Job::load(doc).unwrap().status(&repair).clone();
            let evidence = Evidence {
                note: Some("Needs a new trap".into()),
                ..Evidence::default()
            };
            JobEditor::new(doc, operative())
                .unwrap()
                .request_transition(
                    TransitionId::from_u128(50),
                    from,
                    name("awaiting_parts"),
                    evidence,
                    at(40),
                )
                .unwrap();
        },
        edit_b: |doc| {
            let repair = service("housing-repair");
            add_photo(doc, 300, "after");
            tick_all(doc, &["supply_isolated", "area_left_clean"]);
            let from = Job::load(doc).unwrap().status(&repair).clone();
            JobEditor::new(doc, person(11, Role::Operative))
                .unwrap()
                .request_transition(
                    TransitionId::from_u128(51),
                    from,
                    name("completed"),
                    Evidence::default(),
                    at(45),
                )
                .unwrap();
        },
        check: |doc| {
            let repair = service("housing-repair");
            let job = Job::load(doc).unwrap();
            assert_eq!(
                job.transitions().pending().len(),
                2,
                "both requests are recorded"
            );

            // The server decides them in request order: the first wins, the
            // second finds the job has moved on and is refused with that reason.
            let mut decided_doc = doc.clone();
            let decided = OfficeEditor::new(&mut decided_doc)
                .unwrap()
                .decide_pending(&repair, at(60), |actor| actor.role)
                .unwrap();
            assert_eq!(
                decided[0],
                (TransitionId::from_u128(50), Ok(name("awaiting_parts")))
            );
            assert!(matches!(
                decided[1],
                (id, Err(InvalidTransition::Stale { .. })) if id == TransitionId::from_u128(51)
            ));
            let job = Job::load(&decided_doc).unwrap();
            assert_eq!(job.status(&repair).as_str(), "awaiting_parts");
            let Decision::Refused { reason } =
                &job.office.verdicts[&TransitionId::from_u128(51)].decision
            else {
                panic!("the second request was not refused");
            };
            assert!(reason.contains("Waiting for parts"), "{reason}");
        },
    }
}

#[rstest]
#[case::different_fields_on_two_devices(different_fields())]
#[case::the_same_note_edited_on_two_devices(same_note())]
#[case::both_devices_add_photos(both_add_photos())]
#[case::two_crew_members_log_different_properties(two_crew_members_log_different_properties())]
#[case::a_round_reordered_while_a_crew_logs_it(round_reordered_while_crew_logs())]
#[case::a_round_reordered_twice_at_once(two_concurrent_reorders())]
#[case::two_devices_request_different_transitions_offline(different_transitions_offline())]
fn concurrent_edits_merge_keeping_both_sides(#[case] case: Case) {
    let mut origin = (case.start)();
    let mut a = device(&mut origin, "device-a");
    let mut b = device(&mut origin, "device-b");
    (case.edit_a)(&mut a);
    (case.edit_b)(&mut b);

    // Merge in both directions: the result must not depend on the order.
    let mut a_then_b = a.fork();
    a_then_b.merge(&mut b.clone()).unwrap();
    let mut b_then_a = b.fork();
    b_then_a.merge(&mut a.clone()).unwrap();
    // Same set of changes, hence (Automerge is deterministic) the same state.
    assert_eq!(a_then_b.get_heads(), b_then_a.get_heads());
    (case.check)(&a_then_b);
    (case.check)(&b_then_a);
}

#[test]
fn writing_after_a_merge_keeps_what_the_merge_brought_in() {
    let mut origin = started_repair();
    let mut phone = device(&mut origin, "phone");
    let mut tablet = device(&mut origin, "tablet");

    // The phone's screen read the job before the tablet's photo arrived.
    let stale_view = Job::load(&phone).unwrap();
    add_photo(&mut tablet, 400, "after");
    phone.merge(&mut tablet).unwrap();

    // The app writes through the editor, key by key: the photo survives.
    JobEditor::new(&mut phone, operative())
        .unwrap()
        .tick(&name("area_left_clean"), true, at(50))
        .unwrap();
    let job = Job::load(&phone).unwrap();
    assert!(job.photos.contains_key(&PhotoId::from_u128(400)));
    assert!(job.ticks[&name("area_left_clean")].done);
    assert_eq!(
        stale_view.photos.len(),
        1,
        "the view was read before the merge"
    );
}

#[test]
fn reconciling_a_stale_struct_would_erase_merged_photos_which_is_why_the_editor_writes_by_key() {
    // Pins autosurgeon's behaviour that the editor design relies on: writing a
    // whole map back reconciles the document to exactly that map.
    let mut origin = started_repair();
    let mut phone = device(&mut origin, "phone");
    let mut tablet = device(&mut origin, "tablet");
    let stale_view = Job::load(&phone).unwrap();
    add_photo(&mut tablet, 400, "after");
    phone.merge(&mut tablet).unwrap();

    let as_written: std::collections::BTreeMap<String, _> = stale_view
        .photos
        .iter()
        .map(|(id, photo)| (id.to_string(), photo))
        .collect();
    reconcile_prop(&mut phone, ROOT, "photos", &as_written).unwrap();
    assert!(
        !Job::load(&phone)
            .unwrap()
            .photos
            .contains_key(&PhotoId::from_u128(400))
    );
}

#[test]
fn merged_replicas_converge_after_syncing_both_ways() {
    let mut origin = booked_repair();
    let mut a = device(&mut origin, "device-a");
    let mut b = device(&mut origin, "device-b");
    JobEditor::new(&mut a, operative())
        .unwrap()
        .splice_notes(0, 0, "A: ")
        .unwrap();
    JobEditor::new(&mut b, dispatcher())
        .unwrap()
        .splice_notes(0, 0, "B: ")
        .unwrap();
    sync(&mut a, &mut b);
    assert_eq!(
        Job::load(&a).unwrap().notes.as_str(),
        Job::load(&b).unwrap().notes.as_str()
    );
    assert_eq!(a.get_heads(), b.get_heads());
}
