//! Delivering the outbox: a worker claims the rows that are due, checks
//! each again just before sending (the job and the resident's contact as
//! they are now: an opt-out, or contact details erased, mean it is not
//! sent), writes the message from the service's texts and hands it to a
//! [`Provider`]. A provider that is down gets the row back later, with
//! backoff; the row survives restarts, since it lives in the database.
//!
//! The embedded default is the [`DemoProvider`], which only records what it
//! was given; `GET /demo/outbox` lists what was sent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use bytes::Bytes;
use doorstep_shared::contact::Channel;
use doorstep_shared::contact::Contact;
use doorstep_shared::ids::{BlobHash, JobId, Name, TenantId};
use doorstep_shared::job::Job;
use doorstep_shared::notify::{
    InlinePhoto, Message, MessageContext, compose, reminder_for, shows_photos, sms_held_until,
};
use doorstep_shared::sync::wire::DocumentId;
use doorstep_shared::time::{Timestamp, uk};
use futures_util::TryStreamExt;

use crate::state::AppState;
use crate::store::StoreError;

/// What a kept message shows in place of its tracking link's token.
pub const LINK_NOT_KEPT: &str = "[link not kept]";
/// How long a claim lasts: a node that dies mid-send frees its rows then.
const LEASE_MS: i64 = 5 * 60 * 1000;
/// Rows claimed at a time.
const BATCH: usize = 50;
/// Tries before a row is given up.
const MAX_ATTEMPTS: u32 = 10;
/// The first retry's wait; it doubles each time, up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: i64 = 60 * 1000;
const MAX_BACKOFF_MS: i64 = 60 * 60 * 1000;
/// How long a message that shows photos waits for them to be uploaded
/// before it goes without the missing ones.
const PHOTO_WAIT_MS: i64 = 6 * 60 * 60 * 1000;
/// How often it looks again meanwhile.
const PHOTO_RECHECK_MS: i64 = 5 * 60 * 1000;

/// Why a provider did not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later (the provider is down, or rate-limits us).
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// Trying again will not help (a bad number, a rejected key).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// A boxed future, for providers behind `dyn`.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<String, SendError>> + Send + 'a>>;

/// Something that sends texts or emails.
pub trait Provider: Send + Sync {
    /// Sends one message; `reference` is the outbox row's own id, for the
    /// provider's records. Returns the provider's id for the message.
    fn send<'a>(&'a self, message: &'a Message, reference: &'a str) -> SendFuture<'a>;
}

/// The embedded default: records messages and sends nothing.
#[derive(Debug, Default)]
pub struct DemoProvider {
    sent: Mutex<Vec<Message>>,
}

impl DemoProvider {
    /// What it was given so far.
    pub fn sent(&self) -> Vec<Message> {
        self.sent
            .lock()
            .map(|sent| sent.clone())
            .unwrap_or_default()
    }
}

impl Provider for DemoProvider {
    fn send<'a>(&'a self, message: &'a Message, reference: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            let mut sent = self
                .sent
                .lock()
                .map_err(|_| SendError::Temporary("the demo outbox is poisoned".into()))?;
            sent.push(message.clone());
            Ok(format!("demo-{reference}"))
        })
    }
}

/// Texts through one provider, emails through another (Notify for texts
/// and the council's SMTP server for emails, say).
pub struct ByChannel {
    /// For texts.
    pub sms: std::sync::Arc<dyn Provider>,
    /// For emails.
    pub email: std::sync::Arc<dyn Provider>,
}

impl Provider for ByChannel {
    fn send<'a>(&'a self, message: &'a Message, reference: &'a str) -> SendFuture<'a> {
        match message.channel {
            Channel::Email => self.email.send(message, reference),
            _ => self.sms.send(message, reference),
        }
    }
}

/// Why the delivery worker could not finish a pass.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The store failed.
    #[error(transparent)]
    Work(#[from] crate::state::WorkError),
    /// A tracking link could not be made.
    #[error(transparent)]
    Link(#[from] crate::residents::LinkError),
    /// A photo for an email could not be read.
    #[error(transparent)]
    Photo(#[from] crate::photos::PhotoError),
}

impl From<StoreError> for NotifyError {
    fn from(error: StoreError) -> Self {
        NotifyError::Work(error.into())
    }
}

impl From<object_store::Error> for NotifyError {
    fn from(error: object_store::Error) -> Self {
        NotifyError::Photo(error.into())
    }
}

/// What one pass of the worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Taken by the provider.
    pub sent: usize,
    /// Checked again and not sent.
    pub skipped: usize,
    /// To be tried again later.
    pub retried: usize,
    /// Held back (texts in quiet hours).
    pub held: usize,
    /// Given up.
    pub failed: usize,
}

/// Sends every row due at `now`.
pub async fn deliver_due(
    state: &AppState,
    provider: &dyn Provider,
    now: Timestamp,
) -> Result<Delivered, NotifyError> {
    let rows = state
        .with_store(move |store| store.claim_due(now, now.plus_millis(LEASE_MS), BATCH))
        .await?;
    let mut delivered = Delivered::default();
    for row in rows {
        let id = row.id;
        let attempts = row.attempts;
        // A row that cannot be delivered now (a photo file gone, a store
        // hiccup) is tried again later and in the end given up; it never
        // holds up the rows after it.
        let finish = match deliver_one(state, provider, row, now).await {
            Ok(finish) => finish,
            Err(error) => {
                let why = crate::error::DisplayChain(&error).to_string();
                tracing::warn!(row = id, cause = %why, "could not deliver a message");
                if attempts >= MAX_ATTEMPTS {
                    Finish::Failed(why)
                } else {
                    Finish::Retry {
                        at: now.plus_millis(backoff(attempts)),
                        why,
                    }
                }
            }
        };
        match &finish {
            Finish::Sent { .. } => delivered.sent += 1,
            Finish::Skipped(_) => delivered.skipped += 1,
            Finish::Retry { .. } => delivered.retried += 1,
            Finish::Hold { .. } => delivered.held += 1,
            Finish::Failed(_) => delivered.failed += 1,
        }
        state
            .with_store(move |store| store.finish(id, &finish))
            .await?;
    }
    Ok(delivered)
}

async fn deliver_one(
    state: &AppState,
    provider: &dyn Provider,
    row: OutboxRow,
    now: Timestamp,
) -> Result<Finish, NotifyError> {
    let job_id = row.job;
    let tenant = row.tenant;
    let (job, contact) = state
        .with_sync(move |sync, _| {
            let job = sync.load(DocumentId::Job(job_id))?;
            let contact = sync.load(DocumentId::Contact(job_id))?;
            Ok((job, contact))
        })
        .await?;
    let council = state.council_name(tenant).await?;
    let Some((_, job)) = job else {
        return Ok(Finish::Skipped("the job is gone".into()));
    };
    let Some((_, contact)) = contact else {
        return Ok(Finish::Skipped(
            "the resident's contact details are gone".into(),
        ));
    };
    let (Ok(job), Ok(contact)) = (Job::load(&job), Contact::load(&contact)) else {
        return Ok(Finish::Skipped("the job or contact cannot be read".into()));
    };
    let Some(service) = state.services().get(&job.office.service) else {
        return Ok(Finish::Skipped(
            "the job's service is not known here".into(),
        ));
    };
    if let Some(booked) = reminder_for(&row.key)
        && job.office.appointment.map(|slot| slot.starts) != Some(booked)
    {
        return Ok(Finish::Skipped("the appointment has moved since".into()));
    }
    // A reminder says "tomorrow": on the day itself (booked late, or held
    // by quiet hours or a provider down overnight) it would mislead.
    if let Some(booked) = reminder_for(&row.key)
        && uk::local(now).0 >= uk::local(booked).0
    {
        return Ok(Finish::Skipped(
            "too late for a reminder: the appointment is today".into(),
        ));
    }
    let token = crate::residents::link::issue(state, row.tenant, row.job, now).await?;
    let context = message_context(state, council, &token);
    let mut message = match compose(&row.event, row.channel, &job, &contact, service, &context) {
        Ok(message) => message,
        Err(why) => return Ok(Finish::Skipped(why.to_string())),
    };
    if shows_photos(&row.event, service) {
        let photos: Vec<(String, BlobHash)> = job
            .photos
            .values()
            .filter_map(|photo| {
                let label = service.photo_label(&photo.kind).to_owned();
                photo.display.map(|hash| (label, hash))
            })
            .collect();
        let stored = state
            .with_store(move |store| {
                photos
                    .into_iter()
                    .map(|(label, hash)| Ok((label, hash, store.stored_blob(hash)?)))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        let deadline = row.happened_at.plus_millis(PHOTO_WAIT_MS);
        if stored.iter().any(|(_, _, blob)| blob.is_none()) && now < deadline {
            return Ok(Finish::Hold {
                until: now.plus_millis(PHOTO_RECHECK_MS).min(deadline),
                why: "waiting for the job's photos to finish uploading".into(),
            });
        }
        if message.channel == Channel::Email {
            for (label, hash, blob) in stored {
                if let Some(blob) = blob {
                    let opened = crate::photos::storage::open(state, hash, blob).await?;
                    let jpeg: Vec<Bytes> = opened.bytes.try_collect().await?;
                    message.photos.push(InlinePhoto {
                        label,
                        jpeg: jpeg.concat(),
                    });
                }
            }
        }
    }
    if message.channel == Channel::Sms
        && let Some(until) = sms_held_until(service, now)
    {
        return Ok(Finish::Hold {
            until,
            why: "quiet hours: texts wait until morning".into(),
        });
    }
    let reference = row.id.to_string();
    // A crash here, after the change was committed and before the message
    // went, must still send it once (the row waits in the database).
    doorstep_shared::failpoint::hit("outbox-before-send");
    Ok(match provider.send(&message, &reference).await {
        // The tracking link is the resident's key to their pages: what is
        // kept of a sent message shows where it was, not the link itself.
        Ok(provider_ref) => Finish::Sent {
            recipient: message.to,
            subject: message.subject,
            body: message.body.replace(&token, LINK_NOT_KEPT),
            provider_ref,
            at: now,
        },
        Err(SendError::Permanent(why)) => Finish::Failed(why),
        Err(SendError::Temporary(why)) if row.attempts >= MAX_ATTEMPTS => Finish::Failed(why),
        Err(SendError::Temporary(why)) => Finish::Retry {
            at: now.plus_millis(backoff(row.attempts)),
            why,
        },
    })
}

/// The wait before try `attempts + 1`.
fn backoff(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(10);
    (FIRST_BACKOFF_MS << doublings).min(MAX_BACKOFF_MS)
}

/// The links a message shows, each opening the resident's pages with a
/// tracking token of their own.
fn message_context(state: &AppState, council: String, token: &str) -> MessageContext {
    let track = format!("{}/track/{token}", state.public_url());
    MessageContext {
        council,
        rebook_url: format!("{track}/book"),
        photos_url: format!("{track}/photos"),
        track_url: track,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_a_minute_doubling_up_to_an_hour() {
        assert_eq!(backoff(1), 60_000);
        assert_eq!(backoff(2), 120_000);
        assert_eq!(backoff(3), 240_000);
        assert_eq!(backoff(9), MAX_BACKOFF_MS);
    }
}
