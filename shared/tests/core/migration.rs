//! Schema v1 documents, as stored in the field, migrate to v2 losing nothing;
//! documents from a newer app are read-only.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use doorstep_shared::document::{Compatibility, compatibility};
use doorstep_shared::job::JOB_SCHEMA_VERSION;
use doorstep_shared::migrate::v1::JobV1;
use doorstep_shared::migrate::{Migration, migrate_job};
use doorstep_shared::prelude::*;
use rstest::rstest;

use crate::setup::*;

const REPORTED: &[u8] = include_bytes!("../fixtures/v1/job-v1-reported.automerge");
const WORKED: &[u8] = include_bytes!("../fixtures/v1/job-v1-worked.automerge");
const CONCURRENT_NOTES: &[u8] = include_bytes!("../fixtures/v1/job-v1-concurrent-notes.automerge");

#[rstest]
#[case::a_job_as_reported(REPORTED)]
#[case::a_job_worked_on_a_phone(WORKED)]
#[case::a_job_with_concurrent_notes(CONCURRENT_NOTES)]
fn v1_fixtures_migrate_to_v2_losing_nothing(#[case] bytes: &[u8]) {
    let mut doc = AutoCommit::load(bytes).unwrap();
    let before: JobV1 = autosurgeon::hydrate(&doc).unwrap();
    let heads_before = doc.get_heads();
    assert_eq!(
        compatibility(&doc, JOB_SCHEMA_VERSION).unwrap(),
        Compatibility::Older(1)
    );

    let migration = migrate_job(&mut doc).unwrap();
    assert_eq!(migration, Migration::Migrated { from: 1, to: 2 });
    let after = Job::load(&doc).unwrap();

    // Everything v2 did not change is equal, field by field.
    assert_eq!(after.schema_version, 2);
    assert_eq!(after.office.reference, before.office.reference);
    assert_eq!(after.office.service, before.office.service);
    assert_eq!(after.office.priority, before.office.priority);
    assert_eq!(after.office.location, before.office.location);
    assert_eq!(after.office.appointment, before.office.appointment);
    assert_eq!(after.office.assignee, before.office.assignee);
    assert_eq!(after.office.checklist, before.office.checklist);
    assert_eq!(after.office.verdicts, before.office.verdicts);
    assert_eq!(after.ticks, before.ticks);
    assert_eq!(after.photos, before.photos);
    assert_eq!(after.timeline, before.timeline);
    assert_eq!(after.requests, before.requests);

    // What v2 changed keeps its content: the address reads the same, and
    // the visible v1 note comes first in the collaborative text.
    assert_eq!(after.office.address.one_line(), before.office.address);
    assert!(after.office.address.postcode.is_some());
    assert_eq!(after.office.created_at, None, "v1 never recorded it");
    assert!(
        after.notes.as_str().starts_with(&before.notes),
        "{:?}",
        after.notes
    );

    // The migration is one change on top of the history, not a rewrite.
    assert_eq!(doc.get_changes(&heads_before).len(), 1);
    let reloaded = AutoCommit::load(&doc.save()).unwrap();
    assert_eq!(
        Job::load(&reloaded).unwrap().notes.as_str(),
        after.notes.as_str()
    );
}

#[test]
fn migrating_keeps_the_note_that_v1_hid_behind_a_concurrent_edit() {
    let mut doc = AutoCommit::load(CONCURRENT_NOTES).unwrap();
    migrate_job(&mut doc).unwrap();
    let notes = Job::load(&doc).unwrap().notes.as_str().to_owned();
    assert!(notes.contains("Pressure at 0.4 bar, topped up."), "{notes}");
    assert!(
        notes.contains("Resident is vulnerable: call ahead."),
        "{notes}"
    );
}

#[test]
fn a_migrated_job_is_editable_and_migrating_again_does_nothing() {
    let mut doc = AutoCommit::load(WORKED).unwrap();
    let refused = JobEditor::new(&mut doc, operative()).err().unwrap();
    assert!(
        matches!(refused, DocumentError::OlderSchema { found: 1, .. }),
        "{refused}"
    );

    migrate_job(&mut doc).unwrap();
    assert_eq!(migrate_job(&mut doc).unwrap(), Migration::Current);
    JobEditor::new(&mut doc, operative())
        .unwrap()
        .splice_notes(0, 0, "Ladder needed. ")
        .unwrap();
    assert!(
        Job::load(&doc)
            .unwrap()
            .notes
            .as_str()
            .starts_with("Ladder needed. Damp")
    );
}

#[test]
fn a_job_from_a_newer_app_is_read_only_and_asks_for_an_update() {
    let mut doc = booked_repair();
    doc.put(ROOT, "schema_version", JOB_SCHEMA_VERSION + 1)
        .unwrap();
    doc.put(ROOT, "field_from_the_future", "ignored here")
        .unwrap();

    assert_eq!(
        compatibility(&doc, JOB_SCHEMA_VERSION).unwrap(),
        Compatibility::Newer(JOB_SCHEMA_VERSION + 1)
    );
    let job = Job::load(&doc).unwrap();
    assert_eq!(job.office.reference, "HR-00042", "still readable");

    let refused = JobEditor::new(&mut doc, operative()).err().unwrap();
    assert!(refused.to_string().contains("update the app"), "{refused}");
    assert!(OfficeEditor::new(&mut doc).is_err());
    assert!(matches!(
        migrate_job(&mut doc),
        Err(DocumentError::NewerSchema {
            found: 3,
            supported: 2,
            ..
        })
    ));
}
