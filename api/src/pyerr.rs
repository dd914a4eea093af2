//! The exception texts Locust 2.47's `HttpUser` records for a fault, as Python's `repr()`
//! prints them (requests 2.x over urllib3 2.x and `http.client`, after Locust's unwrapping of
//! `ConnectionError`/`ProtocolError`/`MaxRetryError` to their `__context__`).
//!
//! Every function here returns the exact text real Locust wrote into its failures CSV for the
//! same fault on loopback (the README's "Failures and their texts" has the table), so that an error's
//! key (`sha256(method.name.repr)`) is the same on a skein and a Python worker.

use std::io;
use std::time::Duration;

pub(crate) use skein_record::str_repr;

/// A timeout value as Python prints the number a scenario passed (`2`, `1.5`).
pub(crate) fn py_seconds(t: Duration) -> String {
    let s = t.as_secs_f64();
    if s.fract() == 0.0 && s < 1e15 {
        format!("{}", s as u64)
    } else {
        format!("{s}")
    }
}

/// The Python `OSError` subclass of an errno, as `repr` shows it:
/// `ConnectionRefusedError(111, 'Connection refused')`.
pub(crate) fn os_error(code: i32) -> String {
    let class = match code {
        32 => "BrokenPipeError",
        103 => "ConnectionAbortedError",
        104 => "ConnectionResetError",
        111 => "ConnectionRefusedError",
        110 => "TimeoutError",
        11 | 115 => "BlockingIOError",
        _ => "OSError",
    };
    // Python's strerror is libc's, which is also what std prints before " (os error N)".
    let text = io::Error::from_raw_os_error(code).to_string();
    let strerror = text
        .strip_suffix(&format!(" (os error {code})"))
        .unwrap_or(&text);
    format!("{class}({code}, {})", str_repr(strerror))
}

/// An `io::Error` as the Python exception the same failure raises; `None` when it is not an
/// operating-system error.
pub(crate) fn io_error(e: &io::Error) -> Option<String> {
    e.raw_os_error().map(os_error)
}

/// `urllib3`'s pool name in timeout texts.
fn pool(https: bool, host: &str, port: u16) -> String {
    let kind = if https { "HTTPS" } else { "HTTP" };
    format!("{kind}ConnectionPool(host={}, port={port})", str_repr(host))
}

/// No answer within the timeout (while waiting for the status line, or a TLS handshake).
pub(crate) fn read_timeout(https: bool, host: &str, port: u16, t: Duration) -> String {
    let msg = format!(
        "{}: Read timed out. (read timeout={})",
        pool(https, host, port),
        py_seconds(t)
    );
    format!("ReadTimeout(ReadTimeoutError({}))", str_repr(&msg))
}

/// The body stalled for longer than the timeout (requests raises `ConnectionError` there,
/// which Locust unwraps to urllib3's error, whose text has no timeout value).
pub(crate) fn body_read_timeout(https: bool, host: &str, port: u16) -> String {
    let msg = format!("{}: Read timed out.", pool(https, host, port));
    format!("ReadTimeoutError({})", str_repr(&msg))
}

/// TCP connect did not complete in time. The connection object's address is masked as
/// Locust's `parse_error` masks `object at 0x…>`: Python's own text has a fresh address per
/// connection (so Locust makes one row per connection object); a fixed mask keeps one row.
pub(crate) fn connect_timeout(https: bool, host: &str, port: u16, t: Duration) -> String {
    let kind = if https { "HTTPS" } else { "HTTP" };
    let msg = format!(
        "Connection to {host} timed out. (connect timeout={})",
        py_seconds(t)
    );
    format!(
        "ConnectTimeoutError(<{kind}Connection(host={}, port={port}) at 0x....>, {})",
        str_repr(host),
        str_repr(&msg)
    )
}

/// A host name that does not resolve (`socket.gaierror`), from the resolver's message.
pub(crate) fn resolve_error(message: &str) -> String {
    // glibc's gai_strerror texts and their EAI_* codes.
    let code = match message {
        "Name or service not known" => -2,
        "Temporary failure in name resolution" => -3,
        "Non-recoverable failure in name resolution" => -4,
        "No address associated with hostname" => -5,
        "Servname not supported for ai_socktype" => -8,
        _ => -2,
    };
    format!("gaierror({code}, {})", str_repr(message))
}

/// The connection ended cleanly (or could not be written) before a status line arrived.
pub(crate) const REMOTE_DISCONNECTED: &str =
    "RemoteDisconnected('Remote end closed connection without response')";

/// `requests`' redirect limit reached.
pub(crate) const TOO_MANY_REDIRECTS: &str = "TooManyRedirects('Exceeded 30 redirects.')";

/// A chunked body ended (the connection closed) before its last chunk.
pub(crate) const ENDED_PREMATURELY: &str =
    "ChunkedEncodingError(ProtocolError('Response ended prematurely'))";

/// An OS error (a reset) while the body was being read.
pub(crate) fn body_broken(os: &str) -> String {
    let msg = format!("Connection broken: {os}");
    format!(
        "ChunkedEncodingError(ProtocolError({}, {os}))",
        str_repr(&msg)
    )
}

/// A body shorter than its Content-Length.
pub(crate) fn incomplete_read(read: u64, expected_more: u64) -> String {
    let inner = format!("IncompleteRead({read} bytes read, {expected_more} more expected)");
    let msg = format!("Connection broken: {inner}");
    format!(
        "ChunkedEncodingError(ProtocolError({}, {inner}))",
        str_repr(&msg)
    )
}

/// `http.client`'s verdict on a status line it cannot parse (the line as received, latin-1).
pub(crate) fn bad_status_line(line: &[u8]) -> String {
    let line: String = line.iter().map(|&b| b as char).collect();
    format!("BadStatusLine({})", str_repr(&line))
}

/// A status or header line longer than `http.client`'s 65536 bytes.
pub(crate) fn line_too_long(what: &str) -> String {
    format!(
        "LineTooLong({})",
        str_repr(&format!("got more than 65536 bytes when reading {what}"))
    )
}

/// More than `http.client`'s 100 header lines.
pub(crate) const TOO_MANY_HEADERS: &str = "HTTPException('got more than 100 headers')";

/// A body urllib3 could not decode.
pub(crate) fn decode_error(encoding: &str, zlib: &str) -> String {
    let msg =
        format!("Received response with content-encoding: {encoding}, but failed to decode it.");
    format!(
        "ContentDecodingError(DecodeError({}, error({})))",
        str_repr(&msg),
        str_repr(&format!("Error -3 while decompressing data: {zlib}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_as_python_prints_them() {
        assert_eq!(
            os_error(111),
            "ConnectionRefusedError(111, 'Connection refused')"
        );
        assert_eq!(
            os_error(104),
            "ConnectionResetError(104, 'Connection reset by peer')"
        );
        assert_eq!(
            read_timeout(false, "127.0.0.1", 18004, Duration::from_secs(60)),
            "ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool(host='127.0.0.1', port=18004): \
             Read timed out. (read timeout=60)\"))"
        );
        assert_eq!(py_seconds(Duration::from_millis(1500)), "1.5");
        assert_eq!(
            incomplete_read(5, 95),
            "ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(5 bytes read, \
             95 more expected)', IncompleteRead(5 bytes read, 95 more expected)))"
        );
        assert_eq!(
            body_broken(&os_error(104)),
            "ChunkedEncodingError(ProtocolError(\"Connection broken: ConnectionResetError(104, \
             'Connection reset by peer')\", ConnectionResetError(104, 'Connection reset by peer')))"
        );
        assert_eq!(
            bad_status_line(b"HELLO WORLD\r\n"),
            "BadStatusLine('HELLO WORLD\\r\\n')"
        );
        assert_eq!(
            resolve_error("Name or service not known"),
            "gaierror(-2, 'Name or service not known')"
        );
    }
}
