//! Performance targets as pass/fail checks: a readable rule syntax (`classify p95<500ms`,
//! `error-rate<0.1%`, `GET /api/v1/health rps>1000`), its parser ([`Check::parse`]) and a pure
//! evaluator against a statistics table ([`evaluate`]), with the results' console block and
//! JSON form. Nothing here does IO or reads a clock: the caller passes `now`.
//!
//! # Rules
//! `[METHOD] [NAME] METRIC OP THRESHOLD`, several separated by `;` ([`parse_rules`]).
//! - NAME: omitted, `all` or `Aggregated` is the Aggregated row. A name starting with `/` (or
//!   any name equal to a request's) must match a request name exactly. Otherwise it may be the
//!   tail of one or more whole path segments: `classify` matches `/api/v1/classify` but not
//!   `/api/v1/classify [large image]`, and `model/info` matches `/api/v1/model/info`. A name
//!   that matches no request, or several, fails the check with the candidates in its reason;
//!   it never passes silently.
//! - METHOD: an upper-case HTTP method before the name (`GET /api/v1/health`). Without it a name
//!   requested with several methods is ambiguous.
//! - METRIC: `pN` for any percentile 0 < N <= 100 (`p50`, `p95`, `p99.9`), `avg`, `min`,
//!   `max`, `median` (response times, in ms); `rps` (requests per second over the whole run, as
//!   Locust's total RPS); `fail-rate` (also `error-rate`, `fail-ratio`, `failure-rate`) and
//!   `success-rate`; `requests` and `failures` (counts).
//! - OP: `<`, `<=`, `>`, `>=`.
//! - THRESHOLD: times in `ms` or `s` (a plain number is ms); rates as `0.1%` or as a ratio
//!   between 0 and 1 (`0.001`); rps and counts as plain numbers (rps may end in `/s`).
//!
//! A check on a row without requests fails ("no requests"), except `requests` and `failures`,
//! which are counts that are meaningful at zero.

mod eval;
mod parse;

#[cfg(test)]
mod tests;

pub use eval::{console_block, evaluate, failed, to_json, CheckResult};
pub use parse::{parse_rules, Check, CheckError, InvalidRule, Metric, Op, Subject, Unit};

/// The exit code of a run whose checks failed (as locust-plugins' `--check-*` options). An
/// output that could not be written (74) wins over it; it wins over `--exit-code-on-error`.
pub const EXIT_CHECK_FAILED: i32 = 3;

/// The reference service's performance targets (its PERFORMANCE-README "Performance
/// Targets"), as rules on its request names.
pub mod defaults {
    /// Health endpoint: P95 under 100 ms.
    pub const HEALTH_P95: &str = "/api/v1/health p95<100ms";
    /// Health endpoint: more than 1000 requests per second.
    pub const HEALTH_RPS: &str = "/api/v1/health rps>1000";
    /// Model info: P95 under 200 ms.
    pub const MODEL_INFO_P95: &str = "/api/v1/model/info p95<200ms";
    /// Model info: more than 500 requests per second.
    pub const MODEL_INFO_RPS: &str = "/api/v1/model/info rps>500";
    /// Classification: P95 under 500 ms.
    pub const CLASSIFY_P95: &str = "/api/v1/classify p95<500ms";
    /// Classification: more than 100 requests per second.
    pub const CLASSIFY_RPS: &str = "/api/v1/classify rps>100";
    /// Availability: success rate above 99.9 % (all requests).
    pub const SUCCESS_RATE: &str = "success-rate>99.9%";
    /// Availability: error rate below 0.1 % (all requests).
    pub const ERROR_RATE: &str = "error-rate<0.1%";

    /// The health test's targets.
    pub const HEALTH: [&str; 4] = [HEALTH_P95, HEALTH_RPS, SUCCESS_RATE, ERROR_RATE];
    /// The model-info test's targets.
    pub const MODEL_INFO: [&str; 4] = [MODEL_INFO_P95, MODEL_INFO_RPS, SUCCESS_RATE, ERROR_RATE];
    /// The classification test's targets.
    pub const CLASSIFY: [&str; 4] = [CLASSIFY_P95, CLASSIFY_RPS, SUCCESS_RATE, ERROR_RATE];
    /// Every target of the README.
    pub const ALL: [&str; 8] = [
        HEALTH_P95,
        HEALTH_RPS,
        MODEL_INFO_P95,
        MODEL_INFO_RPS,
        CLASSIFY_P95,
        CLASSIFY_RPS,
        SUCCESS_RATE,
        ERROR_RATE,
    ];

    /// `rules` parsed; the constants above always parse (a test checks it).
    pub fn checks(rules: &[&str]) -> Vec<super::Check> {
        rules
            .iter()
            .filter_map(|r| super::Check::parse(r).ok())
            .collect()
    }
}
