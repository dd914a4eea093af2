//! The worker's registration with its master: the first connect (`client_ready` every 5 s until
//! an `ack`, at most 61 sends, then exit code 255 as Locust), the master-loss timer, and
//! re-registration after a loss.
//!
//! Master loss (skein's own behaviour, Locust only quits after 60 s): once the master has sent
//! its first heartbeat, any message from it re-arms a timer of `master_heartbeat_timeout`
//! seconds. When it runs out the worker stops its users (state `ready`), reports
//! [`Effect::MasterLost`], recreates its connection and sends `client_ready` at once and every
//! `connect_retry_every` seconds. An `ack` makes it a registered worker again (same node id, so
//! the master replaces its entry instead of counting it twice), with a fresh spawn timestamp
//! history (a restarted master's clock may be behind) and a report at once, as after the first
//! connect. Without an `ack` it quits (code 0, as Locust's master timeout) after
//! `keep_running_without_master` seconds.
//!
//! The timer is paused between `client_stopped` and the next `client_ready`: the master has
//! forgotten the worker then and does not answer its heartbeats.

use super::{log, Effect, Job, Level, Worker, WorkerState};
use crate::cluster::message::ToWorker;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Link {
    /// Waiting for the first `ack`; `sent` counts the `client_ready`s so far.
    Connecting {
        sent: u32,
        retry_at: f64,
    },
    Registered {
        /// When the master was last heard from; `None` until its first heartbeat.
        last_heard: Option<f64>,
        /// Between `client_stopped` and `client_ready`.
        paused: bool,
    },
    /// The master went silent; re-registering until `quit_at`.
    Lost {
        retry_at: f64,
        quit_at: f64,
    },
    Finished,
}

impl Link {
    pub(super) fn connecting(cfg: &super::WorkerConfig, now: f64) -> Link {
        Link::Connecting {
            sent: 1,
            retry_at: now + cfg.connect_retry_every,
        }
    }

    pub(super) fn pause_loss_timer(&mut self) {
        if let Link::Registered { paused, .. } = self {
            *paused = true;
        }
    }

    pub(super) fn resume_loss_timer(&mut self, now: f64) {
        if let Link::Registered { last_heard, paused } = self {
            *paused = false;
            if last_heard.is_some() {
                *last_heard = Some(now);
            }
        }
    }
}

impl Worker {
    /// Any message from the master shows it is alive (a Python master that ramps inside its
    /// message handler sends spawns but answers no heartbeats meanwhile).
    pub(super) fn heard(&mut self, msg: &ToWorker, now: f64) {
        if let Link::Registered { last_heard, .. } = &mut self.link {
            if matches!(msg, ToWorker::Heartbeat) || last_heard.is_some() {
                *last_heard = Some(now);
            }
        }
    }

    pub(super) fn heard_any(&mut self, now: f64) {
        if let Link::Registered {
            last_heard: Some(t),
            ..
        } = &mut self.link
        {
            *t = now;
        }
    }

    pub(super) fn link_deadline(&self) -> Option<f64> {
        match self.link {
            Link::Connecting { retry_at, .. } => Some(retry_at),
            Link::Registered {
                last_heard: Some(t),
                paused: false,
            } => Some(t + self.cfg.master_heartbeat_timeout),
            Link::Registered { .. } | Link::Finished => None,
            Link::Lost { retry_at, quit_at } => Some(retry_at.min(quit_at)),
        }
    }

    pub(super) fn on_ack(&mut self, index: u64, now: f64, fx: &mut Vec<Effect>) {
        self.index = Some(index);
        match self.link {
            Link::Connecting { .. } => {
                self.link = Link::Registered {
                    last_heard: None,
                    paused: false,
                };
                self.first_contact(now, fx);
            }
            Link::Lost { .. } => {
                fx.push(log(
                    Level::Info,
                    format!("Registered with the master again (index {index})"),
                ));
                // A fresh registration: the master (perhaps a new one) counts from scratch.
                self.last_spawn_timestamp = 0.0;
                self.link = Link::Registered {
                    last_heard: Some(now),
                    paused: false,
                };
                self.first_contact(now, fx);
            }
            // The ack of a client_ready after a stop (or a duplicate): only the index.
            Link::Registered { .. } | Link::Finished => {}
        }
    }

    /// As Locust's greenlets start after the connect: a heartbeat and a report at once.
    fn first_contact(&mut self, now: f64, fx: &mut Vec<Effect>) {
        fx.push(self.heartbeat());
        fx.push(Effect::SendReport);
        self.next_report = Some(now + self.cfg.report_interval);
    }

    pub(super) fn link_deadlines(&mut self, now: f64, fx: &mut Vec<Effect>) {
        match self.link {
            Link::Connecting { sent, retry_at } if now >= retry_at => {
                let retries = sent - 1;
                if retries >= self.cfg.connect_retries {
                    fx.push(log(
                        Level::Error,
                        format!("Failed to connect to master after {sent} attempts, giving up"),
                    ));
                    self.link = Link::Finished;
                    // Locust's `sys.exit(-1)`.
                    fx.push(Effect::Quit { code: 255 });
                    return;
                }
                // Locust logs at debug level for the first 30 s.
                let level = if (sent as f64) * self.cfg.connect_retry_every < 30.0 {
                    Level::Debug
                } else {
                    Level::Info
                };
                fx.push(log(
                    level,
                    format!(
                        "Failed to connect to master, retry {sent}/{}.",
                        self.cfg.connect_retries
                    ),
                ));
                fx.push(self.client_ready());
                self.link = Link::Connecting {
                    sent: sent + 1,
                    retry_at: next_time(retry_at, self.cfg.connect_retry_every, now),
                };
            }
            Link::Registered {
                last_heard: Some(t),
                paused: false,
            } if now >= t + self.cfg.master_heartbeat_timeout => self.lose_master(now, fx),
            Link::Lost { quit_at, .. } if now >= quit_at => {
                fx.push(log(
                    Level::Error,
                    format!(
                        "No master for {}s, shutting down",
                        self.cfg.keep_running_without_master
                    ),
                ));
                self.link = Link::Finished;
                fx.push(Effect::Send(crate::cluster::message::ToMaster::Quit));
                fx.push(Effect::Quit { code: 0 });
            }
            Link::Lost { retry_at, quit_at } if now >= retry_at => {
                fx.push(Effect::Reconnect);
                fx.push(self.client_ready());
                self.link = Link::Lost {
                    retry_at: next_time(retry_at, self.cfg.connect_retry_every, now),
                    quit_at,
                };
            }
            _ => {}
        }
    }

    fn lose_master(&mut self, now: f64, fx: &mut Vec<Effect>) {
        fx.push(log(
            Level::Error,
            format!(
                "Didn't get heartbeat from master in over {}s: stopping users, \
                 trying to register again for {}s",
                self.cfg.master_heartbeat_timeout, self.cfg.keep_running_without_master
            ),
        ));
        let running = self.state != WorkerState::Ready || self.users.total() > 0;
        self.job = match self.job {
            Job::StoppingForMaster | Job::StoppingForLoss => Job::StoppingForLoss,
            Job::Idle if running => {
                fx.push(Effect::StopUsers);
                Job::StoppingForLoss
            }
            Job::Idle | Job::ReadyAt(_) => Job::Idle,
        };
        self.deferred.clear();
        self.state = WorkerState::Ready;
        fx.push(Effect::MasterLost);
        self.link = Link::Lost {
            retry_at: now + self.cfg.connect_retry_every,
            quit_at: now + self.cfg.keep_running_without_master.max(0.0),
        };
        if self.cfg.keep_running_without_master <= 0.0 {
            self.link_deadlines(now, fx);
            return;
        }
        fx.push(Effect::Reconnect);
        fx.push(self.client_ready());
    }
}

/// The next slot of a periodic timer, skipping slots missed during a stall.
fn next_time(prev: f64, every: f64, now: f64) -> f64 {
    let next = prev + every;
    if next <= now {
        now + every
    } else {
        next
    }
}
