//! The page's and the HTML report's data (SPEC §3.8, §4.4) and the ratio trees of `/tasks`,
//! as pure functions of a statistics view and a run status.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::checks::CheckResult;
use crate::control::RunStatus;
use crate::engine::{ClassPlan, RunState, StatsView};
use crate::stats::{HistoryPoint, StatsEntry};

/// Percentiles of the HTML report's response-time table (Locust's report uses these).
const REPORT_PERCENTILES: [f64; 8] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0];

/// `/tasks` and the report's ratio tree, as Locust's `get_ratio`: each class's share of the
/// users in `counts` (all zero before any user runs: Locust divides by `sum or 1`), task ratios
/// within each class, and in `total` those times the class's share.
pub fn task_ratios(classes: &[Arc<ClassPlan>], counts: &BTreeMap<String, u64>) -> Value {
    let running = counts.values().sum::<u64>().max(1);
    let rows: Vec<super::web::ClassTasks> = classes
        .iter()
        .map(|c| {
            let ratio = counts.get(&c.name).copied().unwrap_or(0) as f64 / running as f64;
            (c.name.clone(), ratio, c.task_ratios())
        })
        .collect();
    super::web::tasks(&rows)
}

/// The report's "Final ratio": the counts the run had before it stopped (Locust's
/// `final_user_classes_count`), or the running counts while it runs. Only the classes that ran
/// are listed when any did (Locust lists the classes of the run, not every class it knows).
fn final_ratios(classes: &[Arc<ClassPlan>], status: &RunStatus) -> Value {
    let status = &status.runner;
    let counts = match status.state {
        RunState::Stopped | RunState::Stopping => &status.final_class_counts,
        _ => &status.class_counts,
    };
    let ran: Vec<Arc<ClassPlan>> = classes
        .iter()
        .filter(|c| counts.get(&c.name).is_some_and(|n| *n > 0))
        .cloned()
        .collect();
    task_ratios(if ran.is_empty() { classes } else { &ran }, counts)
}

fn utc(ts: f64) -> String {
    super::csv::utc(Some(ts))
}

/// Locust's history items: every series as `[time, value]` pairs with UTC text times.
pub fn history_json(history: &[HistoryPoint]) -> Value {
    Value::Array(
        history
            .iter()
            .map(|p| {
                let t = utc(p.time);
                json!({
                    "time": t,
                    "current_rps": [t, p.current_rps],
                    "current_fail_per_sec": [t, p.current_fail_per_sec],
                    "response_time_percentile_0.5": [t, p.p50],
                    "response_time_percentile_0.95": [t, p.p95],
                    "total_avg_response_time": [t, (p.total_avg_response_time * 100.0).round() / 100.0],
                    "user_count": [t, p.user_count],
                })
            })
            .collect(),
    )
}

/// "14 seconds", "1 minute and 2 seconds", as Locust's report words a duration.
pub fn duration_words(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let unit = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(unit(h, "hour"));
    }
    if m > 0 {
        parts.push(unit(m, "minute"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(unit(s, "second"));
    }
    match parts.len() {
        1 => parts.remove(0),
        _ => {
            let last = parts.pop().unwrap_or_default();
            format!("{} and {last}", parts.join(", "))
        }
    }
}

fn percentile_row(e: &StatsEntry) -> Value {
    let mut row = Map::new();
    for p in REPORT_PERCENTILES {
        let key = if p == 1.0 {
            "1.0".to_string()
        } else {
            format!("{p}")
        };
        let v = if e.num_requests == 0 {
            Value::from(0)
        } else {
            Value::from(e.percentile(p))
        };
        row.insert(key, v);
    }
    row.insert("method".into(), Value::from(e.method.clone()));
    row.insert("name".into(), Value::from(e.name.clone()));
    Value::Object(row)
}

/// The data of the HTML report (SPEC §3.8), with skein's `workers_membership` and `checks`.
pub fn report_args(
    snap: &StatsView<'_>,
    status: &RunStatus,
    classes: &[Arc<ClassPlan>],
    host: Option<&str>,
    checks: &[CheckResult],
) -> Value {
    let stats = &snap.stats;
    let total = stats.total();
    let start = total.start_time;
    let end = total.last_request_timestamp.unwrap_or(start).max(start);
    let mut requests: Vec<Value> = stats
        .entries()
        .into_iter()
        .map(|e| super::web::entry_dict(stats, e))
        .collect();
    requests.push(super::web::entry_dict(stats, total));
    let mut percentiles: Vec<Value> = stats
        .entries()
        .into_iter()
        .filter(|e| e.num_requests > 0)
        .map(percentile_row)
        .collect();
    percentiles.push(percentile_row(total));
    let failures: Vec<Value> = stats
        .errors()
        .into_iter()
        .map(|e| {
            json!({
                "error": e.error, "method": e.method, "name": e.name, "occurrences": e.occurrences,
                "first_seen": e.first_seen.map(utc), "last_seen": e.last_seen.map(utc),
            })
        })
        .collect();
    let exceptions = super::web::exceptions(snap.exceptions)["exceptions"].clone();
    let mut history = history_json(snap.history);
    // Locust adds a last point at the end time when the last sample is older.
    if snap
        .history
        .last()
        .is_none_or(|p| p.time.floor() < end.floor())
        && total.num_requests > 0
    {
        let last = HistoryPoint::sample(stats, end, status.runner.user_count);
        if let (Value::Array(items), Value::Array(extra)) = (&mut history, history_json(&[last])) {
            items.extend(extra);
        }
    }
    json!({
        "duration": duration_words((end - start).max(0.0).round() as u64),
        "start_time": utc(start),
        "end_time": utc(end),
        "host": host,
        "locustfile": "skein",
        "is_report": true,
        "percentiles_to_chart": [0.5, 0.95],
        "profile": Value::Null,
        "requests_statistics": requests,
        "response_time_statistics": percentiles,
        "failures_statistics": failures,
        "exceptions_statistics": exceptions,
        "history": history,
        "tasks": final_ratios(classes, status),
        // skein's own key: a master's membership changes (empty in a standalone run).
        "workers_membership": status.membership.iter().map(|m| json!({
            "time": utc(m.time), "worker": m.worker, "index": m.index, "change": m.change,
        })).collect::<Vec<_>>(),
        // skein's own key: the open model's summary (null in a closed-model run).
        "open_model": super::open::summary_json(snap.open),
        // skein's own key: the `--check` results (empty without checks).
        "checks": crate::checks::to_json(checks),
        // The header shows the most users the run had at once, not the count after the stop.
        "user_count": status.runner.peak_user_count.max(status.runner.user_count),
        "show_download_link": false,
    })
}

/// skein's own keys of the report's data: the generator's health (`generator`, with its
/// per-second series for the chart) and the run's verdict (`verdict`).
pub fn add_health(
    args: &mut Value,
    summary: &crate::health::HealthSummary,
    verdict: &crate::health::Verdict,
) {
    if let Value::Object(m) = args {
        m.insert("generator".into(), summary.to_json());
        m.insert("verdict".into(), verdict.to_json());
    }
}

/// `/stats/requests`' `workers` rows.
pub fn worker_rows(status: &RunStatus) -> Option<Vec<super::web::WorkerRow>> {
    status.is_distributed.then(|| {
        status
            .workers
            .iter()
            .map(|w| super::web::WorkerRow {
                id: w.id.clone(),
                state: w.state.clone(),
                user_count: w.user_count,
                cpu_usage: w.cpu_percent,
                memory_usage: w.memory_bytes,
            })
            .collect()
    })
}

/// The page's defaults and files, as the index template shows them.
#[derive(Debug, Clone, Default)]
pub struct PageDefaults {
    pub num_users: Option<u64>,
    pub spawn_rate: Option<f64>,
    pub run_time_secs: Option<u64>,
    pub stats_history_enabled: bool,
}

/// The index template args (SPEC §4.4).
pub fn index_args(
    v: &StatsView<'_>,
    status: &RunStatus,
    classes: &[Arc<ClassPlan>],
    page: &PageDefaults,
) -> Value {
    let st = &status.runner;
    let names: Vec<&str> = {
        let mut n: Vec<&str> = classes.iter().map(|c| c.name.as_str()).collect();
        n.sort();
        n
    };
    let tasks: BTreeMap<&str, Vec<String>> = classes
        .iter()
        .map(|c| {
            let list = c
                .tasks
                .iter()
                .enumerate()
                .flat_map(|(i, t)| {
                    std::iter::repeat_n(crate::engine::class::task_name(t, i), t.weight.max(1))
                })
                .collect();
            (c.name.as_str(), list)
        })
        .collect();
    let users: Map<String, Value> = classes
        .iter()
        .map(|c| {
            let task_names: Vec<String> = c.task_ratios().into_iter().map(|(n, _)| n).collect();
            (
                c.name.clone(),
                json!({"fixed_count": 0, "host": c.host, "tasks": task_names, "weight": c.weight}),
            )
        })
        .collect();
    json!({
        "available_shape_classes": ["Default"],
        "available_user_classes": names,
        "available_user_tasks": tasks,
        "extra_options": {},
        "hide_common_options": false,
        "history": history_json(v.history),
        "host": st.host,
        "is_distributed": status.is_distributed,
        "is_host_required": false,
        "locustfile": "skein",
        "missing_host_warning": false,
        "num_users": page.num_users,
        "override_host_warning": false,
        "percentiles_to_chart": [0.5, 0.95],
        "percentiles_to_statistics": [0.95, 0.99],
        "profile": Value::Null,
        "run_time": page.run_time_secs,
        "shape_use_common_options": false,
        "show_userclass_picker": true,
        "spawn_rate": page.spawn_rate,
        "state": st.state.as_str(),
        "stats_history_enabled": page.stats_history_enabled,
        "tasks": "{}",
        "user_count": st.user_count,
        "users": users,
        "version": crate::config::VERSION,
        "worker_count": status.workers.len(),
    })
}

#[cfg(test)]
mod tests;
