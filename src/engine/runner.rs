//! The runner: the one owner of the simulated users. It takes commands (start or retarget a
//! ramp, apply absolute per-class counts, stop) over a channel, ramps with Locust's dispatcher
//! and publishes its status on a watch channel.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use goose::config::GooseConfiguration;
use goose::goose::GooseUser;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::class::ClassPlan;
use super::dispatch::{class_totals, ClassWeight, Dispatcher};
use super::hub::HubHandle;
use super::session::SessionFactory;
use super::user::UserTask;
use super::wall_clock;

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

enum Cmd {
    Start {
        users: u64,
        rate: f64,
        host: Option<String>,
        classes: Option<Vec<String>>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Apply {
        counts: BTreeMap<String, u64>,
        reply: oneshot::Sender<Result<(), String>>,
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
    ) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Start {
                users,
                rate,
                host,
                classes,
                reply,
            })
            .await
            .map_err(|_| "runner has ended".to_string())?;
        rx.await.map_err(|_| "runner has ended".to_string())?
    }

    /// Brings each class to exactly this many users at once (a worker applying a master's spawn).
    pub async fn apply_counts(&self, counts: BTreeMap<String, u64>) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Apply { counts, reply })
            .await
            .map_err(|_| "runner has ended".to_string())?;
        rx.await.map_err(|_| "runner has ended".to_string())?
    }

    /// Stops every user (honouring the stop timeout) and returns once all have ended.
    pub async fn stop(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Cmd::Stop { reply }).await.is_ok() {
            let _ = rx.await;
        }
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
}

struct Slot {
    stop: CancellationToken,
    kill: CancellationToken,
}

struct Runner {
    setup: RunnerSetup,
    goose_config: GooseConfiguration,
    status: watch::Sender<RunnerStatus>,
    users: BTreeMap<String, Vec<Slot>>,
    tasks: JoinSet<()>,
    dispatcher: Option<Dispatcher>,
    active_classes: Vec<Arc<ClassPlan>>,
    next_iteration: Option<Instant>,
    host: Option<String>,
}

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
    let runner = Runner {
        host: setup.host.clone(),
        active_classes: setup.classes.clone(),
        setup,
        goose_config: GooseConfiguration::default(),
        status: status_tx,
        users: BTreeMap::new(),
        tasks: JoinSet::new(),
        dispatcher: None,
        next_iteration: None,
    };
    tokio::spawn(runner.run(rx));
    RunnerHandle {
        tx,
        status: status_rx,
        classes,
    }
}

impl Runner {
    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        loop {
            let next = self.next_iteration;
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Cmd::Start { users, rate, host, classes, reply }) => {
                        let _ = reply.send(self.start(users, rate, host, classes).await);
                    }
                    Some(Cmd::Apply { counts, reply }) => {
                        let _ = reply.send(self.apply(&counts));
                        self.publish(None);
                    }
                    Some(Cmd::Stop { reply }) => {
                        self.stop_all().await;
                        let _ = reply.send(());
                    }
                    None => {
                        self.stop_all().await;
                        return;
                    }
                },
                _ = sleep_until(next), if next.is_some() => self.iterate(),
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
            }
        }
    }

    async fn start(
        &mut self,
        users: u64,
        rate: f64,
        host: Option<String>,
        classes: Option<Vec<String>>,
    ) -> Result<(), String> {
        if !(rate > 0.0 && rate.is_finite()) {
            return Err(format!("Invalid spawn_rate value: {rate}"));
        }
        let wanted: Vec<Arc<ClassPlan>> = match &classes {
            Some(names) => {
                let chosen: Vec<_> = self
                    .setup
                    .classes
                    .iter()
                    .filter(|c| names.contains(&c.name))
                    .cloned()
                    .collect();
                if chosen.len() != names.len() {
                    return Err(format!("Unknown user class in {names:?}"));
                }
                chosen
            }
            None => self.setup.classes.clone(),
        };
        if let Some(h) = host {
            // Checked before anything changes, so a bad host from the web form is an answer, not
            // a stream of failed spawns.
            check_host(&h)?;
            self.host = Some(h);
        }
        let state = self.status.borrow().state;
        let fresh = !matches!(state, RunState::Spawning | RunState::Running);
        let same_classes = wanted
            .iter()
            .map(|c| &c.name)
            .eq(self.active_classes.iter().map(|c| &c.name));
        if fresh {
            // A new test starts from empty statistics, as Locust's runner.start does (clear_all).
            self.setup.hub.clear(wall_clock());
            self.status.send_modify(|s| s.peak_user_count = 0);
        }
        if fresh || !same_classes || self.dispatcher.is_none() {
            if !same_classes {
                self.apply(&BTreeMap::new())?;
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
                if let Err(e) = self.apply(&totals) {
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

    fn counts(&self) -> BTreeMap<String, u64> {
        self.setup
            .classes
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    self.users.get(&c.name).map_or(0, |v| v.len() as u64),
                )
            })
            .collect()
    }

    fn publish(&self, state: Option<RunState>) {
        let counts = self.counts();
        let host = self.host.clone();
        self.status.send_modify(|s| {
            if let Some(st) = state {
                s.state = st;
            }
            s.user_count = counts.values().sum();
            s.peak_user_count = s.peak_user_count.max(s.user_count);
            s.class_counts = counts;
            s.host = host;
        });
    }

    /// Brings every class to its absolute count now: classes missing from `counts` go to zero.
    fn apply(&mut self, counts: &BTreeMap<String, u64>) -> Result<(), String> {
        for class in self.setup.classes.clone() {
            let want = counts.get(&class.name).copied().unwrap_or(0) as usize;
            let have = self.users.get(&class.name).map_or(0, Vec::len);
            if want > have {
                for _ in have..want {
                    let slot = self.spawn_user(&class)?;
                    self.users.entry(class.name.clone()).or_default().push(slot);
                }
            } else if want < have {
                let slots = self
                    .users
                    .get_mut(&class.name)
                    .map(|v| v.split_off(want))
                    .unwrap_or_default();
                // Locust stops the most recently started users first.
                for slot in slots.into_iter().rev() {
                    self.stop_slot(slot);
                }
            }
        }
        Ok(())
    }

    fn spawn_user(&mut self, class: &Arc<ClassPlan>) -> Result<Slot, String> {
        let host = self
            .host
            .clone()
            .or_else(|| class.host.clone())
            .ok_or_else(|| {
                "No host given: pass -H/--host (or set a host on the scenario)".to_string()
            })?;
        let base_url = Url::parse(&host).map_err(|e| format!("Invalid host {host:?}: {e}"))?;
        let client = self.setup.sessions.client().map_err(|e| format!("{e}"))?;
        let user = GooseUser::new(
            class.index,
            Arc::from(class.name.as_str()),
            base_url,
            &self.goose_config,
            0,
            Some(client),
        )
        .map_err(|e| format!("could not create a user of {}: {e}", class.name))?;
        let slot = Slot {
            stop: CancellationToken::new(),
            kill: CancellationToken::new(),
        };
        let task = UserTask {
            class: class.clone(),
            user,
            hub: self.setup.hub.clone(),
            stop: slot.stop.clone(),
            kill: slot.kill.clone(),
        };
        self.tasks
            .spawn(skein_api::with_sink(self.setup.hub.sink(), task.run()));
        Ok(slot)
    }

    fn stop_slot(&self, slot: Slot) {
        slot.stop.cancel();
        let timeout = self.setup.stop_timeout;
        if timeout.is_zero() {
            slot.kill.cancel();
        } else {
            let kill = slot.kill;
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(timeout) => kill.cancel(),
                    // The user ended on its own; nothing to interrupt.
                    _ = kill.cancelled() => {}
                }
            });
        }
    }

    async fn stop_all(&mut self) {
        let state = self.status.borrow().state;
        if matches!(state, RunState::Ready | RunState::Stopped) && self.tasks.is_empty() {
            return;
        }
        let last_counts = self.counts();
        self.status
            .send_modify(|s| s.final_class_counts = last_counts);
        self.publish(Some(RunState::Stopping));
        self.next_iteration = None;
        self.dispatcher = None;
        let _ = self.apply(&BTreeMap::new());
        while self.tasks.join_next().await.is_some() {}
        self.status.send_modify(|s| s.target = 0);
        self.publish(Some(RunState::Stopped));
    }
}

fn check_host(host: &str) -> Result<(), String> {
    match Url::parse(host) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(_) => Err(format!(
            "Invalid host {host:?}: it must be an http:// or https:// URL with a host"
        )),
        Err(e) => Err(format!("Invalid host {host:?}: {e}")),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use goose::goose::{Scenario, Transaction, TransactionResult};
    use goose::transaction;
    use skein_api::UserClass;

    use super::*;
    use crate::engine::{hub, select_classes};

    static FINISHED: AtomicUsize = AtomicUsize::new(0);

    async fn idle(_u: &mut GooseUser) -> TransactionResult {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(())
    }

    async fn slow(_u: &mut GooseUser) -> TransactionResult {
        // On the tests' paused clock: longer than the pause before each stop below, whatever the
        // machine's load.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        FINISHED.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn class(name: &str, weight: usize) -> UserClass {
        UserClass::new(
            Scenario::new(name)
                .set_weight(weight)
                .unwrap()
                .register_transaction(transaction!(idle).set_name("idle")),
        )
    }

    fn runner(classes: &[UserClass], stop_timeout: Duration) -> RunnerHandle {
        spawn(RunnerSetup {
            classes: select_classes(classes, &[], None, None).unwrap(),
            host: Some("http://127.0.0.1:9".into()),
            stop_timeout,
            reset_stats_on_spawned: false,
            hub: hub::spawn(0.0, "test".into()),
            sessions: SessionFactory::new().unwrap(),
        })
    }

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[tokio::test]
    async fn applies_absolute_per_class_counts() {
        let r = runner(
            &[class("ImageClassifierUser", 1), class("HighLoadUser", 1)],
            Duration::ZERO,
        );
        r.apply_counts(counts(&[("ImageClassifierUser", 7), ("HighLoadUser", 3)]))
            .await
            .unwrap();
        assert_eq!(
            r.status().class_counts,
            counts(&[("HighLoadUser", 3), ("ImageClassifierUser", 7)])
        );
        assert_eq!(r.status().user_count, 10);
        r.apply_counts(counts(&[("ImageClassifierUser", 2), ("HighLoadUser", 5)]))
            .await
            .unwrap();
        assert_eq!(
            r.status().class_counts,
            counts(&[("HighLoadUser", 5), ("ImageClassifierUser", 2)])
        );
        r.stop().await;
        let st = r.status();
        assert_eq!((st.state, st.user_count), (RunState::Stopped, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn ramps_at_the_spawn_rate_by_weight() {
        let r = runner(&[class("A", 3), class("B", 1)], Duration::ZERO);
        r.start(8, 4.0, None, None).await.unwrap();
        assert_eq!(r.status().user_count, 4, "first iteration at once");
        assert_eq!(r.status().state, RunState::Spawning);
        tokio::time::sleep(Duration::from_millis(1010)).await;
        let st = r.status();
        assert_eq!((st.user_count, st.state), (8, RunState::Running));
        assert_eq!(st.class_counts, counts(&[("A", 6), ("B", 2)]));
        // Retarget downwards while running.
        r.start(2, 10.0, None, None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(r.status().user_count, 2);
        r.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn stop_timeout_lets_running_transactions_finish() {
        let slow_class = || {
            UserClass::new(
                Scenario::new("Slow").register_transaction(transaction!(slow).set_name("slow")),
            )
        };
        let before = FINISHED.load(Ordering::SeqCst);
        let graceful = runner(&[slow_class()], Duration::from_secs(5));
        graceful.apply_counts(counts(&[("Slow", 3)])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        graceful.stop().await;
        assert_eq!(
            FINISHED.load(Ordering::SeqCst) - before,
            3,
            "each user finished its transaction"
        );

        let before = FINISHED.load(Ordering::SeqCst);
        let abrupt = runner(&[slow_class()], Duration::ZERO);
        abrupt.apply_counts(counts(&[("Slow", 3)])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        abrupt.stop().await;
        assert_eq!(
            FINISHED.load(Ordering::SeqCst) - before,
            0,
            "without a stop timeout users are interrupted"
        );
    }
}
