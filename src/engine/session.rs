//! Per-user HTTP sessions. Each simulated user gets its own `reqwest::Client` (its own cookie
//! jar and keep-alive connection, as a Locust `HttpUser` has), but all of them share one TLS
//! configuration: building a root store per client costs ~110 KB and milliseconds of CPU each,
//! which is most of what an idle Goose user weighs.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Client;
use rustls::ClientConfig;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SessionError {
    #[error("could not set up TLS")]
    Tls(#[source] rustls::Error),
    #[error("could not build an HTTP client")]
    Client(#[source] reqwest::Error),
}

/// What every user's session is built from, built once per process.
#[derive(Clone)]
pub struct SessionFactory {
    tls: Arc<ClientConfig>,
}

impl SessionFactory {
    pub fn new() -> Result<Self, SessionError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier =
            rustls_platform_verifier::Verifier::new(provider.clone()).map_err(SessionError::Tls)?;
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(SessionError::Tls)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        // Locust's HttpUser speaks HTTP/1.1; so do we, also over TLS.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(SessionFactory {
            tls: Arc::new(config),
        })
    }

    /// A new session: its own cookies and connection pool, the shared TLS configuration.
    pub fn client(&self) -> Result<Client, SessionError> {
        Client::builder()
            .cookie_store(true)
            .tls_backend_preconfigured((*self.tls).clone())
            .http1_only()
            .tcp_nodelay(true)
            .no_proxy()
            .pool_max_idle_per_host(1)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(SessionError::Client)
    }
}
