//! The statistics hub: the one owner of the run's request statistics and exceptions table.
//! Users report to it through a channel (as a [`RequestSink`]); everything that reads the
//! statistics (console, CSV writer, web API, final report) asks it for a snapshot.

use std::sync::Arc;

use skein_api::{RequestRecord, RequestSink};
use tokio::sync::{mpsc, oneshot};

use crate::stats::{Exceptions, RequestStats};

/// A consistent copy of the statistics at one moment.
#[derive(Clone)]
pub struct Snapshot {
    pub stats: RequestStats,
    pub exceptions: Exceptions,
}

enum HubMsg {
    Request(RequestRecord),
    Exception { msg: String, traceback: String },
    Reset { now: f64 },
    Snapshot(oneshot::Sender<Snapshot>),
}

/// A cheap, cloneable way to talk to the hub.
#[derive(Clone)]
pub struct HubHandle {
    tx: mpsc::UnboundedSender<HubMsg>,
}

impl RequestSink for HubHandle {
    fn record(&self, record: RequestRecord) {
        let _ = self.tx.send(HubMsg::Request(record));
    }
}

impl HubHandle {
    pub fn sink(&self) -> Arc<dyn RequestSink> {
        Arc::new(self.clone())
    }

    pub fn exception(&self, msg: String, traceback: String) {
        let _ = self.tx.send(HubMsg::Exception { msg, traceback });
    }

    /// Clears requests, failures and exceptions (Locust's `/stats/reset` and `--reset-stats`).
    pub fn reset(&self, now: f64) {
        let _ = self.tx.send(HubMsg::Reset { now });
    }

    /// Everything reported before this call is in the snapshot: the channel is FIFO.
    pub async fn snapshot(&self) -> Option<Snapshot> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(HubMsg::Snapshot(tx)).ok()?;
        rx.await.ok()
    }
}

/// Starts the hub; it runs until every handle is dropped. `node` names this process in the
/// exceptions table (Locust's local runner says "local").
pub fn spawn(now: f64, node: String) -> HubHandle {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stats = RequestStats::new(now);
        let mut exceptions = Exceptions::default();
        while let Some(msg) = rx.recv().await {
            match msg {
                HubMsg::Request(r) => stats.log(&r),
                HubMsg::Exception { msg, traceback } => exceptions.add(&msg, &traceback, &node),
                HubMsg::Reset { now } => {
                    stats.reset_all(now);
                    exceptions.clear();
                }
                HubMsg::Snapshot(reply) => {
                    let _ = reply.send(Snapshot { stats: stats.clone(), exceptions: exceptions.clone() });
                }
            }
        }
    });
    HubHandle { tx }
}
