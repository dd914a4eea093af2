//! Locust's time span syntax (`20`, `20s`, `3m`, `2h`, `1h20m`, `3h30m10s`), shared by the
//! command line (`-t`, `-s`) and the web API's `run_time` form field.
//!
//! Locust matches its pattern only at the start of the string, so it silently reads `1m20h`
//! as one minute; we require the whole string to match instead, which rejects such typos.

use std::time::Duration;

/// The message Locust's web API answers for a bad `run_time`; we use it everywhere.
pub const TIMESPAN_FORMATS: &str =
    "Valid run_time formats are : 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.";

/// What Locust's argparse type says for a bad `-t`/`-s` value (after `argument -t/--run-time: `).
pub const CLI_TIMESPAN_INVALID: &str =
    "Invalid time span format. Valid formats: 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.";

/// A time span that does not follow the `[Nh][Nm][Ns]` or plain-seconds syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{TIMESPAN_FORMATS}")]
pub struct TimespanError;

/// Parses a time span into a whole number of seconds.
///
/// Accepts plain seconds (`20`) or any non-empty subsequence of `<N>h`, `<N>m`, `<N>s` in
/// that order (`3h30m10s`, `1h20m`, `90s`). Components may exceed their natural range
/// (`90m` is 5400 s), as in Locust.
pub fn parse_timespan(s: &str) -> Result<Duration, TimespanError> {
    if s.is_empty() {
        return Err(TimespanError);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| TimespanError);
    }
    // Units must appear in this order, each at most once.
    const UNITS: [(u8, u64); 3] = [(b'h', 3600), (b'm', 60), (b's', 1)];
    let bytes = s.as_bytes();
    let mut pos = 0;
    let mut next_unit = 0;
    let mut total: u64 = 0;
    while pos < bytes.len() {
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == start || pos == bytes.len() {
            // A unit without digits, or digits without a unit after a unit.
            return Err(TimespanError);
        }
        let number: u64 = s[start..pos].parse().map_err(|_| TimespanError)?;
        let unit = bytes[pos];
        let idx = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or(TimespanError)?
            + next_unit;
        total = number
            .checked_mul(UNITS[idx].1)
            .and_then(|v| total.checked_add(v))
            .ok_or(TimespanError)?;
        next_unit = idx + 1;
        pos += 1;
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> Option<u64> {
        parse_timespan(s).ok().map(|d| d.as_secs())
    }

    #[test]
    fn accepts_locust_formats() {
        assert_eq!(secs("20"), Some(20));
        assert_eq!(secs("0"), Some(0));
        assert_eq!(secs("20s"), Some(20));
        assert_eq!(secs("3m"), Some(180));
        assert_eq!(secs("2h"), Some(7200));
        assert_eq!(secs("1h20m"), Some(4800));
        assert_eq!(secs("3h30m10s"), Some(12610));
        assert_eq!(secs("1h3m7s"), Some(3787));
        assert_eq!(secs("1h7s"), Some(3607));
        assert_eq!(secs("90m"), Some(5400));
        assert_eq!(secs("007s"), Some(7));
    }

    #[test]
    fn rejects_bad_spans() {
        for bad in [
            "",
            "abc",
            "q",
            "1m20h",
            "1s1m",
            "1h1h",
            "h",
            "1x",
            "1h2",
            "-1",
            "1.5s",
            " 1s",
            "1s ",
            "1H",
            "m5",
            "99999999999999999999",
            "9999999999999999999h",
        ] {
            assert_eq!(
                parse_timespan(bad),
                Err(TimespanError),
                "{bad:?} must be rejected"
            );
        }
    }

    #[test]
    fn error_names_the_valid_formats() {
        let msg = parse_timespan("abc").unwrap_err().to_string();
        assert_eq!(
            msg,
            "Valid run_time formats are : 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc."
        );
    }
}
