use std::borrow::Cow;

use super::*;

fn rec(name: &'static str, rt: f64, done: f64, scheduled: Option<f64>) -> RequestRecord {
    RequestRecord {
        method: Cow::Borrowed("GET"),
        name: Cow::Borrowed(name),
        response_time_ms: Some(rt),
        content_length: 0,
        failure: None,
        timestamp: done,
        scheduled_at: scheduled,
    }
}

#[test]
fn corrected_latency_runs_from_the_scheduled_start() {
    let mut s = OpenStats::new(100, 0.0);
    s.begin(10.0, 100.0);
    // Sent 1.5 s late, answered in 20 ms: 1520 ms corrected, 20 ms as Locust sees it.
    s.log(&rec("/a", 20.0, 101.52, Some(100.0)));
    // On time.
    s.log(&rec("/a", 30.0, 100.13, Some(100.1)));
    // A closed-model record (no schedule) is not the open model's.
    s.log(&rec("/a", 5.0, 100.2, None));
    let a = s.entries().next().unwrap();
    assert_eq!(a.num_requests, 2);
    assert_eq!(a.corrected_percentile(1.0), 1500);
    // Locust's rule: the median of two is the higher one.
    assert_eq!(a.corrected_percentile(0.5), 1500);
    assert_eq!(a.uncorrected_percentile(1.0), 30);
    assert_eq!(a.uncorrected_percentile(0.5), 30);
    assert_eq!(a.uncorrected_percentile(0.4), 20);
    assert!(
        (a.avg_corrected() - 775.0).abs() < 1e-6,
        "{}",
        a.avg_corrected()
    );
    assert_eq!(s.total().num_requests, 2);
}

#[test]
fn corrected_is_never_below_the_response_time() {
    let mut s = OpenStats::new(100, 0.0);
    s.begin(1.0, 0.0);
    // Clocks read by different code may disagree by a little.
    s.log(&rec("/a", 50.0, 10.0, Some(9.99)));
    assert_eq!(s.total().corrected_percentile(1.0), 50);
}

#[test]
fn counts_add_up_and_the_rate_is_starts_over_the_span() {
    let mut s = OpenStats::new(100, 0.0);
    assert!(!s.is_active());
    s.begin(20.0, 10.0);
    s.count(
        ArrivalCounts {
            scheduled: 10,
            started: 8,
            late: 3,
            dropped: 2,
        },
        11.0,
    );
    s.count(
        ArrivalCounts {
            scheduled: 10,
            started: 10,
            late: 0,
            dropped: 0,
        },
        12.0,
    );
    assert_eq!(
        s.counts(),
        ArrivalCounts {
            scheduled: 20,
            started: 18,
            late: 3,
            dropped: 2
        }
    );
    assert_eq!(s.achieved_rate(), 9.0);
    assert_eq!(s.rate_asked(), Some(20.0));
    s.reset(12.0);
    assert_eq!(s.counts(), ArrivalCounts::default());
    assert_eq!(s.rate_asked(), Some(20.0));
    s.clear(13.0);
    assert!(!s.is_active());
}

#[test]
fn names_beyond_the_cap_share_the_overflow_row() {
    let mut s = OpenStats::new(2, 0.0);
    s.begin(1.0, 0.0);
    for name in ["/a", "/b", "/c", "/d"] {
        s.log(&rec(name, 1.0, 1.0, Some(1.0)));
    }
    let names: Vec<&str> = s.entries().map(|e| e.name.as_str()).collect();
    assert_eq!(names.len(), 3);
    assert!(names.contains(&OVERFLOW_NAME));
    assert_eq!(s.total().num_requests, 4);
}

fn counts(scheduled: u64, started: u64, late: u64, dropped: u64) -> ArrivalCounts {
    ArrivalCounts {
        scheduled,
        started,
        late,
        dropped,
    }
}

/// Two workers' deltas merged on a master give exactly what one table fed every record gives:
/// the same counts, rows, buckets, sums and so percentiles.
#[test]
fn merged_worker_reports_equal_one_table_of_every_record() {
    let records = [
        ("/a", 20.0, 101.52, 100.0),
        ("/a", 30.0, 100.13, 100.1),
        ("/b", 250.0, 103.0, 102.0),
        ("/a", 1234.0, 105.0, 103.5),
        ("/b", 7.0, 104.0, 103.99),
    ];
    let mut one = OpenStats::new(100, 100.0);
    one.begin(10.0, 100.0);
    let mut master = OpenStats::new(100, 100.0);
    master.begin(10.0, 100.0);
    let mut workers = [OpenStats::new(100, 100.0), OpenStats::new(100, 100.0)];
    for w in &mut workers {
        w.begin(5.0, 100.0);
    }
    for (i, (name, rt, done, sched)) in records.into_iter().enumerate() {
        let r = rec(name, rt, done, Some(sched));
        one.log(&r);
        workers[i % 2].log(&r);
        // A report after every record: the deltas must add up, not repeat.
        let delta = workers[i % 2].take_report(done).unwrap();
        master.merge_report(&delta, done);
    }
    workers[0].count(counts(4, 3, 1, 1), 105.0);
    workers[1].count(counts(3, 3, 0, 0), 105.0);
    one.count(counts(7, 6, 1, 1), 105.0);
    for w in &mut workers {
        let delta = w.take_report(105.0).unwrap();
        assert!(delta.entries.is_empty(), "rows went in the earlier reports");
        master.merge_report(&delta, 105.0);
        assert!(w.take_report(105.0).unwrap().is_empty(), "a report resets");
    }
    assert_eq!(master.counts(), counts(7, 6, 1, 1));
    assert_eq!(master.counts(), one.counts());
    let rows = |s: &OpenStats| s.entries().cloned().collect::<Vec<_>>();
    assert_eq!(rows(&master).len(), 2);
    for (m, o) in rows(&master).iter().zip(rows(&one)) {
        assert_eq!(m.name, o.name);
        assert_eq!(m.num_requests, o.num_requests);
        // Insertion order of buckets may differ; the percentiles and sums may not.
        for p in [0.5, 0.95, 0.99, 1.0] {
            assert_eq!(m.corrected_percentile(p), o.corrected_percentile(p));
            assert_eq!(m.uncorrected_percentile(p), o.uncorrected_percentile(p));
        }
        assert!((m.total_corrected - o.total_corrected).abs() < 1e-9);
    }
    assert_eq!(master.total().num_requests, 5);
    assert_eq!(master.total().corrected_percentile(1.0), 1500);
    assert_eq!(master.achieved_rate(), 6.0 / 5.0);
}

#[test]
fn a_report_outside_an_open_run_is_none_and_is_not_merged() {
    let mut idle = OpenStats::new(10, 0.0);
    assert!(idle.take_report(1.0).is_none());
    let delta = OpenReport {
        counts: counts(1, 1, 0, 0),
        entries: vec![],
    };
    idle.merge_report(&delta, 1.0);
    assert!(idle.counts().is_zero());
}

#[test]
fn merged_rows_beyond_the_masters_cap_share_the_overflow_row() {
    let mut master = OpenStats::new(1, 0.0);
    master.begin(1.0, 0.0);
    let mut w = OpenStats::new(10, 0.0);
    w.begin(1.0, 0.0);
    for name in ["/a", "/b", "/c"] {
        w.log(&rec(name, 1.0, 1.0, Some(1.0)));
    }
    master.merge_report(&w.take_report(1.0).unwrap(), 1.0);
    let names: Vec<&str> = master.entries().map(|e| e.name.as_str()).collect();
    assert_eq!(names, vec![OVERFLOW_NAME, "/a"], "sorted by name");
    assert_eq!(master.total().num_requests, 3);
}
