//! The generator's health at the end of real runs of the `skein` binary on loopback: the
//! summary's Generator block and verdict line, the HTML report's section, and a verdict that
//! says SUSPECT without changing the exit code.

mod common;

use std::process::Output;
use std::time::Duration;

use skein::classifier::spawn_local;

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

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn at(hay: &str, needle: &str) -> usize {
    hay.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} missing from:\n{hay}"))
}

/// The JSON the report carries in its `report-data` element.
fn report_data(html: &str) -> serde_json::Value {
    let open = "<script type=\"application/json\" id=\"report-data\">";
    let start = at(html, open) + open.len();
    let len = html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..start + len]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_ends_with_the_generator_block_and_the_verdict() {
    let svc = spawn_local().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
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
        "--only-summary",
        "--html",
        html.to_str().unwrap(),
        "ImageClassifierUser",
    ])
    .await;
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // After Locust's tables, in this order.
    let tables = at(&err, "Response time percentiles (approximated)");
    let block = at(&err, "\nGenerator (this skein process)\n");
    let cpu = at(&err, "\n  CPU: mean ");
    let memory = at(&err, "\n  Memory: peak RSS ");
    let net = at(&err, "\n  Network (whole network namespace): ");
    let verdict = at(&err, "\nRun verdict: valid\n");
    assert!(tables < block && block < cpu && cpu < memory && memory < net && net < verdict);
    // Some samples were taken while the users ran, and the loopback carried the requests.
    let line = &err[cpu..err[cpu + 1..].find('\n').unwrap() + cpu + 1];
    assert!(!line.contains(" in 0 of 0 samples"), "{line}");
    assert!(!err.contains("loopback 0 B in"), "{err}");

    let data = report_data(&std::fs::read_to_string(&html).unwrap());
    let g = &data["generator"];
    assert!(g["cpu_percent"]["samples"].as_u64().unwrap() >= 1, "{g}");
    assert!(g["rss_bytes"]["peak"].as_u64().unwrap() > 1 << 20, "{g}");
    assert!(
        g["network"]["loopback"]["rx_bytes"].as_u64().unwrap() > 0,
        "{g}"
    );
    let n = g["series"]["time"].as_array().unwrap().len();
    assert!((1..=60).contains(&n), "about one sample a second: {n}");
    assert_eq!(data["verdict"]["valid"], true, "{}", data["verdict"]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"section-generator\""));
    assert!(page.contains("<strong>Run verdict: valid</strong>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_failures_make_the_run_suspect_without_changing_the_exit_code() {
    // Nothing listens on this port: every request is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("http://127.0.0.1:{port}");
    for (exit_code_on_error, expected) in [("0", 0), ("3", 3)] {
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
            exit_code_on_error,
            "--only-summary",
            "HighLoadUser",
        ])
        .await;
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(expected), "{err}");
        let verdict = at(&err, "\nRun verdict: SUSPECT — ");
        let reason = at(&err, "failures (100%, limit 50%) are connection failures");
        assert!(verdict < reason, "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_file_run_logs_the_verdict_instead_of_the_block() {
    let svc = spawn_local().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = skein(&[
        "--headless",
        "-H",
        &svc.base_url(),
        "-u",
        "1",
        "-t",
        "2s",
        "--json-file",
        json.to_str().unwrap(),
        "ImageClassifierUser",
    ])
    .await;
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("\nGenerator (this skein process)\n"), "{err}");
    assert!(
        err.contains("/INFO/skein.app: Run verdict: valid\n"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_shows_each_workers_cpu_and_no_worker_lost_at_the_end() {
    let svc = spawn_local().await.unwrap();
    let out = skein(&[
        "--headless",
        "--processes",
        "2",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        "0",
        "-H",
        &svc.base_url(),
        "-u",
        "2",
        "-r",
        "100",
        "-t",
        "5s",
        "--only-summary",
        "ImageClassifierUser",
    ])
    .await;
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let block = at(&err, "\nGenerator (this skein process)\n");
    let workers = err[block..].matches("\n  Worker ").count();
    assert_eq!(workers, 2, "{err}");
    // The workers quit when the master let them go: not lost.
    assert!(err.contains("\nRun verdict: valid\n"), "{err}");
    // Each worker logged its own line when it ended.
    assert_eq!(err.matches(": Generator: CPU mean ").count(), 2, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_serves_this_processs_health() {
    let svc = spawn_local().await.unwrap();
    let mut cmd = common::skein_web(&["--autostart", "-u", "1"]);
    cmd.args(["-t", "4s", "--autoquit", "1", "-H", &svc.base_url()])
        .arg("ImageClassifierUser");
    let (mut child, port, drain) = common::start(cmd).await;
    let url = format!("http://127.0.0.1:{port}/skein/health");
    // Bounded: a sample a second, and the run lasts 4 s.
    let mut body = serde_json::Value::Null;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        body = reqwest::get(&url).await.unwrap().json().await.unwrap();
        if body["summary"]["cpu_percent"]["samples"].as_u64() >= Some(1) {
            break;
        }
    }
    assert!(body["cpu_usage"].is_number(), "{body}");
    assert!(body["memory_usage"].as_u64().unwrap() > 1 << 20, "{body}");
    assert!(
        body["summary"]["cpu_percent"]["samples"].as_u64() >= Some(1),
        "{body}"
    );
    assert!(
        body["summary"].get("series").is_none(),
        "the poll stays small"
    );
    // Locust's own endpoint keeps Locust's keys.
    let stats: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/stats/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stats.get("generator").is_none(), "{stats}");
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("--autoquit ends it")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    drain.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_run_makes_the_masters_verdict_suspect() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let svc = spawn_local().await.unwrap();
    let host = svc.base_url();
    let mut master = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .args(["--master", "--headless", "--master-bind-host", "127.0.0.1"])
        .args([
            "--master-bind-port",
            "0",
            "--expect-workers",
            "2",
            "-u",
            "4",
            "-r",
            "100",
        ])
        .args([
            "-t",
            "10s",
            "--only-summary",
            "-H",
            &host,
            "ImageClassifierUser",
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(master.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let mut read_until = async |log: &mut String, done: &dyn Fn(&str) -> bool| {
        tokio::time::timeout(Duration::from_secs(60), async {
            while !done(log) {
                let line = lines
                    .next_line()
                    .await
                    .unwrap()
                    .expect("the master runs on");
                log.push_str(&line);
                log.push('\n');
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out; log so far:\n{log}"));
    };
    read_until(&mut log, &|l: &str| l.contains("Listening for workers on")).await;
    let port = log
        .split("Listening for workers on 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.lines().next())
        .unwrap()
        .trim()
        .to_string();
    let worker = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"))
            .args([
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                &port,
            ])
            .args(["-H", &host])
            .stderr(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let mut doomed = worker();
    let mut survivor = worker();
    read_until(&mut log, &|l: &str| l.contains("All users spawned")).await;
    doomed.start_kill().unwrap();
    let _ = doomed.wait().await;
    read_until(&mut log, &|l: &str| {
        l.contains("Run verdict:") && l.ends_with("\n\n")
    })
    .await;
    let status = tokio::time::timeout(Duration::from_secs(60), master.wait())
        .await
        .expect("the master ends after -t")
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "the verdict does not change the exit code:\n{log}"
    );
    let verdict = at(&log, "\nRun verdict: SUSPECT — ");
    let lost = at(&log, " lost mid-run (missing)");
    assert!(verdict < lost, "{log}");
    let _ = tokio::time::timeout(Duration::from_secs(30), survivor.wait()).await;
}
