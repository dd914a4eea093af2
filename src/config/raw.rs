//! The raw command line: a clap definition of every flag skein understands, the value parsers
//! that check each value on its own, and the table that ties each flag to its `LOCUST_*`
//! environment variable and config-file key.
//!
//! Environment variables and config files are not read by clap (clap would read the process
//! environment, and `load` must be testable with an injected one). Instead `load` turns them
//! into `--long=value` arguments and parses them with this same definition, so a bad value
//! gets the same message wherever it came from.

use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser, ValueEnum};

use super::timespan::parse_timespan;

/// `-V` output after the program name.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (Locust 2.47.0 compatible)");

const COMMON: &str = "Common options";
const WEB: &str = "Web UI options";
const TAGS: &str = "Tag options";
const STATS: &str = "Request statistics options";
const LOGGING: &str = "Logging options";
const OTHER: &str = "Other options";
const MASTER: &str = "Master options";
const WORKER: &str = "Worker options";

/// Locust's log levels (`-L`, case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    #[value(name = "DEBUG")]
    Debug,
    #[value(name = "INFO")]
    Info,
    #[value(name = "WARNING")]
    Warning,
    #[value(name = "ERROR")]
    Error,
    #[value(name = "CRITICAL")]
    Critical,
}

impl LogLevel {
    /// The closest `tracing` level (tracing has no CRITICAL).
    pub fn to_tracing(self) -> tracing::Level {
        match self {
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warning => tracing::Level::WARN,
            LogLevel::Error | LogLevel::Critical => tracing::Level::ERROR,
        }
    }

    /// Locust's spelling, as echoed in `parsed_options`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
            LogLevel::Critical => "CRITICAL",
        }
    }
}

/// `--web-auth USER:PASSWORD`, split at the first colon (the password may contain colons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAuth {
    pub user: String,
    pub password: String,
}

/// Every flag as typed; nothing cross-checked yet (see `Settings`). `Default` is "nothing given".
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "skein",
    version = VERSION,
    about = "A Locust-compatible load tester; user scenarios are written with Goose.",
    after_help = "Options can also be set in LOCUST_* environment variables or in config files \
(~/.locust.conf, ./locust.conf, ./pyproject.toml [tool.locust], --config FILE) as `long-name = value`. \
The command line wins over the environment, which wins over config files.",
    args_override_self = true
)]
pub struct RawArgs {
    /// Host to load test, in the form http://10.21.32.33 (overrides every user class's host)
    #[arg(short = 'H', long, value_name = "HOST", value_parser = parse_host, help_heading = COMMON)]
    pub host: Option<String>,

    /// Peak number of concurrent users
    #[arg(short = 'u', long, value_name = "NUM_USERS", allow_negative_numbers = true,
          help_heading = COMMON)]
    pub users: Option<u64>,

    /// Rate to spawn users at (users per second)
    // Hyphen values: `-r -inf` is a bad rate (named as --spawn-rate), not an unknown flag `-i`.
    #[arg(short = 'r', long = "spawn-rate", value_name = "SPAWN_RATE",
          value_parser = parse_spawn_rate, allow_hyphen_values = true, help_heading = COMMON)]
    pub spawn_rate: Option<f64>,

    /// Open model: start this many iterations per second whatever the response times (k6's
    /// constant-arrival-rate), instead of looping -u users (skein only)
    #[arg(long = "arrival-rate", value_name = "RATE", value_parser = parse_arrival_rate,
          allow_hyphen_values = true, help_heading = COMMON)]
    pub arrival_rate: Option<f64>,

    /// Open model: at most this many virtual users run iterations at once (default: -u if
    /// given, else 100); a due iteration waits when all are busy (skein only)
    #[arg(long = "max-in-flight", value_name = "N", value_parser = parse_max_in_flight,
          allow_hyphen_values = true, help_heading = COMMON)]
    pub max_in_flight: Option<usize>,

    /// Stop after the specified amount of time, e.g. (300s, 20m, 3h, 1h30m, etc.)
    #[arg(short = 't', long = "run-time", value_name = "TIME",
          value_parser = parse_timespan_value, allow_negative_numbers = true, help_heading = COMMON)]
    pub run_time: Option<Duration>,

    /// Show the list of available user classes and exit
    #[arg(short = 'l', long, help_heading = COMMON)]
    pub list: bool,

    /// Accepted for Locust compatibility and ignored: skein's user classes are compiled in
    /// (the scenarios/ crate), so a locustfile.py has nothing to add
    #[arg(short = 'f', long, value_name = "LOCUSTFILE", help_heading = COMMON)]
    pub locustfile: Option<String>,

    /// Config file path (read after ~/.locust.conf, ./locust.conf and ./pyproject.toml)
    #[arg(long, value_name = "FILE", help_heading = COMMON)]
    pub config: Option<PathBuf>,

    /// Disable the web interface and start the test immediately
    #[arg(long, help_heading = WEB)]
    pub headless: bool,

    /// Start the test immediately, keeping the web UI up
    #[arg(long, help_heading = WEB)]
    pub autostart: bool,

    /// Quit this many seconds after the run finishes (only with --autostart; -1 = never)
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true, help_heading = WEB)]
    pub autoquit: Option<i64>,

    /// Host to bind the web interface to ("" or "*" = all interfaces)
    #[arg(long = "web-host", value_name = "WEB_HOST", help_heading = WEB)]
    pub web_host: Option<String>,

    /// Port for the web interface (default 8089; 0 = pick a free port)
    #[arg(short = 'P', long = "web-port", value_name = "WEB_PORT", allow_negative_numbers = true,
          help_heading = WEB)]
    pub web_port: Option<u16>,

    /// Base path for the web interface, e.g. /locust (must start with /)
    #[arg(long = "web-base-path", value_name = "PATH",
          value_parser = parse_base_path, help_heading = WEB)]
    pub web_base_path: Option<String>,

    /// TLS certificate for serving the web UI over HTTPS (needs --tls-key)
    #[arg(long = "tls-cert", value_name = "FILE", help_heading = WEB)]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key for serving the web UI over HTTPS (needs --tls-cert)
    #[arg(long = "tls-key", value_name = "FILE", help_heading = WEB)]
    pub tls_key: Option<PathBuf>,

    /// Protect the web UI with HTTP basic auth (skein only; Locust removed this flag)
    #[arg(long = "web-auth", value_name = "USER:PASSWORD",
          value_parser = parse_web_auth, help_heading = WEB)]
    pub web_auth: Option<WebAuth>,

    /// Also accept /swarm, /stop and /stats/reset from pages of this origin (e.g. https://dash.example:8443); repeatable (skein only)
    #[arg(long = "web-allowed-origin", value_name = "URL", action = clap::ArgAction::Append,
          value_parser = parse_origin, help_heading = WEB)]
    pub web_allowed_origin: Vec<String>,

    /// Run as a master node, to which worker nodes connect
    #[arg(long, visible_alias = "manager", help_heading = MASTER)]
    pub master: bool,

    /// Interface for the master to listen on, e.g. 192.168.1.1 (default * = all interfaces)
    #[arg(long = "master-bind-host", visible_alias = "manager-bind-host", value_name = "IP",
          help_heading = MASTER)]
    pub master_bind_host: Option<String>,

    /// Port for the master to listen on (default 5557)
    #[arg(long = "master-bind-port", visible_alias = "manager-bind-port", value_name = "PORT",
          allow_negative_numbers = true, help_heading = MASTER)]
    pub master_bind_port: Option<u16>,

    /// Delay starting the test until this many workers are connected (with --headless/--autostart; default 1)
    #[arg(long = "expect-workers", value_name = "N", value_parser = parse_expect_workers,
          allow_negative_numbers = true, help_heading = MASTER)]
    pub expect_workers: Option<u64>,

    /// Give up (exit 1) if the expected workers have not connected after this many seconds (default 0 = wait forever)
    #[arg(long = "expect-workers-max-wait", value_name = "SECONDS", allow_negative_numbers = true,
          help_heading = MASTER)]
    pub expect_workers_max_wait: Option<i64>,

    /// Accepted for Locust compatibility and changes nothing: skein always redistributes users
    /// when workers join or leave
    #[arg(long = "enable-rebalancing", help_heading = MASTER)]
    pub enable_rebalancing: bool,

    /// Run as a worker node that connects to a master (Goose spells it the same)
    #[arg(long, help_heading = WORKER)]
    pub worker: bool,

    /// Fork this many local worker processes (-1 = one per CPU core). With --worker the parent
    /// only supervises them; without it the parent is also their master
    #[arg(long, value_name = "N", allow_negative_numbers = true, help_heading = WORKER)]
    pub processes: Option<i64>,

    /// Master node to connect to (default 127.0.0.1)
    #[arg(long = "master-host", visible_alias = "manager-host", value_name = "HOSTNAME",
          help_heading = WORKER)]
    pub master_host: Option<String>,

    /// Port of the master node to connect to (default 5557)
    #[arg(long = "master-port", visible_alias = "manager-port", value_name = "PORT",
          allow_negative_numbers = true, help_heading = WORKER)]
    pub master_port: Option<u16>,

    /// Only run tasks with at least one of these tags
    #[arg(short = 'T', long, value_name = "TAG", num_args = 0.., help_heading = TAGS)]
    pub tags: Option<Vec<String>>,

    /// Exclude tasks with any of these tags
    #[arg(short = 'E', long = "exclude-tags", value_name = "TAG", num_args = 0.., help_heading = TAGS)]
    pub exclude_tags: Option<Vec<String>>,

    /// Store stats in CSV files: PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv, PREFIX_exceptions.csv
    #[arg(long = "csv", value_name = "CSV_PREFIX", help_heading = STATS)]
    pub csv_prefix: Option<String>,

    /// Also write every stats entry (not only Aggregated) to PREFIX_stats_history.csv (needs --csv)
    #[arg(long = "csv-full-history", help_heading = STATS)]
    pub csv_full_history: bool,

    /// Print the stats table to the console in web UI mode
    #[arg(long = "print-stats", help_heading = STATS)]
    pub print_stats: bool,

    /// Only print the summary stats, not the periodic table
    #[arg(long = "only-summary", help_heading = STATS)]
    pub only_summary: bool,

    /// Reset statistics once spawning has completed
    #[arg(long = "reset-stats", help_heading = STATS)]
    pub reset_stats: bool,

    /// Write an HTML report to this file ({u}, {r} and {t} become users, spawn rate and run time)
    #[arg(long = "html", value_name = "HTML_FILE", help_heading = STATS)]
    pub html_file: Option<String>,

    /// Print the final stats as JSON to stdout
    #[arg(long, help_heading = STATS)]
    pub json: bool,

    /// Write the final stats as JSON to NAME.json
    #[arg(long = "json-file", value_name = "NAME", help_heading = STATS)]
    pub json_file: Option<PathBuf>,

    /// Most request names kept apart; newer names share one overflow row (skein only; default 2000)
    #[arg(long = "max-request-names", value_name = "N", value_parser = parse_cap,
          allow_negative_numbers = true, help_heading = STATS)]
    pub max_request_names: Option<usize>,

    /// Most failure rows kept apart; newer errors share one overflow row (skein only; default 2000)
    #[arg(long = "max-failure-rows", value_name = "N", value_parser = parse_cap,
          allow_negative_numbers = true, help_heading = STATS)]
    pub max_failure_rows: Option<usize>,

    /// Log level: DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)
    #[arg(short = 'L', long, value_name = "LOGLEVEL", ignore_case = true, help_heading = LOGGING)]
    pub loglevel: Option<LogLevel>,

    /// Path to a log file (default: log to stderr)
    #[arg(long, value_name = "LOGFILE", help_heading = LOGGING)]
    pub logfile: Option<PathBuf>,

    /// Exit code to use when failures or exceptions were recorded (default 1)
    #[arg(long = "exit-code-on-error", value_name = "CODE",
          allow_negative_numbers = true, help_heading = OTHER)]
    pub exit_code_on_error: Option<i32>,

    /// A performance target, e.g. "classify p95<500ms", "error-rate<0.1%", "GET /api/v1/health rps>1000";
    /// repeatable, or several separated by ';'. A failed check ends the run with exit code 3 (skein only)
    #[arg(long = "check", value_name = "RULE", action = clap::ArgAction::Append,
          value_parser = parse_check_rules, help_heading = OTHER)]
    pub check: Vec<CheckRules>,

    /// Time to wait for users to finish their iteration when stopping, e.g. 10s (default 0)
    #[arg(short = 's', long = "stop-timeout", value_name = "TIME",
          value_parser = parse_timespan_value, allow_negative_numbers = true, help_heading = OTHER)]
    pub stop_timeout: Option<Duration>,

    /// Keep at most this many bytes of each response body in memory (default 16777216 = 16 MiB);
    /// the rest is counted and dropped, and a check that needs the whole body fails (skein only)
    #[arg(long = "max-body-size", value_name = "BYTES", help_heading = OTHER)]
    pub max_body_size: Option<usize>,

    /// User classes to run (default: all)
    #[arg(value_name = "UserClass", help_heading = "User classes")]
    pub user_classes: Vec<String>,
}

/// The rules of one `--check` value (`;` separates several).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRules(pub Vec<crate::checks::Check>);

/// `--check RULE[;RULE…]`; the error names the rule and what is wrong with it.
fn parse_check_rules(s: &str) -> Result<CheckRules, String> {
    match crate::checks::parse_rules(s) {
        Ok(rules) if rules.is_empty() => Err("no rule given (e.g. 'p95<500ms')".to_string()),
        Ok(rules) => Ok(CheckRules(rules)),
        Err(e) => Err(e.to_string()),
    }
}

/// How an option takes its value from the environment or a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A boolean switch: the source's value is true/yes/on/1 or false/no/off/0.
    Flag,
    /// One value.
    Value,
    /// Several values (`[a, b]` in the environment or a config file).
    List,
}

/// An option that can also come from the environment or a config file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source {
    /// clap's argument id (the `RawArgs` field).
    pub id: &'static str,
    /// The long name: the config-file key and the `--long` we inject.
    pub long: &'static str,
    pub env: Option<&'static str>,
    pub kind: Kind,
}

const fn src(
    id: &'static str,
    long: &'static str,
    env: Option<&'static str>,
    kind: Kind,
) -> Source {
    Source {
        id,
        long,
        env,
        kind,
    }
}

/// Options settable outside the command line. `config` itself is not: Locust reads it only
/// from the command line too.
pub(crate) const SOURCES: &[Source] = &[
    src("host", "host", Some("LOCUST_HOST"), Kind::Value),
    src("users", "users", Some("LOCUST_USERS"), Kind::Value),
    src(
        "spawn_rate",
        "spawn-rate",
        Some("LOCUST_SPAWN_RATE"),
        Kind::Value,
    ),
    src("run_time", "run-time", Some("LOCUST_RUN_TIME"), Kind::Value),
    src(
        "arrival_rate",
        "arrival-rate",
        Some("LOCUST_ARRIVAL_RATE"),
        Kind::Value,
    ),
    src(
        "max_in_flight",
        "max-in-flight",
        Some("LOCUST_MAX_IN_FLIGHT"),
        Kind::Value,
    ),
    src("list", "list", None, Kind::Flag),
    src("headless", "headless", Some("LOCUST_HEADLESS"), Kind::Flag),
    src(
        "autostart",
        "autostart",
        Some("LOCUST_AUTOSTART"),
        Kind::Flag,
    ),
    src("autoquit", "autoquit", Some("LOCUST_AUTOQUIT"), Kind::Value),
    src("web_host", "web-host", Some("LOCUST_WEB_HOST"), Kind::Value),
    src("web_port", "web-port", Some("LOCUST_WEB_PORT"), Kind::Value),
    src(
        "web_base_path",
        "web-base-path",
        Some("LOCUST_WEB_BASE_PATH"),
        Kind::Value,
    ),
    src("tls_cert", "tls-cert", Some("LOCUST_TLS_CERT"), Kind::Value),
    src("tls_key", "tls-key", Some("LOCUST_TLS_KEY"), Kind::Value),
    src("web_auth", "web-auth", Some("LOCUST_WEB_AUTH"), Kind::Value),
    src(
        "web_allowed_origin",
        "web-allowed-origin",
        Some("LOCUST_WEB_ALLOWED_ORIGIN"),
        Kind::List,
    ),
    src("master", "master", Some("LOCUST_MODE_MASTER"), Kind::Flag),
    src(
        "master_bind_host",
        "master-bind-host",
        Some("LOCUST_MASTER_BIND_HOST"),
        Kind::Value,
    ),
    src(
        "master_bind_port",
        "master-bind-port",
        Some("LOCUST_MASTER_BIND_PORT"),
        Kind::Value,
    ),
    src(
        "expect_workers",
        "expect-workers",
        Some("LOCUST_EXPECT_WORKERS"),
        Kind::Value,
    ),
    src(
        "expect_workers_max_wait",
        "expect-workers-max-wait",
        Some("LOCUST_EXPECT_WORKERS_MAX_WAIT"),
        Kind::Value,
    ),
    // Locust has no environment variable for this one.
    src("enable_rebalancing", "enable-rebalancing", None, Kind::Flag),
    src("worker", "worker", Some("LOCUST_MODE_WORKER"), Kind::Flag),
    src(
        "processes",
        "processes",
        Some("LOCUST_PROCESSES"),
        Kind::Value,
    ),
    src(
        "master_host",
        "master-host",
        Some("LOCUST_MASTER_NODE_HOST"),
        Kind::Value,
    ),
    src(
        "master_port",
        "master-port",
        Some("LOCUST_MASTER_NODE_PORT"),
        Kind::Value,
    ),
    src("tags", "tags", Some("LOCUST_TAGS"), Kind::List),
    src(
        "exclude_tags",
        "exclude-tags",
        Some("LOCUST_EXCLUDE_TAGS"),
        Kind::List,
    ),
    src("csv_prefix", "csv", Some("LOCUST_CSV"), Kind::Value),
    src(
        "csv_full_history",
        "csv-full-history",
        Some("LOCUST_CSV_FULL_HISTORY"),
        Kind::Flag,
    ),
    src(
        "print_stats",
        "print-stats",
        Some("LOCUST_PRINT_STATS"),
        Kind::Flag,
    ),
    src(
        "only_summary",
        "only-summary",
        Some("LOCUST_ONLY_SUMMARY"),
        Kind::Flag,
    ),
    src(
        "reset_stats",
        "reset-stats",
        Some("LOCUST_RESET_STATS"),
        Kind::Flag,
    ),
    src("html_file", "html", Some("LOCUST_HTML"), Kind::Value),
    src("json", "json", None, Kind::Flag),
    src(
        "locustfile",
        "locustfile",
        Some("LOCUST_LOCUSTFILE"),
        Kind::Value,
    ),
    src("json_file", "json-file", None, Kind::Value),
    src("max_request_names", "max-request-names", None, Kind::Value),
    src("max_failure_rows", "max-failure-rows", None, Kind::Value),
    src("loglevel", "loglevel", Some("LOCUST_LOGLEVEL"), Kind::Value),
    src("logfile", "logfile", Some("LOCUST_LOGFILE"), Kind::Value),
    src(
        "exit_code_on_error",
        "exit-code-on-error",
        Some("LOCUST_EXIT_CODE_ON_ERROR"),
        Kind::Value,
    ),
    src("check", "check", Some("LOCUST_CHECK"), Kind::List),
    src(
        "stop_timeout",
        "stop-timeout",
        Some("LOCUST_STOP_TIMEOUT"),
        Kind::Value,
    ),
    src(
        "max_body_size",
        "max-body-size",
        Some("LOCUST_MAX_BODY_SIZE"),
        Kind::Value,
    ),
];

/// Config-file keys that name an option by its alias (Goose's Gaggle spellings): alias, long.
pub(crate) const KEY_ALIASES: &[(&str, &str)] = &[
    ("manager", "master"),
    ("manager-bind-host", "master-bind-host"),
    ("manager-bind-port", "master-bind-port"),
    ("manager-host", "master-host"),
    ("manager-port", "master-port"),
];

/// The environment variable holding positional user class names, space-separated.
pub(crate) const USER_CLASSES_ENV: &str = "LOCUST_USER_CLASSES";

/// The clap command, with each option's environment variable added to its help.
pub(crate) fn command() -> clap::Command {
    // `mut_args` keeps the declaration order, which decides the order of the help sections.
    RawArgs::command().mut_args(|a| {
        let env = if a.get_id() == "user_classes" {
            Some(USER_CLASSES_ENV)
        } else {
            SOURCES
                .iter()
                .find(|s| a.get_id() == s.id)
                .and_then(|s| s.env)
        };
        match env {
            Some(env) => {
                let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                a.help(format!("{help} [env: {env}]"))
            }
            None => a,
        }
    })
}

/// Boolean values as Locust's environment and config files spell them.
pub(crate) fn parse_bool_word(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn parse_host(s: &str) -> Result<String, String> {
    let url =
        url::Url::parse(s).map_err(|e| format!("must be an http(s) URL with a host ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("must be an http(s) URL with a host, e.g. http://10.21.32.33".to_string());
    }
    Ok(s.to_string())
}

fn parse_spawn_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if rate > 0.0 && rate.is_finite() {
        Ok(rate)
    } else {
        Err("must be > 0 and finite".to_string())
    }
}

fn parse_arrival_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if rate > 0.0 && rate <= crate::engine::open::MAX_RATE {
        Ok(rate)
    } else {
        Err("must be > 0 and at most 1000000 iterations per second".to_string())
    }
}

fn parse_max_in_flight(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("must be a whole number of virtual users, at least 1".to_string()),
    }
}

fn parse_timespan_value(s: &str) -> Result<Duration, String> {
    parse_timespan(s).map_err(|_| super::timespan::CLI_TIMESPAN_INVALID.to_string())
}

/// Locust's `positive_integer`, with its texts (shown as `argument --expect-workers: …`).
fn parse_expect_workers(s: &str) -> Result<u64, String> {
    let n: i64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid int value: '{s}'"))?;
    u64::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
        format!("Invalid --expect-workers argument ({n}), must be a positive number")
    })
}

/// A table cap: a whole number of rows, at least 1.
fn parse_cap(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("must be a whole number of rows, at least 1".to_string()),
    }
}

fn parse_base_path(s: &str) -> Result<String, String> {
    if s.is_empty() || s.starts_with('/') {
        Ok(s.to_string())
    } else {
        Err("must start with /".to_string())
    }
}

/// An origin as browsers send it: `http(s)://host[:port]`, nothing after (a trailing `/` is fine).
fn parse_origin(s: &str) -> Result<String, String> {
    match url::Url::parse(s) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.path() == "/"
                && u.query().is_none() =>
        {
            Ok(s.trim_end_matches('/').to_string())
        }
        _ => Err("must be an origin like https://host:port".to_string()),
    }
}

fn parse_web_auth(s: &str) -> Result<WebAuth, String> {
    match s.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok(WebAuth {
            user: user.to_string(),
            password: password.to_string(),
        }),
        Some(_) => Err("the user name must not be empty".to_string()),
        None => Err("expected USER:PASSWORD".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn allowed_origins_repeat_and_must_be_origins() {
        let m = command()
            .try_get_matches_from([
                "skein",
                "--web-allowed-origin",
                "https://a.example/",
                "--web-allowed-origin=http://b.example:8080",
            ])
            .unwrap();
        let v: Vec<&String> = m.get_many("web_allowed_origin").unwrap().collect();
        assert_eq!(v, ["https://a.example", "http://b.example:8080"]);
        for bad in ["a.example", "https://a.example/path", "ftp://a.example"] {
            let r = command().try_get_matches_from(["skein", "--web-allowed-origin", bad]);
            assert!(r.is_err(), "{bad}");
        }
    }

    #[test]
    fn every_source_names_a_real_option() {
        let cmd = command();
        for s in SOURCES {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id() == s.id)
                .unwrap_or_else(|| panic!("no argument {}", s.id));
            assert_eq!(arg.get_long(), Some(s.long), "long name of {}", s.id);
        }
    }

    #[test]
    fn help_lists_env_vars_and_groups() {
        let help = command().render_help().to_string();
        for needle in [
            "LOCUST_USERS",
            "LOCUST_SPAWN_RATE",
            "LOCUST_USER_CLASSES",
            "Common options",
            "Web UI options",
            "Request statistics options",
            "Logging options",
        ] {
            assert!(help.contains(needle), "help lacks {needle}:\n{help}");
        }
    }

    #[test]
    fn table_caps_default_and_parse() {
        use super::super::settings::Settings;
        let caps = |args: &[&str]| {
            let raw = RawArgs::try_parse_from(std::iter::once("skein").chain(args.iter().copied()))
                .map_err(|e| e.to_string())?;
            Settings::from_raw(raw, Vec::new())
                .map(|s| s.stats_limits)
                .map_err(|e| e.to_string())
        };
        assert_eq!(caps(&[]), Ok(crate::stats::StatsLimits::default()));
        let set = caps(&["--max-request-names", "50", "--max-failure-rows=7"]).unwrap();
        assert_eq!((set.max_request_names, set.max_failure_rows), (50, 7));
        for bad in ["0", "-3", "ten", "1.5"] {
            let err = caps(&["--max-failure-rows", bad]).unwrap_err();
            assert!(err.contains("at least 1"), "{bad}: {err}");
        }
    }

    #[test]
    fn bool_words() {
        for t in ["true", "TRUE", "yes", "on", "1"] {
            assert_eq!(parse_bool_word(t), Some(true));
        }
        for f in ["false", "No", "off", "0"] {
            assert_eq!(parse_bool_word(f), Some(false));
        }
        for x in ["", "y", "2", "maybe"] {
            assert_eq!(parse_bool_word(x), None);
        }
    }
}
