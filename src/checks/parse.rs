//! The rule parser: text to [`Check`], with an error naming what is wrong.

use std::fmt;

/// Upper-case HTTP methods that may start a rule's subject.
const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];

const METRICS_HELP: &str = "expected pN (p50, p95, p99.9…), avg, min, max, median, rps, \
fail-rate, error-rate, success-rate, requests or failures";

/// What a rule is about: the Aggregated row, or the request(s) it names.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    All,
    Request {
        /// Upper case; `None` matches any method.
        method: Option<String>,
        name: String,
    },
}

/// What is measured. Times are in ms, rates are ratios (0..1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A whole-run percentile, as a fraction (0.95 for `p95`).
    Percentile(f64),
    Avg,
    Min,
    Max,
    Median,
    /// Requests per second over the run (Locust's total RPS).
    Rps,
    FailRate,
    SuccessRate,
    Requests,
    Failures,
}

/// The kind of a metric's values, which decides the units a threshold may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Time,
    Rate,
    Throughput,
    Count,
}

impl Metric {
    pub(crate) fn kind(self) -> Kind {
        match self {
            Metric::Percentile(_) | Metric::Avg | Metric::Min | Metric::Max | Metric::Median => {
                Kind::Time
            }
            Metric::FailRate | Metric::SuccessRate => Kind::Rate,
            Metric::Rps => Kind::Throughput,
            Metric::Requests | Metric::Failures => Kind::Count,
        }
    }

    fn parse(token: &str) -> Result<Metric, CheckError> {
        let t = token.to_ascii_lowercase().replace('_', "-");
        let m = match t.as_str() {
            "avg" | "mean" | "average" => Metric::Avg,
            "min" => Metric::Min,
            "max" => Metric::Max,
            "median" => Metric::Median,
            "rps" => Metric::Rps,
            "fail-rate" | "error-rate" | "fail-ratio" | "failure-rate" | "error-ratio" => {
                Metric::FailRate
            }
            "success-rate" | "success-ratio" => Metric::SuccessRate,
            "requests" => Metric::Requests,
            "failures" => Metric::Failures,
            _ => {
                let Some(n) = t.strip_prefix('p').filter(|n| is_decimal(n)) else {
                    return Err(CheckError::UnknownMetric(token.to_string()));
                };
                let n: f64 = n
                    .parse()
                    .map_err(|_| CheckError::UnknownMetric(token.to_string()))?;
                if !(n > 0.0 && n <= 100.0) {
                    return Err(CheckError::BadPercentile(token.to_string()));
                }
                // Rounded so that `p99.9` is Locust's 0.999, not 0.9990000000000001.
                Metric::Percentile((n / 100.0 * 1e12).round() / 1e12)
            }
        };
        Ok(m)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Percentile(p) => write!(f, "p{}", super::eval::fmt_num(p * 100.0)),
            Metric::Avg => f.write_str("avg"),
            Metric::Min => f.write_str("min"),
            Metric::Max => f.write_str("max"),
            Metric::Median => f.write_str("median"),
            Metric::Rps => f.write_str("rps"),
            Metric::FailRate => f.write_str("fail-rate"),
            Metric::SuccessRate => f.write_str("success-rate"),
            Metric::Requests => f.write_str("requests"),
            Metric::Failures => f.write_str("failures"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    /// Whether `observed OP threshold` holds. Values equal to about 12 significant digits
    /// count as equal, so `0.1%` is exactly 1 failure in 1000 whatever the float rounding.
    pub fn holds(self, observed: f64, threshold: f64) -> bool {
        let scale = observed.abs().max(threshold.abs());
        let equal = (observed - threshold).abs() <= scale * 1e-12;
        match self {
            Op::Lt => observed < threshold && !equal,
            Op::Le => observed <= threshold || equal,
            Op::Gt => observed > threshold && !equal,
            Op::Ge => observed >= threshold || equal,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// The unit a threshold was written in (results show it the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    S,
    Percent,
    /// A rate written as a ratio (`0.001`).
    Ratio,
    /// Rps or a count.
    Number,
}

/// One parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The rule as written (trimmed).
    pub text: String,
    pub subject: Subject,
    pub metric: Metric,
    pub op: Op,
    /// In the metric's base unit: ms, a ratio, requests/s or a count.
    pub threshold: f64,
    pub unit: Unit,
}

/// What is wrong with a rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    #[error("the rule is empty")]
    Empty,
    #[error("no comparison: expected <, <=, > or >= (e.g. 'p95<500ms')")]
    NoOperator,
    #[error("'{0}' is not a comparison: expected <, <=, > or >=")]
    BadOperator(String),
    #[error("no metric before the comparison ({METRICS_HELP})")]
    NoMetric,
    #[error("unknown metric '{0}' ({METRICS_HELP})")]
    UnknownMetric(String),
    #[error("percentile '{0}' must be above p0 and at most p100")]
    BadPercentile(String),
    #[error("no threshold after the comparison")]
    NoThreshold,
    #[error("threshold '{0}' is not a number")]
    BadNumber(String),
    #[error("'{unit}' is not a unit for {metric}: {expected}")]
    BadUnit {
        unit: String,
        metric: String,
        expected: &'static str,
    },
    #[error("{metric} threshold {value} is not a ratio between 0 and 1; write {value}% for a percentage")]
    NotARatio { metric: String, value: String },
    #[error("{metric} threshold {value}% is above 100%")]
    AbovePercent { metric: String, value: String },
    #[error("'{0}' needs a request name after it (or leave the method out for all requests)")]
    MethodWithoutName(String),
}

/// A rule that did not parse, with the rule's text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid check '{rule}': {error}")]
pub struct InvalidRule {
    pub rule: String,
    pub error: CheckError,
}

impl Check {
    /// Parses one rule, e.g. `classify p95<500ms` or `error-rate<0.1%`.
    pub fn parse(rule: &str) -> Result<Check, CheckError> {
        let text = rule.trim();
        if text.is_empty() {
            return Err(CheckError::Empty);
        }
        let (at, op_len, op) = find_operator(text)?;
        let left = text[..at].trim();
        let right = text[at + op_len..].trim();
        let (subject_text, metric_text) = match left.rsplit_once(char::is_whitespace) {
            Some((s, m)) => (s.trim(), m),
            None => ("", left),
        };
        if metric_text.is_empty() {
            return Err(CheckError::NoMetric);
        }
        let metric = Metric::parse(metric_text)?;
        let subject = parse_subject(subject_text)?;
        let (threshold, unit) = parse_threshold(right, metric)?;
        Ok(Check {
            text: text.to_string(),
            subject,
            metric,
            op,
            threshold,
            unit,
        })
    }

    /// The threshold as written, normalised: `< 500 ms`, `>= 99.9 %`.
    pub fn threshold_text(&self) -> String {
        format!(
            "{} {}",
            self.op.as_str(),
            super::eval::fmt_value(self.threshold, self.metric, self.unit)
        )
    }
}

/// Several rules separated by `;` (empty pieces are skipped: a trailing `;` is fine).
pub fn parse_rules(text: &str) -> Result<Vec<Check>, InvalidRule> {
    text.split(';')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            Check::parse(r).map_err(|error| InvalidRule {
                rule: r.to_string(),
                error,
            })
        })
        .collect()
}

/// The first comparison operator: `(byte offset, length, op)`. `=`, `==` and `!=` are named
/// as wrong rather than taken for part of the subject or the threshold (a request name may
/// contain `=`, as in `/search?q=cat`, so only a rule without `<` or `>` is searched for them).
fn find_operator(text: &str) -> Result<(usize, usize, Op), CheckError> {
    let Some(at) = text.find(['<', '>']) else {
        return Err(match text.find(['=', '!']) {
            Some(at) => CheckError::BadOperator(operator_chars(&text[at..])),
            None => CheckError::NoOperator,
        });
    };
    let rest = &text[at..];
    let (len, op) = if rest.starts_with("<=") {
        (2, Op::Le)
    } else if rest.starts_with(">=") {
        (2, Op::Ge)
    } else if rest.starts_with('<') {
        (1, Op::Lt)
    } else {
        (1, Op::Gt)
    };
    // `p95<<500`, `p95<=>1`, `p95=<1`, `p95!>1`: no operator of ours.
    let before = text[..at].chars().next_back();
    if text[at + len..].starts_with(['<', '>', '=', '!']) || matches!(before, Some('=' | '!')) {
        let start = text[..at].trim_end_matches(['=', '!']).len();
        return Err(CheckError::BadOperator(operator_chars(&text[start..])));
    }
    Ok((at, len, op))
}

fn operator_chars(s: &str) -> String {
    s.chars().take_while(|c| "<>=!".contains(*c)).collect()
}

fn parse_subject(text: &str) -> Result<Subject, CheckError> {
    if text.is_empty() || text.eq_ignore_ascii_case("all") || text == crate::stats::AGGREGATED {
        return Ok(Subject::All);
    }
    let (first, rest) = match text.split_once(char::is_whitespace) {
        Some((f, r)) => (f, r.trim()),
        None => (text, ""),
    };
    if METHODS.contains(&first) {
        if rest.is_empty() {
            return Err(CheckError::MethodWithoutName(first.to_string()));
        }
        return Ok(Subject::Request {
            method: Some(first.to_string()),
            name: rest.to_string(),
        });
    }
    Ok(Subject::Request {
        method: None,
        name: text.to_string(),
    })
}

fn is_decimal(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_digit() || c == '.')
        && s.chars().filter(|c| *c == '.').count() <= 1
        && s.chars().any(|c| c.is_ascii_digit())
}

/// The threshold in the metric's base unit, and the unit it was written in.
fn parse_threshold(text: &str, metric: Metric) -> Result<(f64, Unit), CheckError> {
    if text.is_empty() {
        return Err(CheckError::NoThreshold);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim());
    if !is_decimal(number) {
        return Err(CheckError::BadNumber(text.to_string()));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| CheckError::BadNumber(text.to_string()))?;
    let bad_unit = |expected| CheckError::BadUnit {
        unit: unit.to_string(),
        metric: metric.to_string(),
        expected,
    };
    let unit_lc = unit.to_ascii_lowercase();
    match metric.kind() {
        Kind::Time => match unit_lc.as_str() {
            "" | "ms" => Ok((value, Unit::Ms)),
            "s" => Ok((value * 1000.0, Unit::S)),
            _ => Err(bad_unit("use ms or s (a plain number is ms)")),
        },
        Kind::Rate => match unit_lc.as_str() {
            "%" if value > 100.0 => Err(CheckError::AbovePercent {
                metric: metric.to_string(),
                value: number.to_string(),
            }),
            "%" => Ok((value / 100.0, Unit::Percent)),
            "" if value > 1.0 => Err(CheckError::NotARatio {
                metric: metric.to_string(),
                value: number.to_string(),
            }),
            "" => Ok((value, Unit::Ratio)),
            _ => Err(bad_unit("use % or a ratio between 0 and 1")),
        },
        Kind::Throughput => match unit_lc.as_str() {
            "" | "/s" => Ok((value, Unit::Number)),
            _ => Err(bad_unit("use a plain number of requests per second")),
        },
        Kind::Count => match unit_lc.as_str() {
            "" => Ok((value, Unit::Number)),
            _ => Err(bad_unit("use a plain number")),
        },
    }
}
