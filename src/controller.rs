//! The web controller: Locust's web API on top of a run. It implements [`web::Backend`] with a
//! [`RunControl`] (a standalone run or a master) and the log buffer: a thin adapter, the JSON
//! builders are pure functions in [`report::page`] and [`report::web`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::checks::{self, Check};
use crate::control::RunControl;
use crate::engine::{wall_clock, StatsView};
use crate::health::sample::{parse_stat_cpu_ticks, parse_statm_rss_bytes};
use crate::health::sampler::sysconf_or;
use crate::health::HealthSummary;
use crate::logging::LogBuffer;
use crate::report;
use crate::report::page::{
    add_health, index_args, report_args, task_ratios, worker_rows, PageDefaults,
};
use crate::report::prometheus::{self, MetricsInput, ProcessTotals};
use crate::stats::{Exceptions, RequestStats};
use crate::web::{self, CsvKind, CsvNameParts, SwarmRequest};

/// What the page and the report say about the run's defaults and files.
#[derive(Clone)]
pub struct RunInfo {
    pub num_users: Option<u64>,
    pub spawn_rate: Option<f64>,
    pub run_time: Option<Duration>,
    pub csv_history_path: Option<std::path::PathBuf>,
    /// `--autoquit`: after a timed stop, cancel this token that many seconds later.
    pub autoquit: Option<(u64, CancellationToken)>,
    /// `--check`: evaluated live for `/stats/requests` and the report.
    pub checks: Vec<Check>,
    /// `--arrival-rate`: a swarm starts the open model at this rate (the form's user count
    /// and spawn rate do not apply; its host and classes do).
    pub open_model: Option<crate::config::OpenModel>,
    /// This process's health: `/stats/requests` shows its latest CPU and RSS, the report its
    /// summary and the verdict so far.
    pub health: Option<watch::Receiver<HealthSummary>>,
}

pub struct Controller {
    run: Arc<dyn RunControl>,
    logs: LogBuffer,
    info: RunInfo,
    /// The web run-time timer of the current swarm, cancelled by a new swarm or a stop.
    run_timer: Mutex<Option<CancellationToken>>,
}

impl Controller {
    pub fn new(run: Arc<dyn RunControl>, logs: LogBuffer, info: RunInfo) -> Arc<Self> {
        Arc::new(Controller {
            run,
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

    /// Runs `f` against the statistics; against empty ones when they are gone (the run is
    /// ending), so the page still gets an answer.
    async fn read<R, F>(&self, f: F) -> R
    where
        F: FnOnce(&StatsView<'_>) -> R + Clone + Send + 'static,
        R: Send + 'static,
    {
        if let Some(r) = self.run.read(f.clone()).await {
            return r;
        }
        let stats = RequestStats::new(wall_clock());
        let exceptions = Exceptions::default();
        let open = crate::stats::OpenStats::new(1, 0.0);
        f(&StatsView {
            stats: &stats,
            exceptions: &exceptions,
            history: &[],
            open: &open,
        })
    }
}

impl web::Backend for Controller {
    fn swarm(&self, req: SwarmRequest) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            match self.info.open_model {
                Some(open) => {
                    let order = crate::engine::ArrivalOrder {
                        host: req.host.clone(),
                        classes: req.user_classes.clone(),
                        ..crate::engine::ArrivalOrder::new(open.rate, open.max_in_flight)
                    };
                    self.run.arrive(order).await?;
                }
                None => self
                    .run
                    .start(
                        req.user_count,
                        req.spawn_rate,
                        req.host.clone(),
                        req.user_classes.clone(),
                    )
                    .await
                    .map_err(|e| e.to_string())?,
            }
            // Locust ignores a zero run time (`if run_time:`).
            let timer = req.run_time.filter(|t| !t.is_zero()).map(|t| {
                let token = CancellationToken::new();
                let (run, cancel, autoquit) =
                    (self.run.clone(), token.clone(), self.info.autoquit.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::time::sleep(t) => {
                            tracing::info!("--run-time limit reached, stopping test");
                            run.stop().await;
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
            self.run.stop().await;
        })
    }

    fn reset_stats(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.run.reset_stats(wall_clock()) })
    }

    fn stats_requests(&self) -> BoxFuture<'_, Value> {
        Box::pin(async move {
            let st = self.run.status();
            let rules = self.info.checks.clone();
            self.read(move |v| {
                let workers = worker_rows(&st);
                let now = wall_clock();
                let mut body = report::web::stats_requests(
                    v.stats,
                    now,
                    st.runner.state.as_str(),
                    st.runner.user_count,
                    workers.as_deref(),
                );
                // skein's own key, only with checks (Locust's clients ignore extra keys).
                if let (false, Some(m)) = (rules.is_empty(), body.as_object_mut()) {
                    m.insert(
                        "checks".into(),
                        checks::to_json(&checks::evaluate(&rules, v.stats, now)),
                    );
                }
                body
            })
            .await
        })
    }

    fn exceptions(&self) -> BoxFuture<'_, Value> {
        Box::pin(async move { self.read(|v| report::web::exceptions(v.exceptions)).await })
    }

    fn tasks(&self) -> BoxFuture<'_, Value> {
        Box::pin(
            async move { task_ratios(self.run.classes(), &self.run.status().runner.class_counts) },
        )
    }

    fn logs(&self) -> BoxFuture<'_, Value> {
        Box::pin(
            async move { json!({"master": self.logs.lines(), "workers": self.run.worker_logs()}) },
        )
    }

    fn worker_count(&self) -> BoxFuture<'_, u64> {
        Box::pin(async move { self.run.status().workers.len() as u64 })
    }

    fn csv(&self, kind: CsvKind) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            match kind {
                CsvKind::Requests => Some(self.read(|v| report::csv::stats_csv(v.stats)).await),
                CsvKind::Failures => Some(self.read(|v| report::csv::failures_csv(v.stats)).await),
                CsvKind::Exceptions => Some(
                    self.read(|v| report::csv::exceptions_csv(v.exceptions))
                        .await,
                ),
                CsvKind::FullHistory => {
                    let path = self.info.csv_history_path.clone()?;
                    tokio::fs::read_to_string(path).await.ok()
                }
            }
        })
    }

    fn report_args(&self) -> BoxFuture<'_, Value> {
        Box::pin(async move {
            let st = self.run.status();
            let classes = self.run.classes().to_vec();
            let rules = self.info.checks.clone();
            let generator = self.info.health.as_ref().map(|h| h.borrow().clone());
            self.read(move |v| {
                let host = st.runner.host.clone();
                let results = checks::evaluate(&rules, v.stats, wall_clock());
                let mut args = report_args(v, &st, &classes, host.as_deref(), &results);
                if let Some(g) = &generator {
                    let verdict = crate::health::assess(g, &st, v.stats, v.open, None);
                    add_health(&mut args, g, &verdict);
                }
                args
            })
            .await
        })
    }

    fn health(&self) -> BoxFuture<'_, Value> {
        Box::pin(async move {
            match &self.info.health {
                Some(h) => health_now(&h.borrow()),
                None => json!({}),
            }
        })
    }

    fn index_args(&self) -> BoxFuture<'_, Value> {
        Box::pin(async move {
            let st = self.run.status();
            let classes = self.run.classes().to_vec();
            let page = PageDefaults {
                num_users: self.info.num_users,
                spawn_rate: self.info.spawn_rate,
                run_time_secs: self.info.run_time.map(|t| t.as_secs()),
                stats_history_enabled: self.info.csv_history_path.is_some(),
            };
            self.read(move |v| index_args(v, &st, &classes, &page))
                .await
        })
    }

    fn csv_name_parts(&self) -> BoxFuture<'_, CsvNameParts> {
        Box::pin(async move {
            let start = self.read(|v| v.stats.total().start_time).await;
            CsvNameParts {
                start_time: web::format_safe_timestamp(start),
                locustfile: "skein".to_string(),
                host: self.run.status().runner.host,
            }
        })
    }

    fn host(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move { self.run.status().runner.host })
    }

    fn user_class_count(&self) -> BoxFuture<'_, Option<usize>> {
        Box::pin(async move { Some(self.run.classes().len()) })
    }

    fn metrics(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            let st = self.run.status();
            let classes: Vec<String> = self.run.classes().iter().map(|c| c.name.clone()).collect();
            let process = process_totals().await;
            let text = self
                .read(move |v| {
                    prometheus::render(&MetricsInput {
                        stats: v.stats,
                        status: &st,
                        classes: classes.iter().map(String::as_str).collect(),
                        process,
                    })
                })
                .await;
            Some(text)
        })
    }
}

/// `/skein/health`: the latest figures for the page's header (`cpu_usage` and `memory_usage` as
/// the workers' rows name them), and the summary so far without its per-second series (the
/// page polls this every 2 s; the report carries the series).
fn health_now(h: &HealthSummary) -> Value {
    let last = h.samples().last();
    let mut summary = h.to_json();
    if let Value::Object(m) = &mut summary {
        m.remove("series");
    }
    json!({
        "cpu_usage": last.map_or(0.0, |s| (s.cpu_percent * 10.0).round() / 10.0),
        "memory_usage": h.rss_last_bytes,
        "cores": h.cores(),
        "cpu_warning": h.cpu_warned,
        "summary": summary,
    })
}

/// This process's CPU time and resident memory from `/proc/self` (Linux); `None` elsewhere.
async fn process_totals() -> Option<ProcessTotals> {
    let stat = tokio::fs::read_to_string("/proc/self/stat").await.ok()?;
    let statm = tokio::fs::read_to_string("/proc/self/statm").await.ok()?;
    let ticks = parse_stat_cpu_ticks(&stat)?;
    let resident_bytes = parse_statm_rss_bytes(&statm, sysconf_or(libc::_SC_PAGESIZE, 4096))?;
    Some(ProcessTotals {
        cpu_seconds: ticks as f64 / sysconf_or(libc::_SC_CLK_TCK, 100) as f64,
        resident_bytes,
    })
}

#[cfg(test)]
mod tests;
