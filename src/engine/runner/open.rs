//! The runner's side of the open model: checking an [`ArrivalOrder`], starting the driver
//! (see `crate::engine::open`) and following it until it ends.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::super::class::ClassPlan;
use super::super::open::driver::{self, OpenLoad, OpenPlan, Retarget};
use super::super::open::{ArrivalOrder, ClassMix, RateSchedule, MAX_RATE};
use super::super::wall_clock;
use super::pool::{base_url, check_host};
use super::task::Runner;
use super::{RunState, RunnerError};

/// The driver while it runs (stopping included): its two stop levels, as a user's, and the
/// load it publishes.
pub(super) struct OpenRun {
    pub(super) stop: CancellationToken,
    pub(super) kill: CancellationToken,
    pub(super) task: JoinHandle<()>,
    pub(super) load: watch::Receiver<OpenLoad>,
    pub(super) retarget: watch::Sender<Option<Retarget>>,
    /// What the order asked for the backlog (kept by a retarget).
    pub(super) backlog: Option<usize>,
}

pub(super) enum OpenEvent {
    Load,
    Ended,
}

/// The next thing the open model's driver has to say; never, when none runs.
pub(super) async fn open_event(open: &mut Option<OpenRun>) -> OpenEvent {
    let Some(o) = open.as_mut() else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = &mut o.task => OpenEvent::Ended,
        Ok(()) = o.load.changed() => OpenEvent::Load,
    }
}

impl Runner {
    /// Everything an open-model order refuses, checked before anything changes; gives the
    /// classes with the URL their users are built on.
    pub(super) fn check_arrive(
        &self,
        order: &ArrivalOrder,
    ) -> Result<Vec<(Arc<ClassPlan>, url::Url)>, RunnerError> {
        if !(order.rate > 0.0 && order.rate <= MAX_RATE) {
            return Err(RunnerError::InvalidArrivalRate(order.rate));
        }
        if order.max_in_flight == 0 {
            return Err(RunnerError::InvalidMaxInFlight);
        }
        if matches!(self.state(), RunState::Spawning | RunState::Running) {
            return Err(RunnerError::Busy);
        }
        if let Some(h) = &order.host {
            check_host(h)?;
        }
        let host = order.host.as_ref().or(self.host.as_ref());
        self.wanted_classes(order.classes.as_deref())?
            .into_iter()
            .map(|c| {
                let url = base_url(host.or(c.host.as_ref()))?;
                Ok((c, url))
            })
            .collect()
    }

    pub(super) fn arrive(&mut self, order: ArrivalOrder) -> Result<(), RunnerError> {
        let classes = self.check_arrive(&order)?;
        let weights: Vec<f64> = classes.iter().map(|(c, _)| c.weight).collect();
        let mix = ClassMix::new(&weights)
            .ok_or_else(|| RunnerError::UnknownClass(order.classes.clone().unwrap_or_default()))?;
        if order.host.is_some() {
            self.host = order.host.clone();
        }
        self.begin_test_if_idle();
        // The schedule's two clocks: epoch seconds for the records, the monotonic one to wait on.
        let (now, start) = (wall_clock(), Instant::now());
        let schedule = RateSchedule::new(order.rate, now)
            .ok_or(RunnerError::InvalidArrivalRate(order.rate))?;
        self.setup.hub.open_begin(order.rate, now);
        self.active_classes = classes.iter().map(|(c, _)| c.clone()).collect();
        let plan = OpenPlan {
            schedule,
            start,
            max_in_flight: order.max_in_flight,
            backlog: order.backlog_or_default(),
            classes,
            mix,
            sessions: self.setup.sessions.clone(),
            hub: self.setup.hub.clone(),
        };
        let (load_tx, load) = watch::channel(OpenLoad::default());
        let stop = CancellationToken::new();
        let kill = CancellationToken::new();
        let (retarget, retarget_rx) = watch::channel(None);
        let task = tokio::spawn(driver::drive(
            plan,
            stop.clone(),
            kill.clone(),
            load_tx,
            retarget_rx,
        ));
        self.open = Some(OpenRun {
            stop,
            kill,
            task,
            load,
            retarget,
            backlog: order.backlog,
        });
        tracing::info!(
            "Starting iterations at {} per second on at most {} virtual users",
            order.rate,
            order.max_in_flight
        );
        self.status.send_modify(|s| {
            s.target = order.max_in_flight as u64;
            s.spawn_rate = 0.0;
        });
        self.publish(Some(RunState::Running));
        Ok(())
    }

    /// A new rate and pool for the running open model, without stopping it: the schedule goes
    /// on from now at `rate` (a distributed worker's share after a re-split).
    pub(super) fn retarget(&mut self, rate: f64, max_in_flight: usize) -> Result<(), RunnerError> {
        if !(rate > 0.0 && rate <= MAX_RATE) {
            return Err(RunnerError::InvalidArrivalRate(rate));
        }
        if max_in_flight == 0 {
            return Err(RunnerError::InvalidMaxInFlight);
        }
        let Some(open) = self
            .open
            .as_ref()
            .filter(|_| self.state() == RunState::Running)
        else {
            return Err(RunnerError::NotOpen);
        };
        open.retarget.send_replace(Some(Retarget {
            rate,
            max_in_flight,
            backlog: open.backlog,
        }));
        tracing::info!(
            "Iterations now at {rate} per second on at most {max_in_flight} virtual users"
        );
        self.status.send_modify(|s| s.target = max_in_flight as u64);
        Ok(())
    }
}
