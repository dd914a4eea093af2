//! The engine's side of this crate: how the engine runs a user so that its requests are recorded
//! and keep one HTTP session, and the process-wide settings of the HTTP client. Nothing here is
//! for a scenario: it is hidden from the documentation and may change without notice.
//!
//! Why it lives in `skein-api` and not in `skein-record` (which the statistics use): the scope
//! holds each user's HTTP session (hyper, rustls, cookies), which [`Request::send`] takes for
//! the length of a request, so it belongs with the HTTP client. The record and sink types are
//! re-exported here so that the engine's user-running code needs one import.
//!
//! [`Request::send`]: crate::Request::send

pub use crate::body::{max_body_size, set_max_body_size, DEFAULT_MAX_BODY_SIZE};
pub use crate::record::{with_sink, UserContext};
pub use crate::session::tls_config;
pub use skein_record::{RecordFuture, RequestSink};

/// A failed TCP connect as the Python exception `skein_api::Request` reports for it
/// (`ConnectionRefusedError(111, 'Connection refused')`), so that a connection error of Goose's
/// own requests merges with the same fault made by `Request`.
pub fn connect_error_text(e: &std::io::Error) -> String {
    crate::pyerr::io_error(e)
        .unwrap_or_else(|| format!("OSError({})", crate::pyerr::str_repr(&e.to_string())))
}
