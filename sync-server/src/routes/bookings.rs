//! `GET /api/jobs/{job}/slots` (the half-days on offer, with places left)
//! and `POST /api/jobs/{job}/booking` with `{"slot": "2026-11-30-am"}`.
//! For now they take the admin token: staff sign-in comes with the back
//! office ([8/8]) and residents book through their tracking link ([7/8]).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use doorstep_shared::ids::JobId;
use serde::Deserialize;

use super::sync::bearer;
use crate::bookings::{self, Slot};
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/jobs/{job}/slots", get(list))
        .route("/api/jobs/{job}/booking", post(create))
}

fn job_id(text: &str) -> Result<JobId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::BadRequest(format!("{text:?} is not a job id")))
}

async fn list(
    State(state): State<AppState>,
    Path(job): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<Slot>>, ApiError> {
    state.check_admin(bearer(&headers))?;
    let now = state.clock().now();
    Ok(Json(bookings::slots(&state, job_id(&job)?, now).await?))
}

#[derive(Deserialize)]
struct Booking {
    slot: String,
}

async fn create(
    State(state): State<AppState>,
    Path(job): Path<String>,
    headers: HeaderMap,
    Json(booking): Json<Booking>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.check_admin(bearer(&headers))?;
    let now = state.clock().now();
    let slot = bookings::book(&state, job_id(&job)?, &booking.slot, now).await?;
    let appointment = slot.appointment();
    Ok(Json(serde_json::json!({
        "slot": slot.to_string(),
        "starts": appointment.starts,
        "ends": appointment.ends,
    })))
}
