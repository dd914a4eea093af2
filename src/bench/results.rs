//! A test's results as the service's `benchmark.py` wrote them (its README's JSON fields, times
//! in seconds, `success_rate` 0..1), read from the hub's Locust-exact statistics, and the file
//! each test writes: `<output-dir>/bench_<test>_<timestamp>.json`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::engine::HubHandle;
use crate::stats::{RequestStats, StatsEntry};

/// The README's fields for one stats row or the whole test.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figures {
    pub total_requests: u64,
    pub successful_requests: u64,
    pub failed_requests: u64,
    /// 0..1 (1 when nothing was sent: nothing failed).
    pub success_rate: f64,
    pub avg_response_time: f64,
    pub min_response_time: f64,
    pub max_response_time: f64,
    pub p50_response_time: f64,
    pub p95_response_time: f64,
    pub p99_response_time: f64,
    pub requests_per_second: f64,
}

impl Figures {
    /// From a stats row, over `seconds` of test (the rate's denominator).
    pub fn of(entry: &StatsEntry, seconds: f64) -> Figures {
        let total = entry.num_requests;
        let failed = entry.num_failures.min(total);
        let secs = |ms: f64| ms / 1000.0;
        let pct = |p: f64| {
            if total == 0 {
                0.0
            } else {
                secs(entry.percentile(p) as f64)
            }
        };
        Figures {
            total_requests: total,
            successful_requests: total - failed,
            failed_requests: failed,
            success_rate: if total == 0 {
                1.0
            } else {
                (total - failed) as f64 / total as f64
            },
            avg_response_time: secs(entry.avg_response_time()),
            min_response_time: secs(entry.min_response_time.map_or(0.0, |m| m.as_f64())),
            max_response_time: secs(entry.max_response_time.as_f64()),
            p50_response_time: pct(0.5),
            p95_response_time: pct(0.95),
            p99_response_time: pct(0.99),
            requests_per_second: if seconds > 0.0 {
                total as f64 / seconds
            } else {
                0.0
            },
        }
    }

    pub fn error_rate(&self) -> f64 {
        1.0 - self.success_rate
    }
}

/// One stats row of a test (per request name, e.g. per image size).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub method: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One error type: Locust's failure row.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorType {
    pub method: String,
    pub name: String,
    pub error: String,
    pub occurrences: u64,
}

/// Everything read from the hub at the end of a test (or a stress step).
#[derive(Debug, Clone)]
pub struct TableFigures {
    pub total: Figures,
    pub rows: Vec<Row>,
    pub errors: Vec<ErrorType>,
}

impl TableFigures {
    pub fn of(stats: &RequestStats, seconds: f64) -> TableFigures {
        TableFigures {
            total: Figures::of(stats.total(), seconds),
            rows: stats
                .entries()
                .into_iter()
                .map(|e| Row {
                    name: e.name.clone(),
                    method: e.method.clone(),
                    figures: Figures::of(e, seconds),
                })
                .collect(),
            errors: stats
                .errors()
                .into_iter()
                .map(|e| ErrorType {
                    method: e.method.clone(),
                    name: e.name.clone(),
                    error: e.error.clone(),
                    occurrences: e.occurrences,
                })
                .collect(),
        }
    }

    pub async fn read(hub: &HubHandle, seconds: f64) -> Result<TableFigures> {
        hub.read(move |v| TableFigures::of(v.stats, seconds))
            .await
            .context("statistics hub ended early")
    }
}

/// The file name of a test's results: `bench_<test>_<timestamp>.json`.
pub fn file_name(test: &str, stamp: &str, ext: &str) -> String {
    format!("bench_{test}_{stamp}.{ext}")
}

/// A UTC timestamp for file names, e.g. `20261202_164013`.
pub fn stamp() -> String {
    chrono::Utc::now().format("%Y%m%d_%H%M%S").to_string()
}

/// Writes `text` to `dir/name`, creating `dir`.
pub fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_from_a_row() {
        let mut e = StatsEntry::new("/x", "GET", false, 0.0);
        for ms in [10.0, 20.0, 30.0, 40.0] {
            e.log(Some(ms), 0, 1.0);
        }
        e.log_error(1.0);
        let f = Figures::of(&e, 2.0);
        assert_eq!(
            (f.total_requests, f.failed_requests, f.successful_requests),
            (4, 1, 3)
        );
        assert_eq!(f.success_rate, 0.75);
        assert!((f.error_rate() - 0.25).abs() < 1e-12);
        assert_eq!(f.avg_response_time, 0.025);
        assert_eq!(f.min_response_time, 0.01);
        assert_eq!(f.max_response_time, 0.04);
        assert_eq!(f.p99_response_time, 0.04);
        assert_eq!(f.requests_per_second, 2.0);
        let empty = Figures::of(&StatsEntry::new("/y", "GET", false, 0.0), 0.0);
        assert_eq!((empty.success_rate, empty.requests_per_second), (1.0, 0.0));
        assert_eq!(
            file_name("health", "20260101_000000", "json"),
            "bench_health_20260101_000000.json"
        );
    }
}
