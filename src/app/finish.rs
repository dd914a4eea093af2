//! The end of a run: the final summary, `--json`, `--html`, the open-model file, the checks,
//! the generator's block and verdict, all built in one read of the statistics, then the exit
//! code.

use std::io::Write;

use anyhow::{Context, Result};

use super::Run;
use crate::checks;
use crate::config::Settings;
use crate::engine::wall_clock;
use crate::health;
use crate::output;
use crate::report;
use crate::web;

/// The end of a run logs as the rest of the app does (`skein.app`), as tests and users grep for.
const LOG_TARGET: &str = "skein::app";

/// The final summary, `--json`, `--html`, and the exit code (Locust's `shutdown`). An output
/// that cannot be written is logged and gives [`output::EXIT_OUTPUT_FAILED`]; the summary is
/// printed all the same.
pub async fn finish(run: &Run, paths: &output::OutputPaths, outputs_ok: bool) -> Result<i32> {
    let s = &run.settings;
    let mut outputs_ok = outputs_ok;
    let generator = run.health.finish().await;
    if run
        .master
        .as_ref()
        .is_some_and(|m| m.handle.status().cpu_warning)
    {
        tracing::warn!(target: LOG_TARGET, "{}", health::sampler::WORKER_CPU_WARNING_AT_END);
    }
    let ended_at = run.ended_at.get().copied();
    let status = run.control.status();
    let classes = run.control.classes().to_vec();
    let host = run.host.clone();
    let html = paths.html.is_some();
    let rules = s.checks.clone();
    let with_target = run.classifier.is_some();
    let summary_file = paths.summary_json_file.is_some();
    // Everything is built where the statistics live; only the IO happens here.
    let end = run
        .control
        .read(move |v| {
            let checks = checks::evaluate(&rules, v.stats, wall_clock());
            let verdict = health::assess(&generator, &status, v.stats, v.open, ended_at);
            let failed = !v.stats.errors_in_order().is_empty() || !v.exceptions.is_empty();
            FinalTexts {
                summary_json: summary_file.then(|| {
                    let j =
                        report::summary::run_summary(&checks, &verdict, &generator, v.open, failed);
                    report::json::dumps(&j, Some(4))
                }),
                html: html.then(|| {
                    let mut args =
                        report::page::report_args(v, &status, &classes, host.as_deref(), &checks);
                    report::page::add_health(&mut args, &generator, &verdict);
                    web::render_report(&args)
                }),
                json: report::json::entries_json(v.stats),
                failed,
                summary: format!(
                    "{}{}{}{}",
                    report::console::stats_table(v.stats, false),
                    report::console::percentiles_table(v.stats),
                    report::console::error_report(v.stats),
                    report::open::summary(v.open).unwrap_or_default()
                ),
                open_json: report::open::summary_json(v.open)
                    .map(|j| report::json::dumps(&j, Some(4))),
                checks,
                health: health::text::final_text(&generator, &verdict, with_target),
                verdict: verdict.line(),
            }
        })
        .await
        .context("statistics hub ended early")?;
    if let (Some(path), Some(html)) = (&paths.html, &end.html) {
        if let Err(e) = output::write_file(path, html) {
            tracing::error!(target: LOG_TARGET, "cannot write the HTML report {path}: {e}");
            outputs_ok = false;
        }
    }
    let json = end.json;
    // Written before the exit code is decided (Locust writes it just after), so that the
    // code can say whether it failed.
    if let Some(p) = &paths.json_file {
        if let Err(e) = std::fs::write(p, &json) {
            tracing::error!(target: LOG_TARGET, "cannot write {}: {e}", p.display());
            outputs_ok = false;
        }
    }
    if let (Some(p), Some(text)) = (&paths.open_json_file, &end.open_json) {
        if let Err(e) = std::fs::write(p, text) {
            tracing::error!(target: LOG_TARGET, "cannot write {}: {e}", p.display());
            outputs_ok = false;
        }
    }
    if let (Some(p), Some(text)) = (&paths.summary_json_file, &end.summary_json) {
        if let Err(e) = std::fs::write(p, text) {
            tracing::error!(target: LOG_TARGET, "cannot write {}: {e}", p.display());
            outputs_ok = false;
        }
    }
    let code = exit_code(outputs_ok, checks::failed(&end.checks), end.failed, s);
    tracing::info!(target: LOG_TARGET, "Shutting down (exit code {code})");
    if s.json {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{json}");
        let _ = o.flush();
    }
    // The verdict never changes the exit code: it says how far to trust the numbers.
    if s.json_file.is_none() {
        output::print_block(&format!("{}{}", end.summary, end.health));
    } else {
        tracing::info!(target: LOG_TARGET, "{}", end.verdict);
    }
    // Printed even when --json-file leaves the summary out: a CI log must say why it failed.
    output::print_block(&checks::console_block(&end.checks));
    Ok(code)
}

/// The run's exit code: an output that could not be written (74), else a failed check (3),
/// else recorded failures or exceptions (`--exit-code-on-error`), else 0.
pub(super) fn exit_code(outputs_ok: bool, checks_failed: bool, failed: bool, s: &Settings) -> i32 {
    if !outputs_ok {
        output::EXIT_OUTPUT_FAILED
    } else if checks_failed {
        checks::EXIT_CHECK_FAILED
    } else if failed {
        s.exit_code_on_error
    } else {
        0
    }
}

/// What the end of a run writes and prints, built in one read of the statistics.
struct FinalTexts {
    html: Option<String>,
    json: String,
    /// The open model's summary as JSON, in an open-model run.
    open_json: Option<String>,
    /// skein's combined summary, with `--json-file`.
    summary_json: Option<String>,
    failed: bool,
    summary: String,
    checks: Vec<checks::CheckResult>,
    /// The generator block and the verdict line.
    health: String,
    verdict: String,
}
