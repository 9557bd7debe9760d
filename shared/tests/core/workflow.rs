//! Each kind of refused transition, and the offers the app shows.

use doorstep_shared::prelude::*;
use doorstep_shared::workflow::{self, Offer};
use rstest::rstest;

use crate::setup::*;

fn note(text: &str) -> Evidence {
    Evidence {
        note: Some(text.into()),
        ..Evidence::default()
    }
}

#[rstest]
#[case::unknown_state(
    "booked",
    "demolished",
    Role::Operative,
    Evidence::default(),
    "no state \"demolished\""
)]
#[case::no_such_transition(
    "booked",
    "completed",
    Role::Operative,
    Evidence::default(),
    "cannot be moved to Completed"
)]
#[case::role_not_allowed(
    "booked",
    "cancelled",
    Role::Operative,
    note("x"),
    "a operative cannot \"Cancel repair\""
)]
#[case::missing_before_photo(
    "booked",
    "in_progress",
    Role::Operative,
    Evidence::default(),
    "add a before photo"
)]
#[case::note_required(
    "booked",
    "cancelled",
    Role::Dispatcher,
    note("  "),
    "add a note saying why"
)]
#[case::stale_request(
    "reported",
    "booked",
    Role::Dispatcher,
    Evidence::default(),
    "already Booked"
)]
fn refused_transitions_say_why(
    #[case] from: &str,
    #[case] to: &str,
    #[case] role: Role,
    #[case] evidence: Evidence,
    #[case] reason: &str,
) {
    let repair = service("housing-repair");
    let mut doc = booked_repair();
    let actor = person(99, role);
    JobEditor::new(&mut doc, actor)
        .unwrap()
        .request_transition(
            TransitionId::from_u128(9),
            name(from),
            name(to),
            evidence,
            at(0),
        )
        .unwrap();
    let decided = OfficeEditor::new(&mut doc)
        .unwrap()
        .decide_pending(&repair, at(1), |actor| actor.role)
        .unwrap();
    let (_, outcome) = &decided[0];
    let why = outcome.as_ref().unwrap_err().to_string();
    assert!(why.contains(reason), "{why}");

    let job = Job::load(&doc).unwrap();
    assert_eq!(
        job.status(&repair).as_str(),
        "booked",
        "a refusal changes nothing"
    );
    let verdict = &job.office.verdicts[&TransitionId::from_u128(9)];
    assert_eq!(verdict.decision, Decision::Refused { reason: why });
}

#[test]
fn completing_needs_an_after_photo_and_every_mandatory_checklist_item() {
    let repair = service("housing-repair");
    let mut doc = started_repair();
    let refused = move_job(
        &mut doc,
        &repair,
        &operative(),
        10,
        "completed",
        Evidence::default(),
    );
    assert_eq!(refused.unwrap_err().to_string(), "add an after photo");

    add_photo(&mut doc, 300, "after");
    let refused = move_job(
        &mut doc,
        &repair,
        &operative(),
        11,
        "completed",
        Evidence::default(),
    );
    assert_eq!(
        refused.unwrap_err(),
        InvalidTransition::ChecklistIncomplete {
            items: vec![
                "work area left clean and safe".into(),
                "water or power isolated before work".into()
            ]
        }
    );

    tick_all(&mut doc, &["supply_isolated", "area_left_clean"]);
    let done = move_job(
        &mut doc,
        &repair,
        &operative(),
        12,
        "completed",
        Evidence::default(),
    );
    assert_eq!(done.unwrap().as_str(), "completed");
}

#[test]
fn the_server_uses_its_own_record_of_the_role_not_the_claim_in_the_request() {
    let repair = service("housing-repair");
    let mut doc = booked_repair();
    // A device claims to be a dispatcher to cancel a job.
    let claimed = person(50, Role::Dispatcher);
    JobEditor::new(&mut doc, claimed)
        .unwrap()
        .request_transition(
            TransitionId::from_u128(9),
            name("booked"),
            name("cancelled"),
            note("changed my mind"),
            at(0),
        )
        .unwrap();
    let decided = OfficeEditor::new(&mut doc)
        .unwrap()
        .decide_pending(&repair, at(1), |_| Role::Operative)
        .unwrap();
    assert!(matches!(
        decided[0].1,
        Err(InvalidTransition::RoleNotAllowed {
            role: Role::Operative,
            ..
        })
    ));
}

#[test]
fn the_app_offers_allowed_transitions_with_missing_evidence_disabled() {
    let repair = service("housing-repair");
    let doc = booked_repair();
    let job = Job::load(&doc).unwrap();
    let facts = job.facts(&repair);

    let offers = workflow::offers(&repair, &facts, Role::Operative);
    let summary: Vec<(&str, Option<String>)> = offers
        .iter()
        .map(
            |Offer {
                 transition,
                 blocked,
             }| {
                (
                    transition.id.as_str(),
                    blocked.as_ref().map(|b| b.to_string()),
                )
            },
        )
        .collect();
    assert_eq!(summary, [("start", Some("add a before photo".to_owned()))]);

    let actions: Vec<&str> = workflow::available_actions(&repair, &facts, Role::Operative)
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(actions, ["on_my_way", "no_access"]);

    let dispatcher_offers: Vec<&str> = workflow::offers(&repair, &facts, Role::Dispatcher)
        .iter()
        .map(|o| o.transition.id.as_str())
        .collect();
    assert_eq!(dispatcher_offers, ["rebook", "cancel"]);
}

#[test]
fn an_action_outside_its_states_or_without_its_note_is_refused() {
    let repair = service("housing-repair");
    let facts = Job::load(&started_repair()).unwrap().facts(&repair);
    let on_my_way =
        workflow::check_action(&repair, &facts, Role::Operative, &name("on_my_way"), None);
    assert!(matches!(
        on_my_way,
        Err(InvalidTransition::ActionNotNow { .. })
    ));

    let booked = Job::load(&booked_repair()).unwrap().facts(&repair);
    let no_access =
        workflow::check_action(&repair, &booked, Role::Operative, &name("no_access"), None);
    assert_eq!(no_access.unwrap_err(), InvalidTransition::NoteRequired);
    let carded = workflow::check_action(
        &repair,
        &booked,
        Role::Operative,
        &name("no_access"),
        Some("Card left"),
    );
    assert_eq!(
        carded.unwrap().leads_to.as_ref().map(|s| s.as_str()),
        Some("needs_rebooking")
    );
    let unknown = workflow::check_action(&repair, &booked, Role::Operative, &name("dance"), None);
    assert!(matches!(
        unknown,
        Err(InvalidTransition::UnknownAction { .. })
    ));
}

#[test]
fn a_contaminated_bin_cannot_be_logged_without_its_photo() {
    let round = service("waste-round");
    let mut doc = planned_round();
    let crew = person(31, Role::Crew);
    let property = PropertyId::from_u128(2);
    let refused = RoundEditor::new(&mut doc, crew.clone())
        .unwrap()
        .log_outcome(&round, property, name("contaminated"), None, None, at(5))
        .unwrap();
    assert_eq!(refused.unwrap_err().to_string(), "add an evidence photo");
    assert!(
        Round::load(&doc).unwrap().outcomes.is_empty(),
        "nothing was written"
    );

    let mut editor = RoundEditor::new(&mut doc, crew.clone()).unwrap();
    editor
        .add_photo(
            PhotoId::from_u128(7),
            &demo::photo(name("evidence"), &crew, at(6)),
        )
        .unwrap();
    editor
        .log_outcome(
            &round,
            property,
            name("contaminated"),
            None,
            Some(PhotoId::from_u128(7)),
            at(6),
        )
        .unwrap()
        .unwrap();
    let unknown = RoundEditor::new(&mut doc, crew)
        .unwrap()
        .log_outcome(&round, property, name("exploded"), None, None, at(7))
        .unwrap();
    assert!(matches!(
        unknown,
        Err(InvalidTransition::UnknownOutcome { .. })
    ));
}

#[test]
fn a_round_starts_and_finishes_by_request_once_every_stop_is_logged() {
    let round = service("waste-round");
    let mut doc = planned_round();
    let crew = person(31, Role::Crew);
    let ask = |doc: &mut automerge::AutoCommit, id: u128, from: &str, to: &str| {
        RoundEditor::new(doc, crew.clone())
            .unwrap()
            .request_transition(
                TransitionId::from_u128(id),
                name(from),
                name(to),
                Evidence::default(),
                at(id as i64),
            )
            .unwrap();
        RoundOfficeEditor::new(doc)
            .unwrap()
            .decide_pending(&round, at(10), |actor| actor.role)
            .unwrap()
    };
    assert!(ask(&mut doc, 1, "planned", "in_progress")[0].1.is_ok());
    // Four of five stops logged: not finished.
    for n in 1..=4 {
        RoundEditor::new(&mut doc, crew.clone())
            .unwrap()
            .log_outcome(
                &round,
                PropertyId::from_u128(n),
                name("collected"),
                None,
                None,
                at(2),
            )
            .unwrap()
            .unwrap();
    }
    let refused = ask(&mut doc, 2, "in_progress", "finished");
    assert_eq!(
        refused[0].1,
        Err(InvalidTransition::StopsUnlogged { count: 1 })
    );
    RoundEditor::new(&mut doc, crew.clone())
        .unwrap()
        .log_outcome(
            &round,
            PropertyId::from_u128(5),
            name("collected"),
            None,
            None,
            at(3),
        )
        .unwrap()
        .unwrap();
    assert!(ask(&mut doc, 3, "in_progress", "finished")[0].1.is_ok());
    assert_eq!(
        Round::load(&doc).unwrap().facts(&round).status.as_str(),
        "finished"
    );
}

#[test]
fn a_pending_request_shows_at_once_on_the_device() {
    let repair = service("housing-repair");
    let mut doc = booked_repair();
    add_photo(&mut doc, 100, "before");
    let id = TransitionId::from_u128(5);
    JobEditor::new(&mut doc, operative())
        .unwrap()
        .request_transition(
            id,
            name("booked"),
            name("in_progress"),
            Evidence::default(),
            at(0),
        )
        .unwrap();
    let job = Job::load(&doc).unwrap();
    assert_eq!(
        job.transitions().state_of(&id),
        Some(doorstep_shared::transition::RequestState::Pending)
    );
    assert_eq!(
        job.status(&repair).as_str(),
        "booked",
        "the status waits for the server"
    );
}

#[test]
fn an_emergency_repair_is_due_within_24_hours_and_met_when_completed() {
    let repair = service("housing-repair");
    let mut doc = started_repair();
    // The office sets the priority when it triages the job.
    OfficeEditor::new(&mut doc)
        .unwrap()
        .set_priority(&repair, Some(name("emergency")))
        .unwrap();

    let job = Job::load(&doc).unwrap();
    assert_eq!(job.office.due, Some(at(24 * 60)), "written on the job");
    let sla = job.sla(&repair).unwrap();
    assert_eq!(sla.due, at(24 * 60));
    assert_eq!(sla.met_at, None);
    assert!(!sla.is_breached(at(60)));
    assert!(sla.is_breached(at(24 * 60 + 1)));

    add_photo(&mut doc, 300, "after");
    tick_all(&mut doc, &["supply_isolated", "area_left_clean"]);
    move_job(
        &mut doc,
        &repair,
        &operative(),
        12,
        "completed",
        Evidence::default(),
    )
    .unwrap();
    let job = Job::load(&doc).unwrap();
    let sla = job.sla(&repair).unwrap();
    assert_eq!(sla.met_at, Some(at(1)));
    assert!(!sla.is_breached(at(48 * 60)), "met in time stays met");
}

#[test]
fn no_access_with_a_card_left_leads_the_job_to_rebooking_once() {
    let repair = service("housing-repair");
    let mut doc = booked_repair();
    JobEditor::new(&mut doc, operative())
        .unwrap()
        .log_action(
            EventId::from_u128(77),
            name("no_access"),
            Some("Card left at 10:40".into()),
            at(100),
        )
        .unwrap();
    let system = person(1, Role::System);

    let followed = OfficeEditor::new(&mut doc)
        .unwrap()
        .follow_actions(&repair, &system, at(101), |actor| Some(actor.role), None)
        .unwrap();
    assert_eq!(
        followed,
        vec![(TransitionId::from_u128(77), Ok(name("needs_rebooking")))]
    );
    let job = Job::load(&doc).unwrap();
    assert_eq!(job.status(&repair).as_str(), "needs_rebooking");
    assert_eq!(
        job.requests[&TransitionId::from_u128(77)]
            .evidence
            .note
            .as_deref(),
        Some("Card left at 10:40")
    );

    let again = OfficeEditor::new(&mut doc)
        .unwrap()
        .follow_actions(&repair, &system, at(102), |actor| Some(actor.role), None)
        .unwrap();
    assert!(again.is_empty(), "each action is followed once");
}

#[test]
fn an_action_logged_by_a_role_that_may_not_take_it_is_not_followed() {
    let repair = service("housing-repair");
    let mut doc = booked_repair();
    JobEditor::new(&mut doc, person(60, Role::Resident))
        .unwrap()
        .log_action(
            EventId::from_u128(78),
            name("no_access"),
            Some("x".into()),
            at(100),
        )
        .unwrap();
    let followed = OfficeEditor::new(&mut doc)
        .unwrap()
        .follow_actions(
            &repair,
            &person(1, Role::System),
            at(101),
            |actor| Some(actor.role),
            None,
        )
        .unwrap();
    assert!(followed.is_empty());
    assert_eq!(Job::load(&doc).unwrap().status(&repair).as_str(), "booked");
}

/// A photo of `kind` naming the renditions `hashes` (thumbnail, display).
fn photo_with(kind: &str, hashes: (Option<u8>, Option<u8>)) -> doorstep_shared::job::PhotoRef {
    let hash = |n: u8| BlobHash::of(&[n]);
    doorstep_shared::job::PhotoRef {
        thumbnail: hashes.0.map(hash),
        display: hashes.1.map(hash),
        ..demo::photo(name(kind), &person(1, Role::Operative), at(1))
    }
}

#[test]
fn a_photo_counts_as_evidence_only_once_its_own_pictures_have_arrived() {
    use workflow::{Arrival, Arrivals};
    let photos = [
        // Both renditions uploaded: taken and arrived.
        photo_with("before", (Some(1), Some(2))),
        // One still on its way: taken, not arrived.
        photo_with("after", (Some(3), Some(4))),
        // Another job's picture: not this job's evidence at all.
        photo_with("reported", (Some(5), Some(6))),
        // An entry naming no picture proves nothing.
        photo_with("extra", (None, None)),
    ];
    let held = |hash: BlobHash| {
        if hash == BlobHash::of(&[4]) {
            Arrival::Expected
        } else if hash == BlobHash::of(&[5]) {
            Arrival::Borrowed
        } else {
            Arrival::Arrived
        }
    };
    let arrivals = Arrivals::of(&photos, held);
    let kinds = |names: &[&str]| -> std::collections::BTreeSet<Name> {
        names.iter().map(|n| name::<Name>(n)).collect()
    };
    assert_eq!(arrivals.taken, kinds(&["after", "before"]));
    assert_eq!(arrivals.arrived, kinds(&["before"]));
    assert_eq!(Arrivals::renditions(&photos).len(), 6);
}
