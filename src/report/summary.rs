//! skein's combined machine-readable summary of a Locust-style run (`--json-file NAME` writes
//! it to `NAME_summary.json`): the checks, the run's verdict, the generator's health and the
//! open model's summary in one document, so CI reads one file for "did it pass and can the
//! numbers be trusted". Locust's own `NAME.json` keeps its exact shape.

use serde_json::{json, Value};

use crate::checks::{self, CheckResult};
use crate::health::{HealthSummary, Verdict};
use crate::stats::OpenStats;

/// The summary document; `open_model` is null in a closed-model run.
pub fn run_summary(
    checks: &[CheckResult],
    verdict: &Verdict,
    generator: &HealthSummary,
    open: &OpenStats,
    failures_recorded: bool,
) -> Value {
    json!({
        "checks_failed": checks::failed(checks),
        "checks": checks::to_json(checks),
        "failures_recorded": failures_recorded,
        "verdict": verdict.to_json(),
        "generator": generator.to_json(),
        "open_model": super::open::summary_json(open),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_model_summary_has_every_part_and_a_null_open_model() {
        let open = OpenStats::new(10, 0.0);
        let v = run_summary(
            &[],
            &Verdict::Valid,
            &HealthSummary::new(2, 100, 10),
            &open,
            true,
        );
        assert_eq!(v["checks_failed"], false);
        assert_eq!(v["checks"], json!([]));
        assert_eq!(v["failures_recorded"], true);
        assert_eq!(v["verdict"]["valid"], true);
        assert_eq!(v["verdict"]["text"], "Run verdict: valid");
        assert!(v["generator"].is_object());
        assert!(v["open_model"].is_null());
    }

    #[test]
    fn an_open_model_summary_carries_its_counts() {
        let mut open = OpenStats::new(10, 0.0);
        open.begin(5.0, 0.0);
        let v = run_summary(
            &[],
            &Verdict::Valid,
            &HealthSummary::new(2, 100, 10),
            &open,
            false,
        );
        assert_eq!(v["open_model"]["arrival_rate"], 5.0);
        assert_eq!(v["open_model"]["scheduled"], 0);
    }
}
