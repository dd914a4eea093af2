//! Locust's console tables: the periodic/final stats table, the percentile table and the
//! error report, each returned as text ending with the one blank line Locust prints after it.

use crate::stats::{RequestStats, StatsEntry, PERCENTILES_TO_REPORT};

use super::csv::percentile_label;

/// `STATS_NAME_WIDTH` without a terminal (`clamp(cols - 80, 0, 80)` with one).
pub const STATS_NAME_WIDTH: usize = 80;
const TYPE_WIDTH: usize = 8;

/// Python `%-Ns`: left-aligned, padded by characters, never truncated.
fn left(s: &str, w: usize) -> String {
    format!("{s:<w$}")
}

fn right(s: &str, w: usize) -> String {
    format!("{s:>w$}")
}

fn name_column(stats_name_width: usize) -> usize {
    (stats_name_width + 4).saturating_sub(TYPE_WIDTH)
}

/// The stats table with the default width (76-character name column).
pub fn stats_table(stats: &RequestStats, current: bool) -> String {
    stats_table_width(stats, current, STATS_NAME_WIDTH)
}

/// The stats table; `current` picks current RPS (periodic) over whole-run RPS (final).
pub fn stats_table_width(stats: &RequestStats, current: bool, stats_name_width: usize) -> String {
    let w = name_column(stats_name_width);
    let mut lines = vec![format!(
        "{} {} {} {} |{} {} {}{} | {} {}",
        left("Type", TYPE_WIDTH),
        left("Name", w),
        right("# reqs", 7),
        right("# fails", 12),
        right("Avg", 7),
        right("Min", 7),
        right("Max", 7),
        right("Med", 7),
        right("req/s", 7),
        right("failures/s", 11),
    )];
    let sep = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        "-".repeat(TYPE_WIDTH),
        "-".repeat(w),
        "-".repeat(7),
        "-".repeat(13),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(8),
        "-".repeat(11)
    );
    lines.push(sep.clone());
    for e in stats.entries() {
        lines.push(stats_line(stats, e, current, w));
    }
    lines.push(sep);
    lines.push(stats_line(stats, stats.total(), current, w));
    lines.push(String::new());
    lines.join("\n") + "\n"
}

fn stats_line(stats: &RequestStats, e: &StatsEntry, current: bool, w: usize) -> String {
    let span = stats.span();
    let (rps, fails) = if current {
        (
            e.current_rps(span).as_f64(),
            e.current_fail_per_sec(span).as_f64(),
        )
    } else {
        (e.total_rps(span), e.total_fail_per_sec(span))
    };
    let failures = format!("{}({:.2}%)", e.num_failures, e.fail_ratio() * 100.0);
    format!(
        "{} {} {:>7} {:>12} |{:>7} {:>7} {:>7}{:>7} | {:>7.2} {:>11.2}",
        left(&e.method, TYPE_WIDTH),
        left(&e.name, w),
        e.num_requests,
        failures,
        e.avg_response_time() as i64,
        e.min_or_zero().trunc(),
        e.max_response_time.trunc(),
        e.median_response_time().trunc(),
        rps,
        fails
    )
}

/// "Response time percentiles (approximated)" with the default width.
pub fn percentiles_table(stats: &RequestStats) -> String {
    percentiles_table_width(stats, STATS_NAME_WIDTH)
}

/// The percentile table: only entries with a histogram, then the total if it has one.
pub fn percentiles_table_width(stats: &RequestStats, stats_name_width: usize) -> String {
    let w = stats_name_width;
    let labels: Vec<String> = PERCENTILES_TO_REPORT
        .iter()
        .map(|p| percentile_label(*p))
        .collect();
    let mut header = format!(
        "{} {} {} ",
        left("Type", TYPE_WIDTH),
        left("Name", w),
        right(&labels[0], 8)
    );
    let mut rest: Vec<String> = labels[1..].iter().map(|l| right(l, 6)).collect();
    rest.push(right("# reqs", 6));
    header.push_str(&rest.join(" "));
    let mut sep = format!(
        "{}|{}|{}|",
        "-".repeat(TYPE_WIDTH),
        "-".repeat(w),
        "-".repeat(8)
    );
    sep.push_str(&format!("{}|", "-".repeat(6)).repeat(PERCENTILES_TO_REPORT.len()));
    sep.pop();
    let mut lines = vec![
        "Response time percentiles (approximated)".to_string(),
        header,
        sep.clone(),
    ];
    for e in stats.entries() {
        if !e.response_times.is_empty() {
            lines.push(percentile_line(e, w));
        }
    }
    lines.push(sep);
    if !stats.total().response_times.is_empty() {
        lines.push(percentile_line(stats.total(), w));
    }
    lines.push(String::new());
    lines.join("\n") + "\n"
}

fn percentile_line(e: &StatsEntry, w: usize) -> String {
    let values = e.percentiles(&PERCENTILES_TO_REPORT);
    let mut line = format!(
        "{} {} {:>8} ",
        left(&e.method, TYPE_WIDTH),
        left(&e.name, w),
        values[0]
    );
    let mut rest: Vec<String> = values[1..].iter().map(|v| format!("{v:>6}")).collect();
    rest.push(format!("{:>6}", e.num_requests));
    line.push_str(&rest.join(" "));
    line
}

/// Where the failures were recorded, which decides how Locust's report prints a scenario's
/// own failure message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorOrigin {
    /// A standalone run: Locust still holds the `CatchResponseError` and prints its message
    /// (`GET /x: custom failure text`).
    Local,
    /// A master merging workers' texts: Locust strips `CatchResponseError(…)` from the text
    /// and keeps the quotes (`GET /x: 'custom failure text'`).
    Workers,
}

/// The "Error report" of a standalone run with the default width; empty when there are no
/// errors (Locust prints nothing then).
pub fn error_report(stats: &RequestStats) -> String {
    error_report_width(stats, STATS_NAME_WIDTH, ErrorOrigin::Local)
}

pub fn error_report_width(
    stats: &RequestStats,
    stats_name_width: usize,
    origin: ErrorOrigin,
) -> String {
    let errors = stats.errors_in_order();
    if errors.is_empty() {
        return String::new();
    }
    let sep = format!(
        "{}|{}",
        "-".repeat(18),
        "-".repeat((80 + stats_name_width).saturating_sub(19))
    );
    let mut lines = vec![
        "Error report".to_string(),
        format!("{} {}", left("# occurrences", 18), left("Error", 100)),
        sep.clone(),
    ];
    for e in errors {
        let shown = match origin {
            ErrorOrigin::Workers => e.to_name(),
            ErrorOrigin::Local => local_error_name(&e.method, &e.name, &e.error),
        };
        lines.push(format!(
            "{} {}",
            left(&e.occurrences.to_string(), 18),
            left(&shown, 100)
        ));
    }
    lines.push(sep);
    lines.push(String::new());
    lines.join("\n") + "\n"
}

/// `{method} {name}: {message}` with a check's message unquoted (`args[0]` in Locust).
fn local_error_name(method: &str, name: &str, error: &str) -> String {
    let message = error
        .strip_prefix("CatchResponseError(")
        .and_then(|e| e.strip_suffix(')'))
        .and_then(pyliteral::unrepr);
    match message {
        Some(m) => format!("{method} {name}: {m}"),
        None => crate::stats::error_display(method, name, error),
    }
}

mod pyliteral;

#[cfg(test)]
mod tests;
