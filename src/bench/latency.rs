//! The latency test: `--iterations` single classification requests (224 px) one after another
//! on one connection, so each latency is the service's alone. Locust-exact p50/p95/p99 from the
//! hub, and from the raw latencies (bounded by the iteration cap) a histogram and the outliers
//! beyond Q3 + 1.5 IQR.

use anyhow::Result;
use serde_json::{json, Value};
use skein_scenarios::bench::{self as workload, ConfidenceCollector};

use crate::config::{BenchTest, MAX_ITERATIONS};
use crate::engine::{self, wall_clock};

use super::analysis;
use super::progress::{Progress, Total};
use super::recorder::Recorder;
use super::{drive, header, Ctx, Outcome};

pub const DEFAULT_ITERATIONS: u64 = 1000;
/// Bins of the latency histogram.
const BINS: usize = 20;

pub async fn run(ctx: &Ctx) -> Result<Outcome> {
    let test = BenchTest::Latency;
    let iterations = ctx
        .settings
        .iterations
        .unwrap_or(DEFAULT_ITERATIONS)
        .min(MAX_ITERATIONS);
    let class = workload::classify_user(&[224], &ConfidenceCollector::new())?;
    let hub = engine::hub::spawn(wall_clock(), "local".into());
    let recorder = Recorder::new(hub.clone(), iterations as usize);
    let progress = Progress::start(test.as_str(), Total::Requests(iterations), hub.clone());
    let started = tokio::time::Instant::now();
    let done = drive::sequential(
        &class,
        &ctx.target.url,
        recorder.clone(),
        iterations,
        ctx.cancel.clone(),
    )
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let timeline = progress.finish().await;
    let rules = super::targets::rules(test, &ctx.settings.checks);
    let (figures, checks) = super::targets::figures_and_checks(&hub, rules, elapsed).await?;
    let samples = recorder.samples();
    let mut json = header(ctx, test);
    json.insert("config".into(), json!({ "iterations": iterations }));
    json.insert("iterations_run".into(), done.into());
    json.insert("elapsed_s".into(), elapsed.into());
    super::extend(&mut json, &figures.total);
    json.insert("endpoints".into(), serde_json::to_value(&figures.rows)?);
    json.insert("error_types".into(), serde_json::to_value(&figures.errors)?);
    json.insert("histogram".into(), histogram_json(&samples));
    json.insert("outliers".into(), outliers_json(&samples));
    json.insert("timeline".into(), serde_json::to_value(&timeline)?);
    let failed = crate::checks::failed(&checks);
    json.insert("checks".into(), crate::checks::to_json(&checks));
    let mut summary = super::report_md::figures_block(test.as_str(), &json);
    summary.push_str(&super::report_md::extra_text(&json));
    summary.push_str(&histogram_text(&samples));
    summary.push_str(&super::report_md::checks_block(json.get("checks")));
    Ok(Outcome {
        test,
        json: Value::Object(json),
        summary,
        code: if failed { super::EXIT_CHECK_FAILED } else { 0 },
    })
}

fn histogram_json(samples: &[f64]) -> Value {
    analysis::histogram(samples, BINS)
        .into_iter()
        .map(|b| json!({"lo_ms": b.lo, "hi_ms": b.hi, "count": b.count}))
        .collect()
}

fn outliers_json(samples: &[f64]) -> Value {
    match analysis::outliers(samples) {
        Some(o) => json!({
            "q1_ms": o.q1,
            "q3_ms": o.q3,
            "iqr_ms": o.iqr,
            "threshold_ms": o.threshold,
            "count": o.count,
            "largest_ms": o.largest,
        }),
        None => Value::Null,
    }
}

/// A text histogram: one bar of `#` per bin, scaled to 40 characters.
fn histogram_text(samples: &[f64]) -> String {
    let bins = analysis::histogram(samples, BINS);
    let most = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let mut out = String::from("Response time histogram:\n");
    for b in bins {
        let bar = "#".repeat((b.count * 40).div_ceil(most) as usize);
        out.push_str(&format!(
            "  {:>9.1} - {:>9.1} ms {:>7} {bar}\n",
            b.lo, b.hi, b.count
        ));
    }
    out
}
