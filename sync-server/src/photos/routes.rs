//! Photo uploads and downloads, authenticated by the device's token.
//!
//! - `GET /api/uploads/{hash}`: what the server holds of a blob
//!   ([`UploadStatus`] as JSON).
//! - `PATCH /api/uploads/{hash}` with `Upload-Offset` and `Upload-Length`
//!   headers and up to [`doorstep_shared::upload::MAX_CHUNK_BYTES`] of the blob as the body: 200
//!   with the new status, or 409 with the server's status when the chunk
//!   does not start where the server's bytes end.
//! - `GET /api/blobs/{hash}`: the bytes, with the hash as `ETag` and a
//!   year's private, immutable caching (`If-None-Match` gets a 304).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use doorstep_shared::blob::Reader;
use doorstep_shared::ids::BlobHash;
use doorstep_shared::upload::{LENGTH_HEADER, MAX_CHUNK_BYTES, OFFSET_HEADER, UploadStatus};

use crate::error::ApiError;
use crate::photos::storage;
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use crate::sync::DeviceAuth;

/// How long a client may keep a blob: its name is its content.
const CACHE_CONTROL: &str = "private, max-age=31536000, immutable";

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/api/uploads/{hash}", Caller::Device, status),
        routes::patch("/api/uploads/{hash}", Caller::Device, append).limit(MAX_CHUNK_BYTES),
        routes::get("/api/blobs/{hash}", Caller::Device, download),
    ]
}

fn parse_hash(text: &str) -> Result<BlobHash, ApiError> {
    text.parse()
        .map_err(|error: doorstep_shared::ids::ParseIdError| {
            ApiError::BadRequest(error.to_string())
        })
}

fn number_header(headers: &HeaderMap, name: &str) -> Result<u64, ApiError> {
    headers
        .get(name)
        .ok_or_else(|| ApiError::BadRequest(format!("the {name} header is missing")))?
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| ApiError::BadRequest(format!("the {name} header is not a byte count")))
}

async fn status(
    State(state): State<AppState>,
    DeviceAuth { who, .. }: DeviceAuth,
    Path(hash): Path<String>,
) -> Result<Json<UploadStatus>, ApiError> {
    let hash = parse_hash(&hash)?;
    Ok(Json(storage::status(&state, &who, hash).await?))
}

async fn append(
    State(state): State<AppState>,
    DeviceAuth { who, .. }: DeviceAuth,
    Path(hash): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash)?;
    let offset = number_header(&headers, OFFSET_HEADER)?;
    let length = number_header(&headers, LENGTH_HEADER)?;
    let received = storage::receive(&state, &who, hash, offset, length, body).await?;
    let code = if received.conflict {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    Ok((code, Json(received.status)).into_response())
}

async fn download(
    State(state): State<AppState>,
    DeviceAuth { who, .. }: DeviceAuth,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash)?;
    let blob = storage::check_read(&state, Reader::Staff(&who), hash).await?;
    let etag = format!("\"{hash}\"");
    let cache = [
        (header::ETAG, HeaderValue::from_str(&etag).ok()),
        (
            header::CACHE_CONTROL,
            Some(HeaderValue::from_static(CACHE_CONTROL)),
        ),
    ];
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    if matches {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        for (name, value) in cache.into_iter() {
            if let Some(value) = value {
                response.headers_mut().insert(name, value);
            }
        }
        return Ok(response);
    }
    let opened = storage::open(&state, hash, blob).await?;
    let mut response = Body::from_stream(opened.bytes).into_response();
    let response_headers = response.headers_mut();
    for (name, value) in cache.into_iter() {
        if let Some(value) = value {
            response_headers.insert(name, value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&opened.blob.content_type) {
        response_headers.insert(header::CONTENT_TYPE, value);
    }
    response_headers.insert(header::CONTENT_LENGTH, opened.blob.length.into());
    response_headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}
