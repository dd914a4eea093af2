//! The statistics table (Locust's `RequestStats`): entries by `(name, method)`, the
//! `Aggregated` total, and the failures table; logging, resets and the master-side merge.
//! Both tables are capped ([`StatsLimits`]): past a cap, new keys are counted on one overflow
//! row, so memory stays bounded while the totals stay exact.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use skein_record::RequestRecord;

use super::entry::{SerializedEntry, Span, StatsEntry};
use super::errors::{error_key, failure_text, StatsError};

mod limits;
pub use limits::{
    Overflowed, StatsLimits, DEFAULT_MAX_FAILURE_ROWS, DEFAULT_MAX_REQUEST_NAMES, OVERFLOW_ERROR,
    OVERFLOW_METHOD, OVERFLOW_NAME,
};

/// The name of the total entry.
pub const AGGREGATED: &str = "Aggregated";

/// A worker's `stats` report payload as the master merges it (§2.6/§2.8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsReport {
    pub stats: Vec<SerializedEntry>,
    pub stats_total: SerializedEntry,
    /// Keyed by error key, in insertion order.
    pub errors: ErrorMap,
}

/// `{key: StatsError}` in insertion order, serialized as a map.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ErrorMap(pub Vec<(String, StatsError)>);

impl Serialize for ErrorMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for ErrorMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ErrorMap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of error keys to errors")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ErrorMap, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, StatsError>()? {
                    out.push((k, v));
                }
                Ok(ErrorMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Debug, Clone)]
pub struct RequestStats {
    /// Insertion order (`--json` prints entries in this order).
    entries: Vec<StatsEntry>,
    /// name → method → index into `entries`: borrowed `&str` lookups without allocating.
    index: HashMap<String, HashMap<String, usize>>,
    total: StatsEntry,
    /// Insertion order (the console error report and `/stats/requests` use it).
    errors: Vec<StatsError>,
    error_index: HashMap<String, usize>,
    use_cache: bool,
    limits: StatsLimits,
    overflowed: Overflowed,
}

impl RequestStats {
    /// A table with the response-time cache on (standalone or master).
    pub fn new(now: f64) -> Self {
        Self::with_cache(true, now)
    }

    /// `use_cache` off is a worker's table: it never computes current percentiles.
    pub fn with_cache(use_cache: bool, now: f64) -> Self {
        Self::with_limits(use_cache, StatsLimits::default(), now)
    }

    /// A table whose entries and failure rows are capped by `limits`.
    pub fn with_limits(use_cache: bool, limits: StatsLimits, now: f64) -> Self {
        RequestStats {
            entries: Vec::new(),
            index: HashMap::new(),
            total: StatsEntry::new(AGGREGATED, "", use_cache, now),
            errors: Vec::new(),
            error_index: HashMap::new(),
            use_cache,
            limits,
            overflowed: Overflowed::default(),
        }
    }

    pub fn limits(&self) -> StatsLimits {
        self.limits
    }

    /// What went to the overflow rows since the table was made (resets do not clear it).
    pub fn overflowed(&self) -> Overflowed {
        self.overflowed
    }

    /// The total's time span, against which every entry's rates are computed.
    pub fn span(&self) -> Span {
        Span {
            start_time: self.total.start_time,
            last_request_timestamp: self.total.last_request_timestamp,
        }
    }

    fn entry_index(&mut self, name: &str, method: &str, now: f64) -> usize {
        if let Some(&i) = self.index.get(name).and_then(|m| m.get(method)) {
            return i;
        }
        let overflow = self.find(OVERFLOW_NAME, OVERFLOW_METHOD);
        let named = self.entries.len() - usize::from(overflow.is_some());
        if named >= self.limits.max_request_names {
            self.overflowed.names += 1;
            return match overflow {
                Some(i) => i,
                None => self.insert_entry(OVERFLOW_NAME, OVERFLOW_METHOD, now),
            };
        }
        self.insert_entry(name, method, now)
    }

    fn find(&self, name: &str, method: &str) -> Option<usize> {
        self.index.get(name)?.get(method).copied()
    }

    fn insert_entry(&mut self, name: &str, method: &str, now: f64) -> usize {
        let i = self.entries.len();
        self.entries
            .push(StatsEntry::new(name, method, self.use_cache, now));
        self.index
            .entry(name.to_string())
            .or_default()
            .insert(method.to_string(), i);
        i
    }

    /// The entry for `(name, method)`, created if new.
    pub fn get_mut(&mut self, name: &str, method: &str, now: f64) -> &mut StatsEntry {
        let i = self.entry_index(name, method, now);
        &mut self.entries[i]
    }

    pub fn get(&self, name: &str, method: &str) -> Option<&StatsEntry> {
        self.entries.get(self.find(name, method)?)
    }

    /// Logs a finished request, then its failure if any, on the entry and the total.
    pub fn log(&mut self, rec: &RequestRecord) {
        self.log_request(
            &rec.method,
            &rec.name,
            rec.response_time_ms,
            rec.content_length,
            rec.timestamp,
        );
        if let Some(f) = &rec.failure {
            let text = failure_text(f);
            self.log_error(&rec.method, &rec.name, &text, rec.timestamp);
        }
    }

    pub fn log_request(
        &mut self,
        method: &str,
        name: &str,
        response_time: Option<f64>,
        content_length: u64,
        now: f64,
    ) {
        self.total.log(response_time, content_length, now);
        let i = self.entry_index(name, method, now);
        self.entries[i].log(response_time, content_length, now);
    }

    pub fn log_error(&mut self, method: &str, name: &str, error: &str, now: f64) {
        self.total.log_error(now);
        let i = self.entry_index(name, method, now);
        self.entries[i].log_error(now);
        // A request counted on the overflow entry has its failures filed under that name too.
        let e = &self.entries[i];
        let (method, name) = if e.name == name && e.method == method {
            (method, name)
        } else {
            (OVERFLOW_METHOD, OVERFLOW_NAME)
        };
        let key = error_key(method, name, error);
        let j = match self.error_index.get(&key) {
            Some(&j) => j,
            None => self.error_row(key, || StatsError::new(method, name, error)),
        };
        self.errors[j].occurred(now);
    }

    /// The row for a new error `key`: a new row while under the cap, else the overflow row.
    fn error_row(&mut self, key: String, make: impl FnOnce() -> StatsError) -> usize {
        let overflow_key = error_key(OVERFLOW_METHOD, OVERFLOW_NAME, OVERFLOW_ERROR);
        let overflow = self.error_index.get(&overflow_key).copied();
        let rows = self.errors.len() - usize::from(overflow.is_some());
        let (key, row) = if rows >= self.limits.max_failure_rows {
            self.overflowed.failures += 1;
            if let Some(j) = overflow {
                return j;
            }
            let row = StatsError::new(OVERFLOW_METHOD, OVERFLOW_NAME, OVERFLOW_ERROR);
            (overflow_key, row)
        } else {
            (key, make())
        };
        self.errors.push(row);
        self.error_index.insert(key, self.errors.len() - 1);
        self.errors.len() - 1
    }

    /// Locust's `reset_all`: every entry and the total restart at `now`, errors are dropped,
    /// entries stay in the table.
    pub fn reset_all(&mut self, now: f64) {
        self.total.reset(now);
        self.errors.clear();
        self.error_index.clear();
        for e in &mut self.entries {
            e.reset(now);
        }
    }

    /// Locust's `clear_all`: a new total and empty tables.
    pub fn clear_all(&mut self, now: f64) {
        self.total = StatsEntry::new(AGGREGATED, "", self.use_cache, now);
        self.entries.clear();
        self.index.clear();
        self.errors.clear();
        self.error_index.clear();
    }

    /// Entries sorted by `(name, method)` (byte order of UTF-8 is code-point order, as Python's).
    pub fn entries(&self) -> Vec<&StatsEntry> {
        let mut v: Vec<&StatsEntry> = self.entries.iter().collect();
        v.sort_by(|a, b| (&a.name, &a.method).cmp(&(&b.name, &b.method)));
        v
    }

    /// Entries in insertion order.
    pub fn entries_in_order(&self) -> &[StatsEntry] {
        &self.entries
    }

    pub fn total(&self) -> &StatsEntry {
        &self.total
    }

    /// Errors sorted by key (the failures CSV and report order).
    pub fn errors(&self) -> Vec<&StatsError> {
        let mut v: Vec<(String, &StatsError)> = self.errors.iter().map(|e| (e.key(), e)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.into_iter().map(|(_, e)| e).collect()
    }

    /// Errors in insertion order (console error report, `/stats/requests`).
    pub fn errors_in_order(&self) -> &[StatsError] {
        &self.errors
    }

    pub fn fail_ratio(&self) -> f64 {
        self.total.fail_ratio()
    }

    /// A worker's report: entries with data, the total and the errors, then the reset a
    /// worker does after sending (entries stay, errors are dropped).
    pub fn take_report(&mut self, now: f64) -> StatsReport {
        let stats = self
            .entries
            .iter()
            .filter(|e| e.num_requests > 0 || e.num_failures > 0)
            .map(StatsEntry::serialize)
            .collect();
        let stats_total = self.total.serialize();
        let errors = ErrorMap(self.errors.iter().map(|e| (e.key(), e.clone())).collect());
        self.reset_all(now);
        StatsReport {
            stats,
            stats_total,
            errors,
        }
    }

    /// Merges a worker's report (Locust's `worker_report`): entries by `(name, method)`,
    /// errors by key, and the total only from `stats_total`.
    pub fn merge_report(&mut self, report: &StatsReport, now: f64) {
        for s in &report.stats {
            let i = self.entry_index(&s.name, &s.method, now);
            self.entries[i].extend(s);
        }
        for (key, err) in &report.errors.0 {
            let j = match self.error_index.get(key) {
                Some(&j) => j,
                None => {
                    let fresh = StatsError {
                        occurrences: 0,
                        first_seen: None,
                        last_seen: None,
                        ..err.clone()
                    };
                    self.error_row(key.clone(), || fresh)
                }
            };
            self.errors[j].merge(err);
        }
        self.total.extend(&report.stats_total);
    }
}

#[cfg(test)]
mod tests;
