use super::*;
use crate::stats::testdata::{fakeworker_master, sample};

/// The block of `log` that starts at the last line equal to `first` before `before`
/// and runs through the next blank line (inclusive).
fn block(log: &str, starts_with: &str, nth_from_end: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with(starts_with))
        .map(|(i, _)| i)
        .collect();
    let s = starts[starts.len() - 1 - nth_from_end];
    let mut out = String::new();
    for l in &lines[s..] {
        out.push_str(l);
        out.push('\n');
        if l.is_empty() {
            break;
        }
    }
    out
}

#[test]
fn final_tables_match_fakeworker_master_log() {
    let m = fakeworker_master();
    let log = sample("fakeworker_master.log");
    assert_eq!(stats_table(&m, false), block(&log, "Type     Name", 1));
    assert_eq!(
        percentiles_table(&m),
        block(&log, "Response time percentiles", 0)
    );
    assert_eq!(error_report(&m), block(&log, "Error report", 0));
}

#[test]
fn empty_table_matches_run1_log() {
    let s = crate::stats::RequestStats::new(1_795_807_733.0);
    let log = sample("run1_master.log");
    let lines: Vec<&str> = log.lines().collect();
    let want: String = lines[1..6].iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(stats_table(&s, true), want);
    assert_eq!(error_report(&s), "");
}

#[test]
fn catch_response_errors_are_unwrapped_in_the_report() {
    let mut s = crate::stats::RequestStats::new(1_795_807_733.0);
    s.log_request("GET", "/", Some(3.0), 6, 1_795_807_734.0);
    s.log_error(
        "GET",
        "/",
        "CatchResponseError('custom failure text')",
        1_795_807_734.0,
    );
    let r = error_report(&s);
    assert!(r.contains("\n1                  GET /: 'custom failure text'"));
    let run1 = sample("run1_master.log");
    assert!(run1.contains("11                 GET /: 'custom failure text'"));
    // Periodic tables use current RPS: nothing in the window yet.
    assert!(stats_table(&s, true)
        .contains("      1   1(100.00%) |      3       3       3      3 |    0.00        0.00"));
}
