//! The app's link to its core: commands out, updates in. Natively the core
//! runs on its own thread ([`doorstep_app_core::runtime::Runtime`]); a
//! thread of the link's forwards its updates into a channel the UI awaits.

use std::sync::{Arc, Mutex};

use doorstep_app_core::core::Enrolment;
use doorstep_app_core::runtime::{Command, Commander, Update};
use futures_channel::mpsc::{UnboundedReceiver, unbounded};

/// Shared with every component through context; cheap to clone.
#[derive(Clone)]
pub struct CoreLink {
    commander: Commander,
    updates: Arc<Mutex<Option<UnboundedReceiver<Update>>>>,
    /// Who the phone was enrolled as when the app started.
    pub enrolment: Option<Enrolment>,
    // Keeps the core's thread alive as long as the app.
    _runtime: Arc<Mutex<doorstep_app_core::runtime::Runtime>>,
}

impl CoreLink {
    /// Links to a started core.
    pub fn new(
        runtime: doorstep_app_core::runtime::Runtime,
        enrolment: Option<Enrolment>,
    ) -> Option<Self> {
        let commander = runtime.commander()?;
        let runtime = Arc::new(Mutex::new(runtime));
        let (sender, receiver) = unbounded();
        let source = Arc::clone(&runtime);
        std::thread::Builder::new()
            .name("doorstep-updates".into())
            .spawn(move || {
                loop {
                    let next = source
                        .lock()
                        .ok()
                        .and_then(|r| r.next_update(std::time::Duration::from_millis(100)));
                    if let Some(update) = next
                        && sender.unbounded_send(update).is_err()
                    {
                        return;
                    }
                    if sender.is_closed() {
                        return;
                    }
                }
            })
            .ok()?;
        Some(Self {
            commander,
            updates: Arc::new(Mutex::new(Some(receiver))),
            enrolment,
            _runtime: runtime,
        })
    }

    /// Sends a command to the core.
    pub fn send(&self, command: Command) {
        self.commander.send(command);
    }

    /// The stream of updates; the first caller gets it.
    pub fn take_updates(&self) -> Option<UnboundedReceiver<Update>> {
        self.updates.lock().ok()?.take()
    }
}

/// Opens the phone's database in `dir` and starts its core, for the
/// desktop and phone builds.
#[cfg(feature = "native")]
pub fn start_core(dir: &std::path::Path) -> Result<CoreLink, String> {
    use doorstep_app_core::core::AppCore;
    use doorstep_app_core::store::LocalStore;
    use doorstep_app_core::transport::NativeTransport;
    use doorstep_shared::service::ServiceCatalog;
    use doorstep_shared::time::Timestamp;

    fn now() -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Timestamp::from_millis(millis)
    }

    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let store = LocalStore::open(&dir.join("doorstep-phone.db")).map_err(|e| e.to_string())?;
    let services = ServiceCatalog::builtin().map_err(|e| e.to_string())?;
    let core = AppCore::open(store, services).map_err(|e| e.to_string())?;
    let enrolment = core.enrolment().cloned();
    let transport =
        NativeTransport::new(std::time::Duration::from_secs(30)).map_err(|e| e.to_string())?;
    let runtime = doorstep_app_core::runtime::Runtime::start(core, Box::new(transport), now)
        .map_err(|e| e.to_string())?;
    CoreLink::new(runtime, enrolment).ok_or_else(|| "the core stopped at once".into())
}
