//! Where records go: the engine's side of reporting a request.

use std::future::Future;
use std::pin::Pin;

use crate::RequestRecord;

/// What [`RequestSink::record`] returns: done once the sink has taken the record.
pub type RecordFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Receives the records of the users running in the current task. Recording is async so that
/// a sink that cannot keep up (a bounded queue to the statistics) makes the users wait instead
/// of letting records pile up in memory.
///
/// ```
/// use std::sync::Mutex;
/// use skein_record::{RecordFuture, RequestRecord, RequestSink};
///
/// /// Keeps every record, for a test.
/// #[derive(Default)]
/// struct Keep(Mutex<Vec<RequestRecord>>);
///
/// impl RequestSink for Keep {
///     fn record(&self, record: RequestRecord) -> RecordFuture<'_> {
///         self.0.lock().unwrap().push(record);
///         Box::pin(std::future::ready(()))
///     }
/// }
/// ```
pub trait RequestSink: Send + Sync {
    /// Takes one record; the returned future completes once the sink has accepted it.
    fn record(&self, record: RequestRecord) -> RecordFuture<'_>;
}
