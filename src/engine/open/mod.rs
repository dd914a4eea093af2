//! The open model: iterations start at a fixed rate whatever the response times (k6's
//! constant-arrival-rate), each on a virtual user from a bounded pool. The runner starts it with
//! an [`ArrivalOrder`] ([`super::RunnerHandle::arrive`]); [`schedule`] says when iterations are
//! due and which class each goes to; [`driver`] owns the pool and hands iterations out.
//!
//! An iteration due while every virtual user is busy waits in a bounded backlog and starts
//! late; when the backlog is full it is dropped. The driver counts them (scheduled, started,
//! late, dropped) and reports the counts to the hub, which also takes every request's scheduled
//! start (see `crate::stats::open`).

pub mod driver;
pub mod schedule;
#[cfg(test)]
mod tests;

pub use driver::{OpenLoad, OpenPlan};
pub use schedule::{ClassMix, RateSchedule};

/// Iterations per second above this are refused: a rate a generator cannot keep is a typo.
pub const MAX_RATE: f64 = 1_000_000.0;

/// The default pool size when neither `--max-in-flight` nor `-u` is given.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 100;

/// What the runner is asked to run in the open model.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrivalOrder {
    /// Iterations per second (finite, above zero).
    pub rate: f64,
    /// At most this many virtual users, hence iterations in flight (at least 1).
    pub max_in_flight: usize,
    /// Iterations that may wait for a free user; `None`: as many as `max_in_flight`.
    pub backlog: Option<usize>,
    /// Replaces every class's host (`None` keeps each class's own).
    pub host: Option<String>,
    /// The classes to run, by name (`None`: all of the runner's); iterations go to them in
    /// proportion to their weights.
    pub classes: Option<Vec<String>>,
}

impl ArrivalOrder {
    /// An order for every class at `rate` with a pool of `max_in_flight`.
    pub fn new(rate: f64, max_in_flight: usize) -> Self {
        ArrivalOrder {
            rate,
            max_in_flight,
            backlog: None,
            host: None,
            classes: None,
        }
    }

    pub fn backlog_or_default(&self) -> usize {
        self.backlog.unwrap_or(self.max_in_flight)
    }
}
