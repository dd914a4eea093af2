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

#[cfg(test)]
mod tests;
