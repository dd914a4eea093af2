//! Tests of `--check`: the flag, `LOCUST_CHECK` and the `check` config key, their precedence,
//! and the errors a bad rule gives wherever it came from.

use super::{err, run, Dirs};

fn rules(s: &crate::config::Settings) -> Vec<&str> {
    s.checks.iter().map(|c| c.text.as_str()).collect()
}

#[test]
fn none_by_default() {
    assert!(run(&[]).checks.is_empty());
}

#[test]
fn the_flag_repeats_and_splits_on_semicolons() {
    let s = run(&[
        "--check",
        "classify p95<500ms",
        "--check=error-rate<0.1%; rps>10",
        "--headless",
    ]);
    assert_eq!(
        rules(&s),
        ["classify p95<500ms", "error-rate<0.1%", "rps>10"]
    );
    assert!(s.headless);
}

#[test]
fn env_and_config_file_set_them() {
    let d = Dirs::new();
    let s = d.settings(&[], &[("LOCUST_CHECK", "p95<500ms;error-rate<0.1%")]);
    assert_eq!(rules(&s), ["p95<500ms", "error-rate<0.1%"]);
    let s = d.settings(&[], &[("LOCUST_CHECK", "[p95<1s, avg<200]")]);
    assert_eq!(rules(&s), ["p95<1s", "avg<200"]);

    // `;` after a space starts a comment in locust.conf, so lists or `a;b` without the space.
    d.write_cwd(
        "locust.conf",
        "check = classify p95<500ms;success-rate>99.9%\n",
    );
    let s = d.settings(&[], &[]);
    assert_eq!(rules(&s), ["classify p95<500ms", "success-rate>99.9%"]);
    d.write_cwd("locust.conf", "check = [p50<100, requests>=10]\n");
    assert_eq!(rules(&d.settings(&[], &[])), ["p50<100", "requests>=10"]);

    std::fs::remove_file(d.cwd.path().join("locust.conf")).expect("rm");
    d.write_cwd(
        "pyproject.toml",
        "[tool.locust]\ncheck = [\"GET /api/v1/health rps>1000\", \"p99<1s\"]\n",
    );
    assert_eq!(
        rules(&d.settings(&[], &[])),
        ["GET /api/v1/health rps>1000", "p99<1s"]
    );
    d.write_cwd(
        "pyproject.toml",
        "[tool.locust]\ncheck = \"p99<1s; max<5s\"\n",
    );
    assert_eq!(rules(&d.settings(&[], &[])), ["p99<1s", "max<5s"]);
}

/// The command line replaces the environment, which replaces config files (no merging).
#[test]
fn precedence_cli_env_file() {
    let d = Dirs::new();
    d.write_cwd("locust.conf", "check = p50<1\n");
    assert_eq!(rules(&d.settings(&[], &[])), ["p50<1"]);
    let env = [("LOCUST_CHECK", "p50<2")];
    assert_eq!(rules(&d.settings(&[], &env)), ["p50<2"]);
    assert_eq!(
        rules(&d.settings(&["--check", "p50<3", "--check", "p50<4"], &env)),
        ["p50<3", "p50<4"]
    );
    // A bad lower layer does not matter once a higher one sets the option.
    d.write_cwd("locust.conf", "check = p50<fast\n");
    assert_eq!(rules(&d.settings(&[], &env)), ["p50<2"]);
}

#[test]
fn a_bad_rule_is_exit_2_naming_the_rule_and_the_problem() {
    let e = err(&["--check", "classify p95<500ms; p95<fast"]);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(
        msg.starts_with(
            "invalid value 'classify p95<500ms; p95<fast' for '--check <RULE>': invalid check \
'p95<fast': threshold 'fast' is not a number"
        ),
        "{msg}"
    );
    for (rule, reason) in [
        ("latency<5", "unknown metric 'latency'"),
        ("p95 500", "no comparison"),
        ("success-rate>99.9", "write 99.9% for a percentage"),
        ("p95<5%", "'%' is not a unit for p95"),
        (";", "no rule given"),
    ] {
        let e = err(&["--check", rule]);
        assert_eq!(e.exit_code(), 2, "{rule}");
        assert!(e.to_string().contains(reason), "{rule}: {e}");
    }

    let d = Dirs::new();
    let e = d.error(&[], &[("LOCUST_CHECK", "avg<fast")]);
    assert_eq!(e.exit_code(), 2);
    assert!(
        e.to_string().starts_with(
            "environment variable LOCUST_CHECK: invalid value 'avg<fast' for '--check <RULE>': \
invalid check 'avg<fast': threshold 'fast' is not a number"
        ),
        "{e}"
    );
    d.write_cwd("locust.conf", "users = 1\ncheck = p95<<1\n");
    let e = d.error(&[], &[]);
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(
        msg.contains("locust.conf, line 2") && msg.contains("'<<' is not a comparison"),
        "{msg}"
    );
}

#[test]
fn help_lists_the_flag_and_its_variable() {
    let help = crate::config::raw::command().render_help().to_string();
    // clap wraps the text to the terminal's width.
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("--check <RULE>"), "{help}");
    assert!(help.contains("LOCUST_CHECK"), "{help}");
    assert!(help.contains("exit code 3"), "{help}");
}
