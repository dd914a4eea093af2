//! The node's role in a distributed run (`--master`, `--worker`, `--processes` and their
//! options), resolved and checked as Locust 2.47 does in `main()`, and the command line the
//! parent gives each local worker it forks for `--processes`.

use std::time::Duration;

use super::error::{ConfigError, MASTER_WITH_PROCESSES, MASTER_WITH_WORKER};
use super::raw::RawArgs;
use super::settings::Settings;

/// Locust's defaults for the master and worker options.
pub const DEFAULT_MASTER_BIND_HOST: &str = "*";
pub const DEFAULT_MASTER_HOST: &str = "127.0.0.1";
pub const DEFAULT_MASTER_PORT: u16 = 5557;

/// What this process is in a distributed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Runs the users itself (no `--master`, `--worker` or `--processes`).
    Standalone,
    Master {
        /// `*` means all interfaces (as Locust and ZeroMQ spell it).
        bind_host: String,
        bind_port: u16,
        /// At least 1; with `--processes N` (and no `--worker`) it is N.
        expect_workers: u64,
        /// `None`: wait forever (`0`, the default). A negative value is `Some(ZERO)`: Locust
        /// gives up at the first check unless the workers are already there.
        expect_workers_max_wait: Option<Duration>,
    },
    Worker {
        master_host: String,
        master_port: u16,
    },
}

/// The distributed-run part of [`Settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// What this process is. With `processes` set it is the parent's role: `Master` (the
    /// all-in-one `--processes N`) or `Worker` (`--worker --processes N`: the parent runs no
    /// users, it waits for its children and exits with the highest of their exit codes).
    pub role: Role,
    /// `--processes`, resolved (`-1` = the number of CPUs): local workers to fork. `None` when
    /// not given or 0 (Locust ignores 0).
    pub processes: Option<usize>,
    /// Always true: skein redistributes users when workers join or leave, so
    /// `--enable-rebalancing` is accepted and changes nothing.
    pub enable_rebalancing: bool,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            role: Role::Standalone,
            processes: None,
            enable_rebalancing: true,
        }
    }
}

/// `--processes` as given into a count, with Locust's checks (exit 1) in Locust's order.
/// `cpus` is asked only for `-1`.
pub(crate) fn resolve_processes(
    given: Option<i64>,
    master: bool,
    cpus: impl FnOnce() -> Option<usize>,
) -> Result<Option<usize>, ConfigError> {
    let n = match given {
        None | Some(0) => return Ok(None),
        Some(-1) => cpus().filter(|n| *n > 0).ok_or_else(|| {
            ConfigError::Startup("--processes failed to detect number of cpus!?".to_string())
        })?,
        Some(n) if n < -1 => {
            return Err(ConfigError::Startup(format!(
                "Invalid --processes count {n}"
            )))
        }
        // Positive, and it fits: an i64 beyond usize is refused by the fork anyway.
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    // Locust checks this only for a positive count, so `--master --processes -1` starts a
    // master whose forked children fail ("cannot be combined with --worker") and it waits
    // forever. skein refuses it for every count.
    if master {
        return Err(ConfigError::Startup(MASTER_WITH_PROCESSES.to_string()));
    }
    Ok(Some(n))
}

/// The role and process count from the raw flags; `processes` already resolved.
pub(crate) fn cluster_settings(
    raw: &RawArgs,
    processes: Option<usize>,
) -> Result<ClusterSettings, ConfigError> {
    if raw.master && raw.worker {
        return Err(ConfigError::Fatal(MASTER_WITH_WORKER.to_string()));
    }
    let role = if raw.worker {
        Role::Worker {
            master_host: raw
                .master_host
                .clone()
                .unwrap_or_else(|| DEFAULT_MASTER_HOST.to_string()),
            master_port: raw.master_port.unwrap_or(DEFAULT_MASTER_PORT),
        }
    } else if raw.master || processes.is_some() {
        Role::Master {
            bind_host: raw
                .master_bind_host
                .clone()
                .unwrap_or_else(|| DEFAULT_MASTER_BIND_HOST.to_string()),
            bind_port: raw.master_bind_port.unwrap_or(DEFAULT_MASTER_PORT),
            // Locust overrides --expect-workers with the count it forks.
            expect_workers: match processes {
                Some(n) => n as u64,
                None => raw.expect_workers.unwrap_or(1),
            },
            expect_workers_max_wait: match raw.expect_workers_max_wait {
                None | Some(0) => None,
                Some(s) => Some(Duration::from_secs(u64::try_from(s).unwrap_or(0))),
            },
        }
    } else {
        Role::Standalone
    };
    Ok(ClusterSettings {
        role,
        processes,
        enable_rebalancing: true,
    })
}

/// Where a local worker connects to reach the master at `bind_host:bind_port`.
fn connect_host(bind_host: &str) -> String {
    match bind_host {
        "*" | "" | "0.0.0.0" => DEFAULT_MASTER_HOST.to_string(),
        "::" | "[::]" => "::1".to_string(),
        other => other.to_string(),
    }
}

/// The arguments (without the program name) the `--processes` parent gives each worker it
/// forks: `--worker`, where the master is, and the options that shape what the worker runs
/// (host, tags, classes, limits, log level). Web, CSV, HTML, JSON and run-time options are
/// left out, as Locust clears them in its children.
///
/// The all-in-one parent's children connect to the parent's own bind port (Locust sends them
/// to `--master-port`, 5557 unless given, even when `--master-bind-port` differs).
pub fn worker_child_args(settings: &Settings) -> Vec<String> {
    let (host, port) = match &settings.cluster.role {
        Role::Master {
            bind_host,
            bind_port,
            ..
        } => (connect_host(bind_host), *bind_port),
        Role::Worker {
            master_host,
            master_port,
        } => (master_host.clone(), *master_port),
        Role::Standalone => (DEFAULT_MASTER_HOST.to_string(), DEFAULT_MASTER_PORT),
    };
    let mut args = vec![
        "--worker".to_string(),
        "--master-host".to_string(),
        host,
        "--master-port".to_string(),
        port.to_string(),
    ];
    let mut value = |flag: &str, v: String| {
        args.push(flag.to_string());
        args.push(v);
    };
    if let Some(h) = &settings.host {
        value("--host", h.clone());
    }
    value("--loglevel", settings.loglevel.as_str().to_string());
    value(
        "--exit-code-on-error",
        settings.exit_code_on_error.to_string(),
    );
    value("--max-body-size", settings.max_body_size.to_string());
    value(
        "--max-request-names",
        settings.stats_limits.max_request_names.to_string(),
    );
    value(
        "--max-failure-rows",
        settings.stats_limits.max_failure_rows.to_string(),
    );
    if settings.reset_stats {
        args.push("--reset-stats".to_string());
    }
    // `--tags=a --tags=b` would keep only the last one; one `--tags a b` keeps them all, and the
    // `--` below stops it from swallowing the class names.
    for (flag, list) in [
        ("--tags", &settings.tags),
        ("--exclude-tags", &settings.exclude_tags),
    ] {
        if let Some(list) = list {
            args.push(flag.to_string());
            args.extend(list.iter().cloned());
        }
    }
    if !settings.user_classes.is_empty() {
        args.push("--".to_string());
        args.extend(settings.user_classes.iter().cloned());
    }
    args
}
