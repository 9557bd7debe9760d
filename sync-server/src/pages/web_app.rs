//! `GET /app/…`: the operative app's browser build (built by
//! `scripts/build-web.sh`), so phones need nothing but this server. The
//! page and its service worker live under `/app/`, which is the service
//! worker's scope: the app shell is cached there, while sync and photo
//! requests go to the routes beside it.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, Redirect};
use axum::routing::get;
use maud::{DOCTYPE, html};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

pub(crate) fn router(folder: Option<&Path>) -> Router<AppState> {
    let app = Router::new().route("/app", get(|| async { Redirect::permanent("/app/") }));
    match folder.filter(|folder| folder.join("index.html").is_file()) {
        Some(folder) => app.merge(
            Router::new()
                .nest_service("/app/", ServeDir::new(folder))
                // A new build must reach phones the next time they have
                // signal: the browser asks before reusing a file (the
                // service worker keeps the offline copy).
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache"),
                )),
        ),
        None => {
            let page = not_built(folder);
            app.route("/app/", get(move || async move { page }))
        }
    }
}

fn not_built(folder: Option<&Path>) -> (StatusCode, Html<String>) {
    let place = folder.map_or_else(
        || "no folder is set (--web-app)".to_owned(),
        |folder| format!("nothing was found in {}", folder.display()),
    );
    (
        StatusCode::NOT_FOUND,
        Html(
            html! {
                (DOCTYPE)
                title { "Doorstep" }
                h1 { "The web app is not built" }
                p {
                    "Build it with " code { "./scripts/build-web.sh" }
                    " and restart the server (" (place) ")."
                }
            }
            .into_string(),
        ),
    )
}
