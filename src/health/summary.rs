//! The bounded record of the generator's health over a run: running CPU statistics (its own,
//! and each worker's on a master), the RSS peak, network and disk totals, and a ring of the last
//! [`RING_CAPACITY`] per-second samples for charts. Pure: readings and times come in as values.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};

use super::sample::{cpu_percent, IoBytes, NetTotals, Reading};

/// Per-second samples kept for charts: an hour. Older ones are dropped; the statistics still
/// cover the whole run.
pub const RING_CAPACITY: usize = 3600;
/// Locust's `CPU_WARNING_THRESHOLD`: % of one core for a worker's heartbeat; for this process,
/// % of each core it may use (see [`HealthSummary::cpu_limit_percent`]).
pub const CPU_WARNING_THRESHOLD: f64 = 90.0;
/// Locust's `CPU_MONITOR_INTERVAL`: the warning looks at CPU use averaged over this long, so a
/// one-second spike does not trip it.
pub const CPU_WINDOW_SECONDS: f64 = 10.0;
/// Workers followed on a master; more are not tracked (memory stays bounded).
pub const MAX_TRACKED_WORKERS: usize = 10_000;

/// One per-second sample (the ring's element).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Epoch seconds.
    pub time: f64,
    /// % of one core since the previous sample.
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    /// All interfaces (loopback included) since the previous sample.
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
    pub disk_read_bytes: u64,
    pub disk_write_bytes: u64,
    /// Users were spawning or running (only such samples count in the statistics).
    pub active: bool,
}

/// One worker as the master last heard of it (its heartbeat's CPU and memory).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerLoad {
    pub id: String,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
}

/// What the run is doing at a sample: whether users run, and (on a master) the workers that run
/// them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    pub active: bool,
    pub workers: Vec<WorkerLoad>,
}

/// Running CPU statistics over samples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuStats {
    pub samples: u64,
    /// Samples above the limit.
    pub saturated: u64,
    pub max: f64,
    pub last: f64,
    sum: f64,
}

impl CpuStats {
    pub fn add(&mut self, percent: f64, limit: f64) {
        self.samples += 1;
        if percent > limit {
            self.saturated += 1;
        }
        self.sum += percent;
        self.max = self.max.max(percent);
        self.last = percent;
    }

    pub fn mean(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.sum / self.samples as f64
        }
    }

    fn to_json(self) -> Value {
        json!({
            "mean": round1(self.mean()), "max": round1(self.max), "last": round1(self.last),
            "samples": self.samples, "saturated_samples": self.saturated,
        })
    }
}

/// A worker's CPU over the samples it was running users in, and its largest reported memory.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WorkerHealth {
    pub cpu: CpuStats,
    pub peak_memory_bytes: u64,
}

/// The generator's health so far (see the module docs). Built by [`HealthSummary::record`].
#[derive(Debug, Clone)]
pub struct HealthSummary {
    cores: u32,
    ticks_per_second: u64,
    capacity: usize,
    ring: VecDeque<Sample>,
    /// The previous reading and its monotonic time.
    prev: Option<(f64, Reading)>,
    first: Option<(f64, Reading)>,
    /// Where the current warning window started: (monotonic seconds, ticks).
    window: Option<(f64, u64)>,
    /// This process, over the active samples.
    pub cpu: CpuStats,
    pub rss_last_bytes: u64,
    rss_peak_bytes: u64,
    /// Locust's warning was logged (once per run).
    pub cpu_warned: bool,
    workers: BTreeMap<String, WorkerHealth>,
}

impl HealthSummary {
    /// An empty summary for a process that may use `cores` cores, whose CPU times count
    /// `ticks_per_second`, keeping the last `capacity` samples.
    pub fn new(cores: u32, ticks_per_second: u64, capacity: usize) -> Self {
        HealthSummary {
            cores: cores.max(1),
            ticks_per_second,
            capacity,
            ring: VecDeque::with_capacity(capacity.min(RING_CAPACITY)),
            prev: None,
            first: None,
            window: None,
            cpu: CpuStats::default(),
            rss_last_bytes: 0,
            rss_peak_bytes: 0,
            cpu_warned: false,
            workers: BTreeMap::new(),
        }
    }

    pub fn cores(&self) -> u32 {
        self.cores
    }

    /// The CPU above which this process counts as saturated: 90 % of every core it may use
    /// (skein's runtime runs on all of them; on one core this is Locust's 90 %).
    pub fn cpu_limit_percent(&self) -> f64 {
        CPU_WARNING_THRESHOLD * self.cores as f64
    }

    /// Adds a reading taken at `mono` (monotonic seconds) and `wall` (epoch seconds). Returns
    /// the CPU % of the window that first crossed the limit, once per run: the caller logs
    /// Locust's warning then.
    pub fn record(&mut self, mono: f64, wall: f64, r: Reading, ctx: &Context) -> Option<f64> {
        self.rss_last_bytes = r.rss_bytes;
        self.rss_peak_bytes = self
            .rss_peak_bytes
            .max(r.rss_bytes)
            .max(r.rss_peak_bytes.unwrap_or(0));
        if self.first.is_none() {
            self.first = Some((mono, r));
        }
        if let Some((t0, p)) = self.prev {
            let cpu = cpu_percent(
                (t0, p.cpu_ticks),
                (mono, r.cpu_ticks),
                self.ticks_per_second,
            );
            let net = delta_net(r.net, p.net);
            let io = match (r.io, p.io) {
                (Some(a), Some(b)) => a.since(b),
                _ => IoBytes::default(),
            };
            let sample = Sample {
                time: wall,
                cpu_percent: cpu,
                rss_bytes: r.rss_bytes,
                net_rx_bytes: net.external.rx.saturating_add(net.loopback.rx),
                net_tx_bytes: net.external.tx.saturating_add(net.loopback.tx),
                disk_read_bytes: io.read,
                disk_write_bytes: io.write,
                active: ctx.active,
            };
            if self.capacity > 0 {
                if self.ring.len() >= self.capacity {
                    self.ring.pop_front();
                }
                self.ring.push_back(sample);
            }
            if ctx.active {
                let limit = self.cpu_limit_percent();
                self.cpu.add(cpu, limit);
                self.record_workers(&ctx.workers);
            }
        }
        self.prev = Some((mono, r));
        self.check_window(mono, r.cpu_ticks)
    }

    fn record_workers(&mut self, workers: &[WorkerLoad]) {
        for w in workers {
            if !self.workers.contains_key(&w.id) && self.workers.len() >= MAX_TRACKED_WORKERS {
                continue;
            }
            let h = self.workers.entry(w.id.clone()).or_default();
            h.cpu.add(w.cpu_percent, CPU_WARNING_THRESHOLD);
            h.peak_memory_bytes = h.peak_memory_bytes.max(w.memory_bytes);
        }
    }

    fn check_window(&mut self, mono: f64, ticks: u64) -> Option<f64> {
        let Some(start) = self.window else {
            self.window = Some((mono, ticks));
            return None;
        };
        if mono - start.0 < CPU_WINDOW_SECONDS {
            return None;
        }
        self.window = Some((mono, ticks));
        let pct = cpu_percent(start, (mono, ticks), self.ticks_per_second);
        if pct > self.cpu_limit_percent() && !self.cpu_warned {
            self.cpu_warned = true;
            return Some(pct);
        }
        None
    }

    /// The samples kept, oldest first (at most the capacity).
    pub fn samples(&self) -> impl ExactSizeIterator<Item = &Sample> {
        self.ring.iter()
    }

    /// The largest RSS seen: sampled, or the kernel's high-water mark when it offers one.
    pub fn rss_peak_bytes(&self) -> u64 {
        self.rss_peak_bytes
    }

    /// Network bytes since the first reading; `None` when `/proc/self/net/dev` was unreadable.
    pub fn net_totals(&self) -> Option<NetTotals> {
        let (_, first) = self.first?;
        let (_, last) = self.prev?;
        Some(last.net?.since(first.net?))
    }

    /// Disk bytes since the first reading; `None` when `/proc/self/io` was unreadable.
    pub fn disk_totals(&self) -> Option<IoBytes> {
        let (_, first) = self.first?;
        let (_, last) = self.prev?;
        Some(last.io?.since(first.io?))
    }

    /// Seconds between the first and the last reading.
    pub fn duration_seconds(&self) -> f64 {
        match (self.first, self.prev) {
            (Some((a, _)), Some((b, _))) => (b - a).max(0.0),
            _ => 0.0,
        }
    }

    /// The workers followed on a master, by id.
    pub fn workers(&self) -> &BTreeMap<String, WorkerHealth> {
        &self.workers
    }

    /// The summary as JSON: statistics, totals, per-worker CPU, and the kept samples as columns
    /// (`series`), for the HTML report's chart and the combined summary file.
    pub fn to_json(&self) -> Value {
        let net = self.net_totals().map(|n| {
            json!({
                "scope": "network namespace (all processes in it), not this process alone",
                "external": {"rx_bytes": n.external.rx, "tx_bytes": n.external.tx},
                "loopback": {"rx_bytes": n.loopback.rx, "tx_bytes": n.loopback.tx},
            })
        });
        let disk = self
            .disk_totals()
            .map(|d| json!({"read_bytes": d.read, "write_bytes": d.write}));
        let workers: Vec<Value> = self
            .workers
            .iter()
            .map(|(id, w)| {
                json!({"id": id, "cpu_percent": w.cpu.to_json(), "peak_memory_bytes": w.peak_memory_bytes})
            })
            .collect();
        let col = |f: fn(&Sample) -> Value| -> Value { self.ring.iter().map(f).collect() };
        json!({
            "cores": self.cores,
            "cpu_limit_percent": self.cpu_limit_percent(),
            "cpu_percent": self.cpu.to_json(),
            "cpu_warning": self.cpu_warned,
            "rss_bytes": {"last": self.rss_last_bytes, "peak": self.rss_peak_bytes},
            "network": net,
            "disk": disk,
            "duration_seconds": round1(self.duration_seconds()),
            "workers": workers,
            "series": {
                "time": col(|s| json!(round1(s.time))),
                "cpu_percent": col(|s| json!(round1(s.cpu_percent))),
                "rss_bytes": col(|s| json!(s.rss_bytes)),
                "net_rx_bytes": col(|s| json!(s.net_rx_bytes)),
                "net_tx_bytes": col(|s| json!(s.net_tx_bytes)),
                "disk_read_bytes": col(|s| json!(s.disk_read_bytes)),
                "disk_write_bytes": col(|s| json!(s.disk_write_bytes)),
                "active": col(|s| json!(s.active)),
            },
        })
    }
}

fn delta_net(cur: Option<NetTotals>, prev: Option<NetTotals>) -> NetTotals {
    match (cur, prev) {
        (Some(a), Some(b)) => a.since(b),
        _ => NetTotals::default(),
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
