//! Text renderings of results: the summary each test prints, and the comprehensive run's
//! Markdown report. Everything is rendered from the tests' JSON, so what is printed is what
//! was written.

use serde_json::{Map, Value};

fn f(v: Option<&Value>) -> f64 {
    v.and_then(Value::as_f64).unwrap_or(0.0)
}

fn ms(v: Option<&Value>) -> String {
    format!("{:.1} ms", f(v) * 1000.0)
}

/// The README's figures of a test as a few lines.
pub fn figures_block(title: &str, json: &Map<String, Value>) -> String {
    format!(
        "== {title} ==\n\
         requests: {} total, {} ok, {} failed (success rate {:.3}%)\n\
         response time: avg {}, p50 {}, p95 {}, p99 {}, max {}\n\
         throughput: {:.2} req/s\n",
        f(json.get("total_requests")),
        f(json.get("successful_requests")),
        f(json.get("failed_requests")),
        f(json.get("success_rate")) * 100.0,
        ms(json.get("avg_response_time")),
        ms(json.get("p50_response_time")),
        ms(json.get("p95_response_time")),
        ms(json.get("p99_response_time")),
        ms(json.get("max_response_time")),
        f(json.get("requests_per_second")),
    )
}

/// Per-row figures as a Markdown table (which is also readable as text).
pub fn rows_table(rows: Option<&Value>) -> String {
    let Some(rows) = rows.and_then(Value::as_array).filter(|r| !r.is_empty()) else {
        return String::new();
    };
    let mut out = String::from(
        "| name | requests | failed | success | avg | p50 | p95 | p99 | req/s |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} {} | {} | {} | {:.2}% | {} | {} | {} | {} | {:.2} |\n",
            r["method"].as_str().unwrap_or(""),
            r["name"].as_str().unwrap_or(""),
            f(r.get("total_requests")),
            f(r.get("failed_requests")),
            f(r.get("success_rate")) * 100.0,
            ms(r.get("avg_response_time")),
            ms(r.get("p50_response_time")),
            ms(r.get("p95_response_time")),
            ms(r.get("p99_response_time")),
            f(r.get("requests_per_second")),
        ));
    }
    out
}

/// The open model's figures, when the test ran one.
pub fn open_block(open: Option<&Value>) -> String {
    let Some(o) = open.filter(|o| o.is_object()) else {
        return String::new();
    };
    format!(
        "open model: asked {:.2}/s, achieved {:.2}/s; scheduled {}, started {}, late {}, dropped {}\n\
         latency from the scheduled start (corrected): p50 {}, p95 {}, p99 {}; from the send: p95 {}\n",
        f(o.get("rate_asked")),
        f(o.get("rate_achieved")),
        f(o.get("scheduled")),
        f(o.get("started")),
        f(o.get("late")),
        f(o.get("dropped")),
        ms(o.get("corrected_p50")),
        ms(o.get("corrected_p95")),
        ms(o.get("corrected_p99")),
        ms(o.get("uncorrected_p95")),
    )
}

/// One line per check.
pub fn checks_block(checks: Option<&Value>) -> String {
    let Some(checks) = checks.and_then(Value::as_array).filter(|c| !c.is_empty()) else {
        return String::new();
    };
    let mut out = String::from("Checks:\n");
    for c in checks {
        let verdict = if c["passed"].as_bool() == Some(true) {
            "PASS"
        } else {
            "FAIL"
        };
        out.push_str(&format!(
            "  {verdict}  {}  {}\n",
            c["rule"].as_str().unwrap_or(""),
            c["reason"].as_str().unwrap_or(""),
        ));
    }
    out
}

/// The comprehensive run's Markdown report: one section per test.
pub fn comprehensive(json: &Map<String, Value>) -> String {
    let mut out = format!(
        "# skein bench: comprehensive\n\nTarget: {}  \nStarted: {}\n\n",
        json.get("target").and_then(Value::as_str).unwrap_or(""),
        json.get("started_at").and_then(Value::as_str).unwrap_or(""),
    );
    let Some(tests) = json.get("tests").and_then(Value::as_object) else {
        return out;
    };
    for (name, t) in tests {
        let Some(t) = t.as_object() else { continue };
        out.push_str(&format!("## {name}\n\n```\n"));
        out.push_str(&figures_block(name, t));
        out.push_str("```\n\n");
        out.push_str(&rows_table(t.get("endpoints")));
        out.push('\n');
        out.push_str(&extra_text(t));
        let checks = checks_block(t.get("checks"));
        if !checks.is_empty() {
            out.push_str(&format!("```\n{checks}```\n\n"));
        }
    }
    out
}

/// The lines of a test's own breakdown (stress steps, latency outliers, memory verdict).
pub fn extra_text(t: &Map<String, Value>) -> String {
    let mut out = String::new();
    if let Some(o) = t.get("open_model").filter(|o| o.is_object()) {
        out.push_str(&format!("```\n{}```\n\n", open_block(Some(o))));
    }
    if let Some(steps) = t.get("steps").and_then(Value::as_array) {
        out.push_str("| users | requests | req/s | p50 | p95 | p99 | error rate | meets targets |\n|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for s in steps {
            out.push_str(&format!(
                "| {} | {} | {:.1} | {} | {} | {} | {:.2}% | {} |\n",
                f(s.get("users")),
                f(s.get("total_requests")),
                f(s.get("requests_per_second")),
                ms(s.get("p50_response_time")),
                ms(s.get("p95_response_time")),
                ms(s.get("p99_response_time")),
                f(s.get("error_rate")) * 100.0,
                if s["meets_targets"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
            ));
        }
        out.push_str(&format!(
            "\nHighest concurrency meeting the targets: {}; degrades at: {}; throughput plateau at: {}\n\n",
            t["max_concurrency_meeting_targets"],
            t["degrades_at"],
            t["throughput_plateau_at"],
        ));
    }
    if let Some(o) = t.get("outliers").filter(|o| o.is_object()) {
        out.push_str(&format!(
            "Outliers (above Q3 + 1.5 IQR = {:.1} ms): {} of {}\n\n",
            f(o.get("threshold_ms")),
            f(o.get("count")),
            f(t.get("total_requests")),
        ));
    }
    if let Some(m) = t.get("memory").filter(|m| m.is_object()) {
        out.push_str(&format!(
            "Memory: {}\n\n",
            m["verdict_text"].as_str().unwrap_or("")
        ));
    }
    for n in t
        .get("notes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&format!("Note: {}\n\n", n.as_str().unwrap_or("")));
    }
    if let Some(c) = t.get("confidence").filter(|c| c.is_object()) {
        out.push_str(&format!(
            "Top-prediction probability: n={} mean={:.3} min={:.3} max={:.3}\n\n",
            f(c.get("count")),
            f(c.get("mean")),
            f(c.get("min")),
            f(c.get("max")),
        ));
    }
    out
}
