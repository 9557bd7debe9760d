//! What job, round and contact documents share: reading a path, checking the
//! schema version before a write, and one error type for all of it.
//!
//! Writes never reconcile a whole hydrated struct back into a document: a
//! struct read before a merge would delete whatever the merge brought in
//! (autosurgeon reconciles maps and lists to exactly the value given). Every
//! write goes to one key of one map instead, through the editors in
//! [`crate::job`] and [`crate::round`].

use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use autosurgeon::{HydrateError, Reconcile, ReconcileError, reconcile_prop};

/// A document could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Automerge refused the bytes or the operation.
    #[error("the document could not be read or changed")]
    Automerge(#[source] Box<automerge::AutomergeError>),
    /// A value in the document does not have the shape the schema gives it.
    #[error("the document does not match its schema")]
    Hydrate(#[source] Box<HydrateError>),
    /// A value could not be written.
    #[error("the change could not be written to the document")]
    Reconcile(#[source] Box<ReconcileError>),
    /// A field the schema requires is missing.
    #[error("the document has no {path}")]
    Missing {
        /// Where the field should be, such as `office.verdicts`.
        path: String,
    },
    /// Written by a newer version of Doorstep: read-only here.
    #[error(
        "this {kind} was saved by a newer version of Doorstep (schema {found}, this app knows up to {supported}): update the app to change it"
    )]
    NewerSchema {
        /// `job`, `round` or `contact`.
        kind: &'static str,
        /// The document's version.
        found: u64,
        /// The newest version this build knows.
        supported: u64,
    },
    /// Written with an older schema that the server has not migrated yet.
    #[error(
        "this {kind} uses schema {found}; the server updates it to {supported} before it can be changed"
    )]
    OlderSchema {
        /// `job`, `round` or `contact`.
        kind: &'static str,
        /// The document's version.
        found: u64,
        /// The version this build writes.
        supported: u64,
    },
}

// The causes are boxed: they are large, and every fallible call in the
// crate returns this error.
impl From<automerge::AutomergeError> for DocumentError {
    fn from(error: automerge::AutomergeError) -> Self {
        Self::Automerge(Box::new(error))
    }
}

impl From<HydrateError> for DocumentError {
    fn from(error: HydrateError) -> Self {
        Self::Hydrate(Box::new(error))
    }
}

impl From<ReconcileError> for DocumentError {
    fn from(error: ReconcileError) -> Self {
        Self::Reconcile(Box::new(error))
    }
}

/// Whether this build can edit a document, only read it, or must leave
/// migration to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compatibility {
    /// Same version as this build: read and write.
    Current,
    /// Older: the server migrates it; the app shows it read-only meanwhile.
    Older(u64),
    /// Newer: read-only, and the app asks to be updated.
    Newer(u64),
}

/// The `schema_version` at the root of a document.
pub fn schema_version(doc: &AutoCommit) -> Result<u64, DocumentError> {
    match doc.get(ROOT, "schema_version")? {
        Some((Value::Scalar(scalar), _)) => match scalar.as_ref() {
            ScalarValue::Uint(version) => Ok(*version),
            ScalarValue::Int(version) if *version >= 0 => Ok(*version as u64),
            _ => Err(DocumentError::Missing {
                path: "schema_version (as a number)".into(),
            }),
        },
        _ => Err(DocumentError::Missing {
            path: "schema_version".into(),
        }),
    }
}

/// How this build relates to a document of the given kind.
pub fn compatibility(doc: &AutoCommit, current: u64) -> Result<Compatibility, DocumentError> {
    let found = schema_version(doc)?;
    Ok(match found.cmp(&current) {
        std::cmp::Ordering::Equal => Compatibility::Current,
        std::cmp::Ordering::Less => Compatibility::Older(found),
        std::cmp::Ordering::Greater => Compatibility::Newer(found),
    })
}

/// Refuses to write to a document of another schema version.
pub(crate) fn ensure_writable(
    doc: &AutoCommit,
    kind: &'static str,
    current: u64,
) -> Result<(), DocumentError> {
    match compatibility(doc, current)? {
        Compatibility::Current => Ok(()),
        Compatibility::Older(found) => Err(DocumentError::OlderSchema {
            kind,
            found,
            supported: current,
        }),
        Compatibility::Newer(found) => Err(DocumentError::NewerSchema {
            kind,
            found,
            supported: current,
        }),
    }
}

/// The object at a path of map keys from the root.
pub(crate) fn object_at(doc: &AutoCommit, path: &[&str]) -> Result<ObjId, DocumentError> {
    let mut object = ROOT;
    for (depth, key) in path.iter().enumerate() {
        object = match doc.get(&object, *key)? {
            Some((Value::Object(ObjType::Map | ObjType::Text | ObjType::List), id)) => id,
            _ => {
                return Err(DocumentError::Missing {
                    path: path[..=depth].join("."),
                });
            }
        };
    }
    Ok(object)
}

/// Writes `value` under `key` in the map at `map`: the one way editors write,
/// touching nothing else in the document.
pub(crate) fn put_at<R: Reconcile>(
    doc: &mut AutoCommit,
    map: &[&str],
    key: &str,
    value: R,
) -> Result<(), DocumentError> {
    let object = object_at(doc, map)?;
    reconcile_prop(doc, object, key, value)?;
    Ok(())
}

/// Writes `value` under `key` in the map at `map` as a new map object,
/// replacing whatever record was there whole. Current-state records (a
/// checklist tick, a round outcome) are written this way, so two people's
/// concurrent writes each stay whole and never mix one's fields with the
/// other's name.
pub(crate) fn replace_at<R: Reconcile>(
    doc: &mut AutoCommit,
    map: &[&str],
    key: &str,
    value: R,
) -> Result<(), DocumentError> {
    use automerge::transaction::Transactable;
    let object = object_at(doc, map)?;
    doc.put_object(&object, key, ObjType::Map)?;
    reconcile_prop(doc, object, key, value)?;
    Ok(())
}

/// Appends `value` to the list under `key` in the map at `map`, making the
/// list if the document has none yet. Entries appended concurrently by two
/// server nodes are both kept.
pub(crate) fn append_at<R: Reconcile>(
    doc: &mut AutoCommit,
    map: &[&str],
    key: &str,
    value: R,
) -> Result<(), DocumentError> {
    use automerge::transaction::Transactable;
    let object = object_at(doc, map)?;
    let list = match doc.get(&object, key)? {
        Some((Value::Object(ObjType::List), list)) => list,
        _ => doc.put_object(&object, key, ObjType::List)?,
    };
    let end = doc.length(&list);
    autosurgeon::reconcile_insert(doc, list, end, value)?;
    Ok(())
}

/// A document as it was at some heads, readable with autosurgeon: what the
/// server uses to read a pushed change's records as of that change alone,
/// without changes made concurrently elsewhere.
pub struct AtHeads<'d> {
    doc: &'d AutoCommit,
    heads: Vec<automerge::ChangeHash>,
}

impl<'d> AtHeads<'d> {
    /// `doc` as of `heads`.
    pub fn new(doc: &'d AutoCommit, heads: Vec<automerge::ChangeHash>) -> Self {
        Self { doc, heads }
    }

    /// The heads it reads at.
    pub fn heads(&self) -> &[automerge::ChangeHash] {
        &self.heads
    }
}

impl autosurgeon::ReadDoc for AtHeads<'_> {
    type Parents<'a>
        = automerge::Parents<'a>
    where
        Self: 'a;

    fn get_heads(&self) -> Vec<automerge::ChangeHash> {
        self.heads.clone()
    }

    fn get<P: Into<automerge::Prop>>(
        &self,
        obj: &ObjId,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, automerge::AutomergeError> {
        self.doc.get_at(obj, prop, &self.heads)
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<ObjType> {
        ReadDoc::object_type(self.doc, obj).ok()
    }

    fn map_range<'a, O, R>(&'a self, obj: O, range: R) -> automerge::iter::MapRange<'a>
    where
        R: std::ops::RangeBounds<String> + 'a,
        O: AsRef<ObjId>,
    {
        self.doc.map_range_at(obj, range, &self.heads)
    }

    fn list_range<O: AsRef<ObjId>, R: std::ops::RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> automerge::iter::ListRange<'_> {
        self.doc.list_range_at(obj, range, &self.heads)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        self.doc.length_at(obj, &self.heads)
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, automerge::AutomergeError> {
        self.doc.text_at(obj, &self.heads)
    }

    fn parents<O: AsRef<ObjId>>(
        &self,
        obj: O,
    ) -> Result<Self::Parents<'_>, automerge::AutomergeError> {
        self.doc.parents_at(obj, &self.heads)
    }

    fn is_empty(&self) -> bool {
        self.doc.keys_at(ROOT, &self.heads).next().is_none()
    }
}
