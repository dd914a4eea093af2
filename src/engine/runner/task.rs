//! The runner's task: the loop that owns the users, the ramp's dispatcher and the status it
//! publishes. Nothing in it awaits users; they end on their own and the loop reaps them.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::super::class::ClassPlan;
use super::super::dispatch::{class_totals, ClassWeight, Dispatcher};
use super::super::wall_clock;
use super::open::{open_event, OpenEvent, OpenRun};
use super::pool::{base_url, check_host, kill_after, UserPool};
use super::{Cmd, RunState, RunnerError, RunnerSetup, RunnerStatus, SpawnOrder};

pub(super) struct Runner {
    pub(super) setup: RunnerSetup,
    pub(super) status: watch::Sender<RunnerStatus>,
    pub(super) pool: UserPool,
    dispatcher: Option<Dispatcher>,
    pub(super) active_classes: Vec<Arc<ClassPlan>>,
    next_iteration: Option<Instant>,
    pub(super) host: Option<String>,
    /// Starts and spawns that came while stopping, run in order once stopped.
    deferred: VecDeque<Cmd>,
    /// The open model's driver, while it runs (stopping included).
    pub(super) open: Option<OpenRun>,
}

impl Runner {
    pub(super) fn new(setup: RunnerSetup, status: watch::Sender<RunnerStatus>) -> Self {
        Runner {
            host: setup.host.clone(),
            pool: UserPool::new(
                setup.classes.clone(),
                setup.hub.clone(),
                setup.sessions.clone(),
                setup.stop_timeout,
            ),
            active_classes: setup.classes.clone(),
            setup,
            status,
            dispatcher: None,
            next_iteration: None,
            deferred: VecDeque::new(),
            open: None,
        }
    }

    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        loop {
            let next = self.next_iteration;
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.handle(cmd),
                    None => break,
                },
                _ = sleep_until(next), if next.is_some() => self.iterate(),
                Some(()) = self.pool.reap(), if !self.pool.is_empty() => self.finish_if_drained(),
                event = open_event(&mut self.open) => match event {
                    OpenEvent::Load => self.publish(None),
                    OpenEvent::Ended => {
                        self.open = None;
                        self.finish_if_drained();
                    }
                },
            }
        }
        // Every handle is gone: nobody can ask for anything more, so waiting here blocks no one.
        self.begin_stop();
        self.cancel_deferred();
        while self.pool.reap().await.is_some() {}
        if let Some(o) = self.open.take() {
            let _ = o.task.await;
        }
        if self.state() == RunState::Stopping {
            self.finish_stop();
        }
    }

    pub(super) fn state(&self) -> RunState {
        self.status.borrow().state
    }

    /// Nothing is left running.
    fn drained(&self) -> bool {
        self.pool.is_empty() && self.open.is_none()
    }

    fn finish_if_drained(&mut self) {
        if self.drained() && self.state() == RunState::Stopping {
            self.finish_stop();
        }
    }

    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            // A command that would fail is answered now rather than after the drain.
            Cmd::Start {
                users,
                rate,
                host,
                classes,
                reply,
            } if self.state() == RunState::Stopping => {
                if let Err(e) = self.check_start(rate, host.as_deref(), classes.as_deref()) {
                    let _ = reply.send(Err(e));
                } else {
                    self.deferred.push_back(Cmd::Start {
                        users,
                        rate,
                        host,
                        classes,
                        reply,
                    });
                }
            }
            Cmd::Spawn { order, reply } if self.state() == RunState::Stopping => {
                if let Err(e) = self.check_spawn(&order) {
                    let _ = reply.send(Err(e));
                } else {
                    self.deferred.push_back(Cmd::Spawn { order, reply });
                }
            }
            Cmd::Arrive { order, reply } if self.state() == RunState::Stopping => {
                if let Err(e) = self.check_arrive(&order) {
                    let _ = reply.send(Err(e));
                } else {
                    self.deferred.push_back(Cmd::Arrive { order, reply });
                }
            }
            Cmd::Arrive { order, reply } => {
                let _ = reply.send(self.arrive(order));
            }
            Cmd::Retarget {
                rate,
                max_in_flight,
                reply,
            } => {
                let _ = reply.send(self.retarget(rate, max_in_flight));
            }
            Cmd::Start {
                users,
                rate,
                host,
                classes,
                reply,
            } => {
                let _ = reply.send(self.start(users, rate, host, classes));
            }
            Cmd::Spawn { order, reply } => {
                let _ = reply.send(self.spawn(order));
            }
            Cmd::Stop { reply } => {
                self.begin_stop();
                self.cancel_deferred();
                let _ = reply.send(());
            }
        }
    }

    fn cancel_deferred(&mut self) {
        for cmd in self.deferred.drain(..) {
            match cmd {
                Cmd::Start { reply, .. }
                | Cmd::Arrive { reply, .. }
                | Cmd::Retarget { reply, .. } => {
                    let _ = reply.send(Err(RunnerError::Cancelled));
                }
                Cmd::Spawn { reply, .. } => {
                    let _ = reply.send(Err(RunnerError::Cancelled));
                }
                Cmd::Stop { reply } => {
                    let _ = reply.send(());
                }
            }
        }
    }

    /// A new test starts from empty statistics, as Locust's runner.start and a worker's first
    /// spawn do (clear_all).
    pub(super) fn begin_test_if_idle(&mut self) {
        if !matches!(self.state(), RunState::Spawning | RunState::Running) {
            self.setup.hub.clear(wall_clock());
            self.status.send_modify(|s| s.peak_user_count = 0);
        }
    }

    /// Everything `start` refuses, checked before anything changes, so a bad host or class from
    /// the web form is an answer, not a stream of failed spawns. Gives the classes to run.
    fn check_start(
        &self,
        rate: f64,
        host: Option<&str>,
        classes: Option<&[String]>,
    ) -> Result<Vec<Arc<ClassPlan>>, RunnerError> {
        if !(rate > 0.0 && rate.is_finite()) {
            return Err(RunnerError::InvalidSpawnRate(rate));
        }
        self.check_model_free()?;
        let wanted = self.wanted_classes(classes)?;
        if let Some(h) = host {
            check_host(h)?;
        }
        Ok(wanted)
    }

    /// The open model and the closed one do not run at once (a stop that is draining the
    /// other is waited for, as any start after a stop).
    fn check_model_free(&self) -> Result<(), RunnerError> {
        if self.open.is_some() && self.state() != RunState::Stopping {
            return Err(RunnerError::Busy);
        }
        Ok(())
    }

    /// The classes named (all of them for `None`); every name must be known.
    pub(super) fn wanted_classes(
        &self,
        classes: Option<&[String]>,
    ) -> Result<Vec<Arc<ClassPlan>>, RunnerError> {
        Ok(match classes {
            Some(names) => {
                let chosen: Vec<_> = self
                    .setup
                    .classes
                    .iter()
                    .filter(|c| names.contains(&c.name))
                    .cloned()
                    .collect();
                if chosen.len() != names.len() {
                    return Err(RunnerError::UnknownClass(names.to_vec()));
                }
                chosen
            }
            None => self.setup.classes.clone(),
        })
    }

    /// Everything a spawn refuses: unknown classes, a bad host, a class that would have none.
    fn check_spawn(&self, order: &SpawnOrder) -> Result<(), RunnerError> {
        self.check_model_free()?;
        let unknown: Vec<String> = order
            .counts
            .keys()
            .filter(|n| !self.setup.classes.iter().any(|c| &c.name == *n))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(RunnerError::UnknownClass(unknown));
        }
        if let Some(h) = &order.host {
            check_host(h)?;
        }
        for class in &self.setup.classes {
            if order.counts.get(&class.name).is_some_and(|&n| n > 0) {
                base_url(order.host.as_ref().or(class.host.as_ref()))?;
            }
        }
        Ok(())
    }

    fn start(
        &mut self,
        users: u64,
        rate: f64,
        host: Option<String>,
        classes: Option<Vec<String>>,
    ) -> Result<(), RunnerError> {
        let wanted = self.check_start(rate, host.as_deref(), classes.as_deref())?;
        if host.is_some() {
            self.host = host;
        }
        let fresh = !matches!(self.state(), RunState::Spawning | RunState::Running);
        let same_classes = wanted
            .iter()
            .map(|c| &c.name)
            .eq(self.active_classes.iter().map(|c| &c.name));
        self.begin_test_if_idle();
        if fresh || !same_classes || self.dispatcher.is_none() {
            if !same_classes {
                self.pool.apply(&BTreeMap::new(), self.host.as_ref())?;
            }
            self.active_classes = wanted;
            let weights: Vec<ClassWeight> = self
                .active_classes
                .iter()
                .map(|c| c.class_weight())
                .collect();
            self.dispatcher = Some(Dispatcher::new(&["local".to_string()], &weights));
        }
        if let Some(d) = self.dispatcher.as_mut() {
            d.new_dispatch(users, rate);
        }
        tracing::info!("Ramping to {users} users at a rate of {rate:.2} per second");
        self.status.send_modify(|s| {
            s.state = RunState::Spawning;
            s.target = users;
            s.spawn_rate = rate;
        });
        self.iterate();
        Ok(())
    }

    /// A worker's spawn: everything is checked before anything changes.
    fn spawn(&mut self, order: SpawnOrder) -> Result<BTreeMap<String, u64>, RunnerError> {
        self.check_spawn(&order)?;
        self.begin_test_if_idle();
        self.host = order.host;
        self.pool.stop_timeout = order.stop_timeout.unwrap_or(Duration::ZERO);
        // A spawn replaces any ramp in progress, as the worker kills its spawning greenlet.
        self.dispatcher = None;
        self.next_iteration = None;
        self.active_classes = self.setup.classes.clone();
        let target = order.counts.values().sum();
        self.status.send_modify(|s| {
            s.state = RunState::Spawning;
            s.target = target;
        });
        self.publish(None);
        let applied = self.pool.apply(&order.counts, self.host.as_ref());
        self.publish(Some(RunState::Running));
        applied.map(|()| self.pool.counts())
    }

    /// One dispatch iteration; schedules the next or declares the ramp complete.
    fn iterate(&mut self) {
        let Some(d) = self.dispatcher.as_mut() else {
            self.next_iteration = None;
            return;
        };
        match d.next_iteration() {
            Some(dist) => {
                let wait = d.wait_between();
                let done = d.current_count() == d.target();
                let totals = class_totals(&dist);
                if let Err(e) = self.pool.apply(&totals, self.host.as_ref()) {
                    tracing::error!("{e}");
                }
                self.publish(None);
                if done {
                    // No wait after the last iteration, as Locust: the ramp is complete now.
                    self.iterate();
                } else {
                    // A vanishing rate waits "forever" rather than overflowing a Duration.
                    let wait = Duration::try_from_secs_f64(wait)
                        .unwrap_or(Duration::from_secs(86_400 * 365));
                    self.next_iteration = Some(Instant::now() + wait);
                }
            }
            None => {
                self.next_iteration = None;
                // As Locust: only the classes of this run, in Python's `json.dumps` spacing.
                let counts: serde_json::Map<String, serde_json::Value> = self
                    .pool
                    .counts()
                    .into_iter()
                    .filter(|(n, _)| self.active_classes.iter().any(|c| &c.name == n))
                    .map(|(n, v)| (n, v.into()))
                    .collect();
                let total: u64 = counts.values().filter_map(|v| v.as_u64()).sum();
                let json = crate::report::json::dumps(&counts.into(), None);
                tracing::info!("All users spawned: {json} ({total} total users)");
                if self.setup.reset_stats_on_spawned {
                    tracing::info!("Resetting stats");
                    self.setup.hub.reset(wall_clock());
                }
                self.publish(Some(RunState::Running));
            }
        }
    }

    /// Users per class: the closed model's, or the open model's virtual users.
    fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = self.pool.counts();
        if let Some(o) = &self.open {
            for (name, n) in &o.load.borrow().per_class {
                *counts.entry(name.clone()).or_default() += n;
            }
        }
        counts
    }

    pub(super) fn publish(&self, state: Option<RunState>) {
        let counts = self.counts();
        // In the open model the user count is the users busy with an iteration, the load the
        // rate is putting on the pool.
        let in_use = self.open.as_ref().map(|o| o.load.borrow().in_use);
        let host = self.host.clone();
        self.status.send_modify(|s| {
            if let Some(st) = state {
                s.state = st;
            }
            s.user_count = in_use.unwrap_or_else(|| counts.values().sum());
            s.peak_user_count = s.peak_user_count.max(s.user_count);
            s.class_counts = counts;
            s.host = host;
        });
    }

    /// Tells every user to stop; the loop declares `stopped` when the last has ended.
    fn begin_stop(&mut self) {
        let state = self.state();
        if state == RunState::Stopping
            || (matches!(state, RunState::Ready | RunState::Stopped) && self.drained())
        {
            return;
        }
        let last_counts = self.counts();
        self.status
            .send_modify(|s| s.final_class_counts = last_counts);
        // The status keeps the counts of the test that is stopping until it has stopped.
        self.publish(Some(RunState::Stopping));
        self.next_iteration = None;
        self.dispatcher = None;
        let _ = self.pool.apply(&BTreeMap::new(), self.host.as_ref());
        if let Some(o) = &self.open {
            o.stop.cancel();
            kill_after(o.kill.clone(), self.pool.stop_timeout);
        }
        if self.drained() {
            self.finish_stop();
        }
    }

    fn finish_stop(&mut self) {
        self.status.send_modify(|s| s.target = 0);
        self.publish(Some(RunState::Stopped));
        while let Some(cmd) = self.deferred.pop_front() {
            self.handle(cmd);
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
