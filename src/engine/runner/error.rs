//! What the runner answers when a command cannot be carried out. The texts reach the console,
//! the exit message and the web answers, so they are kept as they were when they were strings.

use super::super::session::SessionError;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("Invalid spawn_rate value: {0}")]
    InvalidSpawnRate(f64),
    /// For `start`, the names asked for; for `spawn`, the names the runner does not know.
    #[error("Unknown user class in {0:?}")]
    UnknownClass(Vec<String>),
    #[error("No host given: pass -H/--host (or set a host on the scenario)")]
    NoHost,
    #[error("Invalid host {host:?}: {reason}")]
    InvalidHost { host: String, reason: String },
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("could not create a user of {class}: {reason}")]
    CreateUser { class: String, reason: String },
    /// A start or spawn that waited for a stop to finish was dropped by a later stop.
    #[error("a stop came before this spawn could start")]
    Cancelled,
    /// An open-model rate that is not a finite number above zero (or above `open::MAX_RATE`).
    #[error("Invalid arrival rate: {0} (iterations per second, above 0 and at most 1000000)")]
    InvalidArrivalRate(f64),
    #[error("Invalid max in flight: it must be at least 1")]
    InvalidMaxInFlight,
    /// A closed-model start while the open model runs, or the other way round.
    #[error("a test is running in the other load model; stop it first")]
    Busy,
    /// A retarget with no open-model test running.
    #[error("no open-model test is running")]
    NotOpen,
    #[error("runner has ended")]
    Ended,
}
