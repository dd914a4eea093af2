//! The boundary of "a run": what the web controller, the periodic outputs and the final report
//! need from whatever runs the test, as one object-safe trait ([`RunControl`]). A standalone
//! process implements it with its own runner and statistics hub ([`LocalRun`]); a master
//! implements it with its workers and a hub that merges their reports. Nothing outside the
//! engine talks to a runner or a hub directly.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::{oneshot, watch};

use crate::engine::{
    ArrivalOrder, ClassPlan, HubHandle, RunnerHandle, RunnerStatus, StatsReader, StatsView,
};

/// One worker as a master sees it (`/stats/requests`' `workers`, the page's Workers tab).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerView {
    pub id: String,
    /// ready, spawning, running, stopped, missing…
    pub state: String,
    pub user_count: u64,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
}

/// The state of a run: the (local or cluster-wide) runner status, and the workers on a master.
#[derive(Debug, Clone)]
pub struct RunStatus {
    pub runner: RunnerStatus,
    /// Empty unless distributed.
    pub workers: Vec<WorkerView>,
    /// A master: the web API adds `workers`/`worker_count`, the page shows the Workers tab.
    pub is_distributed: bool,
    /// A master's membership changes so far (workers joining, going missing, healing, quitting),
    /// oldest first, for the report; empty in a standalone run.
    pub membership: Vec<MembershipView>,
}

/// One change in a master's set of workers.
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipView {
    /// Epoch seconds.
    pub time: f64,
    pub worker: String,
    pub index: u64,
    /// joined, rejoined, missing, self-healed, stopped, quit, removed, untrusted.
    pub change: &'static str,
}

impl RunStatus {
    /// A standalone run's status.
    pub fn local(runner: RunnerStatus) -> Self {
        RunStatus {
            runner,
            workers: Vec::new(),
            is_distributed: false,
            membership: Vec::new(),
        }
    }
}

/// What a run offers its readers and its controls. Object-safe (`Arc<dyn RunControl>`); the
/// generic statistics read is [`read`](trait.RunControl.html#method.read) on the trait object.
pub trait RunControl: Send + Sync + 'static {
    /// Starts a ramp to `users` at `rate` users/s, or retargets a running test.
    fn start(
        &self,
        users: u64,
        rate: f64,
        host: Option<String>,
        classes: Option<Vec<String>>,
    ) -> BoxFuture<'_, Result<(), String>>;
    /// Starts an open-model test (`--arrival-rate`). Only a standalone run has one: a master
    /// answers that it cannot (yet) split a rate across its workers.
    fn arrive(&self, order: ArrivalOrder) -> BoxFuture<'_, Result<(), String>> {
        let _ = order;
        Box::pin(async {
            Err("--arrival-rate runs standalone only: a distributed run cannot split a rate across workers yet".to_string())
        })
    }
    /// Stops every user; returns once they have ended (their records are then queued).
    fn stop(&self) -> BoxFuture<'_, ()>;
    /// The hub that holds the run's statistics (a master's merges its workers' reports).
    fn hub(&self) -> &HubHandle;
    /// Resets the statistics and clears the exceptions (Locust's `/stats/reset`).
    fn reset_stats(&self, now: f64) {
        self.hub().reset(now);
    }
    /// Takes one chart history point (Locust's `stats.history`).
    fn sample_history(&self, now: f64, user_count: u64) {
        self.hub().sample_history(now, user_count);
    }
    fn status(&self) -> RunStatus;
    /// Follows [`status`](Self::status).
    fn subscribe(&self) -> watch::Receiver<RunStatus>;
    /// Runs `f` against the statistics where they live; `f` is dropped unrun when they are gone.
    fn read_boxed(&self, f: StatsReader) {
        self.hub().read_boxed(f);
    }
    /// Every user class the run knows.
    fn classes(&self) -> &[Arc<ClassPlan>];
    /// The workers' log lines by worker id (`/logs`' `workers`); empty when not distributed.
    fn worker_logs(&self) -> BTreeMap<String, Vec<String>>;
}

impl dyn RunControl {
    /// Runs `f` against the statistics and returns its result; `None` when they are gone.
    /// Everything recorded before the call is seen.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&StatsView<'_>) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        self.read_boxed(Box::new(move |v| {
            let _ = tx.send(f(v));
        }));
        rx.await.ok()
    }
}

/// A standalone run: this process's runner and statistics hub.
pub struct LocalRun {
    runner: RunnerHandle,
    hub: HubHandle,
    status: watch::Receiver<RunStatus>,
}

impl LocalRun {
    /// Must be called inside a tokio runtime: a task mirrors the runner's status.
    pub fn new(runner: RunnerHandle, hub: HubHandle) -> Arc<Self> {
        let status = mirror(runner.subscribe(), |s| RunStatus::local(s.clone()));
        Arc::new(LocalRun {
            runner,
            hub,
            status,
        })
    }
}

/// A watch of [`RunStatus`] that follows another watch (a runner's, a master's) through `view`
/// until either side goes away.
pub fn mirror<S: Send + Sync + 'static>(
    mut from: watch::Receiver<S>,
    view: fn(&S) -> RunStatus,
) -> watch::Receiver<RunStatus> {
    let (tx, rx) = watch::channel(view(&from.borrow()));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = from.changed() => if changed.is_err() { return },
                _ = tx.closed() => return,
            }
            let st = view(&from.borrow_and_update());
            tx.send_replace(st);
        }
    });
    rx
}

impl RunControl for LocalRun {
    fn hub(&self) -> &HubHandle {
        &self.hub
    }

    fn start(
        &self,
        users: u64,
        rate: f64,
        host: Option<String>,
        classes: Option<Vec<String>>,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.runner
                .start(users, rate, host, classes)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn arrive(&self, order: ArrivalOrder) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.runner.arrive(order).await.map_err(|e| e.to_string()) })
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.runner.stop())
    }

    fn status(&self) -> RunStatus {
        // The runner's own watch, not the mirror: a read just after `start` sees its effect.
        RunStatus::local(self.runner.status())
    }

    fn subscribe(&self) -> watch::Receiver<RunStatus> {
        self.status.clone()
    }

    fn classes(&self) -> &[Arc<ClassPlan>] {
        self.runner.classes()
    }

    fn worker_logs(&self) -> BTreeMap<String, Vec<String>> {
        BTreeMap::new()
    }
}

/// A run for tests: a real hub, and a status the test sets.
#[cfg(test)]
pub(crate) struct FakeRun {
    pub hub: HubHandle,
    pub status: watch::Sender<RunStatus>,
    pub classes: Vec<Arc<ClassPlan>>,
}

#[cfg(test)]
impl FakeRun {
    pub fn new(hub: HubHandle, status: RunStatus) -> Arc<Self> {
        Arc::new(FakeRun {
            hub,
            status: watch::channel(status).0,
            classes: Vec::new(),
        })
    }
}

#[cfg(test)]
impl RunControl for FakeRun {
    fn hub(&self) -> &HubHandle {
        &self.hub
    }

    fn start(
        &self,
        _: u64,
        _: f64,
        _: Option<String>,
        _: Option<Vec<String>>,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn status(&self) -> RunStatus {
        self.status.borrow().clone()
    }
    fn subscribe(&self) -> watch::Receiver<RunStatus> {
        self.status.subscribe()
    }
    fn classes(&self) -> &[Arc<ClassPlan>] {
        &self.classes
    }
    fn worker_logs(&self) -> BTreeMap<String, Vec<String>> {
        BTreeMap::new()
    }
}
