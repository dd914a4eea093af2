//! An in-memory stand-in for the ZeroMQ transport, so the master and worker drivers can be
//! tested without sockets. It hands out the same [`MasterTransport`] and [`WorkerTransport`]
//! handles with the same semantics: frames routed by identity, frames to an unknown identity
//! dropped, the newest connection of an identity taking over (as zmq.rs's ROUTER does), the
//! framing checks of [`super::BadFrame`], sends failing once the master is gone, and
//! `reconnect()` joining whichever master is bound now.
//!
//! A [`Network`] plays the part of the port: [`Network::bind`] puts a master on it (replacing
//! the previous one, as a restarted master re-binding its port would), and
//! [`Network::connect`] connects a worker to the master bound at that moment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{
    check_payload, validate_node_id, MasterItem, MasterOptions, MasterTransport, TaskGuard,
    TransportError, WorkerCommand, WorkerItem, WorkerTransport, CHANNEL_CAPACITY,
};

/// What a worker's link hands to the master's hub.
#[derive(Debug)]
enum HubMessage {
    Register {
        identity: String,
        inbox: mpsc::Sender<WorkerItem>,
    },
    Frame {
        identity: String,
        payload: Vec<u8>,
    },
}

/// The in-memory "port": where workers find the master that is bound now.
#[derive(Debug, Clone, Default)]
pub struct Network {
    // Only an address book, like DNS: cloned out under the lock, never held across an await.
    master: Arc<Mutex<Option<mpsc::Sender<HubMessage>>>>,
}

impl Network {
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds a master here, replacing any previous one (whose workers must reconnect).
    pub fn bind(&self, options: MasterOptions) -> MasterTransport {
        let (hub_tx, hub_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (items_tx, items_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (out_tx, out_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let task = tokio::spawn(run_hub(hub_rx, out_rx, items_tx, options.max_frame_bytes));
        *self.master.lock().unwrap_or_else(|e| e.into_inner()) = Some(hub_tx);
        MasterTransport::from_parts(items_rx, out_tx, None, task)
    }

    /// Connects a worker with identity `node_id` to the master bound now.
    pub async fn connect(&self, node_id: &str) -> Result<WorkerTransport, TransportError> {
        validate_node_id(node_id)?;
        let (items_tx, items_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let hub = self.register(node_id, items_tx.clone()).await?;
        let (commands_tx, commands_rx) = mpsc::channel(16);
        let link = WorkerLink {
            network: self.clone(),
            identity: node_id.to_string(),
            items: items_tx,
        };
        let task = tokio::spawn(link.run(Some(hub), commands_rx));
        Ok(WorkerTransport {
            node_id: node_id.to_string(),
            items: items_rx,
            commands: commands_tx,
            _task: TaskGuard(task),
        })
    }

    async fn register(
        &self,
        identity: &str,
        inbox: mpsc::Sender<WorkerItem>,
    ) -> Result<mpsc::Sender<HubMessage>, TransportError> {
        let no_master = || TransportError::Connect {
            addr: "memory".to_string(),
            attempts: 1,
            last: "no master is bound".to_string(),
        };
        let hub = self
            .master
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(no_master)?;
        let register = HubMessage::Register {
            identity: identity.to_string(),
            inbox,
        };
        hub.send(register).await.map_err(|_| no_master())?;
        Ok(hub)
    }
}

/// The master's side: routes its frames to the workers' inboxes by identity.
async fn run_hub(
    mut incoming: mpsc::Receiver<HubMessage>,
    mut outgoing: mpsc::Receiver<(String, Vec<u8>)>,
    items: mpsc::Sender<MasterItem>,
    max: usize,
) {
    let mut workers: HashMap<String, mpsc::Sender<WorkerItem>> = HashMap::new();
    loop {
        tokio::select! {
            Some(message) = incoming.recv() => match message {
                HubMessage::Register { identity, inbox } => {
                    workers.insert(identity, inbox);
                }
                HubMessage::Frame { identity, payload } => {
                    let item = check_payload(&identity, vec![Bytes::from(payload)], max)
                        .map(|payload| (identity, payload));
                    if items.send(item).await.is_err() {
                        return;
                    }
                }
            },
            frame = outgoing.recv() => {
                let Some((identity, payload)) = frame else { return };
                let Some(inbox) = workers.get(&identity) else {
                    tracing::debug!("frame to {identity:?} dropped: not connected");
                    continue;
                };
                let item = check_payload("master", vec![Bytes::from(payload)], max);
                // Like a ROUTER at its high-water mark: a worker that does not read loses
                // frames rather than stalling the others.
                if let Err(mpsc::error::TrySendError::Closed(_)) = inbox.try_send(item) {
                    workers.remove(&identity);
                }
            }
        }
    }
}

/// A worker's side: its current link to a hub, if any.
struct WorkerLink {
    network: Network,
    identity: String,
    items: mpsc::Sender<WorkerItem>,
}

impl WorkerLink {
    async fn run(
        self,
        mut hub: Option<mpsc::Sender<HubMessage>>,
        mut commands: mpsc::Receiver<WorkerCommand>,
    ) {
        while let Some(command) = commands.recv().await {
            match command {
                WorkerCommand::Send(payload, reply) => {
                    let result = match &hub {
                        Some(hub) => hub
                            .send(HubMessage::Frame {
                                identity: self.identity.clone(),
                                payload,
                            })
                            .await
                            .map_err(|_| TransportError::NotConnected("the master is gone".into())),
                        None => Err(TransportError::NotConnected(
                            "the last reconnect failed".into(),
                        )),
                    };
                    let _ = reply.send(result);
                }
                WorkerCommand::Reconnect(reply) => {
                    hub = None;
                    let result = self
                        .network
                        .register(&self.identity, self.items.clone())
                        .await
                        .map(|new| hub = Some(new));
                    let _ = reply.send(result);
                }
                // Frames sent are already in the hub's queue: nothing to flush.
                WorkerCommand::Close(_, reply) => {
                    let _ = reply.send(());
                    return;
                }
            }
        }
    }
}
