//! The memory test: `--iterations` sequential classifications (the four image sizes in turn)
//! while the target's resident memory is sampled, from `/proc/PID/status` (`VmRSS`) with
//! `--pid` (a target on this machine), else from `process_resident_memory_bytes` at
//! `<url>/metrics` (Prometheus). Reports the peak, the trend per 1,000 requests (least-squares
//! slope of memory over requests done, after the first quarter of the requests as warm-up) and
//! a leak verdict: "possible leak" when the trend is
//! above [`LEAK_BYTES_PER_1000`] and the growth it fits is above [`NOISE_FLOOR_BYTES`], "no
//! leak detected" below the threshold, "inconclusive" with fewer than [`MIN_SAMPLES`] samples
//! or a steep trend whose growth is within the noise floor. Without either source it says so and exits 1.
//!
//! The embedded reference service runs inside skein: its memory is skein's process (load
//! generator included).

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use serde_json::{json, Value};
use skein_scenarios::bench::{self as workload, ConfidenceCollector};
use tokio_util::sync::CancellationToken;

use crate::config::{BenchTest, MAX_ITERATIONS};
use crate::engine::{self, wall_clock};

use super::analysis;
use super::progress::{Progress, Total};
use super::recorder::Recorder;
use super::{drive, header, Ctx, Outcome};

pub const DEFAULT_ITERATIONS: u64 = 100;
/// A trend above this many bytes per 1,000 requests is reported as a possible leak (1 MiB).
pub const LEAK_BYTES_PER_1000: f64 = 1024.0 * 1024.0;
/// Growth (over the fitted requests) below this is within the noise of an allocator: a steep
/// trend over a short run is then "inconclusive", not a leak (2 MiB).
pub const NOISE_FLOOR_BYTES: f64 = 2.0 * 1024.0 * 1024.0;
/// Fewer samples than this give no verdict.
pub const MIN_SAMPLES: usize = 5;
/// How often memory is sampled while the requests run.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// The most samples kept (a longer run keeps every other one when full).
const MAX_SAMPLES: usize = 5000;

/// Where the target's memory is read.
#[derive(Debug, Clone)]
pub enum Source {
    Proc(u32),
    Metrics(String),
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::Proc(pid) => format!("/proc/{pid}/status (VmRSS)"),
            Source::Metrics(url) => format!("{url} (process_resident_memory_bytes)"),
        }
    }

    /// The target's resident memory in bytes, or why it could not be read.
    async fn read(&self, client: &reqwest::Client) -> Result<u64, String> {
        match self {
            Source::Proc(pid) => {
                let path = format!("/proc/{pid}/status");
                let text = tokio::fs::read_to_string(&path)
                    .await
                    .map_err(|e| format!("cannot read {path}: {e}"))?;
                analysis::status_rss_bytes(&text).ok_or_else(|| format!("{path} has no VmRSS line"))
            }
            Source::Metrics(url) => {
                let response = client
                    .get(url)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .map_err(|e| format!("cannot fetch {url}: {e}"))?;
                if !response.status().is_success() {
                    return Err(format!("{url} answered {}", response.status()));
                }
                let text = response
                    .text()
                    .await
                    .map_err(|e| format!("cannot read {url}: {e}"))?;
                analysis::prometheus_value(&text, "process_resident_memory_bytes")
                    .map(|v| v as u64)
                    .ok_or_else(|| format!("{url} has no process_resident_memory_bytes"))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    pub t: f64,
    pub requests: u64,
    pub rss_bytes: u64,
}

/// The verdict on a series of samples (pure).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verdict {
    pub samples: usize,
    pub start_bytes: Option<u64>,
    pub end_bytes: Option<u64>,
    pub peak_bytes: Option<u64>,
    /// Least-squares slope of memory over requests, × 1,000.
    pub trend_bytes_per_1000_requests: Option<f64>,
    /// `possible_leak`, `no_leak_detected` or `inconclusive`.
    pub verdict: &'static str,
    pub verdict_text: String,
}

pub fn judge(samples: &[Sample]) -> Verdict {
    // The first quarter of the requests is warm-up (allocator pools, connection and decode
    // buffers growing to their working size): the trend is fitted over the rest.
    let last = samples.iter().map(|s| s.requests).max().unwrap_or(0);
    let points: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.requests * 4 >= last)
        .map(|s| (s.requests as f64, s.rss_bytes as f64))
        .collect();
    let fitted = points.len();
    let span = points.last().map_or(0.0, |p| p.0) - points.first().map_or(0.0, |p| p.0);
    let trend = analysis::slope(&points).map(|s| s * 1000.0);
    let peak = samples.iter().map(|s| s.rss_bytes).max();
    let mib = |b: f64| b / (1024.0 * 1024.0);
    let (verdict, text) = match trend {
        Some(t) if fitted >= MIN_SAMPLES && t > LEAK_BYTES_PER_1000 && t / 1000.0 * span < NOISE_FLOOR_BYTES => (
            "inconclusive",
            format!(
                "inconclusive: trend {:+.2} MiB per 1,000 requests, but {:.2} MiB over {span:.0} requests is within the {:.0} MiB noise floor; run more --iterations",
                mib(t),
                mib(t / 1000.0 * span),
                mib(NOISE_FLOOR_BYTES)
            ),
        ),
        Some(t) if fitted >= MIN_SAMPLES && t > LEAK_BYTES_PER_1000 => (
            "possible_leak",
            format!("possible leak: memory grows {:.2} MiB per 1,000 requests (threshold {:.0} MiB)", mib(t), mib(LEAK_BYTES_PER_1000)),
        ),
        Some(t) if fitted >= MIN_SAMPLES => (
            "no_leak_detected",
            format!("no leak detected: trend {:+.2} MiB per 1,000 requests (threshold {:.0} MiB)", mib(t), mib(LEAK_BYTES_PER_1000)),
        ),
        _ => (
            "inconclusive",
            format!("inconclusive: {fitted} samples after warm-up, too few for a trend"),
        ),
    };
    Verdict {
        samples: samples.len(),
        start_bytes: samples.first().map(|s| s.rss_bytes),
        end_bytes: samples.last().map(|s| s.rss_bytes),
        peak_bytes: peak,
        trend_bytes_per_1000_requests: trend,
        verdict,
        verdict_text: format!("{text}; peak {:.1} MiB", mib(peak.unwrap_or(0) as f64)),
    }
}

fn push_bounded(samples: &mut Vec<Sample>, s: Sample) {
    if samples.len() >= MAX_SAMPLES {
        let mut i = 0;
        samples.retain(|_| {
            i += 1;
            i % 2 == 1
        });
    }
    samples.push(s);
}

pub async fn run(ctx: &Ctx) -> Result<Outcome> {
    let test = BenchTest::Memory;
    let iterations = ctx
        .settings
        .iterations
        .unwrap_or(DEFAULT_ITERATIONS)
        .min(MAX_ITERATIONS);
    let source = match ctx.settings.pid {
        Some(pid) => Source::Proc(pid),
        None => Source::Metrics(format!("{}/metrics", ctx.target.url)),
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the metrics client: {e}"))?;
    let first = source.read(&client).await;
    let class = workload::classify_user(&workload::BENCH_SIDES, &ConfidenceCollector::new())?;
    let hub = engine::hub::spawn(wall_clock(), "local".into());
    let recorder = Recorder::new(hub.clone(), 0);
    let progress = Progress::start(test.as_str(), Total::Requests(iterations), hub.clone());
    let started = tokio::time::Instant::now();
    let stop_sampling = CancellationToken::new();
    let sampler = match &first {
        Ok(bytes) => {
            let (source, client, recorder, stop) = (
                source.clone(),
                client.clone(),
                recorder.clone(),
                stop_sampling.clone(),
            );
            let first = Sample {
                t: 0.0,
                requests: 0,
                rss_bytes: *bytes,
            };
            Some(tokio::spawn(async move {
                let mut samples = vec![first];
                let mut tick = tokio::time::interval(SAMPLE_EVERY);
                tick.tick().await;
                loop {
                    let end = tokio::select! {
                        _ = tick.tick() => false,
                        _ = stop.cancelled() => true,
                    };
                    if let Ok(rss_bytes) = source.read(&client).await {
                        let s = Sample {
                            t: started.elapsed().as_secs_f64(),
                            requests: recorder.requests(),
                            rss_bytes,
                        };
                        push_bounded(&mut samples, s);
                    }
                    if end {
                        return samples;
                    }
                }
            }))
        }
        Err(_) => None,
    };
    let done = drive::sequential(
        &class,
        &ctx.target.url,
        recorder.clone(),
        iterations,
        ctx.cancel.clone(),
    )
    .await?;
    stop_sampling.cancel();
    let samples = match sampler {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let elapsed = started.elapsed().as_secs_f64();
    let timeline = progress.finish().await;
    let rules = super::targets::rules(test, &ctx.settings.checks);
    let (figures, checks) = super::targets::figures_and_checks(&hub, rules, elapsed).await?;
    let mut json = header(ctx, test);
    json.insert(
        "config".into(),
        json!({ "iterations": iterations, "pid": ctx.settings.pid }),
    );
    json.insert("iterations_run".into(), done.into());
    json.insert("elapsed_s".into(), elapsed.into());
    super::extend(&mut json, &figures.total);
    json.insert("endpoints".into(), serde_json::to_value(&figures.rows)?);
    json.insert("error_types".into(), serde_json::to_value(&figures.errors)?);
    let mut code = 0;
    let memory = match &first {
        Ok(_) => {
            let mut m = serde_json::to_value(judge(&samples))?;
            m["available"] = true.into();
            m["source"] = source.describe().into();
            m["series"] = serde_json::to_value(&samples)?;
            m
        }
        Err(why) => {
            code = super::EXIT_NOT_MEASURED;
            let text = format!(
                "no memory source: {why}. Give --pid PID for a target on this machine, or serve \
                 process_resident_memory_bytes at {}/metrics",
                ctx.target.url
            );
            eprintln!("skein bench: {text}");
            json!({"available": false, "source": source.describe(), "verdict": "not_measured", "verdict_text": text})
        }
    };
    json.insert("memory".into(), memory);
    json.insert("timeline".into(), serde_json::to_value(&timeline)?);
    if crate::checks::failed(&checks) {
        code = super::EXIT_CHECK_FAILED;
    }
    json.insert("checks".into(), crate::checks::to_json(&checks));
    let mut summary = super::report_md::figures_block(test.as_str(), &json);
    summary.push_str(&super::report_md::extra_text(&json));
    summary.push_str(&super::report_md::checks_block(json.get("checks")));
    Ok(Outcome {
        test,
        json: Value::Object(json),
        summary,
        code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(per_request: f64, n: u64) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample {
                t: i as f64,
                requests: i * 100,
                rss_bytes: (50e6 + per_request * (i * 100) as f64) as u64,
            })
            .collect()
    }

    #[test]
    fn verdicts() {
        // 2 KiB per request is 2 MiB per 1,000: above the threshold.
        let leak = judge(&series(2048.0, 20));
        assert_eq!(leak.verdict, "possible_leak");
        let t = leak.trend_bytes_per_1000_requests.unwrap();
        assert!((t - 2048.0 * 1000.0).abs() < 1.0, "{t}");
        assert_eq!(leak.peak_bytes, Some(50_000_000 + 2048 * 1900));
        assert_eq!(judge(&series(0.0, 20)).verdict, "no_leak_detected");
        // The same trend over 75 requests grows 150 KB: noise, not a verdict.
        let short: Vec<Sample> = series(2048.0, 20)
            .into_iter()
            .map(|s| Sample {
                requests: s.requests / 20,
                rss_bytes: 50_000_000 + 2048 * (s.requests / 20),
                ..s
            })
            .collect();
        assert_eq!(judge(&short).verdict, "inconclusive");
        assert_eq!(judge(&series(2048.0, 3)).verdict, "inconclusive");
        assert_eq!(judge(&[]).verdict, "inconclusive");
    }
}
