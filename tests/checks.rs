//! `--check` end to end: the real `skein` binary against the embedded reference service on
//! loopback. A failed check prints FAIL in the Checks block and exits 3 (over
//! `--exit-code-on-error`), a met one prints PASS and changes nothing, a bad rule exits 2
//! before anything runs, and the HTML report and a master's merged statistics carry them too.

mod common;

use std::process::Output;
use std::time::Duration;

async fn skein(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"));
    cmd.args(args)
        .env_remove("LOCUST_HOST")
        .env_remove("LOCUST_CHECK")
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("skein ended within 120 s")
        .expect("skein ran")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A short headless run of `HighLoadUser` on the embedded service, with `extra` arguments.
async fn run(extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec![
        "--headless",
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "2s",
        "--only-summary",
    ];
    args.extend_from_slice(extra);
    args.push("HighLoadUser");
    skein(&args, env).await
}

/// A loopback URL nobody listens on: every request fails with a connection error.
fn refused_host() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impossible_check_fails_the_run_with_exit_3() {
    let out = run(&["--check", "p50<0.001ms", "--check", "requests>=1"], &[]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("Checks: 1 of 2 failed\n"), "{err}");
    assert!(err.contains("  FAIL  p50<0.001ms  "), "{err}");
    assert!(err.contains(" is not < 0.001 ms (Aggregated)\n"), "{err}");
    assert!(err.contains("  PASS  requests>=1  "), "{err}");
    // After the final summary.
    let summary = err.find("Response time percentiles").expect("the summary");
    assert!(err.find("Checks: ").unwrap() > summary, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_met_check_passes_and_exits_0() {
    // From the environment this time, two rules separated by `;`.
    let out = run(
        &[],
        &[(
            "LOCUST_CHECK",
            // Not a health row: HighLoadUser's few requests in 2 s may all be classify.
            "classify p50<60s; all requests>=1",
        )],
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("Checks: all 2 passed\n"), "{err}");
    assert!(
        err.contains("  PASS  classify p50<60s  ") && err.contains("(POST /api/v1/classify)"),
        "{err}"
    );
    assert!(!err.contains("FAIL"), "{err}");
}

#[tokio::test]
async fn a_bad_rule_exits_2_before_the_run() {
    let out = skein(&["--headless", "-t", "1s", "--check", "p95<fast"], &[]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid check 'p95<fast': threshold 'fast' is not a number"),
        "{err}"
    );
    assert!(!err.contains("Starting skein"), "{err}");
}

/// A failed check wins over `--exit-code-on-error`; met checks leave it alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_check_wins_over_exit_code_on_error() {
    let host = refused_host();
    let base = ["-H", host.as_str(), "--exit-code-on-error", "5"];
    let mut args = base.to_vec();
    args.extend(["--check", "error-rate<0.1%"]);
    let out = run(&args, &[]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("  FAIL  error-rate<0.1%  100 % is not < 0.1 %"),
        "{err}"
    );

    let mut args = base.to_vec();
    args.extend(["--check", "requests>=1"]);
    let out = run(&args, &[]).await;
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_has_the_checks() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let out = run(
        &[
            "--html",
            html.to_str().unwrap(),
            "--check",
            "health p95<60s",
            "--check",
            "nosuchname p95<1s",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"section-checks\""), "the Checks section");
    // The data is script-safe JSON: `<` and `'` are escaped.
    assert!(
        page.contains("health p95\\u003c60s"),
        "the first check's data"
    );
    assert!(
        page.contains("no request named \\u0027nosuchname\\u0027"),
        "the failed one's reason"
    );
}

/// A master evaluates the checks on the statistics merged from its workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_checks_the_merged_statistics() {
    let out = skein(
        &[
            "--headless",
            "--processes",
            "1",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            "0",
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "3s",
            "--only-summary",
            "--check",
            "/ requests>=1",
            // `/` answers in under 0.5 ms, which Locust's histogram counts as 0 ms, so a
            // percentile could pass; the exact max cannot.
            "--check",
            "max<0.001ms",
            "ThroughputUser",
        ],
        &[],
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("  PASS  / requests>=1  "), "{err}");
    assert!(err.contains("(GET /)"), "{err}");
    assert!(err.contains("  FAIL  max<0.001ms    "), "{err}");
}

/// The web UI evaluates the checks live: `/stats/requests` carries them under `checks` (skein's
/// own key), the page has their panel, and the process still exits 3 at its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_shows_the_checks_live() {
    let mut cmd = common::skein_web(&["--autostart", "-u", "2", "-r", "2"]);
    cmd.args(["--check", "requests>=1", "--check", "nosuch p95<1s"])
        .arg("HighLoadUser")
        .env_remove("LOCUST_HOST")
        .env_remove("LOCUST_CHECK");
    let (mut child, port, rest) = common::start(cmd).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut checks = serde_json::Value::Null;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let stats: serde_json::Value = http
            .get(format!("{base}/stats/requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        checks = stats["checks"].clone();
        if checks[0]["passed"] == true {
            break;
        }
    }
    assert_eq!(checks[0]["status"], "PASS", "{checks}");
    assert_eq!(checks[0]["subject"], "Aggregated");
    assert_eq!(checks[1]["status"], "FAIL", "{checks}");
    assert!(
        checks[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("no request named 'nosuch'"),
        "{checks}"
    );
    let page = http.get(&base).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"checks-panel\""), "the page's panel");
    // SAFETY: kill(2) on the child this test started.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("skein ends on SIGTERM")
        .unwrap();
    let log = rest.await.unwrap();
    assert_eq!(status.code(), Some(3), "{log}");
    assert!(log.contains("  FAIL  nosuch p95<1s  "), "{log}");
}
