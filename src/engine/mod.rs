//! The engine: virtual users ([`vu`]: a Goose user, its HTTP session and random source,
//! running one iteration when told), driven in Locust's closed model (a tokio task per user
//! looping with the class's waits) or in the open model ([`open`]: iterations at a fixed rate on
//! a bounded pool); the runner that owns them and brings each class to its target count at the
//! spawn rate (or runs the open model); and the hub that owns the statistics they report to.

pub mod class;
pub mod goose_metrics;
/// The dispatcher lives with the cluster code; the engine keeps using it by this path.
pub use crate::cluster::dispatch;
pub mod hub;
pub mod open;
pub mod runner;
pub mod session;
mod user;
pub mod vu;

pub use class::{select_classes, ClassPlan};
pub use hub::{HubHandle, HubRole, StatsReader, StatsView};
pub use open::ArrivalOrder;
pub use runner::{RunState, RunnerError, RunnerHandle, RunnerSetup, RunnerStatus, SpawnOrder};
pub use session::SessionFactory;
pub use vu::VirtualUser;

/// Wall-clock time as Locust keeps it: epoch seconds. Only the edges read the clock; the
/// statistics are given times.
pub fn wall_clock() -> f64 {
    skein_api::epoch_seconds()
}
