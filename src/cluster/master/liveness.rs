//! Who is still there: the 1 s heartbeat tick (Locust's `heartbeat_worker`) and malformed
//! frames, after which a sender is not trusted until it registers again.

use super::{log, Effect, Level, Master, MembershipChange, MAX_UNTRUSTED};
use crate::cluster::message::{ToWorker, WorkerState};
use crate::engine::runner::RunState;

impl Master {
    /// Call every second. A worker's counter drops by one per tick and is reset by each
    /// heartbeat; below zero it is missing (3 to 4 s after its last heartbeat: Locust checks
    /// before counting down and takes 4 to 5 s). A missing worker's users move to the others at
    /// once; if none is left the test stops. Missing workers are forgotten after
    /// `missing_delete_after` more ticks.
    pub fn tick(&mut self, now: f64) -> Vec<Effect> {
        let mut out = Vec::new();
        let forget_at = -1 - self.cfg.missing_delete_after;
        let mut lost = Vec::new();
        let mut forgotten = Vec::new();
        for w in &mut self.workers {
            w.heartbeat = w.heartbeat.saturating_sub(1);
            if w.state == WorkerState::Missing {
                if w.heartbeat <= forget_at {
                    forgotten.push(w.id.clone());
                }
            } else if w.heartbeat < 0 {
                w.state = WorkerState::Missing;
                w.counts.clear();
                lost.push(w.id.clone());
            }
        }
        for id in &forgotten {
            self.remove(id);
            log(
                &mut out,
                Level::Info,
                format!(
                    "Worker {id} was missing for {} s and is removed.",
                    self.cfg.missing_delete_after
                ),
            );
            self.membership(&mut out, now, id, MembershipChange::Removed);
        }
        if lost.is_empty() {
            if !forgotten.is_empty() {
                self.check_stopped(&mut out);
            }
            return out;
        }
        for id in &lost {
            log(
                &mut out,
                Level::Info,
                format!("Worker {id} failed to send heartbeat, setting state to missing."),
            );
            self.membership(&mut out, now, id, MembershipChange::Missing);
        }
        if self.worker_count() == 0 {
            if let Some(d) = self.dispatcher.as_mut() {
                for id in &lost {
                    d.remove_worker(id);
                }
            }
            log(
                &mut out,
                Level::Info,
                "The last worker went missing, stopping test.",
            );
            out.extend(self.stop(now));
            self.check_stopped(&mut out);
            return out;
        }
        // The open model: the survivors' shares grow at once, the total rate stays.
        self.resplit(now, &mut out);
        if let Some(d) = self.dispatcher.as_mut() {
            for id in &lost {
                d.remove_worker(id);
            }
            // Deliberately unlike Locust (which needs --enable-rebalancing): the lost users run
            // elsewhere at once.
            if matches!(self.state, RunState::Spawning | RunState::Running) {
                self.redispatch(now, &mut out);
            }
        }
        out
    }

    /// A frame that could not be decoded. It is dropped and logged; its sender, when known, is
    /// asked to reconnect (as Locust does) and its messages other than `client_ready` are
    /// ignored until it registers again. Nothing stops.
    pub fn malformed(&mut self, node: Option<&str>, reason: &str, now: f64) -> Vec<Effect> {
        let mut out = Vec::new();
        let Some(id) = node else {
            log(
                &mut out,
                Level::Error,
                format!("Unrecognized message detected: {reason}"),
            );
            return out;
        };
        if self.is_known(id) {
            log(
                &mut out,
                Level::Error,
                format!("RPCError when receiving from client: {reason}. Will reset client {id}."),
            );
            self.send(&mut out, id, ToWorker::Reconnect);
            if self.untrusted.insert(id.to_string()) {
                self.membership(&mut out, now, id, MembershipChange::Untrusted);
            }
        } else {
            log(
                &mut out,
                Level::Error,
                format!("Unrecognized message detected: {reason} from {id}"),
            );
            if self.untrusted.len() < MAX_UNTRUSTED {
                self.untrusted.insert(id.to_string());
            }
        }
        out
    }
}
