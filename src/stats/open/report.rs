//! The open-model summary as a worker hands it to its master: the iteration counts and the
//! per-name latency buckets since its last report ([`OpenStats::take_report`]), and the
//! master's bucket-wise merge of them ([`OpenStats::merge_report`]). Buckets are Locust's, so
//! a merged percentile is exactly the one the workers' records together would give.

use super::{ArrivalCounts, OpenEntry, OpenStats};

/// One worker's open-model delta (the `skein_open` key of its `stats` report). The total row
/// is not carried: it is the sum of the rows, which the master rebuilds as it merges them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenReport {
    pub counts: ArrivalCounts,
    pub entries: Vec<OpenEntry>,
}

impl OpenReport {
    pub fn is_empty(&self) -> bool {
        self.counts.is_zero() && self.entries.is_empty()
    }
}

impl OpenEntry {
    /// Adds another entry's requests, bucket by bucket.
    pub(super) fn merge(&mut self, o: &OpenEntry) {
        self.num_requests += o.num_requests;
        for (k, n) in o.corrected.iter() {
            self.corrected.add(k, n);
        }
        for (k, n) in o.uncorrected.iter() {
            self.uncorrected.add(k, n);
        }
        self.total_corrected += o.total_corrected;
        self.total_uncorrected += o.total_uncorrected;
    }
}

impl OpenStats {
    /// A worker: what came in since the last report, in one step with the reset that follows
    /// it (the rate asked stays, the summary stays active). `None` outside an open-model run.
    pub fn take_report(&mut self, now: f64) -> Option<OpenReport> {
        self.rate_asked()?;
        let report = OpenReport {
            counts: self.counts,
            entries: std::mem::take(&mut self.entries).into_values().collect(),
        };
        self.reset(now);
        Some(report)
    }

    /// A master: adds a worker's delta, received at `now` (the master's clock). Rows beyond the
    /// master's own cap go to the overflow row, as its own records would. A report that
    /// arrives outside an open-model run (a late one after a new closed test) is ignored.
    pub fn merge_report(&mut self, report: &OpenReport, now: f64) {
        if !self.is_active() {
            return;
        }
        self.count(report.counts, now);
        for e in &report.entries {
            self.entry_for(&e.name, &e.method).merge(e);
            self.total.merge(e);
        }
    }
}
