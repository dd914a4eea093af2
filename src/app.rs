//! Turns validated settings into a run and an exit code: chooses the classes and the target
//! (the embedded reference service when no host is given), wires the engine to its outputs,
//! runs until `-t` or a signal, and writes the final statistics. Nothing collected is lost on
//! the way out: the runner is stopped and the hub drained before the last outputs are written.

use std::io::Write;


use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use crate::classifier;
use crate::config::Settings;
use crate::engine::{self, wall_clock, RunnerHandle, RunnerSetup, SessionFactory};
use crate::logging::LogBuffer;
use crate::output::{self, CsvFiles};
use crate::report;

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
    Exit { code, message: message.into() }.into()
}

/// `-l/--list`: the class names, as Locust prints them.
pub fn list_classes() -> String {
    let mut out = String::from("Available Users:\n");
    for c in skein_scenarios::catalogue() {
        let note = if c.named_only { "  (runs only when named)" } else { "" };
        out.push_str(&format!("    {}{}\n", c.name(), note));
    }
    out
}

/// Everything a run is made of, once set up.
pub struct Run {
    pub settings: Settings,
    pub runner: RunnerHandle,
    pub hub: engine::HubHandle,
    pub host: String,
    pub logs: LogBuffer,
    pub started_at: f64,
    /// Kept alive for the whole run when skein started the reference service itself.
    _classifier: Option<classifier::LocalClassifier>,
}

impl Run {
    pub async fn setup(settings: Settings, logs: LogBuffer) -> Result<Run> {
        let catalogue = skein_scenarios::catalogue();
        let classes = engine::select_classes(
            &catalogue,
            &settings.user_classes,
            settings.tags.as_deref(),
            settings.exclude_tags.as_deref(),
        )
        .map_err(|unknown| exit(EXIT_STARTUP, format!("Unknown User(s): {}", unknown.join(", "))))?;
        if classes.is_empty() {
            return Err(exit(EXIT_STARTUP, "No user class has a task left to run (check -T/--tags and -E/--exclude-tags)"));
        }
        let (host, local) = match &settings.host {
            Some(h) => (h.trim_end_matches('/').to_string(), None),
            None => {
                let local = classifier::spawn_local().await.context("could not start the reference classifier service")?;
                let host = format!("http://{}", local.addr);
                tracing::info!("No --host given: started the reference classifier service on {host}");
                (host, Some(local))
            }
        };
        let started_at = wall_clock();
        let hub = engine::hub::spawn(started_at, "local".to_string());
        let sessions = SessionFactory::new().context("could not set up HTTP sessions")?;
        let runner = engine::runner::spawn(RunnerSetup {
            classes,
            host: Some(host.clone()),
            stop_timeout: settings.stop_timeout,
            reset_stats_on_spawned: settings.reset_stats,
            hub: hub.clone(),
            sessions,
        });
        Ok(Run { settings, runner, hub, host, logs, started_at, _classifier: local })
    }
}

/// A headless run: start at once, end at `-t` or on `shutdown`, print and write the results.
pub async fn run_headless(run: Run, shutdown: CancellationToken) -> Result<i32> {
    let s = &run.settings;
    let stop_outputs = CancellationToken::new();
    let csv = match &s.csv_prefix {
        Some(prefix) => Some(output::spawn_csv_writer(
            CsvFiles::create(prefix, s.csv_full_history)?,
            run.hub.clone(),
            run.runner.subscribe(),
            stop_outputs.clone(),
        )),
        None => None,
    };
    let tables_to_stderr = s.json;
    let console = (!s.only_summary).then(|| output::spawn_console(run.hub.clone(), stop_outputs.clone(), tables_to_stderr));
    let history = output::spawn_history(run.hub.clone(), run.runner.subscribe(), stop_outputs.clone());

    let users = s.users.unwrap_or(1);
    let rate = s.spawn_rate.unwrap_or(1.0);
    if let Err(e) = run.runner.start(users, rate, None, None).await {
        stop_outputs.cancel();
        return Err(exit(EXIT_STARTUP, e));
    }
    if let Some(t) = s.run_time {
        tracing::info!("Run time limit set to {} seconds", t.as_secs());
    }
    let deadline = async {
        match s.run_time {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = deadline => tracing::info!("--run-time limit reached, shutting down"),
        _ = shutdown.cancelled() => tracing::info!("Shutting down"),
    }
    run.runner.stop().await;
    // The runner has ended every user, so everything they recorded is in the hub's queue; the
    // outputs' last tick below comes after it.
    stop_outputs.cancel();
    if let Some(csv) = csv {
        csv.await.context("CSV writer task")??;
    }
    if let Some(console) = console {
        let _ = console.await;
    }
    let _ = history.await;
    finish(&run).await
}

/// The final summary, `--json`, and the exit code (Locust's `shutdown`).
pub async fn finish(run: &Run) -> Result<i32> {
    let s = &run.settings;
    let snap = run.hub.snapshot().await.context("statistics hub ended early")?;
    let json = report::json::entries_json(&snap.stats);
    if let Some(path) = &s.json_file {
        let mut p = path.clone().into_os_string();
        p.push(".json");
        std::fs::write(&p, &json).with_context(|| format!("cannot write {}", p.to_string_lossy()))?;
    } else {
        let summary = format!(
            "{}\n{}\n{}",
            report::console::stats_table(&snap.stats, false),
            report::console::percentiles_table(&snap.stats),
            report::console::error_report(&snap.stats)
        );
        output::print_block(&summary, s.json);
    }
    if s.json {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{json}");
    }
    let failed = !snap.stats.errors().is_empty() || !snap.exceptions.is_empty();
    let code = if failed { s.exit_code_on_error } else { 0 };
    tracing::info!("Shutting down (exit code {code})");
    Ok(code)
}

/// The process's whole life after the command line: logging, then the run.
pub async fn main(settings: Settings, shutdown: CancellationToken) -> Result<i32> {
    let logs = crate::logging::init(settings.loglevel.to_tracing(), settings.logfile.as_deref())
        .with_context(|| "cannot open the log file".to_string())?;
    if settings.list {
        print!("{}", list_classes());
        return Ok(0);
    }
    if !settings.headless {
        return Err(exit(
            EXIT_STARTUP,
            "skein has no web UI yet: only headless runs exist so far. Run with --headless (e.g. skein --headless -u 50 -r 10 -t 30s)",
        ));
    }
    let run = Run::setup(settings, logs).await?;
    run_headless(run, shutdown).await
}

/// Cancels `token` on Ctrl-C or SIGTERM (Locust runs the same shutdown for both).
pub fn on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        token.cancel();
    });
}

