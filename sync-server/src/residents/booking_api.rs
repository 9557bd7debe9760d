//! `GET /api/jobs/{job}/slots` (the half-days on offer, with places left)
//! and `POST /api/jobs/{job}/booking` with `{"slot": "2026-11-30-am"}`.
//! For now they take the admin token: staff sign-in comes with the back
//! office ([8/8]) and residents book through their tracking link ([7/8]).

use axum::Json;
use axum::extract::{Path, State};
use doorstep_shared::ids::JobId;
use serde::Deserialize;

use crate::error::ApiError;
use crate::residents::booking::Slot;
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use crate::sync::AdminToken;

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/api/jobs/{job}/slots", Caller::Operator, list),
        routes::post("/api/jobs/{job}/booking", Caller::Operator, create),
    ]
}

fn job_id(text: &str) -> Result<JobId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::BadRequest(format!("{text:?} is not a job id")))
}

async fn list(
    State(state): State<AppState>,
    Path(job): Path<String>,
    _: AdminToken,
) -> Result<Json<Vec<Slot>>, ApiError> {
    let now = state.clock().now();
    Ok(Json(
        super::booking::slots(&state, job_id(&job)?, now).await?,
    ))
}

#[derive(Deserialize)]
struct Booking {
    slot: String,
}

async fn create(
    State(state): State<AppState>,
    Path(job): Path<String>,
    _: AdminToken,
    Json(booking): Json<Booking>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = state.clock().now();
    let slot = super::booking::book(&state, job_id(&job)?, &booking.slot, None, now).await?;
    let appointment = slot.appointment();
    Ok(Json(serde_json::json!({
        "slot": slot.to_string(),
        "starts": appointment.starts,
        "ends": appointment.ends,
    })))
}
