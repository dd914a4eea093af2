//! The statistics hub: the one owner of the run's request statistics and exceptions table.
//! Users report to it through a channel (as a [`RequestSink`]); everything that reads the
//! statistics (console, CSV writer, web API, final report) runs a closure against its state on
//! the hub's own task ([`HubHandle::read`]), so nothing is deep-copied to be read.
//! It also logs, once per run each, that a table's cap was reached ([`StatsLimits`]).
//!
//! The same hub serves the three roles ([`HubRole`]): a standalone run's table; a worker's,
//! which hands its deltas to the master ([`HubHandle::take_report`], Locust's serialize and
//! reset, SPEC §2.6); and a master's, which merges its workers' reports and exceptions
//! ([`HubHandle::merge_report`], [`HubHandle::exception_from`], SPEC §2.8, §2.9).

use std::sync::Arc;

use skein_api::{RequestRecord, RequestSink};
use tokio::sync::{mpsc, oneshot};

use crate::stats::{Exceptions, HistoryPoint, Overflowed, RequestStats, StatsLimits, StatsReport};

/// Which process the hub's table belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubRole {
    /// A standalone run: its own users, current percentiles on.
    Local,
    /// A worker: its users' deltas go to the master, which alone computes current percentiles
    /// (Locust's worker table has `use_response_times_cache` off).
    Worker,
    /// A master: no users of its own; merges its workers' reports.
    Master,
}

/// The statistics at one moment, borrowed from the hub for the length of a read.
#[derive(Clone, Copy)]
pub struct StatsView<'a> {
    pub stats: &'a RequestStats,
    pub exceptions: &'a Exceptions,
    pub history: &'a [HistoryPoint],
}

/// A read run on the hub's task; it sends its own result back (see [`HubHandle::read`]).
pub type StatsReader = Box<dyn FnOnce(&StatsView<'_>) + Send>;

/// Exceptions a worker keeps for its next report to the master, at most.
pub const MAX_PENDING_EXCEPTIONS: usize = 1000;

enum HubMsg {
    Request(RequestRecord),
    Exception {
        msg: String,
        traceback: String,
        /// `None`: this process's own node name.
        node: Option<String>,
    },
    TakeReport {
        now: f64,
        reply: oneshot::Sender<StatsReport>,
    },
    TakeExceptions(oneshot::Sender<Vec<(String, String)>>),
    Merge {
        node: String,
        report: Box<StatsReport>,
        now: f64,
    },
    Reset {
        now: f64,
    },
    Clear {
        now: f64,
    },
    Sample {
        now: f64,
        user_count: u64,
    },
    Read(StatsReader),
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
        let _ = self.tx.send(HubMsg::Exception {
            msg,
            traceback,
            node: None,
        });
    }

    /// A master: an exception a worker reported (its `exception` message); `node` is the
    /// worker's id, listed in the row's nodes.
    pub fn exception_from(&self, msg: String, traceback: String, node: String) {
        let _ = self.tx.send(HubMsg::Exception {
            msg,
            traceback,
            node: Some(node),
        });
    }

    /// A worker: the report to send to the master (entries with data, the total, the errors),
    /// and the reset that follows it, in one step so that no record falls between them.
    /// `None` when the hub has ended.
    pub async fn take_report(&self, now: f64) -> Option<StatsReport> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(HubMsg::TakeReport { now, reply }).ok()?;
        rx.await.ok()
    }

    /// A master: merges a worker's report (Locust's `worker_report`). Reports of unknown
    /// workers are merged too, as Locust does; `node` only names the sender in the log.
    /// A worker's exceptions since the last call, `(msg, traceback)`, for its `exception`
    /// messages (at most [`MAX_PENDING_EXCEPTIONS`] wait; more are counted in the table only).
    pub async fn take_exceptions(&self) -> Option<Vec<(String, String)>> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(HubMsg::TakeExceptions(reply)).ok()?;
        rx.await.ok()
    }

    pub fn merge_report(&self, node: String, report: StatsReport, now: f64) {
        let _ = self.tx.send(HubMsg::Merge {
            node,
            report: Box::new(report),
            now,
        });
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

    /// Runs `f` against the statistics on the hub's task and returns its result; `None` when
    /// the hub has ended. Everything reported before this call is seen by `f`: the channel is
    /// FIFO. `f` holds up every report while it runs, so it should build its answer and return
    /// (IO belongs to the caller).
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&StatsView<'_>) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        self.read_boxed(Box::new(move |v| {
            let _ = tx.send(f(v));
        }));
        rx.await.ok()
    }

    /// [`read`](Self::read) for callers behind a trait object: `f` is dropped unrun when the
    /// hub has ended.
    pub fn read_boxed(&self, f: StatsReader) {
        let _ = self.tx.send(HubMsg::Read(f));
    }
}

/// Starts a standalone hub with the default caps; see [`spawn_with`].
pub fn spawn(now: f64, node: String) -> HubHandle {
    spawn_with(now, node, StatsLimits::default())
}

/// Starts a standalone hub; see [`spawn_as`].
pub fn spawn_with(now: f64, node: String, limits: StatsLimits) -> HubHandle {
    spawn_as(HubRole::Local, now, node, limits)
}

/// Starts the hub; it runs until every handle is dropped. `node` names this process in the
/// exceptions table (Locust's local runner says "local", a worker its client id); `limits`
/// caps the request-name and failure tables.
pub fn spawn_as(role: HubRole, now: f64, node: String, limits: StatsLimits) -> HubHandle {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let use_cache = role != HubRole::Worker;
        let mut stats = RequestStats::with_limits(use_cache, limits, now);
        let mut exceptions = Exceptions::default();
        let mut history: Vec<HistoryPoint> = Vec::new();
        let mut warned = Overflowed::default();
        let mut pending_exceptions: Vec<(String, String)> = Vec::new();
        while let Some(msg) = rx.recv().await {
            match msg {
                HubMsg::Request(r) => {
                    stats.log(&r);
                    warn_overflow_once(&stats, &mut warned);
                }
                HubMsg::Exception {
                    msg,
                    traceback,
                    node: from,
                } => {
                    exceptions.add(&msg, &traceback, from.as_deref().unwrap_or(&node));
                    if role == HubRole::Worker && pending_exceptions.len() < MAX_PENDING_EXCEPTIONS {
                        pending_exceptions.push((msg, traceback));
                    }
                }
                HubMsg::TakeExceptions(reply) => {
                    let _ = reply.send(std::mem::take(&mut pending_exceptions));
                }
                HubMsg::TakeReport { now, reply } => {
                    let _ = reply.send(stats.take_report(now));
                }
                HubMsg::Merge { node, report, now } => {
                    tracing::trace!("merging the statistics report of {node}");
                    stats.merge_report(&report, now);
                    warn_overflow_once(&stats, &mut warned);
                }
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
                HubMsg::Read(f) => f(&StatsView {
                    stats: &stats,
                    exceptions: &exceptions,
                    history: &history,
                }),
            }
        }
    });
    HubHandle { tx }
}

/// Logs the first overflow of each table; `warned` remembers which were logged.
fn warn_overflow_once(stats: &RequestStats, warned: &mut Overflowed) {
    let now = stats.overflowed();
    let limits = stats.limits();
    if now.names > 0 && warned.names == 0 {
        warned.names = now.names;
        tracing::warn!(
            "More than {} request names: further new names are counted in one row named {:?} (raise the cap with --max-request-names)",
            limits.max_request_names,
            crate::stats::OVERFLOW_NAME
        );
    }
    if now.failures > 0 && warned.failures == 0 {
        warned.failures = now.failures;
        tracing::warn!(
            "More than {} distinct failures: further new errors are counted in one row {:?} (raise the cap with --max-failure-rows)",
            limits.max_failure_rows,
            crate::stats::OVERFLOW_ERROR
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn rec(i: u64) -> RequestRecord {
        RequestRecord {
            method: Cow::Borrowed("GET"),
            name: Cow::Owned(format!("/id/{i}")),
            response_time_ms: Some(1.0),
            content_length: 0,
            failure: Some(skein_api::Failure::Check(format!("error {i}"))),
            timestamp: 1.0,
        }
    }

    #[tokio::test]
    async fn the_hub_caps_its_tables() {
        let limits = StatsLimits {
            max_request_names: 10,
            max_failure_rows: 7,
        };
        let hub = spawn_with(0.0, "test".into(), limits);
        for i in 0..2_000 {
            hub.record(rec(i));
        }
        let (entries, errors, requests, failures) = hub
            .read(|v| {
                let total = v.stats.total();
                (
                    v.stats.entries_in_order().len(),
                    v.stats.errors_in_order().len(),
                    total.num_requests,
                    total.num_failures,
                )
            })
            .await
            .expect("hub runs");
        assert_eq!((entries, errors), (11, 8));
        assert_eq!((requests, failures), (2_000, 2_000));
    }

    /// A worker's hub hands over its deltas and starts again; a master's merges them, and
    /// lists each worker that raised an exception.
    #[tokio::test]
    async fn a_worker_reports_deltas_and_a_master_merges_them() {
        let limits = StatsLimits::default();
        let worker = spawn_as(HubRole::Worker, 0.0, "w1".into(), limits);
        let master = spawn_as(HubRole::Master, 0.0, "master".into(), limits);
        for i in 0..3 {
            worker.record(rec(i % 2));
        }
        let first = worker.take_report(5.0).await.expect("hub runs");
        assert_eq!(first.stats.len(), 2);
        assert_eq!(first.stats_total.num_requests, 3);
        assert_eq!(first.errors.0.len(), 2);
        let second = worker.take_report(8.0).await.expect("hub runs");
        assert!(
            second.stats.is_empty(),
            "entries without data are not sent again"
        );
        assert_eq!(second.stats_total.num_requests, 0);
        assert!(second.errors.0.is_empty());

        master.merge_report("w1".into(), first.clone(), 5.0);
        master.merge_report("w2".into(), first, 5.0);
        master.exception_from("boom".into(), "tb".into(), "w1".into());
        master.exception_from("boom".into(), "tb".into(), "w2".into());
        let (requests, rows, nodes, count) = master
            .read(|v| {
                let ex = &v.exceptions.rows()[0];
                (
                    v.stats.total().num_requests,
                    v.stats.entries_in_order().len(),
                    ex.nodes_joined(),
                    ex.count,
                )
            })
            .await
            .expect("hub runs");
        assert_eq!((requests, rows), (6, 2));
        assert_eq!((nodes.as_str(), count), ("w1, w2", 2));
    }

    /// Collects what the fmt subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_warning_is_logged_once_per_table() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let limits = StatsLimits {
                max_request_names: 3,
                max_failure_rows: 5,
            };
            let mut stats = RequestStats::with_limits(true, limits, 0.0);
            let mut warned = Overflowed::default();
            for i in 0..100 {
                stats.log(&rec(i));
                warn_overflow_once(&stats, &mut warned);
                if i == 50 {
                    stats.reset_all(2.0);
                }
            }
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text.matches("More than 3 request names").count(),
            1,
            "{text}"
        );
        assert_eq!(
            text.matches("More than 5 distinct failures").count(),
            1,
            "{text}"
        );
        assert_eq!(text.lines().count(), 2, "{text}");
    }
}
