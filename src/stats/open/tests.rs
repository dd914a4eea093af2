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
