//! Both directions of the wire protocol against real Locust 2.47.0 (issue: interoperability).

use std::time::Duration;

use serde_json::Value;

use crate::support::*;

fn json(url: &str) -> Option<Value> {
    serde_json::from_str(&http_get(url)?).ok()
}

/// Skein workers under a headless Locust master: its CSV holds our requests and it exits as
/// after any clean run.
#[test]
fn skein_workers_under_a_locust_master() {
    let Some(locust) = locust() else { return };
    let host = target("200 OK");
    let port = free_port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("m");
    let prefix = prefix.to_str().unwrap();
    let mut master = Proc::start(
        "locust master",
        locust_cmd(
            &locust,
            &[
                &master_on(&port)[..],
                &headless_run("2", "6", "6", "6s"),
                &["--expect-workers-max-wait", "60", "-H", &host],
                &["--csv", prefix, "ThroughputUser"],
            ]
            .concat(),
        ),
    );
    let mut workers: Vec<Proc> = (0..2)
        .map(|i| Proc::start(&format!("skein worker {i}"), skein_cmd(&worker_of(&port))))
        .collect();
    let status = master.wait(Duration::from_secs(90));
    let out = master.output();
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "master exit {status:?}:\n{out}"
    );
    let rows = stats_rows(std::path::Path::new(&format!("{prefix}_stats.csv")));
    let root = rows
        .iter()
        .find(|r| r.0 == "GET" && r.1 == "/")
        .unwrap_or_else(|| panic!("no GET / row in {rows:?}\n{out}"));
    assert!(root.2 > 10, "{root:?}");
    assert_eq!(root.3, 0, "{root:?}");
    for w in &mut workers {
        let st = w.wait(Duration::from_secs(30));
        assert_eq!(st.code(), Some(0), "{}:\n{}", w.name, w.output());
    }
}

/// A Locust master with its web UI: our workers are listed, and start, stop, a second start and
/// quit work.
#[test]
fn a_locust_master_web_ui_drives_skein_workers() {
    let Some(locust) = locust() else { return };
    let host = target("200 OK");
    let port = free_port().to_string();
    let web_port = free_port().to_string();
    let mut master = Proc::start(
        "locust master",
        locust_cmd(
            &locust,
            &[
                &master_on(&port)[..],
                &web_on(&web_port),
                &["-H", &host, "ThroughputUser"],
            ]
            .concat(),
        ),
    );
    let base = format!("http://127.0.0.1:{web_port}");
    let mut workers: Vec<Proc> = (0..2)
        .map(|i| {
            Proc::start(
                &format!("skein worker {i}"),
                skein_cmd(&["--worker", "--master-port", &port]),
            )
        })
        .collect();
    let stats = || json(&format!("{base}/stats/requests"));
    let ready = poll(Duration::from_secs(60), || {
        let v = stats()?;
        let workers = v["workers"].as_array()?;
        (workers.len() == 2 && workers.iter().all(|w| w["state"] == "ready")).then_some(v)
    });
    assert!(ready.is_some(), "two ready workers:\n{}", master.output());
    for round in 0..2 {
        http_post_form(
            &format!("{base}/swarm"),
            &format!("user_count=4&spawn_rate=4&host={host}"),
        )
        .expect("swarm accepted");
        let running = poll(Duration::from_secs(30), || {
            let v = stats()?;
            let ok = v["state"] == "running"
                && v["user_count"] == 4
                && v["workers"]
                    .as_array()?
                    .iter()
                    .all(|w| w["state"] == "running" && w["user_count"] == 2);
            ok.then_some(v)
        });
        assert!(
            running.is_some(),
            "round {round}: 4 users on 2 workers: {:?}\n{}",
            stats(),
            master.output()
        );
        // Requests arrive (stats every 3 s).
        let counted = poll(Duration::from_secs(20), || {
            let v = stats()?;
            let n = v["stats"]
                .as_array()?
                .iter()
                .find(|e| e["name"] == "Aggregated")?["num_requests"]
                .as_u64()?;
            (n > 0).then_some(n)
        });
        assert!(counted.is_some(), "round {round}: requests counted");
        http_post_form(&format!("{base}/stop"), "").expect("stop accepted");
        let stopped = poll(Duration::from_secs(30), || {
            let v = stats()?;
            let ws = v["workers"].as_array()?;
            (v["state"] == "stopped" && ws.len() == 2 && ws.iter().all(|w| w["state"] == "ready"))
                .then_some(())
        });
        assert!(
            stopped.is_some(),
            "round {round}: stopped, workers ready again: {:?}\n{}",
            stats(),
            master.output()
        );
    }
    // Our workers send their log lines every 10 s, as Locust's do.
    let logs = poll(Duration::from_secs(25), || {
        let v = json(&format!("{base}/logs"))?;
        let ws = v["workers"].as_object()?;
        (ws.len() == 2
            && ws
                .values()
                .all(|l| l.as_array().is_some_and(|l| !l.is_empty())))
        .then_some(())
    });
    assert!(
        logs.is_some(),
        "both workers' logs on the master: {:?}",
        json(&format!("{base}/logs"))
    );
    master.signal("TERM");
    let status = master.wait(Duration::from_secs(30));
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "master exit {status:?}:\n{}",
        master.output()
    );
    for w in &mut workers {
        let st = w.wait(Duration::from_secs(30));
        assert_eq!(st.code(), Some(0), "{}:\n{}", w.name, w.output());
    }
}

/// A skein master with its UI, a real Locust worker and a skein worker: both get users, both
/// are listed, and the same fault from both kinds of worker is one row of the failures table.
#[test]
fn a_mixed_cluster_under_a_skein_master() {
    let Some(locust) = locust() else { return };
    let host = target("503 Service Unavailable");
    let port = free_port().to_string();
    let web_port = free_port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("s");
    let prefix = prefix.to_str().unwrap();
    let mut master = Proc::start(
        "skein master",
        skein_cmd(
            &[
                &master_on(&port)[..],
                &web_on(&web_port),
                &autostart("2", "4", "4"),
                &[
                    "-t",
                    "10s",
                    "--autoquit",
                    "1",
                    "-H",
                    &host,
                    "--csv",
                    prefix,
                    "ThroughputUser",
                ],
            ]
            .concat(),
        ),
    );
    let mut python = Proc::start(
        "locust worker",
        locust_cmd(&locust, &["--worker", "--master-port", &port]),
    );
    let mut rust = Proc::start(
        "skein worker",
        skein_cmd(&["--worker", "--master-port", &port]),
    );
    let base = format!("http://127.0.0.1:{web_port}");
    let both = poll(Duration::from_secs(40), || {
        let v = json(&format!("{base}/stats/requests"))?;
        let ws = v["workers"].as_array()?;
        let ok = v["worker_count"] == 2
            && ws.len() == 2
            && ws
                .iter()
                .all(|w| w["state"] == "running" && w["user_count"] == 2);
        ok.then_some(v)
    });
    assert!(
        both.is_some(),
        "both workers run 2 users:\n{}",
        master.output()
    );
    let status = master.wait(Duration::from_secs(60));
    let out = master.output();
    assert_eq!(status.code(), Some(1), "failures give exit 1:\n{out}");
    let failures = std::fs::read_to_string(format!("{prefix}_failures.csv")).unwrap();
    let rows: Vec<&str> = failures.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 1, "one merged error row:\n{failures}\n{out}");
    assert!(
        rows[0].starts_with("GET,/,HTTPError('503 Server Error: Service Unavailable for url: /'),"),
        "{}",
        rows[0]
    );
    let occurrences: u64 = rows[0].split(',').nth(3).unwrap().parse().unwrap();
    let stats = stats_rows(std::path::Path::new(&format!("{prefix}_stats.csv")));
    let root = stats
        .iter()
        .find(|r| r.0 == "GET" && r.1 == "/")
        .expect("GET / row");
    assert_eq!(root.3, occurrences, "every failure in the one row");
    assert!(root.2 > 10, "{root:?}");
    // Shown when a worker does not end.
    eprintln!("master output:\n{out}");
    for w in [&mut python, &mut rust] {
        let st = w.wait(Duration::from_secs(30));
        assert!(
            matches!(st.code(), Some(0)),
            "{}: {st:?}\n{}",
            w.name,
            w.output()
        );
    }
}

/// A skein master in the open model with a real Locust worker and a skein worker: the Locust
/// worker cannot run an arrival rate, so it is named in a warning and left out, and the skein
/// worker runs the whole rate (against its own reference service: no `-H`).
#[test]
fn an_open_model_master_leaves_out_a_locust_worker() {
    let Some(locust) = locust() else { return };
    let port = free_port().to_string();
    let mut master = Proc::start(
        "skein master",
        skein_cmd(
            &[
                &master_on(&port)[..],
                &[
                    "--headless",
                    "--expect-workers",
                    "2",
                    "--arrival-rate",
                    "20",
                    "--max-in-flight",
                    "4",
                    "-t",
                    "3s",
                    "ThroughputUser",
                ],
            ]
            .concat(),
        ),
    );
    let mut python = Proc::start(
        "locust worker",
        locust_cmd(&locust, &["--worker", "--master-port", &port]),
    );
    let mut rust = Proc::start(
        "skein worker",
        skein_cmd(&["--worker", "--master-port", &port]),
    );
    let status = master.wait(Duration::from_secs(60));
    let out = master.output();
    assert_eq!(status.code(), Some(0), "{out}");
    let warned: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("is a Locust worker, which cannot run an arrival rate"))
        .collect();
    assert_eq!(warned.len(), 1, "the Locust worker is named once:\n{out}");
    assert!(
        warned[0].contains("no share of the 20.00/s"),
        "{}",
        warned[0]
    );
    for w in [&mut python, &mut rust] {
        let st = w.wait(Duration::from_secs(30));
        assert_eq!(st.code(), Some(0), "{}:\n{}", w.name, w.output());
    }
    assert!(
        rust.output()
            .contains("Starting iterations at 20 per second on at most 4 virtual users"),
        "the skein worker runs the whole rate:\n{}",
        rust.output()
    );
}
