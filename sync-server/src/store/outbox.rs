//! The outbox's rows: what residents are to be told, written with the
//! change that caused it (see `SyncStore::enqueue`), claimed by a delivery
//! worker for a while so two server nodes never send the same row, and
//! finished as sent, skipped (checked again and found not to go), retried
//! later, or failed.

use doorstep_shared::contact::Channel;
use doorstep_shared::ids::{JobId, TenantId};
use doorstep_shared::notify::ResidentEvent;
use doorstep_shared::time::Timestamp;

use super::db::{FromRow, Row};
use super::{Store, StoreError};
pub use crate::notify::outbox::{Finish, OutboxRow};
use crate::{args, sql};

/// The rows an event makes: one per channel the service has texts for.
pub(super) fn outbox_rows(
    events: &[ResidentEvent],
) -> impl Iterator<Item = (&ResidentEvent, &'static str)> {
    events.iter().flat_map(|event| {
        event
            .channels
            .iter()
            .filter_map(|channel| channel_name(*channel))
            .map(move |channel| (event, channel))
    })
}

fn channel_name(channel: Channel) -> Option<&'static str> {
    match channel {
        Channel::Sms => Some("sms"),
        Channel::Email => Some("email"),
        Channel::None => None,
    }
}

/// The columns every read selects, in order, for [`outbox_row`].
macro_rules! columns {
    () => {
        "id, tenant, job, key, channel, event, happened_at, status, attempts, recipient, \
         subject, body, outcome, sent_at, provider_ref, delivery"
    };
}

/// A row read with [`columns!`].
impl FromRow for OutboxRow {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        let channel: String = row.get(4)?;
        let channel = match channel.as_str() {
            "sms" => Channel::Sms,
            "email" => Channel::Email,
            _ => {
                return Err(StoreError::Corrupt {
                    what: "outbox channel",
                    value: channel,
                });
            }
        };
        Ok(OutboxRow {
            id: row.get(0)?,
            tenant: row.get(1)?,
            job: row.get(2)?,
            key: row.get(3)?,
            channel,
            event: row.get(5)?,
            happened_at: row.get(6)?,
            status: row.get(7)?,
            attempts: row.get(8)?,
            recipient: row.get(9)?,
            subject: row.get(10)?,
            body: row.get(11)?,
            outcome: row.get(12)?,
            sent_at: row.get(13)?,
            provider_ref: row.get(14)?,
            delivery: row.get(15)?,
        })
    }
}

impl Store {
    /// Claims up to `limit` rows due at `now` until `lease_until`: rows
    /// another worker holds are left alone.
    pub fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let mut claimed: Vec<OutboxRow> = self.write(|tx| {
            tx.all(
                sql!(concat!(
                    "UPDATE outbox SET claimed_until = ?2, attempts = attempts + 1
                     WHERE id IN (
                         SELECT id FROM outbox
                         WHERE status = 'pending' AND next_attempt <= ?1
                           AND (claimed_until IS NULL OR claimed_until <= ?1)
                         ORDER BY next_attempt, id LIMIT ?3
                         {skip_locked})
                     RETURNING ",
                    columns!()
                )),
                args![now, lease_until, limit],
            )
        })?;
        claimed.sort_by_key(|row| row.id);
        Ok(claimed)
    }

    /// Ends a claim.
    pub fn finish(&self, id: i64, finish: &Finish) -> Result<(), StoreError> {
        self.write(|tx| {
            match finish {
                Finish::Sent {
                    recipient,
                    subject,
                    body,
                    provider_ref,
                    at,
                } => tx.execute(
                    sql!(
                        "UPDATE outbox SET status = 'sent', claimed_until = NULL,
                             recipient = CASE WHEN erased_at IS NULL THEN ?2 END,
                             subject = CASE WHEN erased_at IS NULL THEN ?3 END,
                             body = CASE WHEN erased_at IS NULL THEN ?4 END,
                             provider_ref = ?5, sent_at = ?6, outcome = NULL
                         WHERE id = ?1"
                    ),
                    args![id, recipient, subject.as_deref(), body, provider_ref, *at],
                )?,
                Finish::Skipped(why) => tx.execute(
                    sql!(
                        "UPDATE outbox SET status = 'skipped', claimed_until = NULL, outcome = ?2
                         WHERE id = ?1"
                    ),
                    args![id, why],
                )?,
                Finish::Retry { at, why } => tx.execute(
                    sql!(
                        "UPDATE outbox SET claimed_until = NULL, next_attempt = ?2, outcome = ?3
                         WHERE id = ?1"
                    ),
                    args![id, *at, why],
                )?,
                Finish::Failed(why) => tx.execute(
                    sql!(
                        "UPDATE outbox SET status = 'failed', claimed_until = NULL, outcome = ?2
                         WHERE id = ?1"
                    ),
                    args![id, why],
                )?,
                Finish::Hold { until, why } => tx.execute(
                    sql!(
                        "UPDATE outbox SET claimed_until = NULL, next_attempt = ?2, outcome = ?3,
                             attempts = attempts - 1
                         WHERE id = ?1"
                    ),
                    args![id, *until, why],
                )?,
            };
            Ok(())
        })
    }

    /// Keeps a tracking token's hash for a job.
    pub fn put_tracking_token(
        &self,
        hash: &[u8],
        tenant: TenantId,
        job: JobId,
        issued_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.execute(
            sql!(
                "INSERT INTO tracking_tokens (hash, tenant, job, issued_at)
                 VALUES (?1, ?2, ?3, ?4)"
            ),
            args![hash, tenant, job, issued_at],
        )
        .map(drop)
    }

    /// The job a tracking token's hash leads to.
    pub fn tracking_token(&self, hash: &[u8]) -> Result<Option<(TenantId, JobId)>, StoreError> {
        self.opt(
            sql!("SELECT tenant, job FROM tracking_tokens WHERE hash = ?1"),
            args![hash],
        )
    }

    /// Records the provider's delivery status for the message it knows as
    /// `provider_ref`; the row, if there is one.
    pub fn record_delivery(
        &self,
        provider_ref: &str,
        status: &str,
    ) -> Result<Option<OutboxRow>, StoreError> {
        self.write(|tx| {
            tx.opt(
                sql!(concat!(
                    "UPDATE outbox SET delivery = ?2 WHERE provider_ref = ?1 RETURNING ",
                    columns!()
                )),
                args![provider_ref, status],
            )
        })
    }

    /// The newest rows, for the demo outbox page.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        self.all(
            sql!(concat!(
                "SELECT ",
                columns!(),
                " FROM outbox ORDER BY id DESC LIMIT ?1"
            )),
            args![limit],
        )
    }

    /// A job's messages, oldest first.
    pub fn outbox_for_job(&self, job: JobId) -> Result<Vec<OutboxRow>, StoreError> {
        self.all(
            sql!(concat!(
                "SELECT ",
                columns!(),
                " FROM outbox WHERE job = ?1 ORDER BY id"
            )),
            args![job],
        )
    }
}
