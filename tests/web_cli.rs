//! The web UI's command-line life cycle with the real binary: `--autostart` starts at once,
//! `-t` stops the test (the UI stays), `--autoquit` then ends the process; `--web-auth`
//! guards the API.

mod common;

use std::time::Duration;

use skein::classifier::spawn_local;

/// Starts `skein` with the web UI on a free loopback port; returns it, its port, and the rest
/// of its log (collected until it exits).
async fn start_web(args: &[&str]) -> (tokio::process::Child, u16, tokio::task::JoinHandle<String>) {
    common::start(common::skein_web(args)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autostart_runs_then_autoquit_ends_the_process() {
    let svc = spawn_local().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("auto.html");
    let html_arg = html.to_str().unwrap().to_string();
    let (mut child, port, drain) = start_web(&[
        "--autostart",
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "2s",
        "--autoquit",
        "1",
        "--web-auth",
        "admin:s3cret",
        "-H",
        &svc.base_url(),
        "--html",
        &html_arg,
        "HighLoadUser",
    ])
    .await;
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

fn shape(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::Number(_) => Value::from("number"),
        Value::String(_) => Value::from("string"),
        Value::Bool(_) => Value::from("bool"),
        Value::Null => Value::from("null"),
    }
}

fn sample(name: &str) -> serde_json::Value {
    let text = skein::testing::read_fixture(&format!("locust/webapi/{name}"));
    serde_json::from_str(&text).unwrap()
}

/// A client written against Locust's API gets the same shapes from skein's real controller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_in_locusts_shapes() {
    let svc = spawn_local().await.unwrap();
    let (mut child, port, _log) = start_web(&["-H", &svc.base_url(), "HighLoadUser"]).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let swarm: serde_json::Value = http
        .post(format!("{base}/swarm"))
        .form(&[
            ("user_count", "3"),
            ("spawn_rate", "3"),
            ("host", svc.base_url().as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut want = shape(&sample("swarm.json"));
    // Locust echoes run_time only when one was posted.
    want.as_object_mut().unwrap().remove("run_time");
    assert_eq!(shape(&swarm), want, "{swarm}");
    // Wait for requests and a failure-free running state.
    let mut stats = serde_json::Value::Null;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        stats = http
            .get(format!("{base}/stats/requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["state"] == "running" && stats["stats"].as_array().is_some_and(|s| s.len() >= 3) {
            break;
        }
    }
    let theirs = sample("stats_requests_running.json");
    let mut want_keys: Vec<&String> = theirs
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !k.starts_with("worker"))
        .collect();
    want_keys.sort();
    let got_keys: Vec<&String> = stats.as_object().unwrap().keys().collect();
    assert_eq!(
        got_keys, want_keys,
        "top-level keys (worker keys are master-only)"
    );
    let entry_keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v["stats"][0].as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(entry_keys(&stats), entry_keys(&theirs));
    assert_eq!(
        stats["stats"].as_array().unwrap().last().unwrap()["name"],
        "Aggregated"
    );
    let stop: serde_json::Value = http
        .post(format!("{base}/stop"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stop,
        serde_json::json!({"message": "Test stopped", "success": true})
    );
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

/// The real binary: `/tasks` before a start is Locust's answer (no users: every class ratio
/// 0.0), the `Origin` check of the state-changing routes with `--web-allowed-origin`, and a
/// `/swarm` with 10,000 unknown class names refused briefly and logged as Locust logs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_before_start_origin_check_and_swarm_limits() {
    let (mut child, port, log) = start_web(&[
        "--web-allowed-origin",
        "https://dash.example",
        "-H",
        "http://127.0.0.1:9",
        "ErrorTestingUser",
        "HighLoadUser",
    ])
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let tasks: serde_json::Value = http
        .get(format!("{base}/tasks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let want = serde_json::json!({
        "per_class": {
            "ErrorTestingUser": {"ratio": 0.0, "tasks": {
                "invalid_image": {"ratio": 0.25}, "invalid_top_k": {"ratio": 0.25},
                "large_image": {"ratio": 0.25}, "missing_file": {"ratio": 0.25}}},
            "HighLoadUser": {"ratio": 0.0, "tasks": {"classify": {"ratio": 0.8}, "health": {"ratio": 0.2}}}
        },
        "total": {
            "ErrorTestingUser": {"ratio": 0.0, "tasks": {
                "invalid_image": {"ratio": 0.0}, "invalid_top_k": {"ratio": 0.0},
                "large_image": {"ratio": 0.0}, "missing_file": {"ratio": 0.0}}},
            "HighLoadUser": {"ratio": 0.0, "tasks": {"classify": {"ratio": 0.0}, "health": {"ratio": 0.0}}}
        }
    });
    assert_eq!(tasks, want);

    let stop = |origin: Option<String>| {
        let mut req = http.post(format!("{base}/stop"));
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(stop(Some("http://evil.example".into())).await, 403);
    assert_eq!(
        stop(Some(format!("http://127.0.0.1:{}", port + 1))).await,
        403
    );
    assert_eq!(stop(Some("https://dash.example".into())).await, 200);
    assert_eq!(stop(Some(format!("http://127.0.0.1:{port}"))).await, 200);
    assert_eq!(stop(None).await, 200);

    let mut form = String::from("user_count=1&spawn_rate=1");
    for i in 0..10_000 {
        form.push_str(&format!("&user_classes=Nope{i}"));
    }
    let r = http
        .post(format!("{base}/swarm"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert!(body.len() < 300, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["success"], false);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("Too many user_classes"),
        "{v}"
    );
    let state: serde_json::Value = http
        .get(format!("{base}/stats/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["state"], "ready", "the refused form started nothing");

    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let log = log.await.unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains("Too many user_classes")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("WARNING") && l.contains("Cross-site request refused")),
        "{log}"
    );
}
