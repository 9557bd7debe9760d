//! Writes the v1 job documents under `shared/tests/fixtures/v1/`.
//!
//! The fixtures are committed and must not change: they are what phones and
//! servers in the field stored under schema v1, and the migration tests load
//! them. Run this only to add a fixture for a new case:
//! `cargo run -p doorstep-shared --example write_job_fixtures`.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT};
use autosurgeon::reconcile_prop;
use doorstep_shared::ids::{DeviceId, EventId, Name, PhotoId, TransitionId, UserId};
use doorstep_shared::job::{Appointment, Assignee, ChecklistItem, GeoPoint, Tick, TimelineEvent};
use doorstep_shared::migrate::v1::{JobOfficeV1, JobV1};
use doorstep_shared::prelude::demo;
use doorstep_shared::time::{Date, Timestamp};
use doorstep_shared::transition::{Actor, Decision, Evidence, Role, TransitionRequest, Verdict};

fn main() -> Result<(), Box<dyn Error>> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1");
    std::fs::create_dir_all(&folder)?;
    for (file, mut doc) in [
        ("job-v1-reported.automerge", reported()?),
        ("job-v1-worked.automerge", worked()?),
        ("job-v1-concurrent-notes.automerge", concurrent_notes()?),
    ] {
        std::fs::write(folder.join(file), doc.save())?;
    }
    Ok(())
}

fn server() -> ActorId {
    ActorId::from(b"fixture-server".as_slice())
}

fn day() -> Result<Date, Box<dyn Error>> {
    Ok("2025-03-14".parse()?)
}

fn operative() -> Actor {
    Actor {
        user: UserId::from_u128(0x0a),
        role: Role::Operative,
        device: Some(DeviceId::from_u128(0x0d)),
    }
}

fn job(notes: &str, address: &str) -> Result<JobV1, Box<dyn Error>> {
    let checklist = BTreeMap::from([
        (
            "supply_isolated".parse::<Name>()?,
            ChecklistItem {
                label: "Water or power isolated before work".into(),
                mandatory: true,
                position: 0,
            },
        ),
        (
            "area_left_clean".parse()?,
            ChecklistItem {
                label: "Work area left clean and safe".into(),
                mandatory: true,
                position: 1,
            },
        ),
    ]);
    Ok(JobV1 {
        schema_version: 1,
        office: JobOfficeV1 {
            reference: "HR-00317".into(),
            service: "housing-repair".parse()?,
            priority: Some("urgent".parse()?),
            address: address.into(),
            location: Some(GeoPoint {
                lat: 50.8136,
                lon: -0.3713,
            }),
            appointment: None,
            assignee: None,
            checklist,
            verdicts: BTreeMap::new(),
        },
        notes: notes.into(),
        ticks: BTreeMap::new(),
        photos: BTreeMap::new(),
        timeline: BTreeMap::new(),
        requests: BTreeMap::new(),
    })
}

fn create(job: &JobV1) -> Result<AutoCommit, Box<dyn Error>> {
    let mut doc = AutoCommit::new().with_actor(server());
    autosurgeon::reconcile(&mut doc, job)?;
    doc.commit();
    Ok(doc)
}

/// A job as reported: nothing done yet.
fn reported() -> Result<AutoCommit, Box<dyn Error>> {
    create(&job(
        "Front door will not lock.",
        "Flat 3, 21 Rowlands Road, Worthing, BN11 3JJ",
    )?)
}

/// A job booked, started and worked on from a phone.
fn worked() -> Result<AutoCommit, Box<dyn Error>> {
    let start = Timestamp::at(day()?, 9, 0);
    let mut v1 = job(
        "Damp patch on bedroom ceiling, check the roof valley.",
        "42 Ham Road, Worthing, BN11 2QX",
    )?;
    v1.office.appointment = Some(Appointment {
        starts: start,
        ends: start.plus_minutes(120),
    });
    v1.office.assignee = Some(Assignee::User(operative().user));
    let booked = TransitionId::from_u128(1);
    v1.requests.insert(
        booked,
        TransitionRequest {
            from: "reported".parse()?,
            to: "booked".parse()?,
            actor: Actor {
                user: UserId::from_u128(0x0b),
                role: Role::Dispatcher,
                device: None,
            },
            at: start.plus_minutes(-1440),
            evidence: Evidence::default(),
        },
    );
    v1.office.verdicts.insert(
        booked,
        Verdict {
            seq: 1,
            at: start.plus_minutes(-1439),
            decision: Decision::Accepted,
            from: None,
            to: None,
            requester: None,
        },
    );
    let mut doc = create(&v1)?;

    // The operative's phone: a photo, a tick, an action, a request.
    let mut phone = doc
        .fork()
        .with_actor(ActorId::from(b"fixture-phone".as_slice()));
    let photos = object(&phone, "photos")?;
    reconcile_prop(
        &mut phone,
        &photos,
        PhotoId::from_u128(0x100).to_string().as_str(),
        demo::photo("before".parse()?, &operative(), start.plus_minutes(5)),
    )?;
    let ticks = object(&phone, "ticks")?;
    reconcile_prop(
        &mut phone,
        &ticks,
        "supply_isolated",
        Tick {
            done: true,
            by: operative(),
            at: start.plus_minutes(6),
        },
    )?;
    let timeline = object(&phone, "timeline")?;
    reconcile_prop(
        &mut phone,
        &timeline,
        EventId::from_u128(0x200).to_string().as_str(),
        TimelineEvent {
            action: "on_my_way".parse()?,
            actor: operative(),
            at: start.plus_minutes(-20),
            note: None,
        },
    )?;
    let requests = object(&phone, "requests")?;
    reconcile_prop(
        &mut phone,
        &requests,
        TransitionId::from_u128(2).to_string().as_str(),
        TransitionRequest {
            from: "booked".parse()?,
            to: "in_progress".parse()?,
            actor: operative(),
            at: start.plus_minutes(7),
            evidence: Evidence {
                photos: vec![PhotoId::from_u128(0x100)],
                note: None,
            },
        },
    )?;
    phone.put(
        ROOT,
        "notes",
        "Damp patch on bedroom ceiling; roof valley blocked with leaves.",
    )?;
    phone.commit();
    doc.merge(&mut phone)?;
    Ok(doc)
}

/// Two people changed the notes offline: v1 keeps one and hides the other.
fn concurrent_notes() -> Result<AutoCommit, Box<dyn Error>> {
    let mut doc = create(&job(
        "Boiler making a banging noise.",
        "9 Sompting Avenue, Worthing, BN14 8HN",
    )?)?;
    let mut phone = doc
        .fork()
        .with_actor(ActorId::from(b"fixture-phone".as_slice()));
    let mut office = doc
        .fork()
        .with_actor(ActorId::from(b"fixture-office".as_slice()));
    phone.put(
        ROOT,
        "notes",
        "Boiler making a banging noise. Pressure at 0.4 bar, topped up.",
    )?;
    phone.commit();
    office.put(
        ROOT,
        "notes",
        "Boiler making a banging noise. Resident is vulnerable: call ahead.",
    )?;
    office.commit();
    doc.merge(&mut phone)?;
    doc.merge(&mut office)?;
    Ok(doc)
}

fn object(doc: &AutoCommit, key: &str) -> Result<automerge::ObjId, Box<dyn Error>> {
    use automerge::ReadDoc;
    match doc.get(ROOT, key)? {
        Some((automerge::Value::Object(_), id)) => Ok(id),
        _ => Err(format!("no {key} map").into()),
    }
}
