//! Turns validated settings into a run and an exit code: chooses the classes and the target
//! (the embedded reference service when no host is given), wires the engine to its outputs,
//! runs until `-t` or a signal, and writes the final statistics. Nothing collected is lost on
//! the way out: the runner is stopped and the hub drained before the last outputs are written.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use skein_api::UserClass;
use tokio_util::sync::CancellationToken;

use crate::classifier;
use crate::config::{BenchSettings, Role, Settings};
use crate::control::{LocalRun, RunControl};
use crate::controller::{Controller, RunInfo};
use crate::engine::{self, wall_clock, RunnerSetup, SessionFactory};
use crate::health::{self, HealthSampler};
use crate::logging::LogBuffer;
use crate::output::{self, OutputPlan, Outputs};
use crate::web::{self, WebOptions};

#[cfg(test)]
use finish::exit_code;
pub use finish::finish;

mod cluster;
mod finish;
#[cfg(test)]
mod tests;

/// Exit code for startup errors (unknown user class, nothing to run…), as Locust.
pub const EXIT_STARTUP: i32 = 1;

/// An error that ends the run with a specific exit code and a message for the user.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: i32,
    pub message: String,
}

fn exit(code: i32, message: impl Into<String>) -> anyhow::Error {
    Exit {
        code,
        message: message.into(),
    }
    .into()
}

/// `-l/--list`: the class names, as Locust prints them.
pub fn list_classes(catalogue: &[UserClass]) -> String {
    let mut out = String::from("Available Users:\n");
    for c in catalogue {
        let note = if c.named_only {
            "  (runs only when named)"
        } else {
            ""
        };
        out.push_str(&format!("    {}{}\n", c.name(), note));
    }
    out
}

/// Everything a run is made of, once set up.
pub struct Run {
    pub settings: Settings,
    /// The runner and the statistics, behind the boundary every output and the web UI use.
    pub control: Arc<dyn RunControl>,
    /// `-H`, or the embedded service's address; `None` when every class names its own host.
    pub host: Option<String>,
    pub logs: LogBuffer,
    pub started_at: f64,
    /// A master's own handle (its run boundary is `control`).
    pub master: Option<cluster::MasterParts>,
    /// This process's health, sampled from setup to the final summary.
    pub health: HealthSampler,
    /// When the run's own end began (the `-t` limit, a signal, the web UI's quit): a worker
    /// that quits after it was let go, not lost.
    ended_at: OnceLock<f64>,
    /// Kept alive for the whole run when skein started the reference service itself.
    classifier: Option<classifier::LocalClassifier>,
}

impl Run {
    /// `catalogue`: every class the binary offers (what `skein::main` was given).
    pub async fn setup(
        settings: Settings,
        catalogue: &[UserClass],
        logs: LogBuffer,
    ) -> Result<Run> {
        let classes = choose_classes(&settings, catalogue, &settings.user_classes)?;
        if classes.is_empty() {
            return Err(exit(
                EXIT_STARTUP,
                "No user class has a task left to run (check -T/--tags and -E/--exclude-tags)",
            ));
        }
        if let Role::Master { .. } = settings.cluster.role {
            // The workers run the users (and, without -H, their own reference services).
            let parts = cluster::setup_master(&settings, &classes).await?;
            let control: Arc<dyn RunControl> = parts.control.clone();
            return Ok(Run {
                host: settings.host.clone(),
                settings,
                health: health::spawn_for_run(control.subscribe()),
                control,
                logs,
                started_at: wall_clock(),
                master: Some(parts),
                ended_at: OnceLock::new(),
                classifier: None,
            });
        }
        let (host, local) = choose_host(&settings, &classes).await?;
        let started_at = wall_clock();
        let hub = engine::hub::spawn_with(started_at, "local".into(), settings.stats_limits);
        let sessions = SessionFactory::new().context("could not set up HTTP sessions")?;
        skein_api::engine_support::set_max_body_size(settings.max_body_size);
        let runner = engine::runner::spawn(RunnerSetup {
            classes,
            host: host.clone(),
            stop_timeout: settings.stop_timeout,
            reset_stats_on_spawned: settings.reset_stats,
            hub: hub.clone(),
            sessions,
        });
        let control: Arc<dyn RunControl> = LocalRun::new(runner, hub);
        Ok(Run {
            settings,
            health: health::spawn_for_run(control.subscribe()),
            control,
            host,
            logs,
            started_at,
            master: None,
            ended_at: OnceLock::new(),
            classifier: local,
        })
    }
}

/// The named classes (all but the named-only ones when `names` is empty), filtered by tags.
fn choose_classes(
    settings: &Settings,
    catalogue: &[UserClass],
    names: &[String],
) -> Result<Vec<Arc<engine::ClassPlan>>> {
    engine::select_classes(
        catalogue,
        names,
        settings.tags.as_deref(),
        settings.exclude_tags.as_deref(),
    )
    .map_err(|unknown| {
        exit(
            EXIT_STARTUP,
            format!("Unknown User(s): {}", unknown.join(", ")),
        )
    })
}

/// As Locust: -H wins; without it, classes that name their own host use it; only when some
/// class has none does skein start its reference service for them (kept alive by the caller).
async fn choose_host(
    settings: &Settings,
    classes: &[Arc<engine::ClassPlan>],
) -> Result<(Option<String>, Option<classifier::LocalClassifier>)> {
    if let Some(h) = &settings.host {
        return Ok((Some(h.trim_end_matches('/').to_string()), None));
    }
    if classes.iter().all(|c| c.host.is_some()) {
        return Ok((None, None));
    }
    let delay = match std::env::var(classifier::DELAY_ENV) {
        Ok(v) => classifier::parse_delay_ms(&v)
            .map_err(|e| exit(2, format!("{}: {e}", classifier::DELAY_ENV)))?,
        Err(_) => std::time::Duration::ZERO,
    };
    let state = classifier::ClassifierState::new().with_delay(delay);
    let local = classifier::spawn_local_state(state, classifier::ServeOptions::default())
        .await
        .context("could not start the reference classifier service")?;
    let host = format!("http://{}", local.addr);
    tracing::info!("No --host given: started the reference classifier service on {host}");
    Ok((Some(host), Some(local)))
}

/// A headless run: start at once, end at `-t` or on `shutdown`, print and write the results.
pub async fn run_headless(run: Run, shutdown: CancellationToken) -> Result<i32> {
    let s = &run.settings;
    let paths =
        output::check_outputs(s).map_err(|e| exit(EXIT_STARTUP, format!("{e}: {}", e.source)))?;
    // Locust's order: the limit, the first (empty) table, then the ramp. The console task
    // prints at once when it starts, so the limit is logged before it.
    if let Some(t) = s.run_time {
        tracing::info!("Run time limit set to {} seconds", t.as_secs());
    }
    let mut outputs = Outputs::start(
        OutputPlan {
            csv_prefix: s.csv_prefix.as_deref(),
            csv_full_history: s.csv_full_history,
            console: !s.only_summary,
        },
        &run.control,
    )
    .map_err(|e| exit(EXIT_STARTUP, format!("{e}: {}", e.source)))?;

    outputs.first_table_printed().await;
    if !workers_ready(&run, &shutdown).await? {
        let outputs_ok = outputs.finish().await;
        return finish(&run, &paths, outputs_ok).await;
    }
    let started = match s.open_model {
        Some(open) => {
            run.control
                .arrive(engine::ArrivalOrder::new(open.rate, open.max_in_flight))
                .await
        }
        None => {
            let users = s.users.unwrap_or(1);
            let rate = s.spawn_rate.unwrap_or(1.0);
            run.control.start(users, rate, None, None).await
        }
    };
    if let Err(e) = started {
        let _ = outputs.finish().await;
        return Err(exit(EXIT_STARTUP, e.to_string()));
    }
    let deadline = async {
        match s.run_time {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let master_quit = async {
        match &run.master {
            Some(m) => m.handle.quit_requested.cancelled().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = deadline => tracing::info!("--run-time limit reached, shutting down"),
        // Locust logs nothing more here (on_signals logged a SIGTERM).
        _ = shutdown.cancelled() => {}
        // The master's own decision (the last worker quit), logged where it was taken.
        _ = master_quit => {}
    }
    end_users(&run).await;
    // The runner has ended every user, so everything they recorded is in the hub's queue; the
    // outputs' last tick comes after it.
    let outputs_ok = outputs.finish().await;
    finish(&run, &paths, outputs_ok).await
}

/// A master's headless or autostarted run first waits for `--expect-workers` ready workers;
/// `false` when a signal came first.
async fn workers_ready(run: &Run, shutdown: &CancellationToken) -> Result<bool> {
    match (&run.master, &run.settings.cluster.role) {
        (
            Some(m),
            Role::Master {
                expect_workers,
                expect_workers_max_wait,
                ..
            },
        ) => {
            cluster::wait_for_workers(
                &m.handle,
                *expect_workers,
                *expect_workers_max_wait,
                shutdown,
            )
            .await
        }
        _ => Ok(true),
    }
}

/// The end of the users: a standalone run stops its own; a master sends `quit` (as Locust's
/// master does at the end, with no `stop`) and waits for the workers' final reports.
async fn end_users(run: &Run) {
    let _ = run.ended_at.set(wall_clock());
    match &run.master {
        Some(m) => {
            m.handle.quit().await;
            cluster::drain_workers(&m.handle, run.settings.stop_timeout).await;
        }
        None => run.control.stop().await,
    }
}

/// What the command line asked for, once parsed.
// Built once per process; boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Job {
    Run(Settings),
    Bench(BenchSettings),
}

/// Runs a parsed command over the binary's classes: a Locust-style run or `skein bench` (whose
/// suite is skein's own, against the reference service, whatever the classes).
pub async fn run_job(
    job: Job,
    catalogue: &[UserClass],
    shutdown: CancellationToken,
) -> Result<i32> {
    match job {
        Job::Run(settings) => main(settings, catalogue, shutdown).await,
        Job::Bench(settings) => {
            // Warnings only: the bench's own progress line and summary are its output.
            crate::logging::init(tracing::Level::WARN, None)?;
            crate::bench::run(settings, shutdown).await
        }
    }
}

/// The process's whole life after the command line: logging, then the run.
pub async fn main(
    settings: Settings,
    catalogue: &[UserClass],
    shutdown: CancellationToken,
) -> Result<i32> {
    let logs = crate::logging::init(settings.loglevel.to_tracing(), settings.logfile.as_deref())?;
    if settings.list {
        print!("{}", list_classes(catalogue));
        return Ok(0);
    }
    tracing::info!("Starting skein {}", env!("CARGO_PKG_VERSION"));
    if let Some(f) = &settings.locustfile {
        tracing::warn!("-f/--locustfile {f} is ignored: the user classes are compiled into this binary (see -l)");
    }
    if let Role::Worker { .. } = settings.cluster.role {
        if !settings.checks.is_empty() {
            tracing::warn!(
                "--check is ignored on a worker: the master evaluates the checks on the merged statistics"
            );
        }
        return match settings.cluster.processes {
            // `--worker --processes N`: this parent only waits for its N workers.
            Some(n) => {
                let port = match settings.cluster.role {
                    Role::Worker { master_port, .. } => master_port,
                    _ => unreachable!(),
                };
                let children = cluster::LocalWorkers::spawn(&settings, n, port)?;
                Ok(children.wait(&shutdown, Duration::from_secs(30)).await)
            }
            None => cluster::run_worker(settings, catalogue, logs, shutdown).await,
        };
    }
    let run = Run::setup(settings, catalogue, logs).await?;
    let children = match (&run.master, run.settings.cluster.processes) {
        (Some(m), Some(n)) => Some(cluster::LocalWorkers::spawn(
            &run.settings,
            n,
            m.handle.port,
        )?),
        _ => None,
    };
    let code = if run.settings.headless {
        run_headless(run, shutdown).await
    } else {
        run_web(run, shutdown).await
    };
    match children {
        Some(c) => {
            let children_code = c.finish(Duration::from_secs(10)).await;
            Ok(code?.max(children_code))
        }
        None => code,
    }
}

/// With the web UI: serve it, start when asked (or at once with `--autostart`), stop at `-t`,
/// quit on a signal or `--autoquit`.
pub async fn run_web(run: Run, shutdown: CancellationToken) -> Result<i32> {
    let s = &run.settings;
    let csv_history_path = match &s.csv_prefix {
        Some(prefix) if s.csv_full_history => Some(std::path::PathBuf::from(format!(
            "{prefix}_stats_history.csv"
        ))),
        _ => None,
    };
    let paths =
        output::check_outputs(s).map_err(|e| exit(EXIT_STARTUP, format!("{e}: {}", e.source)))?;
    let outputs = Outputs::start(
        OutputPlan {
            csv_prefix: s.csv_prefix.as_deref(),
            csv_full_history: s.csv_full_history,
            console: s.web.print_stats,
        },
        &run.control,
    )
    .map_err(|e| exit(EXIT_STARTUP, format!("{e}: {}", e.source)))?;
    let controller = Controller::new(
        run.control.clone(),
        run.logs.clone(),
        RunInfo {
            num_users: s.users,
            spawn_rate: s.spawn_rate,
            run_time: s.run_time,
            csv_history_path,
            autoquit: s.web.autoquit.map(|after| (after, shutdown.clone())),
            checks: s.checks.clone(),
            open_model: s.open_model,
            health: Some(run.health.watch()),
        },
    );
    let options = WebOptions {
        base_path: s.web.base_path.clone(),
        auth: s.web.auth.clone(),
        stats_history_enabled: s.csv_full_history && s.csv_prefix.is_some(),
        class_picker: true,
        allowed_origins: s.web.allowed_origins.clone(),
        ..WebOptions::default()
    };
    let router = web::router(controller.clone(), options);
    let host = s.web.bind_host();
    let bind = if host.contains(':') {
        format!("[{host}]:{}", s.web.port)
    } else {
        format!("{host}:{}", s.web.port)
    };
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| {
        exit(
            EXIT_STARTUP,
            format!("cannot start the web UI on {bind}: {e}"),
        )
    })?;
    let addr = listener.local_addr().context("web UI address")?;
    let scheme = if s.web.tls.is_some() { "https" } else { "http" };
    tracing::info!(
        "Starting web interface at {scheme}://{addr}{}",
        s.web.base_path
    );
    if let Some(warning) = web::exposure_warning(addr, s.web.auth.is_some()) {
        tracing::warn!("{warning}");
    }
    let web_stop = CancellationToken::new();
    let server = tokio::spawn(web::serve(
        listener,
        router,
        s.web.tls.clone(),
        web_stop.clone().cancelled_owned(),
    ));

    if s.web.autostart && workers_ready(&run, &shutdown).await? {
        // Through the controller, so a Stop and a new swarm from the UI cancel the -t timer.
        let swarm = web::SwarmRequest {
            user_count: s.users.unwrap_or(1),
            spawn_rate: s.spawn_rate.unwrap_or(1.0),
            host: None,
            run_time: s.run_time,
            user_classes: None,
            profile: None,
            extra: Vec::new(),
        };
        web::Backend::swarm(&*controller, swarm)
            .await
            .map_err(|e| exit(EXIT_STARTUP, e))?;
    }
    let server_result = tokio::select! {
        _ = shutdown.cancelled() => None,
        r = &mut Box::pin(server) => Some(r),
    };
    tracing::info!("Shutting down");
    end_users(&run).await;
    web_stop.cancel();
    let outputs_ok = outputs.finish().await;
    if let Some(r) = server_result {
        r.context("web server task")?.context("web server")?;
    }
    finish(&run, &paths, outputs_ok).await
}

/// Cancels `token` on Ctrl-C or SIGTERM (Locust runs the same shutdown for both); a second
/// signal ends the process at once, for when a long stop timeout is not worth waiting for.
pub fn on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let mut signals = Signals::new();
        if signals.next().await {
            tracing::info!("Got SIGTERM signal");
        }
        token.cancel();
        signals.next().await;
        eprintln!("skein: second signal: quitting without waiting for users to stop");
        std::process::exit(1);
    });
}

struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        Signals {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    /// Waits for the next Ctrl-C or SIGTERM; `true` for a SIGTERM (Locust logs only that one).
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        if let Some(term) = self.term.as_mut() {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => false,
                _ = term.recv() => true,
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        false
    }
}
