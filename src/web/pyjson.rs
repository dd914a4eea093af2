//! JSON text as Python writes it: Flask's `jsonify` in debug mode (`sort_keys`, indent 2,
//! `ensure_ascii`, floats as `repr`, trailing newline), and a compact form that is safe to embed
//! inside an HTML `<script>` element.

use serde_json::Value;

/// Flask `jsonify` body: keys sorted, indent 2, non-ASCII escaped, ending in a newline.
pub fn jsonify(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, Some(2), 0, false);
    out.push('\n');
    out
}

/// Compact JSON with sorted keys whose text cannot end a `<script>` element or open a comment:
/// `<`, `>`, `&`, `'` and U+2028/U+2029 are written as `\uXXXX` (as Jinja's `tojson` does).
pub fn script_safe(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, None, 0, true);
    out
}

fn write_value(out: &mut String, v: &Value, indent: Option<usize>, level: usize, html_safe: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(f) = n.as_f64() {
                out.push_str(&python_float_repr(f));
            } else {
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_str(out, s, html_safe),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    if indent.is_none() {
                        out.push(' ');
                    }
                }
                newline(out, indent, level + 1);
                write_value(out, item, indent, level + 1, html_safe);
            }
            newline(out, indent, level);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            let mut keys: Vec<&String> = map.keys().collect();
            // Python sorts str keys by code point; Rust's str ordering (UTF-8 bytes) agrees.
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    if indent.is_none() {
                        out.push(' ');
                    }
                }
                newline(out, indent, level + 1);
                write_str(out, k, html_safe);
                out.push_str(": ");
                if let Some(item) = map.get(*k) {
                    write_value(out, item, indent, level + 1, html_safe);
                }
            }
            newline(out, indent, level);
            out.push('}');
        }
    }
}

fn newline(out: &mut String, indent: Option<usize>, level: usize) {
    if let Some(n) = indent {
        out.push('\n');
        for _ in 0..n * level {
            out.push(' ');
        }
    }
}

fn write_str(out: &mut String, s: &str, html_safe: bool) {
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
            '<' | '>' | '&' | '\'' if html_safe => push_u16(out, c as u16),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    push_u16(out, *unit);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_u16(out: &mut String, unit: u16) {
    out.push_str(&format!("\\u{unit:04x}"));
}

/// Python's `repr(float)`: shortest round-trip digits, positional for 1e-4 <= |x| < 1e16,
/// otherwise `d.ddde±XX`; always has a `.` or an exponent.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "1.2345e-5".
    let sci = format!("{:e}", f);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => return sci,
    };
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // position of the decimal point within `digits`
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mant = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{esign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (0.0, "0.0"),
            (6.0, "6.0"),
            (4.267665935252654, "4.267665935252654"),
            (1e-05, "1e-05"),
            (1e16, "1e+16"),
            (0.0001, "0.0001"),
            (123456789012345.6, "123456789012345.6"),
            (1.5e300, "1.5e+300"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (1795808007.2, "1795808007.2"),
        ];
        for (f, want) in cases {
            assert_eq!(python_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn jsonify_sorts_indents_and_ends_in_newline() {
        let v = json!({"success": true, "message": "Test stopped"});
        assert_eq!(
            jsonify(&v),
            "{\n  \"message\": \"Test stopped\",\n  \"success\": true\n}\n"
        );
        let v = json!({"b": [1, 2.0, {"z": null, "a": []}], "a": {}});
        assert_eq!(
            jsonify(&v),
            "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2.0,\n    {\n      \"a\": [],\n      \"z\": null\n    }\n  ]\n}\n"
        );
    }

    #[test]
    fn ascii_escapes() {
        let v = json!("é\u{1F600}\u{1}\"/");
        assert_eq!(jsonify(&v), "\"\\u00e9\\ud83d\\ude00\\u0001\\\"/\"\n");
    }

    #[test]
    fn script_safe_cannot_close_script() {
        let v = json!({"x": "</script><!--&'"});
        let s = script_safe(&v);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&') && !s.contains('\''));
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }
}
