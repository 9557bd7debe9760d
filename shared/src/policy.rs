//! Who may write what in a document: the write policy of every part of a
//! job, a round and a contact document, and the check the server runs on
//! every change a device pushes.
//!
//! The policy is data ([`JOB`], [`ROUND`], [`CONTACT`]): each root key of a
//! document is one [`Part`] with its [`Access`]. Anything the tables do not
//! name is refused, so a new field is writable by devices only once it is
//! written down here. The server decodes each pushed change's operations,
//! resolves the path each one writes, and checks it against the table with
//! the pushing device's identity from its own records — never with what the
//! document says about who wrote it:
//!
//! - **server** parts (`office`, `schema_version`, a whole contact
//!   document) are never written by a device;
//! - **create-once** records (transition requests, timeline events,
//!   photos) may be created only under a key that was empty as of the
//!   change's own dependencies, and with no other value for that key on the
//!   server; any later write to them is refused;
//! - **current-state** records (a checklist tick, a round outcome) may be
//!   replaced whole by any device in scope;
//! - both kinds of record must name the pushing device's user and device
//!   as their author, read as of the change itself (so a concurrent write by
//!   someone else cannot make an honest change look forged);
//! - **text** (the notes) is edited by anyone in scope, character by
//!   character.
//!
//! What a check needs beyond the document — the service's evidence rules,
//! which photos the server already holds for other documents — is done by
//! the sync server with the [`Written`] records a change returns.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::{ActorId, AutoCommit, Change, ChangeHash, ObjId, ObjType, Prop, ROOT, ReadDoc};

use crate::document::AtHeads;
use crate::ids::BlobHash;
use crate::job::PhotoRef;
use crate::round::Outcome;
use crate::service::ServiceDefinition;
use crate::sync::store::DeviceIdentity;
use crate::sync::wire::DocumentId;
use crate::transition::Actor;
use crate::workflow::{InvalidTransition, check_outcome};

/// How devices may write one root key of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only the council's server writes it.
    Server,
    /// Collaborative text: anyone in scope edits it.
    Text,
    /// A map of records, each created once by its author and never changed
    /// or deleted after.
    CreateOnce {
        /// The record's field that names its author.
        author: &'static str,
    },
    /// A map of records that any device in scope replaces whole, naming
    /// itself; never deleted.
    CurrentState {
        /// The record's field that names its author.
        author: &'static str,
        /// The server-written map whose keys the records' keys must be (the
        /// checklist items, the round's properties).
        keyed_by: &'static [&'static str],
        /// What that map's entries are called, for refusals.
        key_names: &'static str,
    },
}

/// One root key of a document and who may write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// The root key.
    pub key: &'static str,
    /// What one record (or the part itself) is called, for refusals.
    pub record: &'static str,
    /// How devices may write it.
    pub access: Access,
}

/// The write policy of one kind of document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WritePolicy {
    /// `job`, `round` or `contact`.
    pub kind: &'static str,
    /// Its root keys. A key not listed is not writable by devices.
    pub parts: &'static [Part],
}

impl WritePolicy {
    /// The part at a root key, if the policy names it.
    pub fn part(&self, key: &str) -> Option<&'static Part> {
        self.parts.iter().find(|part| part.key == key)
    }
}

const SERVER_PARTS: [Part; 2] = [
    Part {
        key: "schema_version",
        record: "schema version",
        access: Access::Server,
    },
    Part {
        key: "office",
        record: "office part",
        access: Access::Server,
    },
];

const REQUESTS: Part = Part {
    key: "requests",
    record: "transition request",
    access: Access::CreateOnce { author: "actor" },
};

const PHOTOS: Part = Part {
    key: "photos",
    record: "photo",
    access: Access::CreateOnce { author: "taken_by" },
};

/// A job: the office part is the server's; notes are shared text; ticks
/// are current-state; photos, actions and requests are written once.
pub const JOB: WritePolicy = WritePolicy {
    kind: "job",
    parts: &[
        SERVER_PARTS[0],
        SERVER_PARTS[1],
        Part {
            key: "notes",
            record: "notes",
            access: Access::Text,
        },
        Part {
            key: "ticks",
            record: "checklist tick",
            access: Access::CurrentState {
                author: "by",
                keyed_by: &["office", "checklist"],
                key_names: "checklist item",
            },
        },
        PHOTOS,
        Part {
            key: "timeline",
            record: "action",
            access: Access::CreateOnce { author: "actor" },
        },
        REQUESTS,
    ],
};

/// A round: the properties, order and verdicts are the server's; outcomes
/// are current-state per property; photos and requests are written once.
pub const ROUND: WritePolicy = WritePolicy {
    kind: "round",
    parts: &[
        SERVER_PARTS[0],
        SERVER_PARTS[1],
        Part {
            key: "outcomes",
            record: "outcome",
            access: Access::CurrentState {
                author: "by",
                keyed_by: &["office", "properties"],
                key_names: "property",
            },
        },
        PHOTOS,
        REQUESTS,
    ],
};

/// A resident's contact details: read-only for every device. Staff correct
/// them in the back office; the server writes them.
pub const CONTACT: WritePolicy = WritePolicy {
    kind: "contact",
    parts: &[],
};

/// The policy of a document.
pub fn for_document(doc: DocumentId) -> &'static WritePolicy {
    match doc {
        DocumentId::Job(_) => &JOB,
        DocumentId::Round(_) => &ROUND,
        DocumentId::Contact(_) => &CONTACT,
    }
}

/// Why a device's change was refused. The text goes back to the phone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteRefused {
    /// The change is signed by another actor than the device's.
    #[error(
        "a change is signed by another device's key; each device may only send its own changes"
    )]
    ForeignActor,
    /// The change writes a part only the server writes.
    #[error("the change writes \"{key}\", which only the council's server may change")]
    ServerOwned {
        /// The root key written.
        key: String,
    },
    /// The change writes a contact document.
    #[error(
        "a resident's contact details cannot be changed from a device; the office corrects them"
    )]
    ContactReadOnly,
    /// The change writes a root key the document kind does not have.
    #[error("the change writes \"{key}\", which is not part of a {kind}")]
    NotInSchema {
        /// `job` or `round`.
        kind: &'static str,
        /// The root key written.
        key: String,
    },
    /// The change replaces a whole part rather than writing into it.
    #[error("the change replaces the {record} as a whole, which only the council's server may do")]
    ReplacesPart {
        /// What the part holds.
        record: &'static str,
    },
    /// The change alters a record that is written once.
    #[error(
        "the change alters the {record} \"{key}\", which was already recorded and cannot change"
    )]
    RewritesRecord {
        /// What the record is.
        record: &'static str,
        /// Its key.
        key: String,
    },
    /// The change deletes a record.
    #[error("the change deletes the {record} \"{key}\"; records are never deleted")]
    DeletesRecord {
        /// What the record is.
        record: &'static str,
        /// Its key.
        key: String,
    },
    /// The change writes something that is not a record where one belongs.
    #[error("the change writes the {record} \"{key}\" in a shape Doorstep does not read")]
    Malformed {
        /// What the record is.
        record: &'static str,
        /// Its key.
        key: String,
    },
    /// A record names someone other than the pushing device's user.
    #[error(
        "the {record} \"{key}\" names another person or device as its author; a device may only write as its own user"
    )]
    NotTheAuthor {
        /// What the record is.
        record: &'static str,
        /// Its key.
        key: String,
    },
    /// A current-state record's key is not in the server's map.
    #[error("there is no {key_names} \"{key}\" on this {kind}")]
    UnknownKey {
        /// What the keys name.
        key_names: &'static str,
        /// The key.
        key: String,
        /// `job` or `round`.
        kind: &'static str,
    },
    /// An outcome does not carry the evidence its service demands.
    #[error("the outcome at property \"{property}\" was refused: {why}")]
    OutcomeEvidence {
        /// The property.
        property: String,
        /// What is missing.
        why: InvalidTransition,
    },
    /// An outcome names a photo the round does not have.
    #[error("the outcome at property \"{property}\" names a photo that is not on this round")]
    OutcomePhotoMissing {
        /// The property.
        property: String,
    },
    /// A photo record names a picture another device sent for another
    /// job or round.
    #[error(
        "the photo \"{key}\" uses a picture already sent for another job or round by another device; only photos taken on this phone can be added"
    )]
    BorrowedPhoto {
        /// The photo's key.
        key: String,
    },
    /// The change could not be interpreted against the document.
    #[error("the change refers to something the document does not contain")]
    Unresolvable,
}

/// A record a change created or replaced, for the checks that need more
/// than the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The part it is in.
    pub part: &'static Part,
    /// Its key in that part.
    pub key: String,
    /// The change that wrote it: the record is read as of this change.
    pub change: ChangeHash,
}

/// Checks one change a device pushed, already applied to `doc` with the
/// rest of its push, against `policy` for the device `who`. Returns the
/// records it wrote.
pub fn check_change(
    doc: &AutoCommit,
    policy: &WritePolicy,
    who: &DeviceIdentity,
    change: &Change,
) -> Result<Vec<Written>, WriteRefused> {
    if change.actor_id() != &who.actor {
        return Err(WriteRefused::ForeignActor);
    }
    let start = change.start_op().get();
    let end = start + change.len() as u64;
    let made_here = |counter: u64, actor: &ActorId| {
        actor == change.actor_id() && (start..end).contains(&counter)
    };
    let mut paths: HashMap<String, (ObjId, Vec<(ObjId, Prop)>)> = HashMap::new();
    let mut touched: BTreeMap<String, (&'static Part, ObjId)> = BTreeMap::new();
    for op in &change.decode().operations {
        let (object, path) = match &op.obj {
            automerge::legacy::ObjectId::Root => (ROOT, Vec::new()),
            other => {
                let name = other.to_string();
                if let Some(known) = paths.get(&name) {
                    known.clone()
                } else {
                    let id = doc
                        .import_obj(&name)
                        .map_err(|_| WriteRefused::Unresolvable)?;
                    let path = doc
                        .parents(&id)
                        .map_err(|_| WriteRefused::Unresolvable)?
                        .path();
                    paths.insert(name, (id.clone(), path.clone()));
                    (id, path)
                }
            }
        };
        let op_key = match &op.key {
            automerge::legacy::Key::Map(key) => Some(key.to_string()),
            automerge::legacy::Key::Seq(_) => None,
        };
        let root_key = match path.first() {
            Some((_, Prop::Map(key))) => key.clone(),
            Some(_) => return Err(WriteRefused::Unresolvable),
            None => op_key.clone().ok_or(WriteRefused::Unresolvable)?,
        };
        if policy.parts.is_empty() {
            return Err(WriteRefused::ContactReadOnly);
        }
        let part = policy
            .part(&root_key)
            .ok_or_else(|| WriteRefused::NotInSchema {
                kind: policy.kind,
                key: root_key.clone(),
            })?;
        match part.access {
            Access::Server => return Err(WriteRefused::ServerOwned { key: root_key }),
            Access::Text if path.is_empty() => {
                // An app of job schema v1 wrote the notes as one string; the
                // server folds such a string into the text, losing nothing.
                if !matches!(
                    op.action,
                    automerge::legacy::OpType::Put(automerge::ScalarValue::Str(_))
                ) {
                    return Err(WriteRefused::ReplacesPart {
                        record: part.record,
                    });
                }
            }
            Access::Text => {}
            Access::CreateOnce { .. } | Access::CurrentState { .. } if path.is_empty() => {
                return Err(WriteRefused::ReplacesPart {
                    record: part.record,
                });
            }
            Access::CreateOnce { .. } | Access::CurrentState { .. } if path.len() == 1 => {
                // A write of a whole record into the part's map.
                let key = op_key.ok_or(WriteRefused::Unresolvable)?;
                match &op.action {
                    automerge::legacy::OpType::Make(ObjType::Map) => {}
                    automerge::legacy::OpType::Delete => {
                        return Err(WriteRefused::DeletesRecord {
                            record: part.record,
                            key,
                        });
                    }
                    _ => {
                        return Err(WriteRefused::Malformed {
                            record: part.record,
                            key,
                        });
                    }
                }
                if let Access::CreateOnce { .. } = part.access {
                    let was_empty = doc
                        .get_all_at(&object, key.as_str(), change.deps())
                        .map_err(|_| WriteRefused::Unresolvable)?
                        .is_empty();
                    let only_one = doc
                        .get_all(&object, key.as_str())
                        .map_err(|_| WriteRefused::Unresolvable)?
                        .len()
                        == 1;
                    if !was_empty || !only_one {
                        return Err(WriteRefused::RewritesRecord {
                            record: part.record,
                            key,
                        });
                    }
                }
                touched.insert(key, (part, object.clone()));
            }
            Access::CreateOnce { .. } | Access::CurrentState { .. } => {
                // A write inside a record: allowed in a record this change
                // made; in an older one only for current-state records
                // (apps before records were written whole updated ticks
                // and outcomes field by field), which are then checked whole.
                let Some((collection, Prop::Map(key))) = path.get(1).cloned() else {
                    return Err(WriteRefused::Unresolvable);
                };
                let record = path.get(2).map_or(&object, |(record, _)| record);
                let fresh = match record {
                    automerge::ObjId::Id(counter, actor, _) => made_here(*counter, actor),
                    automerge::ObjId::Root => false,
                };
                if !fresh && matches!(part.access, Access::CreateOnce { .. }) {
                    return Err(WriteRefused::RewritesRecord {
                        record: part.record,
                        key,
                    });
                }
                touched.insert(key, (part, collection));
            }
        }
    }
    let at = AtHeads::new(doc, vec![change.hash()]);
    let mut written = Vec::with_capacity(touched.len());
    for (key, (part, collection)) in touched {
        check_record(doc, &at, policy, who, part, &collection, &key)?;
        written.push(Written {
            part,
            key,
            change: change.hash(),
        });
    }
    Ok(written)
}

/// A record as of its change: a map naming the pusher, under a key the
/// server's map has (for current-state records).
fn check_record(
    doc: &AutoCommit,
    at: &AtHeads<'_>,
    policy: &WritePolicy,
    who: &DeviceIdentity,
    part: &Part,
    collection: &ObjId,
    key: &str,
) -> Result<(), WriteRefused> {
    let malformed = || WriteRefused::Malformed {
        record: part.record,
        key: key.to_owned(),
    };
    let (author, keyed_by) = match part.access {
        Access::CreateOnce { author } => (author, None),
        Access::CurrentState {
            author,
            keyed_by,
            key_names,
        } => (author, Some((keyed_by, key_names))),
        Access::Server | Access::Text => return Ok(()),
    };
    let record = match doc.get_at(collection, key, at.heads()) {
        Ok(Some((automerge::Value::Object(ObjType::Map), record))) => record,
        _ => return Err(malformed()),
    };
    let actor: Actor = autosurgeon::hydrate_prop(at, &record, author).map_err(|_| malformed())?;
    if actor.user != who.user || actor.device != Some(who.device) {
        return Err(WriteRefused::NotTheAuthor {
            record: part.record,
            key: key.to_owned(),
        });
    }
    if let Some((map, key_names)) = keyed_by {
        let mut object = ROOT;
        for step in map {
            object = match doc.get_at(&object, *step, at.heads()) {
                Ok(Some((automerge::Value::Object(_), id))) => id,
                _ => return Err(WriteRefused::Unresolvable),
            };
        }
        let known = doc
            .get_at(&object, key, at.heads())
            .map_err(|_| WriteRefused::Unresolvable)?
            .is_some();
        if !known {
            return Err(WriteRefused::UnknownKey {
                key_names,
                key: key.to_owned(),
                kind: policy.kind,
            });
        }
    }
    Ok(())
}

/// Checks the round outcomes among `written` against the round's service:
/// the outcome exists, its photo is a photo of this round, and the photo
/// or note the service demands is there — as the phone checks them.
pub fn check_outcomes(
    doc: &AutoCommit,
    written: &[Written],
    service: &ServiceDefinition,
) -> Result<(), WriteRefused> {
    for record in written.iter().filter(|w| w.part.key == "outcomes") {
        let at = AtHeads::new(doc, vec![record.change]);
        let malformed = || WriteRefused::Malformed {
            record: record.part.record,
            key: record.key.clone(),
        };
        let outcomes = object_at_heads(doc, &at, "outcomes").ok_or_else(malformed)?;
        let outcome: Outcome = autosurgeon::hydrate_prop(&at, &outcomes, record.key.as_str())
            .map_err(|_| malformed())?;
        let mut kinds = BTreeSet::new();
        if let Some(photo) = outcome.photo {
            let photos = object_at_heads(doc, &at, "photos").ok_or_else(malformed)?;
            let found: Option<PhotoRef> =
                autosurgeon::hydrate_prop(&at, &photos, photo.to_string().as_str())
                    .map_err(|_| malformed())?;
            let found = found.ok_or_else(|| WriteRefused::OutcomePhotoMissing {
                property: record.key.clone(),
            })?;
            kinds.insert(found.kind);
        }
        check_outcome(service, &outcome.kind, &kinds, outcome.note.as_deref()).map_err(|why| {
            WriteRefused::OutcomeEvidence {
                property: record.key.clone(),
                why,
            }
        })?;
    }
    Ok(())
}

/// The renditions named by the photo records among `written`, by photo key:
/// the server refuses a photo whose picture another device already sent
/// for another document.
pub fn photo_hashes(
    doc: &AutoCommit,
    written: &[Written],
) -> Result<Vec<(String, BlobHash)>, WriteRefused> {
    let mut hashes = Vec::new();
    for record in written.iter().filter(|w| w.part.key == "photos") {
        let at = AtHeads::new(doc, vec![record.change]);
        let malformed = || WriteRefused::Malformed {
            record: record.part.record,
            key: record.key.clone(),
        };
        let photos = object_at_heads(doc, &at, "photos").ok_or_else(malformed)?;
        let photo: PhotoRef = autosurgeon::hydrate_prop(&at, &photos, record.key.as_str())
            .map_err(|_| malformed())?;
        for hash in [photo.display, photo.thumbnail, photo.original]
            .into_iter()
            .flatten()
        {
            hashes.push((record.key.clone(), hash));
        }
    }
    Ok(hashes)
}

fn object_at_heads(doc: &AutoCommit, at: &AtHeads<'_>, key: &str) -> Option<ObjId> {
    match doc.get_at(ROOT, key, at.heads()) {
        Ok(Some((automerge::Value::Object(_), id))) => Some(id),
        _ => None,
    }
}

/// Which actor signed each record of a document as it stands: the actor
/// of the change that made the record's map, by root key and record key.
/// The server maps these actors to the devices it enrolled, so its history
/// names people from its own records rather than from what a record says.
pub fn record_signers(
    doc: &AutoCommit,
    policy: &WritePolicy,
) -> BTreeMap<(&'static str, String), ActorId> {
    let mut signers = BTreeMap::new();
    for part in policy.parts {
        if !matches!(
            part.access,
            Access::CreateOnce { .. } | Access::CurrentState { .. }
        ) {
            continue;
        }
        let Ok(Some((automerge::Value::Object(_), records))) = doc.get(ROOT, part.key) else {
            continue;
        };
        for key in doc.keys(&records) {
            if let Ok(Some((_, ObjId::Id(_, actor, _)))) = doc.get(&records, key.as_str()) {
                signers.insert((part.key, key), actor);
            }
        }
    }
    signers
}
