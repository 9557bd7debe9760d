//! What a device may write. Devices sign their changes with the Automerge
//! actor id fixed at enrolment, and never touch the server-owned part of a
//! document (`office`, `schema_version`): the server refuses any push that
//! does, so a device cannot write a verdict, an appointment or an
//! assignment, nor write as someone else.

use automerge::{ActorId, AutoCommit, Change, Prop, ReadDoc};

/// Root keys only the server writes.
pub const SERVER_OWNED: &[&str] = &["office", "schema_version"];

/// Why a device's changes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteRefused {
    /// The change is signed by another actor than the device's.
    #[error(
        "a change is signed by another device's key; each device may only send its own changes"
    )]
    ForeignActor,
    /// The change writes a field only the server writes.
    #[error("the change writes \"{key}\", which only the council's server may change")]
    ServerOwned {
        /// The top-level key written.
        key: String,
    },
    /// The change could not be interpreted against the document.
    #[error("the change refers to something the document does not contain")]
    Unresolvable,
}

/// Checks a device's changes, already applied to `doc`, against what the
/// device may write.
pub fn check_device_changes(
    doc: &AutoCommit,
    changes: &[Change],
    device_actor: &ActorId,
) -> Result<(), WriteRefused> {
    for change in changes {
        if change.actor_id() != device_actor {
            return Err(WriteRefused::ForeignActor);
        }
        for op in change.decode().operations {
            let top_key = match &op.obj {
                automerge::legacy::ObjectId::Root => match &op.key {
                    automerge::legacy::Key::Map(key) => key.to_string(),
                    automerge::legacy::Key::Seq(_) => return Err(WriteRefused::Unresolvable),
                },
                object => {
                    let id = doc
                        .import_obj(&object.to_string())
                        .map_err(|_| WriteRefused::Unresolvable)?;
                    let path = doc
                        .parents(id)
                        .map_err(|_| WriteRefused::Unresolvable)?
                        .path();
                    match path.first() {
                        Some((_, Prop::Map(key))) => key.clone(),
                        _ => return Err(WriteRefused::Unresolvable),
                    }
                }
            };
            if SERVER_OWNED.contains(&top_key.as_str()) {
                return Err(WriteRefused::ServerOwned { key: top_key });
            }
        }
    }
    Ok(())
}
