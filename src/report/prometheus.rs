//! The Prometheus text exposition (format 0.0.4) of a run, served as `GET /metrics`: pure, built
//! from the statistics and the run status the other outputs use, never from a second recorder.
//!
//! The response-time histogram is Locust's own: [`StatsEntry::response_times`] counts requests by
//! rounded millisecond bucket (1 ms below 100 ms, then 10, 100, 1000 ms), and every `le` bound in
//! [`LE_MS`] is a key on that grid, so a cumulative bucket is an exact sum of Locust's counts. (A
//! time is compared by its rounded bucket: 5.4 ms counts as 5 ms, so as `le="0.005"`.) Counters
//! restart from zero when the statistics are reset (`/stats/reset`, `--reset-stats`), which
//! Prometheus treats as a counter reset.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::control::RunStatus;
use crate::stats::{RequestStats, StatsEntry};

/// The histogram's upper bounds in milliseconds (exported in seconds), each a Locust bucket key.
pub const LE_MS: [i64; 13] = [
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
];

/// The states a run reports (`RunState::as_str`), each a `skein_run_state` series.
pub const RUN_STATES: [&str; 5] = ["ready", "spawning", "running", "stopping", "stopped"];

/// Worker states always exported (0 when none), so a dashboard's series exist from the start;
/// any other state a worker reports is exported too.
pub const WORKER_STATES: [&str; 5] = ["ready", "spawning", "running", "stopped", "missing"];

/// Every metric family [`render`] emits: name, type, help.
pub const FAMILIES: [(&str, &str, &str); 12] = [
    (
        "skein_requests_total",
        "counter",
        "Requests completed, per request method and name (Locust's num_requests).",
    ),
    (
        "skein_request_failures_total",
        "counter",
        "Requests that failed, per request method and name (Locust's num_failures).",
    ),
    (
        "skein_request_duration_seconds",
        "histogram",
        "Response times, from Locust's rounded millisecond buckets.",
    ),
    (
        "skein_users",
        "gauge",
        "Users running, per user class (all workers on a master).",
    ),
    (
        "skein_target_users",
        "gauge",
        "Users the current test ramps to.",
    ),
    (
        "skein_run_state",
        "gauge",
        "1 for the run's current state, 0 for the others.",
    ),
    (
        "skein_workers",
        "gauge",
        "Workers connected to this master, per state (0 when not a master).",
    ),
    (
        "skein_worker_users",
        "gauge",
        "Users running on each worker, as its last heartbeat or report said.",
    ),
    (
        "skein_worker_cpu_usage_ratio",
        "gauge",
        "Each worker's CPU use, in cores (1 = one core busy), from its heartbeat.",
    ),
    (
        "skein_worker_memory_bytes",
        "gauge",
        "Each worker's resident memory, from its heartbeat.",
    ),
    (
        "process_cpu_seconds_total",
        "counter",
        "CPU time (user and system) this skein process has used.",
    ),
    (
        "process_resident_memory_bytes",
        "gauge",
        "This skein process's resident memory.",
    ),
];

/// This process's totals, read by the caller (`/proc/self`); `None` where unavailable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessTotals {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
}

/// What one scrape is built from.
pub struct MetricsInput<'a> {
    pub stats: &'a RequestStats,
    pub status: &'a RunStatus,
    /// Every user class the run knows, so each has a `skein_users` series before it spawns.
    pub classes: Vec<&'a str>,
    pub process: Option<ProcessTotals>,
}

/// The exposition text: every family of [`FAMILIES`], in that order, each with `# HELP`/`# TYPE`.
pub fn render(input: &MetricsInput<'_>) -> String {
    let mut out = String::with_capacity(4096);
    // Sorted by (name, method) as Locust's tables; the Aggregated row is left out (a sum over the
    // series gives it, and a row of its own would be counted twice by `sum()`).
    let entries: Vec<&StatsEntry> = input.stats.entries();

    for (name, kind, help) in FAMILIES {
        let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(out, "# TYPE {name} {kind}");
        match name {
            "skein_requests_total" => {
                for e in &entries {
                    sample(&mut out, name, &request_labels(e), e.num_requests);
                }
            }
            "skein_request_failures_total" => {
                for e in &entries {
                    sample(&mut out, name, &request_labels(e), e.num_failures);
                }
            }
            "skein_request_duration_seconds" => {
                for e in &entries {
                    histogram(&mut out, name, e);
                }
            }
            "skein_users" => {
                let mut users: BTreeMap<&str, u64> =
                    input.classes.iter().map(|c| (*c, 0)).collect();
                for (class, n) in &input.status.runner.class_counts {
                    users.insert(class, *n);
                }
                for (class, n) in users {
                    sample(&mut out, name, &labels(&[("class", class)]), n);
                }
            }
            "skein_target_users" => sample(&mut out, name, "", input.status.runner.target),
            "skein_run_state" => {
                let current = input.status.runner.state.as_str();
                for state in RUN_STATES {
                    let v = u64::from(state == current);
                    sample(&mut out, name, &labels(&[("state", state)]), v);
                }
            }
            "skein_workers" => {
                let mut by_state: BTreeMap<&str, u64> =
                    WORKER_STATES.iter().map(|s| (*s, 0)).collect();
                for w in &input.status.workers {
                    *by_state.entry(w.state.as_str()).or_default() += 1;
                }
                for (state, n) in by_state {
                    sample(&mut out, name, &labels(&[("state", state)]), n);
                }
            }
            "skein_worker_users" => {
                for w in &input.status.workers {
                    sample(&mut out, name, &worker_labels(&w.id), w.user_count);
                }
            }
            "skein_worker_cpu_usage_ratio" => {
                for w in &input.status.workers {
                    let cores = Float(w.cpu_percent / 100.0);
                    sample(&mut out, name, &worker_labels(&w.id), cores);
                }
            }
            "skein_worker_memory_bytes" => {
                for w in &input.status.workers {
                    sample(&mut out, name, &worker_labels(&w.id), w.memory_bytes);
                }
            }
            "process_cpu_seconds_total" => {
                if let Some(p) = input.process {
                    sample(&mut out, name, "", Float(p.cpu_seconds));
                }
            }
            "process_resident_memory_bytes" => {
                if let Some(p) = input.process {
                    sample(&mut out, name, "", p.resident_bytes);
                }
            }
            _ => {}
        }
    }
    out
}

/// Every series name [`render`] can emit (a histogram's `_bucket`, `_sum` and `_count`).
pub fn series_names() -> Vec<String> {
    FAMILIES
        .iter()
        .flat_map(|(name, kind, _)| {
            if *kind == "histogram" {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .map(|s| format!("{name}{s}"))
                    .collect()
            } else {
                vec![name.to_string()]
            }
        })
        .collect()
}

fn histogram(out: &mut String, name: &str, e: &StatsEntry) {
    let base = request_labels(e);
    let mut counts: Vec<(i64, u64)> = e.response_times.iter().collect();
    counts.sort_unstable_by_key(|(k, _)| *k);
    let mut i = 0;
    let mut cumulative: u64 = 0;
    for le in LE_MS {
        while i < counts.len() && counts[i].0 <= le {
            cumulative += counts[i].1;
            i += 1;
        }
        let le = Float(le as f64 / 1000.0).to_string();
        let l = format!("{base},le=\"{le}\"");
        sample(out, &format!("{name}_bucket"), &l, cumulative);
    }
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    sample(
        out,
        &format!("{name}_bucket"),
        &format!("{base},le=\"+Inf\""),
        total,
    );
    let sum = Float(e.total_response_time.as_f64() / 1000.0);
    sample(out, &format!("{name}_sum"), &base, sum);
    sample(out, &format!("{name}_count"), &base, total);
}

/// A sample value in the exposition's float syntax (`+Inf`, `-Inf`, `NaN`).
struct Float(f64);

impl std::fmt::Display for Float {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        if v.is_nan() {
            f.write_str("NaN")
        } else if v.is_infinite() {
            f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" })
        } else {
            write!(f, "{v}")
        }
    }
}

fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

fn request_labels(e: &StatsEntry) -> String {
    labels(&[("method", &e.method), ("name", &e.name)])
}

fn worker_labels(id: &str) -> String {
    labels(&[("worker", id)])
}

/// `k="v",…` with the values escaped as the text format wants (`\\`, `\"`, `\n`).
fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests;
