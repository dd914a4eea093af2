use super::*;
use crate::control::{FakeRun, RunStatus};
use crate::engine::{hub, HubHandle, RunState, RunnerStatus};

fn run(hub: &HubHandle) -> Arc<dyn RunControl> {
    FakeRun::new(
        hub.clone(),
        RunStatus::local(RunnerStatus {
            state: RunState::Running,
            user_count: 1,
            class_counts: Default::default(),
            target: 1,
            spawn_rate: 1.0,
            host: None,
            peak_user_count: 1,
            final_class_counts: Default::default(),
        }),
    )
}

#[test]
fn check_writable_keeps_existing_files_and_removes_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("old.html");
    std::fs::write(&existing, "kept").unwrap();
    check_writable(&existing).unwrap();
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "kept");

    let fresh = dir.path().join("a").join("b").join("new.html");
    check_writable(&fresh).unwrap();
    assert!(!fresh.exists(), "a probe leaves no empty report behind");
    assert!(
        fresh.parent().unwrap().is_dir(),
        "folders are created, as the writers do"
    );

    let under_file = existing.join("x.html");
    assert!(check_writable(&under_file).is_err());
}

/// The folder removed under a running writer: `finish` says an output failed, and the writer
/// stopped at its first error instead of ending the run.
#[tokio::test]
async fn csv_write_error_is_reported_by_finish() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("csv");
    let prefix = folder.join("run");
    let hub = hub::spawn(wall_clock(), "local".to_string());
    let plan = OutputPlan {
        csv_prefix: prefix.to_str(),
        csv_full_history: false,
        console: false,
    };
    let outputs = Outputs::start(plan, &run(&hub)).unwrap();
    assert!(folder.join("run_stats.csv").exists());
    std::fs::remove_dir_all(&folder).unwrap();
    // The last tick (at finish) cannot rewrite the files.
    assert!(!outputs.finish().await);
    assert!(!folder.exists(), "nothing recreated the removed folder");

    // And a healthy run says so.
    let ok_prefix = dir.path().join("ok");
    let plan = OutputPlan {
        csv_prefix: ok_prefix.to_str(),
        csv_full_history: false,
        console: false,
    };
    let outputs = Outputs::start(plan, &run(&hub)).unwrap();
    assert!(outputs.finish().await);
}
