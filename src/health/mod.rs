//! The load generator's own health (issue 8 §6): this process's CPU, memory, network and disk
//! I/O sampled once a second during every run, Locust's CPU warning, and a verdict on whether
//! the run's numbers can be trusted.
//!
//! [`sample`] parses the `/proc` texts (pure); [`summary`] keeps the bounded record of a run
//! (statistics, totals, a ring of per-second samples); [`sampler`] is the task that reads
//! `/proc/self` and owns the summary (published through a `watch` channel), and the small
//! CPU/RSS reader a worker's heartbeats use; [`verdict`] turns plain inputs into a verdict;
//! [`text`] prints both at the end of a run.

pub mod sample;
pub mod sampler;
pub mod summary;
pub mod text;
pub mod verdict;

pub use sampler::{HealthSampler, Probe, ProcProbe, ProcSample, ProcSampler, SamplerSetup};
pub use summary::{Context, HealthSummary, Sample, WorkerLoad, RING_CAPACITY};
pub use verdict::{verdict, OpenModelCounts, Reason, Verdict, VerdictInput};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::control::RunStatus;
use crate::engine::RunState;
use crate::stats::open::OpenStats;
use crate::stats::RequestStats;

/// A sample's context from a run's status: whether users run, and the workers running them (a
/// master's heartbeat figures; idle workers would only dilute the means).
pub fn context_of(st: &RunStatus) -> Context {
    Context {
        active: matches!(st.runner.state, RunState::Spawning | RunState::Running),
        workers: st
            .workers
            .iter()
            .filter(|w| w.state == "running" || w.state == "spawning")
            .map(|w| WorkerLoad {
                id: w.id.clone(),
                cpu_percent: w.cpu_percent,
                memory_bytes: w.memory_bytes,
            })
            .collect(),
    }
}

/// Starts sampling this process for a run (standalone or master) whose status `status` follows.
pub fn spawn_for_run(status: watch::Receiver<RunStatus>) -> HealthSampler {
    let context = Box::new(move || context_of(&status.borrow()));
    // Ended by `HealthSampler::finish`, not by the process's shutdown: the end of the run is
    // measured after the users have stopped.
    HealthSampler::spawn(SamplerSetup::new(context), &CancellationToken::new())
}

/// Starts sampling this process for a run with no ramp and no runner status (a `bench` test):
/// every sample counts.
pub fn spawn_active() -> HealthSampler {
    let context = Box::new(|| Context {
        active: true,
        workers: Vec::new(),
    });
    HealthSampler::spawn(SamplerSetup::new(context), &CancellationToken::new())
}

/// The verdict on a run so far (`ended_at`: when the run's own end began, epoch seconds; see
/// [`verdict::lost_workers`]). The open model's counts are zeros until it reports them.
pub fn assess(
    summary: &HealthSummary,
    status: &RunStatus,
    stats: &RequestStats,
    open: &OpenStats,
    ended_at: Option<f64>,
) -> Verdict {
    let counts = open.counts();
    let open = OpenModelCounts {
        late_starts: counts.late,
        dropped: counts.dropped,
        scheduled: counts.scheduled,
    };
    verdict(&verdict::input_from(summary, status, stats, open, ended_at))
}

#[cfg(test)]
mod tests;
