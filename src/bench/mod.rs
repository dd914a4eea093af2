//! `skein bench`: the service's benchmark suite (its `benchmark.py --test …`), run natively.
//!
//! Each test family has its file: [`endpoints`] (health, model info, classification: open-model
//! rates), [`stress`] (closed model in concurrency steps), [`latency`] and [`memory`]
//! (sequential single requests), [`comprehensive`] (all in sequence, one Markdown, JSON and
//! HTML report). They share the target and drivers ([`drive`]), the hub's Locust-exact
//! statistics read into the README's fields ([`results`]), the pass/fail targets
//! ([`targets`]), the progress line ([`progress`]) and the pure statistics ([`analysis`]).
//!
//! Exit codes: 0 every check passed, 1 the test could not run (or measure), 2 bad arguments
//! (from the command line parser), 3 a check failed.

pub mod analysis;
pub mod comprehensive;
pub mod drive;
pub mod endpoints;
pub mod latency;
pub mod memory;
pub mod progress;
pub mod recorder;
pub mod report_html;
pub mod report_md;
pub mod results;
pub mod stress;
pub mod targets;

use anyhow::{Context, Result};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::{BenchSettings, BenchTest};

/// A check failed.
pub const EXIT_CHECK_FAILED: i32 = 3;
/// The test ran but could not measure what it is for (the memory test without a source).
pub const EXIT_NOT_MEASURED: i32 = 1;

/// What a test leaves behind.
pub struct Outcome {
    pub test: BenchTest,
    /// The whole JSON result (README fields, breakdowns, errors, checks).
    pub json: Value,
    /// The readable summary printed at the end.
    pub summary: String,
    /// The exit code this test alone asks for.
    pub code: i32,
}

/// What every test is given.
pub struct Ctx {
    pub settings: BenchSettings,
    pub target: drive::Target,
    pub cancel: CancellationToken,
    /// Inside `--test comprehensive` (shorter defaults, files written once at the end).
    pub comprehensive: bool,
}

/// Runs `skein bench`, prints each test's summary and gives the exit code.
pub async fn run(settings: BenchSettings, shutdown: CancellationToken) -> Result<i32> {
    // An output directory that cannot be made fails before any request, not after the test.
    std::fs::create_dir_all(&settings.output_dir).with_context(|| {
        format!(
            "cannot create the output directory {}",
            settings.output_dir.display()
        )
    })?;
    let target = drive::Target::start(settings.url.as_deref()).await?;
    // The large images take a moment of CPU to build: before the clock starts, off the runtime.
    tokio::task::spawn_blocking(skein_scenarios::images::prepare_bench).await?;
    let test = settings.test;
    let ctx = Ctx {
        settings,
        target,
        cancel: shutdown,
        comprehensive: test == BenchTest::Comprehensive,
    };
    if test == BenchTest::Comprehensive {
        return comprehensive::run(&ctx).await;
    }
    let outcome = run_one(&ctx, test).await?;
    // The summary first: a file that cannot be written must not lose it.
    println!("{}", outcome.summary);
    let stamp = results::stamp();
    let path = results::write(
        &ctx.settings.output_dir,
        &results::file_name(test.as_str(), &stamp, "json"),
        &serde_json::to_string_pretty(&outcome.json)?,
    )?;
    println!("Results written to {}", path.display());
    Ok(outcome.code)
}

/// One test (not comprehensive).
pub async fn run_one(ctx: &Ctx, test: BenchTest) -> Result<Outcome> {
    // The generator is sampled during every test: its figures and the verdict go with the results.
    let sampler = crate::health::spawn_active();
    let outcome = match test {
        BenchTest::Health | BenchTest::ModelInfo | BenchTest::Classification => {
            endpoints::run(ctx, test).await
        }
        BenchTest::Stress => stress::run(ctx).await,
        BenchTest::Latency => latency::run(ctx).await,
        BenchTest::Memory => memory::run(ctx).await,
        BenchTest::Comprehensive => Err(anyhow::anyhow!("comprehensive does not nest")),
    };
    let generator = sampler.finish().await;
    let mut outcome = outcome?;
    let verdict = crate::health::verdict(&verdict_input(&generator, &outcome.json));
    outcome.summary.push_str(&format!(
        "\n{}",
        crate::health::text::final_text(&generator, &verdict, ctx.target.embedded)
    ));
    if let Value::Object(m) = &mut outcome.json {
        m.insert("generator".into(), generator.to_json());
        m.insert("verdict".into(), verdict.to_json());
    }
    Ok(outcome)
}

/// What the verdict looks at in a bench test: the generator's CPU, and from the test's own
/// results the open model's late and dropped iterations and the failures by kind.
fn verdict_input(
    generator: &crate::health::HealthSummary,
    json: &Value,
) -> crate::health::VerdictInput {
    use crate::health::verdict::{is_connection_failure, CpuLoad, FailureMix};
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    let open = &json["open_model"];
    let mut failures = FailureMix {
        requests: count(&json["total_requests"]),
        ..FailureMix::default()
    };
    for e in json["error_types"].as_array().into_iter().flatten() {
        let n = count(&e["occurrences"]);
        failures.failures += n;
        if is_connection_failure(e["error"].as_str().unwrap_or_default()) {
            failures.connection += n;
        }
    }
    crate::health::VerdictInput {
        generator: CpuLoad::from_stats(&generator.cpu, generator.cpu_limit_percent()),
        open_model: crate::health::OpenModelCounts {
            late_starts: count(&open["late"]),
            dropped: count(&open["dropped"]),
            scheduled: count(&open["scheduled"]),
        },
        failures,
        ..Default::default()
    }
}

/// The fields every result starts with.
pub fn header(ctx: &Ctx, test: BenchTest) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("test".into(), test.as_str().into());
    m.insert("target".into(), ctx.target.url.clone().into());
    m.insert("embedded_target".into(), ctx.target.embedded.into());
    m.insert(
        "started_at".into(),
        chrono::Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .into(),
    );
    m.insert("skein_version".into(), env!("CARGO_PKG_VERSION").into());
    m
}

/// Adds `value`'s fields (an object) to `m`.
pub fn extend(m: &mut serde_json::Map<String, Value>, value: impl serde::Serialize) {
    if let Ok(Value::Object(fields)) = serde_json::to_value(value) {
        m.extend(fields);
    }
}
