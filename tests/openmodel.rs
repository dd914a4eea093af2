//! The open model against real sockets on loopback: a virtual user keeps its session between
//! iterations run in different tasks; an open-model run keeps its rate against a slow reference
//! service where a closed model with the same pool cannot; a saturated one charges the wait to
//! the corrected latency; and the headless binary prints the "Open model" block.
//!
//! Every run is bounded in time (a couple of seconds) and its assertions are on counts with
//! generous margins, never on timings.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goose::goose::{GooseUser, Scenario, Transaction, TransactionResult};
use goose::transaction;
use skein::classifier::{spawn_local_state, ClassifierState, LocalClassifier, ServeOptions};
use skein::engine::{
    hub, runner, select_classes, ArrivalOrder, HubHandle, RunnerHandle, RunnerSetup,
    SessionFactory, VirtualUser,
};
use skein::stats::ArrivalCounts;
use skein_api::{Request, UserClass};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn health(user: &mut GooseUser) -> TransactionResult {
    Request::get("/api/v1/health").send(user).await;
    Ok(())
}

fn health_class(wait: Option<Duration>) -> UserClass {
    let mut s = Scenario::new("Health").register_transaction(transaction!(health).set_name("h"));
    if let Some(w) = wait {
        s = s.set_wait_time(w, w).unwrap();
    }
    UserClass::new(s)
}

async fn slow_service(delay_ms: u64) -> LocalClassifier {
    let state = ClassifierState::new().with_delay(Duration::from_millis(delay_ms));
    spawn_local_state(state, ServeOptions::default())
        .await
        .unwrap()
}

fn runner_for(class: UserClass, host: &str) -> (RunnerHandle, HubHandle) {
    let hub = hub::spawn(skein::engine::wall_clock(), "local".into());
    let r = runner::spawn(RunnerSetup {
        classes: select_classes(&[class], &[], None, None).unwrap(),
        host: Some(host.to_string()),
        stop_timeout: Duration::ZERO,
        reset_stats_on_spawned: false,
        hub: hub.clone(),
        sessions: SessionFactory::new().unwrap(),
    });
    (r, hub)
}

/// Counts connections; answers every request on a connection with keep-alive, and sets a
/// cookie on the first response it sends. Counts the requests that brought the cookie back.
async fn keepalive_server() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let cookies = Arc::new(AtomicUsize::new(0));
    let (c, k) = (conns.clone(), cookies.clone());
    tokio::spawn(async move {
        for _ in 0..20 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let first = c.fetch_add(1, Ordering::SeqCst) == 0;
            let k = k.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let mut answered = 0;
                for _ in 0..100 {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        buf.drain(..end + 4);
                        if head.contains("\r\ncookie: s=1") {
                            k.fetch_add(1, Ordering::SeqCst);
                        }
                        let cookie = if first && answered == 0 {
                            "set-cookie: s=1; Path=/\r\n"
                        } else {
                            ""
                        };
                        answered += 1;
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n{cookie}connection: keep-alive\r\n\r\nok"
                        );
                        if sock.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), conns, cookies)
}

async fn get_x(user: &mut GooseUser) -> TransactionResult {
    Request::get("/x").send(user).await;
    Ok(())
}

/// Five iterations, each in a task of its own: one connection, and the cookie of the first
/// answer comes back with each later request.
#[tokio::test]
async fn a_virtual_user_keeps_its_session_across_tasks() {
    let (base, conns, cookies) = keepalive_server().await;
    let class =
        UserClass::new(Scenario::new("X").register_transaction(transaction!(get_x).set_name("x")));
    let plan = select_classes(&[class], &[], None, None).unwrap().remove(0);
    let hub = hub::spawn(0.0, "local".into());
    let mut vu = VirtualUser::new(
        plan,
        base.parse().unwrap(),
        &SessionFactory::new().unwrap(),
        hub.clone(),
    )
    .unwrap();
    for _ in 0..5 {
        vu = tokio::spawn(async move {
            vu.iterate(None).await;
            vu
        })
        .await
        .unwrap();
        assert!(vu.has_session());
    }
    assert_eq!(vu.iterations(), 5);
    assert_eq!(conns.load(Ordering::SeqCst), 1, "one keep-alive connection");
    assert_eq!(
        cookies.load(Ordering::SeqCst),
        4,
        "the cookie came back 4 times"
    );
    let (n, fails, scheduled) = hub
        .read(|v| {
            let t = v.stats.total();
            (t.num_requests, t.num_failures, v.open.total().num_requests)
        })
        .await
        .unwrap();
    assert_eq!((n, fails), (5, 0));
    assert_eq!(scheduled, 0, "closed-style iterations carry no schedule");
}

/// 40 iterations/s on 8 users against a service that takes 100 ms: the pool can serve 80/s,
/// so every iteration that came due in 2 s starts (90 % at least, allowing for a noisy
/// machine). The same 8 users in the closed model, each waiting 400 ms between requests,
/// make at most 16/s whatever rate was hoped for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_model_keeps_its_rate_where_the_closed_model_cannot() {
    let svc = slow_service(100).await;
    let base = svc.base_url();

    let (r, hub) = runner_for(health_class(Some(Duration::from_millis(400))), &base);
    r.arrive(ArrivalOrder::new(40.0, 8)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.stop().await;
    let c: ArrivalCounts = hub.read(|v| v.open.counts()).await.unwrap();
    // The sleep never ends early: at least 2 s × 40/s + the one at 0 came due.
    assert!(c.scheduled >= 81, "{c:?}");
    assert!(c.started as f64 >= 0.9 * 80.0, "{c:?}");
    assert_eq!(c.dropped, 0, "{c:?}");

    let (r, hub) = runner_for(health_class(Some(Duration::from_millis(400))), &base);
    r.start(8, 1000.0, None, None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.stop().await;
    let closed = hub.read(|v| v.stats.total().num_requests).await.unwrap();
    // 8 users × (1 + 2 s / 0.5 s) = 40 at most.
    assert!(closed <= 48, "{closed}");
    assert!((closed as f64) < 0.9 * 80.0);
    svc.stop().await.unwrap();
}

/// 40/s on 2 users against 100 ms answers: the pool serves ~20/s, so iteration j starts about
/// j × (d/2 − 1/40) s late, and the n that finish were on average (n−1)/2 times that late.
/// Locust's figure does not see it; the corrected one adds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_pool_adds_the_expected_wait_to_the_corrected_latency() {
    let svc = slow_service(100).await;
    let (r, hub) = runner_for(health_class(None), &svc.base_url());
    r.arrive(ArrivalOrder {
        backlog: Some(10_000),
        ..ArrivalOrder::new(40.0, 2)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.stop().await;
    let (c, n, corrected, uncorrected) = hub
        .read(|v| {
            let t = v.open.total();
            (
                v.open.counts(),
                t.num_requests,
                t.avg_corrected(),
                t.avg_uncorrected(),
            )
        })
        .await
        .unwrap();
    assert!(c.late as f64 >= 0.5 * c.started as f64, "{c:?}");
    assert!(n >= 10, "{n}");
    // Per iteration, the pool of 2 falls behind by (service time / 2 − 1 / rate) seconds.
    let behind_ms = uncorrected / 2.0 - 1000.0 / 40.0;
    let expected = (n as f64 - 1.0) / 2.0 * behind_ms;
    let extra = corrected - uncorrected;
    assert!(
        extra > 0.5 * expected && extra < 1.5 * expected,
        "extra {extra:.0} ms, expected {expected:.0} ms (n {n}, service {uncorrected:.0} ms)"
    );
    svc.stop().await.unwrap();
}

/// The binary: `--arrival-rate` runs the open model until `-t` and the summary ends with the
/// "Open model" block; `--json-file` gets its companion file, Locust's own file unchanged.
#[tokio::test]
async fn a_headless_run_prints_and_writes_the_open_model_summary() {
    let svc = slow_service(20).await;
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .args([
            "--headless",
            "-H",
            &svc.base_url(),
            "--arrival-rate",
            "20",
            "--max-in-flight",
            "4",
            "-t",
            "2s",
            "--only-summary",
            "ThroughputUser",
        ])
        .env_remove("LOCUST_HOST")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("skein ended")
        .expect("skein ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let all = format!("{stdout}{stderr}");
    let block = all.find("Open model").expect("an Open model block");
    assert!(all[..block].contains("Response time percentiles"), "{all}");
    assert!(all.contains("Rate: 20 iterations/s asked"), "{all}");
    assert!(all.contains("dropped"), "{all}");

    let prefix = dir.path().join("out");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .args([
            "--headless",
            "-H",
            &svc.base_url(),
            "--arrival-rate",
            "10",
            "-t",
            "1s",
            "--json-file",
            prefix.to_str().unwrap(),
            "ThroughputUser",
        ])
        .env_remove("LOCUST_HOST")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("skein ended")
        .expect("skein ran");
    assert_eq!(out.status.code(), Some(0));
    let locust: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out.json")).unwrap())
            .unwrap();
    assert!(locust.is_array(), "Locust's shape: a list of entries");
    let open: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out_open.json")).unwrap())
            .unwrap();
    assert_eq!(open["arrival_rate"], 10.0);
    assert!(open["scheduled"].as_u64().unwrap() >= 10, "{open}");
    assert!(open["total"]["corrected_ms"]["p50"].as_i64().is_some());
    // skein's combined summary: checks, verdict, generator and the same open model in one file.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out_summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["open_model"], open, "{summary}");
    assert!(summary["verdict"]["text"]
        .as_str()
        .unwrap()
        .starts_with("Run verdict: "));
    assert!(summary["checks"].is_array() && summary["checks_failed"].is_boolean());
    assert!(summary["generator"].is_object());
    svc.stop().await.unwrap();
}

/// A bad value exits 2 naming the flag, as every flag does.
#[tokio::test]
async fn a_bad_arrival_rate_exits_2() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .args(["--headless", "--arrival-rate", "0"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--arrival-rate") && stderr.contains("'0'"),
        "{stderr}"
    );
}

/// Distributed: a master with `--arrival-rate 40` and two skein workers (each with its own
/// reference service) gives each worker 20/s and half the pool; the iterations run there and
/// their requests reach the master's Locust tables, and their open-model summaries (`skein_open`
/// in their reports) add up in the master's `NAME_open.json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_splits_the_rate_over_its_workers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let bin = env!("CARGO_BIN_EXE_skein");
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("dist");
    let master = tokio::process::Command::new(bin)
        .args([
            "--json-file",
            prefix.to_str().unwrap(),
            "--html",
            dir.path().join("dist.html").to_str().unwrap(),
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &port,
            "--headless",
            "--expect-workers",
            "2",
            "--arrival-rate",
            "40",
            "--max-in-flight",
            "10",
            "-t",
            "4s",
            "--json",
            "--only-summary",
        ])
        .kill_on_drop(true)
        .output();
    let worker = || {
        tokio::process::Command::new(bin)
            .args(["--worker", "--master-port", &port])
            .kill_on_drop(true)
            .output()
    };
    let (m, w1, w2) = tokio::time::timeout(Duration::from_secs(90), async {
        tokio::join!(master, worker(), worker())
    })
    .await
    .expect("the run ends");
    let (m, w1, w2) = (m.unwrap(), w1.unwrap(), w2.unwrap());
    let stderr = String::from_utf8_lossy(&m.stderr);
    assert_eq!(m.status.code(), Some(0), "{stderr}");
    for w in [&w1, &w2] {
        let log = String::from_utf8_lossy(&w.stderr);
        assert!(
            log.contains("Starting iterations at 20 per second on at most 5 virtual users"),
            "{log}"
        );
    }
    let entries: serde_json::Value = serde_json::from_slice(&m.stdout).expect("--json on stdout");
    let requests: u64 = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["num_requests"].as_u64().unwrap())
        .sum();
    // About 160 iterations of at least one request each over 4 s; generous either way.
    assert!(
        (60..=2000).contains(&requests),
        "{requests} requests\n{stderr}"
    );
    // Each worker logs what its reports carried in all; the master's summary is their sum.
    let mut sum = [0u64; 5];
    for w in [&w1, &w2] {
        let log = String::from_utf8_lossy(&w.stderr);
        let line = log
            .lines()
            .find_map(|l| l.split("Open model sent to the master: ").nth(1))
            .unwrap_or_else(|| panic!("no open-model total in the worker's log\n{log}"));
        let figures: Vec<u64> = line
            .split(", ")
            .map(|f| f.split(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(figures.len(), 5, "{line}");
        assert!(figures[1] > 0, "the worker started iterations: {line}");
        for (s, f) in sum.iter_mut().zip(figures) {
            *s += f;
        }
    }
    let open: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("dist_open.json")).expect("NAME_open.json"),
    )
    .unwrap();
    let got = ["scheduled", "started", "late", "dropped"].map(|k| open[k].as_u64().unwrap());
    assert_eq!(got, [sum[0], sum[1], sum[2], sum[3]], "{open}\n{stderr}");
    assert_eq!(
        open["total"]["num_requests"].as_u64(),
        Some(sum[4]),
        "{open}"
    );
    assert_eq!(open["arrival_rate"], 40.0, "the master's total rate");
    let html = std::fs::read_to_string(dir.path().join("dist.html")).unwrap();
    let line = format!(
        "Iterations: {} scheduled, {} started, {} late (&gt; 10 ms), {} dropped",
        sum[0], sum[1], sum[2], sum[3]
    );
    assert!(
        html.contains(&line),
        "the HTML report's Open model section: {line}"
    );
    // Every request of the open model is timed from its schedule, so both tables agree.
    assert_eq!(sum[4], requests, "{open}");
}

/// The web UI with `--autostart --arrival-rate`: the test runs in the open model and the
/// user count is the virtual users busy (the pool of 3 is saturated by 20/s × 200 ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_shows_the_virtual_users_in_use() {
    let svc = slow_service(200).await;
    let mut cmd = common::skein_web(&["--autostart", "--autoquit", "0"]);
    cmd.args(["--arrival-rate", "20", "--max-in-flight", "3", "-t", "3s"])
        .args(["-H", &svc.base_url(), "ThroughputUser"]);
    let (mut child, port, drain) = common::start(cmd).await;
    // The load is published once a second.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let v: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/stats/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["state"], "running", "{v}");
    let users = v["user_count"].as_u64().unwrap();
    assert!((1..=3).contains(&users), "{v}");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("autoquit ends skein")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    drain.await.unwrap();
    svc.stop().await.unwrap();
}
