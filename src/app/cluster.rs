//! The two distributed roles at the process level: setting up a master (its hub, its socket,
//! its run boundary), waiting for `--expect-workers`, running a worker until its master lets it
//! go, and forking local workers for `--processes`, as Locust's `main()` does.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use skein_api::UserClass;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use super::exit;
use crate::cluster::dispatch::DispatchClass;
use crate::cluster::master::MasterConfig;
use crate::cluster::message::WorkerState;
use crate::cluster::node::{self, MasterHandle, MasterRun};
use crate::cluster::transport::{hostname_hex32, WorkerOptions};
use crate::cluster::value::Value;
use crate::cluster::worker::WorkerConfig;
use crate::config::{self, Role, Settings};
use crate::engine::{
    self, wall_clock, ClassPlan, HubRole, RunState, RunnerSetup, RunnerStatus, SessionFactory,
};
use crate::health::{self, HealthSampler, SamplerSetup};

/// The master half of a run: the handle for the headless driver, the boundary for the rest.
pub struct MasterParts {
    pub handle: MasterHandle,
    pub control: Arc<MasterRun>,
}

/// Binds the master's socket and starts its task. A busy port ends the process with Locust's
/// message and exit code 1.
pub async fn setup_master(settings: &Settings, classes: &[Arc<ClassPlan>]) -> Result<MasterParts> {
    let Role::Master {
        bind_host,
        bind_port,
        ..
    } = &settings.cluster.role
    else {
        unreachable!("setup_master is only called for a master");
    };
    let hub = engine::hub::spawn_as(
        HubRole::Master,
        wall_clock(),
        "master".into(),
        settings.stats_limits,
    );
    let mut cfg = MasterConfig::new(
        classes
            .iter()
            .map(|c| DispatchClass::from(c.class_weight()))
            .collect(),
    );
    cfg.class_names = classes.iter().map(|c| c.name.clone()).collect();
    cfg.host = settings
        .host
        .as_ref()
        .map(|h| h.trim_end_matches('/').to_string());
    cfg.stop_timeout = Some(settings.stop_timeout.as_secs_f64());
    cfg.parsed_options = settings
        .parsed_options()
        .into_iter()
        .map(|(k, v)| (k, json_to_value(&v)))
        .collect();
    cfg.headless = settings.headless;
    let handle = node::master::spawn(
        bind_host,
        *bind_port,
        cfg,
        hub.clone(),
        settings.reset_stats,
        // Not the process's shutdown: after a signal the master still has to send `quit` to
        // its workers. It ends with the process.
        CancellationToken::new(),
    )
    .await
    .map_err(|e| exit(config::EXIT_MASTER_PORT_BUSY, format!("Server error: {e}")))?;
    tracing::info!("Listening for workers on {}:{}", bind_host, handle.port);
    let control = MasterRun::new(handle.clone(), hub, classes.to_vec(), settings.stop_timeout);
    Ok(MasterParts { handle, control })
}

/// Waits until `expect` workers are ready, as Locust's headless start does (its progress line
/// every second, at INFO after 5 s); gives up with exit code 1 after `max_wait`.
pub async fn wait_for_workers(
    master: &MasterHandle,
    expect: u64,
    max_wait: Option<Duration>,
    shutdown: &CancellationToken,
) -> Result<bool> {
    let started = tokio::time::Instant::now();
    loop {
        let ready = master
            .status()
            .workers
            .iter()
            .filter(|w| w.state == WorkerState::Ready)
            .count() as u64;
        if ready >= expect {
            return Ok(true);
        }
        let waited = started.elapsed();
        if max_wait.is_some_and(|m| waited > m) {
            tracing::error!("{}", config::GAVE_UP_WAITING);
            master.quit().await;
            return Err(exit(config::EXIT_GAVE_UP_WAITING, config::GAVE_UP_WAITING));
        }
        if waited > Duration::from_secs(5) {
            tracing::info!("Waiting for workers to be ready, {ready} of {expect} connected");
        } else {
            tracing::debug!("Waiting for workers to be ready, {ready} of {expect} connected");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.cancelled() => return Ok(false),
        }
    }
}

/// After `quit`: gives the workers time to stop their users and send their final reports,
/// until none is left or the stop timeout and a margin have passed.
pub async fn drain_workers(master: &MasterHandle, stop_timeout: Duration) {
    let mut st = master.subscribe();
    let gone = async {
        loop {
            let left = st
                .borrow_and_update()
                .workers
                .iter()
                .any(|w| w.state != WorkerState::Missing);
            if !left || st.changed().await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(stop_timeout + Duration::from_secs(3), gone).await;
}

/// `--worker`: runs users for a master until it lets this process go.
pub async fn run_worker(
    settings: Settings,
    catalogue: &[UserClass],
    logs: crate::logging::LogBuffer,
    shutdown: CancellationToken,
) -> Result<i32> {
    let Role::Worker {
        master_host,
        master_port,
    } = settings.cluster.role.clone()
    else {
        unreachable!("run_worker is only called for a worker");
    };
    // A worker knows every class, the named-only ones too: the master picks. Without -H it
    // load-tests its own reference service, unless the master names a host in its spawn.
    let names: Vec<String> = if settings.user_classes.is_empty() {
        catalogue.iter().map(|c| c.name().to_string()).collect()
    } else {
        settings.user_classes.clone()
    };
    let classes = super::choose_classes(&settings, catalogue, &names)?;
    let (host, _local) = super::choose_host(&settings, &classes).await?;
    let node_id = hostname_hex32();
    let hub = engine::hub::spawn_as(
        HubRole::Worker,
        wall_clock(),
        node_id.clone(),
        settings.stats_limits,
    );
    let sessions = SessionFactory::new().context("could not set up HTTP sessions")?;
    skein_api::engine_support::set_max_body_size(settings.max_body_size);
    let class_names = classes.iter().map(|c| c.name.clone()).collect();
    let runner = engine::runner::spawn(RunnerSetup {
        classes,
        host: host.clone(),
        stop_timeout: settings.stop_timeout,
        reset_stats_on_spawned: false,
        hub: hub.clone(),
        sessions,
    });
    let health = worker_health(runner.subscribe());
    let mut config = WorkerConfig::new(node_id, class_names);
    config.reset_stats = settings.reset_stats;
    let plan = node::worker::WorkerPlan {
        master_host,
        master_port,
        config,
        options: WorkerOptions::default(),
        default_host: host,
        logs,
    };
    let result = node::worker::run(plan, runner, hub, shutdown).await;
    let generator = health.finish().await;
    tracing::info!("{}", health::text::one_line(&generator));
    match result {
        Ok(code) => Ok(code),
        Err(e) => {
            tracing::error!("{e}");
            Err(exit(config::EXIT_FATAL, e.to_string()))
        }
    }
}

/// A worker samples its own health too: Locust's CPU warning, and a line at its end (its master
/// shows its heartbeat CPU and memory, and judges the run).
fn worker_health(mut runner: tokio::sync::watch::Receiver<RunnerStatus>) -> HealthSampler {
    let context = Box::new(move || health::Context {
        active: matches!(
            runner.borrow_and_update().state,
            RunState::Spawning | RunState::Running
        ),
        workers: Vec::new(),
    });
    HealthSampler::spawn(SamplerSetup::new(context), &CancellationToken::new())
}

/// `--processes`: the local workers this parent forks, killed if the parent goes first.
pub struct LocalWorkers {
    children: Vec<Child>,
}

impl LocalWorkers {
    /// Starts `n` copies of this program as workers of the master on `port`.
    pub fn spawn(settings: &Settings, n: usize, port: u16) -> Result<LocalWorkers> {
        let mut args = config::worker_child_args(settings);
        if let Some(i) = args.iter().position(|a| a == "--master-port") {
            if let Some(p) = args.get_mut(i + 1) {
                *p = port.to_string();
            }
        }
        let exe = std::env::current_exe().context("cannot find skein's own executable")?;
        let mut children = Vec::with_capacity(n);
        for _ in 0..n {
            let child = Command::new(&exe)
                .args(&args)
                // The master evaluates the checks; its workers have no use for them.
                .env_remove("LOCUST_CHECK")
                .kill_on_drop(true)
                .spawn()
                .context("cannot start a local worker")?;
            children.push(child);
        }
        tracing::info!("Started {n} local worker processes");
        Ok(LocalWorkers { children })
    }

    /// Waits until every child has ended by itself, or `shutdown`; then as [`Self::finish`].
    pub async fn wait(mut self, shutdown: &CancellationToken, grace: Duration) -> i32 {
        let all = async {
            for c in &mut self.children {
                let _ = c.wait().await;
            }
        };
        tokio::select! {
            _ = all => {}
            _ = shutdown.cancelled() => {}
        }
        self.finish(grace).await
    }

    /// Waits for every child (they quit when their master does) and returns the highest exit
    /// code; children still running after `grace` are interrupted, then waited for.
    pub async fn finish(mut self, grace: Duration) -> i32 {
        let mut code = 0;
        for child in &mut self.children {
            let status = match tokio::time::timeout(grace, child.wait()).await {
                Ok(s) => s.ok(),
                Err(_) => {
                    if let Some(pid) = child.id() {
                        // SIGINT first, as Locust's parent does, so the child reports and quits.
                        // SAFETY: kill(2) on a PID this process started and still owns.
                        unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
                    }
                    match tokio::time::timeout(grace, child.wait()).await {
                        Ok(s) => s.ok(),
                        Err(_) => {
                            let _ = child.kill().await;
                            None
                        }
                    }
                }
            };
            let c = status.and_then(|s| s.code()).unwrap_or(1);
            code = code.max(c);
        }
        if code > 1 {
            tracing::error!("Bad response code from worker children: {code}");
        }
        code
    }
}

/// `parsed_options` values (JSON from the settings) as msgpack values.
fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::Int(i),
            (None, Some(u), _) => Value::UInt(u),
            (_, _, Some(f)) => Value::Float(f),
            _ => Value::Nil,
        },
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(json_to_value).collect()),
        serde_json::Value::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (Value::Str(k.clone()), json_to_value(v)))
                .collect(),
        ),
    }
}
