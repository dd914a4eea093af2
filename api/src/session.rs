//! A user's HTTP session, as a Locust `HttpUser` has one: its own keep-alive connection and its
//! own cookie jar, over HTTP/1.1.
//!
//! A session drives its connection inside the user's own task (no pool, no connection task, no
//! channel between them): that is most of the CPU a general-purpose client spends per request,
//! and most of the memory an idle user would otherwise hold. All sessions share one TLS
//! configuration, built once per process.
//!
//! The body streams through [`BodyReader`] (decoded, counted, kept up to a cap), the stream
//! under the connection applies requests' socket timeout ([`crate::wire`]), and a failure comes
//! back as the Python exception text Locust records for it ([`crate::fault`]).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    HeaderMap, HeaderValue, ACCEPT, ACCEPT_ENCODING, CONNECTION, CONTENT_LENGTH, COOKIE, HOST,
    SET_COOKIE, USER_AGENT,
};
use http::{Method, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use reqwest::cookie::{CookieStore, Jar};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::body::BodyReader;
use crate::wire::{self, SharedWire, Wire};
use crate::{fault, pyerr};

const AGENT: &str = concat!("skein/", env!("CARGO_PKG_VERSION"));

/// The TLS configuration every session shares (the platform's roots, HTTP/1.1 by ALPN).
/// Building a root store per user would cost ~110 KB and milliseconds of CPU each.
pub fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| e.to_string())?;
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Arc::new(config))
        })
        .clone()
}

/// Where a connection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    /// As in a URL: an IPv6 address keeps its brackets.
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn of(url: &url::Url) -> Option<Origin> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            _ => return None,
        };
        Some(Origin {
            https,
            host: url.host_str()?.to_string(),
            port: url.port_or_known_default()?,
        })
    }

    fn same(&self, url: &url::Url) -> bool {
        (url.scheme() == "https") == self.https
            && url.host_str() == Some(self.host.as_str())
            && url.port_or_known_default() == Some(self.port)
    }

    /// The host without an IPv6 address's brackets, as Python's texts name it.
    pub(crate) fn bare_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }

    fn host_header(&self) -> String {
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A request body sent as a list of chunks (so a multipart upload can borrow a shared image).
#[derive(Debug, Clone, Default)]
pub struct ChunkBody {
    chunks: VecDeque<Bytes>,
    len: u64,
}

impl ChunkBody {
    pub fn new(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        let chunks: VecDeque<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let len = chunks.iter().map(|c| c.len() as u64).sum();
        ChunkBody { chunks, len }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Body for ChunkBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.chunks.pop_front();
        if let Some(c) = &next {
            self.len -= c.len() as u64;
        }
        Poll::Ready(next.map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

type Driver = http1::Connection<Stream, ChunkBody>;

type Stream = TokioIo<Wire<Box<dyn Io>>>;

struct Connection {
    origin: Origin,
    host_header: Option<HeaderValue>,
    sender: http1::SendRequest<ChunkBody>,
    driver: Driver,
    wire: SharedWire,
}

/// A kept-alive connection while its user waits: the socket without hyper's state, whose read
/// and write buffers (8 KiB each once used) are most of what an idle user would hold.
struct Parked {
    origin: Origin,
    host_header: Option<HeaderValue>,
    io: Stream,
    wire: SharedWire,
}

impl Connection {
    /// The connection without hyper's state; `None` when it cannot be resumed (bytes the
    /// server sent beyond the last response, which no new dispatcher could be given).
    fn park(self: Box<Self>) -> Option<Parked> {
        let this = *self;
        let parts = this.driver.into_parts();
        parts.read_buf.is_empty().then_some(Parked {
            origin: this.origin,
            host_header: this.host_header,
            io: parts.io,
            wire: this.wire,
        })
    }
}

impl Parked {
    /// A new dispatcher over the same socket: HTTP/1's handshake writes and reads nothing.
    async fn resume(self) -> Option<Connection> {
        let (sender, driver) = http1::handshake(self.io).await.ok()?;
        Some(Connection {
            origin: self.origin,
            host_header: self.host_header,
            sender,
            driver,
            wire: self.wire,
        })
    }
}

/// Why a request got no (complete) response.
#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// The Python exception Locust's `HttpUser` records for the same fault, as `repr` prints it.
    Fault { text: String, timeout: bool },
    /// A kept-alive connection ended before the request was written: safe to send again.
    Stale(String),
}

impl SendError {
    fn fault(text: String) -> Self {
        SendError::Fault {
            text,
            timeout: false,
        }
    }

    fn timeout(text: String) -> Self {
        SendError::Fault {
            text,
            timeout: true,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Fault { text, .. } | SendError::Stale(text) => f.write_str(text),
        }
    }
}

/// How a request is sent: requests' `timeout=` (per socket operation, and for connecting),
/// and the cap on the body bytes kept.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    pub timeout: Option<Duration>,
    pub max_body_size: usize,
}

/// A response read to its end.
pub struct Exchange {
    pub status: StatusCode,
    /// The server's reason phrase when it is not the standard one.
    pub reason: Option<String>,
    pub headers: HeaderMap,
    /// The decoded body, at most `max_body_size` bytes of it.
    pub body: Bytes,
    /// The decoded body's whole length (Locust's `len(response.content)`).
    pub content_length: u64,
}

/// A session's kept-alive connection: in use, or parked while its user waits.
enum Conn {
    /// Boxed: hyper's dispatcher is about a kilobyte inline, which a parked connection would
    /// otherwise keep room for.
    Live(Box<Connection>),
    Parked(Parked),
}

#[derive(Default)]
pub struct Session {
    conn: Option<Conn>,
    /// Only consulted once a response has set a cookie, so a cookie-less workload never pays for it.
    jar: Option<Jar>,
}

impl Session {
    /// Sends one request on the session's connection (opening one when there is none, or when the
    /// server closed it) and reads the whole response.
    pub async fn execute(
        &mut self,
        method: Method,
        url: &url::Url,
        mut headers: HeaderMap,
        body: ChunkBody,
        options: SendOptions,
    ) -> Result<Exchange, SendError> {
        let conn = match self.conn.take() {
            Some(Conn::Live(c)) => Some(c),
            // Boxed, as `connect` below: inline, every request's future (moved, so copied, on
            // each send) would carry their state too.
            Some(Conn::Parked(p)) if p.origin.same(url) => Box::pin(p.resume()).await.map(Box::new),
            _ => None,
        };
        let reusable = match conn {
            Some(mut c) if c.origin.same(url) => still_open(&mut c).await.then_some(c),
            _ => None,
        };
        let reused = reusable.is_some();
        let mut conn = match reusable {
            Some(c) => c,
            None => {
                let origin = Origin::of(url).ok_or_else(|| {
                    SendError::fault(format!(
                        "InvalidSchema({})",
                        pyerr::str_repr(&format!("No connection adapters were found for '{url}'"))
                    ))
                })?;
                Box::new(Box::pin(connect(origin, options.timeout)).await?)
            }
        };
        wire::begin_request(&conn.wire, options.timeout);
        let ready = drive(&mut conn.driver, conn.sender.ready())
            .await
            .and_then(|r| r.map_err(Some));
        if let Err(e) = ready {
            return Err(conn.before_head(e.as_ref(), options.timeout));
        }
        if let Some(v) = &conn.host_header {
            headers.entry(HOST).or_insert_with(|| v.clone());
        }
        // The defaults Python's requests sends, so servers answer skein as they answer Locust.
        headers
            .entry(USER_AGENT)
            .or_insert(HeaderValue::from_static(AGENT));
        headers
            .entry(ACCEPT_ENCODING)
            .or_insert(HeaderValue::from_static("gzip, deflate"));
        headers
            .entry(ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        headers
            .entry(CONNECTION)
            .or_insert(HeaderValue::from_static("keep-alive"));
        if !body.is_empty() || matches!(method, Method::POST | Method::PUT | Method::PATCH) {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        if let Some(jar) = &self.jar {
            if let Some(cookies) = jar.cookies(url) {
                // A Cookie header the scenario set itself wins, as in requests.
                headers.entry(COOKIE).or_insert(cookies);
            }
        }
        let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let mut req = http::Request::new(body);
        *req.method_mut() = method;
        *req.uri_mut() = target.parse().map_err(|e: http::uri::InvalidUri| {
            SendError::fault(format!("InvalidURL({})", pyerr::str_repr(&e.to_string())))
        })?;
        *req.headers_mut() = headers;

        let head = drive(&mut conn.driver, conn.sender.send_request(req))
            .await
            .and_then(|r| r.map_err(Some));
        let response = match head {
            Ok(r) => r,
            Err(Some(e)) if reused && e.is_canceled() => {
                return Err(SendError::Stale(error_chain(&e)))
            }
            Err(e) => return Err(conn.before_head(e.as_ref(), options.timeout)),
        };
        if let Some(text) = fault::head_rejected(&wire::lock(&conn.wire)) {
            return Err(SendError::fault(text));
        }
        let (parts, body) = response.into_parts();
        let read = conn.read_body(&parts.headers, body, options).await?;
        let exchange = Exchange {
            status: parts.status,
            reason: parts
                .extensions
                .get::<hyper::ext::ReasonPhrase>()
                .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned()),
            headers: parts.headers,
            body: read.kept,
            content_length: read.total,
        };
        if exchange.headers.contains_key(SET_COOKIE) {
            let jar = self.jar.get_or_insert_with(Jar::default);
            jar.set_cookies(&mut exchange.headers.get_all(SET_COOKIE).iter(), url);
        }
        let closing = exchange
            .headers
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        if !closing {
            self.conn = Some(Conn::Live(conn));
        }
        Ok(exchange)
    }

    /// Lets go of the connection's buffers while the user waits; the next request resumes the
    /// same connection. Costs that request a new dispatcher (about a microsecond), so the
    /// engine parks only before a wait that is long next to it.
    pub fn park(&mut self) {
        self.conn = match self.conn.take() {
            Some(Conn::Live(c)) => c.park().map(Conn::Parked),
            other => other,
        };
    }
}

impl Connection {
    /// The text of a failure before the response head, from what the stream saw.
    fn before_head(&self, e: Option<&hyper::Error>, timeout: Option<Duration>) -> SendError {
        let state = wire::lock(&self.wire);
        let text = fault::before_head(e, &state, &self.origin, timeout);
        if state.timed_out {
            SendError::timeout(text)
        } else {
            SendError::fault(text)
        }
    }

    /// Reads the body to its end, frame by frame, through the decoder and the cap.
    async fn read_body(
        &mut self,
        headers: &HeaderMap,
        mut body: Incoming,
        options: SendOptions,
    ) -> Result<crate::body::ReadBody, SendError> {
        let content_length = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut reader = BodyReader::new(headers, options.max_body_size);
        let mut received = 0u64;
        loop {
            let broken = match drive(&mut self.driver, body.frame()).await {
                Ok(None) => return Ok(reader.finish()),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        received += data.len() as u64;
                        reader.feed(&data).await.map_err(SendError::fault)?;
                    }
                    continue;
                }
                Ok(Some(Err(e))) => Some(e),
                Err(e) => e,
            };
            let state = wire::lock(&self.wire);
            let text = fault::in_body(
                broken.as_ref(),
                &state,
                &self.origin,
                received,
                content_length,
            );
            return Err(if state.timed_out {
                SendError::timeout(text)
            } else {
                SendError::fault(text)
            });
        }
    }
}

async fn connect(origin: Origin, timeout: Option<Duration>) -> Result<Connection, SendError> {
    let host = origin.bare_host().to_string();
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), origin.port))
        .await
        .map_err(|e| {
            let text = e.to_string();
            let message = text
                .strip_prefix("failed to lookup address information: ")
                .unwrap_or(&text);
            SendError::fault(pyerr::resolve_error(message))
        })?
        .collect();
    let connecting = TcpStream::connect(&addrs[..]);
    let tcp = match timeout {
        Some(t) => tokio::time::timeout(t, connecting).await.map_err(|_| {
            SendError::timeout(pyerr::connect_timeout(origin.https, &host, origin.port, t))
        })?,
        None => connecting.await,
    }
    .map_err(|e| SendError::fault(crate::engine_support::connect_error_text(&e)))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if origin.https {
        let config = tls_config().map_err(|e| SendError::fault(ssl_error(&e)))?;
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| SendError::fault(ssl_error(&e.to_string())))?;
        let handshake = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
        // urllib3 does the handshake under the socket timeout and reports it as a read timeout.
        let tls = match timeout {
            Some(t) => tokio::time::timeout(t, handshake).await.map_err(|_| {
                SendError::timeout(pyerr::read_timeout(true, &host, origin.port, t))
            })?,
            None => handshake.await,
        }
        .map_err(|e| SendError::fault(ssl_error(&error_chain(&e))))?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let state = SharedWire::default();
    let (sender, driver) = http1::handshake(TokioIo::new(Wire::new(io, state.clone())))
        .await
        .map_err(|e| SendError::fault(format!("OSError({})", pyerr::str_repr(&error_chain(&e)))))?;
    let host_header = HeaderValue::from_str(&origin.host_header()).ok();
    Ok(Connection {
        origin,
        host_header,
        sender,
        driver,
        wire: state,
    })
}

/// A TLS failure: Python's `ssl` texts (OpenSSL's) have no rustls equivalent, so the class
/// is Python's and the message rustls's.
fn ssl_error(message: &str) -> String {
    format!("SSLError({})", pyerr::str_repr(message))
}

/// Whether a kept-alive connection is still usable. The connection is only driven while a
/// request is in flight, so a server that closed it while the user waited (an idle timeout) is
/// noticed here, by one poll that reads the pending end of stream, instead of failing the
/// next request.
async fn still_open(conn: &mut Connection) -> bool {
    !conn.sender.is_closed()
        && poll_fn(|cx| Poll::Ready(Pin::new(&mut conn.driver).poll(cx).is_pending())).await
        && !conn.sender.is_closed()
}

/// Polls `fut` while also driving the connection it needs; an error when the connection ends
/// first (`None`: it ended cleanly).
async fn drive<F: Future>(driver: &mut Driver, fut: F) -> Result<F::Output, Option<hyper::Error>> {
    let mut fut = std::pin::pin!(fut);
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut *driver).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(end) => {
                // The request's future learns of the end on this poll, if at all.
                if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                    return Poll::Ready(Ok(v));
                }
                Poll::Ready(Err(end.err()))
            }
        }
    })
    .await
}

pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
