//! Whether a run's numbers can be trusted: a pure function from plain inputs (the generator's
//! CPU, its workers', the open model's late and dropped iterations, workers lost mid-run, and
//! the mix of the target's failures) to [`Verdict::Valid`] or [`Verdict::Suspect`] with
//! readable reasons. The verdict is information: it never changes the exit code.

use std::fmt;

use serde_json::{json, Value};

use super::summary::{CpuStats, HealthSummary, CPU_WARNING_THRESHOLD};
use crate::control::{MembershipView, RunStatus};
use crate::stats::RequestStats;

/// CPU counts as saturated when above its limit in more than this share of the samples taken
/// while users ran.
pub const SATURATED_SHARE: f64 = 0.10;
/// Late starts count when more than this share of the scheduled iterations started late.
pub const LATE_SHARE: f64 = 0.01;
/// The failures are dominated by connection failures above this share of them…
pub const CONNECTION_SHARE: f64 = 0.50;
/// …when those are also at least this share of all requests (one reset in a million requests
/// says nothing about the run).
pub const CONNECTION_MIN_RATE: f64 = 0.001;

/// A CPU record: samples, how many were above `limit_percent`, and the highest.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuLoad {
    pub samples: u64,
    pub saturated: u64,
    pub max_percent: f64,
    pub limit_percent: f64,
}

impl CpuLoad {
    pub fn from_stats(s: &CpuStats, limit_percent: f64) -> Self {
        CpuLoad {
            samples: s.samples,
            saturated: s.saturated,
            max_percent: s.max,
            limit_percent,
        }
    }

    fn is_saturated(&self) -> bool {
        self.samples > 0 && self.saturated as f64 > SATURATED_SHARE * self.samples as f64
    }
}

/// The open model's counts (zeros for the closed model, which schedules nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenModelCounts {
    pub late_starts: u64,
    pub dropped: u64,
    pub scheduled: u64,
}

/// A worker that went away while the test ran.
#[derive(Debug, Clone, PartialEq)]
pub struct LostWorker {
    pub worker: String,
    /// missing, removed or quit (the master's membership change).
    pub change: String,
}

/// The target's failures: how many, how many of them were connection failures, of how many
/// requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureMix {
    pub connection: u64,
    pub failures: u64,
    pub requests: u64,
}

/// Everything the verdict looks at, as plain values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerdictInput {
    pub generator: CpuLoad,
    /// On a master, per worker (heartbeat CPU, Locust's threshold).
    pub workers: Vec<(String, CpuLoad)>,
    pub open_model: OpenModelCounts,
    pub workers_lost: Vec<LostWorker>,
    pub failures: FailureMix,
}

/// One reason a run is suspect.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    GeneratorCpu(CpuLoad),
    WorkerCpu { worker: String, load: CpuLoad },
    LateStarts { late: u64, scheduled: u64 },
    Dropped { dropped: u64, scheduled: u64 },
    WorkerLost(LostWorker),
    ConnectionFailures(FailureMix),
}

impl Reason {
    /// A short stable name for the JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::GeneratorCpu(_) => "generator_cpu",
            Reason::WorkerCpu { .. } => "worker_cpu",
            Reason::LateStarts { .. } => "late_starts",
            Reason::Dropped { .. } => "dropped_iterations",
            Reason::WorkerLost(_) => "worker_lost",
            Reason::ConnectionFailures(_) => "connection_failures",
        }
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let share = SATURATED_SHARE * 100.0;
        match self {
            Reason::GeneratorCpu(c) => write!(
                f,
                "generator CPU above {:.0}% in {} of {} samples ({:.0}%, limit {:.0}% of them; max {:.1}%)",
                c.limit_percent, c.saturated, c.samples, pct(c.saturated, c.samples), share, c.max_percent
            ),
            Reason::WorkerCpu { worker, load: c } => write!(
                f,
                "worker {worker} CPU above {:.0}% in {} of {} samples ({:.0}%, limit {:.0}% of them; max {:.1}%)",
                c.limit_percent, c.saturated, c.samples, pct(c.saturated, c.samples), share, c.max_percent
            ),
            Reason::LateStarts { late, scheduled } => write!(
                f,
                "{late} of {scheduled} scheduled iterations started late ({:.2}%, limit {:.0}%)",
                pct(*late, *scheduled),
                LATE_SHARE * 100.0
            ),
            Reason::Dropped { dropped, scheduled } => write!(
                f,
                "{dropped} of {scheduled} scheduled iterations dropped (no free virtual user; limit 0)"
            ),
            Reason::WorkerLost(w) => write!(f, "worker {} lost mid-run ({})", w.worker, w.change),
            Reason::ConnectionFailures(m) => write!(
                f,
                "{} of {} failures ({:.0}%, limit {:.0}%) are connection failures (refused, reset, timed out), {:.2}% of {} requests",
                m.connection,
                m.failures,
                pct(m.connection, m.failures),
                CONNECTION_SHARE * 100.0,
                pct(m.connection, m.requests),
                m.requests
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Valid,
    Suspect { reasons: Vec<Reason> },
}

impl Verdict {
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid)
    }

    /// The line printed at the end of a run.
    pub fn line(&self) -> String {
        match self {
            Verdict::Valid => "Run verdict: valid".to_string(),
            Verdict::Suspect { reasons } => {
                let texts: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                format!("Run verdict: SUSPECT — {}", texts.join("; "))
            }
        }
    }

    pub fn to_json(&self) -> Value {
        let reasons: Vec<Value> = match self {
            Verdict::Valid => Vec::new(),
            Verdict::Suspect { reasons } => reasons
                .iter()
                .map(|r| json!({"kind": r.kind(), "text": r.to_string()}))
                .collect(),
        };
        json!({
            "valid": self.is_valid(),
            "text": self.line(),
            "reasons": reasons,
            "thresholds": {
                "cpu_saturated_share_of_samples": SATURATED_SHARE,
                "worker_cpu_percent": CPU_WARNING_THRESHOLD,
                "late_start_share": LATE_SHARE,
                "dropped_iterations": 0,
                "workers_lost": 0,
                "connection_failure_share": CONNECTION_SHARE,
                "connection_failure_min_rate": CONNECTION_MIN_RATE,
            },
        })
    }
}

/// The verdict on `input` (see the module docs and the constants for the rules).
pub fn verdict(input: &VerdictInput) -> Verdict {
    let mut reasons = Vec::new();
    if input.generator.is_saturated() {
        reasons.push(Reason::GeneratorCpu(input.generator));
    }
    for (worker, load) in &input.workers {
        if load.is_saturated() {
            reasons.push(Reason::WorkerCpu {
                worker: worker.clone(),
                load: *load,
            });
        }
    }
    let om = input.open_model;
    if om.late_starts as f64 > LATE_SHARE * om.scheduled as f64 {
        reasons.push(Reason::LateStarts {
            late: om.late_starts,
            scheduled: om.scheduled,
        });
    }
    if om.dropped > 0 {
        reasons.push(Reason::Dropped {
            dropped: om.dropped,
            scheduled: om.scheduled,
        });
    }
    reasons.extend(input.workers_lost.iter().cloned().map(Reason::WorkerLost));
    let m = input.failures;
    if m.connection as f64 > CONNECTION_SHARE * m.failures as f64
        && m.connection as f64 >= CONNECTION_MIN_RATE * m.requests as f64
        && m.connection > 0
    {
        reasons.push(Reason::ConnectionFailures(m));
    }
    if reasons.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Suspect { reasons }
    }
}

/// Whether a failure text (as the failures table holds it, Locust's `repr`) is a connection
/// failure: refused, reset, aborted, broken pipe, closed without a response, DNS, or a timeout.
/// HTTP status errors, a scenario's own checks and protocol errors are the target answering.
pub fn is_connection_failure(error: &str) -> bool {
    const PREFIXES: [&str; 14] = [
        "ConnectionRefusedError(",
        "ConnectionResetError(",
        "ConnectionAbortedError(",
        "BrokenPipeError(",
        "TimeoutError(",
        "ConnectTimeoutError(",
        "ConnectTimeout(",
        "ReadTimeout(",
        "ReadTimeoutError(",
        "RemoteDisconnected(",
        "gaierror(",
        // requests' and urllib3's wrappers, as a Locust worker in a mixed cluster may report.
        "ConnectionError(",
        "NewConnectionError(",
        "MaxRetryError(",
    ];
    const RESET_MID_BODY: &str =
        "ChunkedEncodingError(ProtocolError(\"Connection broken: ConnectionResetError";
    PREFIXES.iter().any(|p| error.starts_with(p)) || error.starts_with(RESET_MID_BODY)
}

/// The failure mix of a statistics table (its failures table against its total).
pub fn failure_mix(stats: &RequestStats) -> FailureMix {
    let mut mix = FailureMix {
        requests: stats.total().num_requests,
        ..FailureMix::default()
    };
    for e in stats.errors_in_order() {
        mix.failures += e.occurrences;
        if is_connection_failure(&e.error) {
            mix.connection += e.occurrences;
        }
    }
    mix
}

/// The workers a master lost while the test ran: each one that went missing (even if it healed
/// later: its users had moved), was forgotten, or quit before `ended_at` (the master's own end
/// of the run; every quit counts while it is still running). Each worker once, first loss first.
pub fn lost_workers(membership: &[MembershipView], ended_at: Option<f64>) -> Vec<LostWorker> {
    let mut out: Vec<LostWorker> = Vec::new();
    for m in membership {
        let lost = match m.change {
            "missing" | "removed" => true,
            "quit" => ended_at.is_none_or(|end| m.time < end),
            _ => false,
        };
        if lost && !out.iter().any(|w| w.worker == m.worker) {
            out.push(LostWorker {
                worker: m.worker.clone(),
                change: m.change.to_string(),
            });
        }
    }
    out
}

/// The verdict's input from a run's parts. `open_model` comes from the open-model runner (zeros
/// for the closed model).
pub fn input_from(
    summary: &HealthSummary,
    status: &RunStatus,
    stats: &RequestStats,
    open_model: OpenModelCounts,
    ended_at: Option<f64>,
) -> VerdictInput {
    VerdictInput {
        generator: CpuLoad::from_stats(&summary.cpu, summary.cpu_limit_percent()),
        workers: summary
            .workers()
            .iter()
            .map(|(id, w)| {
                (
                    id.clone(),
                    CpuLoad::from_stats(&w.cpu, CPU_WARNING_THRESHOLD),
                )
            })
            .collect(),
        open_model,
        workers_lost: lost_workers(&status.membership, ended_at),
        failures: failure_mix(stats),
    }
}
