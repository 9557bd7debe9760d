//! Photo blobs on the server: content-addressed, resumable uploads and
//! access-checked reads, over an object store (a local folder by default,
//! S3-compatible storage by configuration) and the database's records
//! ([`crate::store::blobs`]).
//!
//! A blob is stored at `blobs/{hash}` only once every byte has arrived and
//! its SHA-256 matches its name, so the same rendition uploaded twice, by
//! anyone, is stored once. Until then its bytes are parts, each an object of
//! its own, recorded in order by compare-and-set. A request cut off half
//! way keeps what arrived: the body is read by a task of its own, which
//! finishes even when the client has gone, so the device resumes from the
//! last byte the server received.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use doorstep_shared::blob::{Reader, may_read, may_upload};
use doorstep_shared::ids::BlobHash;
use doorstep_shared::sync::store::DeviceIdentity;
use doorstep_shared::time::Timestamp;
use doorstep_shared::upload::{MAX_CHUNK_BYTES, UploadStatus};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::state::{AppState, WorkError};

/// Why a photo could not be taken, kept or read.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// The device may not do that with this photo.
    #[error("{0}")]
    Forbidden(String),
    /// No such photo, or not uploaded yet.
    #[error("{0}")]
    NotFound(String),
    /// Bigger than the server takes.
    #[error("{0}")]
    TooLarge(String),
    /// A malformed part of an upload.
    #[error("{0}")]
    BadRequest(String),
    /// Another request is writing the same upload.
    #[error("{0}")]
    Locked(String),
    /// The bytes are not the photo they claim to be.
    #[error("{0}")]
    Unprocessable(String),
    /// The server is stopping.
    #[error("{0}")]
    Unavailable(String),
    /// The device has uploaded its day's allowance; it may go on after
    /// this many seconds.
    #[error("this phone has sent its photo allowance for today; it can send more in {0} seconds")]
    Quota(u64),
    /// The store failed.
    #[error(transparent)]
    Work(#[from] WorkError),
    /// The object store failed.
    #[error("the photo store failed")]
    Blob(#[from] object_store::Error),
    /// No randomness for a part's name.
    #[error(transparent)]
    Randomness(#[from] crate::secrets::NoRandomness),
}

impl From<tokio::task::JoinError> for PhotoError {
    fn from(error: tokio::task::JoinError) -> Self {
        PhotoError::Work(error.into())
    }
}

impl From<crate::store::StoreError> for PhotoError {
    fn from(error: crate::store::StoreError) -> Self {
        PhotoError::Work(error.into())
    }
}

/// Where blobs are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    /// A folder on this machine (the embedded default).
    Folder(PathBuf),
    /// An S3-compatible bucket, with credentials, region and endpoint from
    /// the usual `AWS_*` environment variables.
    S3 {
        /// The bucket.
        bucket: String,
        /// A prefix for every object name, possibly empty.
        prefix: String,
    },
}

impl FromStr for BlobLocation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(format!("{text:?} names no bucket: use s3://bucket/prefix"));
                }
                Ok(Self::S3 {
                    bucket: bucket.to_owned(),
                    prefix: prefix.trim_matches('/').to_owned(),
                })
            }
            None if text.is_empty() => Err("the blob store location is empty".into()),
            None => Ok(Self::Folder(PathBuf::from(text))),
        }
    }
}

/// The blob store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenBlobsError {
    /// The folder could not be created.
    #[error("could not create the photo folder {path}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The object store refused its settings.
    #[error("the object store's settings are not usable")]
    Settings(#[from] object_store::Error),
}

/// The object store holding blobs and upload parts.
#[derive(Clone)]
pub struct Blobs {
    objects: Arc<dyn ObjectStore>,
    prefix: Path,
    max_bytes: u64,
    /// Assemblies hold a whole blob in memory: a few at a time.
    assembling: Arc<tokio::sync::Semaphore>,
    chunks: Arc<ChunksInFlight>,
}

/// Chunk tasks still running, so tests can wait for the server to settle.
#[derive(Default)]
struct ChunksInFlight {
    count: std::sync::atomic::AtomicUsize,
    settled: tokio::sync::Notify,
}

/// Counts one chunk task for as long as it lives.
struct ChunkGuard(Arc<ChunksInFlight>);

impl ChunkGuard {
    fn new(chunks: &Arc<ChunksInFlight>) -> Self {
        chunks
            .count
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(Arc::clone(chunks))
    }
}

impl Drop for ChunkGuard {
    fn drop(&mut self) {
        if self
            .0
            .count
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.0.settled.notify_waiters();
        }
    }
}

/// Assemblies at once per server node.
const ASSEMBLIES: usize = 2;

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blobs({} {})", self.objects, self.prefix)
    }
}

impl Blobs {
    /// Opens the store at `location`, creating a folder if needed. Blobs
    /// over `max_bytes` are refused.
    pub fn open(location: &BlobLocation, max_bytes: u64) -> Result<Self, OpenBlobsError> {
        let (objects, prefix): (Arc<dyn ObjectStore>, Path) = match location {
            BlobLocation::Folder(path) => {
                std::fs::create_dir_all(path).map_err(|source| OpenBlobsError::Folder {
                    path: path.clone(),
                    source,
                })?;
                (
                    Arc::new(object_store::local::LocalFileSystem::new_with_prefix(path)?),
                    Path::default(),
                )
            }
            BlobLocation::S3 { bucket, prefix } => (
                Arc::new(
                    object_store::aws::AmazonS3Builder::from_env()
                        .with_bucket_name(bucket)
                        .build()?,
                ),
                Path::from(prefix.as_str()),
            ),
        };
        Ok(Self::with_prefix(objects, prefix, max_bytes))
    }

    fn with_prefix(objects: Arc<dyn ObjectStore>, prefix: Path, max_bytes: u64) -> Self {
        Self {
            objects,
            prefix,
            max_bytes,
            assembling: Arc::new(tokio::sync::Semaphore::new(ASSEMBLIES)),
            chunks: Arc::default(),
        }
    }

    /// Waits until no chunk is being taken: every request that reached the
    /// server, even one whose client went away, has left its mark.
    pub async fn settled(&self) {
        loop {
            let notified = self.chunks.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.chunks.count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Blobs over any object store (for tests and embedders).
    pub fn over(objects: Arc<dyn ObjectStore>, max_bytes: u64) -> Self {
        Self::with_prefix(objects, Path::default(), max_bytes)
    }

    /// The object store.
    pub fn objects(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }

    /// The object name of a stored blob.
    pub fn blob_path(&self, hash: BlobHash) -> Path {
        self.prefix.clone().join("blobs").join(hash.to_string())
    }

    fn part_path(&self, hash: BlobHash, start: u64) -> Result<Path, PhotoError> {
        let nonce = crate::secrets::random::<8>()?;
        Ok(self
            .prefix
            .clone()
            .join("uploads")
            .join(hash.to_string())
            .join(format!("{start:020}-{:016x}", u64::from_le_bytes(nonce))))
    }
}

/// What became of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// What the server holds now.
    pub status: UploadStatus,
    /// The chunk did not start where the server's bytes end: nothing of it
    /// was kept, and the device resumes from `status.offset`.
    pub conflict: bool,
}

/// The device's right to upload `hash`, or why not.
async fn check_upload(
    state: &AppState,
    who: &DeviceIdentity,
    hash: BlobHash,
) -> Result<(), PhotoError> {
    let holders = state
        .with_store(move |store| store.blob_holders(hash))
        .await?;
    if may_upload(who, &holders) {
        Ok(())
    } else {
        Err(PhotoError::Forbidden(
            "no job or round this device can see references that photo yet: sync, then upload"
                .into(),
        ))
    }
}

/// What the server holds of a blob the device may upload. An upload left
/// complete but unassembled (the server stopped half way) is assembled now.
pub async fn status(
    state: &AppState,
    who: &DeviceIdentity,
    hash: BlobHash,
) -> Result<UploadStatus, PhotoError> {
    check_upload(state, who, hash).await?;
    current(state, hash).await
}

async fn current(state: &AppState, hash: BlobHash) -> Result<UploadStatus, PhotoError> {
    let (stored, upload) = state
        .with_store(move |store| Ok((store.stored_blob(hash)?, store.upload(hash)?)))
        .await?;
    if let Some(blob) = stored {
        return Ok(UploadStatus {
            offset: blob.length,
            complete: true,
        });
    }
    match upload {
        Some(upload) if upload.received == upload.length => assemble(state, hash).await,
        Some(upload) => Ok(UploadStatus {
            offset: upload.received,
            complete: false,
        }),
        None => Ok(UploadStatus {
            offset: 0,
            complete: false,
        }),
    }
}

/// Takes a chunk starting at `offset` of a blob `length` bytes long. The
/// body is read (and what arrived of it kept) by a task of its own, so a
/// client that goes away mid-chunk still leaves its bytes behind.
pub async fn receive(
    state: &AppState,
    who: &DeviceIdentity,
    hash: BlobHash,
    offset: u64,
    length: u64,
    body: Body,
) -> Result<Received, PhotoError> {
    let max = state.blobs().max_bytes;
    if length > max {
        return Err(PhotoError::TooLarge(format!(
            "the photo is {length} bytes; the limit is {max}"
        )));
    }
    if offset > length {
        return Err(PhotoError::BadRequest(format!(
            "the chunk starts at byte {offset}, past the photo's {length} bytes"
        )));
    }
    check_upload(state, who, hash).await?;
    let device = who.device;
    let now = state.clock().now();
    state
        .throttle()
        .upload_allowed(device, now)
        .map_err(|refused| PhotoError::Quota(refused.retry_after_secs))?;
    let state = state.clone();
    let guard = ChunkGuard::new(&state.blobs().chunks);
    tokio::spawn(async move {
        let before = offset;
        let received = take_chunk(&state, hash, offset, length, body).await;
        drop(guard);
        if let Ok(received) = &received
            && !received.conflict
        {
            let taken = received.status.offset.saturating_sub(before);
            state.throttle().uploaded(device, taken, now);
        }
        received
    })
    .await?
}

async fn take_chunk(
    state: &AppState,
    hash: BlobHash,
    offset: u64,
    length: u64,
    body: Body,
) -> Result<Received, PhotoError> {
    let already = current(state, hash).await?;
    if already.complete || already.offset != offset {
        return Ok(Received {
            status: already,
            conflict: !already.complete,
        });
    }
    let room = usize::try_from(length - offset)
        .unwrap_or(usize::MAX)
        .min(MAX_CHUNK_BYTES);
    let (bytes, cut) = read_prefix(body, room).await?;
    if bytes.is_empty() {
        if let Some(reason) = cut {
            tracing::debug!(%hash, %reason, "an upload request ended before any byte arrived");
        }
        return Ok(Received {
            status: already,
            conflict: false,
        });
    }
    let blobs = state.blobs();
    let part = Part {
        start: offset,
        length: bytes.len() as u64,
        object: blobs.part_path(hash, offset)?.to_string(),
    };
    let path = Path::from(part.object.as_str());
    blobs
        .objects
        .put(&path, PutPayload::from_bytes(bytes))
        .await?;
    let now = state.clock().now();
    let recorded = part.clone();
    let outcome = state
        .with_store(move |store| store.add_part(hash, length, &recorded, now))
        .await?;
    if let Some(reason) = cut {
        tracing::info!(%hash, kept = part.length, %reason, "kept the part of a cut-off upload");
    }
    match outcome {
        PartOutcome::Added { received } if received == length => Ok(Received {
            status: assemble(state, hash).await?,
            conflict: false,
        }),
        PartOutcome::Added { received } => Ok(Received {
            status: UploadStatus {
                offset: received,
                complete: false,
            },
            conflict: false,
        }),
        PartOutcome::Conflict { received } => {
            delete_quietly(blobs, &path).await;
            Ok(Received {
                status: UploadStatus {
                    offset: received,
                    complete: false,
                },
                conflict: true,
            })
        }
        PartOutcome::Stored => {
            delete_quietly(blobs, &path).await;
            current(state, hash).await.map(|status| Received {
                status,
                conflict: false,
            })
        }
        PartOutcome::LengthDiffers { length: theirs } => {
            // The upload under way declares another length, so it will fail
            // its hash check and be thrown away, or go stale. Until then
            // this one waits: the first upload is never wiped by a second.
            delete_quietly(blobs, &path).await;
            Err(PhotoError::Locked(format!(
                "another upload of this photo, declaring {theirs} bytes, is under way; try again later"
            )))
        }
    }
}

/// Reads up to `room` bytes of a body; a longer body is refused. Returns
/// what arrived and, if the body ended in an error (the client went away),
/// why.
async fn read_prefix(body: Body, room: usize) -> Result<(Bytes, Option<String>), PhotoError> {
    let mut stream = body.into_data_stream();
    let mut bytes = BytesMut::new();
    while let Some(frame) = stream.next().await {
        match frame {
            Ok(data) => {
                if bytes.len() + data.len() > room {
                    return Err(PhotoError::TooLarge(format!(
                        "a chunk may hold at most {room} bytes here"
                    )));
                }
                bytes.extend_from_slice(&data);
            }
            Err(error) => return Ok((bytes.freeze(), Some(error.to_string()))),
        }
    }
    Ok((bytes.freeze(), None))
}

/// Joins an upload's parts, checks them against their hash, and stores the
/// blob; an upload whose bytes do not match is thrown away.
async fn assemble(state: &AppState, hash: BlobHash) -> Result<UploadStatus, PhotoError> {
    let blobs = state.blobs();
    let _turn = blobs
        .assembling
        .acquire()
        .await
        .map_err(|_| PhotoError::Unavailable("the server is stopping".into()))?;
    let Some(upload) = state.with_store(move |store| store.upload(hash)).await? else {
        return current_after_race(state, hash).await;
    };
    let mut bytes = BytesMut::with_capacity(usize::try_from(upload.length).unwrap_or(0));
    for part in &upload.parts {
        let fetched = match blobs.objects.get(&Path::from(part.object.as_str())).await {
            Ok(result) => result.bytes().await,
            Err(error) => Err(error),
        };
        match fetched {
            Ok(data) => bytes.extend_from_slice(&data),
            Err(object_store::Error::NotFound { .. }) => {
                // Another request assembled it first (and deleted the
                // parts), or a part was lost: then the upload starts over.
                let now = current_after_race(state, hash).await?;
                if !now.complete {
                    discard(state, hash).await?;
                }
                return Ok(now);
            }
            Err(error) => return Err(error.into()),
        }
    }
    let bytes = bytes.freeze();
    if BlobHash::of(&bytes) != hash {
        discard(state, hash).await?;
        return Err(PhotoError::Unprocessable(
            "the uploaded bytes do not match their SHA-256; upload the photo again from the start"
                .into(),
        ));
    }
    let Some(content_type) = content_type(&bytes) else {
        discard(state, hash).await?;
        return Err(PhotoError::Unprocessable(
            "the upload is not a JPEG or PNG image".into(),
        ));
    };
    let length = bytes.len() as u64;
    blobs
        .objects
        .put(&blobs.blob_path(hash), PutPayload::from_bytes(bytes))
        .await?;
    let now = state.clock().now();
    let blob = StoredBlob {
        length,
        content_type: content_type.to_owned(),
    };
    state
        .with_store(move |store| store.blob_stored(hash, &blob, now))
        .await?;
    for part in &upload.parts {
        delete_quietly(blobs, &Path::from(part.object.as_str())).await;
    }
    // The upload is done whatever happens next; a request still waiting
    // is decided at the phone's next sync or the worker's next pass.
    if let Err(error) = super::evidence::arrived(state, hash).await {
        tracing::warn!(%error, %hash, "could not decide the requests waiting for a photo");
    }
    Ok(UploadStatus {
        offset: length,
        complete: true,
    })
}

/// Stores a rendition the server made itself (a resident's photo, through
/// the same pipeline as the phones'), under its hash.
pub async fn put_made(state: &AppState, bytes: Vec<u8>) -> Result<BlobHash, PhotoError> {
    let hash = BlobHash::of(&bytes);
    let content_type = content_type(&bytes)
        .ok_or_else(|| PhotoError::Unprocessable("the photo is not a JPEG or PNG image".into()))?
        .to_owned();
    let blob = StoredBlob {
        length: bytes.len() as u64,
        content_type,
    };
    let blobs = state.blobs();
    blobs
        .objects
        .put(&blobs.blob_path(hash), PutPayload::from(bytes))
        .await?;
    let now = state.clock().now();
    state
        .with_store(move |store| store.blob_stored(hash, &blob, now))
        .await?;
    Ok(hash)
}

/// Another request assembled the blob (or threw the upload away) first.
async fn current_after_race(state: &AppState, hash: BlobHash) -> Result<UploadStatus, PhotoError> {
    let stored = state
        .with_store(move |store| store.stored_blob(hash))
        .await?;
    Ok(stored.map_or(
        UploadStatus {
            offset: 0,
            complete: false,
        },
        |blob| UploadStatus {
            offset: blob.length,
            complete: true,
        },
    ))
}

/// Forgets an upload and deletes its parts.
async fn discard(state: &AppState, hash: BlobHash) -> Result<(), PhotoError> {
    let objects = state
        .with_store(move |store| store.drop_upload(hash))
        .await?;
    for object in objects {
        delete_quietly(state.blobs(), &Path::from(object.as_str())).await;
    }
    Ok(())
}

/// Throws away uploads untouched since `before` and never finished.
pub async fn prune_stale_uploads(state: &AppState, before: Timestamp) -> Result<usize, PhotoError> {
    let stale = state
        .with_store(move |store| store.stale_uploads(before))
        .await?;
    for hash in &stale {
        discard(state, *hash).await?;
    }
    Ok(stale.len())
}

async fn delete_quietly(blobs: &Blobs, path: &Path) {
    // An orphaned part costs only space; the upload's outcome stands.
    if let Err(error) = blobs.objects.delete(path).await {
        tracing::warn!(%path, %error, "could not delete an upload part");
    }
}

/// The media type of a stored blob, by its first bytes.
fn content_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

/// A blob to send, once the reader's right to it is checked.
pub struct Opened {
    /// Its record.
    pub blob: StoredBlob,
    /// Its bytes, streamed from the object store.
    pub bytes: BoxStream<'static, Result<Bytes, object_store::Error>>,
}

/// Checks that `reader` may read a blob and that it is stored.
pub async fn check_read(
    state: &AppState,
    reader: Reader<'_>,
    hash: BlobHash,
) -> Result<StoredBlob, PhotoError> {
    let holders = state
        .with_store(move |store| store.blob_holders(hash))
        .await?;
    if !may_read(reader, &holders) {
        return Err(PhotoError::Forbidden(
            "that photo belongs to a job you cannot see".into(),
        ));
    }
    state
        .with_store(move |store| store.stored_blob(hash))
        .await?
        .ok_or_else(|| PhotoError::NotFound("that photo has not been uploaded yet".into()))
}

/// Opens a stored blob's bytes.
pub async fn open(
    state: &AppState,
    hash: BlobHash,
    blob: StoredBlob,
) -> Result<Opened, PhotoError> {
    let blobs = state.blobs();
    let result = blobs.objects.get(&blobs.blob_path(hash)).await?;
    Ok(Opened {
        blob,
        bytes: result.into_stream(),
    })
}

/// A blob stored whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// Its length in bytes.
    pub length: u64,
    /// `image/jpeg` or `image/png`.
    pub content_type: String,
}

/// A part of an upload: bytes `start..start + length`, in its own object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Where it starts.
    pub start: u64,
    /// How many bytes it holds.
    pub length: u64,
    /// The object's name in the object store.
    pub object: String,
}

/// An upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// The blob's whole length, as declared by the first part.
    pub length: u64,
    /// Bytes received, from the start.
    pub received: u64,
    /// The parts, in order.
    pub parts: Vec<Part>,
}

/// What became of a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartOutcome {
    /// Recorded; the upload now holds this many bytes.
    Added {
        /// Bytes received.
        received: u64,
    },
    /// The upload holds a different number of bytes than the part's start
    /// (another request got there first): resume from `received`.
    Conflict {
        /// Bytes received.
        received: u64,
    },
    /// The blob is already stored whole: the part is not needed.
    Stored,
    /// The upload was started with another length.
    LengthDiffers {
        /// The length it was started with.
        length: u64,
    },
}
