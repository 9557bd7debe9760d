//! End-to-end tests against a real server on loopback, compiled into one
//! binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app_core;
mod authorization;
mod bookings;
mod council_services;
mod crash;
mod evidence;
mod fieldwork;
mod fuzz_corpus;
mod intake;
mod limits;
mod missed_bins;
mod office;
mod office_browser;
mod office_work;
mod outbox;
mod photos;
mod postgres_store;
mod resident_browser;
mod residents;
mod server;
mod store_conformance;
mod sync_http;
mod sync_live;
mod sync_store;
mod walk;
mod web_app;
mod write_policy;
