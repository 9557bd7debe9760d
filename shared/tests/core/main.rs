//! Integration tests of the core, compiled into one binary: merge cases,
//! schema migration from committed fixtures, service definitions and
//! workflow refusals.

// Test helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod definitions;
mod merge;
mod migration;
mod photo;
mod policy;
mod setup;
mod simulation;
mod sync;
mod workflow;
