//! The validated settings the rest of skein runs on, built from the merged raw arguments with
//! Locust's cross-option checks and defaults applied.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::cluster::{self, ClusterSettings, Role};
use super::error::ConfigError;
use super::raw::{LogLevel, RawArgs};
use crate::stats::{StatsLimits, DEFAULT_MAX_FAILURE_ROWS, DEFAULT_MAX_REQUEST_NAMES};

/// Web UI settings (`--web-*`, `--autostart`, TLS, `--html`, `--print-stats`).
#[derive(Debug, Clone, PartialEq)]
pub struct WebSettings {
    /// Interface to bind; `""` means all interfaces (`*` is normalised to `""`).
    pub host: String,
    /// 0 means "pick a free port".
    pub port: u16,
    pub autostart: bool,
    /// Seconds to wait after an autostarted run ends before quitting; `None` = keep running.
    pub autoquit: Option<u64>,
    /// `""` or a path starting with `/`.
    pub base_path: String,
    /// (certificate, key), both or neither.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub print_stats: bool,
    /// The HTML report path template (`{u}`, `{r}`, `{t}` are substituted at write time).
    pub html: Option<String>,
    /// `--web-auth USER:PASSWORD` as (user, password).
    pub auth: Option<(String, String)>,
    /// `--web-allowed-origin`: other origins whose pages may use the state-changing routes.
    pub allowed_origins: Vec<String>,
}

impl WebSettings {
    /// The address to bind: all IPv4 interfaces when no host is given.
    pub fn bind_host(&self) -> &str {
        if self.host.is_empty() {
            "0.0.0.0"
        } else {
            &self.host
        }
    }
}

/// The open model as asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenModel {
    /// Iterations per second.
    pub rate: f64,
    /// `--max-in-flight`, else `-u`, else [`crate::engine::open::DEFAULT_MAX_IN_FLIGHT`].
    pub max_in_flight: usize,
}

/// Everything a run needs from the command line, environment and config files.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub host: Option<String>,
    /// `None`: not given (Locust uses 1 when autostarting).
    pub users: Option<u64>,
    /// `None`: not given (Locust uses 1).
    pub spawn_rate: Option<f64>,
    pub run_time: Option<Duration>,
    pub headless: bool,
    pub list: bool,
    pub csv_prefix: Option<String>,
    pub csv_full_history: bool,
    pub only_summary: bool,
    pub reset_stats: bool,
    pub stop_timeout: Duration,
    /// The bytes of a response body kept in memory (`--max-body-size`).
    pub max_body_size: usize,
    pub loglevel: LogLevel,
    pub logfile: Option<PathBuf>,
    pub exit_code_on_error: i32,
    /// `--check`: performance targets evaluated on the final statistics (and live in the web UI).
    pub checks: Vec<crate::checks::Check>,
    pub json: bool,
    /// Written to `<json_file>.json`.
    pub json_file: Option<PathBuf>,
    pub tags: Option<Vec<String>>,
    pub exclude_tags: Option<Vec<String>>,
    /// Empty: all classes.
    pub user_classes: Vec<String>,
    pub web: WebSettings,
    /// The `--config` file, if one was given.
    pub config: Option<PathBuf>,
    /// `--web-host` exactly as given (`*` kept), for `parsed_options`.
    pub web_host_raw: String,
    /// `--autoquit` exactly as given (-1 by default), for `parsed_options`.
    pub autoquit_raw: i64,
    /// `-f/--locustfile`, accepted so Locust command lines and config files work; not used.
    pub locustfile: Option<String>,
    /// `--max-request-names` and `--max-failure-rows`.
    pub stats_limits: StatsLimits,
    /// `--arrival-rate` (and `--max-in-flight`): run the open model instead of -u users.
    pub open_model: Option<OpenModel>,
    /// `--master`, `--worker`, `--processes` and their options.
    pub cluster: ClusterSettings,
}

impl Default for Settings {
    /// The settings of a bare `skein` with no environment or config files.
    fn default() -> Self {
        // Nothing given cannot fail the cross-option checks (covered by a test).
        Self::from_raw(RawArgs::default(), Vec::new()).expect("default settings are valid")
    }
}

impl Settings {
    /// Applies defaults and the checks that involve more than one option.
    pub(crate) fn from_raw(raw: RawArgs, user_classes: Vec<String>) -> Result<Self, ConfigError> {
        if raw.csv_full_history && raw.csv_prefix.is_none() {
            return Err(ConfigError::Invalid {
                flag: "--csv-full-history".to_string(),
                message: "requires --csv".to_string(),
            });
        }
        let autoquit_raw = raw.autoquit.unwrap_or(-1);
        // Locust treats every negative value as "never" but only complains about an explicit one.
        let autoquit = u64::try_from(autoquit_raw).ok();
        if raw.autoquit.is_some() && autoquit_raw != -1 && !raw.autostart {
            return Err(ConfigError::Startup(
                "--autoquit is only meaningful in combination with --autostart".to_string(),
            ));
        }
        // In Locust's order: --autoquit, then --processes, then --master with --worker.
        let processes = cluster::resolve_processes(raw.processes, raw.master, || {
            std::thread::available_parallelism().ok().map(usize::from)
        })?;
        let cluster = cluster::cluster_settings(&raw, processes)?;
        let tls = match (raw.tls_cert, raw.tls_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    flag: "--tls-cert/--tls-key".to_string(),
                    message: "give both a certificate and a key, or neither".to_string(),
                })
            }
        };
        let web_host_raw = raw.web_host.unwrap_or_default();
        let web = WebSettings {
            host: if web_host_raw == "*" {
                String::new()
            } else {
                web_host_raw.clone()
            },
            port: raw.web_port.unwrap_or(8089),
            autostart: raw.autostart,
            autoquit,
            base_path: raw.web_base_path.unwrap_or_default(),
            tls,
            print_stats: raw.print_stats,
            html: raw.html_file,
            auth: raw.web_auth.map(|a| (a.user, a.password)),
            allowed_origins: raw.web_allowed_origin,
        };
        Ok(Settings {
            host: raw.host,
            users: raw.users,
            spawn_rate: raw.spawn_rate,
            // Locust tests `if run_time:`, so 0 means no limit.
            run_time: raw.run_time.filter(|t| !t.is_zero()),
            headless: raw.headless,
            list: raw.list,
            csv_prefix: raw.csv_prefix,
            csv_full_history: raw.csv_full_history,
            only_summary: raw.only_summary,
            reset_stats: raw.reset_stats,
            stop_timeout: raw.stop_timeout.unwrap_or(Duration::ZERO),
            max_body_size: raw
                .max_body_size
                .unwrap_or(skein_api::engine_support::DEFAULT_MAX_BODY_SIZE),
            loglevel: raw.loglevel.unwrap_or(LogLevel::Info),
            logfile: raw.logfile,
            exit_code_on_error: raw.exit_code_on_error.unwrap_or(1),
            checks: raw.check.into_iter().flat_map(|r| r.0).collect(),
            json: raw.json,
            json_file: raw.json_file,
            tags: raw.tags,
            exclude_tags: raw.exclude_tags,
            user_classes,
            locustfile: raw.locustfile,
            stats_limits: StatsLimits {
                max_request_names: raw.max_request_names.unwrap_or(DEFAULT_MAX_REQUEST_NAMES),
                max_failure_rows: raw.max_failure_rows.unwrap_or(DEFAULT_MAX_FAILURE_ROWS),
            },
            open_model: raw.arrival_rate.map(|rate| OpenModel {
                rate,
                max_in_flight: raw.max_in_flight.unwrap_or_else(|| {
                    raw.users
                        .and_then(|u| usize::try_from(u).ok())
                        .filter(|u| *u >= 1)
                        .unwrap_or(crate::engine::open::DEFAULT_MAX_IN_FLIGHT)
                }),
            }),
            web,
            cluster,
            config: raw.config,
            web_host_raw,
            autoquit_raw,
        })
    }

    /// The options under Locust's dest names and in Locust's types (`vars(options)`), as a
    /// master sends them in `spawn.parsed_options`. Only the options skein knows are included;
    /// a Locust worker fills the rest with its own defaults.
    pub fn parsed_options(&self) -> Map<String, Value> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let (tls_cert, tls_key) = match &self.web.tls {
            Some((c, k)) => (c.display().to_string(), k.display().to_string()),
            None => (String::new(), String::new()),
        };
        let c = &self.cluster;
        let (master_bind_host, master_bind_port, expect_workers, max_wait) = match &c.role {
            Role::Master {
                bind_host,
                bind_port,
                expect_workers,
                expect_workers_max_wait,
            } => (
                bind_host.as_str(),
                *bind_port,
                *expect_workers,
                expect_workers_max_wait.map_or(0, |d| d.as_secs()),
            ),
            _ => (
                cluster::DEFAULT_MASTER_BIND_HOST,
                cluster::DEFAULT_MASTER_PORT,
                1,
                0,
            ),
        };
        let (master_host, master_port) = match &c.role {
            Role::Worker {
                master_host,
                master_port,
            } => (master_host.as_str(), *master_port),
            _ => (cluster::DEFAULT_MASTER_HOST, cluster::DEFAULT_MASTER_PORT),
        };
        let value = json!({
            "master": matches!(c.role, Role::Master { .. }),
            "master_bind_host": master_bind_host,
            "master_bind_port": master_bind_port,
            "expect_workers": expect_workers,
            "expect_workers_max_wait": max_wait,
            "enable_rebalancing": c.enable_rebalancing,
            "worker": matches!(c.role, Role::Worker { .. }),
            "processes": c.processes,
            "master_host": master_host,
            "master_port": master_port,
            "config": path(&self.config),
            "host": self.host,
            "num_users": self.users,
            "spawn_rate": self.spawn_rate,
            "run_time": self.run_time.map(|d| d.as_secs()),
            "list_commands": self.list,
            "web_host": self.web_host_raw,
            "web_port": self.web.port,
            "headless": self.headless,
            "autostart": self.web.autostart,
            "autoquit": self.autoquit_raw,
            "tls_cert": tls_cert,
            "tls_key": tls_key,
            "web_base_path": self.web.base_path,
            "tags": self.tags,
            "exclude_tags": self.exclude_tags,
            "csv_prefix": self.csv_prefix,
            "stats_history_enabled": self.csv_full_history,
            "print_stats": self.web.print_stats,
            "only_summary": self.only_summary,
            "reset_stats": self.reset_stats,
            "html_file": self.web.html,
            "json": self.json,
            "json_file": path(&self.json_file),
            "loglevel": self.loglevel.as_str(),
            "logfile": path(&self.logfile),
            "exit_code_on_error": self.exit_code_on_error,
            "stop_timeout": self.stop_timeout.as_secs(),
            "user_classes": self.user_classes,
        });
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}
