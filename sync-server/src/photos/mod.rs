//! Photos: content-addressed blobs in a folder or an S3-compatible store,
//! resumable uploads from devices, and reads checked against the documents
//! that hold each photo; requests that wait for their photos to arrive.

pub mod evidence;
mod routes;
pub mod storage;

use axum::Router;

pub use storage::{BlobLocation, Blobs, PhotoError};

use crate::state::AppState;

/// Uploads and downloads.
pub(crate) fn router() -> Router<AppState> {
    routes::router()
}
