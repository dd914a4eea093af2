//! The web controller: Locust's web API on top of the engine. It implements [`web::Backend`]
//! with the runner, the statistics hub and the log buffer, and builds the data behind the page
//! and the HTML report (which a headless `--html` run writes too).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::engine::hub::HistoryPoint;
use crate::engine::{
    wall_clock, ClassPlan, HubHandle, RunState, RunnerHandle, RunnerStatus, Snapshot,
};
use crate::logging::LogBuffer;
use crate::report;
use crate::stats::{RequestStats, StatsEntry};
use crate::web::{self, CsvKind, CsvNameParts, SwarmRequest};

/// Percentiles of the HTML report's response-time table (Locust's report uses these).
const REPORT_PERCENTILES: [f64; 8] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0];

/// What the page and the report say about the run's defaults and files.
#[derive(Clone)]
pub struct RunInfo {
    pub num_users: Option<u64>,
    pub spawn_rate: Option<f64>,
    pub run_time: Option<Duration>,
    pub csv_history_path: Option<std::path::PathBuf>,
    /// `--autoquit`: after a timed stop, cancel this token that many seconds later.
    pub autoquit: Option<(u64, CancellationToken)>,
}

pub struct Controller {
    runner: RunnerHandle,
    hub: HubHandle,
    logs: LogBuffer,
    info: RunInfo,
    /// The web run-time timer of the current swarm, cancelled by a new swarm or a stop.
    run_timer: Mutex<Option<CancellationToken>>,
}

impl Controller {
    pub fn new(runner: RunnerHandle, hub: HubHandle, logs: LogBuffer, info: RunInfo) -> Arc<Self> {
        Arc::new(Controller {
            runner,
            hub,
            logs,
            info,
            run_timer: Mutex::new(None),
        })
    }

    fn replace_timer(&self, new: Option<CancellationToken>) {
        if let Ok(mut t) = self.run_timer.lock() {
            if let Some(old) = t.take() {
                old.cancel();
            }
            *t = new;
        }
    }

    async fn snapshot(&self) -> Snapshot {
        match self.hub.snapshot().await {
            Some(s) => s,
            None => Snapshot {
                stats: RequestStats::new(wall_clock()),
                exceptions: Default::default(),
                history: Vec::new(),
            },
        }
    }
}

/// `/tasks` and the report's ratio tree, as Locust's `get_ratio`: each class's share of the
/// users in `counts` (all zero before any user runs: Locust divides by `sum or 1`), task ratios
/// within each class, and in `total` those times the class's share.
pub fn task_ratios(classes: &[Arc<ClassPlan>], counts: &BTreeMap<String, u64>) -> Value {
    let running = counts.values().sum::<u64>().max(1);
    let rows: Vec<report::web::ClassTasks> = classes
        .iter()
        .map(|c| {
            let ratio = counts.get(&c.name).copied().unwrap_or(0) as f64 / running as f64;
            (c.name.clone(), ratio, c.task_ratios())
        })
        .collect();
    report::web::tasks(&rows)
}

/// The report's "Final ratio": the counts the run had before it stopped (Locust's
/// `final_user_classes_count`), or the running counts while it runs. Only the classes that ran
/// are listed when any did (Locust lists the classes of the run, not every class it knows).
fn final_ratios(classes: &[Arc<ClassPlan>], status: &RunnerStatus) -> Value {
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
    report::csv::utc(Some(ts))
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

/// The data of the HTML report (SPEC §3.8), from one snapshot.
pub fn report_args(
    snap: &Snapshot,
    status: &RunnerStatus,
    classes: &[Arc<ClassPlan>],
    host: Option<&str>,
) -> Value {
    let stats = &snap.stats;
    let total = stats.total();
    let start = total.start_time;
    let end = total.last_request_timestamp.unwrap_or(start).max(start);
    let mut requests: Vec<Value> = stats
        .entries()
        .into_iter()
        .map(|e| report::web::entry_dict(stats, e))
        .collect();
    requests.push(report::web::entry_dict(stats, total));
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
    let exceptions = report::web::exceptions(&snap.exceptions)["exceptions"].clone();
    let mut history = history_json(&snap.history);
    // Locust adds a last point at the end time when the last sample is older.
    if snap
        .history
        .last()
        .is_none_or(|p| p.time.floor() < end.floor())
        && total.num_requests > 0
    {
        let last = HistoryPoint::sample(stats, end, status.user_count);
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
        // The header shows the most users the run had at once, not the count after the stop.
        "user_count": status.peak_user_count.max(status.user_count),
        "show_download_link": false,
    })
}

impl web::Backend for Controller {
    fn swarm(&self, req: SwarmRequest) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.runner
                .start(
                    req.user_count,
                    req.spawn_rate,
                    req.host.clone(),
                    req.user_classes.clone(),
                )
                .await
                .map_err(|e| e.to_string())?;
            // Locust ignores a zero run time (`if run_time:`).
            let timer = req.run_time.filter(|t| !t.is_zero()).map(|t| {
                let token = CancellationToken::new();
                let (runner, cancel, autoquit) = (
                    self.runner.clone(),
                    token.clone(),
                    self.info.autoquit.clone(),
                );
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::time::sleep(t) => {
                            tracing::info!("--run-time limit reached, stopping test");
                            runner.stop().await;
                            if let Some((after, quit)) = autoquit {
                                tokio::time::sleep(Duration::from_secs(after)).await;
                                tracing::info!("--autoquit time reached, shutting down");
                                quit.cancel();
                            }
                        }
                        _ = cancel.cancelled() => {}
                    }
                });
                token
            });
            self.replace_timer(timer);
            Ok(())
        })
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.replace_timer(None);
            self.runner.stop().await;
        })
    }

    fn reset_stats(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.hub.reset(wall_clock()) })
    }

    fn stats_requests(&self) -> BoxFuture<'_, Value> {
        Box::pin(async move {
            let snap = self.snapshot().await;
            let st = self.runner.status();
            report::web::stats_requests(
                &snap.stats,
                wall_clock(),
                st.state.as_str(),
                st.user_count,
                None,
            )
        })
    }

    fn exceptions(&self) -> BoxFuture<'_, Value> {
        Box::pin(async move { report::web::exceptions(&self.snapshot().await.exceptions) })
    }

    fn tasks(&self) -> BoxFuture<'_, Value> {
        Box::pin(
            async move { task_ratios(self.runner.classes(), &self.runner.status().class_counts) },
        )
    }

    fn logs(&self) -> BoxFuture<'_, Value> {
        Box::pin(async move { json!({"master": self.logs.lines(), "workers": {}}) })
    }

    fn worker_count(&self) -> BoxFuture<'_, u64> {
        Box::pin(async { 0 })
    }

    fn csv(&self, kind: CsvKind) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            let snap = self.snapshot().await;
            match kind {
                CsvKind::Requests => Some(report::csv::stats_csv(&snap.stats)),
                CsvKind::Failures => Some(report::csv::failures_csv(&snap.stats)),
                CsvKind::Exceptions => Some(report::csv::exceptions_csv(&snap.exceptions)),
                CsvKind::FullHistory => {
                    let path = self.info.csv_history_path.clone()?;
                    tokio::fs::read_to_string(path).await.ok()
                }
            }
        })
    }

    fn report_args(&self) -> BoxFuture<'_, Value> {
        Box::pin(async move {
            let snap = self.snapshot().await;
            let st = self.runner.status();
            report_args(&snap, &st, self.runner.classes(), st.host.as_deref())
        })
    }

    fn index_args(&self) -> BoxFuture<'_, Value> {
        Box::pin(async move {
            let snap = self.snapshot().await;
            let st = self.runner.status();
            let classes = self.runner.classes();
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
                            std::iter::repeat_n(
                                crate::engine::class::task_name(t, i),
                                t.weight.max(1),
                            )
                        })
                        .collect();
                    (c.name.as_str(), list)
                })
                .collect();
            let users: Map<String, Value> = classes
                .iter()
                .map(|c| {
                    let task_names: Vec<String> = c.task_ratios().into_iter().map(|(n, _)| n).collect();
                    (c.name.clone(), json!({"fixed_count": 0, "host": c.host, "tasks": task_names, "weight": c.weight}))
                })
                .collect();
            json!({
                "available_shape_classes": ["Default"],
                "available_user_classes": names,
                "available_user_tasks": tasks,
                "extra_options": {},
                "hide_common_options": false,
                "history": history_json(&snap.history),
                "host": st.host,
                "is_distributed": false,
                "is_host_required": false,
                "locustfile": "skein",
                "missing_host_warning": false,
                "num_users": self.info.num_users,
                "override_host_warning": false,
                "percentiles_to_chart": [0.5, 0.95],
                "percentiles_to_statistics": [0.95, 0.99],
                "profile": Value::Null,
                "run_time": self.info.run_time.map(|t| t.as_secs()),
                "shape_use_common_options": false,
                "show_userclass_picker": true,
                "spawn_rate": self.info.spawn_rate,
                "state": st.state.as_str(),
                "stats_history_enabled": self.info.csv_history_path.is_some(),
                "tasks": "{}",
                "user_count": st.user_count,
                "users": users,
                "version": crate::config::VERSION,
                "worker_count": 0,
            })
        })
    }

    fn csv_name_parts(&self) -> BoxFuture<'_, CsvNameParts> {
        Box::pin(async move {
            let snap = self.snapshot().await;
            CsvNameParts {
                start_time: web::format_safe_timestamp(snap.stats.total().start_time),
                locustfile: "skein".to_string(),
                host: self.runner.status().host,
            }
        })
    }

    fn host(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move { self.runner.status().host })
    }

    fn user_class_count(&self) -> BoxFuture<'_, Option<usize>> {
        Box::pin(async move { Some(self.runner.classes().len()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goose::prelude::*;
    use skein_api::UserClass;

    async fn noop(_u: &mut GooseUser) -> TransactionResult {
        Ok(())
    }

    /// The webapi sample's classes: HeavyUser (index ×3, missing), LightUser (item, boom).
    fn classes() -> Vec<Arc<ClassPlan>> {
        let heavy = Scenario::new("HeavyUser")
            .register_transaction(transaction!(noop).set_name("index").set_weight(3).unwrap())
            .register_transaction(transaction!(noop).set_name("missing"));
        let light = Scenario::new("LightUser")
            .register_transaction(transaction!(noop).set_name("item"))
            .register_transaction(transaction!(noop).set_name("boom"));
        let third =
            Scenario::new("IdleUser").register_transaction(transaction!(noop).set_name("t"));
        [heavy, light, third]
            .into_iter()
            .enumerate()
            .map(|(i, s)| Arc::new(ClassPlan::new(&UserClass::new(s), i, None, None).unwrap()))
            .collect()
    }

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn tasks_before_a_start_is_locusts_answer() {
        // Locust's get_ratio with no users: class ratios 0.0 (it divides by `sum or 1`), task
        // ratios within the class as usual, and 0.0 for every task in `total`.
        let v = task_ratios(
            &classes()[..2],
            &counts(&[("HeavyUser", 0), ("LightUser", 0)]),
        );
        let want = json!({
            "per_class": {
                "HeavyUser": {"ratio": 0.0, "tasks": {"index": {"ratio": 0.75}, "missing": {"ratio": 0.25}}},
                "LightUser": {"ratio": 0.0, "tasks": {"boom": {"ratio": 0.5}, "item": {"ratio": 0.5}}}
            },
            "total": {
                "HeavyUser": {"ratio": 0.0, "tasks": {"index": {"ratio": 0.0}, "missing": {"ratio": 0.0}}},
                "LightUser": {"ratio": 0.0, "tasks": {"boom": {"ratio": 0.0}, "item": {"ratio": 0.0}}}
            }
        });
        assert_eq!(v, want);
        // Running 4 + 2: the sample's 2/3 and 1/3.
        let v = task_ratios(
            &classes()[..2],
            &counts(&[("HeavyUser", 4), ("LightUser", 2)]),
        );
        assert_eq!(v["per_class"]["HeavyUser"]["ratio"], json!(2.0 / 3.0));
        assert_eq!(
            v["total"]["HeavyUser"]["tasks"]["index"]["ratio"],
            json!(0.5)
        );
    }

    #[test]
    fn the_report_shows_the_final_mix_and_the_peak_users() {
        let status = RunnerStatus {
            state: RunState::Stopped,
            user_count: 0,
            class_counts: counts(&[("HeavyUser", 0), ("LightUser", 0), ("IdleUser", 0)]),
            target: 0,
            spawn_rate: 1.0,
            host: None,
            peak_user_count: 4,
            final_class_counts: counts(&[("HeavyUser", 1), ("LightUser", 1), ("IdleUser", 0)]),
        };
        let snap = Snapshot {
            stats: RequestStats::new(1_000.0),
            exceptions: Default::default(),
            history: Vec::new(),
        };
        let v = report_args(&snap, &status, &classes(), None);
        assert_eq!(v["user_count"], json!(4));
        let per_class = v["tasks"]["per_class"].as_object().unwrap();
        // Only the two classes that ran, half each.
        assert_eq!(per_class.len(), 2, "{per_class:?}");
        assert_eq!(per_class["HeavyUser"]["ratio"], json!(0.5));
        assert_eq!(per_class["LightUser"]["ratio"], json!(0.5));
    }

    #[test]
    fn durations_read_like_locusts() {
        assert_eq!(duration_words(14), "14 seconds");
        assert_eq!(duration_words(62), "1 minute and 2 seconds");
        assert_eq!(duration_words(3600), "1 hour");
        assert_eq!(duration_words(3661), "1 hour, 1 minute and 1 second");
        assert_eq!(duration_words(0), "0 seconds");
    }
}
