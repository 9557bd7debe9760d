//! Photos: content-addressed blobs in a folder or an S3-compatible store,
//! resumable uploads from devices, and reads checked against the documents
//! that hold each photo; requests that wait for their photos to arrive.

pub mod evidence;
mod routes;
pub mod storage;

pub use storage::{BlobLocation, Blobs, PhotoError};

/// Uploads and downloads.
pub(crate) fn routes() -> Vec<crate::routes::Route> {
    routes::routes()
}
