//! One simulated user: a tokio task that runs its class's on-start transactions, then weighted
//! random transactions with the class's waits, until asked to stop, then its on-stop ones.
//!
//! Stopping has two levels, as in Locust: `stop` lets the current transaction finish (waits are
//! cut short), `kill` interrupts it. The runner cancels `kill` at once when there is no stop
//! timeout, or after it.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use goose::goose::{GooseUser, Transaction};
use tokio_util::sync::CancellationToken;

use super::class::{task_name, ClassPlan};
use super::hub::HubHandle;

/// How long on-stop transactions may run once a user is told to stop.
const ON_STOP_LIMIT: Duration = Duration::from_secs(10);

pub struct UserTask {
    pub class: Arc<ClassPlan>,
    pub user: GooseUser,
    pub hub: HubHandle,
    pub stop: CancellationToken,
    pub kill: CancellationToken,
}

impl UserTask {
    pub async fn run(mut self) {
        let class = self.class.clone();
        for (i, t) in class.on_start.iter().enumerate() {
            if self.run_interruptible(t, i).await.is_err() {
                return self.finish().await;
            }
        }
        let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::from_os_rng();
        loop {
            if self.stop.is_cancelled() {
                break;
            }
            let i = class.pick(&mut rng);
            if self.run_interruptible(&class.tasks[i], i).await.is_err() {
                break;
            }
            let wait = class.wait_time(&mut rng);
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.stop.cancelled() => break,
                }
            } else if self.stop.is_cancelled() {
                break;
            } else {
                // A user with no wait must still let the runtime breathe (and notice a stop).
                tokio::task::yield_now().await;
            }
        }
        self.finish().await
    }

    async fn finish(mut self) {
        let class = self.class.clone();
        // Ends the runner's stop-timeout timer for this user, which has nothing left to interrupt.
        let _done = DoneGuard(self.kill.clone());
        for (i, t) in class.on_stop.iter().enumerate() {
            let _ = tokio::time::timeout(ON_STOP_LIMIT, self.run_one(t, i)).await;
        }
    }

    /// Runs one transaction unless killed first; `Err` when killed.
    async fn run_interruptible(&mut self, t: &Transaction, i: usize) -> Result<(), ()> {
        let kill = self.kill.clone();
        tokio::select! {
            _ = self.run_one(t, i) => Ok(()),
            _ = kill.cancelled() => Err(()),
        }
    }

    async fn run_one(&mut self, t: &Transaction, i: usize) {
        let outcome = AssertUnwindSafe((t.function)(&mut self.user))
            .catch_unwind()
            .await;
        let (msg, what) = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(e)) => (e.to_string(), "returned an error"),
            Err(panic) => (panic_text(panic), "panicked"),
        };
        let traceback = format!(
            "  {} {}: transaction '{}'\n",
            self.class.name,
            what,
            task_name(t, i)
        );
        self.hub.exception(msg, traceback).await;
    }
}

fn panic_text(panic: Box<dyn Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// Cancels the user's `kill` token when its task ends, however it ends.
struct DoneGuard(CancellationToken);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
