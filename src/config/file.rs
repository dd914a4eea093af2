//! Config files in Locust's two formats: `key = value` lines (configargparse's format, used for
//! `~/.locust.conf`, `./locust.conf` and any `--config` file not ending in `.toml`) and the
//! `[tool.locust]` table of a TOML file (`./pyproject.toml`, or a `--config` file ending in
//! `.toml`). This module only turns text into (key, value) pairs; `load` checks the keys.

use std::path::Path;

/// A value as written in a config file, before any flag's parser sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfValue {
    Scalar(String),
    List(Vec<String>),
}

/// One `key = value` setting, with the line it came from (0 for TOML, where we do not track it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfEntry {
    pub key: String,
    pub value: ConfValue,
    pub line: usize,
    /// The value exactly as written (`key = value` files only), so a single-valued option
    /// can take `[::1]` literally.
    pub text: Option<String>,
}

/// Why a config file could not be read; `load` adds the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FileError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("invalid TOML: {0}")]
    Toml(String),
    #[error("[tool.locust] {0}")]
    TomlValue(String),
}

/// Which syntax a file uses: TOML for `*.toml`, the `key = value` format otherwise.
pub(crate) fn is_toml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// Parses `text` in the syntax `path` calls for.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Vec<ConfEntry>, FileError> {
    if is_toml(path) {
        parse_toml(text)
    } else {
        parse_conf(text)
    }
}

/// The `key = value` format: `#` and `;` start comments (at the start of a line, or after
/// whitespace), `[section]` lines are ignored, `key: value` and `key value` also work, a bare
/// `key` means `key = true`, surrounding quotes are removed and `[a, b]` is a list.
pub(crate) fn parse_conf(text: &str) -> Result<Vec<ConfEntry>, FileError> {
    let mut entries = Vec::new();
    for (idx, raw_line) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw_line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with(';')
            || line.starts_with('[')
            || line.starts_with("---")
        {
            continue;
        }
        let key_end = line
            .find(|c: char| c == '=' || c == ':' || c.is_whitespace())
            .unwrap_or(line.len());
        let key = &line[..key_end];
        if key.is_empty() {
            return Err(FileError::Syntax {
                line: line_no,
                message: format!("expected `key = value`, found {raw_line:?}"),
            });
        }
        let after_key = strip_inline_comment(&line[key_end..]).trim();
        let (has_separator, rest) = match after_key.strip_prefix(['=', ':']) {
            Some(after) => (true, after.trim_start()),
            None => (false, after_key),
        };
        let value = if rest.is_empty() && !has_separator {
            // A bare key switches a flag on.
            ConfValue::Scalar("true".to_string())
        } else if let Some(inner) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            parse_list(inner)
        } else {
            ConfValue::Scalar(unquote(rest).to_string())
        };
        entries.push(ConfEntry {
            key: key.to_string(),
            value,
            line: line_no,
            text: Some(unquote(rest).to_string()),
        });
    }
    Ok(entries)
}

/// The inside of `[a, 'b', "c"]`: comma-separated, trimmed, unquoted; `[]` is empty.
pub(crate) fn parse_list(inner: &str) -> ConfValue {
    ConfValue::List(
        inner
            .split(',')
            .map(|item| unquote(item.trim()).to_string())
            .filter(|item| !item.is_empty())
            .collect(),
    )
}

/// Removes a trailing ` # comment` or ` ; comment` (the marker must follow whitespace, so
/// `http://host/#frag` survives).
fn strip_inline_comment(s: &str) -> &str {
    let bytes = s.as_bytes();
    for i in 1..bytes.len() {
        if (bytes[i] == b'#' || bytes[i] == b';') && bytes[i - 1].is_ascii_whitespace() {
            return &s[..i];
        }
    }
    s
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

/// The `[tool.locust]` table of a TOML document; none when the table is absent. Lists stay
/// lists, every other value becomes its string form (as Locust does).
pub(crate) fn parse_toml(text: &str) -> Result<Vec<ConfEntry>, FileError> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| FileError::Toml(e.message().to_string()))?;
    let Some(section) = doc.get("tool").and_then(|t| t.get("locust")) else {
        return Ok(Vec::new());
    };
    let table = section
        .as_table()
        .ok_or_else(|| FileError::TomlValue("must be a table".to_string()))?;
    let mut entries = Vec::new();
    for (key, value) in table {
        let value = match value {
            toml::Value::Array(items) => ConfValue::List(
                items
                    .iter()
                    .map(|v| toml_scalar(key, v))
                    .collect::<Result<_, _>>()?,
            ),
            other => ConfValue::Scalar(toml_scalar(key, other)?),
        };
        entries.push(ConfEntry {
            key: key.clone(),
            value,
            line: 0,
            text: None,
        });
    }
    Ok(entries)
}

fn toml_scalar(key: &str, v: &toml::Value) -> Result<String, FileError> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            return Err(FileError::TomlValue(format!(
                "key '{key}': nested arrays and tables are not supported"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(s: &str) -> ConfValue {
        ConfValue::Scalar(s.to_string())
    }

    fn pairs(entries: Vec<ConfEntry>) -> Vec<(String, ConfValue)> {
        entries.into_iter().map(|e| (e.key, e.value)).collect()
    }

    #[test]
    fn conf_format() {
        let text = "\
# a comment
; another
[locust]
users = 9
spawn-rate=2
host: http://example.com/#frag
headless
run-time 1m   # inline comment
tags = [x, 'y', \"z z\"]
exclude-tags = []
csv = \"out/run\"
empty =
";
        let got = pairs(parse_conf(text).unwrap());
        assert_eq!(
            got,
            vec![
                ("users".into(), scalar("9")),
                ("spawn-rate".into(), scalar("2")),
                ("host".into(), scalar("http://example.com/#frag")),
                ("headless".into(), scalar("true")),
                ("run-time".into(), scalar("1m")),
                (
                    "tags".into(),
                    ConfValue::List(vec!["x".into(), "y".into(), "z z".into()])
                ),
                ("exclude-tags".into(), ConfValue::List(vec![])),
                ("csv".into(), scalar("out/run")),
                ("empty".into(), scalar("")),
            ]
        );
    }

    #[test]
    fn conf_lines_are_numbered() {
        let e = parse_conf("\n\nusers = 1\n").unwrap();
        assert_eq!(e[0].line, 3);
        assert!(matches!(
            parse_conf("= 3"),
            Err(FileError::Syntax { line: 1, .. })
        ));
    }

    #[test]
    fn toml_section() {
        let text = r#"
[project]
name = "x"

[tool.locust]
users = 5
spawn-rate = 1.5
headless = true
tags = ["a", "b"]
host = "http://h"
"#;
        // Keys are unique within a table, so their order does not matter.
        let mut got = pairs(parse_toml(text).unwrap());
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            vec![
                ("headless".into(), scalar("true")),
                ("host".into(), scalar("http://h")),
                ("spawn-rate".into(), scalar("1.5")),
                ("tags".into(), ConfValue::List(vec!["a".into(), "b".into()])),
                ("users".into(), scalar("5")),
            ]
        );
    }

    #[test]
    fn toml_without_section_is_empty_and_bad_toml_errors() {
        assert!(parse_toml("[project]\nname = 'x'\n").unwrap().is_empty());
        assert!(matches!(
            parse_toml("[tool.locust\n"),
            Err(FileError::Toml(_))
        ));
        assert!(matches!(
            parse_toml("[tool.locust]\nx = {a = 1}\n"),
            Err(FileError::TomlValue(_))
        ));
    }

    #[test]
    fn syntax_by_extension() {
        assert!(is_toml(Path::new("pyproject.toml")));
        assert!(!is_toml(Path::new("locust.conf")));
        // `users = 3` would be valid TOML, but a .conf file is read as key = value.
        assert_eq!(
            pairs(parse(Path::new("a.conf"), "users = 3").unwrap()),
            vec![("users".into(), scalar("3"))]
        );
    }
}
