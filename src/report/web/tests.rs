use super::*;
use crate::stats::testdata::{fakeworker_master, sample};
use crate::stats::RequestStats;

fn sample_json(name: &str) -> Value {
    serde_json::from_str(&sample(&format!("webapi/{name}"))).expect("sample json")
}

fn workers_of(v: &Value) -> Vec<WorkerRow> {
    v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| WorkerRow {
            id: w["id"].as_str().unwrap().into(),
            state: w["state"].as_str().unwrap().into(),
            user_count: w["user_count"].as_u64().unwrap(),
            cpu_usage: w["cpu_usage"].as_f64().unwrap(),
            memory_usage: w["memory_usage"].as_u64().unwrap(),
        })
        .collect()
}

/// JSON type names, so ints and floats are told apart.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[test]
fn before_start_matches_sample_exactly() {
    let want = sample_json("stats_requests_before_start.json");
    let s = RequestStats::new(1_795_808_040.5);
    let workers = workers_of(&want);
    let got = stats_requests(&s, 1_795_808_045.0, "ready", 0, Some(&workers));
    assert_eq!(got, want);
    // Too early for a 2 s-old snapshot: current percentiles are null.
    let got = stats_requests(&s, 1_795_808_041.0, "ready", 0, None);
    assert_eq!(
        got["current_response_time_percentiles"]["response_time_percentile_0.5"],
        Value::Null
    );
    assert!(got.get("workers").is_none());
}

#[test]
fn running_shape_matches_sample() {
    let want = sample_json("stats_requests_running.json");
    let m = fakeworker_master();
    let workers = workers_of(&want);
    let got = stats_requests(&m, 1_795_808_262.0, "running", 6, Some(&workers));
    let keys = |v: &Value| {
        v.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(keys(&got), keys(&want));
    let (g, w) = (&got["stats"][0], &want["stats"][0]);
    assert_eq!(keys(g), keys(w));
    for k in keys(w) {
        assert_eq!(kind(&g[&k]), kind(&w[&k]), "stats[0].{k}");
    }
    assert_eq!(keys(&got["errors"][0]), keys(&want["errors"][0]));
    assert_eq!(
        got["stats"].as_array().unwrap().last().unwrap()["name"],
        "Aggregated"
    );
    assert_eq!(got["stats"][0]["min_response_time"], json!(6.0));
    assert_eq!(got["stats"][0]["max_response_time"], json!(180.0));
    assert_eq!(got["total_rps"], got["stats"][1]["total_rps"]);
    assert_eq!(got["current_rps"], got["stats"][1]["current_rps"]);
    let csv_rps: f64 = 23.86474574508313;
    assert_eq!(got["total_rps"].as_f64().unwrap(), csv_rps);
}

#[test]
fn at_most_500_entries_then_the_total() {
    let mut s = RequestStats::new(1_795_808_040.0);
    for i in 0..510 {
        s.log_request("GET", &format!("/{i:04}"), Some(1.0), 0, 1_795_808_041.0);
    }
    let v = stats_requests(&s, 1_795_808_042.0, "running", 1, None);
    let rows = v["stats"].as_array().unwrap();
    assert_eq!(rows.len(), 501);
    assert_eq!(rows[499]["name"], "/0499");
    assert_eq!(rows[500]["name"], "Aggregated");
}

#[test]
fn tasks_matches_sample() {
    let want = sample_json("tasks.json");
    let input = vec![
        (
            "HeavyUser".to_string(),
            2.0 / 3.0,
            vec![("index".to_string(), 0.75), ("missing".to_string(), 0.25)],
        ),
        (
            "LightUser".to_string(),
            1.0 / 3.0,
            vec![("boom".to_string(), 0.5), ("item".to_string(), 0.5)],
        ),
    ];
    assert_eq!(tasks(&input), want);
}

#[test]
fn exceptions_matches_sample() {
    let want = sample_json("exceptions.json");
    let row = &want["exceptions"][0];
    let mut ex = Exceptions::new();
    for _ in 0..row["count"].as_u64().unwrap() {
        ex.add(
            row["msg"].as_str().unwrap(),
            row["traceback"].as_str().unwrap(),
            row["nodes"].as_str().unwrap(),
        );
    }
    assert_eq!(exceptions(&ex), want);
}
