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
    /// When the iteration that made the request was scheduled to start (epoch seconds): set in
    /// the open model (see [`UserContext::run`]), `None` in the closed model. The open model's
    /// corrected latency runs from it to `timestamp`.
    pub scheduled_at: Option<f64>,
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
    scheduled_at: Option<f64>,
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
            scheduled_at: None,
        },
        fut,
    )
    .await
}

/// One user's scope that outlives a task: where its requests go and its HTTP session
/// (keep-alive connection and cookies). [`with_sink`] ties the session to one future; a
/// `UserContext` keeps it between futures, so a virtual user whose iterations run in different
/// tasks (the open model) keeps its connection and cookies.
pub struct UserContext {
    sink: Arc<dyn RequestSink>,
    session: Option<Box<Session>>,
}

impl UserContext {
    pub fn new(sink: Arc<dyn RequestSink>) -> Self {
        UserContext {
            sink,
            session: None,
        }
    }

    /// Runs `fut` as this user, as [`with_sink`] does, with the session this context holds; the
    /// session comes back to the context when `fut` ends. Requests made in it carry
    /// `scheduled_at` in their records. If the returned future is dropped before `fut` ends
    /// (a killed user) the session goes with it and the next run opens a new one.
    pub async fn run<F: Future>(&mut self, scheduled_at: Option<f64>, fut: F) -> F::Output {
        let scope = UserScope {
            sink: self.sink.clone(),
            session: Cell::new(self.session.take()),
            scheduled_at,
        };
        let mut scoped = std::pin::pin!(USER.scope(scope, fut));
        let out = (&mut scoped).await;
        self.session = scoped.as_mut().take_value().and_then(|s| s.session.take());
        out
    }

    /// Whether the context holds a session (one request has run and kept its connection or
    /// cookies); for tests of the session's survival.
    pub fn has_session(&self) -> bool {
        self.session.is_some()
    }
}

/// Reports a request made by other means (a custom protocol, a request timed by hand); waits
/// while the engine's statistics queue is full. Outside [`with_sink`] the record is dropped: a
/// scenario run outside the engine has no statistics.
pub async fn record(mut record: RequestRecord) {
    let Ok((sink, scheduled_at)) = USER.try_with(|u| (u.sink.clone(), u.scheduled_at)) else {
        return;
    };
    record.scheduled_at = record.scheduled_at.or(scheduled_at);
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
