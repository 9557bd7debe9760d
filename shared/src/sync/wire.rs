//! The sync wire format: a fixed frame that every version of the app can
//! read, around a versioned body.
//!
//! ```text
//! "DSYN" | version: u16 LE | kind: u8 | body
//! ```
//!
//! The body is [postcard]: compact, with identifiers as 16 raw bytes and
//! Automerge changes as raw bytes, so a sync carries little more than the
//! changes themselves. Kind [`KIND_UPDATE_REQUIRED`] carries plain UTF-8 text
//! and never changes shape, so an app too old for the server still gets a
//! clear "please update" message.
//!
//! Requests and replies come in two kinds. The first release's (1 and 2)
//! carry documents only. Apps that take their council's service
//! definitions with the sync send kind 4 and get kind 5, which add, per
//! tenant, what the app holds and what changed since; a server answers
//! each request in its own kind, so released apps keep syncing unchanged.
//! An app usually sends a 16-byte digest of the definitions it holds; when
//! the server's differs it is told so, and its next request lists the
//! versions (each a file's SHA-256) it holds, answered with just the files
//! that changed and the services removed. An unchanged catalog costs a
//! reconnect 19 bytes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{JobId, ParseIdError, RoundId, ServiceId, TenantId};
use crate::service::{DefinitionFile, DefinitionVersion, DefinitionsDigest};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// The largest message either side accepts.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// The most councils one request may speak for.
pub const MAX_TENANTS_PER_REQUEST: usize = 64;
/// The most documents one request may push changes to, over all councils.
pub const MAX_DOCUMENTS_PER_REQUEST: usize = 10_000;
/// The most changes one request may push, over all documents: a phone
/// offline for a fortnight of busy days makes a few thousand.
pub const MAX_CHANGES_PER_REQUEST: usize = 200_000;
/// The most service definitions a request may list as held.
pub const MAX_DEFINITIONS_PER_REQUEST: usize = 1_000;
/// What a request decodes into is at most its own size plus this many
/// bytes per change, document and council it may hold (the vectors'
/// own headers): with the counts above, under 10 MB more than the
/// message, whatever it holds.
pub const DECODED_OVERHEAD_PER_ITEM: usize = 48;

const MAGIC: &[u8; 4] = b"DSYN";
const HEADER_BYTES: usize = 7;
const KIND_REQUEST: u8 = 1;
const KIND_REPLY: u8 = 2;
const KIND_CHANGED: u8 = 3;
const KIND_REQUEST_WITH_DEFINITIONS: u8 = 4;
const KIND_REPLY_WITH_DEFINITIONS: u8 = 5;
/// A reply saying the app's protocol version is not supported.
pub const KIND_UPDATE_REQUIRED: u8 = 0xff;

/// A message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Larger than [`MAX_MESSAGE_BYTES`].
    #[error("the sync message is {size} bytes; the limit is {MAX_MESSAGE_BYTES}")]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// Not a Doorstep sync message at all.
    #[error("not a Doorstep sync message")]
    NotSync,
    /// Sent by a version of Doorstep this build does not speak.
    #[error(
        "the sync message uses protocol version {found}; this build speaks version {PROTOCOL_VERSION}: please update the app"
    )]
    UnsupportedVersion {
        /// The version in the message.
        found: u16,
    },
    /// More of something than one request may hold.
    #[error("a sync request may hold at most {limit} {what}")]
    OverLimit {
        /// What there was too much of.
        what: &'static str,
        /// How many may be sent.
        limit: usize,
    },
    /// A request where a reply was expected, or the reverse.
    #[error("expected a sync {expected}, got message kind {found}")]
    WrongKind {
        /// What was expected.
        expected: &'static str,
        /// The kind byte found.
        found: u8,
    },
    /// The server refused the app's version.
    #[error("the server needs a newer app: {0}")]
    UpdateRequired(String),
    /// The body is truncated or malformed.
    #[error("the sync message is malformed: {0}")]
    Malformed(String),
}

/// Which document: jobs, rounds and contacts share one id space per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DocumentId {
    /// A job document.
    Job(JobId),
    /// A round document.
    Round(RoundId),
    /// The contact document of a job.
    Contact(JobId),
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocumentId::Job(id) => write!(f, "job:{id}"),
            DocumentId::Round(id) => write!(f, "round:{id}"),
            DocumentId::Contact(id) => write!(f, "contact:{id}"),
        }
    }
}

impl FromStr for DocumentId {
    type Err = ParseIdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let refuse = || ParseIdError {
            kind: "document id",
            input: input.to_owned(),
            expected: "job:, round: or contact: followed by a UUID",
        };
        let (kind, id) = input.split_once(':').ok_or_else(refuse)?;
        match kind {
            "job" => id.parse().map(DocumentId::Job),
            "round" => id.parse().map(DocumentId::Round),
            "contact" => id.parse().map(DocumentId::Contact),
            _ => return Err(refuse()),
        }
        .map_err(|_| refuse())
    }
}

/// How far a device has synced one tenant: every change in its scope up to
/// `seq` under scope version `scope`. `Cursor::default()` means "from
/// scratch" and makes the server send everything in scope.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Cursor {
    /// The tenant's change sequence number.
    pub seq: u64,
    /// The tenant's scope version (bumped by assignments and team changes).
    pub scope: u64,
}

/// A device's sync request: everything it has to say, in one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// Echoed in the reply, so the device ignores stale or duplicated replies.
    pub request_id: u64,
    /// One entry per tenant the device works for.
    pub tenants: Vec<TenantRequest>,
}

/// What a device sends for one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRequest {
    /// The tenant.
    #[serde(deserialize_with = "budget::tenant")]
    pub tenant: TenantId,
    /// How far the device has got.
    pub cursor: Cursor,
    /// Changes made on the device, by document.
    pub pushes: Vec<Push>,
    /// The service definitions the device holds for this tenant; `None`
    /// from apps that do not take definitions.
    pub definitions: Option<HeldDefinitions>,
}

/// What service definitions a device holds for a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeldDefinitions {
    /// The digest of their versions: the usual request.
    Digest(DefinitionsDigest),
    /// Each one's version: sent when it holds none, or the server said
    /// the digest differs from its own.
    List(#[serde(deserialize_with = "budget::definitions")] Vec<(ServiceId, DefinitionVersion)>),
}

/// What the server says of a device's service definitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DefinitionNews {
    /// The digest matches: nothing changed.
    Same,
    /// The digest differs: the device should list what it holds.
    Differ,
    /// What changed since the versions the device listed.
    Changed(DefinitionChanges),
}

/// The service definitions that changed since the versions a device holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionChanges {
    /// Files new to the device or changed, whole.
    pub changed: Vec<DefinitionFile>,
    /// Services the device holds that the tenant no longer has.
    pub removed: Vec<ServiceId>,
}

impl DefinitionChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Changes made on a device to one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// The document.
    pub doc: DocumentId,
    /// Raw Automerge changes, oldest first.
    #[serde(deserialize_with = "budget::changes")]
    pub changes: Vec<Vec<u8>>,
}

/// The server's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReply {
    /// The request this answers.
    pub request_id: u64,
    /// One entry per tenant in the request.
    pub tenants: Vec<TenantReply>,
}

/// What the server says about one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantReply {
    /// The tenant.
    pub tenant: TenantId,
    /// The cursor to send next time.
    pub cursor: Cursor,
    /// Documents whose pushed changes are now durably stored.
    pub accepted: Vec<DocumentId>,
    /// Pushes refused, with the reason. The device keeps the changes.
    pub refused: Vec<Refusal>,
    /// What changed in the device's scope, and documents new to it.
    pub updates: Vec<Update>,
    /// Documents that left the device's scope.
    pub left_scope: Vec<DocumentId>,
    /// Set when the whole tenant was refused (not enrolled for it).
    pub error: Option<String>,
    /// What changed in the service definitions since those the device
    /// said it holds; `None` when the request did not say.
    pub definitions: Option<DefinitionNews>,
}

/// A refused push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The document.
    pub doc: DocumentId,
    /// Why, in plain words.
    pub reason: String,
}

/// New content for one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The document.
    pub doc: DocumentId,
    /// Changes to apply, or a whole document.
    pub content: Content,
}

/// Changes, or a whole saved document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content {
    /// Raw Automerge changes the device does not have yet.
    Changes(Vec<Vec<u8>>),
    /// A whole document, for documents new to the device.
    Snapshot(Vec<u8>),
}

impl TenantReply {
    /// A reply that refuses a whole tenant.
    pub fn refused(tenant: TenantId, cursor: Cursor, error: String) -> Self {
        Self {
            tenant,
            cursor,
            accepted: Vec::new(),
            refused: Vec::new(),
            updates: Vec::new(),
            left_scope: Vec::new(),
            error: Some(error),
            definitions: None,
        }
    }
}

/// What one request may still hold while it is decoded. Serde decodes on
/// one thread without yielding, so the count lives in a thread-local set
/// by [`SyncRequest::decode`]; decoding anything else is not counted.
mod budget {
    use std::cell::Cell;

    use serde::Deserialize;
    use serde::de::{Deserializer, SeqAccess, Visitor};

    use super::{
        DefinitionVersion, MAX_CHANGES_PER_REQUEST, MAX_DEFINITIONS_PER_REQUEST,
        MAX_DOCUMENTS_PER_REQUEST, MAX_TENANTS_PER_REQUEST, WireError,
    };
    use crate::ids::{ServiceId, TenantId};

    #[derive(Clone, Copy)]
    struct Left {
        tenants: usize,
        documents: usize,
        changes: usize,
        definitions: usize,
    }

    thread_local! {
        static LEFT: Cell<Option<Left>> = const { Cell::new(None) };
        static OVER: Cell<Option<(&'static str, usize)>> = const { Cell::new(None) };
    }

    /// Runs a decode with a fresh budget; an error the budget caused is
    /// named as such.
    pub(super) fn within<T>(decode: impl FnOnce() -> Result<T, WireError>) -> Result<T, WireError> {
        LEFT.set(Some(Left {
            tenants: MAX_TENANTS_PER_REQUEST,
            documents: MAX_DOCUMENTS_PER_REQUEST,
            changes: MAX_CHANGES_PER_REQUEST,
            definitions: MAX_DEFINITIONS_PER_REQUEST,
        }));
        OVER.set(None);
        let decoded = decode();
        LEFT.set(None);
        match (decoded, OVER.take()) {
            (Err(_), Some((what, limit))) => Err(WireError::OverLimit { what, limit }),
            (decoded, _) => decoded,
        }
    }

    /// Takes `n` from one count, or fails naming it.
    fn take<E: serde::de::Error>(
        n: usize,
        what: &'static str,
        limit: usize,
        count: fn(&mut Left) -> &mut usize,
    ) -> Result<(), E> {
        let Some(mut left) = LEFT.get() else {
            return Ok(());
        };
        let slot = count(&mut left);
        if *slot < n {
            OVER.set(Some((what, limit)));
            return Err(E::custom(format!("more than {limit} {what}")));
        }
        *slot -= n;
        LEFT.set(Some(left));
        Ok(())
    }

    pub(super) fn tenant<'de, D: Deserializer<'de>>(d: D) -> Result<TenantId, D::Error> {
        take(1, "councils", MAX_TENANTS_PER_REQUEST, |left| {
            &mut left.tenants
        })?;
        TenantId::deserialize(d)
    }

    pub(super) fn definitions<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(ServiceId, DefinitionVersion)>, D::Error> {
        d.deserialize_seq(Counted {
            what: "service definitions",
            limit: MAX_DEFINITIONS_PER_REQUEST,
            count: |left| &mut left.definitions,
            item: std::marker::PhantomData,
        })
    }

    /// A document's changes: one document, and each change, counted.
    pub(super) fn changes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        take(1, "documents", MAX_DOCUMENTS_PER_REQUEST, |left| {
            &mut left.documents
        })?;
        d.deserialize_seq(Counted {
            what: "changes",
            limit: MAX_CHANGES_PER_REQUEST,
            count: |left| &mut left.changes,
            item: std::marker::PhantomData,
        })
    }

    /// A sequence whose every element is taken from a count, with no more
    /// room set aside up front than the count has left.
    struct Counted<T> {
        what: &'static str,
        limit: usize,
        count: fn(&mut Left) -> &mut usize,
        item: std::marker::PhantomData<T>,
    }

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Counted<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "at most {} {}", self.limit, self.what)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let left = LEFT
                .get()
                .map_or(self.limit, |mut left| *(self.count)(&mut left));
            let hinted = seq.size_hint().unwrap_or(0);
            if hinted > left {
                take::<A::Error>(hinted, self.what, self.limit, self.count)?;
            }
            let mut items = Vec::with_capacity(hinted.min(left).min(4096));
            while let Some(item) = seq.next_element()? {
                take::<A::Error>(1, self.what, self.limit, self.count)?;
                items.push(item);
            }
            Ok(items)
        }
    }
}

/// The first release's messages, without definitions: what kinds 1 and 2
/// carry, read and written field for field.
mod first_release {
    use serde::{Deserialize, Serialize};

    use super::{Cursor, DocumentId, Push, Refusal, Update};
    use crate::ids::TenantId;

    #[derive(Serialize, Deserialize)]
    pub(super) struct SyncRequest<T> {
        pub request_id: u64,
        pub tenants: Vec<T>,
    }

    #[derive(Serialize, Deserialize)]
    pub(super) struct TenantRequest<P> {
        #[serde(deserialize_with = "super::budget::tenant")]
        pub tenant: TenantId,
        pub cursor: Cursor,
        pub pushes: P,
    }

    #[derive(Serialize, Deserialize)]
    pub(super) struct TenantReply {
        pub tenant: TenantId,
        pub cursor: Cursor,
        pub accepted: Vec<DocumentId>,
        pub refused: Vec<Refusal>,
        pub updates: Vec<Update>,
        pub left_scope: Vec<DocumentId>,
        pub error: Option<String>,
    }

    /// A reply as the first release writes it, borrowing the fields.
    #[derive(Serialize)]
    pub(super) struct TenantReplyRef<'a> {
        pub tenant: TenantId,
        pub cursor: Cursor,
        pub accepted: &'a [DocumentId],
        pub refused: &'a [Refusal],
        pub updates: &'a [Update],
        pub left_scope: &'a [DocumentId],
        pub error: &'a Option<String>,
    }

    pub(super) type Pushes<'a> = &'a [Push];
}

fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    out.push(kind);
    out.extend_from_slice(body);
    out
}

fn encode<T: Serialize>(kind: u8, message: &T) -> Vec<u8> {
    // Serialising plain data to a Vec cannot fail.
    frame(kind, &postcard::to_allocvec(message).unwrap_or_default())
}

/// Splits a frame into its kind and body, checking size, magic and version.
fn unframe(bytes: &[u8]) -> Result<(u8, &[u8]), WireError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge { size: bytes.len() });
    }
    if bytes.len() < HEADER_BYTES || &bytes[..4] != MAGIC {
        return Err(WireError::NotSync);
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    let kind = bytes[6];
    let body = &bytes[HEADER_BYTES..];
    if kind == KIND_UPDATE_REQUIRED {
        return Err(WireError::UpdateRequired(
            String::from_utf8_lossy(body).into_owned(),
        ));
    }
    if version != PROTOCOL_VERSION {
        return Err(WireError::UnsupportedVersion { found: version });
    }
    Ok((kind, body))
}

fn decode<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    kind: u8,
    expected: &'static str,
) -> Result<T, WireError> {
    let (found, body) = unframe(bytes)?;
    if found != kind {
        return Err(WireError::WrongKind { expected, found });
    }
    let (message, rest) =
        postcard::take_from_bytes(body).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Malformed(format!(
            "{} unexpected bytes after the message",
            rest.len()
        )));
    }
    Ok(message)
}

/// The kind of a frame, if it is one this build reads.
fn kind_of(bytes: &[u8]) -> Result<u8, WireError> {
    unframe(bytes).map(|(kind, _)| kind)
}

impl SyncRequest {
    /// The request as bytes: in the first release's kind unless it says
    /// which definitions the device holds.
    pub fn encode(&self) -> Vec<u8> {
        if self.tenants.iter().any(|t| t.definitions.is_some()) {
            return encode(KIND_REQUEST_WITH_DEFINITIONS, self);
        }
        let tenants = self
            .tenants
            .iter()
            .map(|t| first_release::TenantRequest::<first_release::Pushes> {
                tenant: t.tenant,
                cursor: t.cursor,
                pushes: &t.pushes,
            })
            .collect();
        encode(
            KIND_REQUEST,
            &first_release::SyncRequest {
                request_id: self.request_id,
                tenants,
            },
        )
    }

    /// Reads a request of either kind, within the limits above
    /// ([`MAX_TENANTS_PER_REQUEST`], [`MAX_DOCUMENTS_PER_REQUEST`],
    /// [`MAX_CHANGES_PER_REQUEST`], [`MAX_DEFINITIONS_PER_REQUEST`]): a
    /// request over one is refused as soon as the decoder reaches it.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        budget::within(|| Self::decode_unbounded(bytes))
    }

    fn decode_unbounded(bytes: &[u8]) -> Result<Self, WireError> {
        if kind_of(bytes)? == KIND_REQUEST_WITH_DEFINITIONS {
            return decode(bytes, KIND_REQUEST_WITH_DEFINITIONS, "request");
        }
        let first: first_release::SyncRequest<first_release::TenantRequest<Vec<Push>>> =
            decode(bytes, KIND_REQUEST, "request")?;
        Ok(Self {
            request_id: first.request_id,
            tenants: first
                .tenants
                .into_iter()
                .map(|t| TenantRequest {
                    tenant: t.tenant,
                    cursor: t.cursor,
                    pushes: t.pushes,
                    definitions: None,
                })
                .collect(),
        })
    }
}

impl SyncReply {
    /// The reply as bytes: in the first release's kind unless it carries
    /// definitions (it does when its request said which it holds).
    pub fn encode(&self) -> Vec<u8> {
        if self.tenants.iter().any(|t| t.definitions.is_some()) {
            return encode(KIND_REPLY_WITH_DEFINITIONS, self);
        }
        let tenants: Vec<first_release::TenantReplyRef> = self
            .tenants
            .iter()
            .map(|t| first_release::TenantReplyRef {
                tenant: t.tenant,
                cursor: t.cursor,
                accepted: &t.accepted,
                refused: &t.refused,
                updates: &t.updates,
                left_scope: &t.left_scope,
                error: &t.error,
            })
            .collect();
        encode(
            KIND_REPLY,
            &first_release::SyncRequest {
                request_id: self.request_id,
                tenants,
            },
        )
    }

    /// Reads a reply of either kind.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if kind_of(bytes)? == KIND_REPLY_WITH_DEFINITIONS {
            return decode(bytes, KIND_REPLY_WITH_DEFINITIONS, "reply");
        }
        let first: first_release::SyncRequest<first_release::TenantReply> =
            decode(bytes, KIND_REPLY, "reply")?;
        Ok(Self {
            request_id: first.request_id,
            tenants: first
                .tenants
                .into_iter()
                .map(|t| TenantReply {
                    tenant: t.tenant,
                    cursor: t.cursor,
                    accepted: t.accepted,
                    refused: t.refused,
                    updates: t.updates,
                    left_scope: t.left_scope,
                    error: t.error,
                    definitions: None,
                })
                .collect(),
        })
    }
}

/// A notice, pushed over a live connection, that a tenant's documents
/// changed: the device should sync now.
pub fn changed_notice(tenant: TenantId) -> Vec<u8> {
    frame(KIND_CHANGED, tenant.as_uuid().as_bytes())
}

/// Reads a [`changed_notice`].
pub fn decode_changed_notice(bytes: &[u8]) -> Result<TenantId, WireError> {
    let (kind, body) = unframe(bytes)?;
    if kind != KIND_CHANGED {
        return Err(WireError::WrongKind {
            expected: "change notice",
            found: kind,
        });
    }
    let id: [u8; 16] = body
        .try_into()
        .map_err(|_| WireError::Malformed("a change notice names one tenant".into()))?;
    Ok(TenantId::from_u128(u128::from_be_bytes(id)))
}

/// The reply to a request in a protocol version the server does not speak:
/// readable by every version of the app.
pub fn update_required(message: &str) -> Vec<u8> {
    frame(KIND_UPDATE_REQUIRED, message.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SyncRequest {
        SyncRequest {
            request_id: 7,
            tenants: vec![TenantRequest {
                tenant: TenantId::from_u128(1),
                cursor: Cursor { seq: 41, scope: 3 },
                pushes: vec![Push {
                    doc: DocumentId::Job(JobId::from_u128(9)),
                    changes: vec![vec![1, 2, 3], vec![4; 200]],
                }],
                definitions: None,
            }],
        }
    }

    #[test]
    fn requests_round_trip_and_cost_little_more_than_their_changes() {
        let bytes = request().encode();
        assert_eq!(SyncRequest::decode(&bytes), Ok(request()));
        // 203 change bytes, a 7-byte frame, two ids of 16 raw bytes, and
        // varint lengths and tags: 51 bytes of overhead in all.
        assert_eq!(bytes.len(), 203 + 51);
    }

    fn service(id: &str) -> ServiceId {
        id.parse().unwrap()
    }

    #[test]
    fn requests_and_replies_with_definitions_have_kinds_of_their_own() {
        let mut asking = request();
        asking.tenants[0].definitions = Some(HeldDefinitions::List(vec![(
            service("pest-control"),
            DefinitionVersion::of("id = \"pest-control\""),
        )]));
        let bytes = asking.encode();
        assert_eq!(bytes[6], KIND_REQUEST_WITH_DEFINITIONS);
        assert_eq!(SyncRequest::decode(&bytes), Ok(asking));

        let mut reply = SyncReply {
            request_id: 7,
            tenants: vec![TenantReply::refused(
                TenantId::from_u128(1),
                Cursor::default(),
                "no".into(),
            )],
        };
        // Without definitions, a first-release app reads it.
        assert_eq!(reply.encode()[6], KIND_REPLY);
        assert_eq!(SyncReply::decode(&reply.encode()), Ok(reply.clone()));
        reply.tenants[0].definitions = Some(DefinitionNews::Changed(DefinitionChanges {
            changed: vec![DefinitionFile {
                service: service("pest-control"),
                text: "id = \"pest-control\"".into(),
            }],
            removed: vec![service("graffiti")],
        }));
        let bytes = reply.encode();
        assert_eq!(bytes[6], KIND_REPLY_WITH_DEFINITIONS);
        assert_eq!(SyncReply::decode(&bytes), Ok(reply));
    }

    #[test]
    fn a_first_release_request_reads_as_one_without_definitions() {
        // The first release's request, written field for field as it did.
        #[derive(Serialize)]
        struct OldTenant {
            tenant: TenantId,
            cursor: Cursor,
            pushes: Vec<Push>,
        }
        #[derive(Serialize)]
        struct OldRequest {
            request_id: u64,
            tenants: Vec<OldTenant>,
        }
        let new = request();
        let old = OldRequest {
            request_id: new.request_id,
            tenants: vec![OldTenant {
                tenant: new.tenants[0].tenant,
                cursor: new.tenants[0].cursor,
                pushes: new.tenants[0].pushes.clone(),
            }],
        };
        let bytes = encode(KIND_REQUEST, &old);
        assert_eq!(bytes, new.encode());
        let read = SyncRequest::decode(&bytes).unwrap();
        assert_eq!(read.tenants[0].definitions, None);
        assert_eq!(read, new);
    }

    #[test]
    fn every_truncation_of_a_message_is_an_error_not_a_panic() {
        let bytes = request().encode();
        for cut in 0..bytes.len() {
            assert!(SyncRequest::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn garbage_wrong_kind_and_trailing_bytes_are_refused() {
        assert_eq!(
            SyncRequest::decode(b"GET / HTTP/1.1"),
            Err(WireError::NotSync)
        );
        let reply = SyncReply {
            request_id: 1,
            tenants: vec![],
        }
        .encode();
        assert!(matches!(
            SyncRequest::decode(&reply),
            Err(WireError::WrongKind { found: 2, .. })
        ));
        let mut long = request().encode();
        long.push(0);
        assert!(matches!(
            SyncRequest::decode(&long),
            Err(WireError::Malformed(_))
        ));
        // A length prefix claiming far more data than there is.
        let mut lying = frame(KIND_REQUEST, &[7]);
        lying.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(matches!(
            SyncRequest::decode(&lying),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn an_oversized_message_is_refused_before_it_is_read() {
        let huge = vec![0u8; MAX_MESSAGE_BYTES + 1];
        assert_eq!(
            SyncRequest::decode(&huge),
            Err(WireError::TooLarge {
                size: MAX_MESSAGE_BYTES + 1
            })
        );
    }

    #[test]
    fn a_request_is_decoded_only_within_its_stated_counts() {
        // 30 MB of empty changes would decode into ~24 bytes of vector per
        // byte sent; the count stops it at the limit.
        let mut flood = request();
        flood.tenants[0].pushes[0].changes = vec![Vec::new(); MAX_CHANGES_PER_REQUEST + 1];
        assert_eq!(
            SyncRequest::decode(&flood.encode()),
            Err(WireError::OverLimit {
                what: "changes",
                limit: MAX_CHANGES_PER_REQUEST
            })
        );
        let mut at_limit = request();
        at_limit.tenants[0].pushes[0].changes = vec![vec![1]; MAX_CHANGES_PER_REQUEST];
        assert_eq!(SyncRequest::decode(&at_limit.encode()), Ok(at_limit));

        let mut documents = request();
        documents.tenants[0].pushes = (0..=MAX_DOCUMENTS_PER_REQUEST as u128)
            .map(|n| Push {
                doc: DocumentId::Job(JobId::from_u128(n)),
                changes: Vec::new(),
            })
            .collect();
        assert!(matches!(
            SyncRequest::decode(&documents.encode()),
            Err(WireError::OverLimit {
                what: "documents",
                ..
            })
        ));

        let mut councils = request();
        councils.tenants = vec![councils.tenants[0].clone(); MAX_TENANTS_PER_REQUEST + 1];
        assert!(matches!(
            SyncRequest::decode(&councils.encode()),
            Err(WireError::OverLimit {
                what: "councils",
                ..
            })
        ));

        // A length that claims more than is left is refused before any
        // room is set aside for it.
        let mut lying = request();
        lying.tenants[0].pushes[0].changes = vec![vec![7]];
        let bytes = lying.encode();
        let at = bytes.len() - 3;
        let mut forged = bytes[..at].to_vec();
        forged.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
        assert!(SyncRequest::decode(&forged).is_err());
    }

    #[test]
    fn another_protocol_version_is_told_to_update() {
        let mut bytes = request().encode();
        bytes[4..6].copy_from_slice(&9u16.to_le_bytes());
        let error = SyncRequest::decode(&bytes).unwrap_err();
        assert_eq!(error, WireError::UnsupportedVersion { found: 9 });
        assert!(error.to_string().contains("please update the app"));

        let answer = update_required("Doorstep needs version 2 of the app.");
        assert_eq!(
            SyncReply::decode(&answer),
            Err(WireError::UpdateRequired(
                "Doorstep needs version 2 of the app.".into()
            ))
        );
    }

    #[test]
    fn change_notices_name_their_tenant_and_nothing_else_passes_for_one() {
        let tenant = TenantId::from_random_bytes([9; 16]);
        assert_eq!(decode_changed_notice(&changed_notice(tenant)), Ok(tenant));
        assert!(decode_changed_notice(&request().encode()).is_err());
        assert!(decode_changed_notice(&frame(KIND_CHANGED, &[1, 2])).is_err());
    }

    #[test]
    fn document_ids_read_back_from_their_text() {
        for id in [
            DocumentId::Job(JobId::from_u128(1)),
            DocumentId::Round(RoundId::from_u128(2)),
            DocumentId::Contact(JobId::from_u128(3)),
        ] {
            assert_eq!(id.to_string().parse(), Ok(id));
        }
        assert!("invoice:1".parse::<DocumentId>().is_err());
    }
}
