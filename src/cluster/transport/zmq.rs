//! The ZeroMQ side of the transport, on the pure-Rust `zeromq` 0.7 crate: a ROUTER task for
//! the master and a DEALER task for a worker. Each task owns its socket; the handles in the
//! parent module talk to it over channels only.
//!
//! What zeromq 0.7 lacks and this module makes up for (ZEROMQ-NOTES 13): binding `tcp://*`
//! (we bind the listener ourselves), a connect that gives up (`connect_timeout` per attempt,
//! our own bounded retries), reconnecting a DEALER (a new socket with the same identity) and
//! linger (a bounded wait with the socket open). What it lacks and we cannot fix here: a
//! maximum message size. Its decoder trusts the length a peer announces and reserves that much
//! memory, so a hostile peer on the master port can make it allocate; frames over
//! `max_frame_bytes` are dropped only after they have been received.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use zeromq::util::PeerIdentity;
use zeromq::{
    DealerRecvHalf, DealerSendHalf, DealerSocket, RouterRecvHalf, RouterSendHalf, RouterSocket,
    Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage,
};

use super::{
    check_payload, hex_identity, MasterItem, MasterOptions, MasterTransport, TaskGuard,
    TransportError, WorkerCommand, WorkerItem, WorkerOptions, WorkerTransport, CHANNEL_CAPACITY,
};

pub(super) async fn bind_master(
    host: &str,
    port: u16,
    options: MasterOptions,
) -> Result<MasterTransport, TransportError> {
    let shown = format!("{host}:{port}");
    let listener = bind_listener(host, port).await?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| TransportError::Bind {
            addr: shown.clone(),
            source,
        })?;
    let mut socket = RouterSocket::new();
    socket
        .bind_listener(listener)
        .await
        .map_err(|error| TransportError::Bind {
            addr: shown,
            source: into_io(error),
        })?;
    let (send, recv) = socket.split();
    let (items_tx, items_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (out_tx, out_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let task = tokio::spawn(run_master(send, recv, items_tx, out_rx, options));
    tracing::debug!("master transport bound on {local_addr}");
    Ok(MasterTransport::from_parts(
        items_rx,
        out_tx,
        Some(local_addr),
        task,
    ))
}

/// Locust binds `tcp://*`, which in libzmq with `IPV6=1` is every IPv6 and IPv4 address. We
/// bind `[::]` when it also takes IPv4 (the socket is not `IPV6_V6ONLY`), else `0.0.0.0`.
async fn bind_listener(host: &str, port: u16) -> Result<std::net::TcpListener, TransportError> {
    let shown = format!("{host}:{port}");
    let bind_error = |source| TransportError::Bind {
        addr: shown.clone(),
        source,
    };
    let host = host.trim();
    let listener = if host.is_empty() || host == "*" {
        match tokio::net::TcpListener::bind(("::", port)).await {
            Ok(listener) if !v6_only(&listener) => listener,
            Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(bind_error(error))
            }
            // No IPv6 here, or a v6-only socket that IPv4 workers could not reach.
            _ => tokio::net::TcpListener::bind(("0.0.0.0", port))
                .await
                .map_err(bind_error)?,
        }
    } else {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        tokio::net::TcpListener::bind((bare, port))
            .await
            .map_err(bind_error)?
    };
    listener.into_std().map_err(bind_error)
}

#[cfg(unix)]
fn v6_only(listener: &tokio::net::TcpListener) -> bool {
    use std::os::fd::AsRawFd;
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `value`, which we own, on a socket
    // that stays open for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    rc != 0 || value != 0
}

#[cfg(not(unix))]
fn v6_only(_listener: &tokio::net::TcpListener) -> bool {
    true
}

fn into_io(error: zeromq::ZmqError) -> std::io::Error {
    match error {
        zeromq::ZmqError::Network(error) => error,
        other => std::io::Error::other(other.to_string()),
    }
}

async fn run_master(
    mut send: RouterSendHalf,
    recv: RouterRecvHalf,
    items: mpsc::Sender<MasterItem>,
    mut outgoing: mpsc::Receiver<(String, Vec<u8>)>,
    options: MasterOptions,
) {
    let _reader = TaskGuard(tokio::spawn(read_master(
        recv,
        items,
        options.max_frame_bytes,
    )));
    while let Some((identity, payload)) = outgoing.recv().await {
        let mut message = ZmqMessage::from(Bytes::from(identity.clone().into_bytes()));
        message.push_back(Bytes::from(payload));
        match tokio::time::timeout(options.send_timeout, send.send(message)).await {
            Ok(Ok(())) => {}
            // An identity that is not connected: dropped, as a ROUTER without
            // ROUTER_MANDATORY does.
            Ok(Err(error)) => tracing::debug!("frame to {identity:?} dropped: {error}"),
            Err(_) => tracing::warn!(
                "frame to {identity:?} dropped: its queue stayed full for {:?}",
                options.send_timeout
            ),
        }
    }
}

async fn read_master(mut recv: RouterRecvHalf, items: mpsc::Sender<MasterItem>, max: usize) {
    loop {
        let message = match recv.recv().await {
            Ok(message) => message,
            Err(error) => {
                tracing::error!("the master socket stopped receiving: {error}");
                return;
            }
        };
        let mut parts = message.into_vec();
        let identity = parts.remove(0);
        let item = match std::str::from_utf8(&identity) {
            Ok(identity) => check_payload(identity, parts, max).map(|p| (identity.to_string(), p)),
            Err(_) => Err(super::BadFrame::NonUtf8Identity {
                identity_hex: hex_identity(&identity),
            }),
        };
        if items.send(item).await.is_err() {
            return;
        }
    }
}

/// `tcp://host:port`, with an IPv6 literal in brackets as ZeroMQ endpoints want it.
fn endpoint(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("tcp://[{host}]:{port}")
    } else {
        format!("tcp://{host}:{port}")
    }
}

pub(super) async fn connect_worker(
    host: &str,
    port: u16,
    node_id: &str,
    options: WorkerOptions,
) -> Result<WorkerTransport, TransportError> {
    let endpoint = endpoint(host, port);
    let socket = connect_dealer(&endpoint, node_id, &options).await?;
    let (items_tx, items_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (commands_tx, commands_rx) = mpsc::channel(16);
    let link = Link::start(socket, items_tx.clone(), options.max_frame_bytes);
    let worker = WorkerTask {
        endpoint,
        node_id: node_id.to_string(),
        options,
        items: items_tx,
    };
    let task = tokio::spawn(worker.run(Some(link), commands_rx));
    Ok(WorkerTransport {
        node_id: node_id.to_string(),
        items: items_rx,
        commands: commands_tx,
        _task: TaskGuard(task),
    })
}

/// Connects a fresh DEALER, each attempt bounded in time, a bounded number of times.
async fn connect_dealer(
    endpoint: &str,
    node_id: &str,
    options: &WorkerOptions,
) -> Result<DealerSocket, TransportError> {
    let attempts = options.connect_attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        let identity =
            PeerIdentity::try_from(node_id.as_bytes()).map_err(|_| TransportError::BadNodeId {
                node_id: node_id.to_string(),
                problem: "it is not a ZeroMQ identity",
            })?;
        let mut socket_options = SocketOptions::default();
        socket_options
            .peer_identity(identity)
            .connect_timeout(options.connect_timeout);
        let mut socket = DealerSocket::with_options(socket_options);
        let started = Instant::now();
        // zeromq applies connect_timeout too; ours also bounds a stalled name lookup.
        let outcome = tokio::time::timeout(
            options.connect_timeout + Duration::from_millis(100),
            socket.connect(endpoint),
        )
        .await;
        match outcome {
            Ok(Ok(())) => return Ok(socket),
            Ok(Err(error)) => last = error.to_string(),
            Err(_) => last = format!("timed out after {:?}", options.connect_timeout),
        }
        tracing::debug!("connect attempt {attempt}/{attempts} to {endpoint} failed: {last}");
        drop(socket);
        if attempt < attempts {
            if let Some(rest) = options.retry_pause.checked_sub(started.elapsed()) {
                tokio::time::sleep(rest).await;
            }
        }
    }
    Err(TransportError::Connect {
        addr: endpoint.trim_start_matches("tcp://").to_string(),
        attempts,
        last,
    })
}

/// One connected DEALER: its send half, and the task that reads its receive half.
struct Link {
    send: DealerSendHalf,
    reader: TaskGuard,
}

impl Link {
    fn start(socket: DealerSocket, items: mpsc::Sender<WorkerItem>, max: usize) -> Self {
        let (send, recv) = socket.split();
        let reader = TaskGuard(tokio::spawn(read_worker(recv, items, max)));
        Self { send, reader }
    }

    /// Closes the socket for good before returning: both halves are dropped, so the master
    /// sees the connection go before a new one with the same identity arrives.
    async fn close(mut self) {
        self.reader.0.abort();
        let _ = (&mut self.reader.0).await;
    }
}

async fn read_worker(mut recv: DealerRecvHalf, items: mpsc::Sender<WorkerItem>, max: usize) {
    loop {
        let message = match recv.recv().await {
            Ok(message) => message,
            Err(error) => {
                tracing::debug!("the worker socket stopped receiving: {error}");
                return;
            }
        };
        let item = check_payload("master", message.into_vec(), max);
        if items.send(item).await.is_err() {
            return;
        }
    }
}

struct WorkerTask {
    endpoint: String,
    node_id: String,
    options: WorkerOptions,
    items: mpsc::Sender<WorkerItem>,
}

impl WorkerTask {
    async fn run(self, mut link: Option<Link>, mut commands: mpsc::Receiver<WorkerCommand>) {
        while let Some(command) = commands.recv().await {
            match command {
                WorkerCommand::Send(payload, reply) => {
                    let result = match link.as_mut() {
                        Some(link) => link
                            .send
                            .send(ZmqMessage::from(Bytes::from(payload)))
                            .await
                            .map_err(|error| TransportError::NotConnected(error.to_string())),
                        None => Err(TransportError::NotConnected(
                            "the last reconnect failed".to_string(),
                        )),
                    };
                    let _ = reply.send(result);
                }
                WorkerCommand::Reconnect(reply) => {
                    if let Some(old) = link.take() {
                        old.close().await;
                    }
                    // One attempt: the worker's state machine retries every few seconds and owns
                    // the give-up time; a loop here would hold its task (and Ctrl-C) for minutes.
                    let once = WorkerOptions {
                        connect_attempts: 1,
                        ..self.options.clone()
                    };
                    let result = connect_dealer(&self.endpoint, &self.node_id, &once)
                        .await
                        .map(|socket| {
                            link = Some(Link::start(
                                socket,
                                self.items.clone(),
                                self.options.max_frame_bytes,
                            ));
                        });
                    let _ = reply.send(result);
                }
                WorkerCommand::Close(linger, reply) => {
                    tokio::time::sleep(linger).await;
                    if let Some(link) = link.take() {
                        link.close().await;
                    }
                    let _ = reply.send(());
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
pub(super) fn endpoint_for_tests(host: &str, port: u16) -> String {
    endpoint(host, port)
}
