//! The user's scope: which sink a request is reported to and which HTTP session it goes over,
//! held in a tokio task-local for the user's task.
//!
//! The record and sink types themselves live in `skein-record`, which has no network inside, so
//! the statistics need not depend on this crate. The scope stays here, not there, because it
//! holds the user's [`Session`] (hyper, rustls, the cookie jar) and is what [`Request::send`]
//! reads: it is the HTTP client's plumbing, not a shared type. The engine enters it through
//! [`crate::engine_support`]; a scenario only sees its effect (its requests are recorded) and
//! [`record`], the one entry point for a request made by other means.
//!
//! [`Request::send`]: crate::Request::send

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

// The shared types, under the paths this crate's modules have always used for them.
use skein_record::RequestSink;
pub(crate) use skein_record::{epoch_seconds, Failure, RequestRecord};

use crate::session::Session;

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
    /// A user whose requests go to `sink`, with no session yet (the first request opens one).
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

    /// Releases what the session's connection holds beyond its socket, before a wait (see
    /// [`Session::park`]).
    pub fn park(&mut self) {
        if let Some(s) = self.session.as_mut() {
            s.park();
        }
    }

    /// Whether the context holds a session (one request has run and kept its connection or
    /// cookies); for tests of the session's survival.
    pub fn has_session(&self) -> bool {
        self.session.is_some()
    }
}

/// Reports a request made by other means (a custom protocol, a request timed by hand), as
/// Locust's `events.request.fire` does; waits while the engine's statistics queue is full.
/// Leave `scheduled_at` `None`: the engine fills it in the open model. Outside the engine
/// (a unit test of a transaction) the record is dropped: there are no statistics to report to.
///
/// ```
/// use std::time::Instant;
/// use skein_api::{epoch_seconds, record, Failure, RequestRecord};
///
/// # async fn ping() -> Result<usize, String> { Ok(4) }
/// async fn timed_ping() {
///     let start = Instant::now();
///     let outcome = ping().await; // any protocol the scenario speaks itself
///     record(RequestRecord {
///         method: "PING".into(),
///         name: "ping".into(),
///         response_time_ms: Some(start.elapsed().as_secs_f64() * 1000.0),
///         content_length: *outcome.as_ref().unwrap_or(&0) as u64,
///         failure: outcome.err().map(Failure::Connection),
///         timestamp: epoch_seconds(),
///         scheduled_at: None,
///     })
///     .await;
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(timed_ping());
/// ```
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
