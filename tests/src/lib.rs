//! The harness the end-to-end tests and benchmarks share: a real
//! `doorstep-server` on a loopback port chosen by the OS, with its own data
//! folder and a fixed clock, and typed helpers to talk to it.

mod camera;
pub mod fuzz;
mod proxy;
mod s3;
mod uploads;

pub use camera::camera_file;
pub use proxy::CuttingProxy;
pub use s3::S3Server;
pub use uploads::{StopAt, UploadRun};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::collections::BTreeMap;

use anyhow::Context;
use automerge::{ActorId, AutoCommit};
use doorstep_server::demo::DemoLogin;
use doorstep_server::photos::{BlobLocation, Blobs};
use doorstep_server::store::Store;
use doorstep_server::{AppState, ManualClock, demo, serve};
use doorstep_shared::ids::{BlobHash, DeviceId, TenantId};
use doorstep_shared::sync::device::{DeviceSync, Effect, SyncEvent};
use doorstep_shared::sync::simulation::apply_effects;
use doorstep_shared::sync::wire::{DefinitionChanges, DocumentId};
use doorstep_shared::time::Timestamp;
use doorstep_shared::upload::{UploadEvent, UploadQueue};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The moment every test server believes it is: 2026-11-27 07:50 UTC.
pub fn test_now() -> Timestamp {
    Timestamp::from_millis(1_795_765_800_000)
}

/// A service a council adds as a file (`tests/fixtures/pest-control.toml`):
/// an action and a transition for operatives, each asking for a note, the
/// transition for a photo too.
pub const COUNCIL_SERVICE: &str = include_str!("../fixtures/pest-control.toml");

/// A services folder in `dir` holding the council's own service.
pub fn council_services(dir: &Path) -> anyhow::Result<PathBuf> {
    let folder = dir.join("services");
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join("pest-control.toml"), COUNCIL_SERVICE)?;
    Ok(folder)
}

/// The largest photo a test server takes.
pub const MAX_PHOTO_BYTES: u64 = 32 * 1024 * 1024;

/// The demo dispatcher's back-office password on every test server.
pub const STAFF_PASSWORD: &str = "test-dispatcher-password";

/// The admin token every test server accepts.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// How to start a test server, beyond its store.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// The address to listen on (any free loopback port if none).
    pub listen: Option<SocketAddr>,
    /// The browser app's build folder, served at `/app/`.
    pub web_app: Option<PathBuf>,
    /// Serve the demo's own pages (the demo outbox), as `--demo` does.
    pub demo_pages: bool,
    /// The bearer token Notify's delivery callbacks carry.
    pub notify_callback_token: Option<String>,
    /// Jobs a crew takes per half-day (the server's default if none).
    pub booking_capacity: Option<u32>,
    /// The node's name, when several share one database (`node-1` if none).
    pub node: Option<String>,
    /// The council's own service definitions (`*.toml`), beside the
    /// built-in ones.
    pub services_dir: Option<PathBuf>,
    /// Background workers for `serve` to run (none: tests run each pass).
    pub workers: Option<doorstep_server::workers::Workers>,
    /// Rate limits per client address (none: so high no test meets them,
    /// since every test client is 127.0.0.1).
    pub rate_limits: Option<doorstep_server::throttle::RateLimits>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The address residents and staff reach the server at.
    pub public_url: Option<String>,
}

/// A running server; stops when dropped or [`TestServer::stop`]ped.
pub struct TestServer {
    /// Where it listens.
    pub address: SocketAddr,
    /// Enrolment codes of the demo people, if this start seeded the demo.
    pub logins: Vec<DemoLogin>,
    /// The server's state, for looking behind its API.
    pub state: AppState,
    /// The server's clock, at [`test_now`] until a test moves it.
    pub clock: Arc<ManualClock>,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server on `data_dir`, seeding the demo data if the database
    /// there is empty.
    pub async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let store = Arc::new(Store::open_sqlite(&data_dir.join("doorstep.db"))?);
        Self::start_with(store, Self::photo_folder(data_dir)?).await
    }

    /// The photo store a server keeps in `data_dir` by default.
    pub fn photo_folder(data_dir: &Path) -> anyhow::Result<Blobs> {
        Ok(Blobs::open(
            &BlobLocation::Folder(data_dir.join("photos")),
            MAX_PHOTO_BYTES,
        )?)
    }

    /// Starts a server on any store and photo store, seeding the demo if
    /// the store is empty.
    pub async fn start_with(store: Arc<Store>, blobs: Blobs) -> anyhow::Result<Self> {
        Self::start_with_options(store, blobs, ServerOptions::default()).await
    }

    /// Starts a server on `data_dir` with `options` (a fixed address, so a
    /// browser can find it again after a restart; the web app).
    pub async fn start_at(data_dir: &Path, options: ServerOptions) -> anyhow::Result<Self> {
        let store = Arc::new(Store::open_sqlite(&data_dir.join("doorstep.db"))?);
        Self::start_with_options(store, Self::photo_folder(data_dir)?, options).await
    }

    /// Starts a server on any store and photo store with `options`.
    pub async fn start_with_options(
        store: Arc<Store>,
        blobs: Blobs,
        options: ServerOptions,
    ) -> anyhow::Result<Self> {
        let services = doorstep_server::services::load(options.services_dir.as_deref())?;
        let server_actor = doorstep_server::state::node_actor("node-1");
        // Stores block: seed off the async threads.
        let (store, services, logins) = tokio::task::spawn_blocking(move || {
            let mut issued = 0;
            let logins =
                demo::seed_if_empty(store.as_ref(), &services, &server_actor, test_now(), || {
                    issued += 1;
                    Ok(format!("TEST{issued}-CODE{issued}"))
                })?
                .unwrap_or_default();
            // The demo dispatcher signs in to the back office (when the
            // store holds the demo; a benchmark's own data has no Dan).
            if store.user_name(demo::DEMO_DISPATCHER)?.is_some() {
                demo::set_dispatcher_password(store.as_ref(), STAFF_PASSWORD)?;
            }
            anyhow::Ok((store, services, logins))
        })
        .await??;
        let clock = Arc::new(ManualClock::new(test_now()));
        let mut state = AppState::new(store, blobs, services, clock.clone())
            .with_admin_token(Some(ADMIN_TOKEN.parse().map_err(anyhow::Error::msg)?))
            .with_web_app(options.web_app)
            .with_demo_pages(options.demo_pages)
            .with_notify_callback_token(
                options
                    .notify_callback_token
                    .map(|token| token.parse())
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
            );
        if let Some(capacity) = options.booking_capacity {
            state = state.with_booking_capacity(capacity);
        }
        if let Some(node) = &options.node {
            state = state.with_node(node);
        }
        if let Some(workers) = options.workers {
            state = state.with_workers(workers);
        }
        if let Some(url) = &options.public_url {
            state = state.with_public_url(url);
        }
        let unmet = doorstep_server::throttle::RateLimits {
            sign_in: 100_000,
            enrolment: 100_000,
            report: 100_000,
            missed_bin: 100_000,
            tracking: 100_000,
            upload_bytes_per_day: u64::MAX,
        };
        state = state.with_rate_limits(
            options.rate_limits.unwrap_or(unmet),
            options.trusted_proxies,
        );

        // Bound before the server task starts: requests made as soon as this
        // returns queue in the backlog instead of being refused.
        let listen = options
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("could not listen on {listen}"))?;
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        Ok(Self {
            address,
            logins,
            state,
            clock,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// GETs a path, returning the status and body.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// GETs a path and parses the body as JSON.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<(u16, serde_json::Value)> {
        let (status, body) = self.get(path).await?;
        let json = serde_json::from_str(&body).with_context(|| format!("{path} gave {body:?}"))?;
        Ok((status, json))
    }

    /// The enrolment code of a demo person.
    pub fn code_for(&self, name: &str) -> String {
        self.logins
            .iter()
            .find(|login| login.name == name)
            .map(|login| login.code.clone())
            .unwrap_or_default()
    }

    /// POSTs JSON, with a bearer token if given; returns status and JSON.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
        token: Option<&str>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).with_context(|| format!("{path} gave {text:?}"))?
        };
        Ok((status, json))
    }

    /// Signs in to the back office as a browser would: opens the sign-in
    /// form (its token and cookie), then posts it. Redirects are not
    /// followed: a success is a 303 with the session cookie.
    pub async fn sign_in(&self, email: &str, password: &str) -> anyhow::Result<reqwest::Response> {
        self.sign_in_from(email, password, None).await
    }

    /// [`TestServer::sign_in`] from another loopback address
    /// (`127.0.0.2`...), as a different computer would.
    pub async fn sign_in_from(
        &self,
        email: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> anyhow::Result<reqwest::Response> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(from)
            .build()?;
        let form = client.get(self.url("/office/sign-in")).send().await?;
        let cookie = form
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with("doorstep_sign_in="))
            .and_then(|value| value.split(';').next())
            .context("the sign-in form sets no token cookie")?
            .to_owned();
        let page = form.text().await?;
        let token = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .context("the sign-in form has no token")?
            .to_owned();
        let body = serde_urlencoded::to_string([
            ("csrf", token.as_str()),
            ("email", email),
            ("password", password),
        ])?;
        Ok(client
            .post(self.url("/office/sign-in"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .body(body)
            .send()
            .await?)
    }

    /// The session cookie (`name=value`) of a successful sign-in.
    pub async fn session_for(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let response = self.sign_in(email, password).await?;
        anyhow::ensure!(
            response.status() == 303,
            "signing in as {email} gave {}",
            response.status()
        );
        Ok(response
            .headers()
            .get("set-cookie")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .context("no session cookie")?
            .to_owned())
    }

    /// GETs a path as the demo's administrator, signed in to the back
    /// office, and parses the body as JSON.
    pub async fn get_json_as_staff(&self, path: &str) -> anyhow::Result<(u16, serde_json::Value)> {
        let (status, body) = self.get_as_staff(path).await?;
        let json = serde_json::from_str(&body).with_context(|| format!("{path} gave {body:?}"))?;
        Ok((status, json))
    }

    /// GETs a path as the demo's administrator; returns status and body.
    pub async fn get_as_staff(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let cookie = self
            .session_for(demo::DEMO_DISPATCHER_EMAIL, STAFF_PASSWORD)
            .await?;
        let response = self
            .client
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// POSTs bytes to `/sync`; returns status and body.
    pub async fn post_sync(&self, bytes: Vec<u8>, token: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let response = self
            .client
            .post(self.url("/sync"))
            .bearer_auth(token)
            .body(bytes)
            .send()
            .await
            .context("POST /sync")?;
        let status = response.status().as_u16();
        Ok((status, response.bytes().await?.to_vec()))
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A phone in a test: the real device sync core, documents in memory, and
/// HTTP to a [`TestServer`].
pub struct TestDevice {
    /// The device id the server gave it.
    pub device: DeviceId,
    /// The actor id it signs changes with.
    pub actor: ActorId,
    /// Its bearer token.
    pub token: String,
    /// The sync core.
    pub sync: DeviceSync,
    /// Its documents.
    pub docs: BTreeMap<DocumentId, AutoCommit>,
    /// Events from the last sync.
    pub events: Vec<SyncEvent>,
    /// Photos waiting to go up.
    pub uploads: UploadQueue,
    /// The bytes of every rendition taken on it, by hash.
    pub files: BTreeMap<BlobHash, Vec<u8>>,
    /// Events from uploads so far.
    pub upload_events: Vec<UploadEvent>,
    /// Service definitions that changed, from the last sync.
    pub definitions: Vec<DefinitionChanges>,
}

impl TestDevice {
    /// Enrols with a code; panics with the server's answer if refused.
    pub async fn enrol(server: &TestServer, code: &str, tenant: TenantId) -> anyhow::Result<Self> {
        Self::enrol_at(&server.url(""), code, tenant).await
    }

    /// One sync: send what the core wants to send, apply the reply. Returns
    /// the HTTP status (200 when the server answered).
    pub async fn sync(&mut self, server: &TestServer, now: Timestamp) -> anyhow::Result<u16> {
        let Some(request) = self.sync.poll(now) else {
            anyhow::bail!("the device did not want to sync at {now}");
        };
        let (status, body) = server.post_sync(request, &self.token).await?;
        Ok(self.take_reply(now, status, body))
    }

    /// Syncs with the server at `base` (`http://host:port`); 0 if no
    /// answer came (the server died), which the sync core counts as a
    /// failed request.
    pub async fn sync_at(&mut self, base: &str, now: Timestamp) -> anyhow::Result<u16> {
        let Some(request) = self.sync.poll(now) else {
            anyhow::bail!("the device did not want to sync at {now}");
        };
        let answer = async {
            let response = reqwest::Client::new()
                .post(format!("{base}/sync"))
                .bearer_auth(&self.token)
                .body(request)
                .send()
                .await?;
            let status = response.status().as_u16();
            anyhow::Ok((status, response.bytes().await?.to_vec()))
        }
        .await;
        Ok(match answer {
            Ok((status, body)) => self.take_reply(now, status, body),
            Err(error) => {
                self.sync.failed(now, &error.to_string());
                0
            }
        })
    }

    /// Enrols with a code at the server at `base`.
    pub async fn enrol_at(base: &str, code: &str, tenant: TenantId) -> anyhow::Result<Self> {
        let response = reqwest::Client::new()
            .post(format!("{base}/api/enrol"))
            .json(&serde_json::json!({ "code": code }))
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        anyhow::ensure!(status == 200, "enrolment refused: {status} {text}");
        let body: serde_json::Value = serde_json::from_str(&text)?;
        let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
        Ok(Self {
            device: text("device").parse()?,
            actor: ActorId::from(hex_bytes(&text("actor"))?),
            token: text("token"),
            sync: DeviceSync::new([tenant]),
            docs: BTreeMap::new(),
            events: Vec::new(),
            uploads: UploadQueue::new(),
            files: BTreeMap::new(),
            upload_events: Vec::new(),
            definitions: Vec::new(),
        })
    }

    fn take_reply(&mut self, now: Timestamp, status: u16, body: Vec<u8>) -> u16 {
        let effects = if status == 200 {
            // Pushed: photos its changes reference may now go up.
            self.uploads.synced();
            self.sync.receive(now, &body)
        } else {
            vec![self.sync.failed(now, &String::from_utf8_lossy(&body))]
        };
        self.events = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Event(event) => Some(event.clone()),
                _ => None,
            })
            .collect();
        self.definitions = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Definitions { changes, .. } => Some(changes.clone()),
                _ => None,
            })
            .collect();
        apply_effects(&mut self.docs, &self.actor, effects);
        status
    }

    /// Edits a document and records the change for the next sync.
    pub fn edit(
        &mut self,
        tenant: TenantId,
        doc: DocumentId,
        change: impl FnOnce(&mut AutoCommit),
    ) -> anyhow::Result<()> {
        let document = self
            .docs
            .get_mut(&doc)
            .context("the device does not hold that document")?;
        let before = document.get_heads();
        change(document);
        document.commit();
        let changes = document
            .get_changes(&before)
            .into_iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        self.sync.record_local(tenant, doc, changes);
        Ok(())
    }
}

fn hex_bytes(text: &str) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(text.len().is_multiple_of(2), "odd-length hex");
    (0..text.len())
        .step_by(2)
        .map(|i| Ok(u8::from_str_radix(&text[i..i + 2], 16)?))
        .collect()
}
