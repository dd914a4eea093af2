//! JSON text as Flask writes it: `jsonify` in debug mode (`sort_keys`, indent 2, `ensure_ascii`,
//! floats as `repr`, trailing newline), and Jinja's `tojson` form that is safe inside an HTML
//! `<script>` element. Both are [`report::json::PyJson`](crate::report::json::PyJson) settings.

use serde_json::Value;

use crate::report::json::PyJson;

/// Flask `jsonify` body: keys sorted, indent 2, non-ASCII escaped, ending in a newline.
pub fn jsonify(v: &Value) -> String {
    let mut out = PyJson {
        indent: Some(2),
        sort_keys: true,
        html_safe: false,
    }
    .dumps(v);
    out.push('\n');
    out
}

/// Compact JSON with sorted keys whose text cannot end a `<script>` element or open a comment:
/// `<`, `>`, `&` and `'` are written as `\uXXXX` (as Jinja's `tojson` does).
pub fn script_safe(v: &Value) -> String {
    PyJson {
        indent: None,
        sort_keys: true,
        html_safe: true,
    }
    .dumps(v)
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
            assert_eq!(crate::stats::pyfmt::float_repr(f), want, "{f}");
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
