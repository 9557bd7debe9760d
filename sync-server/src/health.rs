//! `GET /health`: whether the server and its database answer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::routes::{self, Caller, Route};
use crate::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    vec![routes::get("/health", Caller::Anyone, show)]
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    database: &'static str,
    documents: Option<u64>,
    services: usize,
}

async fn show(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let documents = state
        .with_store(|store| {
            store.ping()?;
            store.count_documents()
        })
        .await;
    let (status, database, documents) = match documents {
        Ok(count) => (StatusCode::OK, "ok", Some(count)),
        Err(error) => {
            tracing::error!(error = %crate::error::DisplayChain(&error), "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None)
        }
    };
    let health = Health {
        status: if status == StatusCode::OK {
            "ok"
        } else {
            "degraded"
        },
        database,
        documents,
        services: state.services().len(),
    };
    (status, Json(health))
}
