//! The async edges of the two roles: each runs its state machine against the transport, the
//! clock and (on a worker) the local runner and hub. [`master`] also implements the run
//! boundary ([`crate::control::RunControl`]) for the web UI and the outputs, in [`run`].

pub mod master;
pub mod run;
pub mod worker;

pub use master::MasterHandle;
pub use run::MasterRun;
