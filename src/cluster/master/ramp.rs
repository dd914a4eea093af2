//! Starting, ramping, completing and stopping a test: Locust's `MasterRunner.start`, `stop`
//! and `quit`, with the ramp's waits turned into deadlines ([`Master::next_deadline`]).

use std::collections::BTreeMap;

use super::{format_counts, full_counts, log, Effect, Level, Master, MasterError, Ramp};
use crate::cluster::dispatch::{class_totals, DispatchClass, Dispatcher, Distribution};
use crate::cluster::message::{Spawn, ToWorker, WorkerState};
use crate::engine::runner::RunState;

/// Above this many users per second per worker, Locust warns.
const HIGH_RATE_PER_WORKER: f64 = 100.0;
/// Locust gives workers this long (plus the stop timeout) to stop.
const STOP_GRACE: f64 = 60.0;

impl Master {
    /// Starts a test, or retargets the running one, at `rate` users per second over the ready,
    /// spawning and running workers. `classes` picks some of the classes (the web UI's class
    /// picker); `host` replaces the target host.
    pub fn start(
        &mut self,
        users: u64,
        rate: f64,
        classes: Option<Vec<String>>,
        host: Option<String>,
        now: f64,
    ) -> Result<Vec<Effect>, MasterError> {
        if self.quitting {
            return Err(MasterError::Quitting);
        }
        if !(rate > 0.0 && rate.is_finite()) {
            return Err(MasterError::InvalidRate(rate));
        }
        if let Some(names) = &classes {
            if names
                .iter()
                .any(|n| !self.cfg.classes.iter().any(|c| &c.name == n))
            {
                return Err(MasterError::UnknownClass(names.clone()));
            }
        }
        if self.worker_count() == 0 {
            return Err(MasterError::NoWorkers);
        }
        let mut out = Vec::new();
        if let Some(h) = host {
            self.host = Some(h);
        }
        if !matches!(self.state, RunState::Spawning | RunState::Running) {
            // A new test starts from empty statistics (Locust's `stats.clear_all()`).
            out.push(Effect::ClearStats);
            self.peak_user_count = 0;
            self.cpu_warning = false;
        }
        self.open = None;
        if classes != self.active_classes {
            self.active_classes = classes;
            self.dispatcher = None;
        }
        self.start_dispatch(users, rate, now, &mut out);
        Ok(out)
    }

    /// Locust's `start()` body: a new dispatch cycle from the current distribution.
    pub(super) fn start_dispatch(
        &mut self,
        users: u64,
        rate: f64,
        now: f64,
        out: &mut Vec<Effect>,
    ) {
        self.target = users;
        self.spawn_rate = rate;
        let workers = self.active_ids();
        if workers.is_empty() {
            log(
                out,
                Level::Warning,
                "You can't start a distributed test before at least one worker processes has connected",
            );
            return;
        }
        if self.dispatcher.is_none() {
            let classes: Vec<DispatchClass> = self
                .cfg
                .classes
                .iter()
                .filter(|c| {
                    self.active_classes
                        .as_ref()
                        .is_none_or(|names| names.contains(&c.name))
                })
                .cloned()
                .collect();
            self.dispatcher = Some(Dispatcher::new(&workers, &classes));
        }
        log(
            out,
            Level::Info,
            format!(
                "Sending spawn jobs of {users} users at {rate:.2} spawn rate to {} ready workers",
                workers.len()
            ),
        );
        if rate / workers.len() as f64 > HIGH_RATE_PER_WORKER {
            log(
                out,
                Level::Warning,
                "Your selected spawn rate is very high (>100/worker), and this is known to sometimes cause issues. Do you really need to ramp up that fast?",
            );
        }
        self.set_state(RunState::Spawning, out);
        if let Some(d) = self.dispatcher.as_mut() {
            d.new_dispatch(users, rate);
        }
        self.ramp = Ramp::Idle;
        self.advance(now, out);
    }

    /// A worker joined or left during a test: the dispatcher's rebalanced distribution goes out
    /// now. Mid-ramp the ramp then carries on at its own pace; otherwise this is a new cycle to
    /// the same target (as Locust calls `start()` again).
    pub(super) fn redispatch(&mut self, now: f64, out: &mut Vec<Effect>) {
        let Some(d) = self.dispatcher.as_mut() else {
            return;
        };
        match self.ramp {
            Ramp::Iterating { .. } => {
                if d.rebalance_pending() {
                    if let Some(dist) = d.next_iteration() {
                        self.send_spawns(&dist, now, out);
                    }
                }
            }
            Ramp::Idle | Ramp::AwaitingReports { .. } => {
                self.start_dispatch(self.target, self.spawn_rate, now, out)
            }
        }
    }

    /// Runs the iterations that are due: one, then a wait, or several when no wait separates
    /// them (a rebalance, or the end of the cycle).
    fn advance(&mut self, now: f64, out: &mut Vec<Effect>) {
        loop {
            let Some(d) = self.dispatcher.as_mut() else {
                self.ramp = Ramp::Idle;
                return;
            };
            // Locust's generator yields a rebalance outside its waiting context.
            let rebalance = d.rebalance_pending();
            let Some(dist) = d.next_iteration() else {
                self.target_class_counts = class_totals(d.distribution());
                self.ramp = Ramp::AwaitingReports {
                    until: now + self.cfg.spawning_complete_wait,
                };
                self.check_reports(out);
                return;
            };
            let last = d.current_count() == d.target();
            let wait = d.wait_between();
            self.send_spawns(&dist, now, out);
            if !(rebalance || last) {
                self.ramp = Ramp::Iterating {
                    next_at: now + wait,
                };
                return;
            }
        }
    }

    fn send_spawns(&mut self, dist: &Distribution, now: f64, out: &mut Vec<Effect>) {
        let total: u64 = dist.values().flat_map(|c| c.values()).sum();
        for (worker, share) in dist {
            let spawn = self.spawn_message(share, now);
            self.send(out, worker, spawn);
        }
        log(
            out,
            Level::Debug,
            format!(
                "Sending spawn messages for {total} total users to {} worker(s)",
                dist.len()
            ),
        );
        log(
            out,
            Level::Debug,
            format!(
                "Currently spawned users: {}",
                format_counts(&self.reported_counts())
            ),
        );
    }

    /// A `spawn` with a timestamp strictly after the last one: a worker drops a spawn that is
    /// not newer than the one before, and `now` can repeat (or step back).
    pub(super) fn spawn_message(&mut self, share: &BTreeMap<String, u64>, now: f64) -> ToWorker {
        let timestamp = if now > self.last_spawn_ts {
            now
        } else {
            // One microsecond, well above an epoch-seconds f64's resolution (~0.24 µs).
            self.last_spawn_ts + 1e-6
        };
        self.last_spawn_ts = timestamp;
        ToWorker::Spawn(Spawn {
            timestamp,
            user_classes_count: full_counts(&self.class_names, share),
            host: self.host.clone(),
            stop_timeout: self.cfg.stop_timeout,
            parsed_options: self.cfg.parsed_options.clone(),
            arrival: None,
        })
    }

    /// After the last iteration: complete once the workers report the target.
    pub(super) fn check_reports(&mut self, out: &mut Vec<Effect>) {
        if matches!(self.ramp, Ramp::AwaitingReports { .. }) && self.user_count() == self.target {
            self.complete("All users spawned", out);
        }
    }

    fn complete(&mut self, prefix: &str, out: &mut Vec<Effect>) {
        self.ramp = Ramp::Idle;
        let user_count: u64 = self.target_class_counts.values().sum();
        out.push(Effect::SpawningComplete { user_count });
        for id in self
            .workers
            .iter()
            .map(|w| w.id.clone())
            .collect::<Vec<_>>()
        {
            self.send(out, &id, ToWorker::SpawningComplete { user_count });
        }
        self.set_state(RunState::Running, out);
        log(
            out,
            Level::Info,
            format!("{prefix}: {}", format_counts(&self.reported_counts())),
        );
    }

    /// When [`Master::on_deadline`] wants to run next: the ramp's next iteration, the end of the
    /// wait for reports, or the stop timeout.
    pub fn next_deadline(&self) -> Option<f64> {
        let ramp = match self.ramp {
            Ramp::Idle => None,
            Ramp::Iterating { next_at } => Some(next_at),
            Ramp::AwaitingReports { until } => Some(until),
        };
        [ramp, self.stop_deadline]
            .into_iter()
            .flatten()
            .reduce(f64::min)
    }

    pub fn on_deadline(&mut self, now: f64) -> Vec<Effect> {
        let mut out = Vec::new();
        match self.ramp {
            Ramp::Iterating { next_at } if now >= next_at => self.advance(now, &mut out),
            Ramp::AwaitingReports { until } if now >= until => self.complete(
                "Spawning is complete and report waittime is expired, but not all reports received from workers",
                &mut out,
            ),
            _ => {}
        }
        if let Some(deadline) = self.stop_deadline {
            if now >= deadline && self.state == RunState::Stopping {
                // Locust logs this and stays `stopping`; a master that can never start again is
                // worse than one that declares the stop done.
                log(
                    &mut out,
                    Level::Error,
                    "Timeout waiting for all workers to stop",
                );
                self.stop_deadline = None;
                self.set_state(RunState::Stopped, &mut out);
            }
        }
        out
    }

    /// Stops the test: `stop` to every worker, then `stopped` once they are all ready again.
    pub fn stop(&mut self, now: f64) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.halt(&mut out) {
            for id in self
                .workers
                .iter()
                .map(|w| w.id.clone())
                .collect::<Vec<_>>()
            {
                log(
                    &mut out,
                    Level::Debug,
                    format!("Sending stop message to worker {id}"),
                );
                self.send(&mut out, &id, ToWorker::Stop);
            }
            self.stop_deadline = Some(now + self.cfg.stop_timeout.unwrap_or(0.0) + STOP_GRACE);
            self.check_stopped(&mut out);
        }
        out
    }

    /// Ends the ramp and the test (state `stopping`); false when there was no test to stop.
    fn halt(&mut self, out: &mut Vec<Effect>) -> bool {
        if matches!(
            self.state,
            RunState::Ready | RunState::Stopped | RunState::Stopping
        ) {
            return false;
        }
        log(out, Level::Debug, "Stopping...");
        self.final_class_counts = self.reported_counts();
        self.set_state(RunState::Stopping, out);
        self.dispatcher = None;
        self.open = None;
        self.ramp = Ramp::Idle;
        true
    }

    /// Quits: `quit` to every worker (they send a final report, then `quit`). No test can start
    /// afterwards.
    pub fn quit(&mut self, _now: f64) -> Vec<Effect> {
        let mut out = Vec::new();
        self.halt(&mut out);
        self.quitting = true;
        log(&mut out, Level::Debug, "Quitting...");
        for id in self
            .workers
            .iter()
            .map(|w| w.id.clone())
            .collect::<Vec<_>>()
        {
            let index = self.index_of(&id);
            log(
                &mut out,
                Level::Debug,
                format!("Sending quit message to worker {id} (index {index})"),
            );
            self.send(&mut out, &id, ToWorker::Quit);
        }
        out
    }

    /// Locust's `check_stopped`, run after every message: `stopping` becomes `stopped` once
    /// every worker is ready again (missing ones do not hold it up), and a test with no ready,
    /// spawning or running worker left is over.
    pub(super) fn check_stopped(&mut self, out: &mut Vec<Effect>) {
        let all_ready = self
            .workers
            .iter()
            .filter(|w| w.state != WorkerState::Missing)
            .all(|w| w.state == WorkerState::Ready);
        let none_active = self.workers.iter().all(|w| !w.is_active());
        let stopped = match self.state {
            RunState::Stopping => all_ready || none_active,
            RunState::Spawning | RunState::Running => none_active,
            RunState::Ready | RunState::Stopped => false,
        };
        if stopped {
            if self.state != RunState::Stopping {
                self.halt(out);
            }
            self.stop_deadline = None;
            self.set_state(RunState::Stopped, out);
        }
    }
}
