//! How the bench puts load on the target: the service it talks to (the embedded reference
//! service unless `--url`), a sequential single user (latency, memory), and the engine's runner
//! in the open model (`--rps`: health, model info, classification) or the closed model (stress). Every driver reports to the statistics hub (the sequential one
//! through a [`Recorder`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use goose::config::GooseConfiguration;
use goose::goose::GooseUser;
use rand::SeedableRng;
use skein_api::engine_support::RequestSink;
use skein_api::UserClass;
use tokio_util::sync::CancellationToken;

use crate::classifier::{self, LocalClassifier};
use crate::engine::{
    self, ArrivalOrder, ClassPlan, HubHandle, RunnerHandle, RunnerSetup, SessionFactory,
};

use super::recorder::Recorder;

/// The service under test.
pub struct Target {
    /// Its base URL, without a trailing `/`.
    pub url: String,
    /// Whether it is the embedded service (then it shares this process: its memory is skein's).
    pub embedded: bool,
    _local: Option<LocalClassifier>,
}

impl Target {
    pub async fn start(url: Option<&str>) -> Result<Target> {
        if let Some(url) = url {
            return Ok(Target {
                url: url.to_string(),
                embedded: false,
                _local: None,
            });
        }
        let local = classifier::spawn_local()
            .await
            .context("could not start the reference classifier service")?;
        Ok(Target {
            url: local.base_url(),
            embedded: true,
            _local: Some(local),
        })
    }
}

/// A class prepared for running (no tag filtering: bench classes run every transaction).
pub fn plan(class: &UserClass) -> Result<Arc<ClassPlan>> {
    ClassPlan::new(class, 0, None, None)
        .map(Arc::new)
        .ok_or_else(|| anyhow!("user class {} has no transaction", class.name()))
}

/// Runs `iterations` of `class` one after another as one user (one keep-alive session), each
/// iteration one weighted-random transaction; stops early on `cancel`. Gives the iterations run.
pub async fn sequential(
    class: &UserClass,
    host: &str,
    recorder: Arc<Recorder>,
    iterations: u64,
    cancel: CancellationToken,
) -> Result<u64> {
    let plan = plan(class)?;
    let base = url::Url::parse(host).with_context(|| format!("bad target URL {host}"))?;
    let client = SessionFactory::new()
        .context("could not set up HTTP sessions")?
        .client()?
        .0;
    let mut user = GooseUser::new(
        0,
        Arc::from(plan.name.as_str()),
        base,
        &GooseConfiguration::default(),
        0,
        Some(client),
    )
    .map_err(|e| anyhow!("cannot create the user: {e}"))?;
    let sink: Arc<dyn RequestSink> = recorder;
    let done = skein_api::engine_support::with_sink(sink, async move {
        let mut rng = rand::rngs::SmallRng::from_os_rng();
        let mut done = 0;
        while done < iterations && !cancel.is_cancelled() {
            let t = &plan.tasks[plan.pick(&mut rng)];
            // A transaction's own error is not a request failure; the requests it made are recorded.
            let _ = tokio::select! {
                r = (t.function)(&mut user) => r.map_err(|e| e.to_string()),
                _ = cancel.cancelled() => break,
            };
            done += 1;
        }
        done
    })
    .await;
    Ok(done)
}

/// How long iterations in flight at the end of a test may finish (and be counted) before they
/// are interrupted.
pub const DRAIN: Duration = Duration::from_secs(10);

/// The engine's runner over `class`, reporting to `hub`: closed-model users are started with
/// [`RunnerHandle::start`], the open model with [`rate`].
pub fn closed(class: &UserClass, host: &str, hub: &HubHandle) -> Result<RunnerHandle> {
    Ok(engine::runner::spawn(RunnerSetup {
        classes: vec![plan(class)?],
        host: Some(host.to_string()),
        stop_timeout: DRAIN,
        reset_stats_on_spawned: false,
        hub: hub.clone(),
        sessions: SessionFactory::new().context("could not set up HTTP sessions")?,
    }))
}

/// Iterations that may wait for a free user, per user of the pool, before one is dropped.
const BACKLOG_PER_USER: usize = 10;

/// Starts the open model: iterations at `rps` per second whatever the response times, on at
/// most `max_in_flight` virtual users (the engine's [`ArrivalOrder`]); stop it with
/// [`RunnerHandle::stop`].
pub async fn rate(runner: &RunnerHandle, rps: f64, max_in_flight: u64) -> Result<()> {
    let users = usize::try_from(max_in_flight).unwrap_or(usize::MAX).max(1);
    runner
        .arrive(ArrivalOrder {
            backlog: Some(users.saturating_mul(BACKLOG_PER_USER)),
            ..ArrivalOrder::new(rps, users)
        })
        .await
        .context("cannot start the open-model load")
}

/// The open model's figures as JSON: rates, counts, and latency from the scheduled start
/// (corrected for coordinated omission) next to latency from the send, in seconds.
pub fn open_figures(view: &crate::engine::StatsView<'_>) -> serde_json::Value {
    let open = view.open;
    if !open.is_active() {
        return serde_json::Value::Null;
    }
    let c = open.counts();
    let entry = |e: &crate::stats::OpenEntry| {
        let s = |ms: i64| ms as f64 / 1000.0;
        serde_json::json!({
            "name": e.name,
            "method": e.method,
            "requests": e.num_requests,
            "corrected_avg": e.avg_corrected() / 1000.0,
            "corrected_p50": s(e.corrected_percentile(0.5)),
            "corrected_p95": s(e.corrected_percentile(0.95)),
            "corrected_p99": s(e.corrected_percentile(0.99)),
            "uncorrected_avg": e.avg_uncorrected() / 1000.0,
            "uncorrected_p50": s(e.uncorrected_percentile(0.5)),
            "uncorrected_p95": s(e.uncorrected_percentile(0.95)),
            "uncorrected_p99": s(e.uncorrected_percentile(0.99)),
        })
    };
    let mut total = entry(open.total());
    if let serde_json::Value::Object(m) = &mut total {
        m.insert("rate_asked".into(), open.rate_asked().into());
        m.insert("rate_achieved".into(), open.achieved_rate().into());
        m.insert("scheduled".into(), c.scheduled.into());
        m.insert("started".into(), c.started.into());
        m.insert("late".into(), c.late.into());
        m.insert("dropped".into(), c.dropped.into());
        m.insert(
            "late_threshold_ms".into(),
            crate::stats::LATE_THRESHOLD_MS.into(),
        );
        m.insert(
            "endpoints".into(),
            open.entries().map(entry).collect::<Vec<_>>().into(),
        );
    }
    total
}
