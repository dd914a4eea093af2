//! The reference image-classifier service: the real service's HTTP API (health, model info,
//! multipart classification, FastAPI-shaped errors) over a deterministic stand-in model, so
//! skein runs out of the box and its tests have a faithful target.
//!
//! - [`router`] builds the service as an axum [`Router`](axum::Router), testable without a socket;
//! - [`serve`] runs it on a listener until a shutdown future resolves, closing connections
//!   that stay idle ([`ServeOptions`]);
//! - [`spawn_local`] starts it on an ephemeral loopback port in the current runtime (what skein
//!   uses when no `--host` is given).
//!
//! Every request except `/_skein/counts` is counted by route, method and status in [`Counters`],
//! which `GET /_skein/counts` reports (and `DELETE /_skein/counts` resets).

mod counters;
mod jpeg;
pub mod model;
mod routes;
mod server;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use counters::{CountEntry, Counters};
pub use model::{ModelInfo, Prediction};
pub use routes::{BODY_LIMIT_BYTES, MAX_UPLOAD_BYTES, ROUTES, UNMATCHED_ROUTE};
pub use server::{serve_with, ServeOptions, DEFAULT_IDLE_TIMEOUT};

/// What the service's handlers share.
#[derive(Clone)]
pub struct ClassifierState {
    pub counters: Counters,
    pub(crate) model: Arc<ModelInfo>,
    /// Bounds the decodes running at once, as a real service's worker pool does: beyond it,
    /// requests queue (latency grows with load) instead of each holding a decoded image in
    /// memory on its own blocking thread.
    pub(crate) decode_slots: Arc<tokio::sync::Semaphore>,
    /// Added before every answer (but `/_skein/counts`'s), without holding a thread: a slow
    /// target on demand, for the open model's tests and demonstrations (`--delay-ms`).
    pub delay: std::time::Duration,
}

impl ClassifierState {
    pub fn new() -> Self {
        Self::with_counters(Counters::new())
    }

    pub fn with_counters(counters: Counters) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        ClassifierState {
            counters,
            model: Arc::new(ModelInfo::get()),
            decode_slots: Arc::new(tokio::sync::Semaphore::new(cpus * 2)),
            delay: std::time::Duration::ZERO,
        }
    }

    /// The same service answering `delay` later.
    pub fn with_delay(mut self, delay: std::time::Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// The environment variable that slows the embedded service (started when no `--host` is
/// given) by that many milliseconds per answer, as `skein-classifier --delay-ms` does.
pub const DELAY_ENV: &str = "SKEIN_CLASSIFIER_DELAY_MS";

/// A delay in whole milliseconds, as `--delay-ms` and [`DELAY_ENV`] take it (at most an hour).
pub fn parse_delay_ms(s: &str) -> Result<std::time::Duration, String> {
    match s.trim().parse::<u64>() {
        Ok(ms) if ms <= 3_600_000 => Ok(std::time::Duration::from_millis(ms)),
        _ => Err(format!(
            "invalid delay {s:?}: a whole number of milliseconds from 0 to 3600000"
        )),
    }
}

impl Default for ClassifierState {
    fn default() -> Self {
        Self::new()
    }
}

/// The service's routes over `state`.
pub fn router(state: ClassifierState) -> axum::Router {
    routes::build(state)
}

/// Serves the classifier on `listener` with the default [`ServeOptions`] until `shutdown`
/// resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: ClassifierState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, ServeOptions::default(), shutdown).await
}

/// A classifier running in this process on a loopback port. Dropping it stops the server.
pub struct LocalClassifier {
    pub addr: SocketAddr,
    pub counters: Counters,
    /// Cancel to stop the server (dropping the handle does too).
    pub shutdown: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl LocalClassifier {
    /// `http://127.0.0.1:PORT`, for `--host`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.shutdown.cancel();
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for LocalClassifier {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Binds 127.0.0.1 on an ephemeral port and serves the classifier on the current runtime.
pub async fn spawn_local() -> std::io::Result<LocalClassifier> {
    spawn_local_with(ServeOptions::default()).await
}

/// [`spawn_local`] with `options` (tests use a short idle timeout).
pub async fn spawn_local_with(options: ServeOptions) -> std::io::Result<LocalClassifier> {
    spawn_local_state(ClassifierState::new(), options).await
}

/// [`spawn_local_with`] serving `state` (a delayed service, shared counters).
pub async fn spawn_local_state(
    state: ClassifierState,
    options: ServeOptions,
) -> std::io::Result<LocalClassifier> {
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let counters = state.counters.clone();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        serve_with(
            listener,
            state,
            options,
            async move { stop.cancelled().await },
        )
        .await
    });
    Ok(LocalClassifier {
        addr,
        counters,
        shutdown,
        task: Some(task),
    })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_conn;
