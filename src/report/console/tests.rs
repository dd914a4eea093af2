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
    // Periodic tables use current RPS: nothing in the window yet.
    assert!(stats_table(&s, true)
        .contains("      1   1(100.00%) |      3       3       3      3 |    0.00        0.00"));
    s.log_error(
        "GET",
        "/",
        "CatchResponseError(\"it's \\n quoted\")",
        1_795_807_734.0,
    );
    // Standalone, as Locust 2.47 prints it: the message itself, no quotes.
    let r = error_report(&s);
    assert!(
        r.contains("\n1                  GET /: custom failure text    "),
        "{r}"
    );
    // Its escapes are read back: Python prints the message's real newline.
    assert!(
        r.contains("\n1                  GET /: it's \n quoted   "),
        "{r}"
    );
    // A master merging workers' texts keeps the quotes (run1_master.log).
    let m = error_report_width(&s, STATS_NAME_WIDTH, ErrorOrigin::Workers);
    assert!(
        m.contains("\n1                  GET /: 'custom failure text'"),
        "{m}"
    );
    let run1 = sample("run1_master.log");
    assert!(run1.contains("11                 GET /: 'custom failure text'"));
    // Other errors are printed as recorded in both cases.
    s.log_error(
        "GET",
        "/",
        "ConnectionRefusedError(111, 'Connection refused')",
        1.0,
    );
    assert!(error_report(&s).contains("GET /: ConnectionRefusedError(111, 'Connection refused')"));
}

/// Each block ends with exactly one blank line, so the summary printed as the three blocks
/// one after another reads as fakeworker_master.log's tail.
#[test]
fn summary_blocks_are_separated_by_one_blank_line() {
    let m = fakeworker_master();
    let summary = format!(
        "{}{}{}",
        stats_table(&m, false),
        percentiles_table(&m),
        error_report(&m)
    );
    let log = sample("fakeworker_master.log");
    // The last stats-table header starts the final summary; the log ends with the error report.
    let header = log.rfind("# reqs      # fails").unwrap();
    let start = log[..header].rfind('\n').map_or(0, |i| i + 1);
    assert_eq!(summary, &log[start..]);
    assert!(!summary.contains("\n\n\n"));
}
