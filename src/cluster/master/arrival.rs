//! The open model across workers: the master's total arrival rate and pool, split evenly over
//! its ready, spawning and running workers, and re-split whenever one joins, comes back, goes
//! missing, stops or quits, so that the workers' shares always add up to the total rate. Each
//! share travels in a `spawn` with no users and the skein-only `skein_arrival` key.
//!
//! Only skein workers get shares: a Locust worker (its `client_ready` lacks skein's mark)
//! would ignore the key and run nothing, and its share would be lost. It is left out of the
//! split with a warning naming it, and a start with no skein worker at all is refused.

use std::collections::BTreeMap;

use super::{log, Effect, Level, Master, MasterError};
use crate::cluster::message::{ArrivalShare, ToWorker};
use crate::engine::runner::RunState;

/// `total` over `n` workers: the rate evenly, the pool as evenly as integers allow (the first
/// workers get the remainder) and at least 1 each, so with fewer users than workers the pools
/// add up to `n`, not to the total.
pub fn split(total: ArrivalShare, n: usize) -> Vec<ArrivalShare> {
    if n == 0 {
        return Vec::new();
    }
    let n64 = n as u64;
    let (base, extra) = (total.max_in_flight / n64, total.max_in_flight % n64);
    (0..n64)
        .map(|i| ArrivalShare {
            rate: total.rate / n as f64,
            max_in_flight: (base + u64::from(i < extra)).max(1),
        })
        .collect()
}

impl Master {
    /// Starts an open-model test: `total.rate` iterations per second over the workers, at most
    /// `total.max_in_flight` at once in all. A running closed-model test is retargeted to it.
    pub fn start_open(
        &mut self,
        total: ArrivalShare,
        now: f64,
    ) -> Result<Vec<Effect>, MasterError> {
        if self.quitting {
            return Err(MasterError::Quitting);
        }
        if !(total.rate > 0.0 && total.rate.is_finite()) {
            return Err(MasterError::InvalidRate(total.rate));
        }
        if self.worker_count() == 0 {
            return Err(MasterError::NoWorkers);
        }
        if self.open_ids().is_empty() {
            return Err(MasterError::NoSkeinWorkers(self.locust_ids()));
        }
        let mut out = Vec::new();
        self.open_warned.clear();
        if !matches!(self.state, RunState::Spawning | RunState::Running) {
            out.push(Effect::ClearStats);
            self.peak_user_count = 0;
            self.cpu_warning = false;
        }
        // The open model has no ramp: the shares are the whole plan.
        self.dispatcher = None;
        self.ramp = super::Ramp::Idle;
        self.target = 0;
        self.open = Some(total);
        log(
            &mut out,
            Level::Info,
            format!(
                "Sending an arrival rate of {:.2}/s (at most {} in flight) to {} ready workers",
                total.rate,
                total.max_in_flight,
                self.open_ids().len()
            ),
        );
        out.push(Effect::OpenBegin { rate: total.rate });
        self.set_state(RunState::Running, &mut out);
        self.resplit(now, &mut out);
        Ok(out)
    }

    /// The total as it is now split, when an open-model test runs.
    pub fn arrival(&self) -> Option<ArrivalShare> {
        self.open
    }

    /// Every active worker gets its new share at once (after a join or a loss); nothing to do
    /// outside an open-model test or with no worker left.
    pub(super) fn resplit(&mut self, now: f64, out: &mut Vec<Effect>) {
        let Some(total) = self.open else {
            return;
        };
        if !matches!(self.state, RunState::Spawning | RunState::Running) {
            return;
        }
        self.leave_out_locust_workers(total, now, out);
        let ids = self.open_ids();
        if ids.is_empty() {
            log(
                out,
                Level::Warning,
                format!(
                    "No skein worker is left to run the arrival rate of {:.2}/s: no iterations start until one joins",
                    total.rate
                ),
            );
        }
        let shares = split(total, ids.len());
        for (id, share) in ids.iter().zip(shares) {
            let spawn = match self.spawn_message(&BTreeMap::new(), now) {
                ToWorker::Spawn(mut s) => {
                    s.arrival = Some(share);
                    ToWorker::Spawn(s)
                }
                other => other,
            };
            self.send(out, id, spawn);
        }
        if !ids.is_empty() {
            log(
                out,
                Level::Debug,
                format!(
                    "Arrival rate {:.2}/s split over {} worker(s)",
                    total.rate,
                    ids.len()
                ),
            );
        }
    }
}

impl Master {
    /// Active skein workers, which run open-model shares.
    fn open_ids(&self) -> Vec<String> {
        self.workers
            .iter()
            .filter(|w| w.is_active() && w.skein)
            .map(|w| w.id.clone())
            .collect()
    }

    /// Active Locust workers, which cannot.
    fn locust_ids(&self) -> Vec<String> {
        self.workers
            .iter()
            .filter(|w| w.is_active() && !w.skein)
            .map(|w| w.id.clone())
            .collect()
    }

    /// Warns once per test about each Locust worker left out, and stops the users of one that
    /// still runs some (a closed-model test retargeted to the open model).
    fn leave_out_locust_workers(&mut self, total: ArrivalShare, now: f64, out: &mut Vec<Effect>) {
        for id in self.locust_ids() {
            if self.open_warned.insert(id.clone()) {
                log(
                    out,
                    Level::Warning,
                    format!(
                        "Worker {id} is a Locust worker, which cannot run an arrival rate: it gets no share of the {:.2}/s (the skein workers share it)",
                        total.rate
                    ),
                );
            }
            let runs_users = self
                .workers
                .iter()
                .any(|w| w.id == id && w.user_count() > 0);
            if runs_users {
                let stop = self.spawn_message(&BTreeMap::new(), now);
                self.send(out, &id, stop);
            }
        }
    }
}
