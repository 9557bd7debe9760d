//! Schema migrations. Only the server migrates stored documents, as its own
//! actor, so a migration is an ordinary change on top of the history: devices
//! receive it by sync like any other edit.
//!
//! Job schema history:
//! - **v1**: `notes` was one string, so when two people edited the notes
//!   offline one edit was lost; `office.address` was one line of text.
//! - **v2**: `notes` is collaborative text; the address has lines, postcode
//!   and UPRN; `office.created_at` starts the SLA clock (unknown, so null,
//!   for migrated jobs). Migrating keeps every concurrent v1 note (the ones v1 hid
//!   behind the winner) and the address text exactly.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use autosurgeon::reconcile_prop;

use crate::document::{DocumentError, object_at, schema_version};
use crate::job::{Address, JOB_SCHEMA_VERSION};

/// What a migration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migration {
    /// The document was already current.
    Current,
    /// The document was migrated between these versions.
    Migrated {
        /// The version it had.
        from: u64,
        /// The version it has now.
        to: u64,
    },
}

/// Brings a job document to [`JOB_SCHEMA_VERSION`], step by step.
pub fn migrate_job(doc: &mut AutoCommit) -> Result<Migration, DocumentError> {
    let from = schema_version(doc)?;
    if from > JOB_SCHEMA_VERSION {
        return Err(DocumentError::NewerSchema {
            kind: "job",
            found: from,
            supported: JOB_SCHEMA_VERSION,
        });
    }
    if from == JOB_SCHEMA_VERSION {
        return Ok(Migration::Current);
    }
    let mut version = from;
    while version < JOB_SCHEMA_VERSION {
        match version {
            1 => job_v1_to_v2(doc)?,
            other => {
                return Err(DocumentError::Missing {
                    path: format!("a migration from job schema {other}"),
                });
            }
        }
        version += 1;
        doc.put(ROOT, "schema_version", version)?;
    }
    doc.commit();
    Ok(Migration::Migrated {
        from,
        to: JOB_SCHEMA_VERSION,
    })
}

/// Mends a migrated job after changes from an app of schema v1 were merged
/// in: such an app writes the notes as one string, which then conflicts
/// with the collaborative text (and may win, or be hidden). The string is
/// folded into new notes text after what the text said, so neither is lost.
/// Returns whether anything was mended.
pub fn mend_job_after_older_writes(doc: &mut AutoCommit) -> Result<bool, DocumentError> {
    let mut text = String::new();
    let mut strings = Vec::new();
    for (value, id) in doc.get_all(ROOT, "notes")? {
        match value {
            Value::Object(ObjType::Text) if text.is_empty() => text = doc.text(&id)?,
            Value::Scalar(scalar) => {
                if let ScalarValue::Str(s) = scalar.as_ref() {
                    strings.push(s.to_string());
                }
            }
            _ => {}
        }
    }
    if strings.is_empty() {
        return Ok(false);
    }
    for extra in strings {
        if !extra.is_empty() && !text.contains(extra.as_str()) {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&extra);
        }
    }
    let notes = doc.put_object(ROOT, "notes", ObjType::Text)?;
    doc.splice_text(&notes, 0, 0, &text)?;
    doc.commit();
    Ok(true)
}

fn job_v1_to_v2(doc: &mut AutoCommit) -> Result<(), DocumentError> {
    // Every value v1 kept for the notes, the visible one first: a concurrent
    // edit that v1 hid behind the winner is kept too.
    let mut notes: Vec<String> = Vec::new();
    let winner = string_at(doc, &ROOT, "notes")?;
    notes.extend(winner.clone());
    for (value, _) in doc.get_all(ROOT, "notes")? {
        if let Value::Scalar(scalar) = value
            && let ScalarValue::Str(text) = scalar.as_ref()
            && Some(text.as_str()) != winner.as_deref()
            && !text.is_empty()
        {
            notes.push(text.to_string());
        }
    }
    let text = doc.put_object(ROOT, "notes", ObjType::Text)?;
    doc.splice_text(&text, 0, 0, &notes.join("\n\n"))?;

    let office = object_at(doc, &["office"])?;
    let line = string_at(doc, &office, "address")?.unwrap_or_default();
    reconcile_prop(doc, &office, "address", Address::from_line(&line))?;
    // v1 did not record when a job was created; say so rather than guess.
    doc.put(&office, "created_at", ScalarValue::Null)?;
    Ok(())
}

fn string_at(
    doc: &AutoCommit,
    object: &automerge::ObjId,
    key: &str,
) -> Result<Option<String>, DocumentError> {
    Ok(match doc.get(object, key)? {
        Some((Value::Scalar(scalar), _)) => match scalar.as_ref() {
            ScalarValue::Str(text) => Some(text.to_string()),
            _ => None,
        },
        _ => None,
    })
}

/// The v1 job schema, kept so the fixture writer can make v1 documents and
/// tests can read them before migrating.
pub mod v1 {
    use std::collections::BTreeMap;

    use autosurgeon::{Hydrate, Reconcile};

    use crate::ids::{EventId, Name, PhotoId, ServiceId, TransitionId};
    use crate::job::{
        Appointment, Assignee, ChecklistItem, GeoPoint, PhotoRef, Tick, TimelineEvent,
    };
    use crate::transition::{TransitionRequest, Verdict};

    /// A v1 job document.
    #[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
    pub struct JobV1 {
        /// Always 1.
        pub schema_version: u64,
        /// The server-owned part.
        pub office: JobOfficeV1,
        /// Notes as one string (last writer wins).
        pub notes: String,
        /// Checklist ticks.
        #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
        pub ticks: BTreeMap<Name, Tick>,
        /// Photos.
        #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
        pub photos: BTreeMap<PhotoId, PhotoRef>,
        /// Timeline.
        #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
        pub timeline: BTreeMap<EventId, TimelineEvent>,
        /// Transition requests.
        #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
        pub requests: BTreeMap<TransitionId, TransitionRequest>,
    }

    /// The v1 office part: the address was one line.
    #[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
    pub struct JobOfficeV1 {
        /// Reference.
        pub reference: String,
        /// Service.
        pub service: ServiceId,
        /// Priority.
        pub priority: Option<Name>,
        /// The address on one line.
        pub address: String,
        /// Location.
        pub location: Option<GeoPoint>,
        /// Appointment.
        pub appointment: Option<Appointment>,
        /// Assignee.
        pub assignee: Option<Assignee>,
        /// Checklist template.
        #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
        pub checklist: BTreeMap<Name, ChecklistItem>,
        /// Verdicts.
        #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
        pub verdicts: BTreeMap<TransitionId, Verdict>,
    }
}

#[cfg(test)]
mod tests {
    use crate::job::Address;

    #[test]
    fn one_line_addresses_split_into_lines_and_postcode_and_join_back() {
        let address = Address::from_line("Flat 2, 14 Marine Parade, Worthing, BN11 3PT");
        assert_eq!(address.lines, ["Flat 2", "14 Marine Parade", "Worthing"]);
        assert_eq!(address.postcode.as_deref(), Some("BN11 3PT"));
        assert_eq!(
            address.one_line(),
            "Flat 2, 14 Marine Parade, Worthing, BN11 3PT"
        );

        let no_postcode = Address::from_line("The Old Barn, Lancing");
        assert_eq!(no_postcode.postcode, None);
        assert_eq!(no_postcode.one_line(), "The Old Barn, Lancing");
    }
}
