//! The stress test: classification (224 px) in the closed model with no wait, at concurrency
//! ramped in steps (1, 2, 5, 10, 20, 50, … up to `--workers`), `--duration` split evenly over
//! the steps. Per step: throughput, p50/p95/p99 and error rate (the statistics restart at each
//! step, once its users run); then the highest concurrency that still meets the classification
//! targets (p95 < 500 ms, error rate < 0.1 %), where it degrades, and where throughput stops
//! growing (a step gaining less than 10 % over the best before it).

use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{json, Value};
use skein_scenarios::bench::{self as workload, ConfidenceCollector};

use crate::config::BenchTest;
use crate::engine::{self, wall_clock};
use crate::stats::RequestStats;
#[cfg(test)]
use crate::stats::StatsEntry;

use super::analysis::step_plan;
use super::progress::{Progress, Total};
use super::results::{Figures, TableFigures};
use super::{drive, header, Ctx, Outcome};

pub const DEFAULT_WORKERS: u64 = 50;
pub fn default_duration(comprehensive: bool) -> Duration {
    Duration::from_secs(if comprehensive { 60 } else { 300 })
}
/// A step meets the targets below these (the README's classification targets).
pub const STEP_P95_MS: f64 = 500.0;
pub const STEP_MAX_ERROR_RATE: f64 = 0.001;
/// A step gaining less than this over the best throughput before it is the plateau.
const PLATEAU_GAIN: f64 = 1.10;
/// How long a step may take to get its users running before it is measured anyway.
const SPAWN_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub users: u64,
    pub seconds: f64,
    #[serde(flatten)]
    pub figures: Figures,
    pub error_rate: f64,
    pub meets_targets: bool,
}

/// The step analysis (pure): highest users meeting the targets, first failing, plateau.
pub fn analyse(steps: &[Step]) -> (Option<u64>, Option<u64>, Option<u64>) {
    let best_ok = steps
        .iter()
        .filter(|s| s.meets_targets)
        .map(|s| s.users)
        .max();
    let degrades = steps.iter().find(|s| !s.meets_targets).map(|s| s.users);
    let mut best = 0.0f64;
    let mut plateau = None;
    for (i, s) in steps.iter().enumerate() {
        let rps = s.figures.requests_per_second;
        if i > 0 && plateau.is_none() && rps < best * PLATEAU_GAIN {
            plateau = Some(s.users);
        }
        best = best.max(rps);
    }
    (best_ok, degrades, plateau)
}

pub fn meets(f: &Figures) -> bool {
    f.total_requests > 0
        && f.p95_response_time * 1000.0 < STEP_P95_MS
        && f.error_rate() < STEP_MAX_ERROR_RATE
}

pub async fn run(ctx: &Ctx) -> Result<Outcome> {
    let test = BenchTest::Stress;
    let s = &ctx.settings;
    let workers = s.workers.unwrap_or(DEFAULT_WORKERS);
    let duration = s.duration.unwrap_or(default_duration(ctx.comprehensive));
    let plan = step_plan(workers);
    let step_secs = (duration.as_secs_f64() / plan.len() as f64).max(1.0);
    let class = workload::classify_user(&[224], &ConfidenceCollector::new())?;
    let hub = engine::hub::spawn(wall_clock(), "local".into());
    let runner = drive::closed(&class, &ctx.target.url, &hub)?;
    let progress = Progress::start(
        test.as_str(),
        Total::Seconds(step_secs * plan.len() as f64),
        hub.clone(),
    );
    let started = tokio::time::Instant::now();
    let mut steps = Vec::new();
    // Every step's report merged: the test's own table, for its totals, rows, errors and checks.
    let mut overall = RequestStats::new(wall_clock());
    for &users in &plan {
        if ctx.cancel.is_cancelled() {
            break;
        }
        runner
            .start(users, users as f64 * 10.0, None, None)
            .await
            .context("cannot start the stress step")?;
        let mut status = runner.subscribe();
        let _ =
            tokio::time::timeout(SPAWN_WAIT, status.wait_for(|st| st.user_count >= users)).await;
        // What the ramp recorded belongs to no step.
        hub.take_report(wall_clock())
            .await
            .context("statistics hub ended early")?;
        let step_started = tokio::time::Instant::now();
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(step_secs)) => {}
            _ = ctx.cancel.cancelled() => {}
        }
        let secs = step_started.elapsed().as_secs_f64();
        let now = wall_clock();
        let report = hub
            .take_report(now)
            .await
            .context("statistics hub ended early")?;
        let mut table = RequestStats::new(now);
        table.merge_report(&report, now);
        overall.merge_report(&report, now);
        let figures = Figures::of(table.total(), secs);
        steps.push(Step {
            users,
            seconds: secs,
            error_rate: figures.error_rate(),
            meets_targets: meets(&figures),
            figures,
        });
    }
    runner.stop().await;
    let elapsed = started.elapsed().as_secs_f64();
    let timeline = progress.finish().await;
    let measured: f64 = steps.iter().map(|s| s.seconds).sum();
    let table = TableFigures::of(&overall, measured);
    let total = table.total.clone();
    let (best_ok, degrades, plateau) = analyse(&steps);
    let rules = super::targets::rules(test, &s.checks);
    let checks = crate::checks::evaluate(&rules, &overall, wall_clock());
    let mut json = header(ctx, test);
    json.insert(
        "config".into(),
        json!({"workers": workers, "duration_s": duration.as_secs_f64(), "step_s": step_secs, "steps": plan}),
    );
    json.insert("elapsed_s".into(), elapsed.into());
    super::extend(&mut json, &total);
    json.insert("endpoints".into(), serde_json::to_value(&table.rows)?);
    json.insert("error_types".into(), serde_json::to_value(&table.errors)?);
    json.insert("steps".into(), serde_json::to_value(&steps)?);
    json.insert("max_concurrency_meeting_targets".into(), json!(best_ok));
    json.insert("degrades_at".into(), json!(degrades));
    json.insert("throughput_plateau_at".into(), json!(plateau));
    json.insert("timeline".into(), serde_json::to_value(&timeline)?);
    let failed = crate::checks::failed(&checks);
    json.insert("checks".into(), crate::checks::to_json(&checks));
    let mut summary = super::report_md::figures_block(test.as_str(), &json);
    summary.push_str(&super::report_md::extra_text(&json));
    summary.push_str(&super::report_md::checks_block(json.get("checks")));
    Ok(Outcome {
        test,
        json: Value::Object(json),
        summary,
        code: if failed { super::EXIT_CHECK_FAILED } else { 0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(users: u64, rps: f64, ok: bool) -> Step {
        let mut f = Figures::of(&StatsEntry::new("x", "GET", false, 0.0), 1.0);
        f.requests_per_second = rps;
        Step {
            users,
            seconds: 1.0,
            figures: f,
            error_rate: 0.0,
            meets_targets: ok,
        }
    }

    #[test]
    fn step_analysis() {
        let steps = [
            step(1, 10.0, true),
            step(2, 19.0, true),
            step(5, 40.0, true),
            step(10, 42.0, true),
            step(20, 41.0, false),
        ];
        assert_eq!(analyse(&steps), (Some(10), Some(20), Some(10)));
        assert_eq!(analyse(&[]), (None, None, None));
        assert_eq!(analyse(&[step(1, 5.0, false)]), (None, Some(1), None));
    }
}
