//! The one error type handlers return. Internal failures become a 500 that
//! hides their detail from the client; the trace layer logs the response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

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
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::Store(_) | ApiError::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // The cause stays in the server; extensions carry it to the log layer.
        let mut response = (status, "Something went wrong on the server.").into_response();
        response
            .extensions_mut()
            .insert(ErrorDetail(format!("{:#}", DisplayChain(&self))));
        response
    }
}

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
