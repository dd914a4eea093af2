//! The classifier's accept loop: HTTP/1.1 connections served by hyper with an idle timeout,
//! and a graceful shutdown that lets in-flight requests finish.
//!
//! `axum::serve` has no idle timeout, so a client that opens connections and sends nothing (or
//! stops after a response) holds them, and their buffers, for ever. The real service runs under
//! uvicorn, which closes a keep-alive connection 5 s after its last response; here hyper's
//! header-read timeout does the same: it runs whenever the connection waits for a request head,
//! from the accept and again after every response, and never while a request is in progress.

use std::future::Future;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::{router, ClassifierState};

/// uvicorn's default `--timeout-keep-alive`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// How the service treats its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// A connection that has not sent a complete request head for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Serves the classifier on `listener` until `shutdown` resolves, then stops accepting, lets
/// in-flight requests finish and closes idle connections.
pub async fn serve_with(
    listener: TcpListener,
    state: ClassifierState,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    let stop = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                // Out of file descriptors and the like: the listener itself is fine, and the
                // next accept may succeed once a connection closes.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(
            app.clone()
                .map_request(|req: axum::http::Request<Incoming>| req.map(axum::body::Body::new)),
        );
        let stop = stop.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(options.idle_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!("classifier connection ended: {e}");
                    }
                    return;
                }
                () = stop.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            // Finishes the request in progress, if any, then closes.
            if let Err(e) = conn.await {
                tracing::debug!("classifier connection ended: {e}");
            }
        });
    }
    drop(listener);
    stop.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}
