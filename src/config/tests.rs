//! Tests of `load`: every flag, the error messages and exit codes, and the precedence of the
//! command line, environment and config files.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use super::*;

mod checks;
mod cluster;

/// A home and a working directory, both empty temporary directories.
struct Dirs {
    home: tempfile::TempDir,
    cwd: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Self {
        Dirs {
            home: tempfile::tempdir().expect("tempdir"),
            cwd: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn write_home(&self, name: &str, text: &str) {
        std::fs::write(self.home.path().join(name), text).expect("write");
    }

    fn write_cwd(&self, name: &str, text: &str) {
        std::fs::write(self.cwd.path().join(name), text).expect("write");
    }

    fn load(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Command, ConfigError> {
        let mut argv: Vec<OsString> = vec!["skein".into()];
        argv.extend(args.iter().map(OsString::from));
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load(argv, &env, Some(self.home.path()), self.cwd.path())
    }

    fn settings(&self, args: &[&str], env: &[(&str, &str)]) -> Settings {
        match self.load(args, env) {
            Ok(Command::Run(s)) => s,
            other => panic!("expected settings for {args:?}, got {other:?}"),
        }
    }

    fn error(&self, args: &[&str], env: &[(&str, &str)]) -> ConfigError {
        match self.load(args, env) {
            Err(e) => e,
            Ok(other) => panic!("expected an error for {args:?}, got {other:?}"),
        }
    }
}

fn run(args: &[&str]) -> Settings {
    Dirs::new().settings(args, &[])
}

fn err(args: &[&str]) -> ConfigError {
    Dirs::new().error(args, &[])
}

#[test]
fn defaults() {
    let s = run(&[]);
    assert_eq!(s.host, None);
    assert_eq!(s.users, None);
    assert_eq!(s.spawn_rate, None);
    assert_eq!(s.run_time, None);
    assert!(!s.headless && !s.list && !s.csv_full_history && !s.only_summary && !s.reset_stats);
    assert_eq!(s.csv_prefix, None);
    assert_eq!(s.stop_timeout, Duration::ZERO);
    assert_eq!(s.loglevel, LogLevel::Info);
    assert_eq!(s.logfile, None);
    assert_eq!(s.exit_code_on_error, 1);
    assert!(!s.json);
    assert_eq!(s.json_file, None);
    assert_eq!(s.tags, None);
    assert_eq!(s.exclude_tags, None);
    assert!(s.user_classes.is_empty());
    assert_eq!(
        s.web,
        WebSettings {
            host: String::new(),
            port: 8089,
            autostart: false,
            autoquit: None,
            base_path: String::new(),
            tls: None,
            print_stats: false,
            html: None,
            auth: None,
            allowed_origins: Vec::new(),
        }
    );
    assert_eq!(s.web.bind_host(), "0.0.0.0");
    assert_eq!(s, Settings::default());
}

#[test]
fn every_flag_parses() {
    let s = run(&[
        "-H",
        "https://example.com:8443/api",
        "-u",
        "50",
        "-r",
        "2.5",
        "-t",
        "1h20m",
        "--headless",
        "-l",
        "--csv",
        "out/run",
        "--csv-full-history",
        "--only-summary",
        "--reset-stats",
        "-s",
        "30s",
        "-L",
        "debug",
        "--logfile",
        "skein.log",
        "--exit-code-on-error",
        "3",
        "--json",
        "--json-file",
        "result",
        "-T",
        "a",
        "b",
        "-E",
        "c",
        "--web-host",
        "127.0.0.1",
        "-P",
        "0",
        "--autostart",
        "--autoquit",
        "10",
        "--web-base-path",
        "/locust",
        "--tls-cert",
        "cert.pem",
        "--tls-key",
        "key.pem",
        "--print-stats",
        "--html",
        "report_{u}.html",
        "--web-auth",
        "admin:s3:cret",
        "--",
        "HeavyUser",
        "LightUser",
    ]);
    assert_eq!(s.host.as_deref(), Some("https://example.com:8443/api"));
    assert_eq!(s.users, Some(50));
    assert_eq!(s.spawn_rate, Some(2.5));
    assert_eq!(s.run_time, Some(Duration::from_secs(4800)));
    assert!(s.headless && s.list && s.csv_full_history && s.only_summary && s.reset_stats);
    assert_eq!(s.csv_prefix.as_deref(), Some("out/run"));
    assert_eq!(s.stop_timeout, Duration::from_secs(30));
    assert_eq!(s.loglevel, LogLevel::Debug);
    assert_eq!(s.loglevel.to_tracing(), tracing::Level::DEBUG);
    assert_eq!(s.logfile, Some("skein.log".into()));
    assert_eq!(s.exit_code_on_error, 3);
    assert!(s.json);
    assert_eq!(s.json_file, Some("result".into()));
    assert_eq!(s.tags, Some(vec!["a".to_string(), "b".to_string()]));
    assert_eq!(s.exclude_tags, Some(vec!["c".to_string()]));
    assert_eq!(s.user_classes, vec!["HeavyUser", "LightUser"]);
    assert_eq!(s.web.host, "127.0.0.1");
    assert_eq!(s.web.port, 0);
    assert!(s.web.autostart);
    assert_eq!(s.web.autoquit, Some(10));
    assert_eq!(s.web.base_path, "/locust");
    assert_eq!(s.web.tls, Some(("cert.pem".into(), "key.pem".into())));
    assert!(s.web.print_stats);
    assert_eq!(s.web.html.as_deref(), Some("report_{u}.html"));
    assert_eq!(
        s.web.auth,
        Some(("admin".to_string(), "s3:cret".to_string()))
    );
}

#[test]
fn long_forms_and_equals() {
    let s = run(&[
        "--host=http://h",
        "--users=7",
        "--spawn-rate=0.5",
        "--run-time=90",
        "--stop-timeout=2m",
        "--loglevel=WARNING",
        "--web-port=9000",
        "--tags",
        "--exclude-tags=x",
        "--list",
    ]);
    assert_eq!(s.host.as_deref(), Some("http://h"));
    assert_eq!(s.users, Some(7));
    assert_eq!(s.spawn_rate, Some(0.5));
    assert_eq!(s.run_time, Some(Duration::from_secs(90)));
    assert_eq!(s.stop_timeout, Duration::from_secs(120));
    assert_eq!(s.loglevel, LogLevel::Warning);
    assert_eq!(s.web.port, 9000);
    assert_eq!(s.tags, Some(vec![]));
    assert_eq!(s.exclude_tags, Some(vec!["x".to_string()]));
    assert!(s.list);
}

#[test]
fn positional_user_classes_after_options() {
    let s = run(&["-u", "2", "MyUser", "Other"]);
    assert_eq!(s.user_classes, vec!["MyUser", "Other"]);
}

#[test]
fn web_host_star_means_all_interfaces() {
    let s = run(&["--web-host", "*"]);
    assert_eq!(s.web.host, "");
    assert_eq!(s.web_host_raw, "*");
    assert_eq!(s.parsed_options()["web_host"], "*");
}

#[test]
fn loglevels_are_case_insensitive() {
    for (text, level) in [
        ("DEBUG", LogLevel::Debug),
        ("info", LogLevel::Info),
        ("Warning", LogLevel::Warning),
        ("error", LogLevel::Error),
        ("critical", LogLevel::Critical),
    ] {
        assert_eq!(run(&["-L", text]).loglevel, level);
    }
    let e = err(&["-L", "verbose"]);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(
        msg.contains("'verbose'") && msg.contains("--loglevel"),
        "{msg}"
    );
}

/// Each bad value: the message names the flag and the value; argparse errors exit 2.
#[test]
fn bad_values_name_flag_and_value() {
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (&["-u", "abc"], "--users", "'abc'", "invalid digit"),
        (&["-u", "1.5"], "--users", "'1.5'", "invalid digit"),
        (
            &["-r", "0"],
            "--spawn-rate",
            "'0'",
            "must be > 0 and finite",
        ),
        (
            &["-r", "-1"],
            "--spawn-rate",
            "'-1'",
            "must be > 0 and finite",
        ),
        (
            &["-r", "inf"],
            "--spawn-rate",
            "'inf'",
            "must be > 0 and finite",
        ),
        (
            &["-r", "NaN"],
            "--spawn-rate",
            "'NaN'",
            "must be > 0 and finite",
        ),
        (&["-r", "fast"], "--spawn-rate", "'fast'", "invalid float"),
        (
            &["-H", "example.com"],
            "--host",
            "'example.com'",
            "http(s) URL",
        ),
        (
            &["-H", "ftp://example.com"],
            "--host",
            "'ftp://example.com'",
            "http(s) URL",
        ),
        (&["-H", "http://"], "--host", "'http://'", "http(s) URL"),
        (&["-P", "70000"], "--web-port", "'70000'", "65535"),
        (&["--web-port", "x"], "--web-port", "'x'", "invalid digit"),
        (
            &["--autostart", "--autoquit", "soon"],
            "--autoquit",
            "'soon'",
            "invalid digit",
        ),
        (
            &["--web-base-path", "locust"],
            "--web-base-path",
            "'locust'",
            "must start with /",
        ),
        (
            &["--web-auth", "nocolon"],
            "--web-auth",
            "'nocolon'",
            "USER:PASSWORD",
        ),
        (
            &["--web-auth", ":pw"],
            "--web-auth",
            "':pw'",
            "user name must not be empty",
        ),
        (
            &["--exit-code-on-error", "x"],
            "--exit-code-on-error",
            "'x'",
            "invalid digit",
        ),
    ];
    for (args, flag, value, reason) in cases {
        let e = err(args);
        let msg = e.to_string();
        assert_eq!(e.exit_code(), 2, "{args:?}: {msg}");
        assert!(
            msg.contains(flag) && msg.contains(value) && msg.contains(reason),
            "{args:?}: {msg}"
        );
    }
}

#[test]
fn exact_clap_message_shape() {
    let msg = err(&["--users", "abc"]).to_string();
    assert!(
        msg.starts_with(
            "invalid value 'abc' for '--users <NUM_USERS>': invalid digit found in string"
        ),
        "{msg}"
    );
}

/// Locust 2.47 rejects a bad -t/-s in argparse: exit 2, its exact words, the value not echoed.
#[test]
fn bad_time_spans_exit_2_with_locusts_message() {
    for bad in ["bogus", "1m20h", ""] {
        let e = err(&["-t", bad]);
        assert_eq!(e.exit_code(), 2, "{e}");
        assert_eq!(
            e.to_string(),
            "argument -t/--run-time: Invalid time span format. Valid formats: 20, 20s, 3m, 2h, \
             1h20m, 3h30m10s, etc."
        );
        let e = err(&["-s", bad]);
        assert_eq!(e.exit_code(), 2, "{e}");
        assert!(
            e.to_string()
                .starts_with("argument -s/--stop-timeout: Invalid time span format."),
            "{e}"
        );
    }
    // From the environment, the origin comes first.
    let e = Dirs::new().error(&[], &[("LOCUST_RUN_TIME", "soon")]);
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        e.to_string(),
        "environment variable LOCUST_RUN_TIME: argument -t/--run-time: Invalid time span \
         format. Valid formats: 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc."
    );
}

/// `-r -inf` is a bad spawn rate, not an unknown flag `-i`.
#[test]
fn negative_infinite_spawn_rate_names_the_flag() {
    let e = err(&["-r", "-inf"]);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(
        msg.contains("--spawn-rate") && msg.contains("'-inf'") && msg.contains("finite"),
        "{msg}"
    );
}

/// A UTF-8 BOM at the start of locust.conf is not part of the first key.
#[test]
fn bom_at_the_start_of_locust_conf_is_ignored() {
    let dirs = Dirs::new();
    dirs.write_cwd("locust.conf", "\u{feff}run-time = 7s\nusers = 4\n");
    let s = dirs.settings(&[], &[]);
    assert_eq!(s.run_time, Some(Duration::from_secs(7)));
    assert_eq!(s.users, Some(4));
}

#[test]
fn unknown_flag_is_exit_2_with_hint() {
    let e = err(&["--spawn_rate", "3"]);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(msg.contains("--spawn_rate"), "{msg}");
    assert!(msg.contains("--spawn-rate"), "should suggest: {msg}");
    assert_eq!(err(&["--frobnicate"]).exit_code(), 2);
    assert_eq!(err(&["-u"]).exit_code(), 2, "missing value");
    // A missing -t value is an argparse error (2), as a bad one.
    assert_eq!(err(&["-t"]).exit_code(), 2);
}

#[test]
fn csv_full_history_requires_csv() {
    let e = err(&["--csv-full-history"]);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(
        msg.contains("--csv-full-history") && msg.contains("--csv"),
        "{msg}"
    );
    assert!(run(&["--csv", "p", "--csv-full-history"]).csv_full_history);
}

#[test]
fn autoquit_needs_autostart() {
    let e = err(&["--autoquit", "5"]);
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("--autoquit"), "{e}");
    // -1 is the default ("never") and is accepted on its own, as in Locust.
    assert_eq!(run(&["--autoquit", "-1"]).web.autoquit, None);
    let s = run(&["--autostart", "--autoquit", "0"]);
    assert_eq!(s.web.autoquit, Some(0));
    assert_eq!(s.autoquit_raw, 0);
}

#[test]
fn tls_needs_both() {
    for args in [&["--tls-cert", "c.pem"][..], &["--tls-key", "k.pem"][..]] {
        let e = err(args);
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--tls-cert/--tls-key"), "{e}");
    }
}

#[test]
fn version_and_help() {
    match run_command(&["-V"]) {
        Command::PrintVersion(v) => {
            assert_eq!(
                v,
                format!(
                    "skein {} (Locust 2.47.0 compatible)",
                    env!("CARGO_PKG_VERSION")
                )
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run_command(&["--version"]),
        Command::PrintVersion(_)
    ));
    match run_command(&["--help"]) {
        Command::PrintHelp(h) => {
            for needle in [
                "--spawn-rate",
                "--web-port",
                "Web UI options",
                "LOCUST_HOST",
                "-h, --help",
            ] {
                assert!(h.contains(needle), "help lacks {needle}");
            }
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(run_command(&["-h"]), Command::PrintHelp(_)));
}

fn run_command(args: &[&str]) -> Command {
    Dirs::new().load(args, &[]).expect("command")
}

// ---- environment -------------------------------------------------------------------------

#[test]
fn env_sets_every_kind() {
    let d = Dirs::new();
    let s = d.settings(
        &[],
        &[
            ("LOCUST_HOST", "http://env-host"),
            ("LOCUST_USERS", "4"),
            ("LOCUST_SPAWN_RATE", "1.5"),
            ("LOCUST_RUN_TIME", "3m"),
            ("LOCUST_HEADLESS", "yes"),
            ("LOCUST_AUTOSTART", "off"),
            ("LOCUST_CSV", "envcsv"),
            ("LOCUST_CSV_FULL_HISTORY", "1"),
            ("LOCUST_TAGS", "[a, b]"),
            ("LOCUST_EXCLUDE_TAGS", "c d"),
            ("LOCUST_LOGLEVEL", "error"),
            ("LOCUST_STOP_TIMEOUT", "5"),
            ("LOCUST_EXIT_CODE_ON_ERROR", "0"),
            ("LOCUST_WEB_PORT", "9999"),
            ("LOCUST_WEB_HOST", "localhost"),
            ("LOCUST_USER_CLASSES", "A  B"),
            ("LOCUST_USERS_UNRELATED", "x"),
        ],
    );
    assert_eq!(s.host.as_deref(), Some("http://env-host"));
    assert_eq!(s.users, Some(4));
    assert_eq!(s.spawn_rate, Some(1.5));
    assert_eq!(s.run_time, Some(Duration::from_secs(180)));
    assert!(s.headless);
    assert!(!s.web.autostart);
    assert_eq!(s.csv_prefix.as_deref(), Some("envcsv"));
    assert!(s.csv_full_history);
    assert_eq!(s.tags, Some(vec!["a".to_string(), "b".to_string()]));
    // Without brackets the whole value is ONE tag (verified on Locust).
    assert_eq!(s.exclude_tags, Some(vec!["c d".to_string()]));
    assert_eq!(s.loglevel, LogLevel::Error);
    assert_eq!(s.stop_timeout, Duration::from_secs(5));
    assert_eq!(s.exit_code_on_error, 0);
    assert_eq!(s.web.port, 9999);
    assert_eq!(s.web.host, "localhost");
    assert_eq!(s.user_classes, vec!["A", "B"]);
}

#[test]
fn cli_user_classes_win_over_env() {
    let s = Dirs::new().settings(&["C"], &[("LOCUST_USER_CLASSES", "A B")]);
    assert_eq!(s.user_classes, vec!["C"]);
}

#[test]
fn env_errors_name_variable_flag_and_value() {
    let d = Dirs::new();
    let e = d.error(&[], &[("LOCUST_USERS", "many")]);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(
        msg.starts_with("environment variable LOCUST_USERS: invalid value 'many' for '--users"),
        "{msg}"
    );

    let e = d.error(&[], &[("LOCUST_HEADLESS", "maybe")]);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(
        msg.contains("LOCUST_HEADLESS") && msg.contains("'maybe'") && msg.contains("--headless"),
        "{msg}"
    );

    let e = d.error(&[], &[("LOCUST_SPAWN_RATE", "0")]);
    assert!(e.to_string().contains("must be > 0"), "{e}");

    let e = d.error(&[], &[("LOCUST_RUN_TIME", "soon")]);
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("LOCUST_RUN_TIME"), "{e}");

    // Brackets mean a list only for list options; elsewhere they are part of the value.
    let e = d.error(&[], &[("LOCUST_USERS", "[1, 2]")]);
    assert!(e.to_string().contains("'[1, 2]'"), "{e}");
    assert_eq!(
        d.settings(&[], &[("LOCUST_WEB_HOST", "[::1]")]).web.host,
        "[::1]"
    );
}

#[test]
fn bad_env_is_ignored_when_cli_sets_the_option() {
    let s = Dirs::new().settings(&["-u", "5"], &[("LOCUST_USERS", "many")]);
    assert_eq!(s.users, Some(5));
}

#[test]
fn empty_env_counts_as_unset() {
    let s = Dirs::new().settings(&[], &[("LOCUST_USERS", ""), ("LOCUST_HOST", "")]);
    assert_eq!(s.users, None);
    assert_eq!(s.host, None);
}

#[test]
fn autoquit_from_env_without_autostart_is_startup_error() {
    let e = Dirs::new().error(&[], &[("LOCUST_AUTOQUIT", "3")]);
    assert_eq!(e.exit_code(), 1);
}

#[test]
fn csv_full_history_from_env_without_csv() {
    let e = Dirs::new().error(&[], &[("LOCUST_CSV_FULL_HISTORY", "true")]);
    assert_eq!(e.exit_code(), 2);
}

// ---- config files and precedence -------------------------------------------------------------

/// SPEC §5.2 (verified on Locust): conf users=3 < env LOCUST_USERS=4 < CLI -u 5.
#[test]
fn precedence_conf_env_cli() {
    let d = Dirs::new();
    d.write_cwd("locust.conf", "users = 3\n");
    assert_eq!(d.settings(&[], &[]).users, Some(3));
    assert_eq!(d.settings(&[], &[("LOCUST_USERS", "4")]).users, Some(4));
    assert_eq!(
        d.settings(&["-u", "5"], &[("LOCUST_USERS", "4")]).users,
        Some(5)
    );
}

#[test]
fn later_files_override_earlier_ones() {
    let d = Dirs::new();
    d.write_home(
        ".locust.conf",
        "users = 1\nspawn-rate = 1\nrun-time = 1s\nhost = http://home\n",
    );
    d.write_cwd(
        "locust.conf",
        "spawn-rate = 2\nrun-time = 2s\nhost = http://cwd\n",
    );
    d.write_cwd(
        "pyproject.toml",
        "[tool.locust]\nrun-time = \"3s\"\nhost = \"http://pyproject\"\n",
    );
    d.write_cwd("extra.conf", "host = http://extra\n");
    let s = d.settings(&[], &[]);
    assert_eq!(s.users, Some(1));
    assert_eq!(s.spawn_rate, Some(2.0));
    assert_eq!(s.run_time, Some(Duration::from_secs(3)));
    assert_eq!(s.host.as_deref(), Some("http://pyproject"));
    let s = d.settings(&["--config", "extra.conf"], &[]);
    assert_eq!(s.host.as_deref(), Some("http://extra"));
    assert_eq!(s.config, Some("extra.conf".into()));
    let s = d.settings(
        &["--config", "extra.conf"],
        &[("LOCUST_HOST", "http://env")],
    );
    assert_eq!(s.host.as_deref(), Some("http://env"));
}

#[test]
fn config_file_formats() {
    let d = Dirs::new();
    d.write_cwd(
        "locust.conf",
        "\
# Locust-style config
headless = true
reset-stats          # a bare key switches a flag on
only-summary = false
tags = [fast, 'slow']
exclude-tags = []
csv = out/run   ; comment
csv-full-history = yes
loglevel: debug
web-port 8000
web-host = *
",
    );
    let s = d.settings(&[], &[]);
    assert!(s.headless);
    assert!(s.reset_stats);
    assert!(!s.only_summary);
    assert_eq!(s.tags, Some(vec!["fast".to_string(), "slow".to_string()]));
    assert_eq!(s.exclude_tags, Some(vec![]));
    assert_eq!(s.csv_prefix.as_deref(), Some("out/run"));
    assert!(s.csv_full_history);
    assert_eq!(s.loglevel, LogLevel::Debug);
    assert_eq!(s.web.port, 8000);
    assert_eq!(s.web.host, "");
}

#[test]
fn config_false_overrides_lower_true() {
    let d = Dirs::new();
    d.write_home(".locust.conf", "headless = true\n");
    d.write_cwd("locust.conf", "headless = false\n");
    assert!(!d.settings(&[], &[]).headless);
    assert!(d.settings(&[], &[("LOCUST_HEADLESS", "on")]).headless);
    // A config-file true is overridden by an explicit false in the environment.
    d.write_cwd("locust.conf", "headless = true\n");
    assert!(!d.settings(&[], &[("LOCUST_HEADLESS", "0")]).headless);
}

#[test]
fn pyproject_toml_values() {
    let d = Dirs::new();
    d.write_cwd(
        "pyproject.toml",
        "[project]\nname = \"x\"\n\n[tool.locust]\nusers = 12\nspawn-rate = 2.5\nheadless = true\n\
         tags = [\"a\", \"b\"]\nrun-time = \"1m\"\n",
    );
    let s = d.settings(&[], &[]);
    assert_eq!(s.users, Some(12));
    assert_eq!(s.spawn_rate, Some(2.5));
    assert!(s.headless);
    assert_eq!(s.tags, Some(vec!["a".to_string(), "b".to_string()]));
    assert_eq!(s.run_time, Some(Duration::from_secs(60)));
}

#[test]
fn pyproject_without_locust_section_is_ignored() {
    let d = Dirs::new();
    d.write_cwd("pyproject.toml", "[project]\nname = \"x\"\n");
    assert_eq!(d.settings(&[], &[]).users, None);
}

#[test]
fn explicit_toml_config() {
    let d = Dirs::new();
    d.write_cwd("skein.toml", "[tool.locust]\nusers = 8\n");
    assert_eq!(d.settings(&["--config", "skein.toml"], &[]).users, Some(8));
}

#[test]
fn config_list_then_positional_classes() {
    let d = Dirs::new();
    d.write_cwd("locust.conf", "tags = [a, b]\nexclude-tags = []\n");
    let s = d.settings(&["MyUser"], &[]);
    assert_eq!(s.user_classes, vec!["MyUser"]);
    assert_eq!(s.tags, Some(vec!["a".to_string(), "b".to_string()]));
    let s = d.settings(&["--", "MyUser"], &[]);
    assert_eq!(s.user_classes, vec!["MyUser"]);
    assert_eq!(s.exclude_tags, Some(vec![]));
}

#[test]
fn cli_tags_replace_config_tags() {
    let d = Dirs::new();
    d.write_cwd("locust.conf", "tags = [a, b]\n");
    assert_eq!(
        d.settings(&["-T", "c"], &[]).tags,
        Some(vec!["c".to_string()])
    );
}

#[test]
fn underscore_key_is_rejected() {
    let d = Dirs::new();
    d.write_cwd("locust.conf", "spawn_rate = 2\n");
    let e = d.error(&[], &[]);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(msg.contains("unrecognized argument 'spawn_rate'"), "{msg}");
    assert!(msg.contains("did you mean 'spawn-rate'"), "{msg}");
    assert!(msg.contains("locust.conf"), "{msg}");
}

#[test]
fn unknown_key_is_rejected() {
    let d = Dirs::new();
    d.write_home(".locust.conf", "frobnicate = 1\n");
    let e = d.error(&[], &[]);
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("'frobnicate'"), "{e}");
}

#[test]
fn bad_config_value_names_file_line_flag_and_value() {
    let d = Dirs::new();
    d.write_cwd("locust.conf", "# users\n\nusers = lots\n");
    let e = d.error(&[], &[]);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(msg.contains("locust.conf, line 3"), "{msg}");
    assert!(msg.contains("'lots'") && msg.contains("--users"), "{msg}");

    d.write_cwd("locust.conf", "headless = perhaps\n");
    let msg = d.error(&[], &[]).to_string();
    assert!(
        msg.contains("'perhaps'") && msg.contains("--headless"),
        "{msg}"
    );

    d.write_cwd("locust.conf", "users = [1, 2]\n");
    let e = d.error(&[], &[]);
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("'[1, 2]'"), "{e}");

    d.write_cwd("locust.conf", "web-host = [::1]\n");
    assert_eq!(d.settings(&[], &[]).web.host, "[::1]");

    std::fs::remove_file(d.cwd.path().join("locust.conf")).expect("rm");
    d.write_cwd("pyproject.toml", "[tool.locust]\nusers = [1, 2]\n");
    let e = d.error(&[], &[]);
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("not a list"), "{e}");
}

#[test]
fn bad_config_value_is_ignored_when_overridden() {
    let d = Dirs::new();
    d.write_cwd("locust.conf", "users = lots\n");
    assert_eq!(d.settings(&[], &[("LOCUST_USERS", "2")]).users, Some(2));
}

#[test]
fn missing_explicit_config_is_an_error() {
    let e = Dirs::new().error(&["--config", "nope.conf"], &[]);
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("nope.conf"), "{e}");
}

#[test]
fn broken_pyproject_is_an_error() {
    let d = Dirs::new();
    d.write_cwd("pyproject.toml", "[tool.locust\nusers = 1\n");
    let e = d.error(&[], &[]);
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("pyproject.toml"), "{e}");
}

#[test]
fn no_home_directory_is_fine() {
    let d = Dirs::new();
    let argv: Vec<OsString> = vec!["skein".into(), "-u".into(), "2".into()];
    match load(argv, &BTreeMap::new(), None, d.cwd.path()) {
        Ok(Command::Run(s)) => assert_eq!(s.users, Some(2)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn parsed_options_use_locust_names_and_types() {
    let s = run(&[
        "-u", "3", "-r", "2", "-t", "1m", "--csv", "p", "-T", "x", "-s", "5",
    ]);
    let o = s.parsed_options();
    assert_eq!(o["num_users"], 3);
    assert_eq!(o["spawn_rate"], 2.0);
    assert_eq!(o["run_time"], 60);
    assert_eq!(o["csv_prefix"], "p");
    assert_eq!(o["stats_history_enabled"], false);
    assert_eq!(o["tags"], serde_json::json!(["x"]));
    assert_eq!(o["exclude_tags"], serde_json::Value::Null);
    assert_eq!(o["stop_timeout"], 5);
    assert_eq!(o["autoquit"], -1);
    assert_eq!(o["web_port"], 8089);
    assert_eq!(o["loglevel"], "INFO");
    assert_eq!(o["host"], serde_json::Value::Null);
}

#[test]
fn paths_are_resolved_against_cwd_only_for_config() {
    // --config is relative to the given cwd, not the process's.
    let d = Dirs::new();
    std::fs::create_dir(d.cwd.path().join("sub")).expect("mkdir");
    std::fs::write(d.cwd.path().join("sub/x.conf"), "users = 6\n").expect("write");
    assert_eq!(d.settings(&["--config", "sub/x.conf"], &[]).users, Some(6));
    assert!(Path::new("sub/x.conf").is_relative());
}

#[test]
fn empty_argv_still_applies_config() {
    let d = Dirs::new();
    d.write_cwd("locust.conf", "users = 4\n");
    match load(Vec::new(), &BTreeMap::new(), None, d.cwd.path()) {
        Ok(Command::Run(s)) => assert_eq!(s.users, Some(4)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn locust_command_lines_with_a_locustfile_still_parse() {
    // Existing Locust invocations and locust.conf files name a locustfile; skein accepts and ignores it.
    assert_eq!(
        run(&["-f", "locustfile.py", "--headless"])
            .locustfile
            .as_deref(),
        Some("locustfile.py")
    );
    let d = Dirs::new();
    d.write_cwd(
        "locust.conf",
        "locustfile = tests/locustfile.py\nusers = 2\n",
    );
    let s = d.settings(&[], &[]);
    assert_eq!(
        (s.locustfile.as_deref(), s.users),
        (Some("tests/locustfile.py"), Some(2))
    );
    assert_eq!(
        d.settings(&[], &[("LOCUST_LOCUSTFILE", "a.py")])
            .locustfile
            .as_deref(),
        Some("a.py")
    );
}

#[test]
fn max_body_size_from_flag_and_env() {
    assert_eq!(run(&[]).max_body_size, 16 * 1024 * 1024);
    assert_eq!(run(&["--max-body-size", "1024"]).max_body_size, 1024);
    let d = Dirs::new();
    let s = d.settings(&[], &[("LOCUST_MAX_BODY_SIZE", "2048")]);
    assert_eq!(s.max_body_size, 2048);
}

#[test]
fn the_open_model_flags_come_from_flags_env_and_config() {
    assert_eq!(run(&[]).open_model, None);
    let s = run(&["--arrival-rate", "12.5"]);
    assert_eq!(
        s.open_model,
        Some(crate::config::OpenModel {
            rate: 12.5,
            max_in_flight: 100
        })
    );
    let s = run(&["--arrival-rate", "3", "-u", "7"]);
    assert_eq!(s.open_model.unwrap().max_in_flight, 7);
    let s = run(&["--arrival-rate", "3", "-u", "7", "--max-in-flight", "2"]);
    assert_eq!(s.open_model.unwrap().max_in_flight, 2);
    let dirs = Dirs::new();
    let s = dirs.settings(
        &[],
        &[("LOCUST_ARRIVAL_RATE", "4"), ("LOCUST_MAX_IN_FLIGHT", "9")],
    );
    assert_eq!(
        s.open_model,
        Some(crate::config::OpenModel {
            rate: 4.0,
            max_in_flight: 9
        })
    );
    let dirs = Dirs::new();
    dirs.write_cwd("locust.conf", "arrival-rate = 0.5\nmax-in-flight = 3\n");
    let s = dirs.settings(&[], &[]);
    assert_eq!(
        s.open_model.map(|o| (o.rate, o.max_in_flight)),
        Some((0.5, 3))
    );
}

#[test]
fn bad_open_model_values_are_exit_2_naming_flag_and_value() {
    for (flag, value) in [
        ("--arrival-rate", "0"),
        ("--arrival-rate", "-3"),
        ("--arrival-rate", "inf"),
        ("--arrival-rate", "fast"),
        ("--max-in-flight", "0"),
        ("--max-in-flight", "-1"),
        ("--max-in-flight", "1.5"),
    ] {
        let e = err(&[flag, value]);
        assert_eq!(e.exit_code(), 2, "{flag} {value}");
        let msg = e.to_string();
        assert!(
            msg.contains(flag) && msg.contains(&format!("'{value}'")),
            "{msg}"
        );
    }
    let e = Dirs::new().error(&[], &[("LOCUST_ARRIVAL_RATE", "nan")]);
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("--arrival-rate"), "{e}");
}
