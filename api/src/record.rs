//! What one request reports, and the task-scoped sink it is reported to.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

/// Why a request failed, kept structured so the engine can render Locust's exact error text
/// (and so Locust's error key) in one place.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A status the request did not accept (Locust: `HTTPError('404 Client Error: Not Found for url: /x')`).
    Status {
        code: u16,
        reason: String,
        url: String,
    },
    /// The scenario's own check said no (Locust: `CatchResponseError('text')`).
    Check(String),
    /// No response: connection refused or reset, DNS, TLS… (Locust: `ConnectionError('…')`).
    Connection(String),
    /// No response in time.
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

/// Receives the records of the users running in the current task.
pub trait RequestSink: Send + Sync {
    fn record(&self, record: RequestRecord);
}

tokio::task_local! {
    static SINK: Arc<dyn RequestSink>;
}

/// Runs `fut` with `sink` receiving every request it makes. The engine wraps each user's task in this.
pub async fn with_sink<F: Future>(sink: Arc<dyn RequestSink>, fut: F) -> F::Output {
    SINK.scope(sink, fut).await
}

/// Reports a request made by other means (a custom protocol, a request timed by hand).
/// Outside [`with_sink`] the record is dropped: a scenario run outside the engine has no statistics.
pub fn record(record: RequestRecord) {
    let _ = SINK.try_with(|sink| sink.record(record));
}
