//! The master's state machine (Locust's `MasterRunner`), pure: no sockets, no tasks, the clock
//! passed in as `now` (epoch seconds). It owns the worker table, the dispatcher and the ramp,
//! takes worker messages ([`Master::handle`]), ticks ([`Master::tick`]), deadlines
//! ([`Master::on_deadline`]) and commands ([`Master::start`], [`Master::stop`],
//! [`Master::quit`]), and answers each with the [`Effect`]s its driver carries out.
//!
//! It behaves as Locust 2.47.0 does, with one deliberate difference: users are rebalanced when a
//! worker goes missing (Locust needs `--enable-rebalancing`), and missing is noticed one tick
//! earlier, so a lost worker's users run elsewhere within 5 s of its last heartbeat.

mod liveness;
mod ramp;
mod types;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

pub use types::{
    Effect, Level, MasterConfig, MasterError, MasterStatus, MembershipChange, MembershipEvent,
    WorkerStatus,
};

use crate::cluster::dispatch::Dispatcher;
use crate::cluster::message::{
    ClassCounts, Heartbeat, ToMaster, ToWorker, Version, WorkerState, LOCUST_VERSION,
};
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
    Iterating { next_at: f64 },
    /// The last iteration went out; waiting for the reports to reach the target.
    AwaitingReports { until: f64 },
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
                    node: node.to_string(),
                    report: payload.report,
                });
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
            ToMaster::SpawningComplete(spawned) => match self.worker_mut(node) {
                Some(w) => {
                    w.state = WorkerState::Running;
                    w.counts = spawned.user_classes_count.to_map();
                }
                None => self.ask_to_quit(node, "spawning_complete", &mut out),
            },
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

    fn client_ready(&mut self, node: &str, version: Version, now: f64, out: &mut Vec<Effect>) {
        match &version {
            Version::Named(v) if v.is_empty() => {
                log(
                    out,
                    Level::Error,
                    format!("An old (pre 2.0) worker tried to connect ({node}). That's not going to work."),
                );
                return;
            }
            Version::Named(v) if v != LOCUST_VERSION => {
                if v.chars().take(4).eq(LOCUST_VERSION.chars().take(4)) {
                    log(
                        out,
                        Level::Debug,
                        format!(
                            "A worker ({node}) running a different patch version ({}) connected, master version is {}",
                            skein_api::str_repr(v),
                            skein_api::str_repr(LOCUST_VERSION)
                        ),
                    );
                } else {
                    log(
                        out,
                        Level::Warning,
                        format!("A worker ({node}) running a different version ({v}) connected, master version is {LOCUST_VERSION}"),
                    );
                }
            }
            _ => {}
        }
        let seen_before = self.indexes.contains_key(node);
        let index = self.index_of(node);
        self.send(out, node, ToWorker::Ack { index });
        self.untrusted.remove(node);
        let fresh = WorkerNode {
            id: node.to_string(),
            state: WorkerState::Ready,
            heartbeat: self.cfg.heartbeat_liveness,
            cpu: 0.0,
            memory: 0,
            counts: BTreeMap::new(),
            cpu_warned: false,
        };
        // Python's dict keeps a replaced key where it was.
        let already_connected = match self.workers.iter_mut().find(|w| w.id == node) {
            Some(w) => {
                *w = fresh;
                true
            }
            None => {
                self.workers.push(fresh);
                false
            }
        };
        let change = if seen_before {
            MembershipChange::Rejoined
        } else {
            MembershipChange::Joined
        };
        self.membership(out, now, node, change);
        self.join_dispatch(node, now, out);
        let connected = self.worker_count();
        if already_connected {
            log(
                out,
                Level::Debug,
                format!("{node} (index {index}) reported as ready (duplicate message). {connected} workers connected."),
            );
        } else {
            log(
                out,
                Level::Info,
                format!("{node} (index {index}) reported as ready. {connected} workers connected."),
            );
        }
    }

    /// A worker (re)joined while a dispatcher exists: it gets its share at once.
    fn join_dispatch(&mut self, node: &str, now: f64, out: &mut Vec<Effect>) {
        let Some(d) = self.dispatcher.as_mut() else {
            return;
        };
        let known = d.workers().iter().any(|w| w == node);
        d.add_worker(node);
        if !matches!(self.state, RunState::Spawning | RunState::Running) {
            return;
        }
        if known {
            // Re-registered under the same id (restarted, or after a malformed frame): it may have
            // lost its users, and the dispatcher has nothing new to say, so resend its share.
            let share = d.distribution().get(node).cloned().unwrap_or_default();
            let spawn = self.spawn_message(&share, now);
            self.send(out, node, spawn);
        } else {
            self.redispatch(now, out);
        }
    }

    fn heartbeat(&mut self, node: &str, hb: Heartbeat, now: f64, out: &mut Vec<Effect>) {
        let liveness = self.cfg.heartbeat_liveness;
        let index = self.indexes.get(node).copied().unwrap_or(0);
        let Some(w) = self.worker_mut(node) else {
            log(
                out,
                Level::Debug,
                format!("Got heartbeat message from unknown worker {node}"),
            );
            return;
        };
        w.heartbeat = liveness;
        let healed = w.state == WorkerState::Missing && hb.state != WorkerState::Missing;
        if healed {
            let text = format!(
                "Worker {node} self-healed with heartbeat, setting state to {}.",
                hb.state.as_str()
            );
            out.push(Effect::Log(Level::Info, text));
        }
        w.state = hb.state;
        w.cpu = hb.cpu_percent;
        if let Some(m) = hb.memory_bytes {
            w.memory = m;
        }
        let cpu_warn = !w.cpu_warned && w.cpu > CPU_WARNING_THRESHOLD;
        if cpu_warn {
            w.cpu_warned = true;
            self.cpu_warning = true;
            log(
                out,
                Level::Warning,
                format!("Worker {node} (index {index}) exceeded cpu threshold (will only log this once per worker)"),
            );
        }
        self.send(out, node, ToWorker::Heartbeat);
        if healed {
            self.membership(out, now, node, MembershipChange::SelfHealed);
            self.join_dispatch(node, now, out);
        }
    }

    fn client_stopped(&mut self, node: &str, now: f64, out: &mut Vec<Effect>) {
        if !self.remove(node) {
            log(
                out,
                Level::Warning,
                format!("Received client_stopped message from an unknown worker: {node}."),
            );
            return;
        }
        let index = self.index_of(node);
        self.membership(out, now, node, MembershipChange::Stopped);
        self.leave_dispatch(node, now, out);
        log(
            out,
            Level::Info,
            format!("{node} (index {index}) reported that it has stopped"),
        );
    }

    fn worker_quit(&mut self, node: &str, now: f64, out: &mut Vec<Effect>) {
        if !self.remove(node) {
            return;
        }
        let index = self.index_of(node);
        self.membership(out, now, node, MembershipChange::Quit);
        self.leave_dispatch(node, now, out);
        log(
            out,
            Level::Info,
            format!(
                "Worker {} (index {index}) quit. {} workers ready.",
                skein_api::str_repr(node),
                self.ready_count()
            ),
        );
        if self.worker_count() == 0 {
            log(out, Level::Info, "The last worker quit, stopping test.");
            out.extend(self.stop(now));
            if self.cfg.headless && !self.quitting {
                out.extend(self.quit(now));
                out.push(Effect::Shutdown);
            }
        }
    }

    /// A worker left the dispatch: its users move to the others at once.
    fn leave_dispatch(&mut self, node: &str, now: f64, out: &mut Vec<Effect>) {
        let Some(d) = self.dispatcher.as_mut() else {
            return;
        };
        d.remove_worker(node);
        if matches!(self.state, RunState::Spawning | RunState::Running) && self.worker_count() > 0
        {
            self.redispatch(now, out);
        }
    }

    fn locustfile(&mut self, node: &str, version: &str, out: &mut Vec<Effect>) {
        if version.is_empty() {
            log(
                out,
                Level::Error,
                "A very old worker version requested locustfile. This probably won't work.",
            );
        } else if version.chars().take(4).eq(LOCUST_VERSION.chars().take(4)) {
            log(
                out,
                Level::Debug,
                format!("A worker ({node}) running a different patch version ({version}) connected, master version is {LOCUST_VERSION}"),
            );
        }
        log(out, Level::Debug, "Worker requested locust file");
        out.push(Effect::LocustfileRequested {
            node: node.to_string(),
        });
    }

    fn ask_to_quit(&mut self, node: &str, what: &str, out: &mut Vec<Effect>) {
        log(
            out,
            Level::Warning,
            format!("Got {what} message from unknown worker {node}. Asking worker to quit."),
        );
        self.send(out, node, ToWorker::Quit);
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

    fn membership(&mut self, out: &mut Vec<Effect>, now: f64, node: &str, change: MembershipChange) {
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
