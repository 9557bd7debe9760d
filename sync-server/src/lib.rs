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
//! use doorstep_server::photos::{BlobLocation, Blobs};
//! use doorstep_server::{AppState, Store, SystemClock, serve};
//! use doorstep_shared::service::ServiceCatalog;
//!
//! let store = Arc::new(Store::open_sqlite("doorstep.db".as_ref())?);
//! let location = BlobLocation::Folder("photos".into());
//! let blobs = Blobs::open(&location, 32 * 1024 * 1024)?;
//! let state = AppState::new(store, blobs, ServiceCatalog::builtin()?, Arc::new(SystemClock));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, state, std::future::pending()).await?;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
mod health;
pub mod intake;
pub mod notify;
pub mod office;
pub mod pages;
pub mod photos;
pub mod residents;
pub mod routes;
pub mod secrets;
pub mod services;
pub mod state;
pub mod store;
mod sync;
pub mod throttle;
pub mod workers;

use std::future::Future;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use clock::{Clock, FixedClock, ManualClock, SystemClock};
pub use state::AppState;
pub use store::{SqliteStore, Store};

use crate::error::ErrorDetail;

/// The whole HTTP application: the route table's routes, the headers
/// every answer carries, request tracing and error logging.
pub fn app(state: AppState) -> Router {
    routes::router(&state)
        .with_state(state)
        .layer(axum::middleware::map_response(log_failures))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(TraceLayer::new_for_http())
}

/// Serves the application on `listener` until `shutdown` completes, then
/// finishes the requests in flight and the workers' passes under way.
/// The state's workers (if any) run from the start. Other nodes' changes are heard from
/// the moment this is called (before the returned future first runs), so
/// nothing announced after a server is started is missed.
pub fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = std::io::Result<()>> + Send {
    let relay = sync::relay::start(&state);
    let workers = workers::start(&state);
    async move {
        let served = axum::serve(
            listener,
            app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        relay.stop();
        workers.stop().await;
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

/// Completes on Ctrl-C or, on Unix, SIGTERM: the usual way to stop
/// [`serve`].
pub async fn stop_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
