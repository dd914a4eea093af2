//! The open-model driver: one task that owns the schedule, the pool of virtual users and the
//! backlog. Each iteration runs in its own task, which takes the user (and its session) and
//! gives it back when done; the driver reuses idle users before it creates new ones.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::super::class::ClassPlan;
use super::super::hub::HubHandle;
use super::super::session::SessionFactory;
use super::super::vu::VirtualUser;
use super::schedule::{ClassMix, RateSchedule};
use crate::stats::{ArrivalCounts, LATE_THRESHOLD_MS};

/// How often the driver reports its counts to the hub and its load to the runner.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Everything the driver runs with; the runner checks it before building it.
pub struct OpenPlan {
    pub schedule: RateSchedule,
    /// When iteration 0 is due (taken before the order is answered, so a caller that waits
    /// a given time after it sees every iteration due by then counted).
    pub start: Instant,
    pub max_in_flight: usize,
    pub backlog: usize,
    /// The classes and the URL their users are built on, with their weights in the mix.
    pub classes: Vec<(Arc<ClassPlan>, Url)>,
    pub mix: ClassMix,
    pub sessions: SessionFactory,
    pub hub: HubHandle,
}

/// What the pool holds, as the runner's status shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenLoad {
    /// Virtual users running an iteration now.
    pub in_use: u64,
    /// Virtual users that exist (busy or idle), per class.
    pub per_class: BTreeMap<String, u64>,
}

/// An iteration waiting for a user: when it was due, after the start (kept as a time, not an
/// iteration number, because a retarget renumbers the schedule).
struct Due {
    offset: Duration,
    class: usize,
}

/// A new rate and pool size for a running open model ([`drive`]'s `retarget` channel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retarget {
    pub rate: f64,
    pub max_in_flight: usize,
    /// `None`: as many as `max_in_flight`.
    pub backlog: Option<usize>,
}

struct Driver {
    plan: OpenPlan,
    /// Idle users per class (index into `plan.classes`).
    idle: Vec<Vec<VirtualUser>>,
    /// Users per class, busy or idle.
    alive: Vec<u64>,
    running: JoinSet<VirtualUser>,
    backlog: VecDeque<Due>,
    /// Counts since the last report.
    counts: ArrivalCounts,
    start: Instant,
    kill: CancellationToken,
    /// A user could not be built (and it was logged, once).
    create_failed: bool,
    /// Users whose class another iteration needed, running their on-stop transactions.
    retiring: JoinSet<()>,
}

/// Runs the open model until `stop`: then no iteration starts, the backlog is abandoned (those
/// iterations count as scheduled, never started), running ones finish (or are interrupted when
/// `kill` is cancelled) and every user runs its on-stop transactions.
pub async fn drive(
    plan: OpenPlan,
    stop: CancellationToken,
    kill: CancellationToken,
    load: watch::Sender<OpenLoad>,
    mut retarget: watch::Receiver<Option<Retarget>>,
) {
    let n = plan.classes.len();
    let start = plan.start;
    let mut d = Driver {
        plan,
        idle: (0..n).map(|_| Vec::new()).collect(),
        alive: vec![0; n],
        running: JoinSet::new(),
        backlog: VecDeque::new(),
        counts: ArrivalCounts::default(),
        start,
        kill,
        create_failed: false,
        retiring: JoinSet::new(),
    };
    let mut report = tokio::time::interval_at(d.start + REPORT_EVERY, REPORT_EVERY);
    report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next = d.start + d.plan.schedule.next_offset();
        tokio::select! {
            biased;
            _ = stop.cancelled() => {
                d.abandon_due();
                break;
            }
            Some(done) = d.running.join_next(), if !d.running.is_empty() => d.returned(done),
            Ok(()) = retarget.changed() => {
                let order = *retarget.borrow_and_update();
                if let Some(order) = order {
                    d.retarget(order);
                }
            }
            _ = tokio::time::sleep_until(next) => d.due(),
            _ = report.tick() => d.report(&load),
            Some(_) = d.retiring.join_next(), if !d.retiring.is_empty() => {}
        }
    }
    d.backlog.clear();
    while let Some(done) = d.running.join_next().await {
        if let Ok(vu) = done {
            d.park(vu);
        }
    }
    d.report(&load);
    let mut finishing = std::mem::take(&mut d.retiring);
    for vu in d.idle.iter_mut().flat_map(std::mem::take) {
        finishing.spawn(vu.finish());
    }
    while finishing.join_next().await.is_some() {}
    d.alive.iter_mut().for_each(|a| *a = 0);
    d.report(&load);
}

impl Driver {
    /// Every iteration due by now: started, queued or dropped.
    fn due(&mut self) {
        let elapsed = self.start.elapsed();
        while let Some(k) = self.plan.schedule.pop_due(elapsed) {
            self.counts.scheduled += 1;
            let class = self.plan.mix.next_class();
            let offset = self.plan.schedule.offset(k);
            if let Some(vu) = self.user_for(class) {
                self.launch(vu, offset);
            } else if self.backlog.len() < self.plan.backlog {
                self.backlog.push_back(Due { offset, class });
            } else {
                self.counts.dropped += 1;
            }
        }
    }

    /// At a stop: the iterations that came due and were not yet taken count as scheduled
    /// (never started), as those in the backlog do.
    fn abandon_due(&mut self) {
        let elapsed = self.start.elapsed();
        while self.plan.schedule.pop_due(elapsed).is_some() {
            self.counts.scheduled += 1;
        }
    }

    /// A user of `class` free to run now: an idle one, a new one while the pool has room, or
    /// a new one in place of an idle user of another class. `None` when all are busy.
    fn user_for(&mut self, class: usize) -> Option<VirtualUser> {
        if let Some(vu) = self.idle[class].pop() {
            return Some(vu);
        }
        let total: u64 = self.alive.iter().sum();
        if total as usize >= self.plan.max_in_flight {
            let other = self.idle.iter().position(|v| !v.is_empty())?;
            let vu = self.idle[other].pop()?;
            self.alive[other] -= 1;
            self.retiring.spawn(vu.finish());
        }
        let (plan, url) = &self.plan.classes[class];
        match VirtualUser::new(
            plan.clone(),
            url.clone(),
            &self.plan.sessions,
            self.plan.hub.clone(),
        ) {
            Ok(vu) => {
                self.alive[class] += 1;
                Some(vu)
            }
            Err(e) => {
                if !std::mem::replace(&mut self.create_failed, true) {
                    tracing::error!("{e}");
                }
                None
            }
        }
    }

    /// A new rate from now, and a new pool: users beyond it retire as soon as they are idle.
    fn retarget(&mut self, order: Retarget) {
        if order.max_in_flight == 0
            || !self
                .plan
                .schedule
                .retarget(order.rate, self.start.elapsed())
        {
            return;
        }
        self.plan.max_in_flight = order.max_in_flight;
        self.plan.backlog = order.backlog.unwrap_or(order.max_in_flight);
        while self.backlog.len() > self.plan.backlog {
            self.backlog.pop_back();
            self.counts.dropped += 1;
        }
        while self.alive.iter().sum::<u64>() as usize > self.plan.max_in_flight {
            let Some(class) = self.idle.iter().position(|v| !v.is_empty()) else {
                break;
            };
            if let Some(vu) = self.idle[class].pop() {
                self.alive[class] -= 1;
                self.retiring.spawn(vu.finish());
            }
        }
        // A bigger pool takes waiting iterations at once.
        while let Some(next) = self.backlog.pop_front() {
            match self.user_for(next.class) {
                Some(vu) => self.launch(vu, next.offset),
                None => {
                    self.backlog.push_front(next);
                    break;
                }
            }
        }
    }

    fn launch(&mut self, mut vu: VirtualUser, due: Duration) {
        self.counts.started += 1;
        let late = self.start.elapsed().saturating_sub(due);
        if late.as_secs_f64() * 1000.0 > LATE_THRESHOLD_MS {
            self.counts.late += 1;
        }
        let scheduled_at = self.plan.schedule.at(due);
        let kill = self.kill.clone();
        self.running.spawn(async move {
            tokio::select! {
                _ = vu.iterate(Some(scheduled_at)) => {}
                _ = kill.cancelled() => {}
            }
            vu
        });
    }

    /// A user is back from its iteration: it takes the oldest waiting one, else rests.
    fn returned(&mut self, done: Result<VirtualUser, tokio::task::JoinError>) {
        let Ok(vu) = done else {
            // The iteration's task panicked outside the transaction (which catches its own
            // panics); the user is gone.
            return;
        };
        self.park(vu);
        let Some(next) = self.backlog.pop_front() else {
            return;
        };
        match self.user_for(next.class) {
            Some(vu) => self.launch(vu, next.offset),
            None => self.backlog.push_front(next),
        }
    }

    fn park(&mut self, vu: VirtualUser) {
        let class = plan_index(&self.plan.classes, vu.class());
        if self.alive.iter().sum::<u64>() as usize > self.plan.max_in_flight {
            // The pool shrank while it ran.
            self.alive[class] -= 1;
            self.retiring.spawn(vu.finish());
            return;
        }
        self.idle[class].push(vu);
    }

    fn report(&mut self, load: &watch::Sender<OpenLoad>) {
        let delta = std::mem::take(&mut self.counts);
        if !delta.is_zero() {
            self.plan
                .hub
                .count_arrivals(delta, crate::engine::wall_clock());
        }
        let now = OpenLoad {
            in_use: self.running.len() as u64,
            per_class: self
                .plan
                .classes
                .iter()
                .zip(&self.alive)
                .map(|((c, _), n)| (c.name.clone(), *n))
                .collect(),
        };
        load.send_if_modified(|l| {
            let changed = *l != now;
            *l = now;
            changed
        });
    }
}

fn plan_index(classes: &[(Arc<ClassPlan>, Url)], class: &Arc<ClassPlan>) -> usize {
    classes
        .iter()
        .position(|(c, _)| Arc::ptr_eq(c, class))
        .unwrap_or(0)
}
