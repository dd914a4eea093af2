//! skein: a Locust-compatible load tester. The engine, statistics, reporting, configuration,
//! the reference classifier service and the web UI live in separate modules; [`main`] is the
//! whole command for a binary's own user classes (the `skein` binary passes its catalogue).

pub mod app;
pub mod bench;
pub mod checks;
pub mod classifier;
pub mod cluster;
pub mod config;
pub mod control;
pub mod controller;
pub mod engine;
mod entry;
pub mod health;
pub mod logging;
pub mod output;
pub mod report;
pub mod stats;
pub mod web;

pub use entry::{main, IntoClasses};

/// Test support (where the repository's test fixtures are), for unit and integration tests.
#[doc(hidden)]
pub mod testing;
