//! A user's HTTP session, as a Locust `HttpUser` has one: its own keep-alive connection and its
//! own cookie jar, over HTTP/1.1.
//!
//! A session drives its connection inside the user's own task (no pool, no connection task, no
//! channel between them): that is most of the CPU a general-purpose client spends per request,
//! and most of the memory an idle user would otherwise hold. All sessions share one TLS
//! configuration, built once per process.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    HeaderMap, HeaderValue, ACCEPT, ACCEPT_ENCODING, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH,
    COOKIE, HOST, SET_COOKIE, USER_AGENT,
};
use http::{Method, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use reqwest::cookie::{CookieStore, Jar};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

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

struct Connection {
    origin: Origin,
    host_header: Option<HeaderValue>,
    sender: http1::SendRequest<ChunkBody>,
    driver: http1::Connection<TokioIo<Box<dyn Io>>, ChunkBody>,
}

/// Why a request got no response.
#[derive(Debug)]
pub enum SendError {
    Connect(String),
    Protocol(String),
    /// A kept-alive connection ended before the request was written: safe to send again.
    Stale(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(e) | SendError::Protocol(e) | SendError::Stale(e) => f.write_str(e),
        }
    }
}

/// A response read to its end.
pub struct Exchange {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Default)]
pub struct Session {
    conn: Option<Connection>,
    /// Only consulted once a response has set a cookie, so a cookie-less workload never pays for it.
    jar: Option<Jar>,
}

impl Session {
    pub fn new() -> Self {
        Session::default()
    }

    /// Sends one request on the session's connection (opening one when there is none, or when the
    /// server closed it) and reads the whole response.
    pub async fn execute(
        &mut self,
        method: Method,
        url: &url::Url,
        mut headers: HeaderMap,
        body: ChunkBody,
    ) -> Result<Exchange, SendError> {
        let reusable = match self.conn.take() {
            Some(mut c) if c.origin.same(url) => still_open(&mut c).await.then_some(c),
            _ => None,
        };
        let reused = reusable.is_some();
        let mut conn = match reusable {
            Some(c) => c,
            None => {
                let origin = Origin::of(url)
                    .ok_or_else(|| SendError::Connect(format!("unsupported URL {url}")))?;
                connect(origin).await?
            }
        };
        drive(&mut conn.driver, conn.sender.ready())
            .await
            .map_err(SendError::Protocol)?
            .map_err(|e| SendError::Protocol(e.to_string()))?;
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
        *req.uri_mut() = target
            .parse()
            .map_err(|e: http::uri::InvalidUri| SendError::Protocol(e.to_string()))?;
        *req.headers_mut() = headers;

        let Connection { sender, driver, .. } = &mut conn;
        let exchange = async {
            let response = sender.send_request(req).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, hyper::Error>(Exchange {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        let mut exchange = drive(driver, exchange)
            .await
            .map_err(SendError::Protocol)?
            .map_err(|e| {
                if reused && e.is_canceled() {
                    SendError::Stale(error_chain(&e))
                } else {
                    SendError::Protocol(error_chain(&e))
                }
            })?;
        exchange.body = decode(&exchange.headers, exchange.body).map_err(SendError::Protocol)?;
        if exchange.headers.contains_key(SET_COOKIE) {
            let jar = self.jar.get_or_insert_with(Jar::default);
            jar.set_cookies(&mut exchange.headers.get_all(SET_COOKIE).iter(), url);
        }
        let closing = exchange
            .headers
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        if !closing {
            self.conn = Some(conn);
        }
        Ok(exchange)
    }
}

/// The body as requests hands it to Locust: gzip and deflate undone.
fn decode(headers: &HeaderMap, body: Bytes) -> Result<Bytes, String> {
    use std::io::Read;
    let encoding = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut out = Vec::new();
    let result = match encoding.as_str() {
        "gzip" | "x-gzip" => flate2::read::MultiGzDecoder::new(&body[..]).read_to_end(&mut out),
        // requests accepts both zlib-wrapped and raw deflate.
        "deflate" => flate2::read::ZlibDecoder::new(&body[..])
            .read_to_end(&mut out)
            .or_else(|_| {
                out.clear();
                flate2::read::DeflateDecoder::new(&body[..]).read_to_end(&mut out)
            }),
        _ => return Ok(body),
    };
    result
        .map(|_| Bytes::from(out))
        .map_err(|e| format!("ContentDecodingError: {e}"))
}

async fn connect(origin: Origin) -> Result<Connection, SendError> {
    let host = origin
        .host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tcp = TcpStream::connect((host.as_str(), origin.port))
        .await
        .map_err(|e| SendError::Connect(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if origin.https {
        let config = tls_config().map_err(SendError::Connect)?;
        let name = rustls::pki_types::ServerName::try_from(host)
            .map_err(|e| SendError::Connect(e.to_string()))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| SendError::Connect(e.to_string()))?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let (sender, driver) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| SendError::Connect(error_chain(&e)))?;
    let host_header = HeaderValue::from_str(&origin.host_header()).ok();
    Ok(Connection {
        origin,
        host_header,
        sender,
        driver,
    })
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

/// Polls `fut` while also driving the connection it needs; an error when the connection ends first.
async fn drive<F: Future>(
    driver: &mut http1::Connection<TokioIo<Box<dyn Io>>, ChunkBody>,
    fut: F,
) -> Result<F::Output, String> {
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
                Poll::Ready(Err(match end {
                    Ok(()) => "connection closed before the response completed".to_string(),
                    Err(e) => error_chain(&e),
                }))
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
