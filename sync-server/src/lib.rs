//! # Doorstep's sync server
//!
//! Devices sync job documents through it; it applies the workflow rules to
//! every change, stores photos, tells residents how their job is going, and
//! serves residents' pages and the back office. The embedded default keeps
//! everything in one SQLite file beside the binary; [2/8] adds PostgreSQL.
//!
//! The library exposes [`serve`], so tests bind port 0 and run a real server
//! in-process; `main.rs` only reads the configuration and calls it.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use doorstep_server::blobs::{BlobLocation, Blobs};
//! use doorstep_server::{AppState, SqliteStore, SystemClock, serve};
//! use doorstep_shared::service::ServiceCatalog;
//!
//! let store = Arc::new(SqliteStore::open("doorstep.db".as_ref())?);
//! let location = BlobLocation::Folder("photos".into());
//! let blobs = Blobs::open(&location, 32 * 1024 * 1024)?;
//! let state = AppState::new(store, blobs, ServiceCatalog::builtin()?, Arc::new(SystemClock));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, state, std::future::pending()).await?;
//! # Ok(()) }
//! ```

pub mod blobs;
pub mod bookings;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
pub mod gov_notify;
pub mod history;
pub mod html;
pub mod intake;
pub mod layout;
pub mod missed_bins;
pub mod office;
pub mod outbox;
mod relay;
pub mod report;
pub mod residents;
pub mod retention;
mod routes;
pub mod secrets;
pub mod services;
pub mod smtp;
pub mod staff;
pub mod state;
pub mod store;
pub mod tracking;

use std::future::Future;

use axum::Router;
use axum::response::Response;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use clock::{Clock, FixedClock, ManualClock, SystemClock};
pub use state::AppState;
pub use store::SqliteStore;

use crate::error::ErrorDetail;

/// The whole HTTP application: routes, request tracing and error logging.
pub fn app(state: AppState) -> Router {
    routes::router(state)
        .layer(axum::middleware::map_response(log_failures))
        .layer(TraceLayer::new_for_http())
}

/// Serves the application on `listener` until `shutdown` completes, then
/// finishes the requests in flight. Other nodes' changes are heard from
/// the moment this is called (before the returned future first runs), so
/// nothing announced after a server is started is missed.
pub fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = std::io::Result<()>> + Send {
    let relay = relay::start(&state);
    async move {
        let served = axum::serve(listener, app(state))
            .with_graceful_shutdown(shutdown)
            .await;
        relay.stop();
        served
    }
}

/// Logs the hidden cause of every failed request, once, here rather than in
/// the handlers.
async fn log_failures(response: Response) -> Response {
    if let Some(ErrorDetail(detail)) = response.extensions().get::<ErrorDetail>() {
        tracing::error!(status = %response.status(), cause = %detail, "request failed");
    }
    response
}
