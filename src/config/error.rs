//! Everything that can stop skein before it starts, each with the exit code Locust uses for it.

use std::path::PathBuf;

/// Locust exits 2 on every argparse error (bad value including a bad `--run-time`, unknown
/// flag) and 1 on its own startup checks (e.g. `--autoquit` without `--autostart`).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The command line did not parse (clap's message names the flag and the value).
    #[error("{message}")]
    Cli {
        message: String,
        /// The offending argument as clap shows it (`--users <NUM_USERS>`), when known.
        arg: Option<String>,
        code: i32,
    },

    /// A value from an environment variable or a config file did not parse.
    #[error("{origin}: {message}")]
    Source {
        /// Where the value came from: `environment variable LOCUST_USERS`, `config file …, line 3`.
        origin: String,
        message: String,
        arg: Option<String>,
        code: i32,
    },

    /// A boolean environment variable or config value that is not true/yes/on/1 or false/no/off/0.
    #[error("{origin}: invalid value '{value}' for '--{flag}': expected true/yes/on/1 or false/no/off/0")]
    BadBool {
        origin: String,
        flag: String,
        value: String,
    },

    /// A single-valued option given a `[list]` in the environment or a config file.
    #[error("{origin}: invalid value for '--{flag}': expected a single value, not a list")]
    NotAList { origin: String, flag: String },

    /// A config-file key that is no skein option (Locust: "unrecognized arguments").
    #[error("config file {}: unrecognized argument '{key}'{}", path.display(),
            suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default())]
    UnknownKey {
        path: PathBuf,
        key: String,
        suggestion: Option<String>,
    },

    /// A config file that exists but cannot be read or parsed, or a missing `--config` file.
    #[error("config file {}: {message}", path.display())]
    File { path: PathBuf, message: String },

    /// Values that parse on their own but not together (argparse-level, exit 2).
    #[error("argument {flag}: {message}")]
    Invalid { flag: String, message: String },

    /// Locust's post-parse startup checks (exit 1).
    #[error("{0}")]
    Startup(String),

    /// The checks Locust ends with `sys.exit(-1)` (exit 255), e.g. `--master` with `--worker`.
    #[error("{0}")]
    Fatal(String),
}

impl ConfigError {
    /// The process exit code Locust uses for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            ConfigError::Cli { code, .. } | ConfigError::Source { code, .. } => *code,
            ConfigError::Startup(_) => 1,
            ConfigError::Fatal(_) => EXIT_FATAL,
            _ => 2,
        }
    }
}

/// The exit code for a clap error: 2, as every argparse error in Locust (a bad `--run-time`
/// too: Locust 2.47 checks it in argparse's type function).
pub(crate) const ARGPARSE_EXIT: i32 = 2;

/// Locust's `sys.exit(-1)`, as the shell sees it.
pub const EXIT_FATAL: i32 = 255;

/// `--master` together with `--worker` (exit [`EXIT_FATAL`]).
pub const MASTER_WITH_WORKER: &str = "The --master argument cannot be combined with --worker";

/// `--master` together with `--processes` (exit 1).
pub const MASTER_WITH_PROCESSES: &str = "--master cannot be combined with --processes. \
Remove --master, as it is implicit as long as --worker is not set.";

/// The exit code when the master cannot bind its port (runtime; Locust exits 1).
pub const EXIT_MASTER_PORT_BUSY: i32 = 1;

/// Locust's error for a busy master port. `cause` is the OS error text.
pub fn master_port_busy_message(bind_host: &str, port: u16, cause: &str) -> String {
    let at = if bind_host == "*" {
        port.to_string()
    } else {
        format!("{bind_host}:{port}")
    };
    format!(
        "The Locust master port ({at}) was busy. Close any applications using that port - \
perhaps an old instance of Locust master is still running? ({cause})"
    )
}

/// The exit code when `--expect-workers-max-wait` runs out (runtime; Locust exits 1).
pub const EXIT_GAVE_UP_WAITING: i32 = 1;

/// Locust's error when `--expect-workers-max-wait` runs out.
pub const GAVE_UP_WAITING: &str = "Gave up waiting for workers to connect";

/// The flags whose bad values Locust reports in argparse's own words, with its message
/// (`None`: the value parser's own text, already in Locust's words).
const ARGPARSE_STYLE: [(&str, &str, Option<&str>); 3] = [
    (
        "--run-time",
        "-t/--run-time",
        Some(super::timespan::CLI_TIMESPAN_INVALID),
    ),
    (
        "--stop-timeout",
        "-s/--stop-timeout",
        Some(super::timespan::CLI_TIMESPAN_INVALID),
    ),
    ("--expect-workers", "--expect-workers", None),
];

/// `argument -t/--run-time: Invalid time span format. …` for a bad time span, as Locust.
fn argparse_message(e: &clap::Error) -> Option<String> {
    if e.kind() != clap::error::ErrorKind::ValueValidation {
        return None;
    }
    let arg = clap_arg(e)?;
    let (_, flags, message) = ARGPARSE_STYLE
        .iter()
        .find(|(long, _, _)| arg == *long || arg.starts_with(&format!("{long} ")))?;
    let message = match message {
        Some(m) => m.to_string(),
        None => std::error::Error::source(e)?.to_string(),
    };
    Some(format!("argument {flags}: {message}"))
}

/// clap's rendered error without the leading `error: `. With `summary`, only its first
/// paragraph on one line (no usage or `--help` hint), for embedding in a longer message.
pub(crate) fn clap_message(e: &clap::Error, summary: bool) -> String {
    if let Some(message) = argparse_message(e) {
        return message;
    }
    let rendered = e.render().to_string();
    let text = rendered.trim_end();
    let text = text.strip_prefix("error: ").unwrap_or(text);
    if summary {
        text.lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        text.to_string()
    }
}

/// The argument clap blames, e.g. `--users <NUM_USERS>`.
pub(crate) fn clap_arg(e: &clap::Error) -> Option<String> {
    match e.get(clap::error::ContextKind::InvalidArg) {
        Some(clap::error::ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    }
}
