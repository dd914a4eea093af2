//! The statistics hub: the one owner of the run's request statistics and exceptions table.
//! Users report to it through a channel (as a [`RequestSink`]); everything that reads the
//! statistics (console, CSV writer, web API, final report) asks it for a snapshot.

use std::sync::Arc;

use skein_api::{RequestRecord, RequestSink};
use tokio::sync::{mpsc, oneshot};

use crate::stats::{Exceptions, RequestStats};

/// A consistent copy of the statistics at one moment.
#[derive(Clone)]
pub struct Snapshot {
    pub stats: RequestStats,
    pub exceptions: Exceptions,
    pub history: Vec<HistoryPoint>,
}

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

enum HubMsg {
    Request(RequestRecord),
    Exception { msg: String, traceback: String },
    Reset { now: f64 },
    Clear { now: f64 },
    Sample { now: f64, user_count: u64 },
    Snapshot(oneshot::Sender<Snapshot>),
}

/// A cheap, cloneable way to talk to the hub.
#[derive(Clone)]
pub struct HubHandle {
    tx: mpsc::UnboundedSender<HubMsg>,
}

impl RequestSink for HubHandle {
    fn record(&self, record: RequestRecord) {
        let _ = self.tx.send(HubMsg::Request(record));
    }
}

impl HubHandle {
    pub fn sink(&self) -> Arc<dyn RequestSink> {
        Arc::new(self.clone())
    }

    pub fn exception(&self, msg: String, traceback: String) {
        let _ = self.tx.send(HubMsg::Exception { msg, traceback });
    }

    /// Clears requests, failures and exceptions (Locust's `/stats/reset` and `--reset-stats`).
    pub fn reset(&self, now: f64) {
        let _ = self.tx.send(HubMsg::Reset { now });
    }

    /// Removes every row, failure, exception and history point (Locust's `clear_all` when a
    /// new test starts): rows of classes that no longer run disappear.
    pub fn clear(&self, now: f64) {
        let _ = self.tx.send(HubMsg::Clear { now });
    }

    pub fn sample_history(&self, now: f64, user_count: u64) {
        let _ = self.tx.send(HubMsg::Sample { now, user_count });
    }

    /// Everything reported before this call is in the snapshot: the channel is FIFO.
    pub async fn snapshot(&self) -> Option<Snapshot> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(HubMsg::Snapshot(tx)).ok()?;
        rx.await.ok()
    }
}

/// Starts the hub; it runs until every handle is dropped. `node` names this process in the
/// exceptions table (Locust's local runner says "local").
pub fn spawn(now: f64, node: String) -> HubHandle {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stats = RequestStats::new(now);
        let mut exceptions = Exceptions::default();
        let mut history: Vec<HistoryPoint> = Vec::new();
        while let Some(msg) = rx.recv().await {
            match msg {
                HubMsg::Request(r) => stats.log(&r),
                HubMsg::Exception { msg, traceback } => exceptions.add(&msg, &traceback, &node),
                HubMsg::Reset { now } => {
                    stats.reset_all(now);
                    exceptions.clear();
                    history.clear();
                }
                HubMsg::Clear { now } => {
                    stats.clear_all(now);
                    exceptions.clear();
                    history.clear();
                }
                HubMsg::Sample { now, user_count } => {
                    history.push(HistoryPoint::sample(&stats, now, user_count))
                }
                HubMsg::Snapshot(reply) => {
                    let snap = Snapshot {
                        stats: stats.clone(),
                        exceptions: exceptions.clone(),
                        history: history.clone(),
                    };
                    let _ = reply.send(snap);
                }
            }
        }
    });
    HubHandle { tx }
}
