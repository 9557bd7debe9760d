//! A test phone's photo uploads: the real upload queue from `shared/`,
//! driven over HTTP against any base URL (the server, or a proxy in front
//! of it). Time is the test's: a backoff moves the phone's clock forward
//! instead of sleeping.

use anyhow::Context;
use doorstep_shared::blob::RenditionKind;
use doorstep_shared::ids::{BlobHash, Name, PhotoId};
use doorstep_shared::job::PhotoRef;
use doorstep_shared::photo::Processed;
use doorstep_shared::service::PhotoPolicy;
use doorstep_shared::time::Timestamp;
use doorstep_shared::transition::Actor;
use doorstep_shared::upload::{LENGTH_HEADER, OFFSET_HEADER, UploadStatus, UploadStep};

use crate::TestDevice;

/// What one run of the upload queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadRun {
    /// Requests made.
    pub requests: usize,
    /// Body bytes the phone sent.
    pub bytes_sent: u64,
    /// Requests that failed (cut off, refused by the network).
    pub failures: usize,
}

/// Why a run stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAt {
    /// Run until nothing is left that can go now.
    Idle,
    /// Stop at the first failure, as an app that is closed then.
    FirstFailure,
}

impl TestDevice {
    /// Keeps a processed photo's files and queues what the service's policy
    /// uploads.
    pub fn queue_photo(
        &mut self,
        photo: PhotoId,
        processed: &Processed,
        file: &[u8],
        policy: &PhotoPolicy,
    ) {
        for (kind, hash, bytes) in processed.uploads(file, policy) {
            self.queue_blob(photo, kind, hash, bytes.to_vec());
        }
    }

    /// Queues any bytes under a hash (which may be wrong, to test refusals).
    pub fn queue_blob(
        &mut self,
        photo: PhotoId,
        kind: RenditionKind,
        hash: BlobHash,
        bytes: Vec<u8>,
    ) {
        self.uploads.add(hash, bytes.len() as u64, photo, kind);
        self.files.insert(hash, bytes);
    }

    /// Runs the upload queue against `base` until it is idle.
    pub async fn upload(&mut self, base: &str, now: Timestamp) -> anyhow::Result<UploadRun> {
        self.upload_until(base, now, StopAt::Idle).await
    }

    /// Runs the upload queue against `base` until it is idle or `stop` says.
    pub async fn upload_until(
        &mut self,
        base: &str,
        mut now: Timestamp,
        stop: StopAt,
    ) -> anyhow::Result<UploadRun> {
        let client = reqwest::Client::new();
        let mut run = UploadRun::default();
        for _ in 0..10_000 {
            let Some(step) = self.uploads.next(now) else {
                match self.uploads.next_attempt() {
                    // Backing off: the phone's clock moves on.
                    Some(at) if at > now && !self.uploads.is_empty() => {
                        now = at;
                        continue;
                    }
                    _ => return Ok(run),
                }
            };
            run.requests += 1;
            let (hash, request) = match step {
                UploadStep::Ask { hash } => (
                    hash,
                    client
                        .get(format!("{base}/api/uploads/{hash}"))
                        .bearer_auth(&self.token),
                ),
                UploadStep::Send {
                    hash,
                    offset,
                    end,
                    length,
                } => {
                    let bytes = self
                        .files
                        .get(&hash)
                        .context("a queued blob has no file")?
                        .get(offset as usize..end as usize)
                        .context("a chunk outside the file")?
                        .to_vec();
                    run.bytes_sent += bytes.len() as u64;
                    (
                        hash,
                        client
                            .patch(format!("{base}/api/uploads/{hash}"))
                            .bearer_auth(&self.token)
                            .header(OFFSET_HEADER, offset)
                            .header(LENGTH_HEADER, length)
                            .body(bytes),
                    )
                }
            };
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    response.text().await.map(|body| (status, body))
                }
                Err(error) => Err(error),
            };
            match outcome {
                Ok((200 | 409, body)) => {
                    let status: UploadStatus = serde_json::from_str(&body)
                        .with_context(|| format!("the server answered {body:?}"))?;
                    let events = self.uploads.held(hash, status);
                    self.upload_events.extend(events);
                }
                Ok((403, _)) => self.uploads.not_referenced_yet(hash),
                // Bytes that did not match their hash: if the phone's own
                // file is sound, someone else's bytes were mixed in; the
                // server threw them away, so try again.
                Ok((422, body))
                    if self
                        .files
                        .get(&hash)
                        .is_some_and(|file| BlobHash::of(file) == hash) =>
                {
                    run.failures += 1;
                    let event = self.uploads.failed(now, &body);
                    self.upload_events.push(event);
                }
                Ok((413 | 422, body)) => {
                    let events = self.uploads.refused(hash, &body);
                    self.upload_events.extend(events);
                }
                Ok((status, body)) => {
                    run.failures += 1;
                    let event = self.uploads.failed(now, &format!("{status}: {body}"));
                    self.upload_events.push(event);
                    if stop == StopAt::FirstFailure {
                        return Ok(run);
                    }
                }
                Err(error) => {
                    run.failures += 1;
                    let event = self.uploads.failed(now, &error.to_string());
                    self.upload_events.push(event);
                    if stop == StopAt::FirstFailure {
                        return Ok(run);
                    }
                }
            }
        }
        anyhow::bail!("the upload queue never went idle")
    }
}

impl TestDevice {
    /// A photo taken on this phone as the app takes one: a camera picture
    /// (`seed` makes each a different one), processed, its renditions
    /// queued for upload. Returns the record to add to a document.
    pub fn take_photo(
        &mut self,
        id: PhotoId,
        kind: &str,
        by: &Actor,
        at: Timestamp,
        seed: usize,
    ) -> anyhow::Result<PhotoRef> {
        let policy = PhotoPolicy {
            keep_originals: false,
            device_retention_days: 30,
            evidence_wait_hours: 72,
        };
        let file = crate::camera_file(640 + 8 * seed, 480 + 6 * seed);
        let processed = doorstep_shared::photo::process(&file, &Default::default())?;
        let kind: Name = kind.parse()?;
        let reference = processed.reference(kind, by.clone(), at, None, &policy);
        self.queue_photo(id, &processed, &file, &policy);
        Ok(reference)
    }
}
