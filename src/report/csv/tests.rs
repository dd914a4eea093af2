use super::*;
use crate::stats::testdata::{fakeworker_master, sample};
use crate::stats::{Exceptions, RequestStats};

fn lines(text: &str) -> Vec<&str> {
    text.split("\r\n").filter(|l| !l.is_empty()).collect()
}

#[test]
fn headers_match_samples() {
    for f in [
        "run1_stats.csv",
        "run2_fullhistory_stats.csv",
        "fakeworker_run_stats.csv",
    ] {
        assert_eq!(lines(&sample(f))[0], stats_header().trim_end(), "{f}");
    }
    for f in [
        "run1_stats_history.csv",
        "run2_fullhistory_stats_history.csv",
    ] {
        // The history file is written with \r\n too; take the first line either way.
        let text = sample(f);
        let first = text.lines().next().unwrap().trim_end_matches('\r');
        assert_eq!(first, history_header().trim_end(), "{f}");
    }
    assert_eq!(
        lines(&sample("run1_failures.csv"))[0],
        failures_header().trim_end()
    );
    assert_eq!(
        lines(&sample("run1_exceptions.csv"))[0],
        exceptions_header().trim_end()
    );
}

#[test]
fn sample_rows_have_the_column_shapes_we_write() {
    // Every real stats row: ints where we write ints, Python floats where we write floats.
    for f in [
        "run1_stats.csv",
        "run2_fullhistory_stats.csv",
        "fakeworker_run_stats.csv",
    ] {
        for row in lines(&sample(f)).iter().skip(1) {
            let cols: Vec<&str> = row.split(',').collect();
            assert_eq!(cols.len(), 22, "{f}: {row}");
            for c in &cols[2..4] {
                c.parse::<u64>().expect("count is an int");
            }
            for c in &cols[5..11] {
                let x: f64 = c.parse().expect("number");
                if c.contains('.') {
                    assert_eq!(crate::stats::pyfmt::float_repr(x), *c, "{f}");
                }
            }
            for c in &cols[11..] {
                assert!(*c == "N/A" || c.parse::<i64>().is_ok(), "{f}: {c}");
            }
        }
    }
}

#[test]
fn fakeworker_master_reproduces_stats_csv() {
    let m = fakeworker_master();
    assert_eq!(stats_csv(&m), sample("fakeworker_run_stats.csv"));
}

#[test]
fn fakeworker_master_reproduces_failures_csv() {
    let m = fakeworker_master();
    assert_eq!(failures_csv(&m), sample("fakeworker_run_failures.csv"));
}

#[test]
fn fakeworker_master_reproduces_last_history_row() {
    let m = fakeworker_master();
    let text = sample("fakeworker_run_stats_history.csv");
    let last = text.split("\r\n").filter(|l| !l.is_empty()).last().unwrap();
    let cols: Vec<&str> = last.split(',').collect();
    let now: f64 = cols[0].parse().unwrap();
    let users: u64 = cols[1].parse().unwrap();
    assert_eq!(history_rows(&m, now, users, false), format!("{last}\r\n"));
}

#[test]
fn empty_history_row_matches_sample() {
    let s = RequestStats::new(1_795_807_733.2);
    let want = "1795807733,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0\r\n";
    assert_eq!(history_rows(&s, 1_795_807_733.2, 0, false), want);
    assert_eq!(history_rows(&s, 1_795_807_733.2, 0, true), want);
    let mut stats = stats_header();
    stats.push_str(
        ",Aggregated,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\r\n",
    );
    assert_eq!(stats_csv(&s), stats);
}

#[test]
fn full_history_rows_use_windowed_percentiles() {
    // Rebuild the sample's first full-history tick: one request each, no 10 s-old snapshot yet.
    let t0 = 1_795_808_057.0;
    let mut s = RequestStats::new(t0 - 5.0);
    s.log_request("GET", "/missing", Some(2.962490999948386), 335, t0 + 0.4);
    s.log_error("GET", "/missing", "HTTPError('x')", t0 + 0.4);
    let rows = history_rows(&s, t0 + 1.0, 6, true);
    let want_missing = "1795808058,6,GET,/missing,0.000000,0.000000,0,0,0,0,0,0,0,0,0,0,0,1,1,2.962490999948386,2.962490999948386,2.962490999948386,2.962490999948386,335.0";
    let got: Vec<&str> = lines(&rows);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], want_missing);
    assert!(sample("run2_fullhistory_stats_history.csv").contains(want_missing));
    // Windowed once a snapshot 2-18 s old exists (the reset at t0-5 is 11 s old here).
    let rows = history_rows(&s, t0 + 6.0, 6, true);
    assert!(lines(&rows)[0].starts_with("1795808063,6,GET,/missing,0.000000,0.000000,3,3,3,"));
    // Without full history the Aggregated row is cumulative.
    let rows = history_rows(&s, t0 + 30.0, 6, false);
    assert!(rows.starts_with("1795808087,6,,Aggregated,0.000000,0.000000,3,3,"));
}

#[test]
fn failures_rows_are_sorted_by_key_and_timestamps_utc() {
    let mut s = RequestStats::new(1_795_800_000.0);
    s.log_error(
        "GET",
        "/",
        "CatchResponseError('custom failure text')",
        1_795_800_001.9,
    );
    s.log_error(
        "GET",
        "/missing",
        "HTTPError('404 Client Error: File not found for url: /missing')",
        1_795_800_002.0,
    );
    let out = failures_csv(&s);
    let rows = lines(&out);
    let keys: Vec<String> = s.errors().iter().map(|e| e.key()).collect();
    assert!(keys[0] < keys[1]);
    assert!(rows[1].starts_with(&format!("GET,{}", s.errors()[0].name)));
    assert!(out.contains("2026-11-27T"));
    assert_eq!(rows.len(), 3);
    assert!(rows[1..].iter().all(|r| r.ends_with('Z')));
}

#[test]
fn exceptions_csv_quotes_like_python() {
    let mut e = Exceptions::new();
    e.add(
        "boom, again",
        "  File \"x.py\", line 1\n    raise\n",
        "node1",
    );
    e.add(
        "boom, again",
        "  File \"x.py\", line 1\n    raise\n",
        "node2",
    );
    let out = exceptions_csv(&e);
    assert_eq!(
        out,
        "Count,Message,Traceback,Nodes\r\n2,\"boom, again\",\"  File \"\"x.py\"\", line 1\n    raise\n\",\"node1, node2\"\r\n"
    );
    // The real file has the same layout.
    let real = sample("run1_exceptions.csv");
    assert!(real.contains("\"  File \"\"/venv/"));
    assert!(real.ends_with("\r\n"));
}

#[test]
fn percentile_labels() {
    let labels: Vec<String> = PERCENTILES_TO_REPORT
        .iter()
        .map(|p| percentile_label(*p))
        .collect();
    let want: Vec<String> = crate::stats::testdata::vectors()["readable_percentiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels, want);
}

#[test]
fn history_samples_have_the_shapes_we_write() {
    for f in [
        "run1_stats_history.csv",
        "run2_fullhistory_stats_history.csv",
        "fakeworker_run_stats_history.csv",
    ] {
        let text = sample(f);
        assert!(text.contains("\r\n"), "{f} uses CRLF");
        for row in lines(&text).iter().skip(1) {
            let cols: Vec<&str> = row.split(',').collect();
            assert_eq!(cols.len(), 24, "{f}: {row}");
            cols[0].parse::<i64>().expect("timestamp");
            for c in &cols[4..6] {
                let x: f64 = c.parse().expect("rate");
                assert_eq!(crate::stats::pyfmt::fmt_2f(x), *c, "{f}: {row}");
            }
            for c in &cols[6..17] {
                assert!(*c == "N/A" || c.parse::<i64>().is_ok(), "{f}: {c}");
            }
            for c in &cols[19..] {
                let x: f64 = c.parse().expect("number");
                if c.contains('.') {
                    assert_eq!(crate::stats::pyfmt::float_repr(x), *c, "{f}");
                }
            }
        }
    }
}
