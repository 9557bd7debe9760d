//! The core in the browser: it runs in a dedicated Web Worker, because the
//! phone's database lives in the Origin Private File System through
//! SQLite's SAH-pool VFS, whose synchronous file handles exist only in
//! workers. The page and the worker exchange the same [`Command`]s and
//! [`Update`]s as the native thread, encoded with postcard in a
//! `Uint8Array`.
//!
//! HTTP is a synchronous `XMLHttpRequest`, which browsers allow in workers:
//! the core's blocking [`Transport`] works unchanged and the page never
//! waits, since the worker is the core's own thread.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use doorstep_shared::service::ServiceCatalog;
use doorstep_shared::time::Timestamp;
use js_sys::{Array, Function, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{
    DedicatedWorkerGlobalScope, MessageEvent, XmlHttpRequest, XmlHttpRequestResponseType,
};

use crate::core::AppCore;
use crate::runtime::{Command, Driver, Update};
use crate::store::LocalStore;
use crate::transport::{HttpRequest, HttpResponse, Method, Transport, TransportError};

/// The database's name inside the SAH pool.
const DATABASE: &str = "/doorstep-phone.db";
/// A request with no answer after this long counts as no signal.
const TIMEOUT_MS: u32 = 30_000;

/// HTTP for the worker: synchronous `XMLHttpRequest`.
pub struct XhrTransport;

fn js_error(error: JsValue) -> TransportError {
    TransportError(
        error
            .as_string()
            .or_else(|| {
                error
                    .dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| "the request failed".into()),
    )
}

impl Transport for XhrTransport {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let xhr = XmlHttpRequest::new().map_err(js_error)?;
        let method = match request.method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        };
        xhr.open_with_async(method, &request.url, false)
            .map_err(js_error)?;
        xhr.set_response_type(XmlHttpRequestResponseType::Arraybuffer);
        xhr.set_timeout(TIMEOUT_MS);
        if let Some(token) = &request.token {
            xhr.set_request_header("Authorization", &format!("Bearer {token}"))
                .map_err(js_error)?;
        }
        for (name, value) in &request.headers {
            xhr.set_request_header(name, value).map_err(js_error)?;
        }
        if request.method == Method::Get {
            xhr.send().map_err(js_error)?;
        } else {
            let body = Uint8Array::from(request.body.as_slice());
            xhr.send_with_opt_buffer_source(Some(&body))
                .map_err(js_error)?;
        }
        let status = xhr.status().map_err(js_error)?;
        if status == 0 {
            return Err(TransportError("no connection to the server".into()));
        }
        let body = match xhr.response() {
            Ok(buffer) if !buffer.is_null() && !buffer.is_undefined() => {
                Uint8Array::new(&buffer).to_vec()
            }
            _ => Vec::new(),
        };
        Ok(HttpResponse { status, body })
    }
}

fn now() -> Timestamp {
    Timestamp::from_millis(js_sys::Date::now() as i64)
}

fn post(scope: &DedicatedWorkerGlobalScope, update: &Update) {
    if let Ok(bytes) = postcard::to_allocvec(update) {
        let _ = scope.post_message(&Uint8Array::from(bytes.as_slice()));
    }
}

/// The worker's state between callbacks.
struct Worker {
    scope: DedicatedWorkerGlobalScope,
    driver: RefCell<Driver>,
    tick: RefCell<Option<Function>>,
    timer: RefCell<Option<i32>>,
}

impl Worker {
    fn out(&self) -> impl FnMut(Update) + '_ {
        move |update| post(&self.scope, &update)
    }

    /// Does what is due, then sleeps until the next thing is.
    fn work(&self) {
        let mut out = self.out();
        let wait = {
            let mut driver = self.driver.borrow_mut();
            driver.work(&now, &mut out);
            driver.wait_millis(now())
        };
        if let Some(timer) = self.timer.borrow_mut().take() {
            self.scope.clear_timeout_with_handle(timer);
        }
        if let Some(tick) = self.tick.borrow().as_ref() {
            let handle = self
                .scope
                .set_timeout_with_callback_and_timeout_and_arguments_0(
                    tick,
                    i32::try_from(wait).unwrap_or(i32::MAX),
                )
                .ok();
            *self.timer.borrow_mut() = handle;
        }
    }

    fn message(&self, data: &JsValue) {
        let bytes = Uint8Array::new(data).to_vec();
        let mut out = self.out();
        match postcard::from_bytes::<Command>(&bytes) {
            Ok(command) => self.driver.borrow_mut().handle(command, now(), &mut out),
            Err(_) => out(Update::Refused {
                reason: "the app sent a message its core cannot read; reload the page".into(),
            }),
        }
        self.work();
    }
}

/// Starts the core in this worker: opens the database in the OPFS pool,
/// answers `queued` (messages that arrived while the module loaded), then
/// every message after. Fails if the pool is held by another tab.
pub async fn run(queued: Array) -> Result<(), JsValue> {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().dyn_into()?;
    let fail = |why: String| {
        post(
            &scope,
            &Update::Refused {
                reason: why.clone(),
            },
        );
        JsValue::from_str(&why)
    };
    sqlite_wasm_vfs::sahpool::install::<sqlite_wasm_rs::WasmOsCallback>(
        &sqlite_wasm_vfs::sahpool::OpfsSAHPoolCfg::default(),
        true,
    )
    .await
    .map_err(|error| {
        fail(format!(
            "this browser's storage could not be opened: {error:?}"
        ))
    })?;
    let store = LocalStore::open(Path::new(DATABASE))
        .map_err(|error| fail(format!("the app's database could not be opened: {error}")))?;
    let services = ServiceCatalog::builtin()
        .map_err(|error| fail(format!("the service definitions are broken: {error}")))?;
    let core = AppCore::open(store, services)
        .map_err(|error| fail(format!("the app's data could not be read: {error}")))?;
    let driver = Driver::new(core, Box::new(XhrTransport), now(), &mut |update| {
        post(&scope, &update)
    });
    let worker = Rc::new(Worker {
        scope: scope.clone(),
        driver: RefCell::new(driver),
        tick: RefCell::new(None),
        timer: RefCell::new(None),
    });
    let ticking = Rc::clone(&worker);
    let tick = Closure::<dyn FnMut()>::new(move || ticking.work());
    *worker.tick.borrow_mut() = Some(tick.as_ref().unchecked_ref::<Function>().clone());
    // The worker lives as long as the page: its callbacks are never freed.
    tick.forget();
    let listening = Rc::clone(&worker);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        listening.message(&event.data());
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    for data in queued.iter() {
        worker.message(&data);
    }
    worker.work();
    Ok(())
}
