//! The rate-driven tests: health, model info and classification. Iterations start at `--rps`
//! per second for `--duration` seconds whatever the response times (the open model), so the
//! measured latency is not bent by the service's slowness. Classification uploads images of
//! 224, 512, 1024 and 2048 px (one stats row each) and keeps the top prediction's probability.

use std::time::Duration;

use anyhow::Result;
use serde_json::Value;
use skein_scenarios::bench::{self as workload, ConfidenceCollector};

use crate::config::BenchTest;
use crate::engine::{self, wall_clock};

use super::progress::{Progress, Total};
use super::results::TableFigures;
use super::{drive, header, Ctx, Outcome};

/// Defaults when `--duration`/`--rps` are not given (the README's example commands).
pub fn default_duration(test: BenchTest, comprehensive: bool) -> Duration {
    match (test, comprehensive) {
        (_, true) => Duration::from_secs(30),
        (BenchTest::Classification, false) => Duration::from_secs(120),
        _ => Duration::from_secs(60),
    }
}

pub fn default_rps(test: BenchTest) -> f64 {
    match test {
        BenchTest::Classification => 10.0,
        _ => 20.0,
    }
}

/// Virtual users the open model may use at once when `--workers` is not given.
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 100;

pub async fn run(ctx: &Ctx, test: BenchTest) -> Result<Outcome> {
    let s = &ctx.settings;
    let duration = s
        .duration
        .unwrap_or(default_duration(test, ctx.comprehensive));
    let rps = s.rps.unwrap_or(default_rps(test));
    let max_in_flight = s.workers.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
    let confidence = ConfidenceCollector::new();
    let class = match test {
        BenchTest::Health => workload::health_user(),
        BenchTest::ModelInfo => workload::model_info_user(),
        _ => workload::classify_user(&workload::BENCH_SIDES, &confidence)?,
    };
    let hub = engine::hub::spawn(wall_clock(), "local".into());
    let runner = drive::closed(&class, &ctx.target.url, &hub)?;
    let progress = Progress::start(
        test.as_str(),
        Total::Seconds(duration.as_secs_f64()),
        hub.clone(),
    );
    let started = tokio::time::Instant::now();
    drive::rate(&runner, rps, max_in_flight).await?;
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = ctx.cancel.cancelled() => {}
    }
    runner.stop().await;
    let elapsed = started.elapsed().as_secs_f64();
    let timeline = progress.finish().await;
    let (rules, notes) = super::targets::rules_at_rate(test, &s.checks, rps);
    let (figures, checks, open) = hub
        .read(move |v| {
            (
                TableFigures::of(v.stats, elapsed),
                crate::checks::evaluate(&rules, v.stats, wall_clock()),
                drive::open_figures(v),
            )
        })
        .await
        .ok_or_else(|| anyhow::anyhow!("statistics hub ended early"))?;
    let mut json = header(ctx, test);
    json.insert(
        "config".into(),
        serde_json::json!({
            "duration_s": duration.as_secs_f64(),
            "rps": rps,
            "max_in_flight": max_in_flight,
        }),
    );
    json.insert("elapsed_s".into(), elapsed.into());
    super::extend(&mut json, &figures.total);
    json.insert("endpoints".into(), serde_json::to_value(&figures.rows)?);
    json.insert("error_types".into(), serde_json::to_value(&figures.errors)?);
    json.insert("open_model".into(), open);
    if test == BenchTest::Classification {
        json.insert("confidence".into(), confidence_json(&confidence));
    }
    json.insert("timeline".into(), serde_json::to_value(&timeline)?);
    let failed = crate::checks::failed(&checks);
    json.insert("checks".into(), crate::checks::to_json(&checks));
    json.insert("notes".into(), notes.clone().into());
    let mut summary = summary_text(test, &json);
    for n in notes {
        summary.push_str(&format!("note: {n}\n"));
    }
    Ok(Outcome {
        test,
        json: Value::Object(json),
        summary,
        code: if failed { super::EXIT_CHECK_FAILED } else { 0 },
    })
}

fn confidence_json(c: &ConfidenceCollector) -> Value {
    let s = c.summary();
    let width = 1.0 / workload::CONFIDENCE_BUCKETS as f64;
    let buckets: Vec<Value> = s
        .buckets
        .iter()
        .enumerate()
        .map(|(i, n)| serde_json::json!({"lo": i as f64 * width, "hi": (i + 1) as f64 * width, "count": n}))
        .collect();
    serde_json::json!({
        "count": s.count,
        "min": s.min,
        "max": s.max,
        "mean": s.mean(),
        "histogram": buckets,
    })
}

/// The readable summary of a rate-driven test, from its JSON.
pub fn summary_text(test: BenchTest, json: &serde_json::Map<String, Value>) -> String {
    let mut out = super::report_md::figures_block(test.as_str(), json);
    out.push_str(&super::report_md::rows_table(json.get("endpoints")));
    if let Some(c) = json.get("confidence") {
        out.push_str(&format!(
            "Top-prediction probability: n={} mean={} min={} max={}\n",
            c["count"],
            fmt_opt(&c["mean"]),
            fmt_opt(&c["min"]),
            fmt_opt(&c["max"])
        ));
    }
    out.push_str(&super::report_md::open_block(json.get("open_model")));
    out.push_str(&super::report_md::checks_block(json.get("checks")));
    out
}

fn fmt_opt(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |x| format!("{x:.3}"))
}
