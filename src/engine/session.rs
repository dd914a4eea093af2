//! The `reqwest::Client` each `GooseUser` carries, and the connect faults it saw. skein's own
//! requests (`skein_api::Request`) go over each user's own session (see skein-api's `session`
//! module); this client serves Goose's request API (`user.get`, …) and scenario code that uses
//! `user.client` directly.
//!
//! One client per user, as in Goose: it keeps the user's cookies (Locust's `HttpUser` has a
//! session per user too) and its own keep-alive pool. Its connector is wrapped in a layer that
//! keeps the text of each failed connect, as Python's exception (the same text
//! `skein_api::Request` gives), because Goose's metric only says
//! `error sending request /path: client error (Connect)`; [`super::goose_metrics`] puts it on
//! the failed request.
//!
//! What it costs (tests/goose_scenarios.rs `idle_user_memory`, target in another process): about
//! 2.3 KB per user for the client itself, which connects only when the user makes a Goose
//! request; a user that has made one keeps its connection, about 20 KB more (as a Locust user's
//! session, and as `skein_api::Request`'s own connection).

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use reqwest::Client;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SessionError {
    #[error("could not set up TLS: {0}")]
    Tls(String),
    #[error("could not build an HTTP client")]
    Client(#[source] reqwest::Error),
}

#[derive(Clone)]
pub struct SessionFactory {
    tls: Arc<rustls::ClientConfig>,
}

impl SessionFactory {
    pub fn new() -> Result<Self, SessionError> {
        let tls = skein_api::engine_support::tls_config().map_err(SessionError::Tls)?;
        Ok(SessionFactory { tls })
    }

    /// A new user's client, with its own cookie jar and pool, and the faults its connects make.
    pub fn client(&self) -> Result<(Client, ConnectFaults), SessionError> {
        let faults = ConnectFaults::default();
        let client = Client::builder()
            .tls_backend_preconfigured((*self.tls).clone())
            .http1_only()
            .tcp_nodelay(true)
            .no_proxy()
            .cookie_store(true)
            .connector_layer(FaultLayer(faults.clone()))
            .build()
            .map_err(SessionError::Client)?;
        Ok((client, faults))
    }
}

/// The texts of one user's failed connects, oldest first, until taken. Bounded: a transaction
/// that fails more connects than this without its faults being taken keeps the newest.
#[derive(Clone, Default)]
pub struct ConnectFaults(Arc<Mutex<VecDeque<String>>>);

const MAX_FAULTS: usize = 64;

impl ConnectFaults {
    fn push(&self, text: String) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() == MAX_FAULTS {
            q.pop_front();
        }
        q.push_back(text);
    }

    /// The oldest fault not yet taken.
    pub fn pop(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }

    /// Forgets the faults not taken (after a transaction: they belong to no request of it).
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

type BoxError = Box<dyn StdError + Send + Sync>;

#[derive(Clone)]
struct FaultLayer(ConnectFaults);

impl<S> tower::Layer<S> for FaultLayer {
    type Service = FaultService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        FaultService {
            inner,
            faults: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct FaultService<S> {
    inner: S,
    faults: ConnectFaults,
}

impl<S, R> tower::Service<R> for FaultService<S>
where
    S: tower::Service<R, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let connecting = self.inner.call(req);
        let faults = self.faults.clone();
        Box::pin(async move {
            let result = connecting.await;
            if let Err(e) = &result {
                if let Some(io) = io_error_in(e.as_ref()) {
                    faults.push(skein_api::engine_support::connect_error_text(io));
                }
            }
            result
        })
    }
}

/// The operating-system error under a connector's error, if any (a refused or reset connect;
/// not a DNS or TLS failure, whose texts stay Goose's).
fn io_error_in<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.raw_os_error().is_some() {
                return Some(io);
            }
        }
        cur = err.source();
    }
    None
}
