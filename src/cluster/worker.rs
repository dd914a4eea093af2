//! A worker's side of Locust's master/worker protocol as a pure state machine: what to send to
//! the master and what to ask of the local runner, for each message, tick and deadline. It owns
//! the worker's protocol state (registration, worker state, last spawn, the stop cycle and the
//! master-loss timers); it has no sockets and no clock (every call takes `now`, epoch seconds).
//!
//! The driver feeds it master messages ([`Worker::handle`]), a 1 s [`Worker::tick`] (which sends
//! the heartbeat), the runner's progress ([`Worker::spawned`], [`Worker::stopped`]) and wakes it at
//! [`Worker::next_deadline`]. It executes the returned [`Effect`]s **in order**, and must finish a
//! [`Effect::StopUsers`] (the runner honours `stop_timeout`) before running the next effect.
//!
//! Everything follows Locust 2.47.0's `WorkerRunner` except the loss of the master: Locust quits
//! after 60 s without a master heartbeat and keeps its users running meanwhile; here the users
//! stop after [`WorkerConfig::master_heartbeat_timeout`] of silence and the worker tries to
//! register again (see [`link`]).

mod link;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use crate::stats::StatsReport;

use super::codec::DecodeError;
use super::message::{
    ArrivalShare, ClassCounts, ExceptionReport, Heartbeat, Spawn, SpawnedUsers, StatsPayload,
    ToMaster, ToWorker, Version, WorkerState,
};
use super::value::Value;

use link::Link;

/// At most this many master messages wait for the end of a stop cycle (Locust's worker does
/// not read its socket while it stops); a master sending more is misbehaving.
const MAX_DEFERRED: usize = 64;

/// How a worker talks to its master. Defaults are Locust's constants where Locust has one.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfig {
    /// `hostname_hex32`, the ZeroMQ identity and `node_id` of every message.
    pub node_id: String,
    /// Sent in every `client_ready`.
    pub version: Version,
    /// Every user class this worker can run, in the order `user_classes_count` lists them.
    pub class_names: Vec<String>,
    /// Silence from a master (after its first heartbeat) before it counts as lost (skein only;
    /// Locust waits 60 s and then quits).
    pub master_heartbeat_timeout: f64,
    /// `client_ready` is resent this often until an `ack` (Locust's `CONNECT_TIMEOUT`).
    pub connect_retry_every: f64,
    /// Retries after the first `client_ready` before giving up with exit code 255
    /// (Locust's `CONNECT_RETRY_COUNT`: 61 sends, about 305 s).
    pub connect_retries: u32,
    /// `stats` every this many seconds from registration (`WORKER_REPORT_INTERVAL`).
    pub report_interval: f64,
    /// The driver's tick period; informational (the driver owns the interval).
    pub heartbeat_interval: f64,
    /// `$LOCUST_WORKER_ADDITIONAL_WAIT_BEFORE_READY_AFTER_STOP`, added to `stop_timeout`.
    pub additional_wait_before_ready: f64,
    /// How long a worker whose master was lost keeps trying to register again before it quits.
    pub keep_running_without_master: f64,
    /// `--reset-stats`: reset the statistics when the master says spawning is complete.
    pub reset_stats: bool,
}

impl WorkerConfig {
    pub fn new(node_id: impl Into<String>, class_names: Vec<String>) -> Self {
        WorkerConfig {
            node_id: node_id.into(),
            version: Version::skein(),
            class_names,
            master_heartbeat_timeout: 5.0,
            connect_retry_every: 5.0,
            connect_retries: 60,
            report_interval: 3.0,
            heartbeat_interval: 1.0,
            additional_wait_before_ready: 0.0,
            // With the 5 s timeout a vanished master ends the worker 60 s after its last
            // heartbeat, as in Locust.
            keep_running_without_master: 55.0,
            reset_stats: false,
        }
    }
}

pub use super::Level;

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send this message to the master.
    Send(ToMaster),
    /// A test starts on this worker (it was not spawning or running): clear the statistics and
    /// the exceptions, as Locust's worker does before the first spawn of a run.
    TestStart,
    /// Bring every class named in `counts` to its absolute count (spawn first, then stop), then
    /// call [`Worker::spawned`] with what runs.
    Apply {
        counts: ClassCounts,
        host: Option<String>,
        stop_timeout: f64,
        /// The master's `parsed_options`, for the driver to pick custom arguments from.
        options: Vec<(String, Value)>,
        /// An open-model share (a skein master's `skein_arrival`): run it, or retarget the
        /// running one to it, instead of the counts (which are then all zero).
        arrival: Option<ArrivalShare>,
    },
    /// Stop every user (honouring the last `stop_timeout`), then call [`Worker::stopped`].
    StopUsers,
    /// `--reset-stats`: reset the statistics (the master says spawning is complete).
    ResetStats,
    /// Take a report from the statistics hub and send `Worker::stats(report, counts)`.
    SendReport,
    /// Close and recreate the connection to the master with the same identity.
    Reconnect,
    /// The master stopped answering: the users are being stopped and the worker re-registers.
    MasterLost,
    /// Exit the process with this code (after sending what came before).
    Quit {
        code: i32,
    },
    Log(Level, String),
}

/// Where the worker is in a master-ordered stop (Locust's `stop` handler).
#[derive(Debug, Clone, PartialEq)]
enum Job {
    Idle,
    /// `StopUsers` asked for a master `stop`; `client_stopped` follows [`Worker::stopped`].
    StoppingForMaster,
    /// `client_stopped` sent; `client_ready` goes out at this time.
    ReadyAt(f64),
    /// `StopUsers` asked because the master was lost: nothing to tell anyone afterwards.
    StoppingForLoss,
}

/// A worker's protocol state. See the module documentation.
#[derive(Debug)]
pub struct Worker {
    cfg: WorkerConfig,
    link: Link,
    state: WorkerState,
    index: Option<u64>,
    job: Job,
    /// Locust starts at 0, so a spawn stamped 0 or earlier is always discarded.
    last_spawn_timestamp: f64,
    stop_timeout: f64,
    users: ClassCounts,
    cpu_percent: f64,
    memory_bytes: u64,
    next_report: Option<f64>,
    /// Master messages that arrived during a stop cycle, handled after `client_ready`.
    deferred: VecDeque<ToWorker>,
}

impl Worker {
    /// A worker that has just connected: it sends `client_ready` and waits for an `ack`.
    pub fn new(cfg: WorkerConfig, now: f64) -> (Self, Vec<Effect>) {
        let link = Link::connecting(&cfg, now);
        let w = Worker {
            link,
            state: WorkerState::Ready,
            index: None,
            job: Job::Idle,
            last_spawn_timestamp: 0.0,
            stop_timeout: 0.0,
            users: ClassCounts::default(),
            cpu_percent: 0.0,
            memory_bytes: 0,
            next_report: None,
            deferred: VecDeque::new(),
            cfg,
        };
        let fx = vec![w.client_ready()];
        (w, fx)
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.cfg
    }

    /// The state this worker reports in its heartbeats.
    pub fn state(&self) -> WorkerState {
        self.state
    }

    /// The index from the last `ack`.
    pub fn index(&self) -> Option<u64> {
        self.index
    }

    /// Acked by a master and not lost since.
    pub fn is_registered(&self) -> bool {
        matches!(self.link, Link::Registered { .. })
    }

    /// The master went silent and no `ack` has come back yet.
    pub fn is_master_lost(&self) -> bool {
        matches!(self.link, Link::Lost { .. })
    }

    /// A `Quit` effect was emitted: nothing more will be.
    pub fn is_finished(&self) -> bool {
        matches!(self.link, Link::Finished)
    }

    /// The users the runner last reported (from [`Worker::spawned`]).
    pub fn users(&self) -> &ClassCounts {
        &self.users
    }

    /// One message from the master.
    pub fn handle(&mut self, msg: ToWorker, now: f64) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.is_finished() {
            return fx;
        }
        self.heard(&msg, now);
        if matches!(self.job, Job::StoppingForMaster | Job::ReadyAt(_)) && defers(&msg) {
            if self.deferred.len() < MAX_DEFERRED {
                self.deferred.push_back(msg);
            } else {
                fx.push(log(
                    Level::Warning,
                    format!(
                        "Dropping {} message received while stopping",
                        msg.type_name()
                    ),
                ));
            }
            return fx;
        }
        self.dispatch(msg, now, &mut fx);
        fx
    }

    /// A message whose type this worker does not know (the codec's `UnknownType`): it still
    /// shows that the master is alive.
    pub fn unknown_message(&mut self, message_type: &str, now: f64) -> Vec<Effect> {
        if self.is_finished() {
            return Vec::new();
        }
        self.heard_any(now);
        vec![log(
            Level::Warning,
            format!("Unknown message type received: {message_type}"),
        )]
    }

    /// A frame from the master that did not decode: logged and dropped. One whose envelope was
    /// readable still shows that the master is alive.
    pub fn bad_message(&mut self, error: &DecodeError, now: f64) -> Vec<Effect> {
        match error {
            DecodeError::UnknownType { message_type, .. } => {
                self.unknown_message(message_type, now)
            }
            _ if self.is_finished() => Vec::new(),
            _ => {
                if error.node_id().is_some() {
                    self.heard_any(now);
                }
                vec![log(
                    Level::Warning,
                    format!("Dropping a message from the master: {error}"),
                )]
            }
        }
    }

    /// Every heartbeat interval (1 s): the heartbeat, with the process's latest CPU and memory
    /// sample, then whatever deadlines are due.
    pub fn tick(&mut self, now: f64, cpu_percent: f64, memory_bytes: u64) -> Vec<Effect> {
        self.cpu_percent = cpu_percent;
        self.memory_bytes = memory_bytes;
        let mut fx = Vec::new();
        if self.is_registered() {
            fx.push(self.heartbeat());
        }
        fx.extend(self.on_deadline(now));
        fx
    }

    /// The runner applied the last [`Effect::Apply`]; `counts` is what runs now.
    pub fn spawned(&mut self, counts: ClassCounts, _now: f64) -> Vec<Effect> {
        if self.job != Job::Idle || matches!(self.link, Link::Lost { .. } | Link::Finished) {
            // A stop or the loss of the master overtook the spawn (Locust kills the spawning
            // greenlet, so no spawning_complete either).
            self.users = counts;
            return Vec::new();
        }
        self.users = counts;
        self.state = WorkerState::Running;
        let all = self.all_classes(&self.users);
        vec![Effect::Send(ToMaster::SpawningComplete(SpawnedUsers {
            user_count: all.total(),
            user_classes_count: all,
        }))]
    }

    /// The runner stopped every user after [`Effect::StopUsers`].
    pub fn stopped(&mut self, now: f64) -> Vec<Effect> {
        self.users = ClassCounts::default();
        match self.job {
            Job::StoppingForMaster => {
                let wait = self.stop_timeout + self.cfg.additional_wait_before_ready.max(0.0);
                self.job = Job::ReadyAt(now + wait);
                // The master forgets this worker on client_stopped and stops answering its
                // heartbeats until the next client_ready.
                self.link.pause_loss_timer();
                let mut fx = vec![Effect::Send(ToMaster::ClientStopped)];
                fx.extend(self.on_deadline(now));
                fx
            }
            Job::StoppingForLoss => {
                self.job = Job::Idle;
                Vec::new()
            }
            Job::Idle | Job::ReadyAt(_) => Vec::new(),
        }
    }

    /// The `stats` message for a report taken after [`Effect::SendReport`]: always with
    /// `user_classes_count` (every class) and `user_count`, as Python workers send it.
    pub fn stats(&self, report: StatsReport, counts: ClassCounts) -> ToMaster {
        let all = self.all_classes(&counts);
        ToMaster::Stats(Box::new(StatsPayload {
            open: None,
            sent_at: None,
            report,
            user_count: Some(all.total()),
            user_classes_count: all,
        }))
    }

    /// Local shutdown (Ctrl-C, an error): stop the users, tell the master, exit with `code`.
    /// Like Locust, no final report (only a master `quit` sends one).
    pub fn shutdown(&mut self, code: i32) -> Vec<Effect> {
        if self.is_finished() {
            return Vec::new();
        }
        let was_acked = self.index.is_some();
        self.link = Link::Finished;
        let mut fx = vec![Effect::StopUsers];
        if was_acked {
            fx.push(Effect::Send(ToMaster::Quit));
        }
        fx.push(Effect::Quit { code });
        fx
    }

    /// The earliest time [`Worker::on_deadline`] has something to do.
    pub fn next_deadline(&self) -> Option<f64> {
        let mut d = self.link_deadline();
        let mut consider = |t: Option<f64>| {
            if let Some(t) = t {
                d = Some(d.map_or(t, |d: f64| d.min(t)));
            }
        };
        if let Job::ReadyAt(t) = self.job {
            consider(Some(t));
        }
        if self.is_registered() {
            consider(self.next_report);
        }
        d
    }

    /// Everything due at `now`: connect retries, the master-loss check, the end of a stop
    /// cycle, the periodic report.
    pub fn on_deadline(&mut self, now: f64) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.is_finished() {
            return fx;
        }
        self.link_deadlines(now, &mut fx);
        if self.is_finished() {
            return fx;
        }
        if let Job::ReadyAt(t) = self.job {
            if now >= t {
                self.ready_again(now, &mut fx);
            }
        }
        if self.is_registered() {
            if let Some(t) = self.next_report {
                if now >= t {
                    fx.push(Effect::SendReport);
                    // On schedule, without a burst after a stall.
                    let next = t + self.cfg.report_interval;
                    self.next_report = Some(if next <= now {
                        now + self.cfg.report_interval
                    } else {
                        next
                    });
                }
            }
        }
        fx
    }

    fn dispatch(&mut self, msg: ToWorker, now: f64, fx: &mut Vec<Effect>) {
        match msg {
            ToWorker::Ack { index } => self.on_ack(index, now, fx),
            ToWorker::Heartbeat => {}
            ToWorker::Spawn(spawn) => self.on_spawn(spawn, fx),
            ToWorker::SpawningComplete { .. } => {
                // Locust fires its local spawning_complete event: the runner's state becomes
                // running, the worker_state it heartbeats is left alone.
                if self.cfg.reset_stats {
                    fx.push(log(Level::Info, "Resetting stats".into()));
                    fx.push(Effect::ResetStats);
                }
            }
            ToWorker::Stop => {
                if self.is_master_lost() {
                    return;
                }
                fx.push(Effect::StopUsers);
                self.job = Job::StoppingForMaster;
            }
            ToWorker::Quit => {
                fx.push(log(
                    Level::Info,
                    "Got quit message from master, shutting down...".into(),
                ));
                self.link = Link::Finished;
                fx.extend([
                    Effect::StopUsers,
                    Effect::SendReport,
                    Effect::Send(ToMaster::Quit),
                    Effect::Quit { code: 0 },
                ]);
            }
            ToWorker::Reconnect => {
                fx.push(log(
                    Level::Warning,
                    "Received reconnect message from master. Resetting RPC connection.".into(),
                ));
                fx.push(Effect::Reconnect);
            }
            ToWorker::UpdateUserClass(u) => fx.push(log(
                Level::Warning,
                format!(
                    "update_user_class for {} is not supported by skein workers; ignored",
                    u.user_class_name
                ),
            )),
            ToWorker::Locustfile(_) => fx.push(log(
                Level::Debug,
                "Ignoring a locustfile reply outside of a locustfile download".into(),
            )),
        }
    }

    fn on_spawn(&mut self, spawn: Spawn, fx: &mut Vec<Effect>) {
        if self.is_master_lost() {
            // A client_ready is on its way; the master re-dispatches when it acks it.
            fx.push(log(
                Level::Info,
                "Ignoring a spawn while re-registering with the master".into(),
            ));
            return;
        }
        fx.push(Effect::Send(ToMaster::Spawning));
        if spawn.timestamp.is_nan() || spawn.timestamp <= self.last_spawn_timestamp {
            fx.push(log(
                Level::Info,
                "Discard spawn message with older or equal timestamp than timestamp of previous spawn message".into(),
            ));
            return;
        }
        self.last_spawn_timestamp = spawn.timestamp;
        let stop_timeout = spawn.stop_timeout.unwrap_or(0.0);
        self.stop_timeout = if stop_timeout.is_finite() && stop_timeout > 0.0 {
            stop_timeout
        } else {
            0.0
        };
        if !matches!(self.state, WorkerState::Running | WorkerState::Spawning) {
            fx.push(Effect::TestStart);
        }
        self.state = WorkerState::Spawning;
        let counts = self.known_classes(spawn.user_classes_count, fx);
        fx.push(Effect::Apply {
            counts,
            host: spawn.host,
            stop_timeout: self.stop_timeout,
            options: spawn.parsed_options,
            arrival: spawn.arrival,
        });
    }

    /// Drops classes this worker does not have (Locust's spawn greenlet dies on a KeyError and
    /// never completes, logged only on the worker; skein runs the classes it knows, logs which
    /// it lacks and which it has, and sends the same text to the master as an `exception`, the
    /// one worker-to-master error report that a Locust master also shows).
    fn known_classes(&self, counts: ClassCounts, fx: &mut Vec<Effect>) -> ClassCounts {
        if self.cfg.class_names.is_empty() {
            return counts;
        }
        let (known, unknown): (Vec<_>, Vec<_>) = counts
            .0
            .into_iter()
            .partition(|(name, _)| self.cfg.class_names.contains(name));
        if !unknown.is_empty() {
            let names: Vec<&str> = unknown.iter().map(|(n, _)| n.as_str()).collect();
            let text = unknown_classes_text(&self.cfg.node_id, &names, &self.cfg.class_names);
            fx.push(log(Level::Error, text.clone()));
            fx.push(Effect::Send(ToMaster::Exception(ExceptionReport {
                msg: text,
                traceback: String::new(),
            })));
        }
        ClassCounts(known)
    }

    /// The post-stop wait is over: `client_ready` again, then what arrived meanwhile.
    fn ready_again(&mut self, now: f64, fx: &mut Vec<Effect>) {
        self.job = Job::Idle;
        self.state = WorkerState::Ready;
        fx.push(self.client_ready());
        self.link.resume_loss_timer(now);
        while let Some(msg) = self.deferred.pop_front() {
            self.dispatch(msg, now, fx);
            if self.job != Job::Idle || self.is_finished() {
                // Another stop cycle began: the rest waits for its end.
                break;
            }
        }
    }

    /// `counts` with every class of this worker (zeros included), then any other names.
    fn all_classes(&self, counts: &ClassCounts) -> ClassCounts {
        let mut out: Vec<(String, u64)> = self
            .cfg
            .class_names
            .iter()
            .map(|name| {
                let n = counts
                    .0
                    .iter()
                    .find(|(c, _)| c == name)
                    .map_or(0, |(_, n)| *n);
                (name.clone(), n)
            })
            .collect();
        for (name, n) in &counts.0 {
            if !self.cfg.class_names.contains(name) {
                out.push((name.clone(), *n));
            }
        }
        ClassCounts(out)
    }

    fn client_ready(&self) -> Effect {
        Effect::Send(ToMaster::ClientReady(self.cfg.version.clone()))
    }

    fn heartbeat(&self) -> Effect {
        Effect::Send(ToMaster::Heartbeat(Heartbeat {
            state: self.state,
            cpu_percent: self.cpu_percent,
            memory_bytes: Some(self.memory_bytes),
        }))
    }
}

/// Messages that Locust's worker would only read after its stop cycle. Heartbeats, acks,
/// `quit` and `reconnect` are handled at once (a long `stop_timeout` must not look like a
/// dead master, and a quit should not wait).
fn defers(msg: &ToWorker) -> bool {
    matches!(
        msg,
        ToWorker::Spawn(_)
            | ToWorker::Stop
            | ToWorker::SpawningComplete { .. }
            | ToWorker::UpdateUserClass(_)
    )
}

/// The error a worker logs and sends when its master names classes it lacks: a master and
/// workers built from different binaries (or started with different class lists).
pub fn unknown_classes_text(node_id: &str, unknown: &[&str], own: &[String]) -> String {
    format!(
        "Worker {node_id} has no user class {}: the master asked for it, but this worker's classes are {} (are master and workers the same binary?); running only the classes it has",
        unknown.join(", "),
        own.join(", ")
    )
}

fn log(level: Level, text: String) -> Effect {
    Effect::Log(level, text)
}
