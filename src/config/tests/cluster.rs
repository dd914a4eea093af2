//! Tests of the master/worker/processes flags: every flag, alias, environment variable and
//! config key, the defaults, the errors with Locust's texts and exit codes, and the argv of
//! forked local workers.

use std::time::Duration;

use super::{err, run, Dirs};
use crate::config::*;

fn master(bind_host: &str, bind_port: u16, expect: u64, wait: Option<u64>) -> Role {
    Role::Master {
        bind_host: bind_host.to_string(),
        bind_port,
        expect_workers: expect,
        expect_workers_max_wait: wait.map(Duration::from_secs),
    }
}

fn worker(host: &str, port: u16) -> Role {
    Role::Worker {
        master_host: host.to_string(),
        master_port: port,
    }
}

#[test]
fn defaults_are_standalone_with_rebalancing() {
    let c = run(&[]).cluster;
    assert_eq!(c, ClusterSettings::default());
    assert_eq!(c.role, Role::Standalone);
    assert_eq!(c.processes, None);
    assert!(c.enable_rebalancing);
}

#[test]
fn master_defaults() {
    assert_eq!(run(&["--master"]).cluster.role, master("*", 5557, 1, None));
}

#[test]
fn worker_defaults() {
    assert_eq!(run(&["--worker"]).cluster.role, worker("127.0.0.1", 5557));
}

#[test]
fn every_master_flag_parses() {
    let s = run(&[
        "--master",
        "--master-bind-host",
        "192.168.1.1",
        "--master-bind-port=6000",
        "--expect-workers",
        "3",
        "--expect-workers-max-wait",
        "20",
        "--enable-rebalancing",
    ]);
    assert_eq!(s.cluster.role, master("192.168.1.1", 6000, 3, Some(20)));
    assert!(s.cluster.enable_rebalancing);
}

#[test]
fn every_worker_flag_parses() {
    let s = run(&[
        "--worker",
        "--master-host",
        "10.0.0.5",
        "--master-port=6001",
    ]);
    assert_eq!(s.cluster.role, worker("10.0.0.5", 6001));
}

#[test]
fn master_options_without_master_are_ignored() {
    // Locust accepts them and runs locally; so do we.
    let s = run(&["--master-bind-port", "6000", "--expect-workers", "4"]);
    assert_eq!(s.cluster.role, Role::Standalone);
    let s = run(&["--master-host", "h", "--master-port", "1"]);
    assert_eq!(s.cluster.role, Role::Standalone);
}

#[test]
fn worker_ignores_master_and_web_options() {
    // A Locust worker serves no UI and ignores -t/--autostart; none of it is an error.
    let s = run(&[
        "--worker",
        "--headless",
        "-t",
        "10s",
        "--web-port",
        "9000",
        "--expect-workers",
        "5",
        "--master-bind-port",
        "7000",
    ]);
    assert_eq!(s.cluster.role, worker("127.0.0.1", 5557));
    let s = run(&["--worker", "--autostart"]);
    assert_eq!(s.cluster.role, worker("127.0.0.1", 5557));
}

#[test]
fn goose_gaggle_aliases() {
    let s = run(&[
        "--manager",
        "--manager-bind-host",
        "0.0.0.0",
        "--manager-bind-port",
        "6100",
    ]);
    assert_eq!(s.cluster.role, master("0.0.0.0", 6100, 1, None));
    let s = run(&[
        "--worker",
        "--manager-host=m.example",
        "--manager-port",
        "6101",
    ]);
    assert_eq!(s.cluster.role, worker("m.example", 6101));
}

#[test]
fn expect_workers_max_wait_zero_and_negative() {
    assert_eq!(
        run(&["--master", "--expect-workers-max-wait", "0"])
            .cluster
            .role,
        master("*", 5557, 1, None)
    );
    // Locust compares `max_wait < elapsed`, so a negative wait gives up at the first check.
    assert_eq!(
        run(&["--master", "--expect-workers-max-wait", "-5"])
            .cluster
            .role,
        master("*", 5557, 1, Some(0))
    );
}

#[test]
fn expect_workers_must_be_positive_in_locusts_words() {
    for (value, text) in [
        (
            "0",
            "argument --expect-workers: Invalid --expect-workers argument (0), must be a positive number",
        ),
        (
            "-3",
            "argument --expect-workers: Invalid --expect-workers argument (-3), must be a positive number",
        ),
        (
            "x",
            "argument --expect-workers: invalid int value: 'x'",
        ),
    ] {
        let e = err(&["--master", "--expect-workers", value]);
        assert_eq!(e.exit_code(), 2, "{value}");
        assert!(e.to_string().starts_with(text), "{value}: {e}");
    }
}

#[test]
fn bad_numbers_exit_2_naming_flag_and_value() {
    for (flag, value) in [
        ("--master-bind-port", "x"),
        ("--master-bind-port", "70000"),
        ("--master-port", "x"),
        ("--master-port", "-1"),
        ("--manager-port", "x"),
        ("--expect-workers-max-wait", "soon"),
        ("--processes", "x"),
    ] {
        let e = err(&[flag, value]);
        assert_eq!(e.exit_code(), 2, "{flag} {value}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("'{value}'")), "{flag} {value}: {msg}");
        // An alias is reported under the long name it stands for.
        let long = flag.replace("manager", "master");
        assert!(msg.contains(&long), "{flag} {value}: {msg}");
    }
}

#[test]
fn enable_rebalancing_takes_no_value() {
    let e = err(&["--enable-rebalancing=1"]);
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("--enable-rebalancing"), "{e}");
}

#[test]
fn master_with_worker_is_exit_255() {
    let e = err(&["--master", "--worker"]);
    assert_eq!(e.exit_code(), 255);
    assert_eq!(e.to_string(), MASTER_WITH_WORKER);
    assert_eq!(
        e.to_string(),
        "The --master argument cannot be combined with --worker"
    );
    let e = err(&["--manager", "--worker"]);
    assert_eq!(e.exit_code(), EXIT_FATAL);
}

#[test]
fn processes_all_in_one_makes_a_master_expecting_n() {
    let c = run(&["--processes", "4", "--expect-workers", "9"]).cluster;
    assert_eq!(c.processes, Some(4));
    assert_eq!(c.role, master("*", 5557, 4, None));
}

#[test]
fn processes_with_worker_stays_a_worker() {
    let c = run(&["--worker", "--processes", "3", "--master-host", "m"]).cluster;
    assert_eq!(c.processes, Some(3));
    assert_eq!(c.role, worker("m", 5557));
}

#[test]
fn processes_minus_one_is_one_per_cpu() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let c = run(&["--processes", "-1"]).cluster;
    assert_eq!(c.processes, Some(cpus));
    assert_eq!(c.role, master("*", 5557, cpus as u64, None));
}

#[test]
fn processes_zero_is_ignored() {
    assert_eq!(
        run(&["--processes", "0"]).cluster,
        ClusterSettings::default()
    );
}

#[test]
fn processes_errors_exit_1_in_locusts_words() {
    let e = err(&["--processes", "-2"]);
    assert_eq!(e.exit_code(), 1);
    assert_eq!(e.to_string(), "Invalid --processes count -2");
    for n in ["2", "-1"] {
        let e = err(&["--master", "--processes", n]);
        assert_eq!(e.exit_code(), 1, "{n}");
        assert_eq!(
            e.to_string(),
            "--master cannot be combined with --processes. Remove --master, as it is implicit \
as long as --worker is not set.",
            "{n}"
        );
    }
    // Locust checks --processes before --master/--worker.
    assert_eq!(
        err(&["--master", "--worker", "--processes", "2"]).exit_code(),
        1
    );
}

#[test]
fn resolve_processes_without_cpus() {
    let e = crate::config::cluster::resolve_processes(Some(-1), false, || None).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert_eq!(
        e.to_string(),
        "--processes failed to detect number of cpus!?"
    );
    assert_eq!(
        crate::config::cluster::resolve_processes(Some(-1), false, || Some(6)).unwrap(),
        Some(6)
    );
    // The CPU count is only asked for -1.
    assert_eq!(
        crate::config::cluster::resolve_processes(Some(2), false, || panic!("asked")).unwrap(),
        Some(2)
    );
}

#[test]
fn autoquit_check_comes_first() {
    let e = err(&["--autoquit", "5", "--master", "--worker"]);
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("--autoquit"), "{e}");
}

#[test]
fn env_vars_set_every_option() {
    let d = Dirs::new();
    let s = d.settings(
        &[],
        &[
            ("LOCUST_MODE_MASTER", "true"),
            ("LOCUST_MASTER_BIND_HOST", "127.0.0.2"),
            ("LOCUST_MASTER_BIND_PORT", "6200"),
            ("LOCUST_EXPECT_WORKERS", "2"),
            ("LOCUST_EXPECT_WORKERS_MAX_WAIT", "30"),
        ],
    );
    assert_eq!(s.cluster.role, master("127.0.0.2", 6200, 2, Some(30)));
    let s = d.settings(
        &[],
        &[
            ("LOCUST_MODE_WORKER", "yes"),
            ("LOCUST_MASTER_NODE_HOST", "m.example"),
            ("LOCUST_MASTER_NODE_PORT", "6201"),
            ("LOCUST_PROCESSES", "2"),
        ],
    );
    assert_eq!(s.cluster.role, worker("m.example", 6201));
    assert_eq!(s.cluster.processes, Some(2));
}

#[test]
fn env_false_and_cli_override() {
    let d = Dirs::new();
    let s = d.settings(&[], &[("LOCUST_MODE_MASTER", "0")]);
    assert_eq!(s.cluster.role, Role::Standalone);
    let s = d.settings(
        &["--master-bind-port", "6300"],
        &[
            ("LOCUST_MODE_MASTER", "on"),
            ("LOCUST_MASTER_BIND_PORT", "x"),
        ],
    );
    assert_eq!(s.cluster.role, master("*", 6300, 1, None));
}

#[test]
fn env_errors_name_the_variable() {
    let d = Dirs::new();
    let e = d.error(&[], &[("LOCUST_MODE_MASTER", "maybe")]);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(
        msg.contains("LOCUST_MODE_MASTER") && msg.contains("'maybe'") && msg.contains("--master"),
        "{msg}"
    );
    let e = d.error(&["--master"], &[("LOCUST_EXPECT_WORKERS", "0")]);
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        e.to_string(),
        "environment variable LOCUST_EXPECT_WORKERS: argument --expect-workers: \
Invalid --expect-workers argument (0), must be a positive number"
    );
    let e = d.error(
        &[],
        &[("LOCUST_MODE_MASTER", "1"), ("LOCUST_MODE_WORKER", "true")],
    );
    assert_eq!(e.exit_code(), 255);
    let e = d.error(&[], &[("LOCUST_PROCESSES", "-7")]);
    assert_eq!(e.exit_code(), 1);
    let e = d.error(&[], &[("LOCUST_MASTER_NODE_PORT", "port")]);
    assert!(e.to_string().contains("LOCUST_MASTER_NODE_PORT"), "{e}");
}

#[test]
fn enable_rebalancing_has_no_env_var() {
    // Locust has none either; the variable is simply not ours.
    let d = Dirs::new();
    let s = d.settings(&[], &[("LOCUST_ENABLE_REBALANCING", "maybe")]);
    assert!(s.cluster.enable_rebalancing);
}

#[test]
fn config_keys_for_every_option() {
    let d = Dirs::new();
    d.write_cwd(
        "locust.conf",
        "master = true\nmaster-bind-host = 10.1.1.1\nmaster-bind-port = 6400\n\
expect-workers = 5\nexpect-workers-max-wait = 60\nenable-rebalancing = true\n",
    );
    let s = d.settings(&[], &[]);
    assert_eq!(s.cluster.role, master("10.1.1.1", 6400, 5, Some(60)));

    let d = Dirs::new();
    d.write_cwd(
        "pyproject.toml",
        "[tool.locust]\nworker = true\nmaster-host = \"m\"\nmaster-port = 6401\nprocesses = 2\n",
    );
    let s = d.settings(&[], &[]);
    assert_eq!(s.cluster.role, worker("m", 6401));
    assert_eq!(s.cluster.processes, Some(2));
}

#[test]
fn config_keys_accept_the_gaggle_aliases() {
    let d = Dirs::new();
    d.write_cwd(
        "locust.conf",
        "manager\nmanager-bind-host = 10.2.2.2\nmanager-bind-port = 6500\n",
    );
    assert_eq!(
        d.settings(&[], &[]).cluster.role,
        master("10.2.2.2", 6500, 1, None)
    );
    let d = Dirs::new();
    d.write_cwd(
        "locust.conf",
        "worker\nmanager-host = g\nmanager-port = 6501\n",
    );
    assert_eq!(d.settings(&[], &[]).cluster.role, worker("g", 6501));
}

#[test]
fn config_errors_name_file_and_flag() {
    let d = Dirs::new();
    d.write_cwd("locust.conf", "master = true\nexpect-workers = 0\n");
    let e = d.error(&[], &[]);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(msg.contains("locust.conf, line 2"), "{msg}");
    assert!(
        msg.ends_with("argument --expect-workers: Invalid --expect-workers argument (0), must be a positive number"),
        "{msg}"
    );
    // An underscore spelling is still refused, with a hint.
    let d = Dirs::new();
    d.write_cwd("locust.conf", "expect_workers = 2\n");
    let msg = d.error(&[], &[]).to_string();
    assert!(msg.contains("did you mean 'expect-workers'"), "{msg}");
}

#[test]
fn help_shows_groups_aliases_env_and_the_no_op() {
    let help = match Dirs::new().load(&["--help"], &[]) {
        Ok(Command::PrintHelp(h)) => h,
        other => panic!("{other:?}"),
    };
    for needle in [
        "Master options",
        "Worker options",
        "--master-bind-port",
        "manager-bind-port",
        "--expect-workers-max-wait",
        "LOCUST_MODE_MASTER",
        "LOCUST_MODE_WORKER",
        "LOCUST_MASTER_NODE_HOST",
        "LOCUST_MASTER_NODE_PORT",
        "LOCUST_PROCESSES",
        "changes nothing",
    ] {
        assert!(help.contains(needle), "help lacks {needle}:\n{help}");
    }
}

#[test]
fn parsed_options_carry_the_role() {
    let o = run(&["--master", "--expect-workers", "3"]).parsed_options();
    assert_eq!(o["master"], true);
    assert_eq!(o["worker"], false);
    assert_eq!(o["expect_workers"], 3);
    assert_eq!(o["master_bind_host"], "*");
    assert_eq!(o["master_bind_port"], 5557);
    assert_eq!(o["expect_workers_max_wait"], 0);
    assert_eq!(o["processes"], serde_json::Value::Null);
}

#[test]
fn runtime_texts() {
    assert_eq!(
        master_port_busy_message("*", 5557, "Socket bind failure: Address already in use"),
        "The Locust master port (5557) was busy. Close any applications using that port - \
perhaps an old instance of Locust master is still running? (Socket bind failure: Address already in use)"
    );
    assert!(master_port_busy_message("10.0.0.1", 6000, "x").contains("(10.0.0.1:6000)"));
    assert_eq!(GAVE_UP_WAITING, "Gave up waiting for workers to connect");
    assert_eq!((EXIT_MASTER_PORT_BUSY, EXIT_GAVE_UP_WAITING), (1, 1));
}

#[test]
fn child_args_for_the_all_in_one_parent() {
    let s = run(&[
        "--processes",
        "2",
        "--master-bind-port",
        "6600",
        "--headless",
        "-u",
        "10",
        "-t",
        "1m",
        "--csv",
        "out",
        "--html",
        "r.html",
        "--json",
        "-L",
        "debug",
        "-H",
        "http://t.example",
        "-T",
        "a",
        "b",
        "-E",
        "c",
        "--reset-stats",
        "UserA",
        "UserB",
    ]);
    let args = worker_child_args(&s);
    assert_eq!(
        args,
        [
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            "6600",
            "--host",
            "http://t.example",
            "--loglevel",
            "DEBUG",
            "--exit-code-on-error",
            "1",
            "--max-body-size",
            &skein_api::engine_support::DEFAULT_MAX_BODY_SIZE.to_string(),
            "--max-request-names",
            &crate::stats::DEFAULT_MAX_REQUEST_NAMES.to_string(),
            "--max-failure-rows",
            &crate::stats::DEFAULT_MAX_FAILURE_ROWS.to_string(),
            "--reset-stats",
            "--tags",
            "a",
            "b",
            "--exclude-tags",
            "c",
            "--",
            "UserA",
            "UserB",
        ]
    );
}

#[test]
fn child_args_parse_back_into_a_plain_worker() {
    let parent = run(&["--processes", "3", "-T", "x", "-L", "warning", "U1"]);
    let child_args = worker_child_args(&parent);
    let args: Vec<&str> = child_args.iter().map(String::as_str).collect();
    let child = run(&args);
    assert_eq!(child.cluster.role, worker("127.0.0.1", 5557));
    assert_eq!(child.cluster.processes, None);
    assert_eq!(child.tags, Some(vec!["x".to_string()]));
    assert_eq!(child.user_classes, ["U1"]);
    assert_eq!(child.loglevel, LogLevel::Warning);
    assert!(!child.headless && child.csv_prefix.is_none() && child.web.html.is_none());
}

#[test]
fn child_args_follow_the_master_bind_host_and_the_worker_target() {
    let at = |args: &[&str]| {
        let a = worker_child_args(&run(args));
        (a[2].clone(), a[4].clone())
    };
    assert_eq!(
        at(&["--processes", "1", "--master-bind-host", "0.0.0.0"]).0,
        "127.0.0.1"
    );
    assert_eq!(
        at(&["--processes", "1", "--master-bind-host", "::"]).0,
        "::1"
    );
    assert_eq!(
        at(&["--processes", "1", "--master-bind-host", "10.3.3.3"]).0,
        "10.3.3.3"
    );
    assert_eq!(
        at(&[
            "--worker",
            "--processes",
            "2",
            "--master-host",
            "far",
            "--master-port",
            "7000"
        ]),
        ("far".to_string(), "7000".to_string())
    );
    // Empty tag lists survive as a bare flag.
    let a = worker_child_args(&run(&["--processes", "1", "-T"]));
    assert_eq!(a.last().map(String::as_str), Some("--tags"));
}
