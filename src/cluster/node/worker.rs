//! A worker process's async edge: one task owns the link to the master and the worker state
//! machine ([`Worker`]), and carries out its effects on the local runner and statistics hub.
//! Time enters here (the wall clock for the protocol, tokio timers for the ticks).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::log;
use crate::cluster::codec::Frame;
use crate::cluster::message::ArrivalShare;
use crate::cluster::message::{ClassCounts, ExceptionReport, LogsReport, ToMaster, ToWorker};
use crate::cluster::transport::{TransportError, WorkerOptions, WorkerTransport};
use crate::cluster::worker::{Effect, Worker, WorkerConfig};
use crate::engine::{
    wall_clock, ArrivalOrder, HubHandle, RunState, RunnerError, RunnerHandle, RunnerStatus,
    SpawnOrder,
};
use crate::health::ProcSampler;
use crate::logging::LogBuffer;
use crate::stats::{ArrivalCounts, OpenReport};

/// How often a worker sends its log lines (Locust's `WORKER_LOG_REPORT_INTERVAL`).
const LOG_REPORT_INTERVAL: Duration = Duration::from_secs(10);
/// How long the last frames (a final `stats`, `quit`) get to leave before the socket closes.
const LINGER: Duration = Duration::from_millis(500);

/// Where the master is and how this worker talks to it.
pub struct WorkerPlan {
    pub master_host: String,
    pub master_port: u16,
    pub config: WorkerConfig,
    pub options: WorkerOptions,
    /// The host users run against when a spawn names none (`-H`, or this worker's own
    /// reference service).
    pub default_host: Option<String>,
    /// This process's recent log lines, sent to the master every 10 s when they changed.
    pub logs: LogBuffer,
}

/// Runs the worker until the master says `quit`, the master stays away longer than the worker
/// waits for it, or `shutdown` (Ctrl-C / SIGTERM: stop the users, tell the master, exit).
/// Returns the process's exit code.
pub async fn run(
    plan: WorkerPlan,
    runner: RunnerHandle,
    hub: HubHandle,
    shutdown: CancellationToken,
) -> Result<i32, TransportError> {
    let node_id = plan.config.node_id.clone();
    let link = tokio::select! {
        link = WorkerTransport::connect(&plan.master_host, plan.master_port, &node_id, plan.options) => link?,
        _ = shutdown.cancelled() => return Ok(0),
    };
    tracing::info!(
        "Connected to master at {}:{} as {node_id}",
        plan.master_host,
        plan.master_port
    );
    let (sm, first) = Worker::new(plan.config, wall_clock());
    let mut node = Node {
        default_host: plan.default_host,
        logs: plan.logs,
        sent_logs: Vec::new(),
        link,
        node_id,
        sm,
        status: runner.subscribe(),
        runner,
        hub,
        counts: ClassCounts::default(),
        after_stop: None,
        open_sent: OpenSent::default(),
    };
    let code = node.run(first, shutdown).await;
    node.open_sent.log();
    node.link.close(LINGER).await;
    Ok(code)
}

struct Node {
    default_host: Option<String>,
    logs: LogBuffer,
    /// The lines of the last `logs` message.
    sent_logs: Vec<String>,
    link: WorkerTransport,
    node_id: String,
    sm: Worker,
    runner: RunnerHandle,
    status: watch::Receiver<RunnerStatus>,
    hub: HubHandle,
    /// What the runner runs now, in the master's order.
    counts: ClassCounts,
    /// Effects that wait for a `StopUsers` to finish (the users drain meanwhile, and the
    /// heartbeats go on).
    after_stop: Option<VecDeque<Effect>>,
    /// What this worker's open-model reports carried in all, logged when it ends.
    open_sent: OpenSent,
}

/// The sum of the open-model deltas sent to the master, for the worker's last log line (the
/// master's summary should add up to its workers' lines).
#[derive(Default)]
struct OpenSent {
    any: bool,
    counts: ArrivalCounts,
    requests: u64,
}

impl OpenSent {
    fn add(&mut self, o: &OpenReport) {
        self.any = true;
        self.counts += o.counts;
        self.requests += o.entries.iter().map(|e| e.num_requests).sum::<u64>();
    }

    fn log(&self) {
        if self.any {
            let c = self.counts;
            tracing::info!(
                "Open model sent to the master: {} scheduled, {} started, {} late, {} dropped, {} timed requests",
                c.scheduled, c.started, c.late, c.dropped, self.requests
            );
        }
    }
}

impl Node {
    async fn run(&mut self, first: Vec<Effect>, shutdown: CancellationToken) -> i32 {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut log_ticks = tokio::time::interval(LOG_REPORT_INTERVAL);
        log_ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut sampler = ProcSampler::new();
        let started = Instant::now();
        let mut effects: VecDeque<Effect> = first.into();
        let mut shutting_down = false;
        loop {
            if let Some(code) = self.carry_out(&mut effects).await {
                return code;
            }
            let deadline = self.sm.next_deadline().map(at_wall);
            let stopping = self.after_stop.is_some();
            let more = tokio::select! {
                item = self.link.recv() => match item {
                    Some(Ok(bytes)) => match Frame::<ToWorker>::decode(&bytes) {
                        Ok(f) => self.sm.handle(f.message, wall_clock()),
                        Err(e) => self.sm.bad_message(&e, wall_clock()),
                    },
                    Some(Err(bad)) => {
                        tracing::warn!("Dropped a frame from the master: {bad}");
                        Vec::new()
                    }
                    None => {
                        tracing::error!("The connection to the master has ended");
                        return 1;
                    }
                },
                _ = ticks.tick() => {
                    let sample = sampler.sample(started.elapsed().as_secs_f64());
                    let (cpu, mem) = sample.map_or((0.0, 0), |s| (s.cpu_percent, s.rss_bytes));
                    self.sm.tick(wall_clock(), cpu, mem)
                }
                _ = sleep_until(deadline), if deadline.is_some() => self.sm.on_deadline(wall_clock()),
                _ = log_ticks.tick() => self.logs_message().into_iter().map(Effect::Send).collect(),
                changed = self.status.changed(), if stopping => {
                    let idle = changed.is_err()
                        || !matches!(self.status.borrow_and_update().state, RunState::Stopping);
                    if idle { self.stop_finished() } else { Vec::new() }
                }
                _ = shutdown.cancelled(), if !shutting_down => {
                    shutting_down = true;
                    tracing::info!("Shutting down: stopping the users and telling the master");
                    self.sm.shutdown(0)
                }
            };
            effects.extend(more);
        }
    }

    /// Runs effects in order until they are done, a stop must drain first, or the worker quits.
    async fn carry_out(&mut self, effects: &mut VecDeque<Effect>) -> Option<i32> {
        while let Some(e) = effects.pop_front() {
            if let Some(waiting) = self.after_stop.as_mut() {
                // Behind a stop that is draining: keep the order, except the heartbeats, which
                // must go on so the master does not mark this worker missing.
                if !matches!(e, Effect::Send(ToMaster::Heartbeat(_)) | Effect::Log(..)) {
                    waiting.push_back(e);
                    continue;
                }
            }
            match e {
                Effect::Send(m) => self.send(m).await,
                Effect::TestStart => {
                    // The runner clears the statistics itself when a spawn starts a test.
                }
                Effect::Apply {
                    counts,
                    host,
                    stop_timeout: _,
                    options: _,
                    arrival: Some(share),
                } => {
                    self.apply_arrival(share, host).await;
                    self.counts = counts;
                    let more = self.sm.spawned(self.counts.clone(), wall_clock());
                    prepend(effects, more);
                }
                Effect::Apply {
                    counts,
                    host,
                    stop_timeout,
                    options: _,
                    arrival: None,
                } => {
                    let order = SpawnOrder {
                        counts: counts.to_map(),
                        host: host.or_else(|| self.default_host.clone()),
                        stop_timeout: Duration::try_from_secs_f64(stop_timeout).ok(),
                    };
                    match self.runner.spawn(order).await {
                        Ok(running) => {
                            self.counts = ordered(&counts, &running);
                            let more = self.sm.spawned(self.counts.clone(), wall_clock());
                            prepend(effects, more);
                        }
                        Err(e) => tracing::error!("Could not apply the master's spawn: {e}"),
                    }
                }
                Effect::StopUsers => {
                    self.runner.request_stop().await;
                    if matches!(self.runner.status().state, RunState::Stopping) {
                        self.after_stop = Some(std::mem::take(effects));
                        return None;
                    }
                    let more = self.stop_finished();
                    prepend(effects, more);
                }
                Effect::ResetStats => self.hub.reset(wall_clock()),
                Effect::SendReport => self.report().await,
                Effect::Reconnect => {
                    tracing::info!("Reconnecting to the master");
                    if let Err(e) = self.link.reconnect().await {
                        tracing::warn!("Reconnecting to the master failed: {e}");
                    }
                }
                Effect::MasterLost => {
                    tracing::warn!("Lost the master: stopped the users, trying to register again")
                }
                Effect::Quit { code } => return Some(code),
                Effect::Log(level, text) => log(level, &text),
            }
        }
        None
    }

    /// The runner has stopped every user: the state machine goes on, then what waited.
    /// A skein master's open-model share: retarget the running open model, or start one.
    async fn apply_arrival(&mut self, share: ArrivalShare, host: Option<String>) {
        let pool = usize::try_from(share.max_in_flight.max(1)).unwrap_or(usize::MAX);
        match self.runner.retarget(share.rate, pool).await {
            Ok(()) => return,
            Err(RunnerError::NotOpen) => {}
            Err(e) => {
                tracing::error!("Could not apply the master's arrival rate: {e}");
                return;
            }
        }
        let order = ArrivalOrder {
            host: host.or_else(|| self.default_host.clone()),
            ..ArrivalOrder::new(share.rate, pool)
        };
        if let Err(e) = self.runner.arrive(order).await {
            tracing::error!("Could not apply the master's arrival rate: {e}");
        }
    }

    fn stop_finished(&mut self) -> Vec<Effect> {
        self.counts = ClassCounts(self.counts.0.iter().map(|(k, _)| (k.clone(), 0)).collect());
        let mut out = self.sm.stopped(wall_clock());
        if let Some(waiting) = self.after_stop.take() {
            out.extend(waiting);
        }
        out
    }

    /// Locust's `logs` message, when the lines changed since the last one and a master listens.
    fn logs_message(&mut self) -> Option<ToMaster> {
        if !self.sm.is_registered() {
            return None;
        }
        let lines = self.logs.lines();
        if lines == self.sent_logs {
            return None;
        }
        self.sent_logs = lines.clone();
        Some(ToMaster::Logs(LogsReport {
            worker_id: self.node_id.clone(),
            logs: lines,
        }))
    }

    async fn report(&mut self) {
        let now = wall_clock();
        for (msg, traceback) in self.hub.take_exceptions().await.unwrap_or_default() {
            self.send(ToMaster::Exception(ExceptionReport { msg, traceback }))
                .await;
        }
        if let Some((report, open)) = self.hub.take_reports(now).await {
            let mut msg = self.sm.stats(report, self.counts.clone());
            if let ToMaster::Stats(p) = &mut msg {
                p.sent_at = Some(wall_clock());
                if let Some(o) = &open {
                    self.open_sent.add(o);
                }
                p.open = open;
            }
            self.send(msg).await;
        }
    }

    async fn send(&mut self, message: ToMaster) {
        let frame = Frame {
            message,
            node_id: self.node_id.clone(),
        };
        match frame.encode() {
            Ok(bytes) => {
                if let Err(e) = self.link.send(bytes).await {
                    tracing::debug!("Sending to the master failed: {e}");
                }
            }
            Err(e) => tracing::error!("Cannot encode a message for the master: {e}"),
        }
    }
}

fn prepend(effects: &mut VecDeque<Effect>, more: Vec<Effect>) {
    for e in more.into_iter().rev() {
        effects.push_front(e);
    }
}

/// The runner's counts in the order of the master's spawn (Python's dict order).
fn ordered(order: &ClassCounts, running: &BTreeMap<String, u64>) -> ClassCounts {
    ClassCounts(
        order
            .0
            .iter()
            .map(|(k, _)| (k.clone(), running.get(k).copied().unwrap_or(0)))
            .collect(),
    )
}

/// A wall-clock deadline as a tokio instant (the state machines speak epoch seconds).
pub(super) fn at_wall(t: f64) -> Instant {
    let wait = (t - wall_clock()).max(0.0);
    Instant::now() + Duration::try_from_secs_f64(wait).unwrap_or(Duration::from_secs(3600))
}

pub(super) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
