//! # Doorstep's core
//!
//! Everything the operative app and the sync server agree on, with no IO so
//! it builds for every target the app runs on, `wasm32-unknown-unknown`
//! included.
//!
//! ## Design
//!
//! - **One Automerge document per job** ([`job`]) and per waste round
//!   ([`round`]), so a device works offline for days and concurrent edits
//!   merge field by field. Resident personal data is a separate [`contact`]
//!   document that can be deleted outright when its retention ends.
//! - **Server-owned and device-owned parts.** Each document has an `office`
//!   map only the server writes (reference, appointment, assignee, verdicts);
//!   devices add keyed entries (photos, ticks, events, requests) beside it.
//! - **Status changes are requests** ([`transition`]): a device appends a
//!   request, the server appends a verdict, and the status is the latest
//!   accepted request. The app shows a pending request at once.
//! - **Writes go to one key at a time** ([`job::JobEditor`]), never by
//!   writing back a whole struct, so a view read before a merge cannot erase
//!   what the merge brought in.
//! - **Workflows are data** ([`service`]): TOML files name the states,
//!   transitions, roles, evidence, checklist, SLAs and notification texts.
//!   [`workflow`] applies them, on the device to offer actions and on the
//!   server to decide requests.
//! - **Schema versions** ([`migrate`]): the server migrates older documents;
//!   an app that meets a newer one shows it read-only.
//! - **No clock, no randomness**: callers pass `now` and random bytes in.
//!
//! ## A job's life, in brief
//!
//! ```
//! use automerge::ActorId;
//! use doorstep_shared::prelude::*;
//!
//! let services = ServiceCatalog::builtin()?;
//! let repair = services.get(&"housing-repair".parse()?).expect("shipped");
//! let server = ActorId::from(b"server".as_slice());
//! let operative = Actor { user: UserId::from_u128(7), role: Role::Operative, device: None };
//! let now = Timestamp::from_millis(1_800_000_000_000);
//!
//! // The server creates the job; a dispatcher books it from the office.
//! let mut server_doc = demo::job(repair, 1, "12 Acacia Avenue, Worthing, BN11 1AA", now)
//!     .create_document(server)?;
//! let dispatcher = Actor { user: UserId::from_u128(1), role: Role::Dispatcher, device: None };
//! let (reported, booked): (StateId, StateId) = ("reported".parse()?, "booked".parse()?);
//! JobEditor::new(&mut server_doc, dispatcher)?.request_transition(
//!     TransitionId::from_u128(1), reported, booked.clone(), Evidence::default(), now)?;
//! OfficeEditor::new(&mut server_doc)?.decide_pending(repair, now, |a| a.role)?;
//! assert_eq!(Job::load(&server_doc)?.status(repair), &booked);
//!
//! // The operative's phone has a copy; offline, it asks to start work.
//! let mut phone = server_doc.fork().with_actor(ActorId::from(b"phone".as_slice()));
//! let start: StateId = "in_progress".parse()?;
//! let request = TransitionId::from_u128(2);
//! let mut editor = JobEditor::new(&mut phone, operative.clone())?;
//! editor.add_photo(PhotoId::from_u128(1), &demo::photo("before".parse()?, &operative, now))?;
//! editor.request_transition(request, booked, start.clone(), Evidence::default(), now)?;
//!
//! // Back in signal: the server merges and decides.
//! server_doc.merge(&mut phone)?;
//! let decided = OfficeEditor::new(&mut server_doc)?.decide_pending(repair, now, |a| a.role)?;
//! assert_eq!(decided, vec![(request, Ok(start.clone()))]);
//! assert_eq!(Job::load(&server_doc)?.status(repair), &start);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[macro_use]
mod encoding;

pub mod blob;
pub mod booking;
pub mod contact;
pub mod demo;
pub mod document;
pub mod failpoint;
pub mod ids;
pub mod job;
pub mod migrate;
pub mod notify;
pub mod photo;
pub mod policy;
pub mod round;
pub mod service;
pub mod summary;
pub mod sync;
pub mod time;
pub mod transition;
pub mod upload;
pub mod workflow;

/// The names most callers need.
pub mod prelude {
    pub use crate::contact::{Channel, Contact, EmailAddress, PhoneNumber};
    pub use crate::demo;
    pub use crate::document::{Compatibility, DocumentError};
    pub use crate::ids::{
        BlobHash, DeviceId, EventId, JobId, Name, PhotoId, PropertyId, RoundId, ServiceId, StateId,
        TeamId, TenantId, TransitionId, UserId,
    };
    pub use crate::job::{Job, JobEditor, OfficeEditor};
    pub use crate::round::{Round, RoundEditor, RoundOfficeEditor};
    pub use crate::service::{ServiceCatalog, ServiceDefinition};
    pub use crate::summary::JobSummary;
    pub use crate::time::{Date, Timestamp};
    pub use crate::transition::{Actor, Decision, Evidence, Role};
    pub use crate::workflow::InvalidTransition;
}
