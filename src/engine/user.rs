//! The closed model's user: a tokio task that loops over one [`VirtualUser`], running its
//! iterations with the class's waits until asked to stop, then its on-stop transactions.
//!
//! Stopping has two levels, as in Locust: `stop` lets the current transaction finish (waits are
//! cut short), `kill` interrupts it. The runner cancels `kill` at once when there is no stop
//! timeout, or after it.

use tokio_util::sync::CancellationToken;

use super::vu::VirtualUser;

pub struct UserTask {
    pub vu: VirtualUser,
    pub stop: CancellationToken,
    pub kill: CancellationToken,
}

impl UserTask {
    pub async fn run(self) {
        let UserTask { mut vu, stop, kill } = self;
        // Ends the runner's stop-timeout timer for this user, which has nothing left to interrupt.
        let _done = DoneGuard(kill.clone());
        let killed = tokio::select! {
            _ = vu.start(None) => false,
            _ = kill.cancelled() => true,
        };
        if !killed {
            loop {
                if stop.is_cancelled() {
                    break;
                }
                tokio::select! {
                    _ = vu.iterate(None) => {}
                    _ = kill.cancelled() => break,
                }
                let wait = vu.wait_time();
                if !wait.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.cancelled() => break,
                    }
                } else if stop.is_cancelled() {
                    break;
                } else {
                    // A user with no wait must still let the runtime breathe (and notice a stop).
                    tokio::task::yield_now().await;
                }
            }
        }
        vu.finish().await
    }
}

/// Cancels the user's `kill` token when its task ends, however it ends.
struct DoneGuard(CancellationToken);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
