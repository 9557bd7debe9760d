//! `GET /app/…`: the operative app's browser build (built by
//! `scripts/build-web.sh`), so phones need nothing but this server. The
//! page and its service worker live under `/app/`, which is the service
//! worker's scope: the app shell is cached there, while sync and photo
//! requests go to the routes beside it.

use std::path::Path;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, html};
use tower_http::services::ServeDir;

use crate::routes::{self, Caller, Route};

pub(crate) fn routes(folder: Option<&Path>) -> Vec<Route> {
    let redirect = routes::get("/app", Caller::Anyone, || async {
        Redirect::permanent("/app/")
    });
    let Some(folder) = folder.filter(|folder| folder.join("index.html").is_file()) else {
        let page = not_built(folder);
        let same = page.clone();
        return vec![
            redirect,
            routes::get("/app/", Caller::Anyone, move || async move { page }),
            routes::get("/app/{*file}", Caller::Anyone, move || async move { same }),
        ];
    };
    let files = ServeDir::new(folder);
    let serve = move |request: Request| serve_file(files.clone(), request);
    vec![
        redirect,
        routes::get("/app/", Caller::Anyone, serve.clone()),
        routes::get("/app/{*file}", Caller::Anyone, serve),
    ]
}

/// A file of the build, by its path under `/app/`.
async fn serve_file(mut files: ServeDir, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let inside = parts.uri.path().strip_prefix("/app").unwrap_or("/");
    parts.uri = inside.parse().unwrap_or_else(|_| Uri::from_static("/"));
    let mut response = match files.try_call(Request::from_parts(parts, body)).await {
        Ok(response) => response.map(Body::new),
        Err(error) => {
            tracing::error!(%error, "could not read the web app's files");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    // A new build must reach phones the next time they have signal: the
    // browser asks before reusing a file (the service worker keeps the
    // offline copy).
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
    response
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
