use std::borrow::Cow;

use skein_api::RequestRecord;

use super::*;
use crate::stats::ArrivalCounts;

fn stats() -> OpenStats {
    let mut s = OpenStats::new(100, 0.0);
    s.begin(20.0, 100.0);
    for i in 0..10 {
        s.log(&RequestRecord {
            method: Cow::Borrowed("GET"),
            name: Cow::Borrowed("/api/v1/health"),
            response_time_ms: Some(20.0),
            content_length: 0,
            failure: None,
            // Each one 100 ms later than the one before it.
            timestamp: 100.0 + i as f64 * 0.05 + 0.02 + i as f64 * 0.1,
            scheduled_at: Some(100.0 + i as f64 * 0.05),
        });
    }
    s.count(
        ArrivalCounts {
            scheduled: 12,
            started: 10,
            late: 9,
            dropped: 2,
        },
        102.0,
    );
    s
}

#[test]
fn a_closed_model_run_has_no_open_block() {
    let s = OpenStats::new(100, 0.0);
    assert!(summary(&s).is_none());
    assert!(summary_json(&s).is_none());
}

#[test]
fn the_block_shows_rates_counts_and_both_latencies() {
    let text = summary(&stats()).unwrap();
    assert!(
        text.contains("Rate: 20 iterations/s asked, 5.00 achieved over 2.0 s"),
        "{text}"
    );
    assert!(
        text.contains("Iterations: 12 scheduled, 10 started, 9 late (> 10 ms), 2 dropped"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("GET "))
        .expect("a row per name");
    let cells: Vec<&str> = row.split_whitespace().collect();
    // GET, name, count, then p50/p95/p99 corrected (920 ms late at worst), then Locust's.
    assert_eq!(
        cells,
        [
            "GET",
            "/api/v1/health",
            "10",
            "|",
            "520",
            "920",
            "920",
            "|",
            "20",
            "20",
            "20"
        ]
    );
    assert!(text.contains("Aggregated"));
    assert!(text.ends_with("\n\n"));
}

#[test]
fn the_json_has_the_counts_and_percentiles() {
    let v = summary_json(&stats()).unwrap();
    assert_eq!(v["arrival_rate"], 20.0);
    assert_eq!(v["dropped"], 2);
    assert_eq!(v["late_threshold_ms"], 10.0);
    assert_eq!(v["entries"][0]["corrected_ms"]["p95"], 920);
    assert_eq!(v["total"]["response_time_ms"]["p50"], 20);
}

#[test]
fn the_html_report_section_shows_the_counts_and_both_latencies() {
    let s = stats();
    let args = json!({ "open_model": summary_json(&s).unwrap() });
    let html = html_section(&args);
    assert!(html.contains("<h2>Open model</h2>"), "{html}");
    assert!(
        html.contains("Iterations: 12 scheduled, 10 started, 9 late (&gt; 10 ms), 2 dropped"),
        "{html}"
    );
    assert!(
        html.contains("<td>/api/v1/health</td><td>10</td>"),
        "{html}"
    );
    assert!(html.contains("<td>Aggregated</td>"), "{html}");
    // Nothing in a closed-model run, and names are escaped.
    assert!(html_section(&json!({ "open_model": null })).is_empty());
    let mut evil = summary_json(&s).unwrap();
    evil["entries"][0]["name"] = json!("<script>");
    let html = html_section(&json!({ "open_model": evil }));
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
}
