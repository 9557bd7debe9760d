//! Every route the server answers, in one table: its method, its path, who
//! may call it and how big its body may be. The same table builds the
//! router ([`router`]) and is what the authorization matrix test walks
//! ([`table`]), so a route cannot be added without saying who may call it,
//! and the test cannot miss it.
//!
//! Who may call is enforced here, before the handler runs and before any
//! body is read: a route for devices answers 401 to anything without a
//! live device token, a back-office page sends a visitor without a session
//! to sign in, an administrator's page answers 403 to other staff, a
//! resident's page answers "page not found" unless the path's tracking
//! link opens a job. What the check found (the device, the session, the
//! resident's job) travels to the handler's own extractors, which do not
//! look it up again. Handlers still state their caller in their signature;
//! the table is the deny-by-default floor under them.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use crate::error::ApiError;
use crate::office::{admin_only, to_sign_in};
use crate::residents::ResidentLink;
use crate::state::AppState;
use crate::sync::{AdminToken, DeviceAuth};
use crate::throttle::{Bucket, ClientAddress};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    /// Anyone at all: public pages, stylesheets, the health check, the
    /// residents' forms (throttled per address where they write).
    Anyone,
    /// An enrolled device, by the bearer token the server gave it.
    Device,
    /// A signed-in member of staff, any role, for the council their
    /// session works for.
    Staff,
    /// A signed-in administrator of the session's council.
    Administrator,
    /// Whoever holds the resident's tracking link the path names
    /// (`{token}`), while it opens a job.
    Resident,
    /// The server's operator, with the admin token (`--admin-token`).
    Operator,
    /// GOV.UK Notify's delivery callback, with the token set in Notify.
    Notify,
}

/// A route as the table states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// Its method.
    pub method: Method,
    /// Its path, with `{name}` for each parameter.
    pub path: &'static str,
    /// Who may call it.
    pub caller: Caller,
    /// The most a request's body may hold, in bytes.
    pub body_limit: usize,
    /// The rate limit it counts against, if any.
    pub throttle: Option<Bucket>,
    /// Whether its errors are answered as pages (else as JSON).
    pub page: bool,
}

/// The body a route takes unless it says otherwise: enough for any form.
pub const FORM_BYTES: usize = 64 * 1024;

/// A route: what the table states, and its handler.
pub(crate) struct Route {
    spec: RouteSpec,
    handler: MethodRouter<AppState>,
}

macro_rules! method {
    ($name:ident, $method:ident, $routing:ident) => {
        #[doc = concat!("A `", stringify!($method), "` route.")]
        pub(crate) fn $name<H, T>(path: &'static str, caller: Caller, handler: H) -> Route
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            Route::new(
                Method::$method,
                path,
                caller,
                axum::routing::$routing(handler),
            )
        }
    };
}

method!(get, GET, get);
method!(post, POST, post);
method!(put, PUT, put);
method!(patch, PATCH, patch);
method!(delete, DELETE, delete);

impl Route {
    fn new(
        method: Method,
        path: &'static str,
        caller: Caller,
        handler: MethodRouter<AppState>,
    ) -> Self {
        Route {
            spec: RouteSpec {
                method,
                path,
                caller,
                body_limit: FORM_BYTES,
                throttle: None,
                page: false,
            },
            handler,
        }
    }

    /// The most this route's body may hold.
    pub(crate) fn limit(mut self, bytes: usize) -> Self {
        self.spec.body_limit = bytes;
        self
    }

    /// Counts each call against `bucket`'s rate limit per client address.
    pub(crate) fn throttled(mut self, bucket: Bucket) -> Self {
        self.spec.throttle = Some(bucket);
        self
    }
}

/// Marks routes as pages: their errors are answered as pages.
pub(crate) fn pages(routes: Vec<Route>) -> Vec<Route> {
    routes
        .into_iter()
        .map(|mut route| {
            route.spec.page = true;
            route
        })
        .collect()
}

/// Every route, from every feature.
fn all(state: &AppState) -> Vec<Route> {
    [
        crate::health::routes(),
        crate::sync::routes(),
        crate::photos::routes(),
        crate::notify::routes(),
        crate::residents::routes(),
        crate::office::routes(),
        crate::pages::routes(),
        crate::pages::web_app::routes(state.web_app()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The table: every route the server answers, as it states it.
pub fn table(state: &AppState) -> Vec<RouteSpec> {
    all(state).into_iter().map(|route| route.spec).collect()
}

/// The router the table makes: each route's handler behind its caller's
/// check, its rate limit and its body limit.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let mut router = Router::new();
    for Route { spec, handler } in all(state) {
        let gate = Gate {
            state: state.clone(),
            caller: spec.caller,
            throttle: spec.throttle,
            page: spec.page,
            body_limit: spec.body_limit,
        };
        let mut handler = handler
            .layer(DefaultBodyLimit::max(spec.body_limit))
            .route_layer(axum::middleware::from_fn_with_state(gate, check));
        if spec.page {
            handler = handler.route_layer(axum::middleware::map_response_with_state(
                state.clone(),
                crate::pages::errors_as_pages,
            ));
        }
        router = router.route(spec.path, handler);
    }
    router
}

/// What a route's check needs.
#[derive(Clone)]
struct Gate {
    state: AppState,
    caller: Caller,
    throttle: Option<Bucket>,
    page: bool,
    body_limit: usize,
}

/// What a route's check found about its caller, for the handler's
/// extractors. Only this module makes one, so a request cannot bring its
/// own.
#[derive(Clone)]
pub(crate) struct Checked<T>(pub(crate) T);

/// Takes what the route's check found, if it found `T`.
pub(crate) fn checked<T: Clone + Send + Sync + 'static>(
    parts: &axum::http::request::Parts,
) -> Option<T> {
    parts
        .extensions
        .get::<Checked<T>>()
        .map(|Checked(found)| found.clone())
}

/// Refuses a caller the route does not take, before its body is read.
async fn check(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let state = &gate.state;
    let (mut parts, body) = request.into_parts();
    if let Some(bucket) = gate.throttle {
        let Ok(ClientAddress(client)) = ClientAddress::from_request_parts(&mut parts, state).await;
        if let Err(refused) = state.throttle().take(bucket, client, state.clock().now()) {
            return refused.into_response();
        }
    }
    macro_rules! found {
        ($extractor:ty) => {
            match <$extractor>::from_request_parts(&mut parts, state).await {
                Ok(found) => parts.extensions.insert(Checked(found)),
                Err(refused) => return refused.into_response(),
            }
        };
    }
    match gate.caller {
        Caller::Anyone => {}
        Caller::Device => {
            found!(DeviceAuth);
        }
        Caller::Staff | Caller::Administrator => {
            let session = match crate::office::staff::session(state, &parts.headers).await {
                Ok(Some(session)) => session,
                Ok(None) if gate.page => return to_sign_in(),
                Ok(None) => {
                    return ApiError::Unauthorized("sign in to the back office first".into())
                        .into_response();
                }
                Err(error) => return error.into_response(),
            };
            if gate.caller == Caller::Administrator
                && let Err(refused) = admin_only(&session)
            {
                return refused.into_response();
            }
            parts.extensions.insert(Checked(session));
        }
        Caller::Resident => {
            found!(ResidentLink);
        }
        Caller::Operator => {
            found!(AdminToken);
        }
        Caller::Notify => {
            found!(crate::notify::NotifyCallback);
        }
    }
    // A body announced larger than the route takes is refused now, not
    // after reading up to the limit.
    let announced = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|length| length > gate.body_limit as u64) {
        return ApiError::TooLarge(format!(
            "this request may carry at most {} bytes",
            gate.body_limit
        ))
        .into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}
