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
    // The summary is on stderr, as Locust logs it.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\nResponse time percentiles (approximated)\n"),
        "{stderr}"
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
    // As Locust: the summary is logged to stderr; stdout stays empty in a headless run.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\nError report\n"), "{stderr}");
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

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Where `needle` first occurs in `hay`, failing with the whole text when it does not.
fn at(hay: &str, needle: &str) -> usize {
    hay.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} missing from:\n{hay}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_is_printed_to_stderr_in_locusts_order() {
    let svc = spawn_local().await.unwrap();
    let out = skein(&[
        "--headless",
        "-H",
        &svc.base_url(),
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "3s",
        "HighLoadUser",
    ])
    .await;
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        out.stdout.is_empty(),
        "a headless run prints nothing on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.ends_with(&format!(
            "/INFO/skein.app: Starting skein {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{err}"
    );
    // Locust's order: limit, first (empty) table, ramp, spawned.
    let limit = at(&err, "INFO/skein.app: Run time limit set to 3 seconds\n");
    let table = at(&err, "\nType     Name ");
    let ramp = at(&err, "Ramping to 2 users at a rate of 2.00 per second\n");
    let spawned = at(
        &err,
        "All users spawned: {\"HighLoadUser\": 2} (2 total users)\n",
    );
    assert!(
        limit < table && table < ramp && ramp < spawned,
        "{limit} {table} {ramp} {spawned}: {err}"
    );
    assert!(
        err[table..ramp].contains("\n         Aggregated       "),
        "the first table is the empty one: {err}"
    );
    // The exit code is logged before the final tables, which end the output.
    let shutting = at(&err, "INFO/skein.app: Shutting down (exit code 0)\n");
    // The last stats table (the percentile table's header also starts with "Type     Name").
    let last_table = err.rfind("\nType     Name ").unwrap();
    let last_table = err[..last_table].rfind("\nType     Name ").unwrap();
    assert!(shutting < last_table, "{err}");
    assert!(
        err[last_table..].contains("Aggregated")
            && err[last_table..].contains("\n\nResponse time percentiles (approximated)\n"),
        "{err}"
    );
    assert!(err.ends_with("\n\n"), "one blank line after the last block");
    assert!(!err.contains("\n\n\n"), "never two blank lines: {err}");
    assert!(!err.contains("Error report"), "no errors, no report: {err}");
}

/// A server that answers every request with `200 {}`: the classifier's check fails with the
/// scenario's own message.
async fn empty_json_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { axum::Json(serde_json::json!({})) });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_report_prints_a_checks_message_without_quotes() {
    let (host, server) = empty_json_server().await;
    let out = skein(&[
        "--headless",
        "-H",
        &host,
        "-u",
        "1",
        "-r",
        "1",
        "-t",
        "2s",
        "--only-summary",
        "HighLoadUser",
    ])
    .await;
    server.abort();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let report = &err[at(&err, "\nError report\n")..];
    assert!(
        report
            .contains(" POST /api/v1/classify: classification response has no predictions array "),
        "{report}"
    );
    assert!(!report.contains("CatchResponseError"), "{report}");
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_stays_on_stdout_and_the_tables_on_stderr() {
    let svc = spawn_local().await.unwrap();
    let out = skein(&[
        "--headless",
        "-H",
        &svc.base_url(),
        "-u",
        "1",
        "-r",
        "1",
        "-t",
        "2s",
        "--json",
        "HighLoadUser",
    ])
    .await;
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("[\n    {\n") && stdout.ends_with("]\n"),
        "{stdout}"
    );
    serde_json::from_str::<serde_json::Value>(&stdout).unwrap();
    assert!(
        err.contains("\nResponse time percentiles (approximated)\n"),
        "{err}"
    );
}

#[tokio::test]
async fn command_line_errors_read_as_locusts() {
    let out = skein(&["--headless", "-t", "bogus"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_of(&out),
        "skein: error: argument -t/--run-time: Invalid time span format. Valid formats: 20, \
         20s, 3m, 2h, 1h20m, 3h30m10s, etc.\n"
    );
    let out = skein(&["--headless", "-r", "-inf"]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("'-inf'") && err.contains("--spawn-rate"),
        "{err}"
    );

    let out = skein(&["-V"]).await;
    assert_eq!(out.status.code(), Some(0));
    let v = String::from_utf8(out.stdout).unwrap();
    assert!(
        v.starts_with("skein ") && v.ends_with(")\n") && v.lines().count() == 1,
        "{v:?}"
    );
}

#[tokio::test]
async fn logfile_folders_are_created_and_failures_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("new").join("deeper").join("skein.log");
    let out = skein(&["--logfile", log.to_str().unwrap(), "-l"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(log.exists(), "missing folders are created, as Locust does");

    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let bad = file.join("skein.log");
    let out = skein(&["--logfile", bad.to_str().unwrap(), "--headless", "-t", "1s"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("cannot open the log file {}", bad.display())),
        "{err}"
    );
}

#[tokio::test]
async fn classifier_help_describes_the_service() {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein-classifier"))
        .arg("--help")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), child)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("image-classifier service"), "{help}");
    assert!(
        help.contains("/api/v1/classify") && help.contains("--bind"),
        "{help}"
    );
    assert!(
        !help.contains("load tester;"),
        "not the load tester's description: {help}"
    );
}

#[tokio::test]
async fn html_path_under_a_file_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let html = file.join("report.html");
    let out = skein(&[
        "--headless",
        "-H",
        "http://127.0.0.1:9",
        "-t",
        "30s",
        "--html",
        html.to_str().unwrap(),
        "HighLoadUser",
    ])
    .await;
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot write {}", html.display())),
        "{err}"
    );
    assert!(!err.contains("Ramping"), "no user started: {err}");
}

/// The CSV folder removed mid-run: the error is logged once, the run goes on to its end, the
/// summary is printed and the exit code is 74 (an output failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_folder_removed_mid_run_keeps_the_summary() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};

    let svc = spawn_local().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("csv");
    let prefix = folder.join("run");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .args([
            "--headless",
            "-H",
            &svc.base_url(),
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "3s",
            "--csv",
            prefix.to_str().unwrap(),
            "--only-summary",
            "HighLoadUser",
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    // The files exist once the users run: remove their folder then.
    let spawned = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("All users spawned") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap();
    assert!(spawned, "{seen}");
    assert!(prefix.with_file_name("run_stats.csv").exists());
    std::fs::remove_dir_all(&folder).unwrap();
    let mut rest = String::new();
    let mut inner = lines.into_inner();
    tokio::time::timeout(Duration::from_secs(60), inner.read_to_string(&mut rest))
        .await
        .unwrap()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .unwrap()
        .unwrap();
    let err = seen + &rest;
    assert_eq!(status.code(), Some(74), "{err}");
    assert_eq!(
        err.matches("CSV output stopped").count(),
        1,
        "logged once: {err}"
    );
    assert!(err.contains("/ERROR/skein.output: cannot write "), "{err}");
    let shutting = at(&err, "Shutting down (exit code 74)\n");
    let summary = at(&err, "\nResponse time percentiles (approximated)\n");
    assert!(shutting < summary, "{err}");
    assert!(
        err.contains("--run-time limit reached"),
        "the run went on to its end: {err}"
    );
}

/// SIGTERM ends a headless run as Locust's handler does: "Got SIGTERM signal", the exit code,
/// then the summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_logs_locusts_line_and_prints_the_summary() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};

    let svc = spawn_local().await.unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .args([
            "--headless",
            "-H",
            &svc.base_url(),
            "-u",
            "1",
            "-r",
            "1",
            "--only-summary",
            "HighLoadUser",
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let spawned = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("All users spawned") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap();
    assert!(spawned, "{seen}");
    // SAFETY: signalling the child we spawned, which is still running (its stderr is open).
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    let mut rest = String::new();
    let mut inner = lines.into_inner();
    tokio::time::timeout(Duration::from_secs(60), inner.read_to_string(&mut rest))
        .await
        .unwrap()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .unwrap()
        .unwrap();
    let err = seen + &rest;
    assert!(
        status.code().is_some(),
        "a clean exit, not the signal: {err}"
    );
    let got = at(&err, "/INFO/skein.app: Got SIGTERM signal\n");
    let shutting = at(&err, "/INFO/skein.app: Shutting down (exit code ");
    let summary = at(&err, "\nResponse time percentiles (approximated)\n");
    assert!(got < shutting && shutting < summary, "{err}");
}
