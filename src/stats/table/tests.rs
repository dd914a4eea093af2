use super::*;
use crate::stats::pyfmt::PyNum;
use skein_record::Failure;
use std::borrow::Cow;

const T0: f64 = 1_795_808_000.25;

fn rec(name: &'static str, rt: Option<f64>, failure: Option<Failure>, ts: f64) -> RequestRecord {
    RequestRecord {
        method: Cow::Borrowed("GET"),
        name: Cow::Borrowed(name),
        response_time_ms: rt,
        content_length: 6,
        failure,
        timestamp: ts,
        scheduled_at: None,
    }
}

#[test]
fn log_updates_entry_total_and_errors() {
    let mut s = RequestStats::new(T0);
    s.log(&rec("/", Some(2.5), None, T0 + 0.1));
    s.log(&rec(
        "/",
        Some(17.35),
        Some(Failure::Check("bad".into())),
        T0 + 0.2,
    ));
    s.log(&rec("/a", None, None, T0 + 0.3));
    let e = s.get("/", "GET").expect("entry");
    assert_eq!(e.num_requests, 2);
    assert_eq!(e.num_failures, 1);
    assert_eq!(e.total_content_length, 12);
    assert_eq!(
        e.response_times.iter().collect::<Vec<_>>(),
        vec![(2, 1), (17, 1)]
    );
    assert_eq!(
        e.min_response_time.map(|m| m.to_string()),
        Some("2.5".into())
    );
    assert_eq!(e.max_response_time.to_string(), "17.35");
    assert_eq!(e.avg_response_time(), (2.5 + 17.35) / 2.0);
    let t = s.total();
    assert_eq!(t.num_requests, 3);
    assert_eq!(t.num_none_requests, 1);
    assert_eq!(t.num_failures, 1);
    assert_eq!(t.avg_response_time(), (2.5 + 17.35) / 2.0);
    assert_eq!(s.errors().len(), 1);
    assert_eq!(s.errors()[0].error, "CatchResponseError('bad')");
    assert_eq!(s.errors()[0].occurrences, 1);
    assert_eq!(s.errors()[0].first_seen, Some(T0 + 0.2));
    let names: Vec<_> = s.entries().iter().map(|e| e.name.clone()).collect();
    assert_eq!(names, vec!["/", "/a"]);
}

#[test]
fn empty_entry_metrics_have_python_types() {
    let s = RequestStats::new(T0);
    let t = s.total();
    assert_eq!(t.median_response_time().to_string(), "0");
    assert_eq!(t.avg_response_time(), 0.0);
    assert_eq!(t.min_or_zero().to_string(), "0");
    assert_eq!(t.max_response_time.to_string(), "0");
    assert_eq!(t.avg_content_length().to_string(), "0");
    assert_eq!(t.current_rps(s.span()).to_string(), "0");
    assert_eq!(t.total_rps(s.span()), 0.0);
    assert_eq!(t.fail_ratio(), 0.0);
}

#[test]
fn median_is_clamped_to_min_and_max() {
    let mut s = RequestStats::new(T0);
    s.log_request("GET", "/m", Some(2.962490999948386), 335, T0);
    let e = s.get("/m", "GET").expect("entry");
    // bucket 3 > max 2.96… → the max, a float.
    assert_eq!(e.median_response_time().to_string(), "2.962490999948386");
    s.log_request("GET", "/n", Some(4.4), 0, T0);
    let e = s.get("/n", "GET").expect("entry");
    // bucket 4 < min 4.4 → the min.
    assert_eq!(e.median_response_time().to_string(), "4.4");
    s.log_request("GET", "/n", Some(4.6), 0, T0);
    s.log_request("GET", "/n", Some(6.0), 0, T0);
    let e = s.get("/n", "GET").expect("entry");
    assert_eq!(e.median_response_time().to_string(), "5");
}

#[test]
fn current_rps_window_is_anchored_on_last_request() {
    let mut s = RequestStats::new(T0);
    let base = T0.floor();
    // 2 requests per second for 20 seconds.
    for sec in 0..20 {
        for _ in 0..2 {
            s.log_request("GET", "/", Some(1.0), 0, base + sec as f64 + 0.5);
        }
    }
    let e = s.get("/", "GET").expect("entry");
    // last = base+19, window [base+7, base+16]: 10 seconds of 2.
    assert_eq!(e.current_rps(s.span()).to_string(), "2.0");
    // One more failure-free request second: the window moves but stays at 2.
    assert_eq!(e.current_fail_per_sec(s.span()).to_string(), "0.0");
    // A short run: start clamps the window.
    let mut s = RequestStats::new(base);
    s.log_request("GET", "/", Some(1.0), 0, base);
    for sec in 0..5 {
        s.log_request("GET", "/", Some(1.0), 0, base + sec as f64);
    }
    // last = base+4 → seconds [base, base+1]: (2 + 1) / 2.
    let e = s.get("/", "GET").expect("entry");
    assert_eq!(e.current_rps(s.span()).as_f64(), 1.5);
    let span = s.span();
    let total_rps = e.total_rps(span);
    assert_eq!(total_rps, 6.0 / 4.0);
}

#[test]
fn current_percentiles_need_a_snapshot() {
    let base = T0.floor();
    let mut s = RequestStats::new(base);
    for sec in 0..30 {
        let rt = if sec < 16 { 5.0 } else { 500.0 };
        s.log_request("GET", "/", Some(rt), 0, base + sec as f64 + 0.5);
    }
    let e = s.get("/", "GET").expect("entry");
    let now = base + 29.9;
    // The last 10 s are all 500 ms; over the whole run 16 of 30 are 5 ms.
    assert_eq!(e.current_percentile(0.5, now), Some(500));
    assert_eq!(e.percentile(0.5), 5);
    // Far in the future the snapshots are too old.
    assert_eq!(e.current_percentile(0.5, now + 100.0), None);
    // A table without the cache never has current percentiles.
    let mut w = RequestStats::with_cache(false, base);
    w.log_request("GET", "/", Some(1.0), 0, base + 20.0);
    assert_eq!(w.total().current_percentile(0.5, base + 20.0), None);
}

#[test]
fn reset_all_keeps_entries_and_drops_errors() {
    let mut s = RequestStats::new(T0);
    s.log_request("GET", "/", Some(1.0), 0, T0);
    s.log_error("GET", "/", "x", T0);
    s.reset_all(T0 + 5.0);
    assert_eq!(s.entries().len(), 1);
    assert_eq!(s.entries()[0].num_requests, 0);
    assert_eq!(s.entries()[0].start_time, T0 + 5.0);
    assert!(s.errors().is_empty());
    assert_eq!(s.total().num_requests, 0);
    s.clear_all(T0 + 6.0);
    assert!(s.entries().is_empty());
}

#[test]
fn errors_are_sorted_by_key() {
    let mut s = RequestStats::new(T0);
    for (i, name) in ["/a", "/b", "/c", "/d", "/e"].iter().enumerate() {
        s.log_error("GET", name, "HTTPError('x')", T0 + i as f64);
    }
    let keys: Vec<String> = s.errors().iter().map(|e| e.key()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(s.errors_in_order()[0].name, "/a");
}

#[test]
fn serialize_extend_round_trip() {
    let mut w = RequestStats::with_cache(false, T0);
    w.log_request("GET", "/", Some(2.5), 6, T0 + 1.0);
    w.log_request("GET", "/", Some(150.0), 6, T0 + 2.0);
    w.log_request("GET", "/", None, 0, T0 + 2.5);
    w.log_error("GET", "/", "HTTPError('boom')", T0 + 2.0);
    let e = w.get("/", "GET").expect("entry").clone();
    let ser = e.serialize();

    // JSON form: Locust key order, string keys for the int dicts.
    let v = ser.to_value();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "name",
            "method",
            "last_request_timestamp",
            "start_time",
            "num_requests",
            "num_none_requests",
            "num_failures",
            "total_response_time",
            "max_response_time",
            "min_response_time",
            "total_content_length",
            "response_times",
            "num_reqs_per_sec",
            "num_fail_per_sec"
        ]
    );
    assert_eq!(v["response_times"]["150"], 1);
    let back = SerializedEntry::from_value(&v).expect("from json");
    assert_eq!(back, ser);

    // msgpack form: integer keys survive.
    let bytes = rmp_serde::to_vec_named(&ser).expect("msgpack");
    let back: SerializedEntry = rmp_serde::from_slice(&bytes).expect("from msgpack");
    assert_eq!(back, ser);

    // Merging the delta twice into a master doubles the counters.
    let mut m = RequestStats::new(T0 - 10.0);
    let report = w.take_report(T0 + 3.0);
    assert_eq!(report.stats.len(), 1);
    assert_eq!(report.errors.0.len(), 1);
    assert_eq!(w.total().num_requests, 0);
    let wire = rmp_serde::to_vec_named(&report).expect("msgpack report");
    let report: StatsReport = rmp_serde::from_slice(&wire).expect("report back");
    m.merge_report(&report, T0 + 3.0);
    m.merge_report(&report, T0 + 3.0);
    let me = m.get("/", "GET").expect("merged");
    assert_eq!(me.num_requests, 6);
    assert_eq!(me.num_none_requests, 2);
    assert_eq!(me.num_failures, 2);
    assert_eq!(me.response_times.get(150), 2);
    assert_eq!(me.num_reqs_per_sec.get((T0 + 2.0) as i64), 4);
    assert_eq!(me.last_request_timestamp, Some(T0 + 2.5));
    assert_eq!(me.min_response_time, Some(PyNum::Float(2.5)));
    assert_eq!(me.max_response_time, PyNum::Float(150.0));
    assert_eq!(m.total().num_requests, 6);
    assert_eq!(m.errors().len(), 1);
    assert_eq!(m.errors()[0].occurrences, 2);
    // An entry from a worker joins the master's cache.
    assert!(me.uses_cache());
}

/// Rough throughput of `log()`; run with `--ignored --nocapture`.
#[test]
#[ignore]
fn log_throughput() {
    let names: Vec<&'static str> = vec!["/", "/item.html", "/missing", "/api/a", "/api/b"];
    let mut s = RequestStats::new(T0);
    let n = 1_000_000;
    let started = std::time::Instant::now();
    for i in 0..n {
        let name = names[i % names.len()];
        let failure = (i % 10 == 0).then(|| Failure::Status {
            code: 404,
            reason: "Not Found".into(),
            url: name.into(),
        });
        s.log(&rec(
            name,
            Some((i % 997) as f64 * 1.37),
            failure,
            T0 + i as f64 / 20_000.0,
        ));
    }
    let el = started.elapsed();
    println!("{n} logs in {el:?} ({:.0}/s)", n as f64 / el.as_secs_f64());
    assert_eq!(s.total().num_requests, n as u64);
}

fn owned_rec(name: String, failure: Option<Failure>, ts: f64) -> RequestRecord {
    RequestRecord {
        method: Cow::Borrowed("GET"),
        name: Cow::Owned(name),
        response_time_ms: Some(1.0),
        content_length: 3,
        failure,
        timestamp: ts,
        scheduled_at: None,
    }
}

fn small_limits() -> StatsLimits {
    StatsLimits {
        max_request_names: 5,
        max_failure_rows: 3,
    }
}

#[test]
fn request_names_beyond_the_cap_share_one_overflow_row() {
    let mut s = RequestStats::with_limits(true, small_limits(), T0);
    let n = 1_000u64;
    for i in 0..n {
        s.log(&owned_rec(format!("/u/{i}"), None, T0 + i as f64 / 100.0));
        assert!(s.entries_in_order().len() <= 5 + 1, "after {i} names");
    }
    assert_eq!(s.entries_in_order().len(), 6);
    // The first names keep their rows; the rest are counted on the overflow row.
    assert_eq!(s.get("/u/4", "GET").map(|e| e.num_requests), Some(1));
    assert!(s.get("/u/5", "GET").is_none());
    let over = s.get(OVERFLOW_NAME, OVERFLOW_METHOD).expect("overflow row");
    assert_eq!(over.num_requests, n - 5);
    assert_eq!(over.total_content_length, 3 * (n - 5));
    // Totals stay exact.
    assert_eq!(s.total().num_requests, n);
    let sum: u64 = s.entries_in_order().iter().map(|e| e.num_requests).sum();
    assert_eq!(sum, n);
    assert_eq!(s.overflowed().names, n - 5);
    assert_eq!(s.overflowed().failures, 0);
    // A name already in the table still gets its own row after the cap is reached.
    s.log(&owned_rec("/u/0".into(), None, T0 + 20.0));
    assert_eq!(s.get("/u/0", "GET").map(|e| e.num_requests), Some(2));
}

#[test]
fn failure_rows_beyond_the_cap_share_one_overflow_row() {
    let mut s = RequestStats::with_limits(true, small_limits(), T0);
    let n = 500u64;
    for i in 0..n {
        // One name, a distinct error text per request (a request id in the reason).
        let f = Failure::Status {
            code: 500,
            reason: format!("req {i}"),
            url: "/api".into(),
        };
        s.log(&owned_rec("/api".into(), Some(f), T0 + i as f64));
        assert!(s.errors_in_order().len() <= 3 + 1, "after {i} errors");
    }
    assert_eq!(s.errors_in_order().len(), 4);
    let over = s
        .errors_in_order()
        .iter()
        .find(|e| e.error == OVERFLOW_ERROR)
        .expect("overflow failure row");
    assert_eq!(over.occurrences, n - 3);
    assert_eq!(over.first_seen, Some(T0 + 3.0));
    assert_eq!(over.last_seen, Some(T0 + (n - 1) as f64));
    let occurrences: u64 = s.errors_in_order().iter().map(|e| e.occurrences).sum();
    assert_eq!(occurrences, n);
    assert_eq!(s.total().num_failures, n);
    assert_eq!(s.get("/api", "GET").map(|e| e.num_failures), Some(n));
    assert_eq!(s.overflowed().failures, n - 3);
    // An error already in the table keeps counting on its own row.
    let f = Failure::Status {
        code: 500,
        reason: "req 0".into(),
        url: "/api".into(),
    };
    s.log(&owned_rec("/api".into(), Some(f), T0 + 900.0));
    assert_eq!(s.errors_in_order()[0].occurrences, 2);
}

#[test]
fn failures_of_overflowed_names_are_filed_under_the_overflow_name() {
    let mut s = RequestStats::with_limits(true, small_limits(), T0);
    for i in 0..50 {
        let f = Failure::Check("bad".into());
        s.log(&owned_rec(format!("/n/{i}"), Some(f), T0 + 1.0));
    }
    // Names 0-4 have entries, names 0-2 failure rows; the errors of 3, 4 and of the overflow
    // entry are new keys past the failures cap, so they share the overflow failure row.
    assert_eq!(s.errors_in_order().len(), 4);
    assert!(s
        .errors_in_order()
        .iter()
        .all(|e| e.name.starts_with("/n/") || e.error == OVERFLOW_ERROR));
    assert_eq!(s.total().num_failures, 50);
    assert_eq!(
        s.errors_in_order()
            .iter()
            .map(|e| e.occurrences)
            .sum::<u64>(),
        50
    );
    assert_eq!(
        s.get(OVERFLOW_NAME, OVERFLOW_METHOD)
            .map(|e| e.num_failures),
        Some(45)
    );
}

#[test]
fn overflowed_names_share_the_overflow_name_in_the_failures_table() {
    let limits = StatsLimits {
        max_request_names: 2,
        max_failure_rows: 100,
    };
    let mut s = RequestStats::with_limits(true, limits, T0);
    for i in 0..40 {
        s.log(&owned_rec(
            format!("/x/{i}"),
            Some(Failure::Check("bad".into())),
            T0,
        ));
    }
    let names: Vec<&str> = s
        .errors_in_order()
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, vec!["/x/0", "/x/1", OVERFLOW_NAME]);
    assert_eq!(s.errors_in_order()[2].occurrences, 38);
}

#[test]
fn a_master_merging_workers_stays_within_the_caps() {
    let mut m = RequestStats::with_limits(true, small_limits(), T0);
    let mut total = 0u64;
    for w in 0..20u64 {
        let mut worker = RequestStats::with_cache(false, T0);
        for i in 0..10u64 {
            let f = Failure::Check(format!("w{w} e{i}"));
            worker.log(&owned_rec(format!("/w{w}/{i}"), Some(f), T0 + 1.0));
            total += 1;
        }
        m.merge_report(&worker.take_report(T0 + 2.0), T0 + 2.0);
        assert!(m.entries_in_order().len() <= 6);
        assert!(m.errors_in_order().len() <= 4);
    }
    assert_eq!(m.total().num_requests, total);
    assert_eq!(
        m.entries_in_order()
            .iter()
            .map(|e| e.num_requests)
            .sum::<u64>(),
        total
    );
    assert_eq!(
        m.errors_in_order()
            .iter()
            .map(|e| e.occurrences)
            .sum::<u64>(),
        total
    );
}

#[test]
fn resets_keep_the_caps() {
    let mut s = RequestStats::with_limits(true, small_limits(), T0);
    for i in 0..20 {
        s.log(&owned_rec(format!("/r/{i}"), None, T0));
    }
    s.reset_all(T0 + 1.0);
    for i in 20..40 {
        s.log(&owned_rec(format!("/r/{i}"), None, T0 + 2.0));
    }
    // reset_all keeps the entries (as Locust), so the newcomers still overflow.
    assert_eq!(s.entries_in_order().len(), 6);
    s.clear_all(T0 + 3.0);
    for i in 40..60 {
        s.log(&owned_rec(format!("/r/{i}"), None, T0 + 4.0));
    }
    assert_eq!(s.entries_in_order().len(), 6);
    assert_eq!(s.get("/r/44", "GET").map(|e| e.num_requests), Some(1));
    assert_eq!(
        s.get(OVERFLOW_NAME, OVERFLOW_METHOD)
            .map(|e| e.num_requests),
        Some(15)
    );
}
