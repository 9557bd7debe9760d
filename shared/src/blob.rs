//! Blobs: the photo renditions that job and round documents name by their
//! SHA-256, and who may read or upload them.
//!
//! The server keeps, beside each document, the blobs it references
//! ([`references`]), with the device whose push first referenced each one.
//! Access is then decided here, purely, from those records:
//!
//! - staff may read a blob when a document in their scope references it;
//!   originals are staff-only evidence;
//! - a resident's link for a job reads that job's display and thumbnail
//!   renditions, never an original;
//! - a device may upload a blob a document in its scope references, or one
//!   its own changes referenced, even after the job was reassigned.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{AutoCommit, ROOT};
use serde::{Deserialize, Serialize};

use crate::document::DocumentError;
use crate::ids::{BlobHash, DeviceId, JobId, PhotoId, TenantId};
use crate::job::PhotoRef;
use crate::sync::store::{DeviceIdentity, ScopeRecord};
use crate::sync::wire::DocumentId;
use crate::transition::Role;

/// Which rendition of a photo a blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RenditionKind {
    /// Long edge 1600 px; what residents and dispatchers see.
    Display,
    /// Long edge 320 px; lists and timelines.
    Thumbnail,
    /// The camera file, kept only where the service asks for it: staff-only.
    Original,
}

impl RenditionKind {
    /// Its name in storage and URLs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Display => "display",
            Self::Thumbnail => "thumbnail",
            Self::Original => "original",
        }
    }

    /// Reads a name written by [`RenditionKind::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "display" => Some(Self::Display),
            "thumbnail" => Some(Self::Thumbnail),
            "original" => Some(Self::Original),
            _ => None,
        }
    }

    /// Whether a resident may ever see it.
    pub const fn for_residents(self) -> bool {
        !matches!(self, Self::Original)
    }
}

/// One blob a document references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobReference {
    /// The blob.
    pub hash: BlobHash,
    /// Which rendition it is.
    pub kind: RenditionKind,
    /// The photo it belongs to.
    pub photo: PhotoId,
}

/// Every blob a job or round document references through its `photos` map.
/// Other documents reference none.
pub fn references(document: &AutoCommit) -> Result<BTreeSet<BlobReference>, DocumentError> {
    let photos: Option<BTreeMap<String, PhotoRef>> =
        autosurgeon::hydrate_prop(document, ROOT, "photos")?;
    let mut found = BTreeSet::new();
    for (key, reference) in photos.unwrap_or_default() {
        // A key that is not a photo id was not written by Doorstep: its
        // blobs are nobody's to read.
        let Ok(photo) = key.parse::<PhotoId>() else {
            continue;
        };
        for (hash, kind) in [
            (reference.display, RenditionKind::Display),
            (reference.thumbnail, RenditionKind::Thumbnail),
            (reference.original, RenditionKind::Original),
        ] {
            if let Some(hash) = hash {
                found.insert(BlobReference { hash, kind, photo });
            }
        }
    }
    Ok(found)
}

/// A document that references a blob, as the server's records have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The document.
    pub doc: DocumentId,
    /// Its council.
    pub tenant: TenantId,
    /// As which rendition.
    pub kind: RenditionKind,
    /// Who sees the document.
    pub scope: ScopeRecord,
    /// The device whose push first referenced the blob (none if the server
    /// wrote it).
    pub added_by: Option<DeviceId>,
    /// Another document referenced the blob first: this reference lets its
    /// device upload the bytes, but grants no reads (a hash copied from one
    /// job into another must not open the photo to the second job's staff,
    /// nor an original to a resident as a "display").
    pub borrowed: bool,
}

/// Who asks to read a blob.
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    /// A member of staff, through an enrolled device or a signed-in session.
    Staff(&'a DeviceIdentity),
    /// A resident, through the tracking link of one job.
    Resident {
        /// The job the link is for.
        job: JobId,
    },
}

impl ScopeRecord {
    /// Whether a job or round is in a user's scope. A contact is visible
    /// through its job, which this record alone cannot tell: `false`.
    pub fn visible_to(&self, who: &DeviceIdentity) -> bool {
        if who.role == Role::Dispatcher {
            return true;
        }
        match self {
            ScopeRecord::Job { assignee, .. } => match assignee {
                Some(crate::job::Assignee::User(user)) => *user == who.user,
                Some(crate::job::Assignee::Team(team)) => who.teams.contains(team),
                None => false,
            },
            ScopeRecord::Round { crew } => who.teams.contains(crew),
            ScopeRecord::Contact { .. } => false,
        }
    }
}

/// Whether `reader` may read a blob held by `holders`.
pub fn may_read(reader: Reader<'_>, holders: &[Holder]) -> bool {
    holders
        .iter()
        .filter(|holder| !holder.borrowed)
        .any(|holder| match reader {
            Reader::Staff(who) => {
                (holder.kind.for_residents() || who.role != Role::Resident)
                    && who.tenants.contains(&holder.tenant)
                    && holder.scope.visible_to(who)
            }
            Reader::Resident { job } => {
                holder.doc == DocumentId::Job(job) && holder.kind.for_residents()
            }
        })
}

/// Whether a device may upload a blob held by `holders`: a document in its
/// scope references it, or its own push did.
pub fn may_upload(who: &DeviceIdentity, holders: &[Holder]) -> bool {
    holders.iter().any(|holder| {
        holder.added_by == Some(who.device)
            || (who.tenants.contains(&holder.tenant) && holder.scope.visible_to(who))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{TeamId, UserId};
    use crate::job::Assignee;

    fn who(user: u128, role: Role) -> DeviceIdentity {
        DeviceIdentity {
            device: DeviceId::from_u128(user),
            user: UserId::from_u128(user),
            role,
            teams: BTreeSet::from([TeamId::from_u128(9)]),
            tenants: BTreeSet::from([TenantId::from_u128(1)]),
            actor: automerge::ActorId::from(&[user as u8; 16][..]),
        }
    }

    fn held_by_job(job: u128, kind: RenditionKind, assignee: u128) -> Holder {
        Holder {
            doc: DocumentId::Job(JobId::from_u128(job)),
            tenant: TenantId::from_u128(1),
            borrowed: false,
            kind,
            scope: ScopeRecord::Job {
                assignee: Some(Assignee::User(UserId::from_u128(assignee))),
                open: true,
            },
            added_by: Some(DeviceId::from_u128(assignee)),
        }
    }

    #[test]
    fn the_assigned_operative_and_dispatchers_read_a_photo_and_others_do_not() {
        let holders = [held_by_job(1, RenditionKind::Display, 2)];
        assert!(may_read(Reader::Staff(&who(2, Role::Operative)), &holders));
        assert!(may_read(Reader::Staff(&who(7, Role::Dispatcher)), &holders));
        assert!(!may_read(Reader::Staff(&who(3, Role::Operative)), &holders));
    }

    #[test]
    fn a_resident_link_reads_its_jobs_renditions_but_never_an_original_or_another_job() {
        let job = JobId::from_u128(1);
        let display = [held_by_job(1, RenditionKind::Display, 2)];
        let thumbnail = [held_by_job(1, RenditionKind::Thumbnail, 2)];
        let original = [held_by_job(1, RenditionKind::Original, 2)];
        let other_job = [held_by_job(5, RenditionKind::Display, 2)];
        assert!(may_read(Reader::Resident { job }, &display));
        assert!(may_read(Reader::Resident { job }, &thumbnail));
        assert!(!may_read(Reader::Resident { job }, &original));
        assert!(!may_read(Reader::Resident { job }, &other_job));
    }

    #[test]
    fn a_device_uploads_a_photo_it_referenced_after_the_job_was_reassigned() {
        let mut holder = held_by_job(1, RenditionKind::Display, 2);
        holder.scope = ScopeRecord::Job {
            assignee: Some(Assignee::User(UserId::from_u128(3))),
            open: true,
        };
        assert!(may_upload(&who(2, Role::Operative), &[holder.clone()]));
        assert!(may_upload(&who(3, Role::Operative), &[holder.clone()]));
        assert!(!may_upload(&who(4, Role::Operative), &[holder]));
    }

    #[test]
    fn a_dispatcher_reads_no_photo_of_another_council() {
        let mut holder = held_by_job(1, RenditionKind::Display, 2);
        holder.tenant = TenantId::from_u128(2);
        assert!(!may_read(
            Reader::Staff(&who(7, Role::Dispatcher)),
            &[holder.clone()]
        ));
        assert!(!may_upload(&who(7, Role::Dispatcher), &[holder]));
    }

    #[test]
    fn a_borrowed_reference_lets_its_device_upload_but_opens_the_photo_to_nobody() {
        let mut copied = held_by_job(5, RenditionKind::Display, 3);
        copied.borrowed = true;
        let holders = [copied];
        assert!(!may_read(Reader::Staff(&who(3, Role::Operative)), &holders));
        assert!(!may_read(
            Reader::Resident {
                job: JobId::from_u128(5)
            },
            &holders
        ));
        assert!(may_upload(&who(3, Role::Operative), &holders));
    }

    #[test]
    fn a_blob_nobody_references_is_neither_readable_nor_uploadable() {
        assert!(!may_read(Reader::Staff(&who(7, Role::Dispatcher)), &[]));
        assert!(!may_upload(&who(7, Role::Dispatcher), &[]));
    }
}
