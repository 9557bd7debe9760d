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

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use doorstep_shared::ids::{DeviceId, UserId};
use doorstep_shared::transition::Role;
use qrcode::QrCode;
use qrcode::render::svg;
use serde::Deserialize;

use super::session::{Button, CsrfForm, StaffSession};
use super::{select_with, staff_page};
use crate::error::ApiError;
use crate::pages::html::escape;
use crate::residents::progress::when;
use crate::secrets;
use crate::state::AppState;
use crate::sync::CODE_VALID_MINUTES;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/office/devices", get(list))
        .route("/office/devices/enrolments", post(enrol))
        .route("/office/devices/{device}/revoke", post(revoke))
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
    let mut main = String::from("<h1>Devices</h1>\n<h2>Enrol a phone</h2>\n");
    main.push_str(&format!(
        "<form method=\"post\" action=\"/office/devices/enrolments\">\n<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n{}<button type=\"submit\" class=\"button\">Make an enrolment code</button>\n</form>\n",
        escape(&session.csrf),
        select_with("user", "For", "Choose a person", &people, "").into_string(),
    ));
    main.push_str("<h2>Enrolled devices</h2>\n");
    if devices.is_empty() {
        main.push_str("<p>No phone has been enrolled yet.</p>\n");
    } else {
        main.push_str("<table class=\"table\">\n<caption class=\"visually-hidden\">Enrolled devices</caption>\n<thead><tr><th scope=\"col\">Person</th><th scope=\"col\">Device</th><th scope=\"col\">Enrolled</th><th scope=\"col\">Last synced</th><th scope=\"col\">Status</th></tr></thead>\n<tbody>\n");
        for device in &devices {
            let short = short_id(device.device);
            let status = match device.revoked_at {
                // A revoked phone that turns up again is re-enrolled with
                // its own actor id, so its unsynced work is still taken.
                Some(at) => format!(
                    "<form method=\"post\" action=\"/office/devices/enrolments\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"user\" value=\"{user}\"><input type=\"hidden\" name=\"device\" value=\"{id}\">Revoked {when} <button type=\"submit\" class=\"button button--secondary\" aria-label=\"Re-enrol {name}'s device {short}\">Re-enrol</button></form>",
                    csrf = escape(&session.csrf),
                    user = device.user,
                    id = device.device,
                    when = escape(&when(at)),
                    name = escape(&device.name),
                ),
                None => format!(
                    "<form method=\"post\" action=\"/office/devices/{id}/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">In use <button type=\"submit\" class=\"button button--warning\" aria-label=\"Revoke {name}'s device {short}\">Revoke</button></form>",
                    id = device.device,
                    csrf = escape(&session.csrf),
                    name = escape(&device.name),
                ),
            };
            main.push_str(&format!(
                "<tr><td>{}</td><td><code>{short}</code></td><td>{}</td><td>{}</td><td>{status}</td></tr>\n",
                escape(&device.name),
                escape(&when(device.enrolled_at)),
                escape(&device.last_sync_at.map_or_else(|| "Never".into(), when)),
            ));
        }
        main.push_str("</tbody>\n</table>\n");
    }
    staff_page(
        &state,
        &session,
        StatusCode::OK,
        "Devices",
        maud::PreEscaped(main),
    )
    .await
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
    let mut main = format!(
        "<h1>Enrolment code for {}</h1>\n<p>On the phone, open <strong>{}</strong> and enter this code, or scan the QR code with the phone's camera. The code works once, until {}.</p>\n<p class=\"enrolment-code\" aria-label=\"Enrolment code\"><code>{}</code></p>\n",
        escape(label),
        escape(&format!("{server}/app/")),
        escape(&when(expires_at)),
        escape(&code),
    );
    main.push_str(&format!(
        "<figure class=\"qr\">{}<figcaption>Scan to open the app with the code filled in</figcaption></figure>\n",
        qr_svg(&link)?
    ));
    main.push_str("<p><a href=\"/office/devices\">Back to devices</a></p>\n");
    staff_page(
        &state,
        &session,
        StatusCode::OK,
        "Enrolment code",
        maud::PreEscaped(main),
    )
    .await
}

/// `text` as an inline SVG QR code, labelled for screen readers.
fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = QrCode::new(text.as_bytes())
        .map_err(|_| ApiError::BadRequest("that address is too long for a QR code".into()))?;
    let drawn = code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .build();
    // The renderer writes a whole document; inline, only the element is
    // wanted, with a role and name of its own.
    let element = drawn.find("<svg").map_or(drawn.as_str(), |at| &drawn[at..]);
    Ok(element.replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"QR code of the enrolment link\" ",
        1,
    ))
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
