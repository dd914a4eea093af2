//! Pure parsing and validation of `POST /swarm` forms (SPEC §4.3), with Locust's messages.
//!
//! Fields are read in form order, as Locust does, so the first bad field decides the message.
//! A rejected form is still an HTTP 200 with `success: false` (the router builds that answer).

use std::collections::HashSet;
use std::time::Duration;

use super::SwarmRequest;

pub const MSG_MISSING: &str = "Missing or invalid user_count or spawn_rate from /swarm request";
pub const MSG_RUN_TIME: &str =
    "Valid run_time formats are : 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.";

/// The fields Locust reads with `form.items()` (first value only).
const SCALAR_FIELDS: &[&str] = &[
    "user_count",
    "spawn_rate",
    "host",
    "run_time",
    "profile",
    "shape_class",
];

/// Why a form was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmFormError {
    /// Locust's message for the `message` field of the answer.
    pub message: String,
    /// The host posted before the bad field, if any (Locust sets `environment.host` as it reads
    /// the field, so its error answer echoes it).
    pub host: Option<String>,
}

/// Decodes an `application/x-www-form-urlencoded` body into (name, value) pairs in order.
/// Invalid UTF-8 is replaced rather than rejected, like Werkzeug does.
pub fn parse_urlencoded(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Validates the fields of a `/swarm` form. With `class_picker` off, `user_classes` is ignored.
///
/// The fields are consumed in one pass (an iterator, so nothing can re-scan them): the work is
/// linear in the number of fields however often a name repeats.
pub fn parse_swarm_form<I>(fields: I, class_picker: bool) -> Result<SwarmRequest, SwarmFormError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut user_count: Option<u64> = None;
    let mut spawn_rate: Option<f64> = None;
    let mut host: Option<String> = None;
    let mut run_time: Option<Duration> = None;
    let mut user_classes: Option<()> = None;
    let mut classes: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut profile: Option<String> = None;
    let mut extra = Vec::new();
    let fail = |message: String, host: &Option<String>| SwarmFormError {
        message,
        host: host.clone(),
    };

    // Werkzeug's `form.items()` yields each name once, with its first value: a repeated
    // scalar field is decided by its first occurrence.
    let mut seen_keys: HashSet<String> = HashSet::new();
    for (key, value) in fields {
        let value = &value;
        let repeat = !seen_keys.insert(key.clone());
        if repeat && SCALAR_FIELDS.contains(&key.as_str()) {
            continue;
        }
        match key.as_str() {
            "user_count" => match parse_python_int(value) {
                Some(n) if n >= 0 => user_count = Some(n as u64),
                Some(_) => return Err(fail(MSG_MISSING.into(), &host)),
                None => {
                    return Err(fail(
                        format!("Invalid user_count value: '{value}' (must be an integer)"),
                        &host,
                    ))
                }
            },
            "spawn_rate" => match parse_python_float(value) {
                Some(r) if r.is_finite() && r > 0.0 => spawn_rate = Some(r),
                Some(_) => return Err(fail(MSG_MISSING.into(), &host)),
                None => {
                    return Err(fail(
                        format!("Invalid spawn_rate value: '{value}' (must be a number)"),
                        &host,
                    ))
                }
            },
            "host" => host = Some(value.replace(['<', '>'], "")),
            "user_classes" => {
                // Locust reads the whole repeated field (`getlist`) at its first occurrence; the
                // list is gathered in the same pass (not re-scanned per occurrence, which made
                // 10,000 fields quadratic) and duplicates are dropped, first occurrence first.
                if class_picker {
                    if !seen.contains(value) {
                        seen.insert(value.clone());
                        classes.push(value.clone());
                    }
                    user_classes = Some(());
                }
            }
            "run_time" => {
                if value.is_empty() {
                    continue;
                }
                match crate::config::parse_timespan(value)
                    .ok()
                    .map(|d| d.as_secs())
                {
                    Some(secs) => run_time = Some(Duration::from_secs(secs)),
                    None => return Err(fail(MSG_RUN_TIME.into(), &host)),
                }
            }
            "profile" => {
                profile = if value.is_empty() {
                    None
                } else {
                    Some(value.clone())
                }
            }
            "shape_class" => {}
            _ => extra.push((key.clone(), value.clone())),
        }
    }

    match (user_count, spawn_rate) {
        (Some(user_count), Some(spawn_rate)) => Ok(SwarmRequest {
            user_count,
            spawn_rate,
            host,
            run_time,
            user_classes: user_classes.map(|()| classes).filter(|v| !v.is_empty()),
            profile,
            extra,
        }),
        _ => Err(fail(MSG_MISSING.into(), &host)),
    }
}

/// Python `int(str)`: surrounding whitespace, an optional sign, digits with single underscores
/// between them.
fn parse_python_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let cleaned = strip_digit_underscores(digits)?;
    if cleaned.is_empty() || !cleaned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Values beyond i64 are valid Python ints but not sensible user counts: treat as invalid.
    let n: i64 = cleaned.parse().ok()?;
    Some(if neg { -n } else { n })
}

/// Python `float(str)`: whitespace, sign, decimal/exponent forms, `inf`/`infinity`/`nan`
/// (any case), underscores between digits.
fn parse_python_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return t.parse::<f64>().ok().or(Some(f64::NAN));
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'))
    {
        return None;
    }
    let cleaned = strip_digit_underscores(t)?;
    cleaned.parse::<f64>().ok()
}

/// Removes underscores that sit between two digits; any other underscore makes it invalid.
fn strip_digit_underscores(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let ok =
                i > 0 && i + 1 < b.len() && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit();
            if !ok {
                return None;
            }
        } else {
            out.push(c as char);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> Vec<(String, String)> {
        parse_urlencoded(s.as_bytes())
    }

    #[test]
    fn valid_form() {
        let r = parse_swarm_form(
            form("user_count=10&spawn_rate=2.5&host=http%3A%2F%2Fx%3Cy%3E&run_time=1h2m3s&foo=bar"),
            false,
        )
        .unwrap();
        assert_eq!(r.user_count, 10);
        assert_eq!(r.spawn_rate, 2.5);
        assert_eq!(r.host.as_deref(), Some("http://xy"));
        assert_eq!(r.run_time, Some(Duration::from_secs(3723)));
        assert_eq!(r.extra, vec![("foo".to_string(), "bar".to_string())]);
        assert_eq!(r.user_classes, None);
    }

    #[test]
    fn empty_run_time_is_ignored_and_python_numbers_accepted() {
        let r = parse_swarm_form(
            form("user_count=+1_0&spawn_rate=%201e1%20&run_time="),
            false,
        )
        .unwrap();
        assert_eq!(r.user_count, 10);
        assert_eq!(r.spawn_rate, 10.0);
        assert_eq!(r.run_time, None);
    }

    #[test]
    fn invalid_inputs_give_locust_messages() {
        let cases: &[(&str, &str)] = &[
            ("", MSG_MISSING),
            ("user_count=5", MSG_MISSING),
            ("spawn_rate=1", MSG_MISSING),
            (
                "user_count=x&spawn_rate=1",
                "Invalid user_count value: 'x' (must be an integer)",
            ),
            (
                "user_count=1.5&spawn_rate=1",
                "Invalid user_count value: '1.5' (must be an integer)",
            ),
            (
                "user_count=1&spawn_rate=abc",
                "Invalid spawn_rate value: 'abc' (must be a number)",
            ),
            ("user_count=-1&spawn_rate=1", MSG_MISSING),
            ("user_count=1&spawn_rate=0", MSG_MISSING),
            ("user_count=1&spawn_rate=-2", MSG_MISSING),
            ("user_count=1&spawn_rate=inf", MSG_MISSING),
            ("user_count=1&spawn_rate=nan", MSG_MISSING),
            ("user_count=1&spawn_rate=1&run_time=5x", MSG_RUN_TIME),
            ("user_count=1&spawn_rate=1&run_time=1h%20", MSG_RUN_TIME),
            (
                "user_count=1&spawn_rate=1&run_time=99999999999999999999",
                MSG_RUN_TIME,
            ),
        ];
        for (body, want) in cases {
            let err = parse_swarm_form(form(body), false).unwrap_err();
            assert_eq!(err.message, *want, "body {body:?}");
        }
    }

    #[test]
    fn error_echoes_host_read_before_the_bad_field() {
        let err = parse_swarm_form(form("host=h1&user_count=x"), false).unwrap_err();
        assert_eq!(err.host.as_deref(), Some("h1"));
        let err = parse_swarm_form(form("user_count=x&host=h1"), false).unwrap_err();
        assert_eq!(err.host, None);
    }

    #[test]
    fn class_picker() {
        let f = form("user_count=1&spawn_rate=1&user_classes=B&user_classes=A");
        assert_eq!(
            parse_swarm_form(f.clone(), false).unwrap().user_classes,
            None
        );
        assert_eq!(
            parse_swarm_form(f.clone(), true).unwrap().user_classes,
            Some(vec!["B".to_string(), "A".to_string()])
        );
    }

    /// Hands out fields and counts how many were taken.
    struct Counting<'a> {
        inner: std::vec::IntoIter<(String, String)>,
        taken: &'a std::cell::Cell<usize>,
    }

    impl Iterator for Counting<'_> {
        type Item = (String, String);
        fn next(&mut self) -> Option<Self::Item> {
            let item = self.inner.next()?;
            self.taken.set(self.taken.get() + 1);
            Some(item)
        }
    }

    #[test]
    fn repeated_classes_are_collapsed_in_one_pass() {
        let mut body = String::from("user_count=1&spawn_rate=1");
        for i in 0..10_000 {
            body.push_str(if i % 2 == 0 {
                "&user_classes=A"
            } else {
                "&user_classes=B"
            });
        }
        body.push_str("&user_classes=A&user_classes=C");
        let fields = form(&body);
        let n = fields.len();
        let taken = std::cell::Cell::new(0);
        let it = Counting {
            inner: fields.into_iter(),
            taken: &taken,
        };
        let r = parse_swarm_form(it, true).unwrap();
        // One pass: every field is taken exactly once, none twice.
        assert_eq!(taken.get(), n);
        assert_eq!(
            r.user_classes,
            Some(vec!["A".to_string(), "B".to_string(), "C".to_string()])
        );
    }

    #[test]
    fn a_repeated_scalar_field_keeps_its_first_value() {
        let r = parse_swarm_form(form("user_count=3&spawn_rate=1&user_count=x"), false).unwrap();
        assert_eq!(r.user_count, 3);
    }

    fn parse_timespan(s: &str) -> Option<u64> {
        crate::config::parse_timespan(s).ok().map(|d| d.as_secs())
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("20"), Some(20));
        assert_eq!(parse_timespan("20s"), Some(20));
        assert_eq!(parse_timespan("3m"), Some(180));
        assert_eq!(parse_timespan("2h"), Some(7200));
        assert_eq!(parse_timespan("1h20m"), Some(4800));
        assert_eq!(parse_timespan("3h30m10s"), Some(12610));
        assert_eq!(parse_timespan("1m1h"), None);
        assert_eq!(parse_timespan("h"), None);
        assert_eq!(parse_timespan(""), None);
        assert_eq!(parse_timespan("-5"), None);
    }
}
