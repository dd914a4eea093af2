//! A request with Locust's semantics, made on the Goose user's own HTTP session.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use bytes::Bytes;
use goose::goose::GooseUser;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, LOCATION};
use http::{Method, StatusCode};

use crate::multipart::Multipart;
use crate::record::{epoch_seconds, record, Failure, RequestRecord, SessionGuard};
use crate::session::{ChunkBody, SendError};

type Check = Box<dyn FnOnce(&Response) -> Result<(), String> + Send>;

/// Redirects followed before giving up, as Python's requests.
const MAX_REDIRECTS: usize = 30;

/// A request to build, send and record. Nothing is recorded until [`Request::send`].
pub struct Request {
    method: Method,
    path: Cow<'static, str>,
    name: Option<Cow<'static, str>>,
    headers: HeaderMap,
    body: ChunkBody,
    expected: Option<&'static [u16]>,
    check: Option<Check>,
    timeout: Option<Duration>,
}

/// The full response (the body is already read: its time is part of the response time).
/// A request that got no response has status 0 and an empty body, as in Locust.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub elapsed_ms: f64,
    /// Why the request was recorded as failed, if it was.
    pub failure: Option<Failure>,
}

impl Response {
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

impl Request {
    pub fn new(method: Method, path: impl Into<Cow<'static, str>>) -> Self {
        Request {
            method,
            path: path.into(),
            name: None,
            headers: HeaderMap::new(),
            body: ChunkBody::default(),
            expected: None,
            check: None,
            timeout: None,
        }
    }

    pub fn get(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::POST, path)
    }

    pub fn put(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::PUT, path)
    }

    pub fn delete(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// The name the statistics group this request under (Locust's `name=`); the path by default.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(HeaderName::from_static(name), v);
        }
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = ChunkBody::new([body.into()]);
        self
    }

    pub fn multipart(mut self, form: Multipart) -> Self {
        if let Ok(v) = HeaderValue::from_str(&form.content_type()) {
            self.headers.insert(CONTENT_TYPE, v);
        }
        self.body = form.into_body();
        self
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self.body = ChunkBody::new([Bytes::from(encoded)]);
        self
    }

    /// A JSON body.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        if let Ok(bytes) = serde_json::to_vec(value) {
            self.headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            self.body = ChunkBody::new([Bytes::from(bytes)]);
        }
        self
    }

    /// Succeeds only on one of these statuses (so `&[400, 422]` turns an expected rejection
    /// into a success and a 200 into a failure).
    pub fn expect_status(mut self, statuses: &'static [u16]) -> Self {
        self.expected = Some(statuses);
        self
    }

    /// The scenario's own check, run once the status is accepted: `Err(text)` fails the request
    /// with that text (Locust's `response.failure(text)`).
    pub fn check(
        mut self,
        check: impl FnOnce(&Response) -> Result<(), String> + Send + 'static,
    ) -> Self {
        self.check = Some(Box::new(check));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request on the user's session, reads the whole body, decides success and
    /// records it. It never fails: a request without a response comes back with status 0, as in
    /// Locust. Redirects are followed (and timed) as Python's requests follows them.
    pub async fn send(self, user: &mut GooseUser) -> Response {
        let Request {
            method,
            path,
            name,
            headers,
            body,
            expected,
            check,
            timeout,
        } = self;
        let url = match url_of(user, &path) {
            Ok(u) => u,
            Err(e) => {
                let failure = Failure::Connection(format!("invalid URL {path:?}: {e}"));
                return finish(
                    method,
                    name.unwrap_or(path),
                    None,
                    0,
                    Response::failed(0.0, failure),
                );
            }
        };
        // Locust names a request by its URL's path (with the query) unless told otherwise.
        let name = name.unwrap_or_else(|| {
            if path.starts_with('/') {
                path
            } else {
                Cow::Owned(path_and_query(&url))
            }
        });
        let started = Instant::now();
        let mut session = SessionGuard::take();
        let exchange = match timeout {
            Some(t) => match tokio::time::timeout(
                t,
                follow(&mut session, method.clone(), url, headers, body),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => {
                    // The half-read connection was dropped with the request; the cookies stay.
                    Err(Failure::Timeout(format!(
                        "no response within {:.1} s",
                        t.as_secs_f64()
                    )))
                }
            },
            None => follow(&mut session, method.clone(), url, headers, body).await,
        };
        drop(session);
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (mut response, content_length) = match exchange {
            Err(failure) => (Response::failed(elapsed_ms, failure), 0),
            Ok((url, ex)) => {
                // Locust (requests, not streaming) records len(response.content): the decoded body.
                let content_length = ex.body.len() as u64;
                let code = ex.status.as_u16();
                let accepted = match expected {
                    Some(list) => list.contains(&code),
                    None => code < 400,
                };
                let failure =
                    (!accepted).then(|| status_failure(ex.status, &path_and_query(&url), expected));
                (
                    Response {
                        status: code,
                        headers: ex.headers,
                        body: ex.body,
                        elapsed_ms,
                        failure,
                    },
                    content_length,
                )
            }
        };
        if response.failure.is_none() {
            if let Some(check) = check {
                if let Err(text) = check(&response) {
                    response.failure = Some(Failure::Check(text));
                }
            }
        }
        finish(method, name, Some(elapsed_ms), content_length, response)
    }
}

/// The request's URL: `path` joined to the user's base URL (an absolute URL stands alone).
fn url_of(user: &GooseUser, path: &str) -> Result<url::Url, url::ParseError> {
    if path.starts_with('/') && !path.starts_with("//") {
        // Like requests, never send a fragment.
        let path = path.split_once('#').map_or(path, |(p, _)| p);
        // Locust appends the path to the host as given (`-H http://x/api` + `/v1` is
        // `http://x/api/v1`), and this needs no re-parsing of the host.
        let mut url = user.base_url.clone();
        let (p, q) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let prefix = user.base_url.path().trim_end_matches('/');
        if prefix.is_empty() {
            url.set_path(p);
        } else {
            url.set_path(&format!("{prefix}{p}"));
        }
        url.set_query(q);
        url.set_fragment(None);
        return Ok(url);
    }
    user.base_url.join(path)
}

/// Sends, then follows redirects like Python's requests: 301/302/303 turn into a GET without
/// a body (except a HEAD), 307/308 repeat the request.
async fn follow(
    session: &mut crate::session::Session,
    mut method: Method,
    mut url: url::Url,
    mut headers: HeaderMap,
    mut body: ChunkBody,
) -> Result<(url::Url, crate::session::Exchange), Failure> {
    for hop in 0..=MAX_REDIRECTS {
        if hop == 1 {
            // requests sends an explicit Cookie header only on the first hop; the jar follows.
            headers.remove(http::header::COOKIE);
        }
        let mut result = session
            .execute(method.clone(), &url, headers.clone(), body.clone())
            .await;
        if matches!(result, Err(SendError::Stale(_))) {
            // A kept-alive connection closed under a request that was never written: send it
            // once more on a fresh connection.
            result = session
                .execute(method.clone(), &url, headers.clone(), body.clone())
                .await;
        }
        let ex = result.map_err(|e| Failure::Connection(e.to_string()))?;
        let redirect = matches!(ex.status.as_u16(), 301 | 302 | 303 | 307 | 308);
        let location = ex
            .headers
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url.join(l).ok());
        match (redirect, location) {
            (true, Some(next)) => {
                // Python's requests: a 303 becomes a GET (but a HEAD), a 302 too, a 301 only from a POST;
                // a request turned into a GET loses its body and the headers that described it.
                let to_get = match ex.status {
                    StatusCode::SEE_OTHER | StatusCode::FOUND => method != Method::HEAD,
                    StatusCode::MOVED_PERMANENTLY => method == Method::POST,
                    _ => false,
                };
                if to_get {
                    method = Method::GET;
                    body = ChunkBody::default();
                    headers.remove(http::header::CONTENT_TYPE);
                    headers.remove(http::header::CONTENT_LENGTH);
                }
                if crate::session::Origin::of(&next) != crate::session::Origin::of(&url) {
                    // As requests: credentials do not follow a redirect to another origin.
                    headers.remove(http::header::AUTHORIZATION);
                }
                url = next;
            }
            _ => return Ok((url, ex)),
        }
    }
    Err(Failure::Connection(format!(
        "TooManyRedirects: exceeded {MAX_REDIRECTS} redirects"
    )))
}

impl Response {
    fn failed(elapsed_ms: f64, failure: Failure) -> Self {
        Response {
            status: 0,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            elapsed_ms,
            failure: Some(failure),
        }
    }
}

fn finish(
    method: Method,
    name: Cow<'static, str>,
    response_time_ms: Option<f64>,
    content_length: u64,
    response: Response,
) -> Response {
    record(RequestRecord {
        method: method_name(&method),
        name,
        response_time_ms,
        content_length,
        failure: response.failure.clone(),
        timestamp: epoch_seconds(),
    });
    response
}

fn method_name(method: &Method) -> Cow<'static, str> {
    match *method {
        Method::GET => Cow::Borrowed("GET"),
        Method::POST => Cow::Borrowed("POST"),
        Method::PUT => Cow::Borrowed("PUT"),
        Method::DELETE => Cow::Borrowed("DELETE"),
        Method::PATCH => Cow::Borrowed("PATCH"),
        Method::HEAD => Cow::Borrowed("HEAD"),
        Method::OPTIONS => Cow::Borrowed("OPTIONS"),
        _ => Cow::Owned(method.as_str().to_string()),
    }
}

fn path_and_query(url: &url::Url) -> String {
    url[url::Position::BeforePath..url::Position::AfterQuery].to_string()
}

fn status_failure(status: StatusCode, path: &str, expected: Option<&[u16]>) -> Failure {
    let code = status.as_u16();
    match expected {
        // A status outside an explicit list is the scenario's own verdict, not an HTTP error.
        Some(list) if code < 400 => Failure::Check(format!(
            "Unexpected status code {code}, expected one of {list:?}"
        )),
        _ => Failure::Status {
            code,
            reason: status.canonical_reason().unwrap_or("").to_string(),
            url: path.to_string(),
        },
    }
}
