//! The master/worker transport: Locust's ZeroMQ ROUTER (master) and DEALER (worker) sockets
//! behind two small handles, [`MasterTransport`] and [`WorkerTransport`]. This module owns the
//! sockets and nothing of the protocol: payloads go in and out as bytes, to be read with
//! [`super::codec`].
//!
//! Each handle is a pair of bounded channels to a task that owns the socket (the ZeroMQ one in
//! [`zmq`], or the in-memory hub of [`memory`] for driver tests), so the drivers see one concrete
//! type whichever is behind it. `recv` is a plain channel receive: cancel-safe, fit for a
//! `tokio::select!` branch. Frames that break Locust's framing (wrong part count, an identity
//! that is not UTF-8, an empty or oversized payload) come out as a [`BadFrame`], to be logged
//! and dropped, never as a panic and never silently.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub mod memory;
mod node_id;
mod zmq;

pub use node_id::{hostname_hex32, node_id_from, validate_node_id};

/// Locust's default master port (SPEC §1.1).
pub const DEFAULT_PORT: u16 = 5557;
/// The largest frame the master accepts; larger ones are a [`BadFrame::Oversized`].
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;
/// Frames waiting in either direction before the socket task waits for the driver.
const CHANNEL_CAPACITY: usize = 256;

/// Why the transport could not do what was asked.
#[derive(Debug, Error)]
pub enum TransportError {
    /// Worded as Locust words it (`RPCError: Socket bind failure: ...`); exit code 1.
    #[error("Socket bind failure: {source} (addr='tcp://{addr}')")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not connect to the master at tcp://{addr} after {attempts} attempts: {last}")]
    Connect {
        addr: String,
        attempts: u32,
        last: String,
    },
    #[error("invalid node id {node_id:?}: {problem}")]
    BadNodeId {
        node_id: String,
        problem: &'static str,
    },
    #[error("not connected to the master: {0}")]
    NotConnected(String),
    #[error("the transport is closed")]
    Closed,
}

/// A frame that breaks Locust's framing. The master logs it and drops it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BadFrame {
    #[error("a frame from identity {identity_hex} (not UTF-8)")]
    NonUtf8Identity { identity_hex: String },
    #[error("a message of {parts} parts from {identity:?}, expected one payload")]
    PartCount { identity: String, parts: usize },
    #[error("an empty payload from {identity:?}")]
    Empty { identity: String },
    #[error("a frame of {len} bytes from {identity:?}, over the limit of {max}")]
    Oversized {
        identity: String,
        len: usize,
        max: usize,
    },
}

/// What the master receives: `(identity, payload)`, or why a frame was refused.
pub type MasterItem = Result<(String, Vec<u8>), BadFrame>;
/// What a worker receives: a payload, or why a frame was refused.
pub type WorkerItem = Result<Vec<u8>, BadFrame>;

/// Settings of the master's socket.
#[derive(Debug, Clone)]
pub struct MasterOptions {
    pub max_frame_bytes: usize,
    /// How long one send may wait for a slow worker's queue before the frame is dropped, so
    /// one stuck worker cannot stall the others.
    pub send_timeout: Duration,
}

impl Default for MasterOptions {
    fn default() -> Self {
        Self {
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            send_timeout: Duration::from_secs(5),
        }
    }
}

/// Settings of a worker's socket. The defaults are Locust's `CONNECT_TIMEOUT` (5 s) and
/// `CONNECT_RETRY_COUNT` (60), about 5 minutes in all.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub connect_timeout: Duration,
    pub connect_attempts: u32,
    /// The pause after an attempt that failed at once (a refused handshake, an unresolvable
    /// host), so retries do not spin.
    pub retry_pause: Duration,
    pub max_frame_bytes: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            connect_attempts: 60,
            retry_pause: Duration::from_secs(1),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
        }
    }
}

/// Aborts the socket task when the handle goes, so dropping a handle closes its socket.
#[derive(Debug)]
struct TaskGuard(JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The master's end: a ROUTER bound on one port, or an in-memory hub.
#[derive(Debug)]
pub struct MasterTransport {
    items: mpsc::Receiver<MasterItem>,
    outgoing: MasterSender,
    local_addr: Option<SocketAddr>,
    _task: TaskGuard,
}

/// A cloneable sender of `(identity, payload)` to the master's workers.
#[derive(Debug, Clone)]
pub struct MasterSender(mpsc::Sender<(String, Vec<u8>)>);

impl MasterSender {
    /// Queues a frame for the worker with this identity. A frame to an identity that is not
    /// connected is dropped (ZeroMQ ROUTER semantics, as in Locust), so only a closed transport
    /// is an error. Cancel-safe: if cancelled, the frame was not queued.
    pub async fn send(&self, identity: String, payload: Vec<u8>) -> Result<(), TransportError> {
        self.0
            .send((identity, payload))
            .await
            .map_err(|_| TransportError::Closed)
    }
}

impl MasterTransport {
    /// Binds a ROUTER on `host:port` as `locust --master` does. `*` or an empty host means all
    /// interfaces (IPv6 and IPv4 when the host is dual-stack, else IPv4); port 0 picks a free
    /// port, which [`Self::local_addr`] tells.
    pub async fn bind(
        host: &str,
        port: u16,
        options: MasterOptions,
    ) -> Result<Self, TransportError> {
        zmq::bind_master(host, port, options).await
    }

    fn from_parts(
        items: mpsc::Receiver<MasterItem>,
        outgoing: mpsc::Sender<(String, Vec<u8>)>,
        local_addr: Option<SocketAddr>,
        task: JoinHandle<()>,
    ) -> Self {
        Self {
            items,
            outgoing: MasterSender(outgoing),
            local_addr,
            _task: TaskGuard(task),
        }
    }

    /// The address the ROUTER is bound on (`None` for the in-memory hub).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The next frame, or `None` once the socket task has ended. Cancel-safe.
    pub async fn recv(&mut self) -> Option<MasterItem> {
        self.items.recv().await
    }

    pub async fn send(&self, identity: String, payload: Vec<u8>) -> Result<(), TransportError> {
        self.outgoing.send(identity, payload).await
    }

    pub fn sender(&self) -> MasterSender {
        self.outgoing.clone()
    }

    /// Keeps the socket open for `linger`, so frames already queued (a final `quit` to every
    /// worker) are written out, then closes it. zeromq 0.7 has no linger option and no flush
    /// signal, so the wait is a bounded one.
    pub async fn close(self, linger: Duration) {
        tokio::time::sleep(linger).await;
    }
}

/// What a worker asks of its socket task.
#[derive(Debug)]
enum WorkerCommand {
    Send(Vec<u8>, oneshot::Sender<Result<(), TransportError>>),
    Reconnect(oneshot::Sender<Result<(), TransportError>>),
    Close(Duration, oneshot::Sender<()>),
}

/// A worker's end: a DEALER whose identity is the node id, or a link to an in-memory hub.
#[derive(Debug)]
pub struct WorkerTransport {
    node_id: String,
    items: mpsc::Receiver<WorkerItem>,
    commands: mpsc::Sender<WorkerCommand>,
    _task: TaskGuard,
}

impl WorkerTransport {
    /// Connects a DEALER with identity `node_id` to the master at `host:port`, each attempt
    /// bounded by `options.connect_timeout`, up to `options.connect_attempts` attempts.
    pub async fn connect(
        host: &str,
        port: u16,
        node_id: &str,
        options: WorkerOptions,
    ) -> Result<Self, TransportError> {
        validate_node_id(node_id)?;
        zmq::connect_worker(host, port, node_id, options).await
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The next frame from the master, or `None` once the socket task has ended. Cancel-safe.
    /// The master going away is not an item: it shows as a failing [`Self::send`] or as
    /// master heartbeats that stop, as with Locust.
    pub async fn recv(&mut self) -> Option<WorkerItem> {
        self.items.recv().await
    }

    /// Sends one frame and reports whether the socket took it (`Ok` means queued for the
    /// master, not received by it). An error is the cue to [`Self::reconnect`]. If this future
    /// is cancelled the frame may or may not go out, so keep it out of `select!` branches.
    pub async fn send(&self, payload: Vec<u8>) -> Result<(), TransportError> {
        self.ask(|reply| WorkerCommand::Send(payload, reply))
            .await?
    }

    /// Drops the current socket, then connects a new one with the same identity (the old one
    /// must go first: libzmq's ROUTER refuses a second live connection with one identity).
    /// One attempt, bounded by `connect_timeout`, the host name resolved again (a recreated
    /// master container has a new address); the caller retries.
    pub async fn reconnect(&mut self) -> Result<(), TransportError> {
        self.ask(WorkerCommand::Reconnect).await?
    }

    /// Keeps the connection open for `linger` so the last frames sent (a final `stats` and
    /// `quit`) are written out, then closes it. zeromq 0.7 has no linger and no flush signal,
    /// so the wait is a bounded one; 200-500 ms is ample on a LAN.
    pub async fn close(self, linger: Duration) {
        let _ = self.ask(|reply| WorkerCommand::Close(linger, reply)).await;
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> WorkerCommand,
    ) -> Result<T, TransportError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| TransportError::Closed)?;
        answer.await.map_err(|_| TransportError::Closed)
    }
}

/// Hex of an identity that is not UTF-8, for the log line.
fn hex_identity(identity: &[u8]) -> String {
    hex::encode(identity)
}

/// Checks one received message against Locust's framing: `identity` (master side only) and
/// exactly one non-empty payload of at most `max` bytes.
fn check_payload(identity: &str, mut parts: Vec<Bytes>, max: usize) -> Result<Vec<u8>, BadFrame> {
    if parts.len() != 1 {
        return Err(BadFrame::PartCount {
            identity: identity.to_string(),
            parts: parts.len(),
        });
    }
    let payload = parts.pop().unwrap_or_default();
    if payload.is_empty() {
        return Err(BadFrame::Empty {
            identity: identity.to_string(),
        });
    }
    if payload.len() > max {
        return Err(BadFrame::Oversized {
            identity: identity.to_string(),
            len: payload.len(),
            max,
        });
    }
    Ok(Vec::from(payload))
}

#[cfg(test)]
mod tests;
