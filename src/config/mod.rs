//! skein's configuration: the Locust-compatible command line, `LOCUST_*` environment
//! variables and config files, merged in Locust's precedence (command line > environment >
//! `--config` > `./pyproject.toml` > `./locust.conf` > `~/.locust.conf` > defaults) and
//! validated into [`Settings`].
//!
//! Layers: [`raw`] defines the flags (clap), [`file`] reads config files, [`timespan`] parses
//! durations, [`settings`] applies cross-option checks, [`cluster`] resolves the node's role.
//! [`load`] reads nothing from the process: arguments, environment, home and working directory
//! are all passed in (only `--processes -1` asks the OS for the number of CPUs).

mod bench;
mod cluster;
mod error;
mod file;
mod raw;
mod settings;
mod timespan;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::FromArgMatches;

pub use bench::{BenchSettings, BenchTest, MAX_ITERATIONS, MAX_WORKERS};
pub use cluster::{worker_child_args, ClusterSettings, Role};
pub use error::{
    master_port_busy_message, ConfigError, EXIT_FATAL, EXIT_GAVE_UP_WAITING, EXIT_MASTER_PORT_BUSY,
    GAVE_UP_WAITING, MASTER_WITH_PROCESSES, MASTER_WITH_WORKER,
};
pub use raw::{CheckRules, LogLevel, RawArgs, WebAuth, VERSION};
pub use settings::{OpenModel, Settings, WebSettings};
pub use timespan::{parse_timespan, TimespanError, TIMESPAN_FORMATS};

use file::{ConfEntry, ConfValue};
use raw::{Kind, Source, KEY_ALIASES, SOURCES, USER_CLASSES_ENV};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
// Built once per process; boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    Run(Settings),
    /// `skein bench …`: the benchmark suite (its own flags, see [`bench`]).
    Bench(BenchSettings),
    /// `-h/--help`: the text to print to stdout (exit 0).
    PrintHelp(String),
    /// `-V/--version`: the line to print to stdout (exit 0).
    PrintVersion(String),
}

/// Where a value outside the command line came from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    Env(&'static str),
    File { path: PathBuf, line: usize },
}

impl Origin {
    fn describe(&self) -> String {
        match self {
            Origin::Env(name) => format!("environment variable {name}"),
            Origin::File { path, line: 0 } => format!("config file {}", path.display()),
            Origin::File { path, line } => format!("config file {}, line {line}", path.display()),
        }
    }
}

/// Parses `args` (including the program name) with `env` and the config files found under
/// `home` and `cwd` into a [`Command`].
pub fn load(
    args: Vec<OsString>,
    env: &BTreeMap<String, String>,
    home: Option<&Path>,
    cwd: &Path,
) -> Result<Command, ConfigError> {
    let mut args = args;
    if args.is_empty() {
        // clap takes the first argument as the program name; keep injected ones out of it.
        args.push(OsString::from("skein"));
    }
    // No Locust user class is called `bench`, so the word is free to name the subcommand.
    if args.get(1).is_some_and(|a| a == "bench") {
        return bench::load(&args);
    }
    let cmd = raw::command();
    let cli = match cmd.clone().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => return help_or_error(e),
    };
    let on_cli: BTreeSet<&str> = SOURCES
        .iter()
        .filter(|s| cli.value_source(s.id) == Some(ValueSource::CommandLine))
        .map(|s| s.id)
        .collect();

    // Lowest priority first; later layers overwrite earlier ones.
    let mut layered: BTreeMap<&'static str, (Origin, ConfValue)> = BTreeMap::new();
    let explicit = cli.get_one::<PathBuf>("config").map(|p| cwd.join(p));
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    if let Some(home) = home {
        files.push((home.join(".locust.conf"), false));
    }
    files.push((cwd.join("locust.conf"), false));
    files.push((cwd.join("pyproject.toml"), false));
    if let Some(path) = explicit {
        files.push((path, true));
    }
    for (path, required) in files {
        for entry in read_config_file(&path, required)? {
            let source = find_source(&path, &entry.key)?;
            let origin = Origin::File {
                path: path.clone(),
                line: entry.line,
            };
            let value = match (source.kind, entry.value, entry.text) {
                (Kind::Flag | Kind::Value, ConfValue::List(_), Some(text)) => {
                    ConfValue::Scalar(text)
                }
                (_, value, _) => value,
            };
            layered.insert(source.id, (origin, value));
        }
    }
    for source in SOURCES {
        let Some(name) = source.env else { continue };
        // An empty variable counts as unset (common in container templates).
        let Some(text) = env.get(name).filter(|v| !v.is_empty()) else {
            continue;
        };
        layered.insert(source.id, (Origin::Env(name), env_value(source.kind, text)));
    }

    let mut injected: Vec<OsString> = Vec::new();
    for source in SOURCES {
        if on_cli.contains(source.id) {
            continue;
        }
        let Some((origin, value)) = layered.remove(source.id) else {
            continue;
        };
        let fragment = to_args(source, &origin, value)?;
        // Parse each value on its own first, so the error can say where it came from.
        let mut alone = vec![OsString::from("skein")];
        alone.extend(fragment.iter().cloned());
        if let Err(e) = cmd.clone().try_get_matches_from(alone) {
            return Err(ConfigError::Source {
                origin: origin.describe(),
                message: error::clap_message(&e, true),
                arg: error::clap_arg(&e),
                code: error::ARGPARSE_EXIT,
            });
        }
        injected.extend(fragment);
    }

    // Injected `--long=value` arguments go before any `--`, where they cannot be taken for
    // positionals or for values of a trailing multi-value option.
    let mut argv = args;
    let at = argv
        .iter()
        .skip(1)
        .position(|a| a == "--")
        .map_or(argv.len(), |p| p + 1);
    argv.splice(at..at, injected);
    let merged = cmd.try_get_matches_from(argv).map_err(cli_error)?;
    let raw = RawArgs::from_arg_matches(&merged).map_err(cli_error)?;

    let user_classes = if raw.user_classes.is_empty() {
        env.get(USER_CLASSES_ENV)
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    } else {
        raw.user_classes.clone()
    };
    Settings::from_raw(raw, user_classes).map(Command::Run)
}

fn help_or_error(e: clap::Error) -> Result<Command, ConfigError> {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            Ok(Command::PrintHelp(e.render().to_string()))
        }
        ErrorKind::DisplayVersion => Ok(Command::PrintVersion(
            e.render().to_string().trim_end().to_string(),
        )),
        _ => Err(cli_error(e)),
    }
}

fn cli_error(e: clap::Error) -> ConfigError {
    ConfigError::Cli {
        message: error::clap_message(&e, false),
        arg: error::clap_arg(&e),
        code: error::ARGPARSE_EXIT,
    }
}

/// Reads one config file; a missing default file is simply skipped.
fn read_config_file(path: &Path, required: bool) -> Result<Vec<ConfEntry>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        // A BOM (Windows editors write one) is not part of the first key. Locust 2.47 reads it
        // as one and fails with "unrecognized arguments: --\u{feff}run-time=1s".
        Ok(t) => match t.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => t,
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(Vec::new()),
        Err(e) => {
            return Err(ConfigError::File {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        }
    };
    file::parse(path, &text).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn find_source(path: &Path, key: &str) -> Result<&'static Source, ConfigError> {
    let long = KEY_ALIASES
        .iter()
        .find(|(alias, _)| *alias == key)
        .map_or(key, |(_, long)| long);
    SOURCES
        .iter()
        .find(|s| s.long == long)
        .ok_or_else(|| ConfigError::UnknownKey {
            path: path.to_path_buf(),
            key: key.to_string(),
            suggestion: SOURCES
                .iter()
                .find(|s| s.long == key.replace('_', "-"))
                .map(|s| s.long.to_string()),
        })
}

/// An environment value: for a list option `[a, b]` is a list; anything else is one value
/// (`"a b"` is ONE tag, `[::1]` is a web host).
fn env_value(kind: Kind, text: &str) -> ConfValue {
    let trimmed = text.trim();
    match trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) if kind == Kind::List => file::parse_list(inner),
        _ => ConfValue::Scalar(text.to_string()),
    }
}

/// The `--long=value` arguments that set `source` to `value`.
fn to_args(
    source: &Source,
    origin: &Origin,
    value: ConfValue,
) -> Result<Vec<OsString>, ConfigError> {
    let long = source.long;
    match (source.kind, value) {
        (Kind::Flag, ConfValue::Scalar(v)) => match raw::parse_bool_word(v.trim()) {
            Some(true) => Ok(vec![format!("--{long}").into()]),
            Some(false) => Ok(Vec::new()),
            None => Err(ConfigError::BadBool {
                origin: origin.describe(),
                flag: long.to_string(),
                value: v,
            }),
        },
        (Kind::Value, ConfValue::Scalar(v)) => Ok(vec![format!("--{long}={v}").into()]),
        (Kind::List, ConfValue::Scalar(v)) => Ok(vec![format!("--{long}={v}").into()]),
        (Kind::List, ConfValue::List(items)) if items.is_empty() => {
            Ok(vec![format!("--{long}").into()])
        }
        (Kind::List, ConfValue::List(items)) => Ok(items
            .into_iter()
            .map(|v| format!("--{long}={v}").into())
            .collect()),
        (Kind::Flag | Kind::Value, ConfValue::List(_)) => Err(ConfigError::NotAList {
            origin: origin.describe(),
            flag: long.to_string(),
        }),
    }
}
