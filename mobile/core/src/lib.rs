//! # The operative app's offline core
//!
//! Everything the app does that is not drawing: the phone's SQLite
//! database ([`store`]), edits under the service's workflow rules, sync
//! with the council's server, and the photo pipeline and upload queue
//! ([`core`]). It has no UI and does not depend on Dioxus, so its tests and
//! benchmarks never compile one; the screens in `doorstep-mobile` talk to
//! it through its methods natively and through messages in a Web Worker.
//!
//! Every edit is one transaction — the document, its list row and the
//! change waiting for sync — committed before the call returns. The screen
//! shows an edit as done only after that, so a crash or a kill never loses
//! one.
//!
//! ```
//! use doorstep_app_core::core::AppCore;
//! use doorstep_app_core::store::LocalStore;
//! use doorstep_shared::service::ServiceCatalog;
//!
//! let core = AppCore::open(LocalStore::in_memory()?, ServiceCatalog::builtin()?)?;
//! assert!(core.enrolment().is_none(), "a new phone starts unenrolled");
//! assert!(core.job_rows()?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod core;
pub mod runtime;
pub mod store;
pub mod transport;
#[cfg(all(feature = "web", target_arch = "wasm32"))]
pub mod web;
