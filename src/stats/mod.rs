//! Locust-compatible request statistics, as pure code (time is always a parameter).
//!
//! [`RequestStats`] owns the entries by `(name, method)`, the `Aggregated` total and the
//! failures table; [`StatsEntry`] is one row with Locust's derived metrics; [`Exceptions`] is the
//! table of errors raised by user code. [`pyfmt`] renders numbers and strings as Python does,
//! which every Locust output depends on. Entries and errors serialize to Locust's wire form
//! ([`SerializedEntry`], [`StatsError`]) and merge back with `extend`, for the distributed mode.

pub mod counts;
pub mod entry;
pub mod errors;
pub mod history;
pub mod open;
pub mod pyfmt;
pub mod skew;
pub mod table;

#[cfg(test)]
mod layering;
#[cfg(test)]
pub(crate) mod testdata;

pub use counts::{bucket, percentile, Counts};
pub use entry::{
    SerializedEntry, Span, StatsEntry, PERCENTILES_TO_CHART, PERCENTILES_TO_REPORT,
    PERCENTILES_TO_STATISTICS,
};
pub use errors::{
    error_display, error_key, failure_text, parse_error, ExceptionRow, Exceptions, StatsError,
};
pub use history::HistoryPoint;
pub use open::{ArrivalCounts, OpenEntry, OpenReport, OpenStats, LATE_THRESHOLD_MS};
pub use pyfmt::PyNum;
pub use table::{
    ErrorMap, Overflowed, RequestStats, StatsLimits, StatsReport, AGGREGATED,
    DEFAULT_MAX_FAILURE_ROWS, DEFAULT_MAX_REQUEST_NAMES, OVERFLOW_ERROR, OVERFLOW_METHOD,
    OVERFLOW_NAME,
};
