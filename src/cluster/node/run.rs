//! The run boundary for a master: the web controller, the outputs and the final report see a
//! cluster through [`RunControl`] as they see a standalone run, with the merged statistics of
//! the master's hub and the workers' states in [`RunStatus`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::master::MasterHandle;
use crate::cluster::master::MasterStatus;
use crate::cluster::message::ArrivalShare;
use crate::control::{mirror, MembershipView, RunControl, RunStatus, WorkerView};
use crate::engine::{ArrivalOrder, ClassPlan, HubHandle, RunState, RunnerStatus};

/// How long a web Stop waits for the workers to report stopped before it answers anyway.
const STOP_WAIT: Duration = Duration::from_secs(10);

pub struct MasterRun {
    master: MasterHandle,
    hub: HubHandle,
    classes: Vec<Arc<ClassPlan>>,
    status: watch::Receiver<RunStatus>,
    stop_timeout: Duration,
}

impl MasterRun {
    /// Must be called inside a tokio runtime: a task mirrors the master's status.
    pub fn new(
        master: MasterHandle,
        hub: HubHandle,
        classes: Vec<Arc<ClassPlan>>,
        stop_timeout: Duration,
    ) -> Arc<Self> {
        let status = mirror(master.subscribe(), run_status);
        Arc::new(MasterRun {
            master,
            hub,
            classes,
            status,
            stop_timeout,
        })
    }

    pub fn master(&self) -> &MasterHandle {
        &self.master
    }
}

/// The cluster's status as the run boundary shows it.
pub fn run_status(m: &MasterStatus) -> RunStatus {
    RunStatus {
        runner: RunnerStatus {
            state: m.state,
            user_count: m.user_count,
            class_counts: m.class_counts.clone(),
            target: m.target,
            spawn_rate: m.spawn_rate,
            host: m.host.clone(),
            peak_user_count: m.peak_user_count,
            final_class_counts: m.final_class_counts.clone(),
        },
        workers: m
            .workers
            .iter()
            .map(|w| WorkerView {
                id: w.id.clone(),
                state: w.state.as_str().to_string(),
                user_count: w.user_count,
                cpu_percent: w.cpu_percent,
                memory_bytes: w.memory_bytes,
            })
            .collect(),
        is_distributed: true,
        membership: Vec::new(),
    }
}

impl RunControl for MasterRun {
    fn hub(&self) -> &HubHandle {
        &self.hub
    }

    fn start(
        &self,
        users: u64,
        rate: f64,
        host: Option<String>,
        classes: Option<Vec<String>>,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.master
                .start(users, rate, classes, host)
                .await
                .map_err(|e| e.to_string())
        })
    }

    /// The rate and pool are split over the workers (see `cluster::master::arrival`).
    fn arrive(&self, order: ArrivalOrder) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let total = ArrivalShare {
                rate: order.rate,
                max_in_flight: order.max_in_flight as u64,
            };
            self.master
                .start_open(total)
                .await
                .map_err(|e| e.to_string())
        })
    }

    /// Sends `stop` and waits (bounded) until every worker has stopped its users.
    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut st = self.master.subscribe();
            self.master.stop().await;
            let stopped = async {
                loop {
                    if matches!(
                        st.borrow_and_update().state,
                        RunState::Stopped | RunState::Ready
                    ) {
                        return;
                    }
                    if st.changed().await.is_err() {
                        return;
                    }
                }
            };
            let _ = tokio::time::timeout(self.stop_timeout + STOP_WAIT, stopped).await;
        })
    }

    fn status(&self) -> RunStatus {
        let mut st = run_status(&self.master.status());
        st.membership = self
            .master
            .membership()
            .into_iter()
            .map(|e| MembershipView {
                time: e.time,
                worker: e.node,
                index: e.index,
                change: e.change.as_str(),
            })
            .collect();
        st
    }

    fn subscribe(&self) -> watch::Receiver<RunStatus> {
        self.status.clone()
    }

    fn classes(&self) -> &[Arc<ClassPlan>] {
        &self.classes
    }

    fn worker_logs(&self) -> BTreeMap<String, Vec<String>> {
        self.master.worker_logs()
    }
}
