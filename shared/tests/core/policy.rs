//! The write policy's check, change by change: honest edits made
//! concurrently, by apps released before records were written whole, and
//! by an app of job schema v1 pass; a record made twice does not.

use std::collections::BTreeSet;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Change, ReadDoc};
use doorstep_shared::job::Tick;
use doorstep_shared::policy::{self, WriteRefused};
use doorstep_shared::prelude::*;
use doorstep_shared::sync::store::DeviceIdentity;

use crate::setup::*;

fn phone(n: u128) -> DeviceIdentity {
    let device = DeviceId::from_u128(0xd0 + n);
    DeviceIdentity {
        device,
        user: UserId::from_u128(n),
        role: Role::Operative,
        teams: BTreeSet::new(),
        tenants: BTreeSet::from([TenantId::from_u128(1)]),
        actor: ActorId::from(device.as_uuid().as_bytes().as_slice()),
    }
}

fn me(who: &DeviceIdentity) -> Actor {
    Actor {
        user: who.user,
        role: who.role,
        device: Some(who.device),
    }
}

/// The server's copy, forked to `who`'s phone.
fn copy(server: &mut AutoCommit, who: &DeviceIdentity) -> AutoCommit {
    server.fork().with_actor(who.actor.clone())
}

/// What `edit` adds to `phone`, as the changes it would push.
fn edit(phone: &mut AutoCommit, edit: impl FnOnce(&mut AutoCommit)) -> Vec<Change> {
    let before = phone.get_heads();
    edit(phone);
    phone.commit();
    phone.get_changes(&before)
}

/// The server takes `changes` from `who`: applies them, then checks each.
fn push(
    server: &mut AutoCommit,
    who: &DeviceIdentity,
    changes: Vec<Change>,
) -> Result<(), WriteRefused> {
    server.apply_changes(changes.clone()).unwrap();
    for change in &changes {
        policy::check_change(server, &policy::JOB, who, change)?;
    }
    Ok(())
}

#[test]
fn two_people_ticking_the_same_item_at_once_are_both_taken() {
    let mut server = booked_repair();
    let (alice, bob) = (phone(1), phone(2));
    let mut on_alice = copy(&mut server, &alice);
    let mut on_bob = copy(&mut server, &bob);
    let item: Name = "supply_isolated".parse().unwrap();
    let from_alice = edit(&mut on_alice, |doc| {
        JobEditor::new(doc, me(&alice))
            .unwrap()
            .tick(&item, true, at(1))
            .unwrap();
    });
    let from_bob = edit(&mut on_bob, |doc| {
        JobEditor::new(doc, me(&bob))
            .unwrap()
            .tick(&item, false, at(1))
            .unwrap();
    });
    assert_eq!(push(&mut server, &alice, from_alice), Ok(()));
    // Read as of Bob's own change, his record names him, whatever Alice's
    // concurrent one says.
    assert_eq!(push(&mut server, &bob, from_bob), Ok(()));
    let tick = &Job::load(&server).unwrap().ticks[&item];
    assert!(tick.by.user == alice.user || tick.by.user == bob.user);
}

#[test]
fn an_app_that_updated_ticks_field_by_field_is_still_taken() {
    let mut server = booked_repair();
    let (alice, bob) = (phone(1), phone(2));
    let mut on_alice = copy(&mut server, &alice);
    let item: Name = "supply_isolated".parse().unwrap();
    let ticked = edit(&mut on_alice, |doc| {
        JobEditor::new(doc, me(&alice))
            .unwrap()
            .tick(&item, true, at(1))
            .unwrap();
    });
    push(&mut server, &alice, ticked).unwrap();
    // Bob's phone runs a release from before ticks were written whole: it
    // reconciles into Alice's record, field by field.
    let mut on_bob = copy(&mut server, &bob);
    let unticked = edit(&mut on_bob, |doc| {
        let ticks = match doc.get(automerge::ROOT, "ticks").unwrap() {
            Some((_, id)) => id,
            None => panic!("no ticks"),
        };
        let tick = Tick {
            done: false,
            by: me(&bob),
            at: at(2),
        };
        autosurgeon::reconcile_prop(doc, ticks, item.as_str(), &tick).unwrap();
    });
    assert_eq!(push(&mut server, &bob, unticked), Ok(()));
    let tick = &Job::load(&server).unwrap().ticks[&item];
    assert_eq!((tick.done, tick.by.user), (false, bob.user));
}

#[test]
fn a_request_made_twice_under_one_key_is_refused_the_second_time() {
    let mut server = booked_repair();
    let (alice, bob) = (phone(1), phone(2));
    let mut on_alice = copy(&mut server, &alice);
    let mut on_bob = copy(&mut server, &bob);
    let ask = |doc: &mut AutoCommit, who: &DeviceIdentity, to: &str| {
        JobEditor::new(doc, me(who))
            .unwrap()
            .request_transition(
                TransitionId::from_u128(77),
                "booked".parse().unwrap(),
                to.parse().unwrap(),
                Evidence::default(),
                at(1),
            )
            .unwrap();
    };
    let from_alice = edit(&mut on_alice, |doc| ask(doc, &alice, "in_progress"));
    let from_bob = edit(&mut on_bob, |doc| ask(doc, &bob, "awaiting_parts"));
    assert_eq!(push(&mut server, &alice, from_alice), Ok(()));
    assert!(matches!(
        push(&mut server, &bob, from_bob),
        Err(WriteRefused::RewritesRecord { .. })
    ));
}

#[test]
fn notes_written_whole_by_an_app_of_schema_v1_are_taken() {
    let mut server = booked_repair();
    let alice = phone(1);
    let mut on_alice = copy(&mut server, &alice);
    let changes = edit(&mut on_alice, |doc| {
        doc.put(automerge::ROOT, "notes", "Dog in the garden")
            .unwrap();
    });
    assert_eq!(push(&mut server, &alice, changes), Ok(()));
}

#[test]
fn a_request_rewritten_after_its_verdict_cannot_move_the_job() {
    let mut server = booked_repair();
    let repair = service("housing-repair");
    let before = Job::load(&server).unwrap().status(&repair).clone();
    // Even were a rewrite let through, the status is read from the
    // verdict's own copy of what it decided.
    let request = {
        let requests = match server.get(automerge::ROOT, "requests").unwrap() {
            Some((_, id)) => id,
            None => panic!("no requests"),
        };
        let key = server.keys(&requests).next().unwrap();
        match server.get(&requests, key.as_str()).unwrap() {
            Some((_, id)) => id,
            None => panic!("no request"),
        }
    };
    server.put(&request, "to", "completed").unwrap();
    assert_eq!(Job::load(&server).unwrap().status(&repair), &before);
}
