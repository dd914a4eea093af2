//! The master process's async edge: one task owns the ROUTER transport and the master state
//! machine ([`Master`]), feeds it frames, ticks and commands, and carries out its effects:
//! frames to workers, worker reports into the statistics hub (moved onto this clock first, see
//! [`crate::stats::skew`]), log lines and membership changes. [`MasterHandle`] is how the rest
//! of skein (the run boundary, the headless driver) talks to it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::log;
use super::worker::{at_wall, sleep_until};
use crate::cluster::codec::Frame;
use crate::cluster::master::{
    Effect, Master, MasterConfig, MasterError, MasterStatus, MembershipEvent,
};
use crate::cluster::message::{ArrivalShare, LocustfileReply, ToMaster, ToWorker};
use crate::cluster::transport::{MasterOptions, MasterTransport, TransportError};
use crate::engine::{wall_clock, HubHandle};
use crate::stats::skew;

/// How often a status changed only by worker frames is published (the web UI polls every 2 s).
const PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// Membership changes kept for the report and the UI (the oldest go first).
const MAX_MEMBERSHIP_EVENTS: usize = 1000;

enum Cmd {
    Start {
        users: u64,
        rate: f64,
        classes: Option<Vec<String>>,
        host: Option<String>,
        reply: oneshot::Sender<Result<(), MasterError>>,
    },
    StartOpen {
        total: ArrivalShare,
        reply: oneshot::Sender<Result<(), MasterError>>,
    },
    Stop,
    Quit(oneshot::Sender<()>),
}

/// What the master shares with its readers besides its status.
#[derive(Default)]
struct Shared {
    worker_logs: BTreeMap<String, Vec<String>>,
    membership: VecDeque<MembershipEvent>,
}

#[derive(Clone)]
pub struct MasterHandle {
    cmds: mpsc::Sender<Cmd>,
    status: watch::Receiver<MasterStatus>,
    shared: Arc<Mutex<Shared>>,
    /// Cancelled when the master decides to quit by itself (headless, the last worker quit).
    pub quit_requested: CancellationToken,
    /// The port the ROUTER is bound to (the real one when asked for port 0).
    pub port: u16,
}

impl MasterHandle {
    pub async fn start(
        &self,
        users: u64,
        rate: f64,
        classes: Option<Vec<String>>,
        host: Option<String>,
    ) -> Result<(), MasterError> {
        let (reply, rx) = oneshot::channel();
        let cmd = Cmd::Start {
            users,
            rate,
            classes,
            host,
            reply,
        };
        self.cmds.send(cmd).await.map_err(|_| MasterError::Ended)?;
        rx.await.map_err(|_| MasterError::Ended)?
    }

    /// Starts an open-model test: `total` split over the workers, re-split as they come and go.
    pub async fn start_open(&self, total: ArrivalShare) -> Result<(), MasterError> {
        let (reply, rx) = oneshot::channel();
        let cmd = Cmd::StartOpen { total, reply };
        self.cmds.send(cmd).await.map_err(|_| MasterError::Ended)?;
        rx.await.map_err(|_| MasterError::Ended)?
    }

    /// Sends `stop` to every worker; returns at once (the state goes stopping, then stopped).
    pub async fn stop(&self) {
        let _ = self.cmds.send(Cmd::Stop).await;
    }

    /// Sends `quit` to every worker and gives the frames time to leave (Locust waits 0.5 s).
    pub async fn quit(&self) {
        let (reply, rx) = oneshot::channel();
        if self.cmds.send(Cmd::Quit(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }

    pub fn status(&self) -> MasterStatus {
        self.status.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<MasterStatus> {
        self.status.clone()
    }

    pub fn worker_logs(&self) -> BTreeMap<String, Vec<String>> {
        self.shared
            .lock()
            .map(|s| s.worker_logs.clone())
            .unwrap_or_default()
    }

    /// The membership changes so far, oldest first.
    pub fn membership(&self) -> Vec<MembershipEvent> {
        self.shared
            .lock()
            .map(|s| s.membership.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Binds the master's socket (a busy port is an error here, before anything else starts) and
/// starts its task, which runs until `shutdown` or every handle is gone.
pub async fn spawn(
    bind_host: &str,
    bind_port: u16,
    config: MasterConfig,
    hub: HubHandle,
    reset_stats_on_spawned: bool,
    shutdown: CancellationToken,
) -> Result<MasterHandle, TransportError> {
    let transport = MasterTransport::bind(bind_host, bind_port, MasterOptions::default()).await?;
    let port = transport.local_addr().map_or(bind_port, |a| a.port());
    let sm = Master::new(config, wall_clock());
    let (status_tx, status_rx) = watch::channel(sm.status());
    let (cmd_tx, cmd_rx) = mpsc::channel(16);
    let shared = Arc::new(Mutex::new(Shared::default()));
    let quit_requested = CancellationToken::new();
    let task = MasterTask {
        transport,
        sm,
        hub,
        status: status_tx,
        shared: shared.clone(),
        quit_requested: quit_requested.clone(),
        reset_stats_on_spawned,
        skewed: BTreeSet::new(),
    };
    tokio::spawn(task.run(cmd_rx, shutdown));
    Ok(MasterHandle {
        cmds: cmd_tx,
        status: status_rx,
        shared,
        quit_requested,
        port,
    })
}

struct MasterTask {
    transport: MasterTransport,
    sm: Master,
    hub: HubHandle,
    status: watch::Sender<MasterStatus>,
    shared: Arc<Mutex<Shared>>,
    quit_requested: CancellationToken,
    reset_stats_on_spawned: bool,
    /// Workers whose clock offset was logged already.
    skewed: BTreeSet<String>,
}

impl MasterTask {
    async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut publish_ticks = tokio::time::interval(PUBLISH_EVERY);
        publish_ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Worker frames change the status (a heartbeat's CPU figure), but building it is
        // O(workers): with a thousand workers sending a frame each per second, rebuilding it
        // per frame is quadratic. Frames mark it stale; it is published a few times a second,
        // and at once after a command.
        let mut stale = false;
        loop {
            let deadline = self.sm.next_deadline().map(at_wall);
            let mut now_publish = true;
            let effects = tokio::select! {
                item = self.transport.recv() => match item {
                    Some(Ok((identity, bytes))) => {
                        now_publish = false;
                        self.frame(&identity, &bytes)
                    }
                    Some(Err(bad)) => {
                        now_publish = false;
                        tracing::warn!("Dropped a malformed frame: {bad}");
                        let node = bad_frame_identity(&bad);
                        self.sm.malformed(node.as_deref(), &bad.to_string(), wall_clock())
                    }
                    None => {
                        tracing::error!("The master's socket has closed");
                        return;
                    }
                },
                _ = ticks.tick() => self.sm.tick(wall_clock()),
                _ = sleep_until(deadline), if deadline.is_some() => self.sm.on_deadline(wall_clock()),
                cmd = cmds.recv() => match cmd {
                    Some(Cmd::Start { users, rate, classes, host, reply }) => {
                        match self.sm.start(users, rate, classes, host, wall_clock()) {
                            Ok(effects) => {
                                let _ = reply.send(Ok(()));
                                effects
                            }
                            Err(e) => {
                                let _ = reply.send(Err(e));
                                Vec::new()
                            }
                        }
                    }
                    Some(Cmd::StartOpen { total, reply }) => {
                        match self.sm.start_open(total, wall_clock()) {
                            Ok(effects) => {
                                let _ = reply.send(Ok(()));
                                effects
                            }
                            Err(e) => {
                                let _ = reply.send(Err(e));
                                Vec::new()
                            }
                        }
                    }
                    Some(Cmd::Stop) => self.sm.stop(wall_clock()),
                    Some(Cmd::Quit(reply)) => {
                        let effects = self.sm.quit(wall_clock());
                        self.apply(effects).await;
                        self.publish();
                        // As Locust: the quit frames get half a second to leave.
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        let _ = reply.send(());
                        Vec::new()
                    }
                    None => return,
                },
                _ = publish_ticks.tick() => {
                    now_publish = stale;
                    Vec::new()
                }
                _ = shutdown.cancelled() => return,
            };
            self.apply(effects).await;
            if now_publish {
                self.publish();
                stale = false;
            } else {
                stale = true;
            }
        }
    }

    fn frame(&mut self, identity: &str, bytes: &[u8]) -> Vec<Effect> {
        let now = wall_clock();
        match Frame::<ToMaster>::decode(bytes) {
            Ok(frame) if frame.node_id == identity => self.sm.handle(identity, frame.message, now),
            Ok(frame) => {
                // Locust tracks workers by node id but answers by identity; a frame naming
                // another node is a sender not to be trusted.
                let reason = format!(
                    "a {} frame names node {:?}, not its sender",
                    frame.message.type_name(),
                    frame.node_id
                );
                tracing::warn!("Dropped a malformed frame from {identity:?}: {reason}");
                self.sm.malformed(Some(identity), &reason, now)
            }
            Err(e) => {
                tracing::warn!("Dropped a malformed frame from {identity:?}: {e}");
                self.sm.malformed(Some(identity), &e.to_string(), now)
            }
        }
    }

    async fn apply(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Send { to, msg } => self.send(to, msg).await,
                Effect::MergeStats {
                    node,
                    report,
                    sent_at,
                    open,
                } => {
                    if let Some(open) = open {
                        self.hub.merge_open(*open, wall_clock());
                    }
                    let now = wall_clock();
                    let mut report = *report;
                    let shift = skew::clock_shift(&report, now, sent_at);
                    if shift != 0 {
                        if self.skewed.insert(node.clone()) {
                            tracing::warn!(
                                "Worker {node}'s clock is about {} s {} this master's: its per-second counts are moved onto the master's clock",
                                shift.abs(),
                                if shift < 0 { "ahead of" } else { "behind" }
                            );
                        }
                        skew::shift_report(&mut report, shift);
                    }
                    self.hub.merge_report(node, report, now)
                }
                Effect::Exception {
                    node,
                    msg,
                    traceback,
                } => self.hub.exception_from(msg, traceback, node).await,
                Effect::WorkerLogs { worker, lines } => {
                    if let Ok(mut s) = self.shared.lock() {
                        s.worker_logs.insert(worker, lines);
                    }
                }
                Effect::Membership(ev) => {
                    if let Ok(mut s) = self.shared.lock() {
                        if s.membership.len() >= MAX_MEMBERSHIP_EVENTS {
                            s.membership.pop_front();
                        }
                        s.membership.push_back(ev);
                    }
                }
                Effect::Log(level, text) => log(level, &text),
                Effect::ClearStats => self.hub.clear(wall_clock()),
                Effect::OpenBegin { rate } => self.hub.open_begin(rate, wall_clock()),
                Effect::State(_) => {}
                Effect::SpawningComplete { .. } => {
                    if self.reset_stats_on_spawned {
                        tracing::info!("Resetting stats");
                        self.hub.reset(wall_clock());
                    }
                }
                Effect::LocustfileRequested { node } => {
                    let reply = ToWorker::Locustfile(LocustfileReply::Error(
                        "skein's user classes are compiled in: start the worker with its own -f locustfile".into(),
                    ));
                    self.send(node, reply).await;
                }
                Effect::Shutdown => self.quit_requested.cancel(),
            }
        }
    }

    async fn send(&mut self, to: String, msg: ToWorker) {
        let frame = Frame {
            message: msg,
            node_id: to.clone(),
        };
        match frame.encode() {
            Ok(bytes) => {
                if let Err(e) = self.transport.send(to.clone(), bytes).await {
                    tracing::debug!("Sending to {to} failed: {e}");
                }
            }
            Err(e) => tracing::error!("Cannot encode a message for {to}: {e}"),
        }
    }

    fn publish(&self) {
        let st = self.sm.status();
        self.status.send_if_modified(|old| {
            let changed = *old != st;
            if changed {
                *old = st;
            }
            changed
        });
    }
}

fn bad_frame_identity(bad: &crate::cluster::transport::BadFrame) -> Option<String> {
    use crate::cluster::transport::BadFrame;
    match bad {
        BadFrame::NonUtf8Identity { .. } => None,
        BadFrame::PartCount { identity, .. }
        | BadFrame::Empty { identity }
        | BadFrame::Oversized { identity, .. } => Some(identity.clone()),
    }
}
