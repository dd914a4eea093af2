//! The failures table (Locust's `StatsError`), Locust's error texts for our structured
//! failures, and the exceptions table (errors raised by user code, not by requests).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use skein_record::Failure;

use super::pyfmt::str_repr;

/// Locust's error text for a failure: what `repr(exception)` prints in Python. A failure
/// without a response already carries that text (the session knows which exception
/// requests/urllib3 raise for each fault).
pub fn failure_text(f: &Failure) -> String {
    match f {
        Failure::Status { code, reason, url } => {
            // requests' raise_for_status: 4xx "Client", 5xx "Server" (other codes never fail).
            let kind = if (400..500).contains(code) {
                "Client"
            } else {
                "Server"
            };
            let msg = format!("{code} {kind} Error: {reason} for url: {url}");
            format!("HTTPError({})", str_repr(&msg))
        }
        Failure::Check(t) => format!("CatchResponseError({})", str_repr(t)),
        Failure::Connection(t) | Failure::Timeout(t) => t.clone(),
    }
}

/// Locust's `parse_error` for a text: addresses in `object at 0x…>` are masked so that
/// otherwise equal errors share a key.
pub fn parse_error(error: &str) -> String {
    const MARK: &str = "object at 0x";
    if !error.contains(MARK) {
        return error.to_string();
    }
    let mut out = String::with_capacity(error.len());
    let mut rest = error;
    while let Some(i) = rest.find(MARK) {
        out.push_str(&rest[..i + MARK.len()]);
        let after = &rest[i + MARK.len()..];
        let hex_len = after.bytes().take_while(|b| b.is_ascii_hexdigit()).count();
        if hex_len > 0 && after[hex_len..].starts_with('>') {
            out.push_str("....>");
            rest = &after[hex_len + 1..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The failures-table key: `sha256(f"{method}.{name}.{error!r}")` in hex.
pub fn error_key(method: &str, name: &str, error: &str) -> String {
    let text = format!("{method}.{name}.{}", str_repr(&parse_error(error)));
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The console/report display of an error: `"{method} {name}: {error}"`, with a
/// `CatchResponseError(…)` wrapper removed.
pub fn error_display(method: &str, name: &str, error: &str) -> String {
    let unwrapped = error
        .strip_prefix("CatchResponseError(")
        .and_then(|e| e.strip_suffix(')'))
        .unwrap_or(error);
    format!("{method} {name}: {unwrapped}")
}

/// One row of the failures table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsError {
    pub name: String,
    pub method: String,
    pub error: String,
    pub occurrences: u64,
    pub first_seen: Option<f64>,
    pub last_seen: Option<f64>,
}

impl StatsError {
    pub fn new(method: &str, name: &str, error: &str) -> Self {
        StatsError {
            name: name.to_string(),
            method: method.to_string(),
            error: parse_error(error),
            occurrences: 0,
            first_seen: None,
            last_seen: None,
        }
    }

    pub fn key(&self) -> String {
        error_key(&self.method, &self.name, &self.error)
    }

    pub fn occurred(&mut self, now: f64) {
        self.occurrences += 1;
        if self.first_seen.is_none() {
            self.first_seen = Some(now);
        }
        self.last_seen = Some(now);
    }

    /// Merges a serialized row with the same key (a worker's delta).
    pub fn merge(&mut self, other: &StatsError) {
        self.occurrences += other.occurrences;
        self.first_seen = opt_fold(self.first_seen, other.first_seen, f64::min);
        self.last_seen = opt_fold(self.last_seen, other.last_seen, f64::max);
    }

    /// The console display (`GET /: 'custom failure text'`).
    pub fn to_name(&self) -> String {
        error_display(&self.method, &self.name, &self.error)
    }

    /// The wire form (name, method, error, occurrences, first_seen, last_seen).
    pub fn serialize(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

fn opt_fold(a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// One row of the exceptions table.
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionRow {
    pub count: u64,
    pub msg: String,
    pub traceback: String,
    /// A set in Locust; kept in first-seen order here.
    pub nodes: Vec<String>,
}

impl ExceptionRow {
    /// `", ".join(nodes)`.
    pub fn nodes_joined(&self) -> String {
        self.nodes.join(", ")
    }
}

/// The exceptions table, keyed by traceback text, in insertion order.
#[derive(Debug, Clone, Default)]
pub struct Exceptions {
    rows: Vec<ExceptionRow>,
}

impl Exceptions {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, msg: &str, traceback: &str, node: &str) {
        let row = match self.rows.iter_mut().position(|r| r.traceback == traceback) {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push(ExceptionRow {
                    count: 0,
                    msg: msg.to_string(),
                    traceback: traceback.to_string(),
                    nodes: Vec::new(),
                });
                let last = self.rows.len() - 1;
                &mut self.rows[last]
            }
        };
        row.count += 1;
        if !row.nodes.iter().any(|n| n == node) {
            row.nodes.push(node.to_string());
        }
    }

    pub fn rows(&self) -> &[ExceptionRow] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn clear(&mut self) {
        self.rows.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts() {
        let f = Failure::Status {
            code: 404,
            reason: "Not Found".into(),
            url: "/missing".into(),
        };
        assert_eq!(
            failure_text(&f),
            "HTTPError('404 Client Error: Not Found for url: /missing')"
        );
        let f = Failure::Status {
            code: 500,
            reason: "boom".into(),
            url: "/fake".into(),
        };
        assert_eq!(
            failure_text(&f),
            "HTTPError('500 Server Error: boom for url: /fake')"
        );
        assert_eq!(
            failure_text(&Failure::Check("custom failure text".into())),
            "CatchResponseError('custom failure text')"
        );
        let refused = "ConnectionRefusedError(111, 'Connection refused')";
        assert_eq!(failure_text(&Failure::Connection(refused.into())), refused);
        let named = Failure::Status {
            code: 500,
            reason: "Internal Server Error".into(),
            url: "/api/v1/classify [invalid top_k]".into(),
        };
        assert_eq!(
            failure_text(&named),
            "HTTPError('500 Server Error: Internal Server Error for url: /api/v1/classify \
             [invalid top_k]')"
        );
    }

    #[test]
    fn error_key_matches_locust() {
        let k = error_key("GET", "/", "CatchResponseError('custom failure text')");
        assert!(k.starts_with("87a0cd72"), "{k}");
        assert!(k.ends_with("a1ec"), "{k}");
        assert_eq!(k.len(), 64);
    }

    #[test]
    fn parse_error_masks_addresses() {
        assert_eq!(
            parse_error("<Foo object at 0x7f3a2b>: x <Bar object at 0xdead>"),
            "<Foo object at 0x....>: x <Bar object at 0x....>"
        );
        assert_eq!(parse_error("object at 0xzz"), "object at 0xzz");
    }

    #[test]
    fn display_unwraps_catch_response() {
        assert_eq!(
            error_display("GET", "/", "CatchResponseError('custom failure text')"),
            "GET /: 'custom failure text'"
        );
        assert_eq!(
            error_display(
                "GET",
                "/missing",
                "HTTPError('404 Client Error: File not found for url: /missing')"
            ),
            "GET /missing: HTTPError('404 Client Error: File not found for url: /missing')"
        );
    }

    #[test]
    fn exceptions_table() {
        let mut e = Exceptions::new();
        e.add("boom", "tb1", "a");
        e.add("other", "tb2", "a");
        e.add("boom", "tb1", "b");
        e.add("boom", "tb1", "a");
        assert_eq!(e.len(), 2);
        assert_eq!(e.rows()[0].count, 3);
        assert_eq!(e.rows()[0].nodes_joined(), "a, b");
        assert_eq!(e.rows()[1].msg, "other");
        e.clear();
        assert!(e.is_empty());
    }
}
