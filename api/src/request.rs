//! A request with Locust's semantics, made on the Goose user's own HTTP session.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use goose::goose::GooseUser;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, LOCATION};
use http::{Method, StatusCode};

use crate::multipart::Multipart;
use crate::record::{epoch_seconds, record, Failure, RequestRecord, SessionGuard};
use crate::session::{ChunkBody, SendError, SendOptions};

type Check = Box<dyn FnOnce(&Response) -> Result<(), String> + Send>;

/// Redirects followed before giving up, as Python's requests.
const MAX_REDIRECTS: usize = 30;

/// A request to build, send and record, with Locust's semantics. Nothing is sent or recorded
/// until [`Request::send`], which never fails: a failure is recorded and comes back in the
/// [`Response`].
///
/// What is recorded: the method, the name ([`Request::name`], the path by default), the time
/// from sending to the end of the body (redirects included), the decoded body's length, and a
/// [`Failure`] when there was no complete response, when the status is >= 400 (or not one of
/// [`Request::expect_status`]'s), or when the [`Request::check`] said no.
///
/// ```
/// use skein_api::prelude::*;
///
/// async fn calls(user: &mut GooseUser) -> TransactionResult {
///     // A GET, grouped in the statistics under one name whatever the id.
///     Request::get(format!("/items/{}", 42)).name("/items/[id]").send(user).await;
///
///     // A POST with a JSON body; a 409 is an expected answer here, not a failure.
///     Request::post("/items")
///         .json(&serde_json::json!({ "name": "cat" }))
///         .expect_status(&[201, 409])
///         .send(user)
///         .await;
///
///     // A multipart upload, failed unless the body says what it should.
///     const IMAGE: &[u8] = b"\xff\xd8\xff\xe0 a JPEG";
///     let form = Multipart::new()
///         .file("file", "cat.jpg", "image/jpeg", IMAGE)
///         .text("top_k", "3");
///     let response = Request::post("/classify")
///         .multipart(form)
///         .header("x-request-source", "skein")
///         .check(|r| {
///             if r.text().contains("predictions") {
///                 Ok(())
///             } else {
///                 Err("no predictions".to_string())
///             }
///         })
///         .send(user)
///         .await;
///     if response.ok() {
///         // The response is all read: status, headers and (up to the cap) body.
///         let _first_bytes = &response.body[..response.body.len().min(16)];
///     }
///     Ok(())
/// }
/// # let _ = transaction!(calls);
/// ```
pub struct Request {
    method: Method,
    path: Cow<'static, str>,
    name: Option<Cow<'static, str>>,
    headers: HeaderMap,
    body: ChunkBody,
    expected: Option<&'static [u16]>,
    check: Option<Check>,
    timeout: Option<Duration>,
    max_body_size: Option<usize>,
}

/// The full response (the body is already read: its time is part of the response time).
/// A request that got no response has status 0 and an empty body, as in Locust.
#[derive(Debug)]
pub struct Response {
    /// The final status code (after redirects); 0 when there was no response.
    pub status: u16,
    /// The final response's headers.
    pub headers: HeaderMap,
    /// The decoded body, or its first `max_body_size` bytes when it is longer (see
    /// [`Response::truncated`]).
    pub body: Bytes,
    /// The decoded body's whole length, as Locust records it.
    pub content_length: u64,
    /// The response time recorded, in milliseconds: from sending to the end of the body,
    /// redirects included.
    pub elapsed_ms: f64,
    /// Why the request was recorded as failed, if it was.
    pub failure: Option<Failure>,
    /// Set by the accessors that need the whole body, so a check that used them on a
    /// truncated body fails instead of judging a part.
    whole_body_used: AtomicBool,
}

impl Clone for Response {
    fn clone(&self) -> Self {
        Response {
            status: self.status,
            headers: self.headers.clone(),
            body: self.body.clone(),
            content_length: self.content_length,
            elapsed_ms: self.elapsed_ms,
            failure: self.failure.clone(),
            whole_body_used: AtomicBool::new(self.whole_body_used.load(Ordering::Relaxed)),
        }
    }
}

impl Response {
    /// Whether the request was recorded as a success.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// Whether the body was longer than the cap, so `body` holds only its beginning.
    pub fn truncated(&self) -> bool {
        self.content_length > self.body.len() as u64
    }

    /// The body parsed as JSON; an error when the body was truncated at the cap.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        self.whole_body_used.store(true, Ordering::Relaxed);
        if self.truncated() {
            return Err(<serde_json::Error as serde::de::Error>::custom(
                self.truncation_message(),
            ));
        }
        serde_json::from_slice(&self.body)
    }

    /// The body as text (invalid UTF-8 replaced). On a truncated body this is its beginning,
    /// and a [`Request::check`] that called it fails with [`Response::truncation_message`].
    pub fn text(&self) -> Cow<'_, str> {
        self.whole_body_used.store(true, Ordering::Relaxed);
        String::from_utf8_lossy(&self.body)
    }

    /// What a check that needed the whole of a truncated body fails with.
    pub fn truncation_message(&self) -> String {
        format!(
            "response body of {} bytes is larger than the {}-byte cap (--max-body-size): only \
             its first {} bytes were kept, so a check on the whole body cannot run",
            self.content_length,
            self.body.len(),
            self.body.len()
        )
    }
}

impl Request {
    /// A request with any method; `path` is joined to the user's base URL (`--host`), and an
    /// absolute URL is used as it is.
    ///
    /// ```
    /// use skein_api::{Method, Request};
    ///
    /// let patch = Request::new(Method::PATCH, "/items/1").json(&[("name", "dog")]);
    /// # drop(patch);
    /// ```
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
            max_body_size: None,
        }
    }

    /// A `GET` of `path` (see [`Request::new`]).
    pub fn get(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::GET, path)
    }

    /// A `POST` to `path` (see [`Request::new`]); give it a body with [`Request::json`],
    /// [`Request::form`], [`Request::multipart`] or [`Request::body`].
    pub fn post(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::POST, path)
    }

    /// A `PUT` to `path` (see [`Request::new`]).
    pub fn put(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::PUT, path)
    }

    /// A `DELETE` of `path` (see [`Request::new`]).
    pub fn delete(path: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// The name the statistics group this request under (Locust's `name=`); the path by default.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets a header (replacing one of the same name). A name or value HTTP does not allow
    /// (a control character, a space in the name) leaves the request without the header.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.headers.insert(n, v);
        }
        self
    }

    /// A raw body (a `&'static [u8]` or `Bytes` is sent without a copy); set the content type
    /// with [`Request::header`].
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = ChunkBody::new([body.into()]);
        self
    }

    /// A `multipart/form-data` body (its content type is set with the form's boundary).
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

    /// requests' `timeout=`: connecting, and each wait for the server (for the response head or
    /// more of the body), fails after this long; the whole request may take longer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Keeps at most this many bytes of the decoded body (the process-wide `--max-body-size`
    /// otherwise); the rest is counted and dropped.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = Some(bytes);
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
            max_body_size,
        } = self;
        let url = match url_of(user, &path) {
            Ok(u) => u,
            Err(e) => {
                let failure = Failure::Connection(format!(
                    "InvalidURL({})",
                    crate::pyerr::str_repr(&format!("Invalid URL {path:?}: {e}"))
                ));
                return finish(
                    method,
                    name.unwrap_or(path),
                    None,
                    0,
                    Response::failed(0.0, failure),
                )
                .await;
            }
        };
        // Locust names a request by its URL's path (with the query) unless told otherwise.
        let named = name;
        let first_name = if path.starts_with('/') {
            path
        } else {
            Cow::Owned(path_and_query(&url))
        };
        let options = SendOptions {
            timeout,
            max_body_size: max_body_size.unwrap_or_else(crate::body::max_body_size),
        };
        let started = Instant::now();
        let mut session = SessionGuard::take();
        let exchange = follow(&mut session, method.clone(), url, headers, body, options).await;
        drop(session);
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (mut response, name) = match exchange {
            Err((last_url, failure)) => {
                // Locust names an unnamed request that got no response by the last URL it
                // requested (a redirect loop's last hop).
                let name = named.unwrap_or_else(|| Cow::Owned(path_and_query(&last_url)));
                (Response::failed(elapsed_ms, failure), name)
            }
            Ok(ex) => {
                let name = named.unwrap_or(first_name);
                let code = ex.status.as_u16();
                // requests' raise_for_status: only 4xx and 5xx are errors.
                let accepted = match expected {
                    Some(list) => list.contains(&code),
                    None => !(400..600).contains(&code),
                };
                let reason = ex
                    .reason
                    .clone()
                    .unwrap_or_else(|| ex.status.canonical_reason().unwrap_or("").to_string());
                // Locust sets response.url to the request's name before raise_for_status.
                let failure = (!accepted).then(|| status_failure(code, reason, &name, expected));
                let response = Response {
                    status: code,
                    headers: ex.headers,
                    body: ex.body,
                    content_length: ex.content_length,
                    elapsed_ms,
                    failure,
                    whole_body_used: AtomicBool::new(false),
                };
                (response, name)
            }
        };
        if response.failure.is_none() {
            if let Some(check) = check {
                let verdict = check(&response);
                if response.truncated() && response.whole_body_used.load(Ordering::Relaxed) {
                    // The check judged a part of the body: its verdict means nothing.
                    response.failure = Some(Failure::Check(response.truncation_message()));
                } else if let Err(text) = verdict {
                    response.failure = Some(Failure::Check(text));
                }
            }
        }
        // Locust (requests, not streaming) records len(response.content): the decoded body;
        // 0 without a response.
        let content_length = response.content_length;
        finish(method, name, Some(elapsed_ms), content_length, response).await
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
    options: SendOptions,
) -> Result<crate::session::Exchange, (url::Url, Failure)> {
    let mut hop = 0;
    loop {
        if hop == 1 {
            // requests sends an explicit Cookie header only on the first hop; the jar follows.
            headers.remove(http::header::COOKIE);
        }
        let mut result = session
            .execute(method.clone(), &url, headers.clone(), body.clone(), options)
            .await;
        if matches!(result, Err(SendError::Stale(_))) {
            // A kept-alive connection closed under a request that was never written: send it
            // once more on a fresh connection.
            result = session
                .execute(method.clone(), &url, headers.clone(), body.clone(), options)
                .await;
        }
        let ex = match result {
            Ok(ex) => ex,
            Err(SendError::Fault {
                text,
                timeout: true,
            }) => return Err((url, Failure::Timeout(text))),
            Err(e) => return Err((url, Failure::Connection(pyerr_text(e)))),
        };
        let redirect = matches!(ex.status.as_u16(), 301 | 302 | 303 | 307 | 308);
        let location = ex
            .headers
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url.join(l).ok());
        match (redirect, location) {
            (true, Some(_)) if hop == MAX_REDIRECTS => {
                // requests raises on the 31st redirect response, its request's URL is the last.
                return Err((
                    url,
                    Failure::Connection(crate::pyerr::TOO_MANY_REDIRECTS.to_string()),
                ));
            }
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
                hop += 1;
            }
            _ => return Ok(ex),
        }
    }
}

/// The Python text of a send error (a stale connection that failed again is what
/// http.client sees on a closed connection).
fn pyerr_text(e: SendError) -> String {
    match e {
        SendError::Fault { text, .. } => text,
        SendError::Stale(_) => crate::pyerr::REMOTE_DISCONNECTED.to_string(),
    }
}

impl Response {
    fn failed(elapsed_ms: f64, failure: Failure) -> Self {
        Response {
            status: 0,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            content_length: 0,
            elapsed_ms,
            failure: Some(failure),
            whole_body_used: AtomicBool::new(false),
        }
    }
}

async fn finish(
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
        scheduled_at: None,
    })
    .await;
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

fn status_failure(code: u16, reason: String, name: &str, expected: Option<&[u16]>) -> Failure {
    match expected {
        // A status outside an explicit list is the scenario's own verdict, not an HTTP error.
        Some(list) if !(400..600).contains(&code) => Failure::Check(format!(
            "Unexpected status code {code}, expected one of {list:?}"
        )),
        _ => Failure::Status {
            code,
            reason,
            url: name.to_string(),
        },
    }
}
