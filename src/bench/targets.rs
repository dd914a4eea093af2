//! The pass/fail targets of each test: the service README's performance targets by default,
//! replaced by `--check` rules when any are given; evaluated by [`crate::checks`]. The defaults
//! are on the Aggregated row: every rate-driven test has one endpoint, and classification's rows
//! are per image size.

use super::results::TableFigures;
use crate::checks::{self, Check, CheckResult, Metric, Op};
use crate::config::BenchTest;
use crate::engine::{wall_clock, HubHandle};

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
pub fn rules(test: BenchTest, given: &[Check]) -> Vec<Check> {
    if given.is_empty() {
        checks::defaults::checks(defaults(test))
    } else {
        given.to_vec()
    }
}

/// A throughput target above the offered rate cannot pass in the open model (it measures
/// `--rps`, not the service): one note per such rule, so a failure is not misread.
pub fn offered_rate_notes(rules: &[Check], rps: f64) -> Vec<String> {
    rules
        .iter()
        .filter(|c| cannot_pass_at(c, rps))
        .map(|c| {
            format!(
                "'{}' cannot pass at --rps {rps}: the open model offers only the rate asked; raise --rps above the target to test it",
                c.text
            )
        })
        .collect()
}

/// The test's figures and its checks, from one read of the hub's statistics.
pub async fn figures_and_checks(
    hub: &HubHandle,
    rules: Vec<Check>,
    elapsed: f64,
) -> anyhow::Result<(TableFigures, Vec<CheckResult>)> {
    hub.read(move |v| {
        (
            TableFigures::of(v.stats, elapsed),
            checks::evaluate(&rules, v.stats, wall_clock()),
        )
    })
    .await
    .ok_or_else(|| anyhow::anyhow!("statistics hub ended early"))
}

/// The rules of an open-model test at `rps`. Given rules are kept as written (the user asked
/// for them; a note says when one cannot pass). A default throughput target above the rate
/// asked says nothing about the service at that rate, so it is left out, with a note, rather
/// than failing every run of the service README's own commands (`--rps 20`).
pub fn rules_at_rate(test: BenchTest, given: &[Check], rps: f64) -> (Vec<Check>, Vec<String>) {
    if !given.is_empty() {
        return (given.to_vec(), offered_rate_notes(given, rps));
    }
    let (kept, skipped): (Vec<Check>, Vec<Check>) = rules(test, given)
        .into_iter()
        .partition(|c| !cannot_pass_at(c, rps));
    let notes = skipped
        .iter()
        .map(|c| {
            format!(
                "default target '{}' not checked at --rps {rps}: the open model offers only the rate asked; run with --rps above it (or the stress test) to check it",
                c.text
            )
        })
        .collect();
    (kept, notes)
}

fn cannot_pass_at(c: &Check, rps: f64) -> bool {
    c.metric == Metric::Rps && matches!(c.op, Op::Gt | Op::Ge) && c.threshold >= rps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(rules(BenchTest::Health, &[])[0].text, "p95<100ms");
        assert_eq!(rules(BenchTest::Classification, &[]).len(), 4);
        let health = rules(BenchTest::Health, &[]);
        assert_eq!(offered_rate_notes(&health, 20.0).len(), 1);
        assert!(offered_rate_notes(&health, 2000.0).is_empty());
        let (at20, notes) = rules_at_rate(BenchTest::Health, &[], 20.0);
        assert_eq!(at20.len(), 3);
        assert!(at20.iter().all(|c| c.metric != Metric::Rps));
        assert!(notes[0].contains("not checked at --rps 20"), "{notes:?}");
        assert_eq!(rules_at_rate(BenchTest::Health, &[], 1200.0).0.len(), 4);
        let rps = Check::parse("rps>1000").unwrap();
        let (given, notes) = rules_at_rate(BenchTest::Health, std::slice::from_ref(&rps), 20.0);
        assert_eq!((given.len(), notes.len()), (1, 1));
        let mine = Check::parse("p50<1ms").unwrap();
        assert_eq!(
            rules(BenchTest::Health, std::slice::from_ref(&mine)),
            [mine]
        );
        // Every default parses (defaults::checks would drop none).
        for t in [
            BenchTest::Health,
            BenchTest::ModelInfo,
            BenchTest::Classification,
            BenchTest::Stress,
            BenchTest::Latency,
            BenchTest::Memory,
        ] {
            assert_eq!(rules(t, &[]).len(), defaults(t).len());
        }
    }
}
