use std::collections::BTreeSet;

use super::*;
use crate::control::{RunStatus, WorkerView};
use crate::engine::{RunState, RunnerStatus};

fn status(state: RunState, workers: Vec<WorkerView>) -> RunStatus {
    RunStatus {
        runner: RunnerStatus {
            state,
            user_count: 3,
            class_counts: [("HighLoadUser".to_string(), 2), ("Other".to_string(), 1)]
                .into_iter()
                .collect(),
            target: 4,
            spawn_rate: 1.0,
            host: None,
            peak_user_count: 3,
            final_class_counts: Default::default(),
        },
        is_distributed: !workers.is_empty(),
        workers,
        membership: Vec::new(),
    }
}

fn worker(id: &str, state: &str, users: u64) -> WorkerView {
    WorkerView {
        id: id.into(),
        state: state.into(),
        user_count: users,
        cpu_percent: 12.5,
        memory_bytes: 4096,
    }
}

const GOLDEN: &str = r#"# HELP skein_requests_total Requests completed, per request method and name (Locust's num_requests).
# TYPE skein_requests_total counter
skein_requests_total{method="GET",name="/api/v1/health"} 3
skein_requests_total{method="POST",name="say \"hi\"\\\n"} 1
# HELP skein_request_failures_total Requests that failed, per request method and name (Locust's num_failures).
# TYPE skein_request_failures_total counter
skein_request_failures_total{method="GET",name="/api/v1/health"} 1
skein_request_failures_total{method="POST",name="say \"hi\"\\\n"} 0
# HELP skein_request_duration_seconds Response times, from Locust's rounded millisecond buckets.
# TYPE skein_request_duration_seconds histogram
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="0.005"} 1
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="0.01"} 1
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="0.025"} 1
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="0.05"} 1
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="0.1"} 1
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="0.25"} 2
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="0.5"} 2
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="1"} 2
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="2.5"} 2
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="5"} 2
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="10"} 2
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="30"} 2
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="60"} 2
skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="+Inf"} 3
skein_request_duration_seconds_sum{method="GET",name="/api/v1/health"} 70.2554
skein_request_duration_seconds_count{method="GET",name="/api/v1/health"} 3
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="0.005"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="0.01"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="0.025"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="0.05"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="0.1"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="0.25"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="0.5"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="1"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="2.5"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="5"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="10"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="30"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="60"} 0
skein_request_duration_seconds_bucket{method="POST",name="say \"hi\"\\\n",le="+Inf"} 0
skein_request_duration_seconds_sum{method="POST",name="say \"hi\"\\\n"} 0
skein_request_duration_seconds_count{method="POST",name="say \"hi\"\\\n"} 0
# HELP skein_users Users running, per user class (all workers on a master).
# TYPE skein_users gauge
skein_users{class="ErrorTestingUser"} 0
skein_users{class="HighLoadUser"} 2
skein_users{class="Other"} 1
# HELP skein_target_users Users the current test ramps to.
# TYPE skein_target_users gauge
skein_target_users 4
# HELP skein_run_state 1 for the run's current state, 0 for the others.
# TYPE skein_run_state gauge
skein_run_state{state="ready"} 0
skein_run_state{state="spawning"} 0
skein_run_state{state="running"} 1
skein_run_state{state="stopping"} 0
skein_run_state{state="stopped"} 0
# HELP skein_workers Workers connected to this master, per state (0 when not a master).
# TYPE skein_workers gauge
skein_workers{state="missing"} 1
skein_workers{state="ready"} 0
skein_workers{state="running"} 2
skein_workers{state="spawning"} 0
skein_workers{state="stopped"} 0
# HELP skein_worker_users Users running on each worker, as its last heartbeat or report said.
# TYPE skein_worker_users gauge
skein_worker_users{worker="w1"} 2
skein_worker_users{worker="w2"} 1
skein_worker_users{worker="w3"} 0
# HELP skein_worker_cpu_usage_ratio Each worker's CPU use, in cores (1 = one core busy), from its heartbeat.
# TYPE skein_worker_cpu_usage_ratio gauge
skein_worker_cpu_usage_ratio{worker="w1"} 0.125
skein_worker_cpu_usage_ratio{worker="w2"} 0.125
skein_worker_cpu_usage_ratio{worker="w3"} 0.125
# HELP skein_worker_memory_bytes Each worker's resident memory, from its heartbeat.
# TYPE skein_worker_memory_bytes gauge
skein_worker_memory_bytes{worker="w1"} 4096
skein_worker_memory_bytes{worker="w2"} 4096
skein_worker_memory_bytes{worker="w3"} 4096
# HELP process_cpu_seconds_total CPU time (user and system) this skein process has used.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
# HELP process_resident_memory_bytes This skein process's resident memory.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1048576
"#;

#[test]
fn renders_the_golden_text() {
    let now = 1_795_808_040.0;
    let mut stats = RequestStats::new(now);
    // 4.6 ms rounds to bucket 5 (le 0.005); 150.4 ms to 150 (le 0.25); 69.5 s to 70000 (+Inf).
    for rt in [4.6, 150.4, 70_100.4] {
        stats.log_request("GET", "/api/v1/health", Some(rt), 10, now);
    }
    stats.log_error("GET", "/api/v1/health", "boom", now);
    // No response time: counted as a request, not in the histogram.
    stats.log_request("POST", "say \"hi\"\\\n", None, 0, now);
    let st = status(
        RunState::Running,
        vec![
            worker("w1", "running", 2),
            worker("w2", "running", 1),
            worker("w3", "missing", 0),
        ],
    );
    let text = render(&MetricsInput {
        stats: &stats,
        status: &st,
        classes: vec!["ErrorTestingUser", "HighLoadUser"],
        process: Some(ProcessTotals {
            cpu_seconds: 1.5,
            resident_bytes: 1 << 20,
        }),
    });
    for (got, want) in text.lines().zip(GOLDEN.lines()) {
        assert_eq!(got, want);
    }
    assert_eq!(text, GOLDEN);
}

#[test]
fn every_family_has_help_and_type_even_without_data() {
    let stats = RequestStats::new(0.0);
    let st = status(RunState::Ready, Vec::new());
    let text = render(&MetricsInput {
        stats: &stats,
        status: &st,
        classes: Vec::new(),
        process: None,
    });
    for (name, kind, _) in FAMILIES {
        assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name}");
    }
    assert!(text.contains("skein_run_state{state=\"ready\"} 1\n"));
    assert!(text.contains("skein_workers{state=\"running\"} 0\n"));
    assert!(!text.contains("\nprocess_cpu_seconds_total "));
}

#[test]
fn buckets_are_cumulative_and_end_at_the_timed_count() {
    let now = 10.0;
    let mut stats = RequestStats::new(now);
    // One request in each Locust bucket range, on and just past a few bounds.
    let times = [
        0.2, 5.0, 5.6, 10.0, 99.4, 100.0, 254.0, 256.0, 999.0, 2_549.0, 61_000.0,
    ];
    for rt in times {
        stats.log_request("GET", "/", Some(rt), 0, now);
    }
    let st = status(RunState::Running, Vec::new());
    let text = render(&MetricsInput {
        stats: &stats,
        status: &st,
        classes: Vec::new(),
        process: None,
    });
    let counts: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("skein_request_duration_seconds_bucket"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    // le: 5 10 25 50 100 250 500 1000 2500 5000 10000 30000 60000 +Inf (ms); 5.6 rounds to 6,
    // 254 to 250, 256 to 260, 2549 to 2500.
    assert_eq!(counts, vec![2, 4, 4, 4, 6, 7, 8, 9, 10, 10, 10, 10, 10, 11]);
    assert!(counts.windows(2).all(|w| w[0] <= w[1]));
    assert!(text.contains("skein_request_duration_seconds_count{method=\"GET\",name=\"/\"} 11\n"));
}

/// PromQL words that are not metric names (aggregations may be followed by `by (…)`).
const PROMQL_WORDS: [&str; 24] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "and",
    "or",
    "unless",
    "le",
];

/// The metric names an expression reads: identifiers outside strings, label matchers, range
/// selectors and grouping clauses that are not function calls or PromQL words.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let mut after_grouping = false;
    while i < chars.len() {
        let c = chars[i];
        let skip_to = |open: char, close: char, from: usize| {
            let mut depth = 0;
            let mut j = from;
            while j < chars.len() {
                if chars[j] == open {
                    depth += 1;
                } else if chars[j] == close {
                    depth -= 1;
                    if depth == 0 {
                        return j + 1;
                    }
                }
                j += 1;
            }
            chars.len()
        };
        if c == '"' {
            i = chars[i + 1..]
                .iter()
                .position(|&d| d == '"')
                .map_or(chars.len(), |p| i + p + 2);
        } else if c == '{' {
            i = skip_to('{', '}', i);
        } else if c == '[' {
            i = skip_to('[', ']', i);
        } else if c == '(' && after_grouping {
            after_grouping = false;
            i = skip_to('(', ')', i);
        } else if c == '$' {
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            let grouping = [
                "by",
                "without",
                "on",
                "ignoring",
                "group_left",
                "group_right",
            ];
            if grouping.contains(&word.as_str()) {
                after_grouping = next == Some(&'(');
            } else if next != Some(&'(') && !PROMQL_WORDS.contains(&word.as_str()) {
                names.push(word);
            }
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    names
}

fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[test]
fn the_expression_scanner_finds_metric_names_only() {
    assert_eq!(
        metric_names(
            "histogram_quantile(0.95, sum by (le, method) (rate(a_bucket{x=\"y z\"}[$__rate_interval]))) / b"
        ),
        vec!["a_bucket", "b"]
    );
    assert_eq!(
        metric_names("c == 1 and on (x) d offset 5m"),
        vec!["c", "d"]
    );
}

#[test]
fn the_grafana_dashboard_reads_only_metrics_that_exist() {
    let text = include_str!("../../../deploy/grafana/dashboards/skein.json");
    let dashboard: serde_json::Value = serde_json::from_str(text).expect("dashboard JSON");
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    assert!(all.len() >= 10, "{} expressions", all.len());
    let known: BTreeSet<String> = series_names().into_iter().collect();
    let mut used = BTreeSet::new();
    for e in &all {
        let names = metric_names(e);
        assert!(!names.is_empty(), "no metric in {e}");
        for n in names {
            assert!(
                known.contains(&n),
                "{n} (in {e}) is not a metric /metrics emits"
            );
            used.insert(n);
        }
    }
    // Each family shows up somewhere on the dashboard.
    for (name, _, _) in FAMILIES {
        assert!(
            used.iter().any(|u| u.starts_with(name)),
            "the dashboard shows no {name}"
        );
    }
}
