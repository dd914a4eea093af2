//! The master's state machine (Locust's `MasterRunner`), pure: no sockets, no tasks, the clock
//! passed in as `now` (epoch seconds). It owns the worker table, the dispatcher and the ramp,
//! takes worker messages ([`Master::handle`]), ticks ([`Master::tick`]), deadlines
//! ([`Master::on_deadline`]) and commands ([`Master::start`], [`Master::stop`],
//! [`Master::quit`]), and answers each with the [`Effect`]s its driver carries out.
//!
//! It behaves as Locust 2.47.0 does, with one deliberate difference: users are rebalanced when a
//! worker goes missing (Locust needs `--enable-rebalancing`), and missing is noticed one tick
//! earlier, so a lost worker's users run elsewhere within 5 s of its last heartbeat.

mod arrival;
mod classes;
mod liveness;
mod members;
mod ramp;
mod types;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

pub use arrival::split as split_arrival;
pub use types::{
    Effect, Level, MasterConfig, MasterError, MasterStatus, MembershipChange, MembershipEvent,
    WorkerStatus,
};

use crate::cluster::dispatch::Dispatcher;
use crate::cluster::message::{ArrivalShare, ClassCounts, ToMaster, ToWorker, WorkerState};
use crate::engine::runner::RunState;

/// Above this, a worker's CPU gets one warning (Locust's `CPU_WARNING_THRESHOLD`).
const CPU_WARNING_THRESHOLD: f64 = 90.0;
/// Senders that are not trusted after a malformed frame, at most (bad input, bounded memory).
const MAX_UNTRUSTED: usize = 4096;

/// The master's view of one registered worker (Locust's `WorkerNode`).
#[derive(Debug, Clone)]
struct WorkerNode {
    id: String,
    state: WorkerState,
    /// Ticks left before it counts as missing; keeps counting down while missing.
    heartbeat: i32,
    cpu: f64,
    memory: u64,
    /// What it last reported running.
    counts: BTreeMap<String, u64>,
    cpu_warned: bool,
    /// It was told about a class it lacks (see `classes`).
    classes_warned: bool,
    /// A skein worker (its `client_ready` said so): only these run open-model shares.
    skein: bool,
}

impl WorkerNode {
    fn user_count(&self) -> u64 {
        self.counts.values().sum()
    }

    fn is_active(&self) -> bool {
        matches!(
            self.state,
            WorkerState::Ready | WorkerState::Spawning | WorkerState::Running
        )
    }
}

/// Where the current ramp is (Locust runs it inside `start()`; here it is explicit).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ramp {
    Idle,
    /// More dispatch iterations to come; the next at `next_at`.
    Iterating {
        next_at: f64,
    },
    /// The last iteration went out; waiting for the reports to reach the target.
    AwaitingReports {
        until: f64,
    },
}

pub struct Master {
    cfg: MasterConfig,
    class_names: Vec<String>,
    state: RunState,
    /// In registration order, as Python's dict keeps them.
    workers: Vec<WorkerNode>,
    indexes: BTreeMap<String, u64>,
    untrusted: BTreeSet<String>,
    dispatcher: Option<Dispatcher>,
    /// The classes of the current test (`None`: all of them).
    active_classes: Option<Vec<String>>,
    target: u64,
    spawn_rate: f64,
    host: Option<String>,
    ramp: Ramp,
    last_spawn_ts: f64,
    target_class_counts: BTreeMap<String, u64>,
    peak_user_count: u64,
    final_class_counts: BTreeMap<String, u64>,
    cpu_warning: bool,
    stop_deadline: Option<f64>,
    quitting: bool,
    /// The open model's total while one runs (split over the workers, see `arrival`).
    open: Option<ArrivalShare>,
    /// Locust workers already warned about in this open-model test.
    open_warned: BTreeSet<String>,
}

impl Master {
    pub fn new(cfg: MasterConfig, _now: f64) -> Self {
        Master {
            class_names: cfg.all_class_names(),
            host: cfg.host.clone(),
            cfg,
            state: RunState::Ready,
            workers: Vec::new(),
            indexes: BTreeMap::new(),
            untrusted: BTreeSet::new(),
            dispatcher: None,
            active_classes: None,
            target: 0,
            spawn_rate: 0.0,
            ramp: Ramp::Idle,
            last_spawn_ts: f64::NEG_INFINITY,
            target_class_counts: BTreeMap::new(),
            peak_user_count: 0,
            final_class_counts: BTreeMap::new(),
            cpu_warning: false,
            stop_deadline: None,
            quitting: false,
            open: None,
            open_warned: BTreeSet::new(),
        }
    }

    /// One message from worker `node` (the frame's node id, which the driver has checked
    /// against the socket identity).
    pub fn handle(&mut self, node: &str, msg: ToMaster, now: f64) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.untrusted.contains(node) && !matches!(msg, ToMaster::ClientReady(_)) {
            log(
                &mut out,
                Level::Debug,
                format!(
                    "Ignored {} message from {node}: it sent a malformed frame and has not sent client_ready since",
                    msg.type_name()
                ),
            );
            return out;
        }
        match msg {
            ToMaster::ClientReady(version) => self.client_ready(node, version, now, &mut out),
            ToMaster::Heartbeat(hb) => self.heartbeat(node, hb, now, &mut out),
            ToMaster::Stats(payload) => {
                let payload = *payload;
                out.push(Effect::MergeStats {
                    open: payload.open.map(Box::new),
                    sent_at: payload.sent_at,
                    node: node.to_string(),
                    report: Box::new(payload.report),
                });
                self.check_worker_classes(node, &payload.user_classes_count, &mut out);
                match self.worker_mut(node) {
                    Some(w) => w.counts = payload.user_classes_count.to_map(),
                    None => log(
                        &mut out,
                        Level::Info,
                        format!("Discarded report from unrecognized worker {node}"),
                    ),
                }
            }
            ToMaster::Spawning => match self.worker_mut(node) {
                Some(w) => w.state = WorkerState::Spawning,
                None => self.ask_to_quit(node, "spawning", &mut out),
            },
            ToMaster::SpawningComplete(spawned) => {
                self.check_worker_classes(node, &spawned.user_classes_count, &mut out);
                match self.worker_mut(node) {
                    Some(w) => {
                        w.state = WorkerState::Running;
                        w.counts = spawned.user_classes_count.to_map();
                    }
                    None => self.ask_to_quit(node, "spawning_complete", &mut out),
                }
            }
            ToMaster::ClientStopped => self.client_stopped(node, now, &mut out),
            ToMaster::Quit => self.worker_quit(node, now, &mut out),
            ToMaster::Exception(e) => out.push(Effect::Exception {
                node: node.to_string(),
                msg: e.msg,
                traceback: e.traceback,
            }),
            ToMaster::Logs(logs) => out.push(Effect::WorkerLogs {
                worker: logs.worker_id,
                lines: logs.logs,
            }),
            ToMaster::Locustfile { version } => {
                self.locustfile(node, &version, &mut out);
                return out;
            }
        }
        self.peak_user_count = self.peak_user_count.max(self.user_count());
        self.check_stopped(&mut out);
        self.check_reports(&mut out);
        out
    }

    /// Workers in state `ready`, for `--expect-workers`.
    pub fn ready_count(&self) -> usize {
        self.workers
            .iter()
            .filter(|w| w.state == WorkerState::Ready)
            .count()
    }

    pub fn status(&self) -> MasterStatus {
        MasterStatus {
            state: self.state,
            user_count: self.user_count(),
            class_counts: self.reported_counts(),
            target: self.target,
            spawn_rate: self.spawn_rate,
            host: self.host.clone(),
            peak_user_count: self.peak_user_count,
            final_class_counts: self.final_class_counts.clone(),
            workers: self
                .workers
                .iter()
                .map(|w| WorkerStatus {
                    id: w.id.clone(),
                    index: self.indexes.get(&w.id).copied().unwrap_or(0),
                    state: w.state,
                    user_count: w.user_count(),
                    cpu_percent: w.cpu,
                    memory_bytes: w.memory,
                })
                .collect(),
            cpu_warning: self.cpu_warning,
        }
    }

    // ---- helpers -------------------------------------------------------------------------

    fn worker_mut(&mut self, id: &str) -> Option<&mut WorkerNode> {
        self.workers.iter_mut().find(|w| w.id == id)
    }

    fn is_known(&self, id: &str) -> bool {
        self.workers.iter().any(|w| w.id == id)
    }

    /// Deletes a worker from the table; false when it was not there.
    fn remove(&mut self, id: &str) -> bool {
        let before = self.workers.len();
        self.workers.retain(|w| w.id != id);
        self.workers.len() != before
    }

    /// A stable 0-based index per id for the master's lifetime (the first id seen gets 0).
    fn index_of(&mut self, id: &str) -> u64 {
        let next = self.indexes.len() as u64;
        *self.indexes.entry(id.to_string()).or_insert(next)
    }

    /// Ready, spawning and running workers (Locust's `worker_count`).
    fn worker_count(&self) -> usize {
        self.workers.iter().filter(|w| w.is_active()).count()
    }

    fn active_ids(&self) -> Vec<String> {
        self.workers
            .iter()
            .filter(|w| w.is_active())
            .map(|w| w.id.clone())
            .collect()
    }

    /// Every worker's reported users, missing ones included (they report none).
    fn user_count(&self) -> u64 {
        self.workers.iter().map(WorkerNode::user_count).sum()
    }

    /// Per class, over active workers (Locust's `reported_user_classes_count`).
    fn reported_counts(&self) -> BTreeMap<String, u64> {
        let mut totals = BTreeMap::new();
        for w in self.workers.iter().filter(|w| w.is_active()) {
            for (class, n) in &w.counts {
                *totals.entry(class.clone()).or_insert(0) += n;
            }
        }
        totals
    }

    fn set_state(&mut self, state: RunState, out: &mut Vec<Effect>) {
        if self.state != state {
            self.state = state;
            out.push(Effect::State(state));
        }
    }

    fn send(&self, out: &mut Vec<Effect>, to: &str, msg: ToWorker) {
        out.push(Effect::Send {
            to: to.to_string(),
            msg,
        });
    }

    fn membership(
        &mut self,
        out: &mut Vec<Effect>,
        now: f64,
        node: &str,
        change: MembershipChange,
    ) {
        let index = self.index_of(node);
        out.push(Effect::Membership(MembershipEvent {
            time: now,
            node: node.to_string(),
            index,
            change,
        }));
    }
}

fn log(out: &mut Vec<Effect>, level: Level, text: impl Into<String>) {
    out.push(Effect::Log(level, text.into()));
}

/// Locust's `_format_user_classes_count_for_log`: `json.dumps(counts) (N total users)`.
fn format_counts(counts: &BTreeMap<String, u64>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = counts
        .iter()
        .map(|(k, v)| (k.clone(), (*v).into()))
        .collect();
    let total: u64 = counts.values().sum();
    format!(
        "{} ({total} total users)",
        crate::report::json::dumps(&map.into(), None)
    )
}

/// Every class name, in order, with this worker's share (zeros included).
fn full_counts(names: &[String], share: &BTreeMap<String, u64>) -> ClassCounts {
    ClassCounts(
        names
            .iter()
            .map(|n| (n.clone(), share.get(n).copied().unwrap_or(0)))
            .collect(),
    )
}
