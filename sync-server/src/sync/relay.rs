//! Several server nodes on one PostgreSQL database: a change accepted on
//! one node must wake the live connections (phones' WebSockets, the Today
//! board) on the others. Each node announces its changes through the
//! database ([`crate::store::Store::announce_change`]) and runs this relay,
//! a thread on a connection of its own that hears every node's
//! announcements and passes the others' to its own live connections. On
//! SQLite there is one node and no relay.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::state::{AppState, Changed};

/// How long the relay waits for an announcement before checking whether
/// the server is stopping.
const POLL: Duration = Duration::from_secs(1);

/// The running relay; [`Relay::stop`] ends it within [`POLL`].
pub(crate) struct Relay {
    stopping: Arc<AtomicBool>,
}

impl Relay {
    /// Ends the relay.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }
}

/// Starts relaying other nodes' changes to this node's live connections,
/// if the store has other nodes to hear from. Returns once the relay
/// listens (or there is nothing to listen to).
pub(crate) fn start(state: &AppState) -> Relay {
    let stopping = Arc::new(AtomicBool::new(false));
    let relay = Relay {
        stopping: Arc::clone(&stopping),
    };
    let changes = state.change_sender();
    let store = Arc::clone(state.store());
    let me = state.node_name();
    let (listening, ready) = std::sync::mpsc::channel();
    // The database client blocks (and runs its own runtime), so it lives on
    // a thread of its own, never on the async threads.
    let spawned = std::thread::Builder::new()
        .name("doorstep-relay".into())
        .spawn(move || {
            let mut listener = match store.change_listener() {
                Ok(Some(listener)) => listener,
                Ok(None) => {
                    let _ = listening.send(());
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot hear other nodes' changes; boards refresh every 30 seconds instead");
                    let _ = listening.send(());
                    return;
                }
            };
            let _ = listening.send(());
            // Only a weak hold on the store: a server dropped without
            // stopping (its runtime gone) ends the relay once its store is
            // gone, instead of keeping the store's connections open.
            let store = Arc::downgrade(&store);
            while !stopping.load(Ordering::Relaxed) && store.strong_count() > 0 {
                match listener.next(POLL) {
                    Ok(Some((tenant, node))) if node != me => {
                        // No live connection is not an error.
                        let _ = changes.send(Changed { tenant, by: None });
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "the change relay lost its connection");
                        return;
                    }
                }
            }
        });
    match spawned {
        // Brief: the time to open one connection.
        Ok(_) => {
            let _ = ready.recv();
        }
        Err(error) => tracing::warn!(%error, "could not start the change relay"),
    }
    relay
}
