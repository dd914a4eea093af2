//! Serving the router: plain HTTP through `axum::serve`, or HTTPS (`--tls-cert`/`--tls-key`)
//! through rustls, both with graceful shutdown.
//!
//! TLS handshakes run in their own tasks (bounded by a timeout) so one slow or hostile client
//! cannot stall accepting others; finished handshakes are handed to axum through a channel.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::WebError;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes. With `tls = Some((cert, key))` the
/// PEM files are loaded first (errors are returned before anything is served).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<(PathBuf, PathBuf)>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    match tls {
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
        Some((cert, key)) => {
            let config = load_tls_config(&cert, &key)?;
            let tls_listener = TlsListener::new(listener, TlsAcceptor::from(Arc::new(config)))?;
            axum::serve(tls_listener, router)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
    }
    Ok(())
}

/// Builds a rustls server config from PEM certificate chain and private key files.
pub fn load_tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, WebError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| WebError::Tls(format!("{}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| WebError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(WebError::Tls(format!(
            "{}: no certificate found",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| WebError::Tls(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| WebError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| WebError::Tls(e.to_string()))
}

/// An axum listener yielding TLS streams whose handshake already succeeded.
struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    fn new(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let accept_task = tokio::spawn(async move {
            loop {
                let (tcp, addr) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Usually EMFILE: back off instead of spinning.
                        tracing::debug!("web accept error: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {addr} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {addr} timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            rx,
            local,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // The accept task ended (it never does while we hold the receiver): wait forever,
            // graceful shutdown still ends `serve`.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The warning to print when the UI listens beyond loopback without authentication.
pub fn exposure_warning(addr: SocketAddr, auth: bool) -> Option<String> {
    if auth || addr.ip().is_loopback() {
        return None;
    }
    Some(format!(
        "The web UI on {addr} is reachable from other machines and has no authentication: anyone who can reach it can start and stop load tests. Bind to 127.0.0.1 (--web-host) or set --web-auth."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_only_when_exposed_without_auth() {
        let open: SocketAddr = "0.0.0.0:8089".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8089".parse().unwrap();
        let local6: SocketAddr = "[::1]:8089".parse().unwrap();
        assert!(exposure_warning(open, false).is_some());
        assert!(exposure_warning(open, true).is_none());
        assert!(exposure_warning(local, false).is_none());
        assert!(exposure_warning(local6, false).is_none());
    }

    #[test]
    fn missing_tls_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "not a pem").unwrap();
        let err = load_tls_config(&cert, &dir.path().join("nokey.pem")).unwrap_err();
        assert!(matches!(err, WebError::Tls(_)));
    }
}
