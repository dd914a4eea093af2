//! What a skein cluster survives: a worker killed or frozen mid-run, a worker joining late, the
//! master killed and restarted, and frames a Python master dies on. The times asserted here are
//! generous bounds on a shared machine; the exact timings are tested on an injected clock in
//! `cluster::master`'s tests.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

fn stats(base: &str) -> Option<Value> {
    serde_json::from_str(&http_get(&format!("{base}/stats/requests"))?).ok()
}

/// `(state, users)` per worker id from `/stats/requests`.
fn workers(v: &Value) -> Vec<(String, String, u64)> {
    v["workers"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .map(|w| {
                    (
                        w["id"].as_str().unwrap_or("").to_string(),
                        w["state"].as_str().unwrap_or("").to_string(),
                        w["user_count"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

struct WebMaster {
    proc: Proc,
    base: String,
    port: String,
}

fn web_master(users: &str, expect: &str, host: &str) -> WebMaster {
    let port = free_port().to_string();
    let web_port = free_port().to_string();
    let proc = Proc::start(
        "skein master",
        skein_cmd(
            &[
                &master_on(&port)[..],
                &web_on(&web_port),
                &autostart(expect, users, "100"),
                &["-H", host, "ThroughputUser"],
            ]
            .concat(),
        ),
    );
    WebMaster {
        proc,
        base: format!("http://127.0.0.1:{web_port}"),
        port,
    }
}

/// A headless skein master of one worker and 2 `ThroughputUser`s on `port`, plus `extra` flags.
fn headless_master(name: &str, port: &str, host: &str, extra: &[&str]) -> Proc {
    let run = [
        "--headless",
        "--expect-workers",
        "1",
        "-u",
        "2",
        "-r",
        "100",
    ];
    let args = [
        &master_on(port)[..],
        &run,
        &["-H", host],
        extra,
        &["ThroughputUser"],
    ]
    .concat();
    Proc::start(name, skein_cmd(&args))
}

fn worker(port: &str, i: usize) -> Proc {
    Proc::start(
        &format!("skein worker {i}"),
        skein_cmd(&["--worker", "--master-port", port]),
    )
}

/// Polls until every live (not missing) worker runs `per_worker` users, `live` of them, and the
/// total is `total`; returns when that happened.
fn wait_balanced(
    m: &WebMaster,
    live: usize,
    per_worker: u64,
    total: u64,
    within: Duration,
) -> Instant {
    poll(within, || {
        let v = stats(&m.base)?;
        let ws = workers(&v);
        let running: Vec<_> = ws.iter().filter(|w| w.1 != "missing").collect();
        let ok = v["user_count"] == total
            && running.len() == live
            && running
                .iter()
                .all(|w| w.1 == "running" && w.2 == per_worker);
        ok.then(Instant::now)
    })
    .unwrap_or_else(|| {
        panic!(
            "not {live} workers x {per_worker} users within {within:?}: {:?}\n{}",
            stats(&m.base).map(|v| workers(&v)),
            m.proc.output()
        )
    })
}

#[test]
fn a_killed_worker_s_users_move_to_the_others() {
    let host = target("200 OK");
    let m = web_master("6", "3", &host);
    let ws: Vec<Proc> = (0..3).map(|i| worker(&m.port, i)).collect();
    wait_balanced(&m, 3, 2, 6, Duration::from_secs(40));
    let killed_at = Instant::now();
    ws[0].signal("KILL");
    let moved = wait_balanced(&m, 2, 3, 6, Duration::from_secs(20));
    eprintln!("users moved {:?} after the SIGKILL", moved - killed_at);
    let v = stats(&m.base).unwrap();
    assert!(
        workers(&v).iter().any(|w| w.1 == "missing"),
        "the killed worker is shown missing: {v}"
    );
    m.proc.wait_for("missing", Duration::from_secs(5));
}

#[test]
fn a_frozen_worker_is_replaced_and_heals() {
    let host = target("200 OK");
    let m = web_master("6", "3", &host);
    let ws: Vec<Proc> = (0..3).map(|i| worker(&m.port, i)).collect();
    wait_balanced(&m, 3, 2, 6, Duration::from_secs(40));
    ws[1].signal("STOP");
    wait_balanced(&m, 2, 3, 6, Duration::from_secs(20));
    ws[1].signal("CONT");
    // Its heartbeats come back: it is a worker again and gets its share.
    wait_balanced(&m, 3, 2, 6, Duration::from_secs(30));
}

#[test]
fn a_worker_that_joins_mid_run_gets_its_share() {
    let host = target("200 OK");
    let m = web_master("4", "1", &host);
    let _first = worker(&m.port, 0);
    wait_balanced(&m, 1, 4, 4, Duration::from_secs(40));
    let _second = worker(&m.port, 1);
    wait_balanced(&m, 2, 2, 4, Duration::from_secs(20));
}

#[test]
fn workers_survive_the_master_and_join_the_next_one() {
    let host = target("200 OK");
    let port = free_port().to_string();
    let first = headless_master("first master", &port, &host, &[]);
    let mut w = worker(&port, 0);
    first.wait_for("All users spawned", Duration::from_secs(40));
    std::thread::sleep(Duration::from_secs(2));
    first.signal("KILL");
    // The worker notices within its heartbeat timeout and stops its users.
    w.wait_for("Lost the master", Duration::from_secs(20));
    drop(first);
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("second");
    let prefix = prefix.to_str().unwrap();
    let mut second = headless_master(
        "second master",
        &port,
        &host,
        &[
            "--expect-workers-max-wait",
            "60",
            "-t",
            "5s",
            "--csv",
            prefix,
        ],
    );
    let status = second.wait(Duration::from_secs(90));
    let out = second.output();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(
        out.contains("1 workers connected") && !out.contains("2 workers connected"),
        "the worker registered once: {out}"
    );
    let rows = stats_rows(std::path::Path::new(&format!("{prefix}_stats.csv")));
    assert!(
        rows.iter().any(|r| r.1 == "/" && r.2 > 0),
        "the returning worker's requests: {rows:?}"
    );
    let st = w.wait(Duration::from_secs(30));
    assert_eq!(st.code(), Some(0), "{}", w.output());
}

/// While its master is gone, a worker's reconnect is one attempt every 5 s (its state machine
/// retries), not the first connect's minute-long loop: so it still answers SIGTERM at once. The
/// bound is generous; a worker stuck in a 60-attempt loop takes over a minute.
#[test]
fn a_worker_whose_master_is_gone_stops_at_sigterm() {
    let host = target("200 OK");
    let port = free_port().to_string();
    let first = headless_master("gone master", &port, &host, &[]);
    let mut w = worker(&port, 0);
    first.wait_for("All users spawned", Duration::from_secs(40));
    first.signal("KILL");
    w.wait_for("Reconnecting to the master failed", Duration::from_secs(30));
    w.signal("TERM");
    let st = w.wait(Duration::from_secs(25));
    assert_eq!(st.code(), Some(0), "{}", w.output());
}

#[test]
fn frames_a_locust_master_dies_on_are_dropped() {
    let Some(locust) = locust() else { return };
    let python = locust.with_file_name("python");
    let host = target("200 OK");
    let port = free_port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("bad");
    let prefix = prefix.to_str().unwrap();
    let mut master = headless_master(
        "skein master",
        &port,
        &host,
        &[
            "--expect-workers-max-wait",
            "60",
            "-t",
            "6s",
            "--csv",
            prefix,
        ],
    );
    // A real worker first, so the test runs while the bad frames arrive.
    let _w = worker(&port, 0);
    master.wait_for("1 workers connected", Duration::from_secs(40));
    let mut bad = Proc::start("bad frames", {
        let mut c = std::process::Command::new(python);
        c.arg(skein::testing::fixture("interop/bad_frames.py"))
            .arg(&port);
        c
    });
    let st = bad.wait(Duration::from_secs(30));
    assert!(st.success(), "{}", bad.output());
    assert!(
        bad.output().contains("'ack'"),
        "the master still answers: {}",
        bad.output()
    );
    let status = master.wait(Duration::from_secs(90));
    let out = master.output();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("malformed"), "each bad frame is logged: {out}");
    let rows = stats_rows(std::path::Path::new(&format!("{prefix}_stats.csv")));
    assert!(rows.iter().any(|r| r.1 == "/" && r.2 > 0), "{rows:?}");
}
