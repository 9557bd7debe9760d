//! The outbox's rows: what residents are to be told, written with the
//! change that caused it (see `SyncStore::enqueue`), claimed by a delivery
//! worker for a while so two server nodes never send the same row, and
//! finished as sent, skipped (checked again and found not to go), retried
//! later, or failed.

use doorstep_shared::contact::Channel;
use doorstep_shared::ids::{JobId, Name, TenantId};
use doorstep_shared::notify::ResidentEvent;
use doorstep_shared::time::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, StoreError, parse};

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Its number.
    pub id: i64,
    /// The council.
    pub tenant: TenantId,
    /// The job.
    pub job: JobId,
    /// What the resident experienced (unique with the channel).
    pub key: String,
    /// SMS or email.
    pub channel: Channel,
    /// The notification: `created`, a transition id or an action id.
    pub event: Name,
    /// When it happened.
    pub happened_at: Timestamp,
    /// `pending`, `sent`, `failed` or `skipped`.
    pub status: String,
    /// Tries so far.
    pub attempts: u32,
    /// Who it went to, once sent.
    pub recipient: Option<String>,
    /// The email subject, once sent.
    pub subject: Option<String>,
    /// The text, once sent.
    pub body: Option<String>,
    /// Why it was skipped or failed, or the last error.
    pub outcome: Option<String>,
    /// When it was sent.
    pub sent_at: Option<Timestamp>,
    /// The provider's id for it, once sent.
    pub provider_ref: Option<String>,
    /// The provider's last word on delivery.
    pub delivery: Option<String>,
}

/// How a claimed row ends (for now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The provider took it.
    Sent {
        /// The address or number.
        recipient: String,
        /// The email subject.
        subject: Option<String>,
        /// The text.
        body: String,
        /// The provider's id for it.
        provider_ref: String,
        /// When.
        at: Timestamp,
    },
    /// Checked again and not to be sent (opted out, unreachable…).
    Skipped(String),
    /// Try again at `at`.
    Retry {
        /// When.
        at: Timestamp,
        /// What went wrong.
        why: String,
    },
    /// Given up.
    Failed(String),
    /// Not to go before `until` (quiet hours); not counted as a try.
    Hold {
        /// When it may go.
        until: Timestamp,
        /// Why it waits.
        why: String,
    },
}

/// The outbox, for the delivery worker and the demo page.
pub trait OutboxRecords {
    /// Claims up to `limit` rows due at `now` until `lease_until`: rows
    /// another worker holds are left alone.
    fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError>;

    /// Ends a claim.
    fn finish(&self, id: i64, finish: &Finish) -> Result<(), StoreError>;

    /// The newest rows, for the demo outbox page.
    fn outbox(&self, limit: usize) -> Result<Vec<OutboxRow>, StoreError>;

    /// A job's messages, oldest first.
    fn outbox_for_job(&self, job: JobId) -> Result<Vec<OutboxRow>, StoreError>;

    /// Keeps a tracking token's hash for a job.
    fn put_tracking_token(
        &self,
        hash: &[u8],
        tenant: TenantId,
        job: JobId,
        issued_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// The job a tracking token's hash leads to.
    fn tracking_token(&self, hash: &[u8]) -> Result<Option<(TenantId, JobId)>, StoreError>;

    /// Records the provider's delivery status for the message it knows as
    /// `provider_ref`; the row, if there is one.
    fn record_delivery(
        &self,
        provider_ref: &str,
        status: &str,
    ) -> Result<Option<OutboxRow>, StoreError>;
}

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

/// The columns every read selects, in order.
pub(super) const COLUMNS: &str = "id, tenant, job, key, channel, event, happened_at, status, \
     attempts, recipient, subject, body, outcome, sent_at, provider_ref, delivery";

/// A row's columns as read, before parsing.
pub(super) struct RawRow {
    pub(super) id: i64,
    pub(super) tenant: String,
    pub(super) job: String,
    pub(super) key: String,
    pub(super) channel: String,
    pub(super) event: String,
    pub(super) happened_at: i64,
    pub(super) status: String,
    pub(super) attempts: i64,
    pub(super) recipient: Option<String>,
    pub(super) subject: Option<String>,
    pub(super) body: Option<String>,
    pub(super) outcome: Option<String>,
    pub(super) sent_at: Option<i64>,
    pub(super) provider_ref: Option<String>,
    pub(super) delivery: Option<String>,
}

impl RawRow {
    pub(super) fn parse(self) -> Result<OutboxRow, StoreError> {
        let channel = match self.channel.as_str() {
            "sms" => Channel::Sms,
            "email" => Channel::Email,
            _ => {
                return Err(StoreError::Corrupt {
                    what: "outbox channel",
                    value: self.channel,
                });
            }
        };
        Ok(OutboxRow {
            id: self.id,
            tenant: parse("tenant id", self.tenant)?,
            job: parse("job id", self.job)?,
            key: self.key,
            channel,
            event: parse("event name", self.event)?,
            happened_at: Timestamp::from_millis(self.happened_at),
            status: self.status,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            recipient: self.recipient,
            subject: self.subject,
            body: self.body,
            outcome: self.outcome,
            sent_at: self.sent_at.map(Timestamp::from_millis),
            provider_ref: self.provider_ref,
            delivery: self.delivery,
        })
    }
}

fn raw(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: row.get(0)?,
        tenant: row.get(1)?,
        job: row.get(2)?,
        key: row.get(3)?,
        channel: row.get(4)?,
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

impl OutboxRecords for SqliteStore {
    fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection.prepare_cached(&format!(
            "UPDATE outbox SET claimed_until = ?2, attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM outbox
                 WHERE status = 'pending' AND next_attempt <= ?1
                   AND (claimed_until IS NULL OR claimed_until <= ?1)
                 ORDER BY next_attempt, id LIMIT ?3)
             RETURNING {COLUMNS}"
        ))?;
        let rows = statement
            .query_map(
                params![now.as_millis(), lease_until.as_millis(), limit as i64],
                raw,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        let mut claimed = rows
            .into_iter()
            .map(RawRow::parse)
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|row| row.id);
        Ok(claimed)
    }

    fn finish(&self, id: i64, finish: &Finish) -> Result<(), StoreError> {
        let connection = self.connection()?;
        match finish {
            Finish::Sent {
                recipient,
                subject,
                body,
                provider_ref,
                at,
            } => connection.execute(
                "UPDATE outbox SET status = 'sent', claimed_until = NULL, recipient = ?2,
                     subject = ?3, body = ?4, provider_ref = ?5, sent_at = ?6, outcome = NULL
                 WHERE id = ?1",
                params![id, recipient, subject, body, provider_ref, at.as_millis()],
            )?,
            Finish::Skipped(why) => connection.execute(
                "UPDATE outbox SET status = 'skipped', claimed_until = NULL, outcome = ?2
                 WHERE id = ?1",
                params![id, why],
            )?,
            Finish::Retry { at, why } => connection.execute(
                "UPDATE outbox SET claimed_until = NULL, next_attempt = ?2, outcome = ?3
                 WHERE id = ?1",
                params![id, at.as_millis(), why],
            )?,
            Finish::Failed(why) => connection.execute(
                "UPDATE outbox SET status = 'failed', claimed_until = NULL, outcome = ?2
                 WHERE id = ?1",
                params![id, why],
            )?,
            Finish::Hold { until, why } => connection.execute(
                "UPDATE outbox SET claimed_until = NULL, next_attempt = ?2, outcome = ?3,
                     attempts = attempts - 1
                 WHERE id = ?1",
                params![id, until.as_millis(), why],
            )?,
        };
        Ok(())
    }

    fn put_tracking_token(
        &self,
        hash: &[u8],
        tenant: TenantId,
        job: JobId,
        issued_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.connection()?.execute(
            "INSERT INTO tracking_tokens (hash, tenant, job, issued_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                hash,
                tenant.to_string(),
                job.to_string(),
                issued_at.as_millis()
            ],
        )?;
        Ok(())
    }

    fn tracking_token(&self, hash: &[u8]) -> Result<Option<(TenantId, JobId)>, StoreError> {
        let row: Option<(String, String)> = self
            .connection()?
            .query_row(
                "SELECT tenant, job FROM tracking_tokens WHERE hash = ?1",
                params![hash],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        row.map(|(tenant, job)| Ok((parse("tenant id", tenant)?, parse("job id", job)?)))
            .transpose()
    }

    fn record_delivery(
        &self,
        provider_ref: &str,
        status: &str,
    ) -> Result<Option<OutboxRow>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection.prepare_cached(&format!(
            "UPDATE outbox SET delivery = ?2 WHERE provider_ref = ?1 RETURNING {COLUMNS}"
        ))?;
        let rows = statement
            .query_map(params![provider_ref, status], raw)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().next().map(RawRow::parse).transpose()
    }

    fn outbox(&self, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?1"
        ))?;
        let rows = statement
            .query_map(params![limit as i64], raw)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(RawRow::parse).collect()
    }

    fn outbox_for_job(&self, job: JobId) -> Result<Vec<OutboxRow>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE job = ?1 ORDER BY id"
        ))?;
        let rows = statement
            .query_map(params![job.to_string()], raw)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(RawRow::parse).collect()
    }
}
