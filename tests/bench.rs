//! `skein bench` end to end: the real binary against its embedded reference service, each test
//! briefly; its JSON must have the service README's fields with sane values, a check that
//! cannot pass must exit 3, and the wrapper script must explain itself and a missing binary.
//! Durations are a few seconds: assertions are on counts and generous bounds only.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Lenient checks, so the exit code reflects the run, not this machine's speed.
const LENIENT: [&str; 4] = ["--check", "p95<60s", "--check", "error-rate<50%"];

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skein"))
        .arg("bench")
        .args(args)
        .output()
        .expect("skein ran")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The one file `dir` holds named `bench_<test>_*.<ext>`.
fn result_file(dir: &Path, test: &str, ext: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with(&format!("bench_{test}_")) && name.ends_with(&format!(".{ext}"))
        })
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

fn run_test(test: &str, extra: &[&str]) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let mut args = vec!["--test", test, "--output-dir", out_dir];
    args.extend_from_slice(extra);
    args.extend_from_slice(&LENIENT);
    let o = bench(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(result_file(dir.path(), test, "json")).unwrap(),
    )
    .unwrap();
    (json, String::from_utf8_lossy(&o.stdout).to_string())
}

/// The README's fields, consistent with each other.
fn assert_readme_fields(j: &Value) {
    let n = |k: &str| {
        j[k].as_f64()
            .unwrap_or_else(|| panic!("{k} missing in {j}"))
    };
    let total = n("total_requests");
    assert!(total > 0.0, "{j}");
    assert_eq!(n("successful_requests") + n("failed_requests"), total);
    assert!((0.0..=1.0).contains(&n("success_rate")));
    assert_eq!(
        n("success_rate"),
        1.0,
        "the reference service fails nothing: {j}"
    );
    for k in [
        "avg_response_time",
        "p95_response_time",
        "p99_response_time",
    ] {
        // Seconds: positive or zero, and under a minute on any machine.
        assert!((0.0..60.0).contains(&n(k)), "{k} = {}", n(k));
    }
    assert!(n("p95_response_time") <= n("p99_response_time"));
    assert!(n("requests_per_second") > 0.0);
    assert!(j["error_types"].as_array().unwrap().is_empty(), "{j}");
    assert!(!j["checks"].as_array().unwrap().is_empty());
}

#[test]
fn health_runs_at_the_asked_rate() {
    let (j, stdout) = run_test("health", &["--duration", "2", "--rps", "20"]);
    assert_readme_fields(&j);
    // 2 s at 20/s: about 40 iterations, whatever this machine's speed (the open model).
    let total = j["total_requests"].as_u64().unwrap();
    assert!((10..=60).contains(&total), "{total}");
    let open = &j["open_model"];
    assert_eq!(open["rate_asked"].as_f64(), Some(20.0));
    assert!(open["scheduled"].as_u64().unwrap() >= total);
    assert!(open["corrected_p95"].as_f64().unwrap() >= open["uncorrected_p95"].as_f64().unwrap());
    assert_eq!(j["endpoints"][0]["name"], "/api/v1/health");
    assert!(
        stdout.contains("== health ==") && stdout.contains("PASS"),
        "{stdout}"
    );
    // The generator was sampled during the test, and the run judged.
    assert!(
        j["generator"]["cpu_percent"]["samples"].as_u64() >= Some(1),
        "{j}"
    );
    assert!(j["verdict"]["valid"].is_boolean(), "{j}");
    assert!(stdout.contains("Run verdict: "), "{stdout}");
}

#[test]
fn model_info_runs() {
    let (j, _) = run_test("model_info", &["--duration", "2", "--rps", "10"]);
    assert_readme_fields(&j);
    assert_eq!(j["endpoints"][0]["name"], "/api/v1/model/info");
}

#[test]
fn classification_has_a_row_per_size_and_the_confidences() {
    let (j, _) = run_test("classification", &["--duration", "3", "--rps", "8"]);
    assert_readme_fields(&j);
    let names: Vec<&str> = j["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for n in &names {
        assert!(
            n.starts_with("/api/v1/classify [") && n.ends_with("px]"),
            "{names:?}"
        );
    }
    let c = &j["confidence"];
    // Every successful classification had a top prediction.
    assert_eq!(c["count"], j["successful_requests"]);
    let buckets: u64 = c["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(buckets, c["count"].as_u64().unwrap());
    let (min, max) = (c["min"].as_f64().unwrap(), c["max"].as_f64().unwrap());
    assert!(0.0 < min && min <= max && max <= 1.0);
}

#[test]
fn stress_steps_up_to_the_workers() {
    let (j, stdout) = run_test("stress", &["--workers", "3", "--duration", "3"]);
    assert_readme_fields(&j);
    let steps = j["steps"].as_array().unwrap();
    let users: Vec<u64> = steps.iter().map(|s| s["users"].as_u64().unwrap()).collect();
    assert_eq!(users, [1, 2, 3]);
    let sum: u64 = steps
        .iter()
        .map(|s| s["total_requests"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, j["total_requests"].as_u64().unwrap());
    assert!(steps
        .iter()
        .all(|s| s["total_requests"].as_u64().unwrap() > 0));
    assert!(j.get("max_concurrency_meeting_targets").is_some());
    assert!(stdout.contains("| users |"), "{stdout}");
}

#[test]
fn latency_keeps_every_sample() {
    let (j, stdout) = run_test("latency", &["--iterations", "30"]);
    assert_readme_fields(&j);
    assert_eq!(j["total_requests"].as_u64(), Some(30));
    assert_eq!(j["iterations_run"].as_u64(), Some(30));
    let in_bins: u64 = j["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(in_bins, 30);
    let o = &j["outliers"];
    assert!(o["q1_ms"].as_f64().unwrap() <= o["q3_ms"].as_f64().unwrap());
    assert!(o["count"].as_u64().unwrap() < 30);
    assert!(stdout.contains("histogram"), "{stdout}");
}

#[test]
fn memory_reads_the_embedded_services_metrics() {
    let (j, _) = run_test("memory", &["--iterations", "12"]);
    assert_readme_fields(&j);
    let m = &j["memory"];
    assert_eq!(m["available"], true, "{m}");
    assert!(m["source"]
        .as_str()
        .unwrap()
        .ends_with("/metrics (process_resident_memory_bytes)"));
    assert!(m["samples"].as_u64().unwrap() >= 1);
    // A process of skein's size: between 1 MiB and 16 GiB.
    let peak = m["peak_bytes"].as_u64().unwrap();
    assert!((1 << 20..1 << 34).contains(&peak), "{peak}");
    assert!(["possible_leak", "no_leak_detected", "inconclusive"]
        .contains(&m["verdict"].as_str().unwrap()));
}

#[test]
fn memory_of_this_pid() {
    let pid = std::process::id().to_string();
    let (j, _) = run_test("memory", &["--iterations", "5", "--pid", &pid]);
    assert_eq!(j["memory"]["source"], format!("/proc/{pid}/status (VmRSS)"));
}

#[test]
fn memory_without_a_source_says_so_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    // A pid no process has (pid_max is at most 2^22); lenient checks, so only the source decides.
    let mut args = vec![
        "--test",
        "memory",
        "--iterations",
        "2",
        "--pid",
        "99999999",
        "--output-dir",
        dir.path().to_str().unwrap(),
    ];
    args.extend_from_slice(&LENIENT);
    let o = bench(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no memory source"),
        "{}",
        text(&o)
    );
    let j: Value = serde_json::from_str(
        &std::fs::read_to_string(result_file(dir.path(), "memory", "json")).unwrap(),
    )
    .unwrap();
    assert_eq!(j["memory"]["available"], false);
}

#[test]
fn an_impossible_check_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let o = bench(&[
        "--test",
        "latency",
        "--iterations",
        "3",
        "--check",
        "p50<0.001ms",
        "--output-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("FAIL  p50<0.001ms"),
        "{}",
        text(&o)
    );
}

#[test]
fn bad_values_exit_2() {
    for args in [
        &["--test", "bogus"][..],
        &["--rps", "0"],
        &["--check", "p95<<1"],
    ] {
        let o = bench(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
    }
    let help = bench(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--iterations"));
}

#[test]
fn comprehensive_writes_the_three_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--test",
        "comprehensive",
        "--duration",
        "2",
        "--workers",
        "2",
        "--iterations",
        "8",
        "--output-dir",
        dir.path().to_str().unwrap(),
    ];
    args.extend_from_slice(&LENIENT);
    let o = bench(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: Value = serde_json::from_str(
        &std::fs::read_to_string(result_file(dir.path(), "comprehensive", "json")).unwrap(),
    )
    .unwrap();
    let tests: Vec<&String> = j["tests"].as_object().unwrap().keys().collect();
    assert_eq!(
        tests,
        [
            "health",
            "model_info",
            "classification",
            "stress",
            "latency",
            "memory"
        ]
    );
    for t in j["tests"].as_object().unwrap().values() {
        assert_readme_fields(t);
    }
    let md = std::fs::read_to_string(result_file(dir.path(), "comprehensive", "md")).unwrap();
    assert!(md.contains("## stress") && md.contains("## memory"), "{md}");
    let html = std::fs::read_to_string(result_file(dir.path(), "comprehensive", "html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.matches("<svg").count() >= 4);
    assert!(!html.contains("<script"), "self-contained, no script");
}

fn wrapper() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/run-performance-tests.sh")
}

#[test]
fn wrapper_help() {
    let o = Command::new(wrapper()).arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("--duration") && out.contains("comprehensive"),
        "{out}"
    );
}

#[test]
fn wrapper_without_a_binary_fails_clearly() {
    // A copy of the script in a tree with no target/ directory.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    let script = dir.path().join("scripts/run-performance-tests.sh");
    std::fs::copy(wrapper(), &script).unwrap();
    let o = Command::new(&script)
        .env_remove("SKEIN_BIN")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("skein is not built"),
        "{}",
        text(&o)
    );
    let o = Command::new(&script)
        .env("SKEIN_BIN", dir.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SKEIN_BIN"));
}

#[test]
fn wrapper_runs_skein_bench() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(wrapper())
        .env("SKEIN_BIN", env!("CARGO_BIN_EXE_skein"))
        .args([
            "--test",
            "latency",
            "--iterations",
            "3",
            "--output-dir",
            dir.path().to_str().unwrap(),
        ])
        .args(LENIENT)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Running the latency benchmark"));
    result_file(dir.path(), "latency", "json");
}
