//! The sink of the sequential tests (latency, memory): it passes every record on to the
//! statistics hub (which owns the Locust-exact distributions) and keeps what the hub does not:
//! a count of finished requests (the memory trend's x axis) and every raw latency, bounded by
//! the iteration cap, for the latency test's quartiles, outliers and histogram.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use skein_record::{RecordFuture, RequestRecord, RequestSink};

use crate::engine::HubHandle;

pub struct Recorder {
    hub: HubHandle,
    requests: AtomicU64,
    /// How many raw latencies to keep.
    sample_cap: usize,
    samples: Mutex<Vec<f64>>,
}

impl Recorder {
    pub fn new(hub: HubHandle, sample_cap: usize) -> Arc<Self> {
        Arc::new(Recorder {
            hub,
            requests: AtomicU64::new(0),
            sample_cap,
            samples: Mutex::new(Vec::new()),
        })
    }

    /// Requests finished so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The raw latencies in ms (of requests that got a response), in completion order.
    pub fn samples(&self) -> Vec<f64> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<f64>> {
        self.samples.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RequestSink for Recorder {
    fn record(&self, record: RequestRecord) -> RecordFuture<'_> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(ms) = record.response_time_ms {
            let mut samples = self.lock();
            if samples.len() < self.sample_cap {
                samples.push(ms);
            }
        }
        self.hub.record(record)
    }
}
