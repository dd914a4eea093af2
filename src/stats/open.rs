//! The open model's summary: how many iterations came due, started, started late and were
//! dropped, and per request name (and in total) the response time measured two ways: from the
//! actual send (as Locust's table has it) and from the iteration's scheduled start (corrected
//! for coordinated omission: a request that could not be sent on time is charged the wait).
//!
//! Latencies use the same buckets and percentile rule as [`super::StatsEntry`], so the two
//! tables' figures compare directly. Pure code: every time is a parameter.

use std::collections::BTreeMap;
use std::ops::AddAssign;

use skein_record::RequestRecord;

use super::counts::{bucket, percentile, Counts};
use super::table::{OVERFLOW_METHOD, OVERFLOW_NAME};

/// An iteration that starts more than this after its scheduled time counts as late: a
/// tokio timer and a task hand-off take well under a millisecond on an idle machine, so 10 ms
/// is a start the generator itself delayed (every virtual user busy, or its CPU saturated),
/// not scheduling noise.
pub const LATE_THRESHOLD_MS: f64 = 10.0;

/// Iteration counts of an open-model run (or a delta of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArrivalCounts {
    /// Iterations that came due.
    pub scheduled: u64,
    /// Iterations handed to a virtual user.
    pub started: u64,
    /// Started more than [`LATE_THRESHOLD_MS`] after their scheduled time.
    pub late: u64,
    /// Came due while every virtual user was busy and the backlog was full.
    pub dropped: u64,
}

impl ArrivalCounts {
    pub fn is_zero(&self) -> bool {
        *self == ArrivalCounts::default()
    }
}

impl AddAssign for ArrivalCounts {
    fn add_assign(&mut self, o: ArrivalCounts) {
        self.scheduled += o.scheduled;
        self.started += o.started;
        self.late += o.late;
        self.dropped += o.dropped;
    }
}

/// One request name's latencies (or the total's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenEntry {
    pub name: String,
    pub method: String,
    /// Timed requests (those with a response time).
    pub num_requests: u64,
    /// From the scheduled start of the request's iteration to the end of its response.
    pub corrected: Counts,
    /// From the send to the end of the response (Locust's response time).
    pub uncorrected: Counts,
    pub total_corrected: f64,
    pub total_uncorrected: f64,
}

impl OpenEntry {
    pub fn new(name: &str, method: &str) -> Self {
        OpenEntry {
            name: name.to_string(),
            method: method.to_string(),
            ..OpenEntry::default()
        }
    }

    fn log(&mut self, corrected_ms: f64, uncorrected_ms: f64) {
        self.num_requests += 1;
        self.corrected.add(bucket(corrected_ms), 1);
        self.uncorrected.add(bucket(uncorrected_ms), 1);
        self.total_corrected += corrected_ms;
        self.total_uncorrected += uncorrected_ms;
    }

    /// Whole-run percentile of the corrected latency, as `StatsEntry::percentile` computes it.
    pub fn corrected_percentile(&self, p: f64) -> i64 {
        percentile(&self.corrected, self.num_requests, p)
    }

    pub fn uncorrected_percentile(&self, p: f64) -> i64 {
        percentile(&self.uncorrected, self.num_requests, p)
    }

    pub fn avg_corrected(&self) -> f64 {
        mean(self.total_corrected, self.num_requests)
    }

    pub fn avg_uncorrected(&self) -> f64 {
        mean(self.total_uncorrected, self.num_requests)
    }
}

fn mean(total: f64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        total / n as f64
    }
}

/// The open-model summary the hub owns. Inactive (no rate) in a closed-model run.
#[derive(Debug, Clone)]
pub struct OpenStats {
    rate: Option<f64>,
    start: f64,
    last: f64,
    counts: ArrivalCounts,
    entries: BTreeMap<(String, String), OpenEntry>,
    total: OpenEntry,
    max_names: usize,
}

impl OpenStats {
    /// `max_names` caps the rows as `--max-request-names` caps Locust's table; further names
    /// share one overflow row.
    pub fn new(max_names: usize, now: f64) -> Self {
        OpenStats {
            rate: None,
            start: now,
            last: now,
            counts: ArrivalCounts::default(),
            entries: BTreeMap::new(),
            total: OpenEntry::new(super::AGGREGATED, ""),
            max_names,
        }
    }

    /// An open-model run starts at `rate` iterations per second: everything restarts.
    pub fn begin(&mut self, rate: f64, now: f64) {
        self.clear(now);
        self.rate = Some(rate);
    }

    /// Whether an open-model run has begun since the last clear.
    pub fn is_active(&self) -> bool {
        self.rate.is_some()
    }

    pub fn rate_asked(&self) -> Option<f64> {
        self.rate
    }

    /// Starts per second since the run (or the last reset) began, up to the last count.
    pub fn achieved_rate(&self) -> f64 {
        let span = self.last - self.start;
        if span > 0.0 {
            self.counts.started as f64 / span
        } else {
            0.0
        }
    }

    /// Seconds from the start (or the last reset) to the last count.
    pub fn span(&self) -> f64 {
        (self.last - self.start).max(0.0)
    }

    pub fn counts(&self) -> ArrivalCounts {
        self.counts
    }

    /// Adds the driver's counts since its last report, made at `now`.
    pub fn count(&mut self, delta: ArrivalCounts, now: f64) {
        self.counts += delta;
        self.last = self.last.max(now);
    }

    /// Takes in one request: only those of a scheduled iteration with a response time count.
    pub fn log(&mut self, rec: &RequestRecord) {
        let (Some(scheduled), Some(rt)) = (rec.scheduled_at, rec.response_time_ms) else {
            return;
        };
        // The clock is read at both ends by different code; a request cannot have taken less
        // than its own response time since its iteration was due.
        let corrected = ((rec.timestamp - scheduled) * 1000.0).max(rt);
        self.entry_for(&rec.name, &rec.method).log(corrected, rt);
        self.total.log(corrected, rt);
    }

    /// The row of `name`/`method`, or the overflow row once `max_names` rows exist.
    fn entry_for(&mut self, name: &str, method: &str) -> &mut OpenEntry {
        let key = (name.to_string(), method.to_string());
        let full = self.entries.len() >= self.max_names;
        if self.entries.contains_key(&key) || !full {
            self.entries
                .entry(key)
                .or_insert_with_key(|(n, m)| OpenEntry::new(n, m))
        } else {
            self.entries
                .entry((OVERFLOW_NAME.to_string(), OVERFLOW_METHOD.to_string()))
                .or_insert_with(|| OpenEntry::new(OVERFLOW_NAME, OVERFLOW_METHOD))
        }
    }

    /// Rows sorted by name then method (as Locust sorts its table), without the total.
    pub fn entries(&self) -> impl Iterator<Item = &OpenEntry> {
        self.entries.values()
    }

    pub fn total(&self) -> &OpenEntry {
        &self.total
    }

    /// Zeroes the counts and latencies (Locust's reset); the rate asked stays.
    pub fn reset(&mut self, now: f64) {
        let rate = self.rate;
        self.clear(now);
        self.rate = rate;
    }

    /// Back to an inactive summary (a new test).
    pub fn clear(&mut self, now: f64) {
        *self = OpenStats::new(self.max_names, now);
    }
}

mod report;
pub use report::OpenReport;

#[cfg(test)]
mod tests;
