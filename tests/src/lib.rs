//! The harness the end-to-end tests and benchmarks share: a real
//! `doorstep-server` on a loopback port chosen by the OS, with its own data
//! folder and a fixed clock, and typed helpers to talk to it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use doorstep_server::{AppState, FixedClock, SqliteStore, demo, serve};
use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::time::Timestamp;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The moment every test server believes it is: 2026-11-27 07:50 UTC.
pub fn test_now() -> Timestamp {
    Timestamp::from_millis(1_795_765_800_000)
}

/// A running server; stops when dropped or [`TestServer::stop`]ped.
pub struct TestServer {
    /// Where it listens.
    pub address: SocketAddr,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server on `data_dir`, seeding the demo data if the database
    /// there is empty.
    pub async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let store = SqliteStore::open(&data_dir.join("doorstep.db"))?;
        let services = ServiceCatalog::builtin()?;
        let server_actor = automerge::ActorId::from(b"test-server".as_slice());
        demo::seed_if_empty(&store, &services, &server_actor, test_now())?;
        let state = AppState::new(store, services, Arc::new(FixedClock(test_now())));

        // Bound before the server task starts: requests made as soon as this
        // returns queue in the backlog instead of being refused.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state, async {
            let _ = stopped.await;
        }));
        Ok(Self {
            address,
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
