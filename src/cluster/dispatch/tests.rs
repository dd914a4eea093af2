use super::*;
use serde_json::Value;

/// Reference vectors produced by Locust 2.47.0's own `UsersDispatcher` (sleep patched out).
const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/locust/dispatch-vectors.json"
);

/// Add/remove-worker vectors from the same dispatcher (script next to the file).
const REBALANCE_VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/locust/protocol/dispatch-rebalance-vectors.json"
);

fn load(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    match serde_json::from_str(&text) {
        Ok(Value::Array(cases)) => cases,
        other => panic!("{path}: not a JSON array: {other:?}"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

fn classes(case: &Value) -> Vec<DispatchClass> {
    case["user_classes"]
        .as_array()
        .expect("user_classes")
        .iter()
        .map(|c| DispatchClass {
            name: c["name"].as_str().expect("name").into(),
            weight: c["weight"].as_f64().expect("weight"),
            fixed_count: c["fixed_count"].as_u64().expect("fixed_count"),
        })
        .collect()
}

fn weights(pairs: &[(&str, f64)]) -> Vec<ClassWeight> {
    pairs
        .iter()
        .map(|(n, w)| ClassWeight {
            name: (*n).into(),
            weight: *w,
        })
        .collect()
}

/// Runs one dispatch cycle step of a vector and compares every iteration.
fn check_step(d: &mut Dispatcher, step: &Value, case: &str) -> usize {
    d.new_dispatch(
        step["target_user_count"].as_u64().expect("target"),
        step["spawn_rate"].as_f64().expect("rate"),
    );
    if let Some(w) = step.get("wait_between_dispatch_s") {
        assert_eq!(d.wait_between(), w.as_f64().expect("wait"), "{case}");
    }
    let mut checked = 0;
    for (i, expected) in step["iterations"]
        .as_array()
        .expect("iterations")
        .iter()
        .enumerate()
    {
        let got = d
            .next_iteration()
            .unwrap_or_else(|| panic!("{case}: iteration {i} missing"));
        // serde_json's map equality ignores key order, as Python's dict equality does.
        assert_eq!(
            &serde_json::to_value(&got).unwrap(),
            expected,
            "{case}: iteration {i}"
        );
        checked += 1;
    }
    assert!(d.next_iteration().is_none(), "{case}: ramp should be over");
    checked
}

#[test]
fn kl_generator_interleaves_by_weight() {
    // Locust's docstring says AAABAAAAABAA, but its generator yields this (see the vectors).
    let seq: String = KlGenerator::new(&weights(&[("A", 5.0), ("B", 1.0)]))
        .take(12)
        .collect();
    assert_eq!(seq, "AABAAAAABAAA");
}

#[test]
fn matches_locust_dispatch_vectors() {
    let mut cases = 0;
    let mut iterations = 0;
    for case in load(VECTORS) {
        let name = case["case"].as_str().expect("case name").to_string();
        if let Some(sequence) = case.get("sequence") {
            let (a, b) = if name.contains("Heavy") {
                (("HeavyUser", 3.0), ("LightUser", 1.0))
            } else {
                (("A", 5.0), ("B", 1.0))
            };
            let got: Vec<String> = KlGenerator::new(&weights(&[a, b])).take(12).collect();
            let want: Vec<String> = match sequence {
                Value::String(s) => s.chars().map(|c| c.to_string()).collect(),
                other => strings(other),
            };
            let got: Vec<String> = if sequence.is_string() {
                got.iter().map(|n| n[..1].to_string()).collect()
            } else {
                got
            };
            assert_eq!(got, want, "{name}");
            cases += 1;
            continue;
        }
        let mut d = Dispatcher::new(&strings(&case["worker_ids_in"]), &classes(&case));
        assert_eq!(
            d.workers(),
            strings(&case["worker_order_after_sort"]).as_slice(),
            "{name}"
        );
        for step in case["steps"].as_array().expect("steps") {
            iterations += check_step(&mut d, step, &name);
        }
        cases += 1;
    }
    // Every case in the file ran (none skipped): 3 dispatch cases and 2 sequences.
    assert_eq!(cases, 5);
    assert_eq!(iterations, 2 + 3 + 4 + 4);
}

/// Replays vectors of workers joining and leaving between dispatch steps and iterations.
#[test]
fn matches_locust_rebalance_vectors() {
    let mut events = 0;
    for case in load(REBALANCE_VECTORS) {
        let name = case["case"].as_str().expect("case name").to_string();
        let mut d = Dispatcher::new(&strings(&case["worker_ids_in"]), &classes(&case));
        for op in case["ops"].as_array().expect("ops") {
            match op["op"].as_str().expect("op") {
                "dispatch" => {
                    d.new_dispatch(
                        op["target_user_count"].as_u64().expect("target"),
                        op["spawn_rate"].as_f64().expect("rate"),
                    );
                }
                "add_worker" => d.add_worker(op["worker"].as_str().expect("worker")),
                "remove_worker" => d.remove_worker(op["worker"].as_str().expect("worker")),
                "next" => {
                    let got = d.next_iteration().map(|g| serde_json::to_value(g).unwrap());
                    let want = op.get("result").filter(|v| !v.is_null());
                    assert_eq!(got.as_ref(), want, "{name}: op {events}");
                }
                other => panic!("{name}: unknown op {other}"),
            }
            if let Some(order) = op.get("worker_order") {
                assert_eq!(d.workers(), strings(order).as_slice(), "{name}");
            }
            events += 1;
        }
    }
    assert!(events > 20, "too few operations replayed: {events}");
}

#[test]
fn fixed_count_users_come_first_and_are_refilled() {
    let classes = vec![
        DispatchClass {
            name: "Fixed".into(),
            weight: 1.0,
            fixed_count: 1,
        },
        DispatchClass {
            name: "W".into(),
            weight: 1.0,
            fixed_count: 0,
        },
    ];
    let mut d = Dispatcher::new(&["a_1".to_string()], &classes);
    d.new_dispatch(3, 100.0);
    let dist = d.next_iteration().expect("one iteration");
    assert_eq!(dist["a_1"]["Fixed"], 1);
    assert_eq!(dist["a_1"]["W"], 2);
    // Down to 0 and back: the fixed user is the first one started again.
    d.new_dispatch(0, 100.0);
    assert_eq!(class_totals(&d.next_iteration().unwrap())["Fixed"], 0);
    d.new_dispatch(1, 100.0);
    assert_eq!(class_totals(&d.next_iteration().unwrap())["Fixed"], 1);
}

#[test]
fn a_known_worker_joining_again_is_not_counted_twice() {
    let workers = vec!["h_1".to_string(), "h_2".to_string()];
    let mut d = Dispatcher::new(&workers, &weights(&[("A", 1.0)]));
    d.new_dispatch(4, 10.0);
    while d.next_iteration().is_some() {}
    d.add_worker("h_1");
    assert_eq!(d.workers(), workers.as_slice());
    assert_eq!(d.distribution()["h_1"]["A"], 2);
}

#[test]
fn removing_the_last_worker_keeps_its_counts_and_stops_ramping() {
    let mut d = Dispatcher::new(&["h_1".to_string()], &weights(&[("A", 1.0)]));
    d.new_dispatch(2, 10.0);
    while d.next_iteration().is_some() {}
    d.remove_worker("h_1");
    assert!(d.workers().is_empty());
    assert_eq!(d.current_count(), 2);
    d.new_dispatch(5, 10.0);
    // The current count (2) is not the target, and there is nowhere to start users.
    assert!(d.next_iteration().is_none());
    d.add_worker("h_2");
    d.new_dispatch(5, 10.0);
    let dist = d.next_iteration().expect("the rebalance onto h_2");
    assert_eq!(dist.keys().collect::<Vec<_>>(), ["h_2"]);
    assert_eq!(dist["h_2"]["A"], 2);
    assert_eq!(d.next_iteration().expect("the ramp")["h_2"]["A"], 5);
    assert!(d.next_iteration().is_none());
}

#[test]
fn distribute_splits_exactly() {
    let classes = weights(&[("HighLoadUser", 1.0), ("ImageClassifierUser", 3.0)]);
    let d = distribute(&classes, 10);
    assert_eq!(d.values().sum::<u64>(), 10);
    assert!(d["ImageClassifierUser"] >= 7);
}
