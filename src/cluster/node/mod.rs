//! The async edges of the two roles: each runs its state machine against the transport, the
//! clock and (on a worker) the local runner and hub. [`master`] also implements the run
//! boundary ([`crate::control::RunControl`]) for the web UI and the outputs, in [`run`].

pub mod master;
pub mod run;
pub mod worker;

pub use master::MasterHandle;

use super::Level;

/// Writes a state machine's log line.
fn log(level: Level, text: &str) {
    match level {
        Level::Debug => tracing::debug!("{text}"),
        Level::Info => tracing::info!("{text}"),
        Level::Warning => tracing::warn!("{text}"),
        Level::Error => tracing::error!("{text}"),
    }
}
pub use run::MasterRun;
