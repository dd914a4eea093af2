//! The evaluator: checks against a statistics table, and how results read (console, JSON).

use serde_json::{json, Value};

use super::parse::{Check, Kind, Metric, Subject, Unit};
use crate::stats::{RequestStats, StatsEntry, AGGREGATED};

/// Candidate names listed in an "unknown" or "ambiguous" reason.
const MAX_LISTED: usize = 6;

/// One check's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// The rule as written.
    pub rule: String,
    /// The row it was evaluated on (`POST /api/v1/classify`, `Aggregated`), or the subject as
    /// written when it matched no single row.
    pub subject: String,
    /// The metric's canonical name (`p95`, `fail-rate`).
    pub metric: String,
    /// In the metric's base unit (ms, ratio, requests/s, count); `None` when it could not be
    /// measured (unknown or ambiguous name, no requests).
    pub observed: Option<f64>,
    /// `120 ms`, `0.05 %`, `-` when not measured.
    pub observed_text: String,
    /// In the metric's base unit.
    pub threshold: f64,
    /// `< 500 ms`.
    pub threshold_text: String,
    pub passed: bool,
    /// Why it passed or failed: `120 ms < 500 ms`, `no request named 'x' (…)`.
    pub reason: String,
    /// When it was evaluated (epoch seconds).
    pub evaluated_at: f64,
}

/// Evaluates `checks` on `stats` at `now` (epoch seconds), in order.
pub fn evaluate(checks: &[Check], stats: &RequestStats, now: f64) -> Vec<CheckResult> {
    checks.iter().map(|c| evaluate_one(c, stats, now)).collect()
}

/// Whether any result failed.
pub fn failed(results: &[CheckResult]) -> bool {
    results.iter().any(|r| !r.passed)
}

fn evaluate_one(check: &Check, stats: &RequestStats, now: f64) -> CheckResult {
    let metric = check.metric.to_string();
    let threshold_text = check.threshold_text();
    let not_measured = |subject: String, reason: String| CheckResult {
        rule: check.text.clone(),
        subject,
        metric: metric.clone(),
        observed: None,
        observed_text: "-".to_string(),
        threshold: check.threshold,
        threshold_text: threshold_text.clone(),
        passed: false,
        reason,
        evaluated_at: now,
    };
    let entry = match resolve(&check.subject, stats) {
        Ok(e) => e,
        Err(reason) => return not_measured(subject_text(&check.subject), reason),
    };
    let subject = row_label(entry);
    let observed = match measure(check.metric, entry, stats) {
        Ok(v) => v,
        Err(reason) => return not_measured(subject, reason),
    };
    let passed = check.op.holds(observed, check.threshold);
    let observed_text = fmt_value(observed, check.metric, check.unit);
    let reason = if passed {
        format!("{observed_text} {threshold_text}")
    } else {
        format!("{observed_text} is not {threshold_text}")
    };
    CheckResult {
        rule: check.text.clone(),
        subject,
        metric,
        observed: Some(observed),
        observed_text,
        threshold: check.threshold,
        threshold_text,
        passed,
        reason,
        evaluated_at: now,
    }
}

fn subject_text(s: &Subject) -> String {
    match s {
        Subject::All => AGGREGATED.to_string(),
        Subject::Request {
            method: Some(m),
            name,
        } => format!("{m} {name}"),
        Subject::Request { method: None, name } => name.clone(),
    }
}

fn row_label(e: &StatsEntry) -> String {
    if e.method.is_empty() {
        e.name.clone()
    } else {
        format!("{} {}", e.method, e.name)
    }
}

/// Whether `name` is `wanted`, or ends with it as whole path segments (`classify` is the tail
/// of `/api/v1/classify`; a query string is not part of the path).
fn tail_matches(name: &str, wanted: &str) -> bool {
    let path = name.split_once('?').map_or(name, |(p, _)| p);
    [name, path].iter().any(|n| {
        n.strip_suffix(wanted)
            .is_some_and(|head| head.ends_with('/'))
    })
}

/// The one row a subject names, or why there is none.
fn resolve<'a>(subject: &Subject, stats: &'a RequestStats) -> Result<&'a StatsEntry, String> {
    let (method, name) = match subject {
        Subject::All => return Ok(stats.total()),
        Subject::Request { method, name } => (method.as_deref(), name.as_str()),
    };
    let entries = stats.entries();
    let of_method: Vec<&StatsEntry> = entries
        .iter()
        .copied()
        .filter(|e| method.is_none_or(|m| e.method == m))
        .collect();
    let exact: Vec<&StatsEntry> = of_method
        .iter()
        .copied()
        .filter(|e| e.name == name)
        .collect();
    let found = if !exact.is_empty() || name.starts_with('/') {
        exact
    } else {
        of_method
            .iter()
            .copied()
            .filter(|e| tail_matches(&e.name, name))
            .collect()
    };
    let label = match method {
        Some(m) => format!("{m} {name}"),
        None => name.to_string(),
    };
    match found.as_slice() {
        [one] => Ok(one),
        [] => {
            // Every row, not only the method's: `GET /x` is often a POST.
            let known: Vec<String> = entries.iter().map(|e| row_label(e)).collect();
            Err(if known.is_empty() {
                format!("no request named '{label}' (no requests recorded)")
            } else {
                format!("no request named '{label}' (known: {})", listing(&known))
            })
        }
        many => {
            let names: Vec<String> = many.iter().map(|e| row_label(e)).collect();
            let same_name = many.iter().all(|e| e.name == many[0].name);
            Err(if same_name {
                format!(
                    "'{label}' is requested with several methods ({}); put the method first, e.g. '{}'",
                    listing(&many.iter().map(|e| e.method.clone()).collect::<Vec<_>>()),
                    names[0]
                )
            } else {
                format!(
                    "'{label}' matches {} requests ({}); write the full name",
                    many.len(),
                    listing(&names)
                )
            })
        }
    }
}

fn listing(items: &[String]) -> String {
    let mut s = items
        .iter()
        .take(MAX_LISTED)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > MAX_LISTED {
        s.push_str(&format!(" and {} more", items.len() - MAX_LISTED));
    }
    s
}

/// The metric's value on `e`, in its base unit, or why it has none.
fn measure(metric: Metric, e: &StatsEntry, stats: &RequestStats) -> Result<f64, String> {
    match metric.kind() {
        Kind::Count => {}
        Kind::Time if e.num_timed() == 0 => {
            return Err(if e.num_requests == 0 {
                "no requests".to_string()
            } else {
                "no requests with a response time".to_string()
            })
        }
        _ if e.num_requests == 0 => return Err("no requests".to_string()),
        _ => {}
    }
    Ok(match metric {
        Metric::Percentile(p) => e.percentile(p) as f64,
        Metric::Avg => e.avg_response_time(),
        Metric::Min => e.min_response_time.map_or(0.0, |m| m.as_f64()),
        Metric::Max => e.max_response_time.as_f64(),
        Metric::Median => e.median_response_time().as_f64(),
        Metric::Rps => e.total_rps(stats.span()),
        Metric::FailRate => e.fail_ratio(),
        Metric::SuccessRate => (1.0 - e.fail_ratio()).max(0.0),
        Metric::Requests => e.num_requests as f64,
        Metric::Failures => e.num_failures as f64,
    })
}

/// A number for people: integers as such, otherwise 2 decimals from 1 up, 3 significant digits
/// below 1, trailing zeros dropped.
pub(crate) fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let decimals = if x.abs() >= 1.0 {
        2
    } else {
        (2 - x.abs().log10().floor() as i32).clamp(0, 12) as usize
    };
    let s = format!("{x:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// `value` (in the metric's base unit) as the threshold's unit writes it: times in ms (or s
/// for an `s` threshold), rates in % or as a ratio, rps as `req/s`.
pub(crate) fn fmt_value(value: f64, metric: Metric, unit: Unit) -> String {
    match (metric.kind(), unit) {
        (Kind::Time, Unit::S) => format!("{} s", fmt_num(value / 1000.0)),
        (Kind::Time, _) => format!("{} ms", fmt_num(value)),
        (Kind::Rate, Unit::Percent) => format!("{} %", fmt_num(value * 100.0)),
        (Kind::Rate, _) => fmt_num(value),
        (Kind::Throughput, _) => format!("{} req/s", fmt_num(value)),
        (Kind::Count, _) => fmt_num(value),
    }
}

/// The console's Checks block: a header with the count of failures, one line per check.
/// Empty without checks.
pub fn console_block(results: &[CheckResult]) -> String {
    if results.is_empty() {
        return String::new();
    }
    let failures = results.iter().filter(|r| !r.passed).count();
    let mut out = if failures == 0 {
        format!("Checks: all {} passed\n", results.len())
    } else {
        format!("Checks: {failures} of {} failed\n", results.len())
    };
    let width = results
        .iter()
        .map(|r| r.rule.chars().count())
        .max()
        .unwrap_or(0);
    for r in results {
        let status = if r.passed { "PASS" } else { "FAIL" };
        out.push_str(&format!(
            "  {status}  {:<width$}  {} ({})\n",
            r.rule, r.reason, r.subject
        ));
    }
    out
}

/// The results as a JSON array (for the report, the web UI and skein's summary file).
pub fn to_json(results: &[CheckResult]) -> Value {
    Value::Array(results.iter().map(CheckResult::to_json).collect())
}

impl CheckResult {
    pub fn to_json(&self) -> Value {
        let num = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
        json!({
            "rule": self.rule,
            "subject": self.subject,
            "metric": self.metric,
            "observed": self.observed.map_or(Value::Null, num),
            "observed_text": self.observed_text,
            "threshold": num(self.threshold),
            "threshold_text": self.threshold_text,
            "passed": self.passed,
            "status": if self.passed { "PASS" } else { "FAIL" },
            "reason": self.reason,
            "evaluated_at": num(self.evaluated_at),
        })
    }
}
