//! skein: a Locust-compatible load tester. The engine, statistics, reporting, configuration,
//! the reference classifier service and the web UI live in separate modules; `main.rs` only
//! hands the command line to [`app`].

pub mod app;
pub mod bench;
pub mod checks;
pub mod classifier;
pub mod cluster;
pub mod config;
pub mod control;
pub mod controller;
pub mod engine;
pub mod health;
pub mod logging;
pub mod output;
pub mod report;
pub mod stats;
pub mod web;

/// Test support (where the repository's test fixtures are), for unit and integration tests.
#[doc(hidden)]
pub mod testing;
