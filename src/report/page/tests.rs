use super::*;
use crate::engine::RunnerStatus;
use crate::stats::{Exceptions, RequestStats};
use goose::prelude::*;
use skein_api::UserClass;

async fn noop(_u: &mut GooseUser) -> TransactionResult {
    Ok(())
}

/// The webapi sample's classes: HeavyUser (index ×3, missing), LightUser (item, boom).
fn classes() -> Vec<Arc<ClassPlan>> {
    let heavy = Scenario::new("HeavyUser")
        .register_transaction(transaction!(noop).set_name("index").set_weight(3).unwrap())
        .register_transaction(transaction!(noop).set_name("missing"));
    let light = Scenario::new("LightUser")
        .register_transaction(transaction!(noop).set_name("item"))
        .register_transaction(transaction!(noop).set_name("boom"));
    let third = Scenario::new("IdleUser").register_transaction(transaction!(noop).set_name("t"));
    [heavy, light, third]
        .into_iter()
        .enumerate()
        .map(|(i, s)| Arc::new(ClassPlan::new(&UserClass::new(s), i, None, None).unwrap()))
        .collect()
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn tasks_before_a_start_is_locusts_answer() {
    // Locust's get_ratio with no users: class ratios 0.0 (it divides by `sum or 1`), task
    // ratios within the class as usual, and 0.0 for every task in `total`.
    let v = task_ratios(
        &classes()[..2],
        &counts(&[("HeavyUser", 0), ("LightUser", 0)]),
    );
    let want = json!({
        "per_class": {
            "HeavyUser": {"ratio": 0.0, "tasks": {"index": {"ratio": 0.75}, "missing": {"ratio": 0.25}}},
            "LightUser": {"ratio": 0.0, "tasks": {"boom": {"ratio": 0.5}, "item": {"ratio": 0.5}}}
        },
        "total": {
            "HeavyUser": {"ratio": 0.0, "tasks": {"index": {"ratio": 0.0}, "missing": {"ratio": 0.0}}},
            "LightUser": {"ratio": 0.0, "tasks": {"boom": {"ratio": 0.0}, "item": {"ratio": 0.0}}}
        }
    });
    assert_eq!(v, want);
    // Running 4 + 2: the sample's 2/3 and 1/3.
    let v = task_ratios(
        &classes()[..2],
        &counts(&[("HeavyUser", 4), ("LightUser", 2)]),
    );
    assert_eq!(v["per_class"]["HeavyUser"]["ratio"], json!(2.0 / 3.0));
    assert_eq!(
        v["total"]["HeavyUser"]["tasks"]["index"]["ratio"],
        json!(0.5)
    );
}

#[test]
fn the_report_shows_the_final_mix_and_the_peak_users() {
    let status = RunStatus::local(RunnerStatus {
        state: RunState::Stopped,
        user_count: 0,
        class_counts: counts(&[("HeavyUser", 0), ("LightUser", 0), ("IdleUser", 0)]),
        target: 0,
        spawn_rate: 1.0,
        host: None,
        peak_user_count: 4,
        final_class_counts: counts(&[("HeavyUser", 1), ("LightUser", 1), ("IdleUser", 0)]),
    });
    let stats = RequestStats::new(1_000.0);
    let exceptions = Exceptions::default();
    let open = crate::stats::OpenStats::new(1, 0.0);
    let view = StatsView {
        stats: &stats,
        exceptions: &exceptions,
        history: &[],
        open: &open,
    };
    let v = report_args(&view, &status, &classes(), None, &[]);
    assert_eq!(v["user_count"], json!(4));
    let per_class = v["tasks"]["per_class"].as_object().unwrap();
    // Only the two classes that ran, half each.
    assert_eq!(per_class.len(), 2, "{per_class:?}");
    assert_eq!(per_class["HeavyUser"]["ratio"], json!(0.5));
    assert_eq!(per_class["LightUser"]["ratio"], json!(0.5));
}

#[test]
fn durations_read_like_locusts() {
    assert_eq!(duration_words(14), "14 seconds");
    assert_eq!(duration_words(62), "1 minute and 2 seconds");
    assert_eq!(duration_words(3600), "1 hour");
    assert_eq!(duration_words(3661), "1 hour, 1 minute and 1 second");
    assert_eq!(duration_words(0), "0 seconds");
}

fn status(is_distributed: bool) -> RunStatus {
    RunStatus {
        membership: Vec::new(),
        runner: RunnerStatus {
            state: RunState::Running,
            user_count: 3,
            class_counts: counts(&[("HeavyUser", 3)]),
            target: 3,
            spawn_rate: 1.0,
            host: None,
            peak_user_count: 3,
            final_class_counts: BTreeMap::new(),
        },
        workers: vec![crate::control::WorkerView {
            id: "vm_1".into(),
            state: "running".into(),
            user_count: 3,
            cpu_percent: 12.5,
            memory_bytes: 55_484_416,
        }],
        is_distributed,
    }
}

#[test]
fn a_master_lists_its_workers_in_locusts_shape() {
    let stats = RequestStats::new(1_000.0);
    let rows = worker_rows(&status(true));
    let v = super::super::web::stats_requests(&stats, 1_000.0, "running", 3, rows.as_deref());
    // The keys of Locust's `workers` entries (SPEC §4.3).
    assert_eq!(
        v["workers"],
        json!([{"cpu_usage": 12.5, "id": "vm_1", "memory_usage": 55_484_416, "state": "running", "user_count": 3}])
    );
    assert_eq!(v["worker_count"], json!(1));
    // A standalone run has neither key, as Locust's local runner.
    let v = super::super::web::stats_requests(
        &stats,
        1_000.0,
        "running",
        3,
        worker_rows(&status(false)).as_deref(),
    );
    assert!(v.get("workers").is_none() && v.get("worker_count").is_none());
}

#[test]
fn the_index_says_whether_the_run_is_distributed() {
    let stats = RequestStats::new(1_000.0);
    let exceptions = Exceptions::default();
    let open = crate::stats::OpenStats::new(1, 0.0);
    let view = StatsView {
        stats: &stats,
        exceptions: &exceptions,
        history: &[],
        open: &open,
    };
    let page = PageDefaults::default();
    let v = index_args(&view, &status(true), &classes(), &page);
    assert_eq!(
        (&v["is_distributed"], &v["worker_count"]),
        (&json!(true), &json!(1))
    );
    let mut local = status(false);
    local.workers.clear();
    let v = index_args(&view, &local, &classes(), &page);
    assert_eq!(
        (&v["is_distributed"], &v["worker_count"]),
        (&json!(false), &json!(0))
    );
}

#[test]
fn a_masters_report_lists_its_membership_changes() {
    let stats = RequestStats::new(1_000.0);
    let exceptions = Exceptions::default();
    let open = crate::stats::OpenStats::new(1, 0.0);
    let view = StatsView {
        stats: &stats,
        exceptions: &exceptions,
        history: &[],
        open: &open,
    };
    let mut st = status(true);
    st.membership = vec![
        crate::control::MembershipView {
            time: 1_795_808_262.0,
            worker: "vm_1".into(),
            index: 0,
            change: "joined",
        },
        crate::control::MembershipView {
            time: 1_795_808_270.5,
            worker: "vm_1".into(),
            index: 0,
            change: "missing",
        },
    ];
    let v = report_args(&view, &st, &classes(), None, &[]);
    assert_eq!(
        v["workers_membership"],
        json!([
            {"time": "2026-11-27T19:37:42Z", "worker": "vm_1", "index": 0, "change": "joined"},
            {"time": "2026-11-27T19:37:50Z", "worker": "vm_1", "index": 0, "change": "missing"},
        ])
    );
    let html = crate::web::render_report(&v);
    assert!(
        html.contains("id=\"section-workers\""),
        "the report has a Workers section"
    );
    // A standalone run's report has no rows.
    let v = report_args(&view, &status(false), &classes(), None, &[]);
    assert_eq!(v["workers_membership"], json!([]));
}

#[test]
fn the_report_carries_the_check_results() {
    let mut stats = RequestStats::new(1_000.0);
    for i in 0..10 {
        stats.log_request(
            "GET",
            "/api/v1/health",
            Some(20.0),
            1,
            1_000.0 + f64::from(i),
        );
    }
    let exceptions = Exceptions::default();
    let open = crate::stats::OpenStats::new(100, 1_000.0);
    let view = StatsView {
        stats: &stats,
        exceptions: &exceptions,
        history: &[],
        open: &open,
    };
    let rules = [
        crate::checks::Check::parse("health p95<100ms").unwrap(),
        crate::checks::Check::parse("rps>1000").unwrap(),
    ];
    let results = crate::checks::evaluate(&rules, &stats, 1_010.0);
    let v = report_args(&view, &status(false), &classes(), None, &results);
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0]["status"], "PASS");
    assert_eq!(checks[0]["subject"], "GET /api/v1/health");
    assert_eq!(checks[1]["status"], "FAIL");
    assert_eq!(checks[1]["threshold_text"], "> 1000 req/s");
    let html = crate::web::render_report(&v);
    assert!(html.contains("id=\"section-checks\""), "a Checks section");
    assert!(html.contains("SK.checksTable"), "rendered by common.js");
    // Without checks the key is an empty list (the section hides).
    let v = report_args(&view, &status(false), &classes(), None, &[]);
    assert_eq!(v["checks"], json!([]));
}
