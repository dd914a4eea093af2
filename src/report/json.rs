//! `--json` output: Python's `json.dumps(entries, indent=4)` byte for byte, and the
//! Python-compatible JSON writer behind it (floats as Python `repr`, `ensure_ascii`).

use serde_json::Value;

use crate::stats::pyfmt::float_repr;
use crate::stats::RequestStats;

/// The serialized entries that have requests or failures (no `Aggregated`, insertion order,
/// as the worker report Locust reuses for it) as `json.dumps(..., indent=4)`, without a
/// trailing newline. Unlike Locust, serializing does not reset the entries.
pub fn entries_json(stats: &RequestStats) -> String {
    let list: Vec<Value> = stats
        .entries_in_order()
        .iter()
        .filter(|e| e.num_requests > 0 || e.num_failures > 0)
        .map(|e| e.serialize().to_value())
        .collect();
    dumps(&Value::Array(list), Some(4))
}

/// How to write JSON the way a Python program would.
#[derive(Debug, Clone, Copy, Default)]
pub struct PyJson {
    /// `indent=`: items one per line, this many spaces a level; `None` is one line with `", "`.
    pub indent: Option<usize>,
    /// `sort_keys=True` (Flask's `jsonify`, Jinja's `tojson`).
    pub sort_keys: bool,
    /// Jinja's `tojson`: `<`, `>`, `&` and `'` as `\uXXXX`, so the text cannot close a `<script>`.
    pub html_safe: bool,
}

/// Python's `json.dumps(value, indent=indent)` (default separators, `ensure_ascii=True`,
/// keys in the value's order).
pub fn dumps(value: &Value, indent: Option<usize>) -> String {
    PyJson {
        indent,
        ..PyJson::default()
    }
    .dumps(value)
}

impl PyJson {
    pub fn dumps(self, value: &Value) -> String {
        let mut out = String::new();
        self.write_value(&mut out, value, 0);
        out
    }

    fn newline(self, out: &mut String, level: usize) {
        if let Some(n) = self.indent {
            out.push('\n');
            for _ in 0..n * level {
                out.push(' ');
            }
        }
    }

    fn write_value(self, out: &mut String, v: &Value, level: usize) {
        // With an indent Python separates items by "," (the newline follows); without, by ", ".
        let item_sep = if self.indent.is_some() { "," } else { ", " };
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    out.push_str(&i.to_string());
                } else if let Some(u) = n.as_u64() {
                    out.push_str(&u.to_string());
                } else if let Some(f) = n.as_f64() {
                    out.push_str(&float_json(f));
                }
            }
            Value::String(s) => self.write_str(out, s),
            Value::Array(items) => {
                if items.is_empty() {
                    out.push_str("[]");
                    return;
                }
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(item_sep);
                    }
                    self.newline(out, level + 1);
                    self.write_value(out, item, level + 1);
                }
                self.newline(out, level);
                out.push(']');
            }
            Value::Object(map) => {
                if map.is_empty() {
                    out.push_str("{}");
                    return;
                }
                let mut items: Vec<(&String, &Value)> = map.iter().collect();
                if self.sort_keys {
                    // Python sorts str keys by code point; Rust's str order (UTF-8 bytes) agrees.
                    items.sort_by(|a, b| a.0.cmp(b.0));
                }
                out.push('{');
                for (i, (k, item)) in items.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(item_sep);
                    }
                    self.newline(out, level + 1);
                    self.write_str(out, k);
                    out.push_str(": ");
                    self.write_value(out, item, level + 1);
                }
                self.newline(out, level);
                out.push('}');
            }
        }
    }

    fn write_str(self, out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' | '\'' if self.html_safe => {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                }
                ' '..='~' => out.push(c),
                c => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out.push('"');
    }
}

/// `float.__repr__`, with Python's spellings of the non-finite values.
fn float_json(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        float_repr(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testdata::{py_literal, sample};
    use crate::stats::SerializedEntry;

    #[test]
    fn sample_round_trips_byte_for_byte() {
        // Parse Locust's own --json output into entries and print it again.
        for f in [
            "json_stdout_sample.json",
            "json_stdout_sample2.json",
            "json_file_sample.json",
        ] {
            let text = sample(f);
            // Parsed exactly: serde_json without `float_roundtrip` can be off by an ulp.
            let v = py_literal(&text);
            let entries: Vec<SerializedEntry> = v
                .as_array()
                .expect("list")
                .iter()
                .map(|e| SerializedEntry::from_value(e).expect("entry"))
                .collect();
            let again: Vec<Value> = entries.iter().map(|e| e.to_value()).collect();
            assert_eq!(dumps(&Value::Array(again), Some(4)), text.trim_end(), "{f}");
        }
    }

    #[test]
    fn entries_json_from_a_table() {
        let mut s = RequestStats::new(1_795_808_290.0);
        s.log_request("GET", "/b", Some(12.5), 6, 1_795_808_290.5);
        s.log_request("GET", "/a", None, 0, 1_795_808_291.5);
        s.log_error("GET", "/a", "x", 1_795_808_291.5);
        let out = entries_json(&s);
        let v: Value = serde_json::from_str(&out).expect("parses");
        let list = v.as_array().expect("list");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["name"], "/b");
        assert_eq!(list[1]["min_response_time"], Value::Null);
        assert!(out.contains("\n        \"total_response_time\": 12.5,\n"));
        assert!(out.contains("\"total_response_time\": 0,"));
        assert!(out.contains("\"response_times\": {\n            \"12\": 1\n        },"));
        assert!(out.contains("\"response_times\": {},"));
        // Not reset by serializing.
        assert_eq!(s.get("/b", "GET").expect("entry").num_requests, 1);
        assert_eq!(entries_json(&RequestStats::new(0.0)), "[]");
        // Entries emptied by a reset are left out.
        s.reset_all(1_795_808_292.0);
        s.log_request("GET", "/a", Some(1.0), 0, 1_795_808_293.0);
        let v: Value = serde_json::from_str(&entries_json(&s)).expect("parses");
        assert_eq!(v.as_array().expect("list").len(), 1);
        assert_eq!(v[0]["name"], "/a");
    }

    #[test]
    fn python_string_escapes() {
        let v = serde_json::json!({"k": "a\"b\\c\nd\u{1}é😀\u{7f}"});
        assert_eq!(
            dumps(&v, None),
            r#"{"k": "a\"b\\c\nd\u0001\u00e9\ud83d\ude00\u007f"}"#
        );
        assert_eq!(
            dumps(&serde_json::json!([1, 2.0, null]), None),
            "[1, 2.0, null]"
        );
    }
}
