//! Multi-document sync in one round trip.
//!
//! A device holds thousands of documents; syncing each one on every
//! reconnect, as document-at-a-time protocols do, costs messages and bytes in
//! proportion to what the device holds. Doorstep's protocol costs in
//! proportion to what changed:
//!
//! - The server numbers every stored change with a per-tenant sequence and
//!   records, per document, the sequence at which it last changed.
//! - A device sends one request per reconnect: its [`wire::Cursor`] per
//!   tenant and the changes it made. The server durably applies the changes,
//!   runs the workflow rules, and replies with every change in the device's
//!   scope since the cursor (never the device's own), whole documents new to
//!   its scope, the ids of documents that left it, and the new cursor.
//! - Scope changes (reassignment) reach devices through a scope version in
//!   the cursor. What the server believes a device holds is confirmed only
//!   when the device comes back with the cursor of the reply that delivered
//!   it, so a lost reply never leaves the two sides disagreeing.
//!
//! Both sides are pure state machines: [`server::SyncServer`] over a
//! [`store::SyncStore`], and [`device::DeviceSync`], which takes `now` and
//! messages and returns what to send, apply and persist. Neither does IO.

pub mod device;
pub mod memory;
pub mod server;
#[cfg(feature = "testing")]
pub mod simulation;
pub mod store;
pub mod wire;
