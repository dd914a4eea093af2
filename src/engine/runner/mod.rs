//! The runner: the one owner of the simulated users. It takes commands (start or retarget a
//! ramp, a worker's spawn of absolute per-class counts, stop) over a channel, ramps with
//! Locust's dispatcher and publishes its status on a watch channel.
//!
//! Its message loop never waits for users: a stop cancels them and the loop goes on answering
//! commands and publishing status while they drain (at most the stop timeout), then declares
//! the state `stopped`. A start or spawn that arrives while stopping is checked at once (a
//! refusal is answered at once); a valid one waits until the stop has finished and then begins
//! a new test, as a Locust worker that handles its messages one by one (its old users end
//! before the new ones start, and their last requests stay out of the new test's statistics).
//! A further stop in that time drops it (`RunnerError::Cancelled`).
//!
//! Instead of closed-model users the runner can run the open model ([`RunnerHandle::arrive`]):
//! one driver task (see `super::open`) that it stops as it stops users.

mod error;
mod open;
mod pool;
mod task;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::class::ClassPlan;
use super::hub::HubHandle;
use super::open::ArrivalOrder;
use super::session::SessionFactory;

pub use error::RunnerError;

/// Locust's runner states, as the web API spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Ready,
    Spawning,
    Running,
    Stopping,
    Stopped,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Ready => "ready",
            RunState::Spawning => "spawning",
            RunState::Running => "running",
            RunState::Stopping => "stopping",
            RunState::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunnerStatus {
    pub state: RunState,
    pub user_count: u64,
    pub class_counts: BTreeMap<String, u64>,
    pub target: u64,
    pub spawn_rate: f64,
    pub host: Option<String>,
    /// The most users the current (or last) test had at once; the report's header shows it.
    pub peak_user_count: u64,
    /// The per-class counts just before the last stop (Locust's `final_user_classes_count`), for
    /// the report's "Final ratio".
    pub final_class_counts: BTreeMap<String, u64>,
}

/// What the runner is built from.
pub struct RunnerSetup {
    pub classes: Vec<Arc<ClassPlan>>,
    pub host: Option<String>,
    pub stop_timeout: Duration,
    pub reset_stats_on_spawned: bool,
    pub hub: HubHandle,
    pub sessions: SessionFactory,
}

/// A master's `spawn` as a worker applies it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpawnOrder {
    /// Absolute users per class; a class left out gets none.
    pub counts: BTreeMap<String, u64>,
    /// Replaces the runner's host (`None` leaves each class's own host, if any).
    pub host: Option<String>,
    /// Replaces the runner's stop timeout; `None` is 0, as Locust's `job.stop_timeout or 0`.
    pub stop_timeout: Option<Duration>,
}

enum Cmd {
    Start {
        users: u64,
        rate: f64,
        host: Option<String>,
        classes: Option<Vec<String>>,
        reply: oneshot::Sender<Result<(), RunnerError>>,
    },
    Spawn {
        order: SpawnOrder,
        reply: oneshot::Sender<Result<BTreeMap<String, u64>, RunnerError>>,
    },
    Arrive {
        order: ArrivalOrder,
        reply: oneshot::Sender<Result<(), RunnerError>>,
    },
    Retarget {
        rate: f64,
        max_in_flight: usize,
        reply: oneshot::Sender<Result<(), RunnerError>>,
    },
    Stop {
        reply: oneshot::Sender<()>,
    },
}

#[derive(Clone)]
pub struct RunnerHandle {
    tx: mpsc::Sender<Cmd>,
    status: watch::Receiver<RunnerStatus>,
    classes: Arc<Vec<Arc<ClassPlan>>>,
}

impl RunnerHandle {
    /// Starts a ramp to `users` at `rate` users/s, or retargets a running one (Locust's `runner.start`).
    pub async fn start(
        &self,
        users: u64,
        rate: f64,
        host: Option<String>,
        classes: Option<Vec<String>>,
    ) -> Result<(), RunnerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Start {
            users,
            rate,
            host,
            classes,
            reply,
        })
        .await?;
        rx.await.map_err(|_| RunnerError::Ended)?
    }

    /// Brings each class to exactly its count at once (a worker applying a master's spawn) and
    /// answers the per-class counts it now runs. Unknown class names change nothing.
    pub async fn spawn(&self, order: SpawnOrder) -> Result<BTreeMap<String, u64>, RunnerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Spawn { order, reply }).await?;
        rx.await.map_err(|_| RunnerError::Ended)?
    }

    /// Starts an open-model test: iterations at `order.rate` per second on at most
    /// `order.max_in_flight` virtual users, until [`stop`](Self::stop). Refused while a
    /// closed-model test runs ([`RunnerError::Busy`]); a new test, so the statistics start
    /// empty. The status's `user_count` is then the users running an iteration, `target` the
    /// pool's size; the hub's [`StatsView::open`](super::StatsView) has the open-model summary.
    pub async fn arrive(&self, order: ArrivalOrder) -> Result<(), RunnerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Arrive { order, reply }).await?;
        rx.await.map_err(|_| RunnerError::Ended)?
    }

    /// Changes the running open model's rate and pool without stopping it: iterations go on
    /// from now at `rate`, users beyond `max_in_flight` retire once idle.
    /// [`RunnerError::NotOpen`] unless an open-model test runs.
    pub async fn retarget(&self, rate: f64, max_in_flight: usize) -> Result<(), RunnerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Retarget {
            rate,
            max_in_flight,
            reply,
        })
        .await?;
        rx.await.map_err(|_| RunnerError::Ended)?
    }

    /// Begins stopping every user and returns at once; the state is `stopping` (or was already
    /// idle) when it returns.
    pub async fn request_stop(&self) {
        let (reply, rx) = oneshot::channel();
        if self.send(Cmd::Stop { reply }).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Stops every user (honouring the stop timeout) and returns once all have ended.
    pub async fn stop(&self) {
        self.request_stop().await;
        let mut status = self.status.clone();
        // An error means the runner has ended, and its users with it.
        let _ = status.wait_for(|s| s.state != RunState::Stopping).await;
    }

    pub fn status(&self) -> RunnerStatus {
        self.status.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<RunnerStatus> {
        self.status.clone()
    }

    pub fn classes(&self) -> &[Arc<ClassPlan>] {
        &self.classes
    }

    async fn send(&self, cmd: Cmd) -> Result<(), RunnerError> {
        self.tx.send(cmd).await.map_err(|_| RunnerError::Ended)
    }
}

/// Starts the runner's task; it ends (stopping its users) when every handle is dropped.
pub fn spawn(setup: RunnerSetup) -> RunnerHandle {
    let (tx, rx) = mpsc::channel(16);
    let status = RunnerStatus {
        state: RunState::Ready,
        user_count: 0,
        class_counts: setup.classes.iter().map(|c| (c.name.clone(), 0)).collect(),
        target: 0,
        spawn_rate: 0.0,
        host: setup.host.clone(),
        peak_user_count: 0,
        final_class_counts: BTreeMap::new(),
    };
    let (status_tx, status_rx) = watch::channel(status);
    let classes = Arc::new(setup.classes.clone());
    tokio::spawn(task::Runner::new(setup, status_tx).run(rx));
    RunnerHandle {
        tx,
        status: status_rx,
        classes,
    }
}
