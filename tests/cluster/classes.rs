//! Class names across a cluster: a worker that lacks a class its master runs (built from another
//! binary, or started with other class names) is named on both sides, never a silent zero.

use std::time::Duration;

use crate::support::*;

#[test]
fn a_worker_without_the_masters_class_is_reported_by_worker_and_master() {
    let host = target("200 OK");
    let port = free_port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("m");
    let prefix = prefix.to_str().unwrap();
    let mut master = Proc::start(
        "skein master",
        skein_cmd(
            &[
                &master_on(&port)[..],
                &headless_run("1", "2", "100", "5s"),
                &["-H", &host, "--csv", prefix, "ThroughputUser"],
            ]
            .concat(),
        ),
    );
    master.wait_for("Listening for workers", Duration::from_secs(30));
    // This worker offers only HighLoadUser: the master's ThroughputUser is not among them.
    let mut worker = Proc::start(
        "skein worker",
        skein_cmd(&[&worker_of(&port)[..], &["-H", &host, "HighLoadUser"]].concat()),
    );
    let status = master.wait(Duration::from_secs(90));
    let _ = worker.wait(Duration::from_secs(30));
    let (m, w) = (master.output(), worker.output());
    // The worker's own log names the class it lacks and the ones it has.
    assert!(
        w.contains("has no user class ThroughputUser")
            && w.contains("this worker's classes are HighLoadUser"),
        "worker:\n{w}"
    );
    // The master logs it from the worker's report of its classes.
    assert!(
        m.contains("has no user class ThroughputUser (its classes are HighLoadUser)"),
        "master:\n{m}"
    );
    // The worker's exception reached the master's statistics, and fails the run as any
    // exception does in Locust (`--exit-code-on-error`, 1).
    assert_eq!(status.code(), Some(1), "{m}");
    let exceptions = std::fs::read_to_string(format!("{prefix}_exceptions.csv")).unwrap();
    assert!(
        exceptions.contains("has no user class ThroughputUser"),
        "{exceptions}"
    );
}

/// Under a real Locust 2.47.0 master, the same worker's `exception` lands in Locust's own
/// exceptions table (and so in its `_exceptions.csv`), and Locust's exit code counts it.
#[test]
fn a_locust_master_shows_the_missing_class_of_a_skein_worker() {
    let Some(locust) = locust() else { return };
    let host = target("200 OK");
    let port = free_port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("l");
    let prefix = prefix.to_str().unwrap();
    let mut master = Proc::start(
        "locust master",
        locust_cmd(
            &locust,
            &[
                &master_on(&port)[..],
                &headless_run("1", "2", "100", "5s"),
                &["--expect-workers-max-wait", "60", "-H", &host],
                &["--csv", prefix, "ThroughputUser"],
            ]
            .concat(),
        ),
    );
    let mut worker = Proc::start(
        "skein worker",
        skein_cmd(&[&worker_of(&port)[..], &["-H", &host, "HighLoadUser"]].concat()),
    );
    let status = master.wait(Duration::from_secs(90));
    let _ = worker.wait(Duration::from_secs(30));
    let (m, w) = (master.output(), worker.output());
    assert!(
        w.contains("has no user class ThroughputUser"),
        "worker:\n{w}"
    );
    let exceptions = std::fs::read_to_string(format!("{prefix}_exceptions.csv")).unwrap();
    assert!(
        exceptions.contains("has no user class ThroughputUser"),
        "{exceptions}\nmaster:\n{m}"
    );
    assert_eq!(status.code(), Some(1), "master:\n{m}");
}
