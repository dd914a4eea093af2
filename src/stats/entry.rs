//! One row of statistics (Locust's `StatsEntry`), its derived metrics and its wire form.
//!
//! Metrics that Locust computes against the whole table (RPS over the total's time span,
//! windows anchored on the total's last request) take a [`Span`] of the total entry.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::counts::{bucket, percentile_sorted, Counts};
use super::pyfmt::PyNum;

/// `PERCENTILES_TO_REPORT`: console and CSV.
pub const PERCENTILES_TO_REPORT: [f64; 11] = [
    0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];
/// `PERCENTILES_TO_STATISTICS`: the web table.
pub const PERCENTILES_TO_STATISTICS: [f64; 2] = [0.95, 0.99];
/// `PERCENTILES_TO_CHART`: charts, `/stats/requests` current percentiles.
pub const PERCENTILES_TO_CHART: [f64; 2] = [0.5, 0.95];

/// The current-percentile window (`CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW`).
const WINDOW: i64 = 10;
/// Snapshots kept: the window plus 10.
const CACHE_SIZE: usize = 20;

/// The total entry's time span, which every entry's rates are computed against.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub start_time: f64,
    pub last_request_timestamp: Option<f64>,
}

#[derive(Debug, Clone)]
struct Snapshot {
    second: i64,
    response_times: Counts,
    /// Requests with a response time (`num_requests - num_none_requests`).
    num_timed: u64,
}

/// One `(name, method)` row, or the `Aggregated` total (method `""`).
#[derive(Debug, Clone)]
pub struct StatsEntry {
    pub name: String,
    pub method: String,
    pub num_requests: u64,
    pub num_none_requests: u64,
    pub num_failures: u64,
    pub total_response_time: PyNum,
    pub min_response_time: Option<PyNum>,
    pub max_response_time: PyNum,
    pub total_content_length: u64,
    pub response_times: Counts,
    pub num_reqs_per_sec: Counts,
    pub num_fail_per_sec: Counts,
    pub start_time: f64,
    pub last_request_timestamp: Option<f64>,
    /// Ordered snapshots (oldest first) for current percentiles; `None` when the cache is off.
    cache: Option<VecDeque<Snapshot>>,
}

impl StatsEntry {
    /// A fresh entry; `use_cache` is Locust's `use_response_times_cache` (standalone and master).
    pub fn new(name: &str, method: &str, use_cache: bool, now: f64) -> Self {
        let mut e = StatsEntry {
            name: name.to_string(),
            method: method.to_string(),
            num_requests: 0,
            num_none_requests: 0,
            num_failures: 0,
            total_response_time: PyNum::Int(0),
            min_response_time: None,
            max_response_time: PyNum::Int(0),
            total_content_length: 0,
            response_times: Counts::new(),
            num_reqs_per_sec: Counts::new(),
            num_fail_per_sec: Counts::new(),
            start_time: now,
            last_request_timestamp: None,
            cache: use_cache.then(VecDeque::new),
        };
        e.reset(now);
        e
    }

    pub fn uses_cache(&self) -> bool {
        self.cache.is_some()
    }

    /// Zeroes every counter and restarts the clock; the cache restarts with one snapshot.
    pub fn reset(&mut self, now: f64) {
        self.start_time = now;
        self.num_requests = 0;
        self.num_none_requests = 0;
        self.num_failures = 0;
        self.total_response_time = PyNum::Int(0);
        self.response_times.clear();
        self.min_response_time = None;
        self.max_response_time = PyNum::Int(0);
        self.last_request_timestamp = None;
        self.num_reqs_per_sec.clear();
        self.num_fail_per_sec.clear();
        self.total_content_length = 0;
        if let Some(cache) = self.cache.as_mut() {
            cache.clear();
            self.snapshot(now as i64);
        }
    }

    fn snapshot(&mut self, second: i64) {
        let snap = Snapshot {
            second,
            response_times: self.response_times.clone(),
            num_timed: self.num_requests - self.num_none_requests,
        };
        let Some(cache) = self.cache.as_mut() else {
            return;
        };
        // An OrderedDict assignment to an existing key keeps its place.
        if let Some(existing) = cache.iter_mut().find(|s| s.second == second) {
            *existing = snap;
        } else {
            cache.push_back(snap);
        }
        while cache.len() > CACHE_SIZE {
            cache.pop_front();
        }
    }

    /// Logs one request completed at `now` (epoch s); `None` is a request without a time.
    pub fn log(&mut self, response_time: Option<f64>, content_length: u64, now: f64) {
        let t = now as i64;
        if self.cache.is_some() {
            if let Some(last) = self.last_request_timestamp {
                if t > last as i64 {
                    self.snapshot(t - 1);
                }
            }
        }
        self.num_requests += 1;
        self.num_reqs_per_sec.add(t, 1);
        self.last_request_timestamp = Some(now);
        match response_time {
            None => self.num_none_requests += 1,
            Some(rt) => {
                let v = PyNum::Float(rt);
                self.total_response_time = self.total_response_time + v;
                self.min_response_time = Some(match self.min_response_time {
                    None => v,
                    Some(m) => m.py_min(v),
                });
                self.max_response_time = self.max_response_time.py_max(v);
                self.response_times.add(bucket(rt), 1);
            }
        }
        // Locust returns early only from the response-time part; the length always counts.
        self.total_content_length += content_length;
    }

    pub fn log_error(&mut self, now: f64) {
        self.num_failures += 1;
        self.num_fail_per_sec.add(now as i64, 1);
    }

    /// Requests with a response time.
    pub fn num_timed(&self) -> u64 {
        self.num_requests.saturating_sub(self.num_none_requests)
    }

    pub fn fail_ratio(&self) -> f64 {
        if self.num_requests == 0 {
            if self.num_failures > 0 {
                1.0
            } else {
                0.0
            }
        } else {
            self.num_failures as f64 / self.num_requests as f64
        }
    }

    pub fn avg_response_time(&self) -> f64 {
        match self.num_timed() {
            0 => 0.0,
            n => self.total_response_time.as_f64() / n as f64,
        }
    }

    /// The median, clamped to `[min, max]`, so a float when clamped.
    pub fn median_response_time(&self) -> PyNum {
        if self.response_times.is_empty() {
            return PyNum::Int(0);
        }
        let desc = self.response_times.sorted_desc();
        let median = PyNum::Int(percentile_sorted(&desc, self.num_timed(), 0.5));
        if median.gt(self.max_response_time) {
            self.max_response_time
        } else if let Some(min) = self.min_response_time.filter(|m| median.lt(*m)) {
            min
        } else {
            median
        }
    }

    /// `min_response_time or 0`.
    pub fn min_or_zero(&self) -> PyNum {
        match self.min_response_time {
            Some(m) if m.is_truthy() => m,
            _ => PyNum::Int(0),
        }
    }

    pub fn avg_content_length(&self) -> PyNum {
        match self.num_requests {
            0 => PyNum::Int(0),
            n => PyNum::Float(self.total_content_length as f64 / n as f64),
        }
    }

    fn per_total_span(&self, count: u64, span: Span) -> f64 {
        match span.last_request_timestamp {
            Some(last) if last != 0.0 && span.start_time != 0.0 => {
                let d = last - span.start_time;
                if d == 0.0 {
                    0.0
                } else {
                    count as f64 / d
                }
            }
            _ => 0.0,
        }
    }

    pub fn total_rps(&self, span: Span) -> f64 {
        self.per_total_span(self.num_requests, span)
    }

    pub fn total_fail_per_sec(&self, span: Span) -> f64 {
        self.per_total_span(self.num_failures, span)
    }

    fn current_rate(per_sec: &Counts, span: Span) -> PyNum {
        let Some(last) = span.last_request_timestamp else {
            return PyNum::Int(0);
        };
        let l = last as i64;
        let start = (l - 12).max(span.start_time as i64);
        let end = l - 2; // exclusive
        let mut sum: u64 = 0;
        let mut count: i64 = 0;
        let mut t = start;
        while t < end {
            sum += per_sec.get(t);
            count += 1;
            t += 1;
        }
        PyNum::Float(sum as f64 / count.max(1) as f64)
    }

    /// Mean requests/s over up to 10 s ending 3 s before the total's last request.
    pub fn current_rps(&self, span: Span) -> PyNum {
        Self::current_rate(&self.num_reqs_per_sec, span)
    }

    pub fn current_fail_per_sec(&self, span: Span) -> PyNum {
        Self::current_rate(&self.num_fail_per_sec, span)
    }

    /// Whole-run percentile of the histogram.
    pub fn percentile(&self, p: f64) -> i64 {
        percentile_sorted(&self.response_times.sorted_desc(), self.num_timed(), p)
    }

    /// Several whole-run percentiles with one sort.
    pub fn percentiles(&self, ps: &[f64]) -> Vec<i64> {
        let desc = self.response_times.sorted_desc();
        let n = self.num_timed();
        ps.iter().map(|p| percentile_sorted(&desc, n, *p)).collect()
    }

    /// Percentile over the last ~10 s (a snapshot between 2 and 18 s old), or `None`
    /// without a snapshot (or without the cache).
    pub fn current_percentile(&self, p: f64, now: f64) -> Option<i64> {
        self.current_percentiles(&[p], now).map(|v| v[0])
    }

    pub fn current_percentiles(&self, ps: &[f64], now: f64) -> Option<Vec<i64>> {
        let cache = self.cache.as_ref()?;
        let t = now as i64;
        let mut wanted = vec![t - WINDOW];
        for i in 1..=8 {
            wanted.push(t - WINDOW - i);
            wanted.push(t - WINDOW + i);
        }
        let snap = wanted
            .iter()
            .find_map(|w| cache.iter().find(|s| s.second == *w))?;
        let diff = self.response_times.diff(&snap.response_times);
        let desc = diff.sorted_desc();
        let n = self.num_timed().saturating_sub(snap.num_timed);
        Some(ps.iter().map(|p| percentile_sorted(&desc, n, *p)).collect())
    }

    /// Locust's `serialize()`: the wire and `--json` form.
    pub fn serialize(&self) -> SerializedEntry {
        SerializedEntry {
            name: self.name.clone(),
            method: self.method.clone(),
            last_request_timestamp: self.last_request_timestamp,
            start_time: self.start_time,
            num_requests: self.num_requests,
            num_none_requests: self.num_none_requests,
            num_failures: self.num_failures,
            total_response_time: self.total_response_time,
            max_response_time: self.max_response_time,
            min_response_time: self.min_response_time,
            total_content_length: self.total_content_length,
            response_times: self.response_times.clone(),
            num_reqs_per_sec: self.num_reqs_per_sec.clone(),
            num_fail_per_sec: self.num_fail_per_sec.clone(),
        }
    }

    /// Locust's `extend`: merges a serialized (worker delta) entry into this one, and
    /// snapshots the cache when the merged last request enters a new second.
    pub fn extend(&mut self, other: &SerializedEntry) {
        let old_last = self.last_request_timestamp;
        self.last_request_timestamp =
            match (self.last_request_timestamp, other.last_request_timestamp) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (None, b) => b,
                (a, None) => a,
            };
        self.start_time = self.start_time.min(other.start_time);
        self.num_requests += other.num_requests;
        self.num_none_requests += other.num_none_requests;
        self.num_failures += other.num_failures;
        self.total_response_time = self.total_response_time + other.total_response_time;
        self.max_response_time = self.max_response_time.py_max(other.max_response_time);
        self.min_response_time = match (self.min_response_time, other.min_response_time) {
            (Some(a), Some(b)) => Some(a.py_min(b)),
            (None, b) => b,
            (a, None) => a,
        };
        self.total_content_length += other.total_content_length;
        for (k, v) in other.response_times.iter() {
            self.response_times.add(k, v);
        }
        for (k, v) in other.num_reqs_per_sec.iter() {
            self.num_reqs_per_sec.add(k, v);
        }
        for (k, v) in other.num_fail_per_sec.iter() {
            self.num_fail_per_sec.add(k, v);
        }
        if self.cache.is_some() {
            let last = self.last_request_timestamp.map_or(0, |t| t as i64);
            let old = old_last.map_or(0, |t| t as i64);
            if last != 0 && last > old {
                self.snapshot(last);
            }
        }
    }

    /// A new entry (cache per `use_cache`) built from a serialized one.
    pub fn unserialize(data: &SerializedEntry, use_cache: bool) -> Self {
        let mut e = StatsEntry::new(&data.name, &data.method, use_cache, data.start_time);
        e.extend(data);
        e.start_time = data.start_time;
        e
    }
}

/// An entry as Locust serializes it, keys in Locust's order. Per-second and histogram keys
/// are integers, which msgpack keeps and JSON turns into strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SerializedEntry {
    pub name: String,
    pub method: String,
    pub last_request_timestamp: Option<f64>,
    pub start_time: f64,
    pub num_requests: u64,
    pub num_none_requests: u64,
    pub num_failures: u64,
    pub total_response_time: PyNum,
    pub max_response_time: PyNum,
    pub min_response_time: Option<PyNum>,
    pub total_content_length: u64,
    pub response_times: Counts,
    pub num_reqs_per_sec: Counts,
    pub num_fail_per_sec: Counts,
}

impl SerializedEntry {
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    pub fn from_value(v: &serde_json::Value) -> Result<Self, serde_json::Error> {
        SerializedEntry::deserialize(v)
    }
}
