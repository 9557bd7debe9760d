//! Photo uploads, device side: a queue that decides what to send next,
//! apart from document sync so a slow upload never holds a job back.
//!
//! Uploads are content-addressed and resumable. For each blob the device
//! first asks the server what it holds (`GET /api/uploads/{hash}`): a blob
//! the server already has is never sent again, and a partial upload —
//! from a dropped connection or before the app restarted — continues from
//! the server's offset. Chunks go as `PATCH /api/uploads/{hash}` with the
//! offset they start at; the server checks the SHA-256 once it has every
//! byte.
//!
//! Like [`crate::sync::device::DeviceSync`], the queue does no IO and owns
//! no clock: the app asks it for the next [`UploadStep`], performs it, and
//! reports the outcome, receiving [`UploadEvent`]s for the screen.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::blob::RenditionKind;
use crate::ids::{BlobHash, PhotoId};
use crate::time::Timestamp;

/// Bytes a device sends per request unless told otherwise: small enough
/// that a chunk lost to a dropped connection costs little on a weak signal.
pub const CHUNK_BYTES: u64 = 64 * 1024;
/// The most bytes the server takes in one request.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;
/// The header carrying the offset a chunk starts at.
pub const OFFSET_HEADER: &str = "upload-offset";
/// The header carrying the blob's whole length.
pub const LENGTH_HEADER: &str = "upload-length";

const FIRST_RETRY_MS: i64 = 1_000;
const MAX_RETRY_MS: i64 = 60_000;

/// What the server holds of a blob: its reply to both requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    /// Bytes held, counted from the start.
    pub offset: u64,
    /// The whole blob is stored and verified.
    pub complete: bool,
}

/// One blob waiting to go up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedBlob {
    /// The blob.
    pub hash: BlobHash,
    /// Its length in bytes.
    pub length: u64,
    /// The photo it belongs to.
    pub photo: PhotoId,
    /// Which rendition it is.
    pub kind: RenditionKind,
    /// Bytes the server is known to hold; `None` until it has said.
    #[serde(skip)]
    held: Option<u64>,
    /// The server does not yet know a document that references it: wait
    /// for the next sync.
    #[serde(skip)]
    waiting_for_sync: bool,
}

/// What the app should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStep {
    /// Ask the server what it holds of this blob.
    Ask {
        /// The blob.
        hash: BlobHash,
    },
    /// Send bytes `offset..end` of this blob.
    Send {
        /// The blob.
        hash: BlobHash,
        /// The first byte to send.
        offset: u64,
        /// One past the last byte to send.
        end: u64,
        /// The blob's whole length.
        length: u64,
    },
}

/// What the screen may want to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadEvent {
    /// The server holds `sent` of `total` bytes of a rendition.
    Progress {
        /// The photo.
        photo: PhotoId,
        /// The rendition.
        kind: RenditionKind,
        /// Bytes the server holds.
        sent: u64,
        /// The rendition's length.
        total: u64,
    },
    /// A rendition is stored on the server.
    Uploaded {
        /// The photo.
        photo: PhotoId,
        /// The rendition.
        kind: RenditionKind,
    },
    /// The request failed; the queue tries again at `retry_at`.
    Failed {
        /// Why.
        reason: String,
        /// The next attempt.
        retry_at: Timestamp,
    },
    /// The server refused the blob for good (too large, or bytes that do
    /// not match their hash): the photo needs taking again.
    Refused {
        /// The photo.
        photo: PhotoId,
        /// The rendition.
        kind: RenditionKind,
        /// The server's reason.
        reason: String,
    },
}

/// The device's upload queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadQueue {
    queue: VecDeque<QueuedBlob>,
    in_flight: Option<BlobHash>,
    failures: u32,
    next_attempt: Option<Timestamp>,
    chunk_bytes: u64,
}

impl Default for UploadQueue {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            in_flight: None,
            failures: 0,
            next_attempt: None,
            chunk_bytes: CHUNK_BYTES,
        }
    }
}

impl UploadQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends chunks of `bytes` (at least 1, at most [`MAX_CHUNK_BYTES`]).
    pub fn with_chunk_bytes(mut self, bytes: u64) -> Self {
        self.chunk_bytes = bytes.clamp(1, MAX_CHUNK_BYTES as u64);
        self
    }

    /// Queues a rendition, unless it is queued already.
    pub fn add(&mut self, hash: BlobHash, length: u64, photo: PhotoId, kind: RenditionKind) {
        if self.queue.iter().any(|queued| queued.hash == hash) {
            return;
        }
        self.queue.push_back(QueuedBlob {
            hash,
            length,
            photo,
            kind,
            held: None,
            waiting_for_sync: false,
        });
    }

    /// The blobs still to upload, in order.
    pub fn pending(&self) -> impl Iterator<Item = &QueuedBlob> {
        self.queue.iter()
    }

    /// Whether nothing is left to upload.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// When the next attempt is allowed after a failure, if one is pending.
    pub fn next_attempt(&self) -> Option<Timestamp> {
        self.next_attempt
    }

    /// The state to persist: which blobs are queued. Offsets are not saved;
    /// the server is asked again after a restart.
    pub fn save(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.queue).unwrap_or_default()
    }

    /// A queue saved by [`UploadQueue::save`].
    pub fn restore(bytes: &[u8]) -> Result<Self, postcard::Error> {
        Ok(Self {
            queue: postcard::from_bytes(bytes)?,
            ..Self::default()
        })
    }

    /// The step to take now, if any: nothing is in flight, no backoff is
    /// pending, and some blob is not waiting for a sync.
    pub fn next(&mut self, now: Timestamp) -> Option<UploadStep> {
        if self.in_flight.is_some() || self.next_attempt.is_some_and(|at| now < at) {
            return None;
        }
        let blob = self.queue.iter().find(|blob| !blob.waiting_for_sync)?;
        self.in_flight = Some(blob.hash);
        Some(match blob.held {
            None => UploadStep::Ask { hash: blob.hash },
            Some(offset) => UploadStep::Send {
                hash: blob.hash,
                offset,
                end: (offset + self.chunk_bytes).min(blob.length),
                length: blob.length,
            },
        })
    }

    /// The server said what it holds of a blob, in answer to either step
    /// (a chunk that did not start where the server's bytes end is answered
    /// with the server's offset too).
    pub fn held(&mut self, hash: BlobHash, status: UploadStatus) -> Vec<UploadEvent> {
        self.succeeded(hash);
        let Some(index) = self.queue.iter().position(|blob| blob.hash == hash) else {
            return Vec::new();
        };
        if status.complete {
            let Some(blob) = self.queue.remove(index) else {
                return Vec::new();
            };
            return vec![
                UploadEvent::Progress {
                    photo: blob.photo,
                    kind: blob.kind,
                    sent: blob.length,
                    total: blob.length,
                },
                UploadEvent::Uploaded {
                    photo: blob.photo,
                    kind: blob.kind,
                },
            ];
        }
        let blob = &mut self.queue[index];
        // An offset past the end cannot be resumed from: start again.
        let offset = if status.offset > blob.length {
            0
        } else {
            status.offset
        };
        blob.held = Some(offset);
        vec![UploadEvent::Progress {
            photo: blob.photo,
            kind: blob.kind,
            sent: offset,
            total: blob.length,
        }]
    }

    /// The server knows no document of this device's that references the
    /// blob yet: it waits until [`UploadQueue::synced`].
    pub fn not_referenced_yet(&mut self, hash: BlobHash) {
        self.succeeded(hash);
        if let Some(blob) = self.queue.iter_mut().find(|blob| blob.hash == hash) {
            blob.waiting_for_sync = true;
        }
    }

    /// A sync pushed this device's changes: blobs waiting for it may go.
    pub fn synced(&mut self) {
        for blob in &mut self.queue {
            blob.waiting_for_sync = false;
        }
    }

    /// The server refused the blob for good; it leaves the queue.
    pub fn refused(&mut self, hash: BlobHash, reason: &str) -> Vec<UploadEvent> {
        self.succeeded(hash);
        let Some(index) = self.queue.iter().position(|blob| blob.hash == hash) else {
            return Vec::new();
        };
        self.queue
            .remove(index)
            .map(|blob| UploadEvent::Refused {
                photo: blob.photo,
                kind: blob.kind,
                reason: reason.to_owned(),
            })
            .into_iter()
            .collect()
    }

    /// The step failed (no connection, a cut-off request, a server error).
    /// The blob's offset is asked again, since the server may have kept
    /// part of a chunk; the queue backs off exponentially.
    pub fn failed(&mut self, now: Timestamp, reason: &str) -> UploadEvent {
        if let Some(hash) = self.in_flight.take()
            && let Some(blob) = self.queue.iter_mut().find(|blob| blob.hash == hash)
        {
            blob.held = None;
        }
        self.failures = self.failures.saturating_add(1);
        let wait = FIRST_RETRY_MS
            .saturating_mul(1 << self.failures.min(16).saturating_sub(1))
            .min(MAX_RETRY_MS);
        let retry_at = now.plus_millis(wait);
        self.next_attempt = Some(retry_at);
        UploadEvent::Failed {
            reason: reason.to_owned(),
            retry_at,
        }
    }

    /// The network is back: try now, whatever the backoff says.
    pub fn retry_now(&mut self) {
        self.next_attempt = None;
    }

    fn succeeded(&mut self, hash: BlobHash) {
        if self.in_flight == Some(hash) {
            self.in_flight = None;
        }
        self.failures = 0;
        self.next_attempt = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> BlobHash {
        BlobHash::of(&[n])
    }

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);

    #[test]
    fn a_blob_goes_up_in_chunks_from_the_offset_the_server_reports() {
        let mut queue = UploadQueue::new();
        let length = CHUNK_BYTES * 2 + 10;
        queue.add(
            hash(1),
            length,
            PhotoId::from_u128(1),
            RenditionKind::Display,
        );
        assert_eq!(queue.next(NOW), Some(UploadStep::Ask { hash: hash(1) }));
        assert_eq!(queue.next(NOW), None, "one request at a time");
        queue.held(
            hash(1),
            UploadStatus {
                offset: 100,
                complete: false,
            },
        );
        assert_eq!(
            queue.next(NOW),
            Some(UploadStep::Send {
                hash: hash(1),
                offset: 100,
                end: 100 + CHUNK_BYTES,
                length
            })
        );
        let events = queue.held(
            hash(1),
            UploadStatus {
                offset: length,
                complete: true,
            },
        );
        assert!(events.contains(&UploadEvent::Uploaded {
            photo: PhotoId::from_u128(1),
            kind: RenditionKind::Display
        }));
        assert!(queue.is_empty());
    }

    #[test]
    fn a_failure_backs_off_and_asks_the_offset_again() {
        let mut queue = UploadQueue::new();
        queue.add(hash(1), 10, PhotoId::from_u128(1), RenditionKind::Thumbnail);
        queue.next(NOW);
        queue.held(
            hash(1),
            UploadStatus {
                offset: 4,
                complete: false,
            },
        );
        assert!(matches!(queue.next(NOW), Some(UploadStep::Send { .. })));
        let UploadEvent::Failed { retry_at, .. } = queue.failed(NOW, "connection reset") else {
            panic!("expected a failure event");
        };
        assert_eq!(queue.next(NOW), None);
        assert_eq!(
            queue.next(retry_at),
            Some(UploadStep::Ask { hash: hash(1) })
        );
    }

    #[test]
    fn a_blob_nobody_references_yet_waits_for_the_next_sync_without_blocking_others() {
        let mut queue = UploadQueue::new();
        queue.add(hash(1), 10, PhotoId::from_u128(1), RenditionKind::Display);
        queue.add(hash(2), 10, PhotoId::from_u128(2), RenditionKind::Display);
        queue.next(NOW);
        queue.not_referenced_yet(hash(1));
        assert_eq!(queue.next(NOW), Some(UploadStep::Ask { hash: hash(2) }));
        queue.refused(hash(2), "too large");
        assert_eq!(queue.next(NOW), None);
        queue.synced();
        assert_eq!(queue.next(NOW), Some(UploadStep::Ask { hash: hash(1) }));
    }

    #[test]
    fn a_restored_queue_keeps_its_blobs_and_asks_the_server_where_to_resume() {
        let mut queue = UploadQueue::new();
        queue.add(hash(1), 10, PhotoId::from_u128(1), RenditionKind::Original);
        queue.next(NOW);
        queue.held(
            hash(1),
            UploadStatus {
                offset: 4,
                complete: false,
            },
        );
        let mut restored = UploadQueue::restore(&queue.save()).unwrap();
        assert_eq!(restored.pending().count(), 1);
        assert_eq!(restored.next(NOW), Some(UploadStep::Ask { hash: hash(1) }));
    }
}
