//! The template's binary run as a user runs it: `--list`, and a short headless run against the
//! reference classifier that skein starts itself when no `-H` is given, read back from its CSV.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_my-loadtest");

/// Runs the binary to its end; a run that outlives `limit` is killed (a bound on a hung
/// process, not a timing assertion).
fn run(args: &[&str], cwd: &Path, limit: Duration) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        // Nothing from the caller's environment or config files steers the run.
        .env_remove("LOCUST_HOST")
        .env("HOME", cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start my-loadtest");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("collect output")
}

#[test]
fn list_shows_this_binarys_classes_not_skeins() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["--list"], dir.path(), Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout, "Available Users:\n    ClassifyUser\n");
}

#[test]
fn headless_run_against_the_reference_service_records_this_scenarios_requests() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    let out = run(
        &[
            "--headless",
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "3s",
            "--only-summary",
            "--csv",
            prefix.to_str().unwrap(),
        ],
        dir.path(),
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("started the reference classifier service"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stats = std::fs::read_to_string(dir.path().join("run_stats.csv")).unwrap();
    let rows: Vec<Vec<&str>> = stats
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let row = |method: &str, name: &str| {
        rows.iter()
            .find(|r| r[0] == method && r[1] == name)
            .unwrap_or_else(|| panic!("no {method} {name} row in\n{stats}"))
    };
    for (method, name) in [
        ("POST", my_loadtest::CLASSIFY_NAME),
        ("GET", my_loadtest::HEALTH_PATH),
    ] {
        let r = row(method, name);
        let requests: u64 = r[2].parse().unwrap();
        let failures: u64 = r[3].parse().unwrap();
        assert!(requests > 0, "{stats}");
        assert_eq!(failures, 0, "{stats}");
    }
    // Only this scenario's requests: skein's own catalogue (e.g. /api/v1/model/info) never ran.
    assert!(!stats.contains("/api/v1/model/info"), "{stats}");
}

#[test]
fn tags_select_within_this_binarys_classes() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    let out = run(
        &[
            "--headless",
            "-u",
            "1",
            "-t",
            "2s",
            "-T",
            "health",
            "--only-summary",
            "--csv",
            prefix.to_str().unwrap(),
        ],
        dir.path(),
        Duration::from_secs(120),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = std::fs::read_to_string(dir.path().join("run_stats.csv")).unwrap();
    assert!(stats.contains(my_loadtest::HEALTH_PATH), "{stats}");
    assert!(!stats.contains(my_loadtest::CLASSIFY_NAME), "{stats}");
}

#[test]
fn an_unknown_class_name_is_a_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &["--headless", "-t", "1s", "ImageClassifierUser"],
        dir.path(),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Unknown User(s): ImageClassifierUser"),
        "{stderr}"
    );
}
