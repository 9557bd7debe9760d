//! What every handler shares: the store, the service definitions, the
//! clock, this node's Automerge actor, and the admin token.

use std::sync::Arc;

use automerge::ActorId;
use doorstep_shared::ids::UserId;
use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::sync::server::SyncServer;
use doorstep_shared::transition::{Actor, Role};
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::error::ApiError;
use crate::photos::storage::Blobs;
use crate::secrets::Secret;
use crate::store::{Store, StoreError, run_sync};

/// The user the server acts as when it follows up actions.
pub const SYSTEM_USER: UserId = UserId::from_u128(0);

/// The user residents' own changes are signed by: residents have no
/// accounts, and their words (a report, its photos) are told apart from
/// staff's by this user and the resident role.
pub const RESIDENT_USER: UserId = UserId::from_u128(1);

/// Who a resident acts as on the council's pages.
pub fn resident_actor() -> Actor {
    Actor {
        user: RESIDENT_USER,
        role: Role::Resident,
        device: None,
    }
}

/// Who the server acts as: follows up actions, books slots, files what the
/// office and residents ask for.
pub fn system_actor() -> Actor {
    Actor {
        user: SYSTEM_USER,
        role: Role::System,
        device: None,
    }
}

/// Blocking work on the store, run off the async threads, failed: the
/// error of the server's own work (workers, documents it writes), which
/// the HTTP edge turns into a 500 that hides it.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// Storage failed.
    #[error("storage failed")]
    Store(#[from] StoreError),
    /// The blocking task did not finish.
    #[error("a storage task stopped")]
    Task(#[from] tokio::task::JoinError),
}

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    store: Arc<Store>,
    blobs: Blobs,
    services: Arc<ServiceCatalog>,
    clock: Arc<dyn Clock>,
    node_actor: ActorId,
    admin_token: Option<Secret>,
    changes: tokio::sync::broadcast::Sender<Changed>,
    web_app: Option<Arc<std::path::Path>>,
    public_url: Arc<str>,
    demo_pages: bool,
    notify_callback_token: Option<Secret>,
    booking_capacity: u32,
    branding: crate::pages::layout::Branding,
    workers: Option<crate::workers::Workers>,
    throttle: Arc<crate::throttle::Throttle>,
}

/// A tenant's documents changed, through a device's push or the office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    /// The tenant.
    pub tenant: doorstep_shared::ids::TenantId,
    /// The device whose push it was (it needs no notice); none for the
    /// office's own edits.
    pub by: Option<doorstep_shared::ids::DeviceId>,
}

/// The Automerge actor id of a server node, derived from its name: every
/// node of a deployment needs its own name, so their changes never collide.
pub fn node_actor(node: &str) -> ActorId {
    let digest = Sha256::digest(format!("doorstep-server-node:{node}").as_bytes());
    ActorId::from(&digest[..16])
}

impl AppState {
    /// Bundles the server's parts.
    pub fn new(
        store: Arc<Store>,
        blobs: Blobs,
        services: ServiceCatalog,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            blobs,
            services: Arc::new(services),
            clock,
            node_actor: node_actor("node-1"),
            admin_token: None,
            changes: tokio::sync::broadcast::channel(256).0,
            web_app: None,
            public_url: Arc::from("http://127.0.0.1:8080"),
            demo_pages: false,
            notify_callback_token: None,
            booking_capacity: 4,
            branding: crate::pages::layout::Branding::default(),
            workers: None,
            throttle: Arc::default(),
        }
    }

    /// Rate limits per client address, and the proxies whose
    /// `X-Forwarded-For` names the client (see [`crate::throttle`]).
    pub fn with_rate_limits(
        mut self,
        limits: crate::throttle::RateLimits,
        trusted_proxies: Vec<std::net::IpAddr>,
    ) -> Self {
        self.throttle = Arc::new(crate::throttle::Throttle::new(limits, trusted_proxies));
        self
    }

    /// The rate limits' counts.
    pub fn throttle(&self) -> &crate::throttle::Throttle {
        &self.throttle
    }

    /// The background workers [`crate::serve`] runs; none without this
    /// (tests run each pass themselves).
    pub fn with_workers(mut self, workers: crate::workers::Workers) -> Self {
        self.workers = Some(workers);
        self
    }

    /// The background workers, if the server runs them.
    pub fn workers(&self) -> Option<&crate::workers::Workers> {
        self.workers.as_ref()
    }

    /// The council's colour and logo on residents' pages.
    pub fn with_branding(mut self, branding: crate::pages::layout::Branding) -> Self {
        self.branding = branding;
        self
    }

    /// The council's colour and logo on residents' pages.
    pub fn branding(&self) -> &crate::pages::layout::Branding {
        &self.branding
    }

    /// Jobs a crew takes per half-day.
    pub fn with_booking_capacity(mut self, capacity: u32) -> Self {
        self.booking_capacity = capacity;
        self
    }

    /// Jobs a crew takes per half-day.
    pub fn booking_capacity(&self) -> u32 {
        self.booking_capacity
    }

    /// Accepts Notify's delivery callbacks with this bearer token.
    pub fn with_notify_callback_token(mut self, token: Option<Secret>) -> Self {
        self.notify_callback_token = token;
        self
    }

    /// The token Notify's delivery callbacks must carry, if they are on.
    pub fn notify_callback_token(&self) -> Option<&Secret> {
        self.notify_callback_token.as_ref()
    }

    /// Serves the demo's own pages (the demo outbox).
    pub fn with_demo_pages(mut self, on: bool) -> Self {
        self.demo_pages = on;
        self
    }

    /// Whether the demo's own pages are served.
    pub fn demo_pages(&self) -> bool {
        self.demo_pages
    }

    /// The address residents reach this server at, for links in messages.
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = Arc::from(url.trim_end_matches('/'));
        self
    }

    /// The address residents reach this server at, without a trailing `/`.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Whether cookies are marked `Secure`: when residents and staff reach
    /// the server over `https://`, and not on a plain `http://` demo, where
    /// browsers would drop them.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Serves the browser app built into `folder` at `/app/`.
    pub fn with_web_app(mut self, folder: Option<std::path::PathBuf>) -> Self {
        self.web_app = folder.map(Arc::from);
        self
    }

    /// Where the browser app is, if it is served.
    pub fn web_app(&self) -> Option<&std::path::Path> {
        self.web_app.as_deref()
    }

    /// Names this server node (see [`node_actor`]).
    pub fn with_node(mut self, node: &str) -> Self {
        self.node_actor = node_actor(node);
        self
    }

    /// Enables the admin API with this token.
    pub fn with_admin_token(mut self, token: Option<Secret>) -> Self {
        self.admin_token = token;
        self
    }

    /// Tells live connections that a tenant's documents changed.
    pub fn notify(&self, changed: Changed) {
        self.notify_here(changed);
        // The other nodes sharing the database hear of it too (best
        // effort: their boards also refresh by themselves). A database of
        // one node's own costs nothing here.
        if !self.store.shared_by_nodes() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let store = Arc::clone(&self.store);
            let node = self.node_actor.to_hex_string();
            runtime.spawn_blocking(move || {
                if let Err(error) = store.announce_change(changed.tenant, &node) {
                    tracing::warn!(%error, "could not tell the other nodes of a change");
                }
            });
        }
    }

    /// Tells this node's live connections only.
    fn notify_here(&self, changed: Changed) {
        // No live connection is not an error.
        let _ = self.changes.send(changed);
    }

    /// Where this node's live connections hear of changes (the relay
    /// passes other nodes' changes in here).
    pub fn change_sender(&self) -> tokio::sync::broadcast::Sender<Changed> {
        self.changes.clone()
    }

    /// This node's name on the changes it announces.
    pub fn node_name(&self) -> String {
        self.node_actor.to_hex_string()
    }

    /// The store, for what runs beside the handlers (the change relay).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Listens for changes, for one live connection.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Changed> {
        self.changes.subscribe()
    }

    /// The photo store.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// The service definitions.
    pub fn services(&self) -> &ServiceCatalog {
        &self.services
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Checks an admin token against the configured one.
    pub fn check_admin(&self, offered: Option<&str>) -> Result<(), ApiError> {
        let Some(token) = &self.admin_token else {
            return Err(ApiError::Forbidden(
                "the admin API is off: set DOORSTEP_ADMIN_TOKEN to use it".into(),
            ));
        };
        match offered {
            Some(offered) if token.matches(offered) => Ok(()),
            _ => Err(ApiError::Unauthorized(
                "a valid admin token is needed".into(),
            )),
        }
    }

    /// Runs blocking storage work off the async threads.
    pub async fn with_store<T, F>(&self, work: F) -> Result<T, WorkError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        Ok(tokio::task::spawn_blocking(move || work(store.as_ref())).await??)
    }

    /// The name of the council residents are told about (its tenant
    /// record), or "Your council" if it has none.
    pub async fn council_name(
        &self,
        tenant: doorstep_shared::ids::TenantId,
    ) -> Result<String, WorkError> {
        Ok(self
            .with_store(move |store| store.tenant_name(tenant))
            .await?
            .unwrap_or_else(|| "Your council".into()))
    }

    /// Runs blocking work that needs the store, the service definitions
    /// and this node's actor id (making documents), off the async threads.
    pub async fn with_server<T, E, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Send + 'static,
        ApiError: From<E>,
        F: FnOnce(&Store, &ServiceCatalog, &ActorId) -> Result<T, E> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        let services = Arc::clone(&self.services);
        let actor = self.node_actor.clone();
        Ok(tokio::task::spawn_blocking(move || work(store.as_ref(), &services, &actor)).await??)
    }

    /// Runs one sync transaction with the sync logic, off the async threads.
    pub async fn with_sync<T, F>(&self, work: F) -> Result<T, WorkError>
    where
        T: Send + 'static,
        F: FnOnce(
                &mut dyn doorstep_shared::sync::store::SyncStore<Error = StoreError>,
                &SyncServer<'_>,
            ) -> Result<T, StoreError>
            + Send
            + 'static,
    {
        let store = Arc::clone(&self.store);
        let services = Arc::clone(&self.services);
        let actor = self.node_actor.clone();
        Ok(tokio::task::spawn_blocking(move || {
            let server = SyncServer {
                services: &services,
                actor,
                system: system_actor(),
            };
            run_sync(store.as_ref(), &services, |sync| work(sync, &server))
        })
        .await??)
    }
}
