//! The web UI and controller (Locust's port 8089): Locust's HTTP API (SPEC §4), our own live page
//! with charts, and the self-contained HTML report (SPEC §3.8).
//!
//! This module owns everything HTTP-facing and nothing about running a test: the engine plugs in
//! through the [`Backend`] trait, which hands over ready-made JSON values (Locust's shapes, keys in
//! any order). The web layer formats them exactly as Flask's `jsonify` does (sorted keys, indent 2),
//! validates `POST /swarm` with Locust's messages, answers unknown routes and wrong methods with
//! Flask's HTML pages, and optionally guards every route with HTTP basic auth.
//!
//! Layout: [`swarm_form`] (pure form parsing/validation), [`pyjson`] (Python-compatible JSON
//! text), [`auth`] (basic auth), [`origin`] (the cross-site check of state-changing requests),
//! [`assets`] (embedded page and vendored chart library), [`routes`] (the router), [`metrics`]
//! (`GET /metrics`, the Prometheus scrape), [`report`]
//! (HTML report renderer), [`serve`] (listener, TLS, graceful shutdown), [`testing`] (a fake
//! backend for tests and demos).

pub mod assets;
pub mod auth;
pub mod metrics;
pub mod origin;
pub mod pyjson;
pub mod report;
pub mod routes;
#[cfg(test)]
mod routes_tests;
pub mod serve;
pub mod swarm_form;
pub mod testing;

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

pub use report::render_report;
pub use routes::router;
pub use serve::{exposure_warning, serve};

/// How the web UI is mounted and guarded.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// `--web-base-path`: "" or a prefix starting with `/` (a trailing `/` is ignored).
    pub base_path: String,
    /// HTTP basic auth `(user, password)` required on every route when set.
    pub auth: Option<(String, String)>,
    /// `--csv-full-history` (with `--csv`): the UI offers the full-history download.
    pub stats_history_enabled: bool,
    /// `--class-picker`: `/swarm` honours `user_classes` and echoes the selection.
    pub class_picker: bool,
    /// Largest accepted request body in bytes; larger bodies get 413.
    pub body_limit: usize,
    /// `--web-allowed-origin`: origins besides the UI's own whose pages may use the
    /// state-changing routes (`/swarm`, `/stop`, `/stats/reset`, `/user`).
    pub allowed_origins: Vec<String>,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            base_path: String::new(),
            auth: None,
            stats_history_enabled: false,
            class_picker: false,
            body_limit: 1024 * 1024,
            allowed_origins: Vec::new(),
        }
    }
}

/// A validated `POST /swarm`: start, or retarget a running test.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmRequest {
    pub user_count: u64,
    pub spawn_rate: f64,
    /// The posted host (`<` and `>` already stripped); `None` when the form had no `host` field.
    pub host: Option<String>,
    /// From the form's `run_time`; the backend arms a timer that *stops* (not quits) the test.
    pub run_time: Option<Duration>,
    /// Only with `--class-picker`: the selected classes (`None` = keep/use all).
    pub user_classes: Option<Vec<String>>,
    /// The form's `profile` (empty means none).
    pub profile: Option<String>,
    /// Every other field, in form order, for custom options (Locust coerces them by the
    /// existing option's type; the backend knows the types, so it does that).
    pub extra: Vec<(String, String)>,
}

/// Which CSV a download route asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvKind {
    Requests,
    Failures,
    Exceptions,
    FullHistory,
}

impl CsvKind {
    /// The suffix in Locust's download file name.
    pub fn suffix(self) -> &'static str {
        match self {
            CsvKind::Requests => "requests",
            CsvKind::Failures => "failures",
            CsvKind::Exceptions => "exceptions",
            CsvKind::FullHistory => "requests_full_history",
        }
    }
}

/// The pieces of Locust's download file names:
/// `Locust_<start_time>_<locustfile>[_<host>]_<kind>.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvNameParts {
    /// Local `%Y-%m-%d-%Hh%M` of the stats start time (see [`format_safe_timestamp`]).
    pub start_time: String,
    /// Where Locust puts the locustfile name; skein uses "skein".
    pub locustfile: String,
    /// The current host, inserted raw.
    pub host: Option<String>,
}

/// Formats an epoch time (seconds) as Locust's `format_safe_timestamp`: local `%Y-%m-%d-%Hh%M`.
pub fn format_safe_timestamp(epoch_s: f64) -> String {
    use chrono::TimeZone;
    let secs = if epoch_s.is_finite() {
        epoch_s.floor() as i64
    } else {
        0
    };
    match chrono::Local.timestamp_opt(secs, 0).single() {
        Some(t) => t.format("%Y-%m-%d-%Hh%M").to_string(),
        None => "1970-01-01-00h00".to_string(),
    }
}

/// What the engine supplies to the web layer. Every value is ready-made in Locust's shape; the
/// web layer only sorts keys and formats. Implementations must be cheap enough to call on every
/// poll (the UI polls `stats/requests` every 2 s; Locust memoizes it for 2 s, we do not need to).
pub trait Backend: Send + Sync + 'static {
    /// Starts the test, or retargets it when already running (ramps up or down).
    fn swarm(&self, req: SwarmRequest) -> BoxFuture<'_, Result<(), String>>;
    /// Stops the test (users stop, state becomes `stopped`); cancels a web run-time timer.
    fn stop(&self) -> BoxFuture<'_, ()>;
    /// Resets all statistics and clears the exceptions table.
    fn reset_stats(&self) -> BoxFuture<'_, ()>;
    /// The body of `GET /stats/requests` (SPEC §4.3), keys in any order.
    fn stats_requests(&self) -> BoxFuture<'_, Value>;
    /// `{"exceptions": [{count, msg, nodes, traceback}]}`.
    fn exceptions(&self) -> BoxFuture<'_, Value>;
    /// `{"per_class": …, "total": …}` (the ratio tree of the running user mix).
    fn tasks(&self) -> BoxFuture<'_, Value>;
    /// `{"master": [lines], "workers": {id: [lines]}}`.
    fn logs(&self) -> BoxFuture<'_, Value>;
    /// Connected workers (0 when not a master).
    fn worker_count(&self) -> BoxFuture<'_, u64>;
    /// The CSV text of a download; `None` for [`CsvKind::FullHistory`] when it is not being
    /// written (Locust answers 404 then).
    fn csv(&self, kind: CsvKind) -> BoxFuture<'_, Option<String>>;
    /// The report data (SPEC §3.8 template args): start_time, end_time, duration, host,
    /// locustfile, requests_statistics, response_time_statistics, failures_statistics,
    /// exceptions_statistics, tasks, history, and optionally `user_count`/`profile`.
    fn report_args(&self) -> BoxFuture<'_, Value>;
    /// The index template args (SPEC §4.4): available_user_classes, available_user_tasks, host,
    /// num_users, spawn_rate, run_time, state, is_distributed, history, version, …
    fn index_args(&self) -> BoxFuture<'_, Value>;
    /// The pieces of the download file names.
    fn csv_name_parts(&self) -> BoxFuture<'_, CsvNameParts>;
    /// The current host (echoed by `/swarm` answers, also on validation errors).
    fn host(&self) -> BoxFuture<'_, Option<String>>;
    /// How many user classes exist (`/swarm` refuses more distinct `user_classes` than this);
    /// `None` when unknown.
    fn user_class_count(&self) -> BoxFuture<'_, Option<usize>> {
        Box::pin(async { None })
    }
    /// `GET /skein/health` (skein's own): this process's latest CPU and RSS and its health
    /// summary so far; `{}` when nothing samples it.
    fn health(&self) -> BoxFuture<'_, Value> {
        Box::pin(async { Value::Object(Default::default()) })
    }
    /// `GET /metrics`: the Prometheus exposition text (`report::prometheus`); `None` when the
    /// backend has none (the route then answers 404).
    fn metrics(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async { None })
    }
    /// `POST /user`: updates a user class from `{"user_class_name": …, attr: value, …}`.
    fn update_user(&self, settings: Value) -> BoxFuture<'_, Result<(), String>> {
        let _ = settings;
        Box::pin(async { Ok(()) })
    }
}

/// Errors of the web server itself (binding, TLS setup, serving).
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("web server I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS setup failed: {0}")]
    Tls(String),
}
