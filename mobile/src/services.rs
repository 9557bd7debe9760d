//! The app's link to its core: commands out, updates in. Natively the core
//! runs on its own thread ([`doorstep_app_core::runtime::Runtime`]) and a
//! thread of the link forwards its updates; in the browser it runs in a
//! dedicated Web Worker and the two talk by `postMessage`. Either way the
//! screens see one [`CoreLink`].

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use doorstep_app_core::core::Enrolment;
use doorstep_app_core::runtime::{Command, Update};
use futures_channel::mpsc::UnboundedReceiver;

/// The council's date now (Doorstep's councils keep UK time), from the
/// platform's clock.
pub fn today() -> doorstep_shared::time::Date {
    doorstep_shared::time::uk::local(now()).0
}

/// The platform's clock.
#[cfg(all(target_arch = "wasm32", feature = "web"))]
fn now() -> doorstep_shared::time::Timestamp {
    doorstep_shared::time::Timestamp::from_millis(js_sys::Date::now() as i64)
}

/// The platform's clock.
#[cfg(not(all(target_arch = "wasm32", feature = "web")))]
fn now() -> doorstep_shared::time::Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    doorstep_shared::time::Timestamp::from_millis(millis)
}

/// Where the phone is, if the platform knows and the person allows it
/// (the browser's geolocation; the desktop build has none): recorded with
/// each photo for staff, never shown to residents. Asked each time a photo
/// is taken, accepting a fix up to a minute old; after 15 seconds without
/// an answer the photo is kept without one.
pub async fn here() -> Option<doorstep_shared::job::GeoPoint> {
    let answer = dioxus::document::eval(
        r#"
        if (!navigator.geolocation) return null;
        return await new Promise((resolve) => {
            // A permission prompt left unanswered never holds a photo back.
            setTimeout(() => resolve(null), 15000);
            navigator.geolocation.getCurrentPosition(
                (position) => resolve([position.coords.latitude, position.coords.longitude]),
                () => resolve(null),
                { timeout: 10000, maximumAge: 60000 });
        });
        "#,
    )
    .await
    .ok()?;
    let pair = answer.as_array()?;
    let (lat, lon) = (pair.first()?.as_f64()?, pair.get(1)?.as_f64()?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon))
        .then_some(doorstep_shared::job::GeoPoint { lat, lon })
}

/// Shared with every component through context; cheap to clone.
#[derive(Clone)]
pub struct CoreLink {
    send: Rc<dyn Fn(Command)>,
    updates: Rc<RefCell<Option<UnboundedReceiver<Update>>>>,
    /// Who the phone was enrolled as when the app started, if known then.
    pub enrolment: Option<Enrolment>,
    /// The server address the enrol form starts with (the page's own
    /// origin in the browser).
    pub server: Option<String>,
    /// An enrolment code the page was opened with (the back office's QR
    /// code links to the app with one), to fill in the enrol form.
    pub code: Option<String>,
    // Whatever must live as long as the app (the core's thread).
    _keep: Rc<dyn Any>,
}

impl CoreLink {
    /// Sends a command to the core.
    pub fn send(&self, command: Command) {
        (self.send)(command);
    }

    /// The stream of updates; the first caller gets it.
    pub fn take_updates(&self) -> Option<UnboundedReceiver<Update>> {
        self.updates.borrow_mut().take()
    }
}

/// A core started on its own thread, and who the phone was enrolled as.
#[cfg(feature = "native")]
pub type NativeCore = (
    std::sync::Arc<std::sync::Mutex<doorstep_app_core::runtime::Runtime>>,
    Option<Enrolment>,
);

/// Links to a core started on its own thread (the renderer calls this
/// once, when the app's root is made).
#[cfg(feature = "native")]
pub fn native_link((runtime, enrolment): NativeCore) -> Option<CoreLink> {
    let commander = runtime.lock().ok()?.commander()?;
    let (sender, receiver) = futures_channel::mpsc::unbounded();
    let source = std::sync::Arc::clone(&runtime);
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
    Some(CoreLink {
        send: Rc::new(move |command| commander.send(command)),
        updates: Rc::new(RefCell::new(Some(receiver))),
        enrolment,
        server: None,
        code: None,
        _keep: Rc::new(runtime),
    })
}

/// Opens the phone's database in `dir` and starts its core, for the
/// desktop and phone builds.
#[cfg(feature = "native")]
pub fn start_core(dir: &std::path::Path) -> Result<NativeCore, String> {
    use doorstep_app_core::core::AppCore;
    use doorstep_app_core::store::LocalStore;
    use doorstep_app_core::transport::NativeTransport;
    use doorstep_shared::service::ServiceCatalog;

    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let store = LocalStore::open(&dir.join("doorstep-phone.db")).map_err(|e| e.to_string())?;
    let services = ServiceCatalog::builtin().map_err(|e| e.to_string())?;
    let core = AppCore::open(store, services).map_err(|e| e.to_string())?;
    let enrolment = core.enrolment().cloned();
    let transport =
        NativeTransport::new(std::time::Duration::from_secs(30)).map_err(|e| e.to_string())?;
    let runtime = doorstep_app_core::runtime::Runtime::start(core, Box::new(transport), now)
        .map_err(|e| e.to_string())?;
    Ok((
        std::sync::Arc::new(std::sync::Mutex::new(runtime)),
        enrolment,
    ))
}

std::thread_local! {
    /// The browser's link, made before the renderer starts and taken by
    /// [`take_worker_link`] when it makes the app's root.
    static WORKER_LINK: RefCell<Option<CoreLink>> = const { RefCell::new(None) };
}

/// Keeps the browser's link for the renderer.
pub fn keep_worker_link(link: CoreLink) {
    WORKER_LINK.with(|slot| *slot.borrow_mut() = Some(link));
}

/// The browser's link, as context for the app's root (a unit when there is
/// none, so the app shows an unlinked phone).
pub fn take_worker_link() -> Box<dyn Any> {
    match WORKER_LINK.with(|slot| slot.borrow_mut().take()) {
        Some(link) => Box::new(link),
        None => Box::new(()),
    }
}

/// Links to a core running in `worker` (see `doorstep_app_core::web`);
/// `server` is the address the enrol form offers, `code` the enrolment
/// code it starts with, if the page was opened with one.
#[cfg(all(feature = "web", target_arch = "wasm32"))]
pub fn worker_link(worker: web_sys::Worker, server: String, code: Option<String>) -> CoreLink {
    use js_sys::Uint8Array;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::MessageEvent;

    let (sender, receiver) = futures_channel::mpsc::unbounded();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let bytes = Uint8Array::new(&event.data()).to_vec();
        if let Ok(update) = postcard::from_bytes::<Update>(&bytes) {
            let _ = sender.unbounded_send(update);
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The page lives as long as the worker: the handler is never freed.
    on_message.forget();
    let posting = worker.clone();
    CoreLink {
        send: Rc::new(move |command| {
            if let Ok(bytes) = postcard::to_allocvec(&command) {
                let _ = posting.post_message(&Uint8Array::from(bytes.as_slice()));
            }
        }),
        updates: Rc::new(RefCell::new(Some(receiver))),
        enrolment: None,
        server: Some(server),
        code,
        _keep: Rc::new(worker),
    }
}
