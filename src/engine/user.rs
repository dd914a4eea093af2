//! The closed model's user: a tokio task that loops over one [`VirtualUser`], running its
//! iterations with the class's waits until asked to stop, then its on-stop transactions.
//!
//! Stopping has two levels, as in Locust: `stop` lets the current transaction finish (waits are
//! cut short), `kill` interrupts it. The runner cancels `kill` at once when there is no stop
//! timeout, or after it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::vu::VirtualUser;

/// A wait at least this long first releases the connection's buffers (see
/// `skein_api::engine_support::UserContext::park`): an idle user then holds its socket, not
/// hyper's 16 KiB, and resuming costs the next request about a microsecond.
const PARK_BEFORE: Duration = Duration::from_millis(100);

pub struct UserTask {
    pub vu: VirtualUser,
    pub stop: CancellationToken,
    pub kill: CancellationToken,
}

impl UserTask {
    /// The user's whole life. Not an `async fn`: that would move `self` into a local of its
    /// future, which then holds the user twice (the argument and the local); the block below
    /// works on the captured task in place.
    pub fn run(self) -> impl std::future::Future<Output = ()> + Send {
        let mut task = self;
        async move {
            // Ends the runner's stop-timeout timer for this user, which has nothing left to interrupt.
            let _done = DoneGuard(task.kill.clone());
            // The start and finish futures are boxed: they run once, and inline they would make
            // every idle user's task the size of the largest of them.
            let killed = tokio::select! {
                _ = Box::pin(task.vu.start(None)) => false,
                _ = task.kill.cancelled() => true,
            };
            if !killed {
                loop {
                    if task.stop.is_cancelled() {
                        break;
                    }
                    tokio::select! {
                        _ = task.vu.iterate(None) => {}
                        _ = task.kill.cancelled() => break,
                    }
                    let wait = task.vu.wait_time();
                    if wait >= PARK_BEFORE {
                        task.vu.park();
                    }
                    if !wait.is_zero() {
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = task.stop.cancelled() => break,
                        }
                    } else if task.stop.is_cancelled() {
                        break;
                    } else {
                        // A user with no wait must still let the runtime breathe (and notice a stop).
                        tokio::task::yield_now().await;
                    }
                }
            }
            Box::pin(task.vu.finish()).await
        }
    }
}

/// Cancels the user's `kill` token when its task ends, however it ends.
struct DoneGuard(CancellationToken);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

#[cfg(test)]
mod tests {
    use std::mem::size_of_val;

    use skein_api::goose::goose::{GooseUser, Scenario, Transaction, TransactionResult};
    use skein_api::goose::transaction;
    use skein_api::UserClass;

    use super::*;
    use crate::engine::{hub, select_classes, SessionFactory};

    async fn nothing(_: &mut GooseUser) -> TransactionResult {
        Ok(())
    }

    /// Every parked user holds its task's future, so its size is memory per idle user (it was
    /// 10.7 KB when the user was held twice and the start and finish futures were inline). The
    /// transactions' own futures are boxed by Goose; what the loop keeps across its waits is the
    /// user itself and the largest of its per-iteration futures.
    #[tokio::test]
    async fn an_idle_users_task_is_small() {
        let scenario =
            Scenario::new("Idle").register_transaction(transaction!(nothing).set_name("n"));
        let plan = select_classes(&[UserClass::new(scenario)], &[], None, None)
            .unwrap()
            .remove(0);
        let sessions = SessionFactory::new().unwrap();
        let vu = VirtualUser::new(
            plan,
            "http://127.0.0.1:9".parse().unwrap(),
            &sessions,
            hub::spawn(0.0, "local".into()),
        )
        .unwrap();
        let user = std::mem::size_of::<VirtualUser>();
        let task = UserTask {
            vu,
            stop: CancellationToken::new(),
            kill: CancellationToken::new(),
        };
        let run = task.run();
        let size = size_of_val(&run);
        eprintln!("VirtualUser {user} B, the task's future {size} B");
        assert!(size <= user + 1024, "{size} B for a user of {user} B");
    }
}
