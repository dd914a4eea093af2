//! End-to-end headless runs of the real `skein` binary against the reference classifier
//! service on loopback: what skein counted must equal what the service counted, route by
//! route, and the CSV files must read like Locust's.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use skein::classifier::{spawn_local, LocalClassifier};


async fn skein(args: &[&str]) -> Output {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .args(args)
        .env_remove("LOCUST_HOST")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(120), child)
        .await
        .expect("skein ended within 120 s")
        .expect("skein ran")
}

/// `(method, route) -> requests` from a `_stats.csv`, request names folded onto their route
/// (`/api/v1/classify [invalid image]` is a POST to `/api/v1/classify`).
fn counts_by_route(stats_csv: &Path) -> BTreeMap<(String, String), u64> {
    let text = std::fs::read_to_string(stats_csv).unwrap();
    let mut out = BTreeMap::new();
    for line in text.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = line.split(',').collect();
        if cols[1] == "Aggregated" {
            continue;
        }
        let route = cols[1].split(" [").next().unwrap().to_string();
        *out.entry((cols[0].to_string(), route)).or_insert(0) += cols[2].parse::<u64>().unwrap();
    }
    out
}

fn aggregated(stats_csv: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(stats_csv).unwrap();
    let line = text
        .split("\r\n")
        .find(|l| l.starts_with(",Aggregated,"))
        .expect("an Aggregated row")
        .to_string();
    line.split(',').map(str::to_string).collect()
}

async fn run_class(
    class: &str,
    users: &str,
    seconds: &str,
) -> (LocalClassifier, tempfile::TempDir, Output) {
    let svc = spawn_local().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    let out = skein(&[
        "--headless",
        "-H",
        &svc.base_url(),
        "-u",
        users,
        "-r",
        users,
        "-t",
        seconds,
        // Let running requests finish at the end so every request the service saw is counted.
        "-s",
        "60s",
        "--csv",
        prefix.to_str().unwrap(),
        "--only-summary",
        class,
    ])
    .await;
    (svc, dir, out)
}

fn assert_counts_match(
    svc: &LocalClassifier,
    dir: &tempfile::TempDir,
    expect_routes: &[(&str, &str)],
) {
    let ours = counts_by_route(&dir.path().join("run_stats.csv"));
    for (method, route) in expect_routes {
        let mine = ours
            .get(&(method.to_string(), route.to_string()))
            .copied()
            .unwrap_or(0);
        assert!(mine > 0, "no {method} {route} request was made: {ours:?}");
    }
    for ((method, route), n) in &ours {
        assert_eq!(
            svc.counters.route_total(route, method),
            *n,
            "{method} {route}: skein counted {n}, the service another number"
        );
    }
    let total: u64 = ours.values().sum();
    assert_eq!(
        svc.counters.total(),
        total,
        "every request the service saw is in the stats"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_classifier_user_counts_match_the_service() {
    let (svc, dir, out) = run_class("ImageClassifierUser", "6", "8s").await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_counts_match(
        &svc,
        &dir,
        &[
            ("GET", "/api/v1/health"),
            ("GET", "/api/v1/model/info"),
            ("POST", "/api/v1/classify"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Response time percentiles (approximated)"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_load_user_counts_match_the_service() {
    let (svc, dir, out) = run_class("HighLoadUser", "4", "5s").await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_counts_match(
        &svc,
        &dir,
        &[("GET", "/api/v1/health"), ("POST", "/api/v1/classify")],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_testing_user_counts_match_the_service() {
    let (svc, dir, out) = run_class("ErrorTestingUser", "8", "9s").await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "rejections are expected, not failures: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_counts_match(&svc, &dir, &[("POST", "/api/v1/classify")]);
    let stats = std::fs::read_to_string(dir.path().join("run_stats.csv")).unwrap();
    assert!(
        stats.contains("["),
        "each error case has its own request name: {stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_files_read_like_locusts() {
    let (_svc, dir, out) = run_class("HighLoadUser", "3", "4s").await;
    assert_eq!(out.status.code(), Some(0));
    let ours = dir.path().join("run");
    // check_csv.py reads `<prefix>_stats.csv` etc.; the fixture call checks one exists.
    let theirs = skein::testing::fixture("locust/run1_stats.csv").with_file_name("run1");
    let check = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/check_csv.py"))
        .arg(&ours)
        .arg(&theirs)
        .output()
        .expect("python3");
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    // The history file ticks every second from the start, and its last tick follows the final stats.
    let history = std::fs::read_to_string(dir.path().join("run_stats_history.csv")).unwrap();
    let rows: Vec<&str> = history.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(rows.len() >= 4, "{history}");
    let last: Vec<&str> = rows.last().unwrap().split(',').collect();
    let total = aggregated(&dir.path().join("run_stats.csv"));
    assert_eq!(
        last[17], total[2],
        "the last history row carries the final request count"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_give_the_exit_code_on_error() {
    // Nothing listens on this port: every request fails with a connection error.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("f");
    let out = skein(&[
        "--headless",
        "-H",
        &host,
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "2s",
        "--exit-code-on-error",
        "3",
        "--csv",
        prefix.to_str().unwrap(),
        "HighLoadUser",
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let failures = std::fs::read_to_string(dir.path().join("f_failures.csv")).unwrap();
    assert!(
        failures.contains("ConnectionRefusedError(111, 'Connection refused')"),
        "{failures}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Error report"), "{stdout}");
}

#[tokio::test]
async fn bad_values_exit_2_naming_flag_and_value() {
    let out = skein(&["--headless", "-u", "lots"]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lots") && err.contains("--users"), "{err}");
}

#[tokio::test]
async fn unknown_user_class_exits_1() {
    let out = skein(&["--headless", "-t", "1s", "NoSuchUser"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unknown User(s): NoSuchUser"));
}

#[tokio::test]
async fn list_shows_the_classes() {
    let out = skein(&["-l"]).await;
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for class in [
        "ImageClassifierUser",
        "HighLoadUser",
        "ErrorTestingUser",
        "ThroughputUser",
    ] {
        assert!(text.contains(class), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_host_it_runs_the_embedded_service() {
    let out = skein(&[
        "--headless",
        "-u",
        "3",
        "-r",
        "3",
        "-t",
        "3s",
        "--json",
        "HighLoadUser",
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("started the reference classifier service on http://127.0.0.1:"),
        "{err}"
    );
    let entries: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints JSON on stdout");
    let entries = entries.as_array().unwrap();
    assert!(entries
        .iter()
        .any(|e| e["name"] == "/api/v1/health" && e["num_requests"].as_u64().unwrap() > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_report_matches_the_csv_of_the_same_run() {
    let svc = spawn_local().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("r");
    let html = dir.path().join("report_{u}u.html");
    let out = skein(&[
        "--headless",
        "-H",
        &svc.base_url(),
        "-u",
        "3",
        "-r",
        "3",
        "-t",
        "4s",
        "-s",
        "30s",
        "--csv",
        prefix.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--only-summary",
        "HighLoadUser",
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(dir.path().join("report_3u.html"))
        .expect("{u} replaced by the user count");
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "the report must open offline"
    );
    let stats = std::fs::read_to_string(dir.path().join("r_stats.csv")).unwrap();
    for line in stats.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = line.split(',').collect();
        // Each row's name and request count appear in the report's data.
        assert!(
            page.contains(&format!("\"{}\"", cols[1])),
            "{} missing from the report",
            cols[1]
        );
        assert!(
            page.contains(&format!("\"num_requests\":{}", cols[2]))
                || page.contains(&format!("\"num_requests\": {}", cols[2])),
            "request count {} of {} missing from the report",
            cols[2],
            cols[1]
        );
    }
}
