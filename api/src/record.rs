//! What one request reports, and the task-scoped sink it is reported to.

use std::borrow::Cow;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::session::Session;

/// Wall-clock time as Locust keeps it: epoch seconds.
pub fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Why a request failed, as the engine renders Locust's exact error text (and so Locust's
/// error key) from it: the HTTP and check failures are structured, a failure without a
/// response carries the Python exception text itself (see `pyerr`), because only the session
/// knows which exception requests/urllib3 would have raised.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A status >= 400 (< 600) the request did not accept (Locust:
    /// `HTTPError('404 Client Error: Not Found for url: <name>')`).
    Status {
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

/// One finished request, as the engine's statistics need it.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: Cow<'static, str>,
    pub name: Cow<'static, str>,
    /// Milliseconds from sending to the end of the body; `None` is Locust's "none request".
    pub response_time_ms: Option<f64>,
    pub content_length: u64,
    pub failure: Option<Failure>,
    /// Wall-clock completion time, epoch seconds.
    pub timestamp: f64,
}

/// What [`RequestSink::record`] returns: done once the sink has taken the record.
pub type RecordFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Receives the records of the users running in the current task. Recording is async so that
/// a sink that cannot keep up (a bounded queue to the statistics) makes the users wait instead
/// of letting records pile up in memory.
pub trait RequestSink: Send + Sync {
    fn record(&self, record: RequestRecord) -> RecordFuture<'_>;
}

/// What the engine puts in scope for one user's task: where its requests are reported, and
/// its HTTP session (taken out for the length of a request, then put back).
struct UserScope {
    sink: Arc<dyn RequestSink>,
    session: Cell<Option<Box<Session>>>,
}

tokio::task_local! {
    static USER: UserScope;
}

/// Runs `fut` as one user: every request it makes is reported to `sink` and goes over one
/// HTTP session (keep-alive connection and cookies) that lives as long as `fut`. The engine
/// wraps each user's task in this.
pub async fn with_sink<F: Future>(sink: Arc<dyn RequestSink>, fut: F) -> F::Output {
    USER.scope(
        UserScope {
            sink,
            session: Cell::new(None),
        },
        fut,
    )
    .await
}

/// Reports a request made by other means (a custom protocol, a request timed by hand); waits
/// while the engine's statistics queue is full. Outside [`with_sink`] the record is dropped: a
/// scenario run outside the engine has no statistics.
pub async fn record(record: RequestRecord) {
    let Ok(sink) = USER.try_with(|u| u.sink.clone()) else {
        return;
    };
    sink.record(record).await;
}

/// The current user's session for the length of one request (a fresh one outside
/// [`with_sink`], or while another request of the same user holds it). It goes back to the
/// user when the guard drops, also when the request is cancelled (a killed user, a scenario's
/// own timeout), so the cookies survive; the connection in flight is not in it then.
pub(crate) struct SessionGuard(Option<Box<Session>>);

impl SessionGuard {
    pub(crate) fn take() -> Self {
        SessionGuard(Some(
            USER.try_with(|u| u.session.take())
                .ok()
                .flatten()
                .unwrap_or_default(),
        ))
    }
}

impl std::ops::Deref for SessionGuard {
    type Target = Session;
    fn deref(&self) -> &Session {
        self.0.as_deref().expect("present until drop")
    }
}

impl std::ops::DerefMut for SessionGuard {
    fn deref_mut(&mut self) -> &mut Session {
        self.0.as_deref_mut().expect("present until drop")
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if let Some(session) = self.0.take() {
            let _ = USER.try_with(|u| u.session.set(Some(session)));
        }
    }
}
