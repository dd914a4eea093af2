//! `skein bench …`: the benchmark suite's own command line (the service's `benchmark.py`
//! flags), parsed apart from the Locust-style one so Locust's positional user classes keep
//! their meaning. Values only: what each test does with them lives in `crate::bench`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{FromArgMatches, Parser, ValueEnum};

use super::error::{self, ConfigError};
use super::Command;
use crate::checks::Check;

/// The tests of `--test`, spelled as `benchmark.py` spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchTest {
    Health,
    #[value(name = "model_info")]
    ModelInfo,
    Classification,
    Stress,
    Latency,
    Memory,
    Comprehensive,
}

impl BenchTest {
    pub fn as_str(self) -> &'static str {
        match self {
            BenchTest::Health => "health",
            BenchTest::ModelInfo => "model_info",
            BenchTest::Classification => "classification",
            BenchTest::Stress => "stress",
            BenchTest::Latency => "latency",
            BenchTest::Memory => "memory",
            BenchTest::Comprehensive => "comprehensive",
        }
    }
}

/// The most sequential iterations a latency or memory test runs (it keeps every latency).
pub const MAX_ITERATIONS: u64 = 100_000;
/// The most concurrent users a stress test ramps to.
pub const MAX_WORKERS: u64 = 10_000;
/// The highest `--rps`.
pub const MAX_RPS: f64 = 100_000.0;

#[derive(Debug, Parser)]
#[command(
    name = "skein bench",
    about = "Benchmark the image-classifier service (the service's performance suite, run natively)",
    after_help = "Without --url, skein starts its embedded reference classifier service on loopback.\n\
                  Exit codes: 0 all checks passed; 1 the test could not run; 2 bad arguments; 3 a check failed."
)]
struct BenchArgs {
    /// Which test to run
    #[arg(long, value_enum, default_value = "comprehensive")]
    test: BenchTest,
    /// The service's base URL (default: start the embedded reference service)
    #[arg(long, value_parser = parse_url)]
    url: Option<String>,
    /// Seconds each rate-driven or stress test runs (defaults per test, see the README)
    #[arg(long, value_parser = parse_duration)]
    duration: Option<f64>,
    /// Iterations started per second (open model: whatever the response times)
    #[arg(long, value_parser = parse_rps)]
    rps: Option<f64>,
    /// Highest concurrency of the stress test
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_WORKERS))]
    workers: Option<u64>,
    /// Sequential requests of the latency and memory tests
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_ITERATIONS))]
    iterations: Option<u64>,
    /// Where results are written
    #[arg(long, default_value = "reports")]
    output_dir: PathBuf,
    /// The service's process id, to read its memory from /proc (memory test)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pid: Option<u32>,
    /// A pass/fail rule replacing the test's default targets (repeatable), e.g. "p95<100ms"
    #[arg(long = "check", value_name = "RULE")]
    checks: Vec<String>,
}

/// What `skein bench` was asked to do; `None` is "the test's default".
#[derive(Debug, Clone, PartialEq)]
pub struct BenchSettings {
    pub test: BenchTest,
    pub url: Option<String>,
    pub duration: Option<Duration>,
    pub rps: Option<f64>,
    pub workers: Option<u64>,
    pub iterations: Option<u64>,
    pub output_dir: PathBuf,
    pub pid: Option<u32>,
    /// The `--check` rules; empty means the README's targets for each test.
    pub checks: Vec<Check>,
}

fn parse_url(s: &str) -> Result<String, String> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(s.trim_end_matches('/').to_string())
        }
        Ok(_) => Err("expected an http:// or https:// URL with a host".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_duration(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 7.0 * 86_400.0 => Ok(v),
        Ok(_) => Err("expected seconds above 0 and at most a week".into()),
        Err(_) => Err("expected a number of seconds".into()),
    }
}

fn parse_rps(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= MAX_RPS => Ok(v),
        Ok(_) => Err(format!("expected a rate above 0 and at most {MAX_RPS}")),
        Err(_) => Err("expected a number of requests per second".into()),
    }
}

/// Parses `skein bench ARGS` (`args` starts with the program name, then `bench`).
pub(super) fn load(args: &[OsString]) -> Result<Command, ConfigError> {
    let argv: Vec<OsString> = std::iter::once(OsString::from("skein bench"))
        .chain(args.iter().skip(2).cloned())
        .collect();
    let cmd = <BenchArgs as clap::CommandFactory>::command();
    let matches = match cmd.try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            return Ok(Command::PrintHelp(e.render().to_string()))
        }
        Err(e) => return Err(cli_error(&e)),
    };
    let raw = BenchArgs::from_arg_matches(&matches).map_err(|e| cli_error(&e))?;
    let checks = raw
        .checks
        .iter()
        .map(|rule| {
            Check::parse(rule).map_err(|e| ConfigError::Invalid {
                flag: "--check".into(),
                message: format!("invalid check '{rule}': {e}"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Command::Bench(BenchSettings {
        test: raw.test,
        url: raw.url,
        duration: raw.duration.map(Duration::from_secs_f64),
        rps: raw.rps,
        workers: raw.workers,
        iterations: raw.iterations,
        output_dir: raw.output_dir,
        pid: raw.pid,
        checks,
    }))
}

fn cli_error(e: &clap::Error) -> ConfigError {
    ConfigError::Cli {
        message: error::clap_message(e, false),
        arg: error::clap_arg(e),
        code: error::ARGPARSE_EXIT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, ConfigError> {
        let mut v: Vec<OsString> = vec!["skein".into(), "bench".into()];
        v.extend(args.iter().map(OsString::from));
        load(&v)
    }

    fn settings(args: &[&str]) -> BenchSettings {
        match parse(args).unwrap() {
            Command::Bench(b) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_readme_commands_parse() {
        let s = settings(&["--test", "health", "--duration", "60", "--rps", "20"]);
        assert_eq!(s.test, BenchTest::Health);
        assert_eq!(s.duration, Some(Duration::from_secs(60)));
        assert_eq!(s.rps, Some(20.0));
        assert_eq!(s.output_dir, PathBuf::from("reports"));
        let s = settings(&["--test", "stress", "--workers", "50", "--duration", "300"]);
        assert_eq!((s.test, s.workers), (BenchTest::Stress, Some(50)));
        let s = settings(&["--test", "latency", "--iterations", "1000"]);
        assert_eq!(s.iterations, Some(1000));
        let s = settings(&["--test", "model_info"]);
        assert_eq!(s.test, BenchTest::ModelInfo);
        let s = settings(&[]);
        assert_eq!(s.test, BenchTest::Comprehensive);
        let s = settings(&[
            "--test=memory",
            "--pid",
            "42",
            "--check",
            "p95<1s",
            "--check",
            "error-rate<1%",
        ]);
        assert_eq!(s.pid, Some(42));
        let rules: Vec<&str> = s.checks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(rules, ["p95<1s", "error-rate<1%"]);
        let s = settings(&["--url", "http://localhost:8000/"]);
        assert_eq!(s.url.as_deref(), Some("http://localhost:8000"));
    }

    #[test]
    fn bad_values_exit_2_naming_flag_and_value() {
        for (args, needle) in [
            (&["--test", "bogus"][..], "bogus"),
            (&["--rps", "0"], "--rps"),
            (&["--rps", "fast"], "fast"),
            (&["--duration=-3"], "--duration"),
            (&["--workers", "0"], "--workers"),
            (&["--iterations", "1000001"], "1000001"),
            (&["--url", "ftp://x"], "ftp://x"),
            (&["--nope"], "--nope"),
            (&["--check", " "], "--check"),
            (&["--check", "p95<<1"], "p95<<1"),
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(e.to_string().contains(needle), "{args:?}: {e}");
        }
    }

    #[test]
    fn only_a_leading_bench_is_the_subcommand() {
        let load = |args: &[&str]| {
            let args = args.iter().map(OsString::from).collect();
            let env = std::collections::BTreeMap::new();
            crate::config::load(args, &env, None, std::path::Path::new("/nonexistent"))
        };
        assert!(matches!(
            load(&["skein", "bench", "--test", "latency"]),
            Ok(Command::Bench(_))
        ));
        match load(&["skein", "--headless", "ImageClassifierUser"]).unwrap() {
            Command::Run(s) => assert_eq!(s.user_classes, ["ImageClassifierUser"]),
            other => panic!("{other:?}"),
        }
        match load(&["skein", "--headless", "ImageClassifierUser", "bench"]).unwrap() {
            Command::Run(s) => assert_eq!(s.user_classes, ["ImageClassifierUser", "bench"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn help_is_printed() {
        match parse(&["--help"]).unwrap() {
            Command::PrintHelp(text) => {
                assert!(text.contains("--iterations"), "{text}");
                assert!(text.contains("comprehensive"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }
}
