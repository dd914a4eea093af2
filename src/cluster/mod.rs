//! Distributed mode: what a master and its workers share. All of it is pure code (no sockets, no
//! clock) except [`transport`] (the ZeroMQ sockets) and [`node`] (the async drivers).
//!
//! [`dispatch`] decides which worker runs which users (Locust's `UsersDispatcher`, with workers
//! joining and leaving); [`message`] holds the messages of Locust's master/worker protocol, one
//! enum per direction; [`codec`] turns them into Locust's msgpack `[type, data, node_id]`
//! frames and back, byte-identical to Locust 2.47.0; [`value`] is the msgpack tree under it.
//! [`master`] and [`worker`] are the two sides of the protocol as state machines that take
//! messages, ticks and an injected clock and return effects; [`transport`] carries the frames;
//! [`node`] runs a state machine against a transport, the runner and the statistics hub. The
//! CPU and memory a worker's heartbeats report come from [`crate::health`].

pub mod codec;
pub mod dispatch;
pub mod master;
pub mod message;
pub mod node;
pub mod transport;
pub mod value;
pub mod worker;

pub use codec::{DecodeError, EncodeError, Frame, PayloadError};

/// How loud a log line of a state machine is (Python's logging levels, which Locust's texts use);
/// the drivers in [`node`] write them through `tracing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
}
pub use message::{ToMaster, ToWorker};
