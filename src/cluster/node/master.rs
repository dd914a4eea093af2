//! The master process's async edge: one task owns the ROUTER socket and the master state
//! machine ([`crate::cluster::master::Master`]), feeds it frames, ticks and commands, and carries
//! out its effects: frames to workers, reports into the hub, membership changes into the log.
//! [`MasterHandle`] is how the rest of skein (the run boundary, the web UI) talks to it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::cluster::codec::Frame;
use crate::cluster::master::{Effect, Master, MasterConfig, MasterError, MasterStatus};
use crate::cluster::message::{ToMaster, ToWorker};
use crate::cluster::transport::{MasterSocket, TransportError};
use crate::engine::{wall_clock, HubHandle};

enum Cmd {
    Start {
        users: u64,
        rate: f64,
        classes: Option<Vec<String>>,
        host: Option<String>,
        reply: oneshot::Sender<Result<(), MasterError>>,
    },
    Stop,
    Quit(oneshot::Sender<()>),
}

/// The workers' log lines as they last sent them (`/logs`' "workers").
pub type WorkerLogs = Arc<Mutex<BTreeMap<String, Vec<String>>>>;

#[derive(Clone)]
pub struct MasterHandle {
    cmds: mpsc::Sender<Cmd>,
    status: watch::Receiver<MasterStatus>,
    logs: WorkerLogs,
    /// The port the ROUTER is bound to (useful with port 0).
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
        self.cmds
            .send(Cmd::Start {
                users,
                rate,
                classes,
                host,
                reply,
            })
            .await
            .map_err(|_| MasterError::Ended)?;
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
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// Binds the master's socket (a busy port is an error here, before anything else starts) and
/// starts its task, which runs until `shutdown`.
pub async fn spawn(
    bind_host: &str,
    bind_port: u16,
    config: MasterConfig,
    hub: HubHandle,
    shutdown: CancellationToken,
) -> Result<MasterHandle, TransportError> {
    let (socket, port) = MasterSocket::bind(bind_host, bind_port).await?;
    let sm = Master::new(config, wall_clock());
    let (status_tx, status_rx) = watch::channel(sm.status());
    let (cmd_tx, cmd_rx) = mpsc::channel(16);
    let logs: WorkerLogs = Arc::default();
    let task = MasterTask {
        socket,
        sm,
        hub,
        status: status_tx,
        logs: logs.clone(),
    };
    tokio::spawn(task.run(cmd_rx, shutdown));
    Ok(MasterHandle {
        cmds: cmd_tx,
        status: status_rx,
        logs,
        port,
    })
}

struct MasterTask {
    socket: MasterSocket,
    sm: Master,
    hub: HubHandle,
    status: watch::Sender<MasterStatus>,
    logs: WorkerLogs,
}

impl MasterTask {
    async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let deadline = self.sm.next_deadline().map(at_wall);
            let effects = tokio::select! {
                item = self.socket.recv() => match item {
                    Ok((identity, bytes)) => self.frame(&identity, &bytes),
                    Err(e) => {
                        tracing::warn!("Dropped a frame: {e}");
                        Vec::new()
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
                _ = shutdown.cancelled() => return,
            };
            self.apply(effects).await;
            self.publish();
        }
    }

    fn frame(&mut self, identity: &str, bytes: &[u8]) -> Vec<Effect> {
        let now = wall_clock();
        match Frame::<ToMaster>::decode(bytes) {
            Ok(frame) => {
                if frame.node_id != identity {
                    tracing::warn!(
                        "A frame from {identity:?} names node {:?}; using the socket's identity",
                        frame.node_id
                    );
                }
                self.sm.handle(identity, frame.message, now)
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
                Effect::MergeStats { node, report } => {
                    self.hub.merge_report(node, report, wall_clock())
                }
                Effect::Exception {
                    node,
                    msg,
                    traceback,
                } => self.hub.exception_from(msg, traceback, node),
                Effect::WorkerLogs { worker, lines } => {
                    if let Ok(mut logs) = self.logs.lock() {
                        logs.insert(worker, lines);
                    }
                }
                other => tracing::debug!("master effect: {other:?}"),
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
                if let Err(e) = self.socket.send(&to, bytes).await {
                    tracing::debug!("send to {to} failed: {e}");
                }
            }
            Err(e) => tracing::error!("cannot encode a message for {to}: {e}"),
        }
    }

    fn publish(&self) {
        let st = self.sm.status();
        self.status.send_if_modified(|old| {
            if *old == st {
                false
            } else {
                *old = st;
                true
            }
        });
    }
}

fn at_wall(t: f64) -> Instant {
    let wait = (t - wall_clock()).max(0.0);
    Instant::now() + Duration::try_from_secs_f64(wait).unwrap_or(Duration::from_secs(3600))
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
