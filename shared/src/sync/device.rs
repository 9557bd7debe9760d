//! The device side of sync: what to send, and what to do with the reply.
//!
//! [`DeviceSync`] keeps the cursors and the changes not yet accepted, and
//! decides when to try again. The app's shell applies the [`Effect`]s it
//! returns to its documents and persists [`DeviceSync::save`] in the same
//! transaction, so a crash between the two never loses or repeats work.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::wire::{
    Content, Cursor, DefinitionChanges, DefinitionNews, DocumentId, HeldDefinitions, Push,
    SyncReply, SyncRequest, TenantRequest, WireError,
};
use crate::ids::{ServiceId, TenantId};
use crate::service::{DefinitionVersion, DefinitionsDigest};
use crate::time::Timestamp;

/// How long a request may go unanswered before it counts as failed.
pub const REQUEST_TIMEOUT_MS: i64 = 30_000;
/// The first wait after a failure; it doubles up to [`MAX_RETRY_MS`].
pub const FIRST_RETRY_MS: i64 = 1_000;
/// The longest wait between attempts, so a device back in signal syncs soon.
pub const MAX_RETRY_MS: i64 = 30_000;

/// Something the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Apply changes or a whole document received from the server.
    Apply {
        /// The tenant.
        tenant: TenantId,
        /// The document.
        doc: DocumentId,
        /// What to apply.
        content: Content,
    },
    /// Delete a document that left the device's scope (its own changes to
    /// it have all been accepted).
    Remove {
        /// The tenant.
        tenant: TenantId,
        /// The document.
        doc: DocumentId,
    },
    /// Keep these service definition files (and drop the removed ones):
    /// the tenant's definitions changed since those the device holds.
    Definitions {
        /// The tenant.
        tenant: TenantId,
        /// What changed.
        changes: DefinitionChanges,
    },
    /// Tell the person.
    Event(SyncEvent),
}

/// What the sync status line shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// A sync finished.
    Synced {
        /// When.
        at: Timestamp,
    },
    /// The server refused some changes; they stay on the device.
    Refused {
        /// The document.
        doc: DocumentId,
        /// Why.
        reason: String,
    },
    /// The server refused a whole council.
    TenantRefused {
        /// The council.
        tenant: TenantId,
        /// Why.
        reason: String,
    },
    /// The server needs a newer app.
    UpdateRequired(String),
    /// A sync failed; the next attempt is due at `retry_at`.
    Failed {
        /// Why.
        reason: String,
        /// When it will try again.
        retry_at: Timestamp,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct TenantState {
    cursor: Cursor,
    /// Local changes not yet accepted, oldest first.
    pending: BTreeMap<DocumentId, Vec<Vec<u8>>>,
    /// Local changes the server refused, kept so nothing is lost.
    refused: BTreeMap<DocumentId, Vec<Vec<u8>>>,
    /// Documents that left scope but still had changes to push.
    leaving: BTreeSet<DocumentId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct InFlight {
    request_id: u64,
    sent_at: Timestamp,
    pushed: BTreeMap<(TenantId, DocumentId), usize>,
}

/// The device's sync state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSync {
    tenants: BTreeMap<TenantId, TenantState>,
    next_request_id: u64,
    in_flight: Option<InFlight>,
    failures: u32,
    next_attempt: Timestamp,
    /// Set when the server needs a newer app: syncing stops until then.
    update_required: Option<String>,
    /// Why the server refused each document's changes, for as long as it
    /// has refused ones.
    reasons: BTreeMap<DocumentId, String>,
    /// The service definitions the device holds, by tenant: the shell keeps
    /// the files and says which at start ([`DeviceSync::hold_definitions`]).
    definitions: BTreeMap<TenantId, BTreeMap<ServiceId, DefinitionVersion>>,
    /// Tenants whose server said the definitions differ: the next request
    /// lists what is held.
    definitions_differ: BTreeSet<TenantId>,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    tenants: BTreeMap<TenantId, TenantState>,
    next_request_id: u64,
    /// Why the server refused each document's changes. Added after the
    /// first release: state saved before it lacks this field.
    reasons: BTreeMap<DocumentId, String>,
}

/// The state as apps before refusal reasons saved it.
#[derive(Serialize, Deserialize)]
struct SavedWithoutReasons {
    tenants: BTreeMap<TenantId, TenantState>,
    next_request_id: u64,
}

/// Why a document whose changes were refused before reasons were kept is
/// read-only.
const REASON_NOT_KEPT: &str = "the server refused changes to it";

/// Why a document that left the device's scope is read-only.
pub const LEFT_SCOPE: &str = "it is no longer given to you";

impl DeviceSync {
    /// A device that has never synced, working for these councils.
    pub fn new(tenants: impl IntoIterator<Item = TenantId>) -> Self {
        Self {
            tenants: tenants
                .into_iter()
                .map(|t| (t, TenantState::default()))
                .collect(),
            next_request_id: 1,
            in_flight: None,
            failures: 0,
            next_attempt: Timestamp::from_millis(i64::MIN),
            update_required: None,
            reasons: BTreeMap::new(),
            definitions: BTreeMap::new(),
            definitions_differ: BTreeSet::new(),
        }
    }

    /// The state to persist with every change to it.
    pub fn save(&self) -> Vec<u8> {
        let saved = Saved {
            tenants: self.tenants.clone(),
            next_request_id: self.next_request_id,
            reasons: self.reasons.clone(),
        };
        postcard::to_allocvec(&saved).unwrap_or_default()
    }

    /// The state as persisted; a request in flight at the time counts as lost.
    pub fn restore(bytes: &[u8]) -> Result<Self, WireError> {
        let saved = match postcard::from_bytes::<Saved>(bytes) {
            Ok(saved) => saved,
            Err(error) => {
                let older: SavedWithoutReasons = postcard::from_bytes(bytes)
                    .map_err(|_| WireError::Malformed(error.to_string()))?;
                let reasons = older
                    .tenants
                    .values()
                    .flat_map(|t| t.refused.keys())
                    .map(|doc| (*doc, REASON_NOT_KEPT.to_owned()))
                    .collect();
                Saved {
                    tenants: older.tenants,
                    next_request_id: older.next_request_id,
                    reasons,
                }
            }
        };
        Ok(Self {
            tenants: saved.tenants,
            next_request_id: saved.next_request_id,
            in_flight: None,
            failures: 0,
            next_attempt: Timestamp::from_millis(i64::MIN),
            update_required: None,
            reasons: saved.reasons,
            definitions: BTreeMap::new(),
            definitions_differ: BTreeSet::new(),
        })
    }

    /// Says which service definitions the device holds for a tenant (the
    /// shell keeps the files; this state does not). Each request names
    /// them, and the reply carries only what changed.
    pub fn hold_definitions(
        &mut self,
        tenant: TenantId,
        held: impl IntoIterator<Item = (ServiceId, DefinitionVersion)>,
    ) {
        self.definitions.insert(tenant, held.into_iter().collect());
    }

    /// Whether a server said its definitions differ from those held: one
    /// more exchange, listing them, brings what changed.
    pub fn wants_definitions(&self) -> bool {
        !self.definitions_differ.is_empty()
    }

    /// What to tell the server of the definitions held for a tenant.
    fn held_definitions(&self, tenant: TenantId) -> HeldDefinitions {
        match self.definitions.get(&tenant) {
            Some(held) if !held.is_empty() && !self.definitions_differ.contains(&tenant) => {
                HeldDefinitions::Digest(DefinitionsDigest::of(held))
            }
            _ => HeldDefinitions::List(self.definitions(tenant)),
        }
    }

    /// The service definitions held for a tenant.
    pub fn definitions(&self, tenant: TenantId) -> Vec<(ServiceId, DefinitionVersion)> {
        self.definitions
            .get(&tenant)
            .map(|held| held.iter().map(|(s, v)| (s.clone(), *v)).collect())
            .unwrap_or_default()
    }

    /// Why the app must not edit `doc`, if it must not: it left the
    /// device's scope (the changes already made are still pushed), or the
    /// server refused changes to it, which any later edit would depend on.
    pub fn read_only(&self, doc: DocumentId) -> Option<&str> {
        if let Some(reason) = self.reasons.get(&doc) {
            return Some(reason);
        }
        self.tenants
            .values()
            .any(|t| t.leaving.contains(&doc))
            .then_some(LEFT_SCOPE)
    }

    /// Records changes made on this device, to push at the next sync.
    pub fn record_local(&mut self, tenant: TenantId, doc: DocumentId, changes: Vec<Vec<u8>>) {
        if changes.is_empty() {
            return;
        }
        self.tenants
            .entry(tenant)
            .or_default()
            .pending
            .entry(doc)
            .or_default()
            .extend(changes);
    }

    /// Changes waiting to be accepted by the server.
    pub fn waiting(&self) -> usize {
        self.tenants
            .values()
            .flat_map(|t| t.pending.values())
            .map(Vec::len)
            .sum()
    }

    /// Documents with changes waiting to be accepted.
    pub fn waiting_documents(&self) -> BTreeSet<DocumentId> {
        self.tenants
            .values()
            .flat_map(|t| t.pending.keys())
            .copied()
            .collect()
    }

    /// Documents with changes the server refused.
    pub fn refused_documents(&self) -> BTreeSet<DocumentId> {
        self.tenants
            .values()
            .flat_map(|t| t.refused.keys())
            .copied()
            .collect()
    }

    /// Changes the server refused, kept on the device.
    pub fn refused(&self) -> usize {
        self.tenants
            .values()
            .flat_map(|t| t.refused.values())
            .map(Vec::len)
            .sum()
    }

    /// The cursor for a tenant.
    pub fn cursor(&self, tenant: TenantId) -> Option<Cursor> {
        self.tenants.get(&tenant).map(|t| t.cursor)
    }

    /// Why syncing stopped until the app is updated, if it did.
    pub fn update_required(&self) -> Option<&str> {
        self.update_required.as_deref()
    }

    /// Whether a request is waiting for its reply.
    pub fn is_syncing(&self) -> bool {
        self.in_flight.is_some()
    }

    /// When the next attempt is allowed (after failures, with backoff).
    pub fn next_attempt(&self) -> Timestamp {
        self.next_attempt
    }

    /// The request to send now, if it is time for one: nothing in flight (or
    /// the one in flight timed out) and no backoff pending.
    pub fn poll(&mut self, now: Timestamp) -> Option<Vec<u8>> {
        if self.update_required.is_some() {
            return None;
        }
        if let Some(in_flight) = &self.in_flight {
            if now.as_millis() - in_flight.sent_at.as_millis() < REQUEST_TIMEOUT_MS {
                return None;
            }
            self.failed(now, "the server did not answer in time");
        }
        if now < self.next_attempt {
            return None;
        }
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        let mut pushed = BTreeMap::new();
        let tenants = self
            .tenants
            .iter()
            .map(|(tenant, state)| TenantRequest {
                tenant: *tenant,
                cursor: state.cursor,
                pushes: state
                    .pending
                    .iter()
                    .map(|(doc, changes)| {
                        pushed.insert((*tenant, *doc), changes.len());
                        Push {
                            doc: *doc,
                            changes: changes.clone(),
                        }
                    })
                    .collect(),
                definitions: Some(self.held_definitions(*tenant)),
            })
            .collect();
        self.in_flight = Some(InFlight {
            request_id,
            sent_at: now,
            pushed,
        });
        Some(
            SyncRequest {
                request_id,
                tenants,
            }
            .encode(),
        )
    }

    /// The server said, over a live connection, that something changed:
    /// sync at the next poll, whatever the backoff says.
    pub fn changed(&mut self) {
        self.next_attempt = Timestamp::from_millis(i64::MIN);
    }

    /// The request failed (no network, server error); try again later.
    pub fn failed(&mut self, now: Timestamp, reason: &str) -> Effect {
        self.in_flight = None;
        self.failures = self.failures.saturating_add(1);
        let wait = FIRST_RETRY_MS
            .saturating_mul(1 << self.failures.min(16).saturating_sub(1))
            .min(MAX_RETRY_MS);
        self.next_attempt = now.plus_millis(wait);
        Effect::Event(SyncEvent::Failed {
            reason: reason.to_owned(),
            retry_at: self.next_attempt,
        })
    }

    /// Handles a reply. Replies to anything but the request in flight
    /// (duplicates, stragglers) are ignored.
    pub fn receive(&mut self, now: Timestamp, bytes: &[u8]) -> Vec<Effect> {
        let reply = match SyncReply::decode(bytes) {
            Ok(reply) => reply,
            Err(WireError::UpdateRequired(message)) => {
                self.in_flight = None;
                self.update_required = Some(message.clone());
                return vec![Effect::Event(SyncEvent::UpdateRequired(message))];
            }
            Err(error) => {
                if self.in_flight.is_none() {
                    return Vec::new();
                }
                return vec![self.failed(now, &error.to_string())];
            }
        };
        let Some(in_flight) = self.in_flight.take_if(|f| f.request_id == reply.request_id) else {
            return Vec::new();
        };
        let mut effects = Vec::new();
        for tenant_reply in reply.tenants {
            let tenant = tenant_reply.tenant;
            let state = self.tenants.entry(tenant).or_default();
            if let Some(reason) = tenant_reply.error {
                effects.push(Effect::Event(SyncEvent::TenantRefused { tenant, reason }));
                continue;
            }
            for doc in tenant_reply.accepted {
                drain_pushed(&mut state.pending, &in_flight.pushed, tenant, doc);
            }
            for refusal in tenant_reply.refused {
                let moved =
                    drain_pushed(&mut state.pending, &in_flight.pushed, tenant, refusal.doc);
                state.refused.entry(refusal.doc).or_default().extend(moved);
                self.reasons.insert(refusal.doc, refusal.reason.clone());
                effects.push(Effect::Event(SyncEvent::Refused {
                    doc: refusal.doc,
                    reason: refusal.reason,
                }));
            }
            for update in tenant_reply.updates {
                // Back in scope: no longer to be removed once its changes are in.
                state.leaving.remove(&update.doc);
                effects.push(Effect::Apply {
                    tenant,
                    doc: update.doc,
                    content: update.content,
                });
            }
            state.leaving.extend(tenant_reply.left_scope);
            let gone: Vec<DocumentId> = state
                .leaving
                .iter()
                .filter(|doc| !state.pending.contains_key(doc))
                .copied()
                .collect();
            for doc in gone {
                state.leaving.remove(&doc);
                state.refused.remove(&doc);
                self.reasons.remove(&doc);
                effects.push(Effect::Remove { tenant, doc });
            }
            state.cursor = tenant_reply.cursor;
            match tenant_reply.definitions {
                None | Some(DefinitionNews::Same) => {}
                Some(DefinitionNews::Differ) => {
                    self.definitions_differ.insert(tenant);
                }
                Some(DefinitionNews::Changed(changes)) => {
                    self.definitions_differ.remove(&tenant);
                    if !changes.is_empty() {
                        let held = self.definitions.entry(tenant).or_default();
                        for service in &changes.removed {
                            held.remove(service);
                        }
                        for file in &changes.changed {
                            held.insert(file.service.clone(), file.version());
                        }
                        effects.push(Effect::Definitions { tenant, changes });
                    }
                }
            }
        }
        self.failures = 0;
        self.next_attempt = Timestamp::from_millis(i64::MIN);
        effects.push(Effect::Event(SyncEvent::Synced { at: now }));
        effects
    }
}

/// Removes the changes that were pushed for a document from its pending
/// list, returning them; changes recorded since stay pending.
fn drain_pushed(
    pending: &mut BTreeMap<DocumentId, Vec<Vec<u8>>>,
    pushed: &BTreeMap<(TenantId, DocumentId), usize>,
    tenant: TenantId,
    doc: DocumentId,
) -> Vec<Vec<u8>> {
    let count = pushed.get(&(tenant, doc)).copied().unwrap_or(0);
    let Some(changes) = pending.get_mut(&doc) else {
        return Vec::new();
    };
    let drained: Vec<Vec<u8>> = changes.drain(..count.min(changes.len())).collect();
    if changes.is_empty() {
        pending.remove(&doc);
    }
    drained
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::wire::{Refusal, TenantReply, update_required};

    const TENANT: TenantId = TenantId::from_u128(1);

    #[test]
    fn a_server_that_needs_a_newer_app_stops_the_syncing_until_then() {
        let mut sync = DeviceSync::new([TENANT]);
        let now = Timestamp::from_millis(0);
        assert!(sync.poll(now).is_some());
        let effects = sync.receive(now, &update_required("Update Doorstep from the app store."));
        assert!(matches!(
            &effects[..],
            [Effect::Event(SyncEvent::UpdateRequired(_))]
        ));
        assert!(sync.poll(now.plus_minutes(60)).is_none());
        assert_eq!(
            sync.update_required(),
            Some("Update Doorstep from the app store.")
        );
    }

    #[test]
    fn failures_back_off_doubling_up_to_the_cap_and_a_reply_resets_it() {
        let mut sync = DeviceSync::new([TENANT]);
        let mut now = Timestamp::from_millis(0);
        let mut waits = Vec::new();
        for _ in 0..8 {
            assert!(sync.poll(now).is_some());
            let Effect::Event(SyncEvent::Failed { retry_at, .. }) = sync.failed(now, "offline")
            else {
                panic!("expected a failure event");
            };
            waits.push(retry_at.as_millis() - now.as_millis());
            assert!(sync.poll(now).is_none(), "no retry before the wait is over");
            now = retry_at;
        }
        assert_eq!(
            waits,
            [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
    }

    #[test]
    fn saved_state_restores_cursors_and_unsent_changes() {
        let mut sync = DeviceSync::new([TENANT]);
        let doc = DocumentId::Job(crate::ids::JobId::from_u128(5));
        sync.record_local(TENANT, doc, vec![vec![1, 2, 3]]);
        let restored = DeviceSync::restore(&sync.save()).unwrap();
        assert_eq!(restored.waiting(), 1);
        assert!(DeviceSync::restore(b"garbage").is_err());
    }

    fn reply(request_id: u64, refused: Vec<Refusal>, left_scope: Vec<DocumentId>) -> Vec<u8> {
        SyncReply {
            request_id,
            tenants: vec![TenantReply {
                tenant: TENANT,
                cursor: Cursor::default(),
                accepted: Vec::new(),
                refused,
                updates: Vec::new(),
                left_scope,
                error: None,
                definitions: None,
            }],
        }
        .encode()
    }

    #[test]
    fn a_refused_document_is_read_only_with_the_reason_and_the_others_still_sync() {
        let mut sync = DeviceSync::new([TENANT]);
        let now = Timestamp::from_millis(0);
        let forged = DocumentId::Job(crate::ids::JobId::from_u128(5));
        let honest = DocumentId::Job(crate::ids::JobId::from_u128(6));
        sync.record_local(TENANT, forged, vec![vec![1]]);
        assert!(sync.poll(now).is_some());
        sync.record_local(TENANT, honest, vec![vec![2]]);
        let refusal = Refusal {
            doc: forged,
            reason: "a transition request must be filed by you".into(),
        };
        sync.receive(now, &reply(1, vec![refusal], Vec::new()));
        assert_eq!(
            sync.read_only(forged),
            Some("a transition request must be filed by you")
        );
        assert_eq!(sync.read_only(honest), None);
        // The other document's change still goes with the next request.
        let request = SyncRequest::decode(&sync.poll(now).unwrap()).unwrap();
        let pushed: Vec<DocumentId> = request.tenants[0].pushes.iter().map(|p| p.doc).collect();
        assert_eq!(pushed, [honest]);
        // The reason survives a restart.
        let restored = DeviceSync::restore(&sync.save()).unwrap();
        assert_eq!(
            restored.read_only(forged),
            Some("a transition request must be filed by you")
        );
    }

    #[test]
    fn a_document_leaving_scope_is_read_only_until_its_last_changes_are_pushed() {
        let mut sync = DeviceSync::new([TENANT]);
        let now = Timestamp::from_millis(0);
        let doc = DocumentId::Job(crate::ids::JobId::from_u128(5));
        assert!(sync.poll(now).is_some());
        // Made while the request that learns of the removal was in flight.
        sync.record_local(TENANT, doc, vec![vec![1]]);
        sync.receive(now, &reply(1, Vec::new(), vec![doc]));
        assert_eq!(sync.read_only(doc), Some(LEFT_SCOPE));
        assert_eq!(sync.waiting(), 1, "the last offline edit is still pushed");
    }

    #[test]
    fn state_saved_by_an_app_that_kept_no_reasons_still_restores() {
        let doc = DocumentId::Job(crate::ids::JobId::from_u128(5));
        let state = TenantState {
            refused: BTreeMap::from([(doc, vec![vec![1]])]),
            ..TenantState::default()
        };
        let older = postcard::to_allocvec(&SavedWithoutReasons {
            tenants: BTreeMap::from([(TENANT, state)]),
            next_request_id: 7,
        })
        .unwrap();
        let restored = DeviceSync::restore(&older).unwrap();
        assert_eq!(restored.refused(), 1);
        assert_eq!(restored.read_only(doc), Some(REASON_NOT_KEPT));
    }
}
