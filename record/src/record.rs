//! One finished request as the statistics need it, and why it failed.

use std::borrow::Cow;

/// Wall-clock time as Locust keeps it: epoch seconds.
///
/// ```
/// assert!(skein_record::epoch_seconds() > 1.6e9);
/// ```
pub fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Why a request failed, as the engine renders Locust's exact error text (and so Locust's
/// error key) from it: the HTTP and check failures are structured, a failure without a
/// response carries the Python exception text itself, because only the HTTP session knows
/// which exception requests/urllib3 would have raised.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A status >= 400 (< 600) the request did not accept (Locust:
    /// `HTTPError('404 Client Error: Not Found for url: <name>')`).
    Status {
        /// The response's status code.
        code: u16,
        /// The server's reason phrase, as requests reports it.
        reason: String,
        /// What requests' message says after `for url:`: the request's name, as Locust sets
        /// `response.url` to the name before `raise_for_status`.
        url: String,
    },
    /// The scenario's own check said no (Locust: `CatchResponseError('text')`).
    Check(String),
    /// No complete response: the Python exception's `repr`, e.g.
    /// `ConnectionRefusedError(111, 'Connection refused')`.
    Connection(String),
    /// No response in time: the Python exception's `repr`, e.g. `ReadTimeout(ReadTimeoutError(…))`.
    Timeout(String),
}

/// One finished request, as the engine's statistics need it (Locust's `request` event).
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// The HTTP method (or a custom protocol's verb), Locust's `request_type`.
    pub method: Cow<'static, str>,
    /// The name the statistics group the request under (Locust's `name=`).
    pub name: Cow<'static, str>,
    /// Milliseconds from sending to the end of the body; `None` is Locust's "none request".
    pub response_time_ms: Option<f64>,
    /// The decoded body's length in bytes.
    pub content_length: u64,
    /// Why the request failed; `None` for a success.
    pub failure: Option<Failure>,
    /// Wall-clock completion time, epoch seconds (see [`epoch_seconds`]).
    pub timestamp: f64,
    /// When the iteration that made the request was scheduled to start (epoch seconds): set by
    /// the engine in the open model, `None` in the closed model (and when a scenario builds a
    /// record itself). The open model's corrected latency runs from it to `timestamp`.
    pub scheduled_at: Option<f64>,
}
