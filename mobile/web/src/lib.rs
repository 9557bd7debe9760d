//! # Doorstep in the browser
//!
//! One wasm module with two entry points, called from the page's
//! hand-written JavaScript (`mobile/web/static/`):
//!
//! - [`start_worker`] runs in a dedicated Web Worker and hosts the offline
//!   core (`doorstep_app_core::web`): SQLite in the Origin Private File
//!   System, sync and uploads over synchronous `XMLHttpRequest`.
//! - [`start_app`] runs on the page and draws the same Dioxus screens as
//!   the desktop and phone builds, talking to the worker by messages.
//!
//! The page takes a Web Lock before starting the worker, because the
//! database's file pool can be open in one tab only; it also asks the
//! browser to keep the app's storage (`navigator.storage.persist()`), so
//! unsynced work is not evicted. `scripts/build-web.sh` builds it with
//! plain cargo and wasm-bindgen.

#![cfg(target_arch = "wasm32")]

use wasm_bindgen::prelude::*;

/// Draws the app in the page's `#main` element, linked to the core in
/// `worker`.
#[wasm_bindgen]
pub fn start_app(worker: web_sys::Worker) {
    let location = web_sys::window().map(|window| window.location());
    let origin = location
        .as_ref()
        .and_then(|location| location.origin().ok())
        .unwrap_or_default();
    // The back office's QR code opens `/app/#code=…`.
    let code = location
        .and_then(|location| location.hash().ok())
        .and_then(|hash| hash.strip_prefix("#code=").map(str::to_owned))
        .filter(|code| !code.is_empty());
    let link = doorstep_mobile::services::worker_link(worker, origin, code);
    doorstep_mobile::services::keep_worker_link(link);
    dioxus::LaunchBuilder::new()
        .with_context_provider(doorstep_mobile::services::take_worker_link)
        .launch(doorstep_mobile::App);
}

/// Starts the core in this worker; `queued` holds the messages that came
/// while the module loaded.
#[wasm_bindgen]
pub async fn start_worker(queued: js_sys::Array) -> Result<(), JsValue> {
    doorstep_app_core::web::run(queued).await
}
