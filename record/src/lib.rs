//! What one request of a skein load test reports, and where it is reported to: the types that
//! scenarios, the engine and the statistics share.
//!
//! A [`RequestRecord`] is one finished request (Locust's `request` event): its method, name,
//! response time, content length and, if it failed, its [`Failure`]. The engine hands records
//! to a [`RequestSink`]; the statistics aggregate them. [`str_repr`] is Python's `repr(str)`,
//! which both the failure texts and Locust's error keys are written in.
//!
//! This crate has no network dependencies on purpose (no goose, hyper, reqwest, rustls or
//! tokio): the statistics depend on it alone, so they can be built, tested and reasoned about
//! without the HTTP client. Scenario authors do not need it directly: `skein-api` re-exports
//! what they use.
//!
//! ```
//! use skein_record::{epoch_seconds, Failure, RequestRecord};
//!
//! let record = RequestRecord {
//!     method: "GET".into(),
//!     name: "/health".into(),
//!     response_time_ms: Some(3.2),
//!     content_length: 2,
//!     failure: Some(Failure::Check("expected \"ok\"".into())),
//!     timestamp: epoch_seconds(),
//!     scheduled_at: None,
//! };
//! assert!(record.failure.is_some());
//! ```

#![deny(missing_docs)]

mod pyrepr;
mod record;
mod sink;

pub use pyrepr::str_repr;
pub use record::{epoch_seconds, Failure, RequestRecord};
pub use sink::{RecordFuture, RequestSink};
