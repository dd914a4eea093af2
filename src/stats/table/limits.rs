//! The caps on the statistics table's two unbounded dimensions: distinct request names and
//! distinct failure rows. A hostile or careless target (a redirect to a unique URL per request,
//! an error text with a request id in it) would otherwise grow both without limit, and every
//! periodic CSV write, web poll and worker report with them.

/// The entry that counts every request whose `(name, method)` arrived after the cap was full.
pub const OVERFLOW_NAME: &str = "(other names: over --max-request-names)";
/// The overflow entry's method column (one row for every method).
pub const OVERFLOW_METHOD: &str = "*";
/// The failure row that counts every error first seen after the failures cap was full.
pub const OVERFLOW_ERROR: &str = "(other errors: over --max-failure-rows)";

/// Default cap on `(name, method)` entries, the overflow entry not counted.
pub const DEFAULT_MAX_REQUEST_NAMES: usize = 2_000;
/// Default cap on failure rows, the overflow row not counted.
pub const DEFAULT_MAX_FAILURE_ROWS: usize = 2_000;

/// How many rows each table may hold before new keys go to its overflow row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsLimits {
    pub max_request_names: usize,
    pub max_failure_rows: usize,
}

impl Default for StatsLimits {
    fn default() -> Self {
        StatsLimits {
            max_request_names: DEFAULT_MAX_REQUEST_NAMES,
            max_failure_rows: DEFAULT_MAX_FAILURE_ROWS,
        }
    }
}

/// What has gone to the overflow rows since the table was made (kept across resets, so the
/// hub warns once per run, not once per `/stats/reset`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overflowed {
    /// Times a `(name, method)` not in the table was counted on the overflow entry (a request,
    /// its failure, or a worker's row merged by the master).
    pub names: u64,
    /// Times an error not in the table was counted on the overflow failure row.
    pub failures: u64,
}
