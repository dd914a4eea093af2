//! Clock skew between a worker and its master. Locust keys a worker's per-second request counts
//! by the worker's own clock, so a worker whose clock is off by more than a second makes the
//! master's current RPS (a 10 s window ending at the master's now) read low or zero. A master
//! moves a report onto its own clock before merging it: by the worker's send time when the
//! report carries one (skein workers add it), else estimated from the report's newest request.

use super::entry::SerializedEntry;
use super::table::StatsReport;
/// Seconds between two reports of a worker (Locust's `WORKER_REPORT_INTERVAL`).
pub const WORKER_REPORT_INTERVAL: f64 = 3.0;

/// Offsets below this many seconds are left alone: the per-second keys are whole seconds, and
/// a report in flight is a few milliseconds old.
const TOLERANCE: f64 = 1.0;

/// Whole seconds to add to a report's times to put them on the master's clock. `sent_at` is the
/// worker's clock when it sent the report (skein workers send it); without it (Python workers)
/// the newest request in the report must lie within the last report interval, so a newest
/// request in the master's future, or older than an interval and a second, shows an offset.
pub fn clock_shift(report: &StatsReport, master_now: f64, sent_at: Option<f64>) -> i64 {
    let offset = match sent_at {
        Some(sent) => master_now - sent,
        None => {
            let Some(newest) = newest_request(report) else {
                return 0;
            };
            let age = master_now - newest;
            if age < -TOLERANCE {
                age
            } else if age > WORKER_REPORT_INTERVAL + TOLERANCE {
                // Only the part beyond an interval is certain to be skew.
                age - WORKER_REPORT_INTERVAL
            } else {
                0.0
            }
        }
    };
    if offset.abs() < TOLERANCE || !offset.is_finite() {
        0
    } else {
        offset.round() as i64
    }
}

fn newest_request(report: &StatsReport) -> Option<f64> {
    std::iter::once(&report.stats_total)
        .chain(report.stats.iter())
        .filter_map(|e| e.last_request_timestamp)
        .reduce(f64::max)
}

/// Moves every time in the report by `secs` (per-second keys, first and last request, start
/// time, the errors' first and last seen).
pub fn shift_report(report: &mut StatsReport, secs: i64) {
    if secs == 0 {
        return;
    }
    let dt = secs as f64;
    for e in report
        .stats
        .iter_mut()
        .chain(std::iter::once(&mut report.stats_total))
    {
        shift_entry(e, secs, dt);
    }
    for (_, err) in report.errors.0.iter_mut() {
        err.first_seen = err.first_seen.map(|t| t + dt);
        err.last_seen = err.last_seen.map(|t| t + dt);
    }
}

fn shift_entry(e: &mut SerializedEntry, secs: i64, dt: f64) {
    e.last_request_timestamp = e.last_request_timestamp.map(|t| t + dt);
    e.start_time += dt;
    e.num_reqs_per_sec = e
        .num_reqs_per_sec
        .iter()
        .map(|(k, v)| (k + secs, v))
        .collect();
    e.num_fail_per_sec = e
        .num_fail_per_sec
        .iter()
        .map(|(k, v)| (k + secs, v))
        .collect();
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use skein_record::RequestRecord;

    use super::*;
    use crate::stats::RequestStats;

    const T: f64 = 1_800_000_000.0;

    /// A worker whose clock reads `T + skew` sends 10 requests per second for 5 s.
    fn worker_report(skew: f64) -> StatsReport {
        let mut w = RequestStats::new(T + skew);
        for s in 0..5 {
            for i in 0..10 {
                w.log(&RequestRecord {
                    method: Cow::Borrowed("GET"),
                    name: Cow::Borrowed("/"),
                    response_time_ms: Some(5.0),
                    content_length: 0,
                    failure: None,
                    timestamp: T + skew + s as f64 + i as f64 / 10.0,
                    scheduled_at: None,
                });
            }
        }
        w.take_report(T + skew + 5.0)
    }

    /// The master's current RPS after merging an in-sync worker's report and `other`.
    fn master_rps(other: &StatsReport, now: f64) -> f64 {
        let mut m = RequestStats::new(T);
        m.merge_report(&worker_report(0.0), now);
        m.merge_report(other, now);
        m.total().current_rps(m.span()).as_f64()
    }

    #[test]
    fn a_skewed_worker_corrupts_current_rps_unless_shifted() {
        let now = T + 5.0;
        let both_in_sync = master_rps(&worker_report(0.0), now);
        assert!(both_in_sync > 10.0, "{both_in_sync}");
        for skew in [-600.0, -30.0, 30.0, 3600.0] {
            let mut r = worker_report(skew);
            let unshifted = master_rps(&r, now);
            assert!(
                unshifted < both_in_sync * 0.75,
                "skew {skew}: Locust's merge counts only one worker in the window ({unshifted})"
            );
            // A skein worker says when it sent the report (its clock: T + skew + 5).
            let shift = clock_shift(&r, now, Some(T + skew + 5.0));
            assert_eq!(shift, -(skew as i64));
            shift_report(&mut r, shift);
            assert_eq!(master_rps(&r, now), both_in_sync, "skew {skew}");
        }
    }

    #[test]
    fn without_a_send_time_the_newest_request_tells() {
        let now = T + 5.0;
        let both_in_sync = master_rps(&worker_report(0.0), now);
        assert_eq!(clock_shift(&worker_report(0.0), now, None), 0);
        // A report up to an interval old is not skew.
        assert_eq!(clock_shift(&worker_report(-3.0), now, None), 0);
        // A clock ahead shows exactly (the newest request lies in the master's future).
        for skew in [30.0, 3600.0] {
            let mut r = worker_report(skew);
            let shift = clock_shift(&r, now, None);
            assert_eq!(shift, -(skew as i64));
            shift_report(&mut r, shift);
            assert_eq!(master_rps(&r, now), both_in_sync, "skew {skew}");
        }
        // A clock behind is corrected by what is certain (all but one report interval), which
        // brings most of its seconds back into the window.
        let mut r = worker_report(-600.0);
        let unshifted = master_rps(&r, now);
        let shift = clock_shift(&r, now, None);
        assert_eq!(shift, 597);
        shift_report(&mut r, shift);
        let rps = master_rps(&r, now);
        assert!(rps > unshifted, "{rps} > {unshifted}");
        let empty = StatsReport {
            stats: Vec::new(),
            stats_total: RequestStats::new(T).total().serialize(),
            errors: Default::default(),
        };
        assert_eq!(clock_shift(&empty, now, None), 0);
    }

    #[test]
    fn small_offsets_are_left_alone() {
        let r = worker_report(0.0);
        assert_eq!(clock_shift(&r, T + 5.0, Some(T + 5.0 - 0.004)), 0);
        assert_eq!(clock_shift(&r, T + 5.0, Some(T + 5.0 + 0.6)), 0);
        assert_eq!(clock_shift(&r, T + 5.0, Some(f64::NAN)), 0);
    }
}
