//! Registration and departure: `client_ready` (version check, ack, a fresh worker node),
//! heartbeats (and self-healing), `client_stopped`, `quit`, the locustfile request, and the
//! dispatcher's reaction when a worker joins or leaves during a test.

use std::collections::BTreeMap;

use super::{log, Effect, Level, Master, MembershipChange, WorkerNode, CPU_WARNING_THRESHOLD};
use crate::cluster::message::{
    Heartbeat, ToWorker, Version, WorkerState, LOCUST_VERSION, SKEIN_VERSION_MARK,
};
use crate::engine::runner::RunState;

impl Master {
    pub(super) fn client_ready(
        &mut self,
        node: &str,
        version: Version,
        now: f64,
        out: &mut Vec<Effect>,
    ) {
        match &version {
            Version::Named(v) if v.is_empty() => {
                log(
                    out,
                    Level::Error,
                    format!("An old (pre 2.0) worker tried to connect ({node}). That's not going to work."),
                );
                return;
            }
            // A skein worker's mark is not a different version.
            Version::Named(v)
                if v.strip_suffix(SKEIN_VERSION_MARK).unwrap_or(v) != LOCUST_VERSION =>
            {
                if v.chars().take(4).eq(LOCUST_VERSION.chars().take(4)) {
                    log(
                        out,
                        Level::Debug,
                        format!(
                            "A worker ({node}) running a different patch version ({}) connected, master version is {}",
                            skein_record::str_repr(v),
                            skein_record::str_repr(LOCUST_VERSION)
                        ),
                    );
                } else {
                    log(
                        out,
                        Level::Warning,
                        format!("A worker ({node}) running a different version ({v}) connected, master version is {LOCUST_VERSION}"),
                    );
                }
            }
            _ => {}
        }
        let seen_before = self.indexes.contains_key(node);
        let index = self.index_of(node);
        self.send(out, node, ToWorker::Ack { index });
        if self.quitting {
            // It registered between its client_stopped and the quit: it must not be left
            // waiting for a master that is gone (Locust's master misses it).
            self.send(out, node, ToWorker::Quit);
        }
        self.untrusted.remove(node);
        let fresh = WorkerNode {
            id: node.to_string(),
            state: WorkerState::Ready,
            heartbeat: self.cfg.heartbeat_liveness,
            cpu: 0.0,
            memory: 0,
            counts: BTreeMap::new(),
            cpu_warned: false,
            classes_warned: false,
            skein: version.is_skein(),
        };
        // Python's dict keeps a replaced key where it was.
        let already_connected = match self.workers.iter_mut().find(|w| w.id == node) {
            Some(w) => {
                *w = fresh;
                true
            }
            None => {
                self.workers.push(fresh);
                false
            }
        };
        let change = if seen_before {
            MembershipChange::Rejoined
        } else {
            MembershipChange::Joined
        };
        self.membership(out, now, node, change);
        self.join_dispatch(node, now, out);
        let connected = self.worker_count();
        if already_connected {
            log(
                out,
                Level::Debug,
                format!("{node} (index {index}) reported as ready (duplicate message). {connected} workers connected."),
            );
        } else {
            log(
                out,
                Level::Info,
                format!("{node} (index {index}) reported as ready. {connected} workers connected."),
            );
        }
    }

    /// A worker (re)joined while a dispatcher exists: it gets its share at once.
    fn join_dispatch(&mut self, node: &str, now: f64, out: &mut Vec<Effect>) {
        if self.open.is_some() {
            self.resplit(now, out);
            return;
        }
        let Some(d) = self.dispatcher.as_mut() else {
            return;
        };
        let known = d.workers().iter().any(|w| w == node);
        d.add_worker(node);
        if !matches!(self.state, RunState::Spawning | RunState::Running) {
            return;
        }
        if known {
            // Re-registered under the same id (restarted, or after a malformed frame): it may have
            // lost its users, and the dispatcher has nothing new to say, so resend its share.
            let share = d.distribution().get(node).cloned().unwrap_or_default();
            let spawn = self.spawn_message(&share, now);
            self.send(out, node, spawn);
        } else {
            self.redispatch(now, out);
        }
    }

    pub(super) fn heartbeat(&mut self, node: &str, hb: Heartbeat, now: f64, out: &mut Vec<Effect>) {
        let liveness = self.cfg.heartbeat_liveness;
        let index = self.indexes.get(node).copied().unwrap_or(0);
        let Some(w) = self.worker_mut(node) else {
            log(
                out,
                Level::Debug,
                format!("Got heartbeat message from unknown worker {node}"),
            );
            return;
        };
        w.heartbeat = liveness;
        let healed = w.state == WorkerState::Missing && hb.state != WorkerState::Missing;
        if healed {
            let text = format!(
                "Worker {node} self-healed with heartbeat, setting state to {}.",
                hb.state.as_str()
            );
            out.push(Effect::Log(Level::Info, text));
        }
        w.state = hb.state;
        w.cpu = hb.cpu_percent;
        if let Some(m) = hb.memory_bytes {
            w.memory = m;
        }
        let cpu_warn = !w.cpu_warned && w.cpu > CPU_WARNING_THRESHOLD;
        if cpu_warn {
            w.cpu_warned = true;
            self.cpu_warning = true;
            log(
                out,
                Level::Warning,
                format!("Worker {node} (index {index}) exceeded cpu threshold (will only log this once per worker)"),
            );
        }
        self.send(out, node, ToWorker::Heartbeat);
        if healed {
            self.membership(out, now, node, MembershipChange::SelfHealed);
            self.join_dispatch(node, now, out);
        }
    }

    pub(super) fn client_stopped(&mut self, node: &str, now: f64, out: &mut Vec<Effect>) {
        if !self.remove(node) {
            log(
                out,
                Level::Warning,
                format!("Received client_stopped message from an unknown worker: {node}."),
            );
            return;
        }
        let index = self.index_of(node);
        self.membership(out, now, node, MembershipChange::Stopped);
        self.leave_dispatch(node, now, out);
        log(
            out,
            Level::Info,
            format!("{node} (index {index}) reported that it has stopped"),
        );
    }

    pub(super) fn worker_quit(&mut self, node: &str, now: f64, out: &mut Vec<Effect>) {
        if !self.remove(node) {
            return;
        }
        let index = self.index_of(node);
        self.membership(out, now, node, MembershipChange::Quit);
        self.leave_dispatch(node, now, out);
        log(
            out,
            Level::Info,
            format!(
                "Worker {} (index {index}) quit. {} workers ready.",
                skein_record::str_repr(node),
                self.ready_count()
            ),
        );
        if self.worker_count() == 0 {
            log(out, Level::Info, "The last worker quit, stopping test.");
            out.extend(self.stop(now));
            if self.cfg.headless && !self.quitting {
                out.extend(self.quit(now));
                out.push(Effect::Shutdown);
            }
        }
    }

    /// A worker left the dispatch: its users move to the others at once.
    fn leave_dispatch(&mut self, node: &str, now: f64, out: &mut Vec<Effect>) {
        if self.open.is_some() {
            self.resplit(now, out);
            return;
        }
        let Some(d) = self.dispatcher.as_mut() else {
            return;
        };
        d.remove_worker(node);
        if matches!(self.state, RunState::Spawning | RunState::Running) && self.worker_count() > 0 {
            self.redispatch(now, out);
        }
    }

    pub(super) fn locustfile(&mut self, node: &str, version: &str, out: &mut Vec<Effect>) {
        if version.is_empty() {
            log(
                out,
                Level::Error,
                "A very old worker version requested locustfile. This probably won't work.",
            );
        } else if version.chars().take(4).eq(LOCUST_VERSION.chars().take(4)) {
            log(
                out,
                Level::Debug,
                format!("A worker ({node}) running a different patch version ({version}) connected, master version is {LOCUST_VERSION}"),
            );
        }
        log(out, Level::Debug, "Worker requested locust file");
        out.push(Effect::LocustfileRequested {
            node: node.to_string(),
        });
    }

    pub(super) fn ask_to_quit(&mut self, node: &str, what: &str, out: &mut Vec<Effect>) {
        log(
            out,
            Level::Warning,
            format!("Got {what} message from unknown worker {node}. Asking worker to quit."),
        );
        self.send(out, node, ToWorker::Quit);
    }
}
