//! What a back-office handler asks for in its signature, so none holds
//! sign-in or form-token code of its own:
//!
//! - [`StaffSession`]: someone signed in, in their role for the council
//!   the session works for; without one, the visitor is sent to sign in;
//! - [`AdminSession`]: the same, and an administrator, else 403;
//! - [`CsrfForm<T>`]: a form that changes something, from a session, with
//!   the session's form token (else 403), read as `T`;
//! - [`CsrfUpload`]: the same for a `multipart/form-data` form with a file.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::staff;
use super::upload::Upload;
use crate::error::ApiError;
use crate::routes::checked;
use crate::state::AppState;
use crate::store::staff::StaffRole;
pub(crate) use crate::store::staff::StaffSession;

/// Where a page without a session sends its visitor.
pub(crate) fn to_sign_in() -> Response {
    Redirect::to("/office/sign-in").into_response()
}

impl FromRequestParts<AppState> for StaffSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(session) = checked::<StaffSession>(parts) {
            return Ok(session);
        }
        match staff::session(state, &parts.headers).await {
            Ok(Some(session)) => Ok(session),
            Ok(None) => Err(to_sign_in()),
            Err(error) => Err(error.into_response()),
        }
    }
}

/// A signed-in administrator of the session's council.
pub(crate) struct AdminSession(pub(crate) StaffSession);

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = StaffSession::from_request_parts(parts, state).await?;
        admin_only(&session).map_err(IntoResponse::into_response)?;
        Ok(AdminSession(session))
    }
}

/// A form that changes something: the session it came from and its
/// fields, accepted only with the session's form token.
pub(crate) struct CsrfForm<T> {
    /// Who sent it.
    pub(crate) session: StaffSession,
    /// What it says.
    pub(crate) form: T,
}

/// The form token every changing form carries.
#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    csrf: String,
}

/// Refuses a form whose token is not the session's.
fn check_token(session: &StaffSession, offered: &str) -> Result<(), ApiError> {
    if staff::csrf_matches(session, offered) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "this form is out of date: go back, reload the page and try again".into(),
        ))
    }
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session = StaffSession::from_request_parts(&mut parts, state).await?;
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let unreadable = |error: serde_urlencoded::de::Error| {
            ApiError::BadRequest(format!("the form could not be read: {error}")).into_response()
        };
        let token: Token = serde_urlencoded::from_bytes(&body).map_err(unreadable)?;
        check_token(&session, &token.csrf).map_err(IntoResponse::into_response)?;
        let form = serde_urlencoded::from_bytes(&body).map_err(unreadable)?;
        Ok(CsrfForm { session, form })
    }
}

/// A [`CsrfForm`] only an administrator may send (else 403).
pub(crate) struct AdminForm<T>(pub(crate) CsrfForm<T>);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for AdminForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let form = CsrfForm::<T>::from_request(request, state).await?;
        admin_only(&form.session).map_err(IntoResponse::into_response)?;
        Ok(AdminForm(form))
    }
}

/// Refuses what only an administrator may do.
pub(crate) fn admin_only(session: &StaffSession) -> Result<(), ApiError> {
    if session.role == StaffRole::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only an administrator can manage devices, people and teams".into(),
        ))
    }
}

/// A form whose only field is its token (a button).
#[derive(Deserialize)]
pub(crate) struct Button {}

/// A `multipart/form-data` form with a file that changes something.
pub(crate) struct CsrfUpload {
    /// Who sent it.
    pub(crate) session: StaffSession,
    /// Its fields and file.
    pub(crate) upload: Upload,
}

impl FromRequest<AppState> for CsrfUpload {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session = StaffSession::from_request_parts(&mut parts, state).await?;
        let multipart = Multipart::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let upload = Upload::read(multipart)
            .await
            .map_err(IntoResponse::into_response)?;
        check_token(&session, &upload.field("csrf")).map_err(IntoResponse::into_response)?;
        Ok(CsrfUpload { session, upload })
    }
}
