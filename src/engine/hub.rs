//! The statistics hub: the one owner of the run's request statistics and exceptions table.
//! Users report to it through a bounded queue (as a [`RequestSink`]: they wait while it is
//! full, so a slow hub slows them instead of growing memory); commands and reads have their own
//! queue and never wait behind records. Everything that reads the
//! statistics (console, CSV writer, web API, final report) runs a closure against its state on
//! the hub's own task ([`HubHandle::read`]), so nothing is deep-copied to be read.
//! It also logs, once per run each, that a table's cap was reached ([`StatsLimits`]), and owns
//! the open model's summary ([`OpenStats`]: every record with a scheduled start, and the
//! driver's iteration counts, [`HubHandle::count_arrivals`]).
//!
//! The same hub serves the three roles ([`HubRole`]): a standalone run's table; a worker's,
//! which hands its deltas to the master ([`HubHandle::take_report`], Locust's serialize and
//! reset, SPEC §2.6); and a master's, which merges its workers' reports and exceptions
//! ([`HubHandle::merge_report`], [`HubHandle::exception_from`], SPEC §2.8, §2.9).

use std::sync::Arc;

use skein_record::{RecordFuture, RequestRecord, RequestSink};
use tokio::sync::{mpsc, oneshot};

use crate::stats::{
    ArrivalCounts, Exceptions, HistoryPoint, OpenReport, OpenStats, Overflowed, RequestStats,
    StatsLimits, StatsReport,
};

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
    /// The open model's summary (inactive in a closed-model run).
    pub open: &'a OpenStats,
}

/// A read run on the hub's task; it sends its own result back (see [`HubHandle::read`]).
pub type StatsReader = Box<dyn FnOnce(&StatsView<'_>) + Send>;

/// How many records (and user exceptions) may wait for the hub before users wait for room:
/// a few seconds of a fast run, a few megabytes at most.
pub const DEFAULT_QUEUE: usize = 10_000;

/// Exceptions a worker keeps for its next report to the master, at most.
pub const MAX_PENDING_EXCEPTIONS: usize = 1000;

/// What users report: many, so it goes through the bounded queue.
enum Ingest {
    Request(RequestRecord),
    Exception {
        msg: String,
        traceback: String,
        /// `None`: this process's own node name.
        node: Option<String>,
    },
}

/// Commands and reads: few, so they never wait behind records (their queue is unbounded).
enum Control {
    TakeReport {
        now: f64,
        /// Whether the open model's delta is taken (and reset) too.
        open: bool,
        reply: oneshot::Sender<(StatsReport, Option<OpenReport>)>,
    },
    TakeExceptions(oneshot::Sender<Vec<(String, String)>>),
    Merge {
        node: String,
        report: Box<StatsReport>,
        now: f64,
    },
    MergeOpen {
        report: Box<OpenReport>,
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
    OpenBegin {
        rate: f64,
        now: f64,
    },
    Arrivals {
        delta: ArrivalCounts,
        now: f64,
    },
    Read(StatsReader),
}

/// A cheap, cloneable way to talk to the hub.
#[derive(Clone)]
pub struct HubHandle {
    ingest: mpsc::Sender<Ingest>,
    control: mpsc::UnboundedSender<Control>,
}

impl RequestSink for HubHandle {
    /// Waits while the queue is full: a hub that cannot keep up slows the users down instead
    /// of growing memory.
    fn record(&self, record: RequestRecord) -> RecordFuture<'_> {
        // The common case, room in the queue, costs no allocation: a boxed `Ready<()>` is
        // zero-sized. Only a full queue boxes the waiting send.
        match self.ingest.try_send(Ingest::Request(record)) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => Box::pin(std::future::ready(())),
            Err(mpsc::error::TrySendError::Full(i)) => Box::pin(async move {
                let _ = self.ingest.send(i).await;
            }),
        }
    }
}

impl HubHandle {
    pub fn sink(&self) -> Arc<dyn RequestSink> {
        Arc::new(self.clone())
    }

    /// An exception raised by user code; queued with the records (so it is counted after the
    /// requests before it), waiting for room rather than being dropped.
    pub async fn exception(&self, msg: String, traceback: String) {
        let _ = self
            .ingest
            .send(Ingest::Exception {
                msg,
                traceback,
                node: None,
            })
            .await;
    }

    /// A master: an exception a worker reported (its `exception` message); `node` is the
    /// worker's id, listed in the row's nodes.
    pub async fn exception_from(&self, msg: String, traceback: String, node: String) {
        let _ = self
            .ingest
            .send(Ingest::Exception {
                msg,
                traceback,
                node: Some(node),
            })
            .await;
    }

    /// A worker: the report to send to the master (entries with data, the total, the errors),
    /// and the reset that follows it, in one step so that no record falls between them.
    /// `None` when the hub has ended.
    pub async fn take_report(&self, now: f64) -> Option<StatsReport> {
        self.take(now, false).await.map(|(stats, _)| stats)
    }

    /// [`take_report`](Self::take_report) with the open model's delta since the last one
    /// (`None` outside an open-model run), taken in the same step.
    pub async fn take_reports(&self, now: f64) -> Option<(StatsReport, Option<OpenReport>)> {
        self.take(now, true).await
    }

    async fn take(&self, now: f64, open: bool) -> Option<(StatsReport, Option<OpenReport>)> {
        let (reply, rx) = oneshot::channel();
        let cmd = Control::TakeReport { now, open, reply };
        self.control.send(cmd).ok()?;
        rx.await.ok()
    }

    /// A master: merges a worker's report (Locust's `worker_report`). Reports of unknown
    /// workers are merged too, as Locust does; `node` only names the sender in the log.
    /// A worker's user exceptions since the last call, `(msg, traceback)`, for its `exception`
    /// messages (at most [`MAX_PENDING_EXCEPTIONS`] wait; the table counts every one).
    pub async fn take_exceptions(&self) -> Option<Vec<(String, String)>> {
        let (reply, rx) = oneshot::channel();
        self.control.send(Control::TakeExceptions(reply)).ok()?;
        rx.await.ok()
    }

    pub fn merge_report(&self, node: String, report: StatsReport, now: f64) {
        let _ = self.control.send(Control::Merge {
            node,
            report: Box::new(report),
            now,
        });
    }

    /// A master: adds a worker's open-model delta (bucket-wise) to its summary.
    pub fn merge_open(&self, report: OpenReport, now: f64) {
        let _ = self.control.send(Control::MergeOpen {
            report: Box::new(report),
            now,
        });
    }

    /// Clears requests, failures and exceptions (Locust's `/stats/reset` and `--reset-stats`).
    pub fn reset(&self, now: f64) {
        let _ = self.control.send(Control::Reset { now });
    }

    /// Removes every row, failure, exception and history point (Locust's `clear_all` when a
    /// new test starts): rows of classes that no longer run disappear.
    pub fn clear(&self, now: f64) {
        let _ = self.control.send(Control::Clear { now });
    }

    /// An open-model run begins at `rate` iterations per second: its summary starts empty.
    pub fn open_begin(&self, rate: f64, now: f64) {
        let _ = self.control.send(Control::OpenBegin { rate, now });
    }

    /// The open-model driver's iteration counts since its last report, made at `now`.
    pub fn count_arrivals(&self, delta: ArrivalCounts, now: f64) {
        let _ = self.control.send(Control::Arrivals { delta, now });
    }

    pub fn sample_history(&self, now: f64, user_count: u64) {
        let _ = self.control.send(Control::Sample { now, user_count });
    }

    /// Runs `f` against the statistics on the hub's task and returns its result; `None` when
    /// the hub has ended. Everything reported before this call is seen by `f` (the hub takes
    /// in what is queued before it answers). `f` holds up every report while it runs, so it
    /// should build its answer and return (IO belongs to the caller).
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
        let _ = self.control.send(Control::Read(f));
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

/// Starts the hub with the default queue; see [`spawn_queued`].
pub fn spawn_as(role: HubRole, now: f64, node: String, limits: StatsLimits) -> HubHandle {
    spawn_queued(role, now, node, limits, DEFAULT_QUEUE)
}

/// Starts the hub; it runs until every handle is dropped. `node` names this process in the
/// exceptions table (Locust's local runner says "local", a worker its client id); `limits`
/// caps the request-name and failure tables; at most `queue` records wait for it.
pub fn spawn_queued(
    role: HubRole,
    now: f64,
    node: String,
    limits: StatsLimits,
    queue: usize,
) -> HubHandle {
    let (ingest, mut ingest_rx) = mpsc::channel(queue.max(1));
    let (control, mut control_rx) = mpsc::unbounded_channel();
    let mut hub = Hub {
        stats: RequestStats::with_limits(role != HubRole::Worker, limits, now),
        exceptions: Exceptions::default(),
        history: Vec::new(),
        open: OpenStats::new(limits.max_request_names, now),
        warned: Overflowed::default(),
        node,
        pending_exceptions: (role == HubRole::Worker).then(Vec::new),
    };
    tokio::spawn(async move {
        let mut ingest_open = true;
        loop {
            tokio::select! {
                // Commands first: a read or a reset is answered promptly under a flood.
                biased;
                msg = control_rx.recv() => {
                    let Some(msg) = msg else { break };
                    // What was queued before the command is taken in first, so a read sees
                    // every record reported before it and a reset clears them. Only that
                    // much: senders keep refilling the queue.
                    for _ in 0..ingest_rx.len() {
                        match ingest_rx.try_recv() {
                            Ok(i) => hub.ingest(i),
                            Err(_) => break,
                        }
                    }
                    hub.control(msg);
                }
                i = ingest_rx.recv(), if ingest_open => match i {
                    Some(i) => hub.ingest(i),
                    None => ingest_open = false,
                },
            }
        }
    });
    HubHandle { ingest, control }
}

/// The hub task's state.
struct Hub {
    stats: RequestStats,
    exceptions: Exceptions,
    history: Vec<HistoryPoint>,
    open: OpenStats,
    warned: Overflowed,
    node: String,
    /// A worker's exceptions not yet sent to the master (`None` unless a worker).
    pending_exceptions: Option<Vec<(String, String)>>,
}

impl Hub {
    fn ingest(&mut self, i: Ingest) {
        match i {
            Ingest::Request(r) => {
                self.stats.log(&r);
                self.open.log(&r);
                warn_overflow_once(&self.stats, &mut self.warned);
            }
            Ingest::Exception {
                msg,
                traceback,
                node,
            } => {
                self.exceptions
                    .add(&msg, &traceback, node.as_deref().unwrap_or(&self.node));
                if let Some(p) = self.pending_exceptions.as_mut() {
                    if p.len() < MAX_PENDING_EXCEPTIONS {
                        p.push((msg, traceback));
                    }
                }
            }
        }
    }

    fn control(&mut self, msg: Control) {
        match msg {
            Control::TakeReport { now, open, reply } => {
                let open = if open {
                    self.open.take_report(now)
                } else {
                    None
                };
                let _ = reply.send((self.stats.take_report(now), open));
            }
            Control::TakeExceptions(reply) => {
                let taken = self.pending_exceptions.as_mut().map(std::mem::take);
                let _ = reply.send(taken.unwrap_or_default());
            }
            Control::Merge { node, report, now } => {
                tracing::trace!("merging the statistics report of {node}");
                self.stats.merge_report(&report, now);
                warn_overflow_once(&self.stats, &mut self.warned);
            }
            Control::MergeOpen { report, now } => self.open.merge_report(&report, now),
            Control::Reset { now } => {
                self.stats.reset_all(now);
                self.open.reset(now);
                self.exceptions.clear();
                self.history.clear();
            }
            Control::Clear { now } => {
                self.stats.clear_all(now);
                self.open.clear(now);
                self.exceptions.clear();
                self.history.clear();
            }
            Control::Sample { now, user_count } => {
                self.history
                    .push(HistoryPoint::sample(&self.stats, now, user_count))
            }
            Control::OpenBegin { rate, now } => self.open.begin(rate, now),
            Control::Arrivals { delta, now } => self.open.count(delta, now),
            Control::Read(f) => f(&StatsView {
                stats: &self.stats,
                exceptions: &self.exceptions,
                history: &self.history,
                open: &self.open,
            }),
        }
    }
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
mod tests;
