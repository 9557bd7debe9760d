//! The server's background work, started and stopped by [`crate::serve`]:
//! sending residents' messages as they fall due, answering missed-bin
//! reports whose rounds have finished and refusing requests whose photos
//! never came (often), throwing away unfinished
//! uploads and erasing contact details past their retention (hourly).
//! Several nodes may run them at once: each claims its rows in the store.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::notify::Provider;
use crate::state::AppState;

/// What the workers need, and how often they run.
#[derive(Clone)]
pub struct Workers {
    /// Who sends residents' texts and emails.
    pub provider: Arc<dyn Provider>,
    /// How often due messages go out and missed-bin reports are checked.
    pub every: Duration,
    /// How often stale uploads and expired contact details are cleared.
    pub housekeeping_every: Duration,
    /// Days a resident's contact details are kept after their job closes.
    pub contact_retention_days: u32,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("every", &self.every)
            .field("housekeeping_every", &self.housekeeping_every)
            .field("contact_retention_days", &self.contact_retention_days)
            .finish_non_exhaustive()
    }
}

impl Workers {
    /// Every ten seconds and every hour, as a server runs in production.
    pub fn new(provider: Arc<dyn Provider>, contact_retention_days: u32) -> Self {
        Self {
            provider,
            every: Duration::from_secs(10),
            housekeeping_every: Duration::from_secs(60 * 60),
            contact_retention_days,
        }
    }
}

/// Unfinished uploads older than this are thrown away.
const STALE_UPLOAD_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The workers of one server, running.
pub(crate) struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Asks every worker to stop and waits for the pass under way to end.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the workers `state` is configured with (none without).
pub(crate) fn start(state: &AppState) -> Running {
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    if let Some(workers) = state.workers().cloned() {
        tasks.push(tokio::spawn(every(
            workers.every,
            stopped.clone(),
            state.clone(),
            {
                let provider = Arc::clone(&workers.provider);
                move |state| deliver(state, Arc::clone(&provider))
            },
        )));
        let days = workers.contact_retention_days;
        tasks.push(tokio::spawn(every(
            workers.housekeeping_every,
            stopped,
            state.clone(),
            move |state| housekeeping(state, days),
        )));
    }
    Running { stop, tasks }
}

/// Runs `pass` now and then every `period` until told to stop.
async fn every<F, P>(period: Duration, mut stopped: watch::Receiver<bool>, state: AppState, pass: P)
where
    P: Fn(AppState) -> F,
    F: std::future::Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = ticks.tick() => pass(state.clone()).await,
        }
    }
}

async fn deliver(state: AppState, provider: Arc<dyn Provider>) {
    let now = state.clock().now();
    match crate::notify::deliver_due(&state, provider.as_ref(), now).await {
        Ok(done) if done == Default::default() => {}
        Ok(done) => tracing::info!(
            sent = done.sent,
            skipped = done.skipped,
            retried = done.retried,
            held = done.held,
            failed = done.failed,
            "residents' messages"
        ),
        Err(error) => tracing::warn!(%error, "could not deliver residents' messages"),
    }
    match crate::residents::check_waiting(&state, now).await {
        Ok(0) => {}
        Ok(checked) => tracing::info!(
            checked,
            "missed-bin reports checked against finished rounds"
        ),
        Err(error) => tracing::warn!(%error, "could not check missed-bin reports"),
    }
    match crate::photos::evidence::decide_waiting(&state).await {
        Ok(0) => {}
        Ok(decided) => tracing::info!(decided, "requests that waited for their photos decided"),
        Err(error) => tracing::warn!(%error, "could not decide requests waiting for photos"),
    }
}

async fn housekeeping(state: AppState, contact_days: u32) {
    let now = state.clock().now();
    let before = now.plus_millis(-STALE_UPLOAD_MS);
    match crate::photos::storage::prune_stale_uploads(&state, before).await {
        Ok(0) => {}
        Ok(pruned) => tracing::info!(pruned, "threw away unfinished photo uploads"),
        Err(error) => tracing::warn!(%error, "could not prune unfinished photo uploads"),
    }
    match crate::residents::erase_expired_contacts(&state, contact_days, now).await {
        Ok(0) => {}
        Ok(erased) => tracing::info!(erased, "erased residents' contact details"),
        Err(error) => tracing::warn!(%error, "could not erase expired contact details"),
    }
}
