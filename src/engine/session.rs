//! The `reqwest::Client` every `GooseUser` carries. skein's own requests (`skein_api::Request`)
//! go over each user's own session (keep-alive connection and cookies, see skein-api's `session` module);
//! this client only serves scenario code that calls `user.client` directly, so one client is
//! shared by all users instead of one each (a client with its pool weighs tens of KB).

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
    shared: Client,
}

impl SessionFactory {
    pub fn new() -> Result<Self, SessionError> {
        let tls = skein_api::engine_support::tls_config().map_err(SessionError::Tls)?;
        // No cookie store: a jar in a client every user shares would mix the users' sessions.
        let shared = Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .http1_only()
            .tcp_nodelay(true)
            .no_proxy()
            .build()
            .map_err(SessionError::Client)?;
        Ok(SessionFactory { shared })
    }

    /// The client a new `GooseUser` carries (a cheap handle to the shared one).
    pub fn client(&self) -> Result<Client, SessionError> {
        Ok(self.shared.clone())
    }
}
