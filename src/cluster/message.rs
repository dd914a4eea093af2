//! The messages of Locust's master/worker protocol (SPEC §1.4), one enum per direction, and
//! their payloads as Locust builds them. [`ToMaster`] is what a worker sends, [`ToWorker`] what
//! a master sends; `heartbeat`, `spawning_complete`, `quit` and `locustfile` exist both ways with
//! different payloads, which is why the direction is part of the type. Turning them into
//! `[type, data, node_id]` frames and back is [`super::codec`]'s job.

use std::collections::BTreeMap;

use crate::stats::{OpenReport, StatsReport};

use super::value::Value;

/// The Locust version skein speaks (sent in `client_ready` and `locustfile`).
pub const LOCUST_VERSION: &str = "2.47.0";

/// What a skein worker appends to Locust's version in `client_ready`: the one frame every
/// worker sends before anything else, so a skein master knows from the start which workers can
/// run an open-model share (Locust workers cannot). Locust's master compares only the first
/// four characters of a differing version and logs a debug line, so it accepts it.
pub const SKEIN_VERSION_MARK: &str = "+skein";

/// `client_ready`'s data: a version string, or `-1` to skip the version check.
#[derive(Debug, Clone, PartialEq)]
pub enum Version {
    /// Never empty (an empty or missing version is an "old (pre 2.0) worker" and refused).
    Named(String),
    /// The integer `-1`.
    Unchecked,
}

/// A worker's state as it reports it in heartbeats (and as the master sees it: `missing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    Ready,
    Spawning,
    Running,
    Cleanup,
    Stopping,
    Stopped,
    Missing,
}

impl WorkerState {
    pub const ALL: [WorkerState; 7] = [
        WorkerState::Ready,
        WorkerState::Spawning,
        WorkerState::Running,
        WorkerState::Cleanup,
        WorkerState::Stopping,
        WorkerState::Stopped,
        WorkerState::Missing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Ready => "ready",
            WorkerState::Spawning => "spawning",
            WorkerState::Running => "running",
            WorkerState::Cleanup => "cleanup",
            WorkerState::Stopping => "stopping",
            WorkerState::Stopped => "stopped",
            WorkerState::Missing => "missing",
        }
    }

    pub fn parse(s: &str) -> Option<WorkerState> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// `{class name: users}` in the order of the wire (Python's dict order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClassCounts(pub Vec<(String, u64)>);

impl ClassCounts {
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }

    pub fn to_map(&self) -> BTreeMap<String, u64> {
        self.0.iter().cloned().collect()
    }
}

/// One worker's counts from the dispatcher, sorted by class name as Locust's are.
impl From<&BTreeMap<String, u64>> for ClassCounts {
    fn from(m: &BTreeMap<String, u64>) -> Self {
        ClassCounts(m.iter().map(|(k, v)| (k.clone(), *v)).collect())
    }
}

/// A worker's heartbeat: its state, CPU (% of one core) and memory (RSS bytes, optional on
/// the wire: Locust's master only updates it when present).
#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat {
    pub state: WorkerState,
    pub cpu_percent: f64,
    pub memory_bytes: Option<u64>,
}

/// A worker's `stats` report: the statistics wire form of `stats/` plus the users it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsPayload {
    pub report: StatsReport,
    pub user_classes_count: ClassCounts,
    /// Python workers always send it; Locust's master does not need it.
    pub user_count: Option<u64>,
    /// skein workers only (key `skein_sent_at`, which Locust's master ignores): the worker's
    /// clock when it sent the report, so a skein master can correct clock skew exactly.
    pub sent_at: Option<f64>,
    /// skein workers in an open-model run only (key `skein_open`): the open-model summary since
    /// the last report, which a skein master merges into its own.
    pub open: Option<OpenReport>,
}

/// A worker's `spawning_complete`: what it runs now.
#[derive(Debug, Clone, PartialEq)]
pub struct SpawnedUsers {
    pub user_classes_count: ClassCounts,
    pub user_count: u64,
}

/// An unhandled error in a user task.
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionReport {
    pub msg: String,
    pub traceback: String,
}

/// A worker's log ring buffer (the master replaces what it had for that worker).
#[derive(Debug, Clone, PartialEq)]
pub struct LogsReport {
    pub worker_id: String,
    pub logs: Vec<String>,
}

/// The master's `spawn`: absolute per-class targets for this worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Spawn {
    /// Epoch seconds; a worker discards a spawn not newer than the last one it took.
    pub timestamp: f64,
    pub user_classes_count: ClassCounts,
    pub host: Option<String>,
    /// `None` is sent as nil; workers read it as 0.
    pub stop_timeout: Option<f64>,
    /// The master's options (`vars(options)`), string keys; always a map on the wire.
    pub parsed_options: Vec<(String, Value)>,
    /// skein only (key `skein_arrival`, absent unless set): this worker's share of an open-model
    /// run; the worker runs it instead of a user count.
    pub arrival: Option<ArrivalShare>,
}

/// One worker's part of a distributed open-model run: iterations per second and pool size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrivalShare {
    pub rate: f64,
    pub max_in_flight: u64,
}

/// `update_user_class`: attributes to set on one class (`tasks` filters its task list).
#[derive(Debug, Clone, PartialEq)]
pub struct UserClassUpdate {
    pub user_class_name: String,
    pub settings: Vec<(String, Value)>,
}

/// One entry of the master's `locustfile` reply.
#[derive(Debug, Clone, PartialEq)]
pub enum LocustfileSource {
    File { filename: String, contents: String },
    Url(String),
}

/// The master's answer to a worker started with `-f -`.
#[derive(Debug, Clone, PartialEq)]
pub enum LocustfileReply {
    Files(Vec<LocustfileSource>),
    Error(String),
}

/// Worker → master.
#[derive(Debug, Clone, PartialEq)]
pub enum ToMaster {
    ClientReady(Version),
    Heartbeat(Heartbeat),
    /// Boxed: a report is far larger than every other message.
    Stats(Box<StatsPayload>),
    Spawning,
    SpawningComplete(SpawnedUsers),
    ClientStopped,
    Quit,
    Exception(ExceptionReport),
    Logs(LogsReport),
    /// From the temporary `{host}_download_locustfile_{hex}` socket: the worker's version.
    Locustfile {
        version: String,
    },
}

/// Master → worker.
#[derive(Debug, Clone, PartialEq)]
pub enum ToWorker {
    Ack { index: u64 },
    Heartbeat,
    Spawn(Spawn),
    SpawningComplete { user_count: u64 },
    Stop,
    Quit,
    Reconnect,
    UpdateUserClass(UserClassUpdate),
    Locustfile(LocustfileReply),
}

impl Version {
    /// The version a skein worker sends: `2.47.0+skein`.
    pub fn skein() -> Version {
        Version::Named(format!("{LOCUST_VERSION}{SKEIN_VERSION_MARK}"))
    }

    /// Whether a skein worker sent it.
    pub fn is_skein(&self) -> bool {
        matches!(self, Version::Named(v) if v.ends_with(SKEIN_VERSION_MARK))
    }
}

impl ToMaster {
    /// The message type on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            ToMaster::ClientReady(_) => "client_ready",
            ToMaster::Heartbeat(_) => "heartbeat",
            ToMaster::Stats(_) => "stats",
            ToMaster::Spawning => "spawning",
            ToMaster::SpawningComplete(_) => "spawning_complete",
            ToMaster::ClientStopped => "client_stopped",
            ToMaster::Quit => "quit",
            ToMaster::Exception(_) => "exception",
            ToMaster::Logs(_) => "logs",
            ToMaster::Locustfile { .. } => "locustfile",
        }
    }
}

impl ToWorker {
    /// The message type on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            ToWorker::Ack { .. } => "ack",
            ToWorker::Heartbeat => "heartbeat",
            ToWorker::Spawn(_) => "spawn",
            ToWorker::SpawningComplete { .. } => "spawning_complete",
            ToWorker::Stop => "stop",
            ToWorker::Quit => "quit",
            ToWorker::Reconnect => "reconnect",
            ToWorker::UpdateUserClass(_) => "update_user_class",
            ToWorker::Locustfile(_) => "locustfile",
        }
    }
}
