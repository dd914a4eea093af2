//! The pass/fail targets of each test: the service README's performance targets by default,
//! replaced by `--check` rules when any are given.

use crate::config::BenchTest;

/// The README's targets for `test`, in the checks' rule syntax.
pub fn defaults(test: BenchTest) -> &'static [&'static str] {
    const AVAILABILITY: [&str; 2] = ["success-rate>99.9%", "error-rate<0.1%"];
    match test {
        BenchTest::Health => &["p95<100ms", "rps>1000", AVAILABILITY[0], AVAILABILITY[1]],
        BenchTest::ModelInfo => &["p95<200ms", "rps>500", AVAILABILITY[0], AVAILABILITY[1]],
        BenchTest::Classification => &["p95<500ms", "rps>100", AVAILABILITY[0], AVAILABILITY[1]],
        // Sequential and stepped tests are not throughput tests: latency and availability only.
        BenchTest::Latency | BenchTest::Memory => &["p95<500ms", AVAILABILITY[0], AVAILABILITY[1]],
        BenchTest::Stress => &[AVAILABILITY[0], AVAILABILITY[1]],
        BenchTest::Comprehensive => &[],
    }
}

/// The rules a test is judged by: `--check` rules when given, else its defaults.
pub fn rules(test: BenchTest, given: &[String]) -> Vec<String> {
    if given.is_empty() {
        defaults(test).iter().map(|s| s.to_string()).collect()
    } else {
        given.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(rules(BenchTest::Health, &[])[0], "p95<100ms");
        assert_eq!(rules(BenchTest::Classification, &[]).len(), 4);
        assert_eq!(rules(BenchTest::Health, &["p50<1ms".into()]), ["p50<1ms"]);
    }
}

/// One evaluated rule, as the results and reports show it.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct CheckOutcome {
    pub rule: String,
    /// `None`: not evaluated.
    pub passed: Option<bool>,
    pub observed: Option<String>,
    pub threshold: Option<String>,
    pub reason: Option<String>,
}

/// Evaluates `rules` on the statistics of a test.
pub fn evaluate(rules: &[String], view: &crate::engine::StatsView<'_>) -> Vec<CheckOutcome> {
    evaluate_table(rules, view.stats, crate::engine::wall_clock())
}

/// Evaluates `rules` on a statistics table at `now`.
pub fn evaluate_table(
    rules: &[String],
    _stats: &crate::stats::RequestStats,
    _now: f64,
) -> Vec<CheckOutcome> {
    rules
        .iter()
        .map(|r| CheckOutcome {
            rule: r.clone(),
            passed: None,
            observed: None,
            threshold: None,
            reason: Some("not evaluated".into()),
        })
        .collect()
}

pub fn any_failed(checks: &[CheckOutcome]) -> bool {
    checks.iter().any(|c| c.passed == Some(false))
}
