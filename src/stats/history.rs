//! The chart history (Locust's `stats.history`): one point per sample of the run's totals.

use super::RequestStats;

/// One point of the charts (Locust's `stats.history`), sampled every 5 s while users run.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    pub time: f64,
    pub current_rps: f64,
    pub current_fail_per_sec: f64,
    /// Current (10 s window) p50 and p95; `None` before the window has data.
    pub p50: Option<i64>,
    pub p95: Option<i64>,
    pub total_avg_response_time: f64,
    pub user_count: u64,
}

impl HistoryPoint {
    pub fn sample(stats: &RequestStats, now: f64, user_count: u64) -> Self {
        let span = stats.span();
        let total = stats.total();
        HistoryPoint {
            time: now,
            current_rps: total.current_rps(span).as_f64(),
            current_fail_per_sec: total.current_fail_per_sec(span).as_f64(),
            p50: total.current_percentile(0.5, now),
            p95: total.current_percentile(0.95, now),
            total_avg_response_time: total.avg_response_time(),
            user_count,
        }
    }
}
