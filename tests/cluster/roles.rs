//! The roles at the process level: `--processes` forking local workers, and the startup
//! errors a master gives (a busy port, no workers within `--expect-workers-max-wait`).

use std::time::Duration;

use crate::support::*;

#[test]
fn processes_runs_a_master_and_local_workers() {
    let host = target("200 OK");
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("p");
    let prefix = prefix.to_str().unwrap();
    let mut run = Proc::start(
        "skein --processes 2",
        skein_cmd(&[
            "--headless",
            "--processes",
            "2",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            "0",
            "-u",
            "4",
            "-r",
            "100",
            "-t",
            "4s",
            "-H",
            &host,
            "--csv",
            prefix,
            "ThroughputUser",
        ]),
    );
    let status = run.wait(Duration::from_secs(90));
    let out = run.output();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("Started 2 local worker processes"), "{out}");
    assert!(out.contains("2 workers connected"), "{out}");
    let rows = stats_rows(std::path::Path::new(&format!("{prefix}_stats.csv")));
    assert!(
        rows.iter().any(|r| r.1 == "/" && r.2 > 0),
        "the local workers' requests: {rows:?}"
    );
}

#[test]
fn a_busy_master_port_exits_1() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let mut run = Proc::start(
        "skein master",
        skein_cmd(&[&master_on(&port)[..], &["--headless", "-t", "2s"]].concat()),
    );
    let status = run.wait(Duration::from_secs(30));
    let out = run.output();
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("Socket bind failure"), "{out}");
}

#[test]
fn no_workers_within_the_max_wait_exits_1() {
    let port = free_port().to_string();
    let mut run = Proc::start(
        "skein master",
        skein_cmd(
            &[
                &master_on(&port)[..],
                &[
                    "--headless",
                    "--expect-workers",
                    "2",
                    "--expect-workers-max-wait",
                    "1",
                    "-t",
                    "10s",
                ],
            ]
            .concat(),
        ),
    );
    let status = run.wait(Duration::from_secs(30));
    let out = run.output();
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains("Gave up waiting for workers to connect"),
        "{out}"
    );
}
