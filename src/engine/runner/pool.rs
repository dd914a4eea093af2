//! The runner's users: one task each, with the tokens that stop them, and the set that reaps
//! them. It brings each class to an absolute count; it never waits for a user to end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::super::class::ClassPlan;
use super::super::hub::HubHandle;
use super::super::session::SessionFactory;
use super::super::user::UserTask;
use super::super::vu::VirtualUser;
use super::RunnerError;

struct Slot {
    stop: CancellationToken,
    kill: CancellationToken,
}

pub(super) struct UserPool {
    classes: Vec<Arc<ClassPlan>>,
    hub: HubHandle,
    sessions: SessionFactory,
    /// The users that count, per class, oldest first.
    users: BTreeMap<String, Vec<Slot>>,
    /// Every user task still alive, those already told to stop included.
    tasks: JoinSet<()>,
    /// How long a stopping user may finish its transaction before it is interrupted.
    pub(super) stop_timeout: Duration,
}

impl UserPool {
    pub(super) fn new(
        classes: Vec<Arc<ClassPlan>>,
        hub: HubHandle,
        sessions: SessionFactory,
        stop_timeout: Duration,
    ) -> Self {
        UserPool {
            classes,
            hub,
            sessions,
            users: BTreeMap::new(),
            tasks: JoinSet::new(),
            stop_timeout,
        }
    }

    /// Users per class (every class, zeros included), not counting those stopping.
    pub(super) fn counts(&self) -> BTreeMap<String, u64> {
        self.classes
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    self.users.get(&c.name).map_or(0, |v| v.len() as u64),
                )
            })
            .collect()
    }

    /// No user task is alive, stopping ones included.
    pub(super) fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Waits for the next user task to end; `None` when none is alive.
    pub(super) async fn reap(&mut self) -> Option<()> {
        self.tasks.join_next().await.map(|_| ())
    }

    /// Brings every class to its absolute count now: classes missing from `counts` go to zero.
    /// Spawns come first, then stops, as a Locust worker applies a spawn. New users go to `host`,
    /// else to their class's own.
    pub(super) fn apply(
        &mut self,
        counts: &BTreeMap<String, u64>,
        host: Option<&String>,
    ) -> Result<(), RunnerError> {
        let want = |name: &str| counts.get(name).copied().unwrap_or(0) as usize;
        let mut spawned = Ok(());
        'classes: for class in self.classes.clone() {
            let have = self.users.get(&class.name).map_or(0, Vec::len);
            for _ in have..want(&class.name) {
                match self.spawn_user(&class, host) {
                    Ok(slot) => self.users.entry(class.name.clone()).or_default().push(slot),
                    Err(e) => {
                        spawned = Err(e);
                        break 'classes;
                    }
                }
            }
        }
        // Stops happen even when a spawn failed: a lower count is always honoured.
        for class in self.classes.clone() {
            let slots = self
                .users
                .get_mut(&class.name)
                .map(|v| v.split_off(want(&class.name).min(v.len())))
                .unwrap_or_default();
            // Locust stops the most recently started users first.
            for slot in slots.into_iter().rev() {
                self.stop_slot(slot);
            }
        }
        spawned
    }

    fn spawn_user(
        &mut self,
        class: &Arc<ClassPlan>,
        host: Option<&String>,
    ) -> Result<Slot, RunnerError> {
        let base_url = base_url(host.or(class.host.as_ref()))?;
        let vu = VirtualUser::new(class.clone(), base_url, &self.sessions, self.hub.clone())?;
        let slot = Slot {
            stop: CancellationToken::new(),
            kill: CancellationToken::new(),
        };
        let task = UserTask {
            vu,
            stop: slot.stop.clone(),
            kill: slot.kill.clone(),
        };
        self.tasks.spawn(task.run());
        Ok(slot)
    }

    fn stop_slot(&self, slot: Slot) {
        slot.stop.cancel();
        kill_after(slot.kill, self.stop_timeout);
    }
}

/// Cancels `kill` after `timeout` (at once for zero), unless it is cancelled first (the user
/// ended on its own, nothing to interrupt).
pub(super) fn kill_after(kill: CancellationToken, timeout: Duration) {
    if timeout.is_zero() {
        kill.cancel();
    } else {
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(timeout) => kill.cancel(),
                _ = kill.cancelled() => {}
            }
        });
    }
}

/// The URL users of a class are built on: the runner's host, else the class's own.
pub(super) fn base_url(host: Option<&String>) -> Result<Url, RunnerError> {
    let host = host.ok_or(RunnerError::NoHost)?;
    Url::parse(host).map_err(|e| RunnerError::InvalidHost {
        host: host.clone(),
        reason: e.to_string(),
    })
}

/// A host given with a command must be a full http(s) URL.
pub(super) fn check_host(host: &str) -> Result<(), RunnerError> {
    match Url::parse(host) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(_) => Err(RunnerError::InvalidHost {
            host: host.to_string(),
            reason: "it must be an http:// or https:// URL with a host".to_string(),
        }),
        Err(e) => Err(RunnerError::InvalidHost {
            host: host.to_string(),
            reason: e.to_string(),
        }),
    }
}
