//! The open model's summary as text (the "Open model" block the final console summary prints
//! after Locust's tables) and as JSON (the `--json-file` companion file): the rate asked and
//! achieved, the iteration counts, and per request name the corrected (from the scheduled
//! start) and uncorrected (from the send, Locust's) latency percentiles. Locust's own outputs
//! are left exactly as they are.

use serde_json::{json, Value};

use crate::stats::{OpenEntry, OpenStats, LATE_THRESHOLD_MS};

/// The percentiles the block shows, corrected and uncorrected.
pub const OPEN_PERCENTILES: [f64; 3] = [0.5, 0.95, 0.99];

const TYPE_WIDTH: usize = 8;
const NAME_WIDTH: usize = 40;

/// The console block, ending with a blank line; `None` in a closed-model run.
pub fn summary(open: &OpenStats) -> Option<String> {
    let rate = open.rate_asked()?;
    let c = open.counts();
    let mut lines = vec![
        "Open model (latency from each iteration's scheduled start = corrected; from the send = Locust's)".to_string(),
        format!(
            "Rate: {} iterations/s asked, {:.2} achieved over {:.1} s",
            py_rate(rate),
            open.achieved_rate(),
            open.span()
        ),
        format!(
            "Iterations: {} scheduled, {} started, {} late (> {} ms), {} dropped",
            c.scheduled, c.started, c.late, LATE_THRESHOLD_MS, c.dropped
        ),
    ];
    let header = format!(
        "{:<TYPE_WIDTH$} {:<NAME_WIDTH$} {:>7} | {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9}",
        "Type", "Name", "# reqs", "p50 corr", "p95 corr", "p99 corr", "p50", "p95", "p99"
    );
    let sep = format!(
        "{}|{}|{}|{}|{}",
        "-".repeat(TYPE_WIDTH),
        "-".repeat(NAME_WIDTH + 1),
        "-".repeat(8),
        "-".repeat(31),
        "-".repeat(30)
    );
    lines.push(header);
    lines.push(sep.clone());
    for e in open.entries() {
        lines.push(row(e));
    }
    lines.push(sep);
    lines.push(row(open.total()));
    lines.push(String::new());
    Some(lines.join("\n") + "\n")
}

fn row(e: &OpenEntry) -> String {
    let p = |corrected: bool| -> Vec<String> {
        OPEN_PERCENTILES
            .iter()
            .map(|&q| {
                if e.num_requests == 0 {
                    "N/A".to_string()
                } else if corrected {
                    e.corrected_percentile(q).to_string()
                } else {
                    e.uncorrected_percentile(q).to_string()
                }
            })
            .collect()
    };
    let (c, u) = (p(true), p(false));
    format!(
        "{:<TYPE_WIDTH$} {:<NAME_WIDTH$} {:>7} | {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9}",
        e.method, e.name, e.num_requests, c[0], c[1], c[2], u[0], u[1], u[2]
    )
}

/// A rate as given: `20`, `2.5`.
fn py_rate(rate: f64) -> String {
    if rate.fract() == 0.0 && rate.abs() < 1e15 {
        format!("{}", rate as i64)
    } else {
        format!("{rate}")
    }
}

/// The summary as JSON (`<json-file>_open.json`); `None` in a closed-model run.
pub fn summary_json(open: &OpenStats) -> Option<Value> {
    let rate = open.rate_asked()?;
    let c = open.counts();
    let entry = |e: &OpenEntry| {
        let pct = |corrected: bool| -> Value {
            OPEN_PERCENTILES
                .iter()
                .map(|&q| {
                    let v = if corrected {
                        e.corrected_percentile(q)
                    } else {
                        e.uncorrected_percentile(q)
                    };
                    (format!("p{}", (q * 100.0).round() as i64), json!(v))
                })
                .collect::<serde_json::Map<String, Value>>()
                .into()
        };
        json!({
            "name": e.name,
            "method": e.method,
            "num_requests": e.num_requests,
            "avg_corrected_ms": e.avg_corrected(),
            "avg_response_time_ms": e.avg_uncorrected(),
            "corrected_ms": pct(true),
            "response_time_ms": pct(false),
        })
    };
    Some(json!({
        "arrival_rate": rate,
        "achieved_rate": open.achieved_rate(),
        "duration_s": open.span(),
        "late_threshold_ms": LATE_THRESHOLD_MS,
        "scheduled": c.scheduled,
        "started": c.started,
        "late": c.late,
        "dropped": c.dropped,
        "entries": open.entries().map(entry).collect::<Vec<_>>(),
        "total": entry(open.total()),
    }))
}

/// The HTML report's "Open model" section, from the data's `open_model` (see
/// [`summary_json`]), rendered on the server so it reads without JavaScript. Nothing in a
/// closed-model run.
pub fn html_section(args: &Value) -> String {
    let Some(o) = args.get("open_model").filter(|o| o.is_object()) else {
        return String::new();
    };
    let n = |v: &Value| v.as_f64().unwrap_or(0.0);
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    let mut out = String::from("<section id=\"section-open-model\"><h2>Open model</h2>\n");
    out.push_str(&format!(
        "<p id=\"report-open-rate\">Rate: {} iterations/s asked, {:.2} achieved over {:.1} s</p>\n",
        n(&o["arrival_rate"]),
        n(&o["achieved_rate"]),
        n(&o["duration_s"])
    ));
    out.push_str(&format!(
        "<p id=\"report-open-iterations\">Iterations: {} scheduled, {} started, {} late (&gt; {} ms), {} dropped</p>\n",
        u(&o["scheduled"]),
        u(&o["started"]),
        u(&o["late"]),
        n(&o["late_threshold_ms"]),
        u(&o["dropped"])
    ));
    out.push_str("<table id=\"report-open-table\"><thead><tr><th>Type</th><th>Name</th><th># reqs</th><th>p50 corr</th><th>p95 corr</th><th>p99 corr</th><th>p50</th><th>p95</th><th>p99</th></tr></thead><tbody>\n");
    let rows = o["entries"].as_array().into_iter().flatten();
    for e in rows.chain(std::iter::once(&o["total"])) {
        let p = |k: &str, q: &str| e[k][q].as_i64().map_or("N/A".into(), |x| x.to_string());
        let blank = e["num_requests"].as_u64().unwrap_or(0) == 0;
        let cell = |k: &str, q: &str| if blank { "N/A".to_string() } else { p(k, q) };
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(e["method"].as_str().unwrap_or("")),
            esc(e["name"].as_str().unwrap_or("")),
            u(&e["num_requests"]),
            cell("corrected_ms", "p50"),
            cell("corrected_ms", "p95"),
            cell("corrected_ms", "p99"),
            cell("response_time_ms", "p50"),
            cell("response_time_ms", "p95"),
            cell("response_time_ms", "p99"),
        ));
    }
    out.push_str("</tbody></table>\n<p>Corrected: from each iteration's scheduled start (coordinated omission corrected); the others: from the send (Locust's).</p>\n</section>\n");
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests;
