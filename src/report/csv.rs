//! Locust's CSV files as strings: `_stats.csv`, `_stats_history.csv` rows, `_failures.csv`
//! and `_exceptions.csv`, written the way Python's `csv` module (excel dialect) writes them.

use crate::stats::pyfmt::{float_repr, fmt_2f, py_round};
use crate::stats::{Exceptions, RequestStats, StatsEntry, PERCENTILES_TO_REPORT};

const STATS_HEADER: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s";
const HISTORY_HEADER: &str = "Timestamp,User Count,Type,Name,Requests/s,Failures/s";
const HISTORY_TOTALS: &str = "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size";
const FAILURES_HEADER: &str = "Method,Name,Error,Occurrences,First Seen,Last Seen";
const EXCEPTIONS_HEADER: &str = "Count,Message,Traceback,Nodes";

/// Appends one field, quoted only when it holds `,`, `"`, CR or LF (quotes doubled).
fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// One CSV record terminated by `\r\n`.
pub fn write_row<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    if fields.len() == 1 && fields[0].as_ref().is_empty() {
        // Python's csv quotes a lone empty field so the line is not blank.
        out.push_str("\"\"\r\n");
        return;
    }
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, f.as_ref());
    }
    out.push_str("\r\n");
}

/// `int(p*100)%` when whole, else `round(100*p, 6)%` (so `99.9%`, `99.99%`).
pub fn percentile_label(p: f64) -> String {
    let v = p * 100.0;
    if v == v.trunc() {
        format!("{}%", v as i64)
    } else {
        format!("{}%", float_repr(py_round(v, 6)))
    }
}

fn percentile_headers() -> String {
    PERCENTILES_TO_REPORT
        .iter()
        .map(|p| percentile_label(*p))
        .collect::<Vec<_>>()
        .join(",")
}

/// The `_stats.csv` header line (with `\r\n`).
pub fn stats_header() -> String {
    format!("{STATS_HEADER},{}\r\n", percentile_headers())
}

/// The `_stats_history.csv` header line (with `\r\n`).
pub fn history_header() -> String {
    format!(
        "{HISTORY_HEADER},{},{HISTORY_TOTALS}\r\n",
        percentile_headers()
    )
}

pub fn failures_header() -> String {
    format!("{FAILURES_HEADER}\r\n")
}

pub fn exceptions_header() -> String {
    format!("{EXCEPTIONS_HEADER}\r\n")
}

fn n_a() -> Vec<String> {
    vec!["N/A".to_string(); PERCENTILES_TO_REPORT.len()]
}

fn ints(v: Vec<i64>) -> Vec<String> {
    v.into_iter().map(|x| x.to_string()).collect()
}

fn stats_row(stats: &RequestStats, e: &StatsEntry) -> Vec<String> {
    let span = stats.span();
    let mut row = vec![
        e.method.clone(),
        e.name.clone(),
        e.num_requests.to_string(),
        e.num_failures.to_string(),
        e.median_response_time().to_string(),
        float_repr(e.avg_response_time()),
        e.min_or_zero().to_string(),
        e.max_response_time.to_string(),
        e.avg_content_length().to_string(),
        float_repr(e.total_rps(span)),
        float_repr(e.total_fail_per_sec(span)),
    ];
    if e.num_requests > 0 {
        row.extend(ints(e.percentiles(&PERCENTILES_TO_REPORT)));
    } else {
        row.extend(n_a());
    }
    row
}

/// The whole `_stats.csv` (header, sorted entries, then `Aggregated`).
pub fn stats_csv(stats: &RequestStats) -> String {
    let mut out = stats_header();
    for e in stats.entries() {
        write_row(&mut out, &stats_row(stats, e));
    }
    write_row(&mut out, &stats_row(stats, stats.total()));
    out
}

/// UTC `%Y-%m-%dT%H:%M:%SZ` of `int(ts)`, empty for `None` (Locust's time text in the failures
/// file, the report and the chart history).
pub fn utc(ts: Option<f64>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t as i64, 0))
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The whole `_failures.csv`, rows by error key.
pub fn failures_csv(stats: &RequestStats) -> String {
    let mut out = failures_header();
    for e in stats.errors() {
        write_row(
            &mut out,
            &[
                e.method.clone(),
                e.name.clone(),
                e.error.clone(),
                e.occurrences.to_string(),
                utc(e.first_seen),
                utc(e.last_seen),
            ],
        );
    }
    out
}

/// The whole `_exceptions.csv`, rows in insertion order.
pub fn exceptions_csv(exceptions: &Exceptions) -> String {
    let mut out = exceptions_header();
    for r in exceptions.rows() {
        write_row(
            &mut out,
            &[
                r.count.to_string(),
                r.msg.clone(),
                r.traceback.clone(),
                r.nodes_joined(),
            ],
        );
    }
    out
}

fn history_row(
    stats: &RequestStats,
    e: &StatsEntry,
    now: f64,
    user_count: u64,
    full_history: bool,
) -> Vec<String> {
    let span = stats.span();
    let mut row = vec![
        (now as i64).to_string(),
        user_count.to_string(),
        e.method.clone(),
        e.name.clone(),
        fmt_2f(e.current_rps(span).as_f64()),
        fmt_2f(e.current_fail_per_sec(span).as_f64()),
    ];
    if e.num_requests == 0 {
        row.extend(n_a());
    } else if full_history {
        // A missing window is `int(None or 0)`.
        let cur = e.current_percentiles(&PERCENTILES_TO_REPORT, now);
        row.extend(ints(
            cur.unwrap_or_else(|| vec![0; PERCENTILES_TO_REPORT.len()]),
        ));
    } else {
        row.extend(ints(e.percentiles(&PERCENTILES_TO_REPORT)));
    }
    row.extend([
        e.num_requests.to_string(),
        e.num_failures.to_string(),
        e.median_response_time().to_string(),
        float_repr(e.avg_response_time()),
        e.min_or_zero().to_string(),
        e.max_response_time.to_string(),
        e.avg_content_length().to_string(),
    ]);
    row
}

/// One tick of `_stats_history.csv`: only `Aggregated` with whole-run percentiles, or with
/// `full_history` every entry then `Aggregated`, all with 10 s window percentiles.
pub fn history_rows(stats: &RequestStats, now: f64, user_count: u64, full_history: bool) -> String {
    let mut out = String::new();
    if full_history {
        for e in stats.entries() {
            write_row(&mut out, &history_row(stats, e, now, user_count, true));
        }
    }
    write_row(
        &mut out,
        &history_row(stats, stats.total(), now, user_count, full_history),
    );
    out
}

#[cfg(test)]
mod tests;
