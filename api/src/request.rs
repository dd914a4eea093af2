//! A request with Locust's semantics, made on the Goose user's own HTTP session.

use std::borrow::Cow;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use goose::goose::GooseUser;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;

use crate::record::{record, Failure, RequestRecord};

type Check = Box<dyn FnOnce(&Response) -> Result<(), String> + Send>;

enum Body {
    None,
    Bytes(Bytes),
    Multipart(reqwest::multipart::Form),
    Form(Vec<(String, String)>),
}

/// A request to build, send and record. Nothing is recorded until [`Request::send`].
pub struct Request {
    method: Method,
    path: Cow<'static, str>,
    name: Option<Cow<'static, str>>,
    headers: HeaderMap,
    body: Body,
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
            body: Body::None,
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
        self.body = Body::Bytes(body.into());
        self
    }

    pub fn multipart(mut self, form: reqwest::multipart::Form) -> Self {
        self.body = Body::Multipart(form);
        self
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.body = Body::Form(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
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

    /// Sends the request on `user`'s session, reads the whole body, decides success and records it.
    /// It never fails: a request without a response comes back with status 0, as in Locust.
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
        let url = match user.build_url(&path) {
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
        let mut builder = user.client.request(method.clone(), &url).headers(headers);
        builder = match body {
            Body::None => builder,
            Body::Bytes(b) => builder.body(b),
            Body::Multipart(form) => builder.multipart(form),
            Body::Form(fields) => builder.form(&fields),
        };
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        let name = name.unwrap_or_else(|| Cow::Owned(path_of(&url)));
        let started = Instant::now();
        let outcome = match builder.send().await {
            Ok(resp) => {
                let status = resp.status();
                let headers = resp.headers().clone();
                match resp.bytes().await {
                    Ok(body) => Ok((status, headers, body)),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (mut response, content_length) = match outcome {
            Err(e) => {
                let text = error_chain(&e);
                let failure = if e.is_timeout() {
                    Failure::Timeout(text)
                } else {
                    Failure::Connection(text)
                };
                (Response::failed(elapsed_ms, failure), 0)
            }
            Ok((status, headers, body)) => {
                // Locust records the Content-Length header when there is one, else the body length.
                let content_length = headers
                    .get(reqwest::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(body.len() as u64);
                let code = status.as_u16();
                let accepted = match expected {
                    Some(list) => list.contains(&code),
                    None => code < 400,
                };
                let failure = (!accepted)
                    .then(|| status_failure(code, status.canonical_reason(), &url, expected));
                (
                    Response {
                        status: code,
                        headers,
                        body,
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
        timestamp: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
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

/// Locust names a request by its URL path (with the query) unless told otherwise.
fn path_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{}", u.path(), q),
            None => u.path().to_string(),
        },
        Err(_) => url.to_string(),
    }
}

fn status_failure(code: u16, reason: Option<&str>, url: &str, expected: Option<&[u16]>) -> Failure {
    match expected {
        // A status outside an explicit list is the scenario's own verdict, not an HTTP error.
        Some(list) if code < 400 => Failure::Check(format!(
            "Unexpected status code {code}, expected one of {list:?}"
        )),
        _ => Failure::Status {
            code,
            reason: reason.unwrap_or("").to_string(),
            url: path_of(url),
        },
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
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
