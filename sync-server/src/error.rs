//! The one error type handlers return. Internal failures become a 500 that
//! hides their detail from the client; the trace layer logs the response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::secrets::NoRandomness;
use crate::store::StoreError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Storage failed.
    #[error("storage failed")]
    Store(#[from] StoreError),
    /// A blocking storage task did not finish.
    #[error("a storage task stopped")]
    Task(#[from] tokio::task::JoinError),
    /// No randomness for a secret.
    #[error("could not make a secret")]
    Randomness(#[from] NoRandomness),
    /// The object store failed.
    #[error("the photo store failed")]
    Blob(#[from] object_store::Error),
    /// No valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials, but not for this.
    #[error("{0}")]
    Forbidden(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// Too big to take.
    #[error("{0}")]
    TooLarge(String),
    /// Busy with something else that must finish first; try again later.
    #[error("{0}")]
    Locked(String),
    /// Not available now (the server is stopping).
    #[error("{0}")]
    Unavailable(String),
    /// Well-formed but unacceptable content (bytes that do not match their
    /// hash, say).
    #[error("{0}")]
    Unprocessable(String),
    /// The request clashes with the current state (a full half-day).
    #[error("{0}")]
    Conflict(String),
    /// Too many requests from one address (see [`crate::throttle`]).
    #[error("{0}")]
    TooMany(String),
}

impl From<crate::state::WorkError> for ApiError {
    fn from(error: crate::state::WorkError) -> Self {
        match error {
            crate::state::WorkError::Store(error) => ApiError::Store(error),
            crate::state::WorkError::Task(error) => ApiError::Task(error),
        }
    }
}

impl From<crate::photos::PhotoError> for ApiError {
    fn from(error: crate::photos::PhotoError) -> Self {
        use crate::photos::PhotoError;
        match error {
            PhotoError::Forbidden(message) => ApiError::Forbidden(message),
            PhotoError::NotFound(message) => ApiError::NotFound(message),
            PhotoError::TooLarge(message) => ApiError::TooLarge(message),
            PhotoError::BadRequest(message) => ApiError::BadRequest(message),
            PhotoError::Locked(message) => ApiError::Locked(message),
            PhotoError::Unprocessable(message) => ApiError::Unprocessable(message),
            PhotoError::Unavailable(message) => ApiError::Unavailable(message),
            PhotoError::Quota(_) => ApiError::TooMany(error.to_string()),
            PhotoError::Work(error) => error.into(),
            PhotoError::Blob(error) => ApiError::Blob(error),
            PhotoError::Randomness(error) => ApiError::Randomness(error),
        }
    }
}

impl From<crate::office::edits::EditError> for ApiError {
    fn from(error: crate::office::edits::EditError) -> Self {
        use crate::office::edits::EditError;
        match error {
            EditError::Work(error) => error.into(),
            EditError::Missing(message) => ApiError::NotFound(message),
            EditError::Randomness(error) => ApiError::Randomness(error),
        }
    }
}

impl From<crate::residents::LinkError> for ApiError {
    fn from(error: crate::residents::LinkError) -> Self {
        match error {
            crate::residents::LinkError::Work(error) => error.into(),
            crate::residents::LinkError::Randomness(error) => ApiError::Randomness(error),
        }
    }
}

impl From<crate::residents::booking::BookingError> for ApiError {
    fn from(error: crate::residents::booking::BookingError) -> Self {
        use crate::residents::booking::BookingError;
        match error {
            BookingError::NoSuchJob(_) => ApiError::NotFound(error.to_string()),
            BookingError::Refused(message) => ApiError::BadRequest(message),
            BookingError::Full(_) => ApiError::Conflict(error.to_string()),
            BookingError::Work(error) => error.into(),
            BookingError::Edit(error) => error.into(),
            BookingError::Randomness(error) => ApiError::Randomness(error),
        }
    }
}

impl From<crate::intake::IntakeError> for ApiError {
    fn from(error: crate::intake::IntakeError) -> Self {
        use crate::intake::IntakeError;
        match error {
            IntakeError::Store(error) => ApiError::Store(error),
            IntakeError::Document(error) => ApiError::Store(error.into()),
            refused => ApiError::BadRequest(refused.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::Store(_)
            | ApiError::Task(_)
            | ApiError::Randomness(_)
            | ApiError::Blob(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on the server.".to_owned(),
            ),
            ApiError::Unauthorized(message) => (StatusCode::UNAUTHORIZED, message.clone()),
            ApiError::Forbidden(message) => (StatusCode::FORBIDDEN, message.clone()),
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, message.clone()),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, message.clone()),
            ApiError::TooLarge(message) => (StatusCode::PAYLOAD_TOO_LARGE, message.clone()),
            ApiError::Locked(message) => (StatusCode::LOCKED, message.clone()),
            ApiError::Unavailable(message) => (StatusCode::SERVICE_UNAVAILABLE, message.clone()),
            ApiError::Unprocessable(message) => (StatusCode::UNPROCESSABLE_ENTITY, message.clone()),
            ApiError::Conflict(message) => (StatusCode::CONFLICT, message.clone()),
            ApiError::TooMany(message) => (StatusCode::TOO_MANY_REQUESTS, message.clone()),
        };
        let mut response = (status, Json(serde_json::json!({ "error": &message }))).into_response();
        // Pages answer with a page saying the same (see `pages::errors_as_pages`).
        response.extensions_mut().insert(PublicMessage(message));
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The cause stays in the server; the log layer reads it from here.
            response
                .extensions_mut()
                .insert(ErrorDetail(DisplayChain(&self).to_string()));
        }
        response
    }
}

/// What an error response tells its caller, for a page to say it too.
#[derive(Debug, Clone)]
pub struct PublicMessage(pub String);

/// The full cause of an error response, for the request log.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

/// Prints an error and its sources as `outer: inner: innermost`.
pub struct DisplayChain<'a>(pub &'a dyn std::error::Error);

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
