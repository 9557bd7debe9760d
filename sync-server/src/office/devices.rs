//! The council's phones:
//!
//! - `GET /office/devices`: every device of the council's people, with
//!   when it last synced, and a form to enrol a new one;
//! - `POST /office/devices/enrolments` (`user`, and `device` to re-enrol
//!   a revoked phone, which keeps its actor id so its unsynced work is
//!   still taken): a one-time code for that person, shown as text and as a
//!   QR code that opens the web app with the code filled in;
//! - `POST /office/devices/{device}/revoke`: the device's token is refused
//!   from its next request on (a live connection is cut at its next
//!   message).

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use doorstep_shared::ids::{DeviceId, UserId};
use doorstep_shared::transition::Role;
use qrcode::render::{Canvas, Pixel};
use qrcode::{Color, QrCode};
use serde::Deserialize;

use super::session::{Button, CsrfForm, StaffSession};
use super::{csrf_field, select_with, staff_page};
use crate::error::ApiError;
use crate::pages::layout::table_head;
use crate::residents::progress::when;
use crate::routes::{self, Caller, Route};
use crate::secrets;
use crate::state::AppState;
use crate::sync::CODE_VALID_MINUTES;
use maud::{Markup, html};

pub(super) fn routes() -> Vec<Route> {
    vec![
        routes::get("/office/devices", Caller::Administrator, list),
        routes::post("/office/devices/enrolments", Caller::Administrator, enrol),
        routes::post(
            "/office/devices/{device}/revoke",
            Caller::Administrator,
            revoke,
        ),
    ]
}

/// The people a device can be enrolled for: the council's active staff
/// who use the app.
async fn enrollable(
    state: &AppState,
    session: &StaffSession,
) -> Result<Vec<(String, String)>, ApiError> {
    let tenant = session.tenant;
    Ok(state
        .with_store(move |store| store.people(tenant))
        .await?
        .into_iter()
        .filter(|(_, _, role)| matches!(role, Role::Operative | Role::Crew | Role::Dispatcher))
        .map(|(user, name, role)| (user.to_string(), format!("{name} ({role})")))
        .collect())
}

async fn list(State(state): State<AppState>, session: StaffSession) -> Result<Response, ApiError> {
    let tenant = session.tenant;
    let devices = state.with_store(move |store| store.devices(tenant)).await?;
    let people = enrollable(&state, &session).await?;
    let main = html! {
        h1.govuk-heading-l { "Devices" }
        h2.govuk-heading-m { "Enrol a phone" }
        form method="post" action="/office/devices/enrolments" {
            (csrf_field(&session))
            (select_with("user", "For", "Choose a person", &people, ""))
            button type="submit" class="govuk-button" { "Make an enrolment code" }
        }
        h2.govuk-heading-m { "Enrolled devices" }
        @if devices.is_empty() {
            p.govuk-body { "No phone has been enrolled yet." }
        } @else {
            table.govuk-table {
                (table_head("Enrolled devices", &["Person", "Device", "Enrolled", "Last synced", "Status"]))
                tbody.govuk-table__body {
                    @for device in &devices {
                        @let short = short_id(device.device);
                        tr.govuk-table__row {
                            td.govuk-table__cell { (device.name) }
                            td.govuk-table__cell { code { (short) } }
                            td.govuk-table__cell { (when(device.enrolled_at)) }
                            td.govuk-table__cell { (device.last_sync_at.map_or_else(|| "Never".into(), when)) }
                            td.govuk-table__cell {
                                @match device.revoked_at {
                                    // A revoked phone that turns up again is
                                    // re-enrolled with its own actor id, so its
                                    // unsynced work is still taken.
                                    Some(at) => {
                                        form method="post" action="/office/devices/enrolments" {
                                            (csrf_field(&session))
                                            input type="hidden" name="user" value=(device.user);
                                            input type="hidden" name="device" value=(device.device);
                                            "Revoked " (when(at)) " "
                                            button type="submit" class="govuk-button govuk-button--secondary" aria-label={ "Re-enrol " (device.name) "'s device " (short) } { "Re-enrol" }
                                        }
                                    }
                                    None => {
                                        form method="post" action={ "/office/devices/" (device.device) "/revoke" } {
                                            (csrf_field(&session))
                                            "In use "
                                            button type="submit" class="govuk-button govuk-button--warning" aria-label={ "Revoke " (device.name) "'s device " (short) } { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    staff_page(&state, &session, StatusCode::OK, "Devices", main).await
}

/// The first eight characters of a device's id: enough to tell a person's
/// phones apart.
fn short_id(device: DeviceId) -> String {
    device.to_string().chars().take(8).collect()
}

#[derive(Deserialize)]
struct EnrolForm {
    #[serde(default)]
    user: String,
    /// A revoked device of theirs to re-enrol.
    #[serde(default)]
    device: String,
}

async fn enrol(
    State(state): State<AppState>,
    CsrfForm { session, form }: CsrfForm<EnrolForm>,
) -> Result<Response, ApiError> {
    let people = enrollable(&state, &session).await?;
    let Some((user, label)) = people.iter().find(|(user, _)| *user == form.user) else {
        return Err(ApiError::BadRequest(
            "choose a person who works for your council".into(),
        ));
    };
    let user: UserId = user
        .parse()
        .map_err(|_| ApiError::BadRequest("choose a person who works for your council".into()))?;
    let device = match form.device.as_str() {
        "" => None,
        text => {
            let tenant = session.tenant;
            let wanted: Option<DeviceId> = text.parse().ok();
            let revoked = state
                .with_store(move |store| store.devices(tenant))
                .await?
                .into_iter()
                .find(|row| Some(row.device) == wanted && row.user == user)
                .filter(|row| row.revoked_at.is_some());
            match revoked {
                Some(row) => Some(row.device),
                None => {
                    return Err(ApiError::BadRequest(
                        "only a revoked device of that person can be re-enrolled".into(),
                    ));
                }
            }
        }
    };
    let code = secrets::enrolment_code()?;
    let expires_at = state.clock().now().plus_minutes(CODE_VALID_MINUTES);
    let stored = code.clone();
    state
        .with_store(move |store| store.create_enrolment(&stored, user, device, expires_at))
        .await?;
    let server = state.public_url().trim_end_matches('/').to_owned();
    let link = format!("{server}/app/#code={code}");
    let qr = qr_svg(&link)?;
    let main = html! {
        h1.govuk-heading-l { "Enrolment code for " (label) }
        p.govuk-body {
            "On the phone, open " strong { (server) "/app/" }
            " and enter this code, or scan the QR code with the phone's camera. The code works once, until "
            (when(expires_at)) "."
        }
        p class="enrolment-code" aria-label="Enrolment code" { code { (code) } }
        figure.qr {
            (qr)
            figcaption { "Scan to open the app with the code filled in" }
        }
        p.govuk-body { a.govuk-link href="/office/devices" { "Back to devices" } }
    };
    staff_page(&state, &session, StatusCode::OK, "Enrolment code", main).await
}

/// `text` as an inline SVG QR code, labelled for screen readers.
fn qr_svg(text: &str) -> Result<Markup, ApiError> {
    let code = QrCode::new(text.as_bytes())
        .map_err(|_| ApiError::BadRequest("that address is too long for a QR code".into()))?;
    Ok(code.render::<QrPixel>().min_dimensions(240, 240).build())
}

/// A module colour of the inline SVG QR code.
#[derive(Clone, Copy)]
struct QrPixel(&'static str);

impl Pixel for QrPixel {
    type Image = Markup;
    type Canvas = QrCanvas;

    fn default_color(color: Color) -> Self {
        QrPixel(color.select("#000", "#fff"))
    }
}

/// The inline SVG QR code being drawn: its size, colours, and the path
/// of its dark modules.
struct QrCanvas {
    width: u32,
    height: u32,
    dark: &'static str,
    light: &'static str,
    path: String,
}

impl Canvas for QrCanvas {
    type Pixel = QrPixel;
    type Image = Markup;

    fn new(width: u32, height: u32, dark: QrPixel, light: QrPixel) -> Self {
        QrCanvas {
            width,
            height,
            dark: dark.0,
            light: light.0,
            path: String::new(),
        }
    }

    fn draw_dark_pixel(&mut self, x: u32, y: u32) {
        self.draw_dark_rect(x, y, 1, 1);
    }

    fn draw_dark_rect(&mut self, left: u32, top: u32, width: u32, height: u32) {
        // Path data, not markup: escaped like any attribute value.
        let _ = write!(self.path, "M{left} {top}h{width}v{height}H{left}V{top}");
    }

    fn into_image(self) -> Markup {
        let (width, height) = (self.width, self.height);
        html! {
            svg role="img" aria-label="QR code of the enrolment link"
                xmlns="http://www.w3.org/2000/svg" version="1.1"
                width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) }
                shape-rendering="crispEdges" {
                rect x="0" y="0" width=(width) height=(height) fill=(self.light) {}
                path fill=(self.dark) d=(self.path) {}
            }
        }
    }
}

async fn revoke(
    State(state): State<AppState>,
    Path(device): Path<String>,
    CsrfForm { session, .. }: CsrfForm<Button>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound("there is no such device in your council".into());
    let device: DeviceId = device.parse().map_err(|_| not_found())?;
    let tenant = session.tenant;
    let now = state.clock().now();
    let revoked = state
        .with_store(move |store| {
            if !store
                .devices(tenant)?
                .iter()
                .any(|row| row.device == device)
            {
                return Ok(None);
            }
            store.revoke_device(device, now).map(Some)
        })
        .await?;
    match revoked {
        Some(_) => Ok(Redirect::to("/office/devices").into_response()),
        None => Err(not_found()),
    }
}
