//! A worker process's async edge: one task that owns the DEALER link, the worker state machine
//! ([`crate::cluster::worker::Worker`]), and drives the local runner and hub from its effects.
//! Time enters here (wall clock for the protocol, tokio timers for the ticks) and nowhere below.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::cluster::codec::Frame;
use crate::cluster::message::{ClassCounts, ToMaster, ToWorker};
use crate::cluster::procstat::ProcSampler;
use crate::cluster::transport::{TransportError, WorkerSocket};
use crate::cluster::worker::{Effect, Worker, WorkerConfig};
use crate::engine::{wall_clock, HubHandle, RunState, RunnerHandle, SpawnOrder};

/// How a worker ended: the process's exit code.
pub type ExitCode = i32;

/// Where the master is and who this worker is.
pub struct WorkerPlan {
    pub master_host: String,
    pub master_port: u16,
    pub node_id: String,
    pub config: WorkerConfig,
}

/// Runs the worker until the master says `quit`, the master is gone for longer than the worker
/// waits for it, or `shutdown` (Ctrl-C / SIGTERM: stop users, final report, `quit`).
pub async fn run(
    plan: WorkerPlan,
    runner: RunnerHandle,
    hub: HubHandle,
    shutdown: CancellationToken,
) -> Result<ExitCode, TransportError> {
    let mut link = WorkerSocket::connect(&plan.master_host, plan.master_port, &plan.node_id).await?;
    tracing::info!(
        "Connected to master at {}:{} as {}",
        plan.master_host,
        plan.master_port,
        plan.node_id
    );
    let node_id = plan.node_id.clone();
    let (mut sm, first) = Worker::new(plan.config, wall_clock());
    let mut node = Node {
        link: &mut link,
        node_id,
        runner: runner.clone(),
        hub,
        counts: ClassCounts::default(),
        stopping: false,
    };
    let mut pending = first;
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut sampler = ProcSampler::new();
    let mut status = runner.subscribe();
    let mut shutting_down = false;
    loop {
        // Effects may produce more input for the machine (a spawn applied, a report taken).
        while !pending.is_empty() {
            let effects = std::mem::take(&mut pending);
            for e in effects {
                match node.apply(e, &mut sm).await {
                    Step::Continue(more) => pending.extend(more),
                    Step::Exit(code) => {
                        node.link.flush().await;
                        return Ok(code);
                    }
                }
            }
        }
        let deadline = sm.next_deadline().map(at_wall);
        tokio::select! {
            frame = node.link.recv() => match frame {
                Ok(bytes) => match Frame::<ToWorker>::decode(&bytes) {
                    Ok(f) => pending = sm.handle(f.message, wall_clock()),
                    Err(e) => tracing::warn!("Dropped a frame from the master: {e}"),
                },
                Err(e) => {
                    tracing::debug!("link to the master: {e}");
                    // The state machine notices the silence through its heartbeat timeout and
                    // asks for a reconnect; avoid a busy loop on a dead socket meanwhile.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            _ = ticks.tick() => {
                let (cpu, mem) = sampler.sample();
                pending = sm.tick(wall_clock(), cpu, mem);
            }
            _ = sleep_until(deadline), if deadline.is_some() => pending = sm.on_deadline(wall_clock()),
            changed = status.changed(), if node.stopping => {
                if changed.is_err() || matches!(status.borrow().state, RunState::Stopped | RunState::Ready) {
                    node.stopping = false;
                    node.counts = zero_counts(&node.counts);
                    pending = sm.stopped(wall_clock());
                }
            }
            _ = shutdown.cancelled(), if !shutting_down => {
                shutting_down = true;
                tracing::info!("Shutting down: stopping users and reporting to the master");
                pending = sm.handle(ToWorker::Quit, wall_clock());
            }
        }
    }
}

enum Step {
    Continue(Vec<Effect>),
    Exit(ExitCode),
}

struct Node<'a> {
    link: &'a mut WorkerSocket,
    node_id: String,
    runner: RunnerHandle,
    hub: HubHandle,
    /// What the runner runs now, as the protocol reports it.
    counts: ClassCounts,
    stopping: bool,
}

impl Node<'_> {
    async fn send(&mut self, message: ToMaster) {
        let frame = Frame {
            message,
            node_id: self.node_id.clone(),
        };
        match frame.encode() {
            Ok(bytes) => {
                if let Err(e) = self.link.send(bytes).await {
                    tracing::debug!("send to master failed: {e}");
                }
            }
            Err(e) => tracing::error!("cannot encode a message for the master: {e}"),
        }
    }

    async fn apply(&mut self, effect: Effect, sm: &mut Worker) -> Step {
        match effect {
            Effect::Send(m) => self.send(m).await,
            Effect::Apply {
                counts,
                host,
                stop_timeout,
            } => {
                let order = SpawnOrder {
                    counts: counts.to_map(),
                    host,
                    stop_timeout: stop_timeout.map(Duration::from_secs_f64),
                };
                match self.runner.spawn(order).await {
                    Ok(now_running) => {
                        self.counts = ordered_counts(&counts, &now_running);
                        return Step::Continue(sm.spawned(self.counts.clone(), wall_clock()));
                    }
                    Err(e) => tracing::error!("could not apply the master's spawn: {e}"),
                }
            }
            Effect::StopUsers => {
                self.runner.request_stop().await;
                let st = self.runner.status().state;
                if matches!(st, RunState::Stopped | RunState::Ready) {
                    self.counts = zero_counts(&self.counts);
                    return Step::Continue(sm.stopped(wall_clock()));
                }
                self.stopping = true;
            }
            Effect::SendReport => {
                let now = wall_clock();
                if let Some(taken) = self.hub.take_report(now).await {
                    for ex in taken.exceptions {
                        self.send(ToMaster::Exception(ex)).await;
                    }
                    let msg = sm.stats(taken.report, self.counts.clone());
                    self.send(msg).await;
                }
            }
            Effect::Reconnect => {
                if let Err(e) = self.link.reconnect().await {
                    tracing::warn!("reconnecting to the master failed: {e}");
                }
            }
            Effect::MasterLost => {
                tracing::warn!("Lost the master: stopped the users; waiting for a master to come back");
            }
            Effect::Quit { code } => return Step::Exit(code),
            other => tracing::debug!("worker effect ignored: {other:?}"),
        }
        Step::Continue(Vec::new())
    }
}

/// The runner's counts in the order of the master's spawn (Python's dict order), every class
/// of the spawn included.
fn ordered_counts(order: &ClassCounts, running: &BTreeMap<String, u64>) -> ClassCounts {
    let mut out: Vec<(String, u64)> = order
        .0
        .iter()
        .map(|(k, _)| (k.clone(), running.get(k).copied().unwrap_or(0)))
        .collect();
    for (k, v) in running {
        if !out.iter().any(|(n, _)| n == k) {
            out.push((k.clone(), *v));
        }
    }
    ClassCounts(out)
}

fn zero_counts(c: &ClassCounts) -> ClassCounts {
    ClassCounts(c.0.iter().map(|(k, _)| (k.clone(), 0)).collect())
}

/// A wall-clock deadline as a tokio instant (the machine speaks epoch seconds).
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
