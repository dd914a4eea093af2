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
}

impl ConfigError {
    /// The process exit code Locust uses for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            ConfigError::Cli { code, .. } | ConfigError::Source { code, .. } => *code,
            ConfigError::Startup(_) => 1,
            _ => 2,
        }
    }
}

/// The exit code for a clap error: 2, as every argparse error in Locust (a bad `--run-time`
/// too: Locust 2.47 checks it in argparse's type function).
pub(crate) const ARGPARSE_EXIT: i32 = 2;

/// The flags whose bad values Locust reports in argparse's own words, with its message.
const ARGPARSE_STYLE: [(&str, &str, &str); 2] = [
    (
        "--run-time",
        "-t/--run-time",
        super::timespan::CLI_TIMESPAN_INVALID,
    ),
    (
        "--stop-timeout",
        "-s/--stop-timeout",
        super::timespan::CLI_TIMESPAN_INVALID,
    ),
];

/// `argument -t/--run-time: Invalid time span format. …` for a bad time span, as Locust.
fn argparse_message(e: &clap::Error) -> Option<String> {
    if e.kind() != clap::error::ErrorKind::ValueValidation {
        return None;
    }
    let arg = clap_arg(e)?;
    ARGPARSE_STYLE
        .iter()
        .find(|(long, _, _)| arg == *long || arg.starts_with(&format!("{long} ")))
        .map(|(_, flags, message)| format!("argument {flags}: {message}"))
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
