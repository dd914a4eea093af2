//! The sampling task: once a second it reads this process's counters, adds them to the
//! [`HealthSummary`] it owns (published through a `watch` channel, mutated in place), and logs
//! Locust's CPU warning once. It ends on its `CancellationToken` after one last reading, so a
//! short run still has its end measured. Also [`ProcSampler`], the small CPU/RSS reader a
//! worker's heartbeats use.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::sample::{cpu_percent, ProcTexts, Reading};
use super::summary::{Context, HealthSummary, RING_CAPACITY};
use crate::engine::wall_clock;

/// Locust's warning when its own process is above the threshold (runners.py, logged once).
pub const CPU_WARNING: &str = "CPU usage above 90%! This may constrain your throughput and may even give inconsistent response time measurements! See https://docs.locust.io/en/stable/running-distributed.html for how to distribute the load over multiple CPU cores or machines";
/// Locust's reminder at the end of a run in which the warning was logged.
pub const CPU_WARNING_AT_END: &str = "CPU usage was too high at some point during the test! See https://docs.locust.io/en/stable/running-distributed.html for how to distribute the load over multiple CPU cores or machines";
/// A master's reminder when a worker exceeded the threshold.
pub const WORKER_CPU_WARNING_AT_END: &str =
    "CPU usage threshold was exceeded on workers during the test!";

/// Where readings come from: `/proc/self` in a run, vectors in tests.
pub trait Probe: Send + 'static {
    fn read(&mut self) -> Option<Reading>;
}

/// Reads `/proc/self/{stat,statm,status,net/dev,io}` (Linux; elsewhere every read is `None`
/// and the summary stays empty).
#[derive(Debug, Clone)]
pub struct ProcProbe {
    page_size: u64,
}

impl Default for ProcProbe {
    fn default() -> Self {
        ProcProbe {
            page_size: sysconf_or(libc::_SC_PAGESIZE, 4096),
        }
    }
}

impl Probe for ProcProbe {
    fn read(&mut self) -> Option<Reading> {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let texts = ProcTexts {
            stat: read("/proc/self/stat")?,
            statm: read("/proc/self/statm")?,
            status: read("/proc/self/status"),
            net_dev: read("/proc/self/net/dev"),
            io: read("/proc/self/io"),
        };
        texts.parse(self.page_size)
    }
}

/// Clock ticks per second of `/proc/<pid>/stat`'s CPU times (Linux's USER_HZ, normally 100).
pub fn ticks_per_second() -> u64 {
    sysconf_or(libc::_SC_CLK_TCK, 100)
}

/// The cores this process may run on (its affinity and cgroup quota, as std sees them).
pub fn available_cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// How a sampler is set up; [`SamplerSetup::new`] gives the real one.
pub struct SamplerSetup<P: Probe> {
    pub probe: P,
    /// Called at every sample: are users running, and which workers run them.
    pub context: Box<dyn FnMut() -> Context + Send>,
    pub interval: Duration,
    pub capacity: usize,
    pub cores: u32,
    pub ticks_per_second: u64,
}

impl SamplerSetup<ProcProbe> {
    /// This process, once a second, the last hour kept.
    pub fn new(context: Box<dyn FnMut() -> Context + Send>) -> Self {
        SamplerSetup {
            probe: ProcProbe::default(),
            context,
            interval: Duration::from_secs(1),
            capacity: RING_CAPACITY,
            cores: available_cores(),
            ticks_per_second: ticks_per_second(),
        }
    }
}

/// The running sampler: a view of its summary, and the way to end it.
pub struct HealthSampler {
    summary: watch::Receiver<HealthSummary>,
    token: CancellationToken,
}

impl HealthSampler {
    /// Starts the task (inside a tokio runtime). It also ends when `parent` is cancelled.
    pub fn spawn<P: Probe>(setup: SamplerSetup<P>, parent: &CancellationToken) -> Self {
        let token = parent.child_token();
        let summary = HealthSummary::new(setup.cores, setup.ticks_per_second, setup.capacity);
        let (tx, rx) = watch::channel(summary);
        tokio::spawn(run(setup, tx, token.clone()));
        HealthSampler { summary: rx, token }
    }

    /// Follows the summary (the web UI reads the latest sample from it).
    pub fn watch(&self) -> watch::Receiver<HealthSummary> {
        self.summary.clone()
    }

    /// Takes a last reading, ends the task, and returns the final summary; logs Locust's
    /// end-of-test reminder when the warning was logged during the run (on the first call; later
    /// calls only return the summary).
    pub async fn finish(&self) -> HealthSummary {
        let first = !self.token.is_cancelled();
        self.token.cancel();
        // The task owns the sender: the channel closes when it has taken its last reading.
        let mut rx = self.summary.clone();
        while rx.changed().await.is_ok() {}
        let summary = rx.borrow().clone();
        if first && summary.cpu_warned {
            tracing::warn!("{CPU_WARNING_AT_END}");
        }
        summary
    }
}

async fn run<P: Probe>(
    mut setup: SamplerSetup<P>,
    tx: watch::Sender<HealthSummary>,
    token: CancellationToken,
) {
    let started = Instant::now();
    let mut ticks = tokio::time::interval(setup.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last = None::<Instant>;
    loop {
        let stopping = tokio::select! {
            _ = ticks.tick() => false,
            _ = token.cancelled() => true,
        };
        let now = Instant::now();
        // The last reading only when it covers a useful interval (a CPU % over a few
        // milliseconds is mostly rounding).
        let worth_it = !stopping || last.is_none_or(|l| now - l >= setup.interval / 10);
        if worth_it {
            if let Some(reading) = setup.probe.read() {
                let ctx = (setup.context)();
                let mono = (now - started).as_secs_f64();
                let mut warn = None;
                tx.send_modify(|s| warn = s.record(mono, wall_clock(), reading, &ctx));
                if warn.is_some() {
                    tracing::warn!("{CPU_WARNING}");
                }
                last = Some(now);
            }
        }
        if stopping {
            return;
        }
    }
}

/// One reading of this process for a worker's heartbeat (Locust's `psutil` `cpu_percent()` and
/// `memory_info().rss`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// % of one core since the previous sample (0 for the first).
    pub cpu_percent: f64,
    pub rss_bytes: u64,
}

/// Turns successive readings of `/proc/self` into CPU percentages.
#[derive(Debug)]
pub struct ProcSampler {
    probe: ProcProbe,
    ticks_per_second: u64,
    prev: Option<(f64, u64)>,
}

impl Default for ProcSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcSampler {
    pub fn new() -> Self {
        ProcSampler {
            probe: ProcProbe::default(),
            ticks_per_second: ticks_per_second(),
            prev: None,
        }
    }

    /// A reading at `now` (any monotonic seconds); `None` where `/proc` is missing (not Linux).
    pub fn sample(&mut self, now: f64) -> Option<ProcSample> {
        let r = self.probe.read()?;
        Some(self.record(now, r.cpu_ticks, r.rss_bytes))
    }

    /// The pure half of [`ProcSampler::sample`].
    pub(crate) fn record(&mut self, now: f64, ticks: u64, rss_bytes: u64) -> ProcSample {
        let cpu_percent = self.prev.map_or(0.0, |prev| {
            cpu_percent(prev, (now, ticks), self.ticks_per_second)
        });
        self.prev = Some((now, ticks));
        ProcSample {
            cpu_percent,
            rss_bytes,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_ticks(ticks_per_second: u64) -> Self {
        ProcSampler {
            probe: ProcProbe::default(),
            ticks_per_second,
            prev: None,
        }
    }
}

pub(crate) fn sysconf_or(name: libc::c_int, fallback: u64) -> u64 {
    // SAFETY: sysconf only reads a configuration value; it takes no pointers.
    let v = unsafe { libc::sysconf(name) };
    if v > 0 {
        v as u64
    } else {
        fallback
    }
}
