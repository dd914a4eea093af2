//! What the master state machine is configured with and what it hands back: its settings,
//! the effects the driver carries out (sends, merges, logs, membership events), its status
//! snapshot and its errors.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::cluster::dispatch::DispatchClass;
use crate::cluster::message::{ToWorker, WorkerState};
use crate::cluster::value::Value;
use crate::engine::runner::RunState;
use crate::stats::{OpenReport, StatsReport};

/// How the master runs a test; the defaults are Locust's except where the README says otherwise.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// What the dispatcher spreads (weights and fixed counts).
    pub classes: Vec<DispatchClass>,
    /// Every class the workers know; each `spawn` carries all of them, zeros included, because a
    /// Python worker needs every name. Empty means the names of `classes`.
    pub class_names: Vec<String>,
    pub host: Option<String>,
    pub stop_timeout: Option<f64>,
    /// The master's options, sent in every `spawn` (always a map on the wire).
    pub parsed_options: Vec<(String, Value)>,
    /// Ticks without a heartbeat a worker survives (Locust's `HEARTBEAT_LIVENESS`).
    pub heartbeat_liveness: i32,
    /// Ticks a missing worker is kept before it is forgotten (Locust's 60).
    pub missing_delete_after: i32,
    /// After the last ramp iteration, how long to wait for the workers' reports to add up to
    /// the target before declaring the ramp complete anyway (Locust's 1 s).
    pub spawning_complete_wait: f64,
    /// Headless: when the last worker quits, the master quits too ([`Effect::Shutdown`]).
    pub headless: bool,
}

impl MasterConfig {
    pub fn new(classes: Vec<DispatchClass>) -> Self {
        MasterConfig {
            classes,
            class_names: Vec::new(),
            host: None,
            stop_timeout: None,
            parsed_options: Vec::new(),
            heartbeat_liveness: 3,
            missing_delete_after: 60,
            spawning_complete_wait: 1.0,
            headless: false,
        }
    }

    /// Sorted, as Locust's dispatcher sorts classes.
    pub(super) fn all_class_names(&self) -> Vec<String> {
        let mut names: Vec<String> = if self.class_names.is_empty() {
            self.classes.iter().map(|c| c.name.clone()).collect()
        } else {
            self.class_names.clone()
        };
        names.sort();
        names.dedup();
        names
    }
}

pub use crate::cluster::Level;

/// A change in the set of workers, with the time it was noticed, for the console, the log,
/// the report and the web UI.
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipEvent {
    pub time: f64,
    pub node: String,
    /// The worker's stable index (as sent in `ack`).
    pub index: u64,
    pub change: MembershipChange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    /// First `client_ready` from this id.
    Joined,
    /// `client_ready` from an id seen before (after a stop, a restart or a malformed frame).
    Rejoined,
    /// No heartbeat for too long.
    Missing,
    /// A heartbeat from a missing worker.
    SelfHealed,
    /// `client_stopped`: it left the table until its next `client_ready`.
    Stopped,
    /// It said `quit`.
    Quit,
    /// Missing for so long that it was forgotten.
    Removed,
    /// It sent a malformed frame; its messages are ignored until it sends `client_ready`.
    Untrusted,
}

impl MembershipChange {
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipChange::Joined => "joined",
            MembershipChange::Rejoined => "rejoined",
            MembershipChange::Missing => "missing",
            MembershipChange::SelfHealed => "self-healed",
            MembershipChange::Stopped => "stopped",
            MembershipChange::Quit => "quit",
            MembershipChange::Removed => "removed",
            MembershipChange::Untrusted => "untrusted",
        }
    }
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send {
        to: String,
        msg: ToWorker,
    },
    /// A worker's statistics report, to merge into the master's (§2.8).
    MergeStats {
        node: String,
        /// Boxed: a report is far larger than every other effect.
        report: Box<StatsReport>,
        /// The worker's clock when it sent the report, if it said (skein workers do).
        sent_at: Option<f64>,
        /// Its open-model delta (skein workers in an open-model run).
        open: Option<Box<OpenReport>>,
    },
    /// An unhandled error in a worker's user task (§2.9).
    Exception {
        node: String,
        msg: String,
        traceback: String,
    },
    /// Replaces what the master holds for this worker's logs.
    WorkerLogs {
        worker: String,
        lines: Vec<String>,
    },
    Membership(MembershipEvent),
    Log(Level, String),
    /// A new test starts: clear statistics and exceptions (Locust's `start` from a stopped state).
    ClearStats,
    /// An open-model test begins at this total rate: the hub's open-model summary starts (after
    /// any `ClearStats`).
    OpenBegin {
        rate: f64,
    },
    /// The runner state changed.
    State(RunState),
    /// The ramp is complete (the master's own `spawning_complete` event: `--reset-stats` here).
    SpawningComplete {
        user_count: u64,
    },
    /// A worker started with `-f -` asks for the locustfile; the driver answers with
    /// `ToWorker::Locustfile` (the state machine reads no files).
    LocustfileRequested {
        node: String,
    },
    /// Headless and the last worker quit: the master should quit (Locust calls `quit()`).
    Shutdown,
}

/// The master's view of one worker.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerStatus {
    pub id: String,
    pub index: u64,
    pub state: WorkerState,
    pub user_count: u64,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
}

/// A snapshot for the web UI, the console and the report.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterStatus {
    pub state: RunState,
    /// Sum of the users every worker last reported.
    pub user_count: u64,
    /// Per class, over ready, spawning and running workers.
    pub class_counts: BTreeMap<String, u64>,
    pub target: u64,
    pub spawn_rate: f64,
    pub host: Option<String>,
    pub peak_user_count: u64,
    /// The class counts just before the last stop (the report's "Final ratio").
    pub final_class_counts: BTreeMap<String, u64>,
    /// In the order they registered.
    pub workers: Vec<WorkerStatus>,
    /// Whether any worker exceeded 90 % CPU during the test.
    pub cpu_warning: bool,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum MasterError {
    #[error(
        "You can't start a distributed test before at least one worker processes has connected"
    )]
    NoWorkers,
    #[error("No skein worker to run the arrival rate: Locust workers cannot run the open model (connected: {})", .0.join(", "))]
    NoSkeinWorkers(Vec<String>),
    #[error("Invalid spawn_rate value: {0}")]
    InvalidRate(f64),
    #[error("Unknown user class in {0:?}")]
    UnknownClass(Vec<String>),
    #[error("the master has quit")]
    Quitting,
    /// The master's task is gone (its handle outlived it).
    #[error("the master has ended")]
    Ended,
}
