//! The web UI's command-line life cycle with the real binary: `--autostart` starts at once,
//! `-t` stops the test (the UI stays), `--autoquit` then ends the process; `--web-auth`
//! guards the API.

use std::time::Duration;

use skein::classifier::spawn_local;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autostart_runs_then_autoquit_ends_the_process() {
    let svc = spawn_local().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("auto.html");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .args([
            "--web-host",
            "127.0.0.1",
            "-P",
            "0",
            "--autostart",
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "2s",
            "--autoquit",
            "1",
        ])
        .args([
            "--web-auth",
            "admin:s3cret",
            "-H",
            &svc.base_url(),
            "--html",
            html.to_str().unwrap(),
            "HighLoadUser",
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line
                .split("Starting web interface at http://127.0.0.1:")
                .nth(1)
            {
                return rest.trim().parse::<u16>().unwrap();
            }
        }
        panic!("skein ended without starting its web interface");
    })
    .await
    .expect("the web interface starts");
    let drain = tokio::spawn(async move {
        let mut all = String::new();
        while let Ok(Some(l)) = lines.next_line().await {
            all.push_str(&l);
            all.push('\n');
        }
        all
    });
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/stats/requests");
    let denied = client.get(&url).send().await.unwrap();
    assert_eq!(denied.status(), 401, "--web-auth guards the API");
    let ok = client
        .get(&url)
        .basic_auth("admin", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("autoquit ends skein")
        .unwrap();
    let log = drain.await.unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("--run-time limit reached, stopping test"),
        "{log}"
    );
    assert!(log.contains("--autoquit time reached"), "{log}");
    assert!(
        svc.counters.total() > 0,
        "the autostarted test sent requests"
    );
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("/api/v1/classify"));
}
