//! What both kinds of pages share — the residents' pages and the back
//! office: the GOV.UK-style layout, escaping, the stylesheet and the
//! council's logo, and how a page or a private photo is answered.

pub(crate) mod layout;
pub(crate) mod web_app;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use layout::{BrandColour, Branding, Logo};

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::error::{ErrorDetail, PublicMessage};
use crate::routes::{self, Caller, Route};
use crate::state::AppState;
use layout::{
    GOVUK_STYLESHEET, GOVUK_STYLESHEET_PATH, LOGO_PATH, Page, STYLESHEET, STYLESHEET_PATH,
};

/// Turns the JSON error answers of a page route into a page saying the
/// same, with the same status: people in a browser never see JSON. Layered
/// over each feature's pages, not its APIs.
pub(crate) async fn errors_as_pages(State(state): State<AppState>, response: Response) -> Response {
    let Some(PublicMessage(message)) = response.extensions().get::<PublicMessage>().cloned() else {
        return response;
    };
    let status = response.status();
    let title = match status {
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => "You cannot do that",
        StatusCode::CONFLICT => "That has changed",
        status if status.is_server_error() => "Sorry, there is a problem with the service",
        _ => "There is a problem",
    };
    let mut sentence = message.trim_end_matches('.').to_owned();
    if let Some(first) = sentence.get(..1) {
        sentence.replace_range(..1, &first.to_uppercase());
    }
    let page = Page {
        council: "Doorstep",
        service: "Doorstep",
        title,
        has_errors: false,
        staff: false,
        main: html! {
            h1.govuk-heading-l { (title) }
            p.govuk-body { (sentence) "." }
            p.govuk-body { "Go back to the page you came from and try again." }
        },
    };
    let mut page = render(&state, status, &page);
    // The cause stays with the response for the request log.
    if let Some(detail) = response.extensions().get::<ErrorDetail>().cloned() {
        page.extensions_mut().insert(detail);
    }
    if let Some(retry) = response.headers().get(header::RETRY_AFTER) {
        page.headers_mut()
            .insert(header::RETRY_AFTER, retry.clone());
    }
    page
}

/// Text as the pages write it (escaped by maud, as in every template): for
/// tests and callers that look for a page's words in its HTML.
pub fn escape(text: &str) -> String {
    html! { (text) }.into_string()
}

/// The stylesheets and the council's logo.
pub(crate) fn routes() -> Vec<Route> {
    vec![
        routes::get(STYLESHEET_PATH, Caller::Anyone, || {
            stylesheet(STYLESHEET, "public, max-age=3600")
        }),
        // Its address names its version: it never changes there.
        routes::get(GOVUK_STYLESHEET_PATH, Caller::Anyone, || {
            stylesheet(GOVUK_STYLESHEET, "public, max-age=31536000, immutable")
        }),
        routes::get(LOGO_PATH, Caller::Anyone, logo),
    ]
}

async fn stylesheet(text: &'static str, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
        ],
        text,
    )
        .into_response()
}

async fn logo(State(state): State<AppState>) -> Response {
    match &state.branding().logo {
        Some(logo) => (
            [
                (header::CONTENT_TYPE, logo.content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                // An SVG opened on its own runs nothing.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'",
                ),
            ],
            Body::from(logo.bytes.to_vec()),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A page, answered with `status`: HTML, never cached, sending no referrer.
pub(crate) fn render(state: &AppState, status: StatusCode, page: &Page<'_>) -> Response {
    let mut response = (status, page.render(state.branding()).into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    private(headers);
    response
}

/// Personal pages: never cached, and no referrer carries the token away.
pub(crate) fn private(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A photo shown on a resident's page: its bytes, type and length, not
/// cached and sending no referrer.
pub(crate) fn photo_response(opened: crate::photos::storage::Opened) -> Response {
    let mut response = Body::from_stream(opened.bytes).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&opened.blob.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, opened.blob.length.into());
    private(headers);
    response
}

/// A plain server page: the house style for tables, `extra_style` after
/// it, and `body` inside.
pub(crate) fn plain_page(title: &str, extra_style: &str, body: Markup) -> Markup {
    const STYLE: &str =
        "body { font: 18px/1.5 system-ui, sans-serif; margin: 1rem; color: #0b0c0c; }
table { border-collapse: collapse; width: 100%; }
th, td.govuk-table__cell { text-align: left; padding: .5rem; border-bottom: 1px solid #b1b4b6; vertical-align: top; }
";
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) (PreEscaped(extra_style)) }
            }
            body { (body) }
        }
    }
}
