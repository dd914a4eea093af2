//! Which Python exception a failed exchange is: hyper's error, plus what the connection's
//! stream saw (its own timeout, the response head so far, a failed write), mapped to the text
//! Locust's `HttpUser` records for the same fault.

use std::time::Duration;

use crate::pyerr;
use crate::session::Origin;
use crate::wire::{HeadViolation, WireState};

/// The OS error under a hyper error, if any.
fn os_error_in(e: &hyper::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return pyerr::io_error(io);
        }
        source = s.source();
    }
    None
}

/// `http.client`'s verdict on a status line: `Err(text)` when it raises.
pub(crate) fn status_line_verdict(line: &[u8]) -> Result<(), String> {
    if line.is_empty() {
        return Err(pyerr::REMOTE_DISCONNECTED.to_string());
    }
    if line.len() > 65536 {
        return Err(pyerr::line_too_long("status line"));
    }
    let text: String = line.iter().map(|&b| b as char).collect();
    // `line.split(None, 2)`: a line with one word has no version as far as Python is concerned.
    let mut words = text.split_whitespace();
    let (version, status) = match (words.next(), words.next()) {
        (Some(v), Some(s)) => (v, s),
        _ => ("", ""),
    };
    let code_ok = status
        .parse::<u32>()
        .is_ok_and(|c| (100..=999).contains(&c));
    if !version.starts_with("HTTP/") || !code_ok {
        return Err(pyerr::bad_status_line(line));
    }
    Ok(())
}

fn violation_text(v: HeadViolation) -> String {
    match v {
        HeadViolation::StatusLineTooLong => pyerr::line_too_long("status line"),
        HeadViolation::HeaderLineTooLong => pyerr::line_too_long("header line"),
        HeadViolation::TooManyHeaders => pyerr::TOO_MANY_HEADERS.to_string(),
    }
}

/// A response head `http.client` rejects although hyper parsed it.
pub(crate) fn head_rejected(wire: &WireState) -> Option<String> {
    if let Some(v) = wire.head.violation {
        return Some(violation_text(v));
    }
    status_line_verdict(&wire.head.status_line).err()
}

/// The request got no response head. `e` is `None` when the connection ended cleanly.
pub(crate) fn before_head(
    e: Option<&hyper::Error>,
    wire: &WireState,
    origin: &Origin,
    timeout: Option<Duration>,
) -> String {
    if wire.timed_out {
        if let Some(t) = timeout {
            return pyerr::read_timeout(origin.https, origin.bare_host(), origin.port, t);
        }
    }
    if let Some(v) = wire.head.violation {
        return violation_text(v);
    }
    if !wire.head.status_line.is_empty() {
        // Something arrived and hyper refused it: Python judges the status line first.
        if let Err(text) = status_line_verdict(&wire.head.status_line) {
            return text;
        }
    }
    if wire.write_failed {
        // http.client ignores a broken pipe while sending and then reads a closed connection.
        return pyerr::REMOTE_DISCONNECTED.to_string();
    }
    match e {
        Some(e) => {
            if let Some(os) = os_error_in(e) {
                return os;
            }
            if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
                return pyerr::REMOTE_DISCONNECTED.to_string();
            }
            // A head Python would accept but hyper does not (over its 400 KB head buffer, a
            // header syntax hyper is stricter about): no Python text exists for it.
            format!(
                "HTTPException({})",
                pyerr::str_repr(&crate::session::error_chain(e))
            )
        }
        None => pyerr::REMOTE_DISCONNECTED.to_string(),
    }
}

/// The body broke off after `received` bytes (as sent, before decoding).
pub(crate) fn in_body(
    e: Option<&hyper::Error>,
    wire: &WireState,
    origin: &Origin,
    received: u64,
    content_length: Option<u64>,
) -> String {
    if wire.timed_out {
        return pyerr::body_read_timeout(origin.https, origin.bare_host(), origin.port);
    }
    if let Some(os) = e.and_then(os_error_in) {
        return pyerr::body_broken(&os);
    }
    match content_length {
        Some(cl) if cl > received => pyerr::incomplete_read(received, cl - received),
        _ => pyerr::ENDED_PREMATURELY.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_as_http_client_judges_them() {
        assert!(status_line_verdict(b"HTTP/1.1 200 OK\r\n").is_ok());
        assert!(status_line_verdict(b"HTTP/1.1 200\r\n").is_ok());
        assert_eq!(
            status_line_verdict(b"HTTP/1.1 abc OK\r\n").unwrap_err(),
            "BadStatusLine('HTTP/1.1 abc OK\\r\\n')"
        );
        assert_eq!(
            status_line_verdict(b"HTTP/1.1 99 Low\r\n").unwrap_err(),
            "BadStatusLine('HTTP/1.1 99 Low\\r\\n')"
        );
        assert_eq!(
            status_line_verdict(b"").unwrap_err(),
            pyerr::REMOTE_DISCONNECTED
        );
    }
}
