//! The periodic outputs of a run, and their last word at its end: the CSV files (rewritten and
//! appended every second, with one final tick after the final statistics, which Locust can
//! lose), the console table every 2 s (on stderr, as Locust's `stats_logger`), and the chart
//! history sample every 5 s.
//!
//! A write error never ends the run: the CSV writer logs it once and stops, and
//! [`Outputs::finish`] reports it so that the run ends with [`EXIT_OUTPUT_FAILED`] after
//! its summary has been printed. [`check_writable`] lets a run refuse a bad path before it starts.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::control::RunControl;
use crate::engine::{wall_clock, RunState, StatsView};
use crate::report;

pub const CSV_INTERVAL: Duration = Duration::from_secs(1);
pub const CONSOLE_INTERVAL: Duration = Duration::from_secs(2);
pub const HISTORY_INTERVAL: Duration = Duration::from_secs(5);
/// The exit code of a run during which an output (`--csv`, `--html`, `--json-file`) could not
/// be written: `EX_IOERR` of sysexits.h. It wins over `--exit-code-on-error`, because the
/// results the user asked for are incomplete.
pub const EXIT_OUTPUT_FAILED: i32 = 74;

/// Locust flushes the history file at most every 5 s; we flush each tick only when this has passed.
const FLUSH_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
#[error("cannot write {path}")]
pub struct CsvError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// The four CSV files of `--csv PREFIX`, open for the whole run.
pub struct CsvFiles {
    prefix: String,
    history: io::BufWriter<File>,
    full_history: bool,
    last_flush: Option<std::time::Instant>,
}

impl CsvFiles {
    /// Creates the files (and the prefix's folders) and writes every header at once, as Locust does.
    pub fn create(prefix: &str, full_history: bool) -> Result<Self, CsvError> {
        if let Some(parent) = Path::new(prefix).parent() {
            if !parent.as_os_str().is_empty() {
                fs::create_dir_all(parent).map_err(|source| CsvError {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
        }
        let files = CsvFiles {
            prefix: prefix.to_string(),
            history: io::BufWriter::new(open(&path(prefix, "stats_history"), true)?),
            full_history,
            last_flush: None,
        };
        let empty = crate::stats::RequestStats::new(wall_clock());
        files.rewrite("stats", &report::csv::stats_csv(&empty))?;
        files.rewrite("failures", &report::csv::failures_csv(&empty))?;
        files.rewrite(
            "exceptions",
            &report::csv::exceptions_csv(&crate::stats::Exceptions::default()),
        )?;
        let mut files = files;
        let header = report::csv::history_header();
        files
            .history
            .write_all(header.as_bytes())
            .map_err(|e| files.err("stats_history", e))?;
        files
            .history
            .flush()
            .map_err(|e| files.err("stats_history", e))?;
        Ok(files)
    }

    fn err(&self, kind: &str, source: io::Error) -> CsvError {
        CsvError {
            path: path(&self.prefix, kind),
            source,
        }
    }

    fn rewrite(&self, kind: &str, content: &str) -> Result<(), CsvError> {
        let p = path(&self.prefix, kind);
        let mut f = open(&p, false)?;
        let result = f.write_all(content.as_bytes()).and_then(|_| {
            let len = f.stream_position()?;
            f.set_len(len)
        });
        result.map_err(|source| CsvError { path: p, source })
    }

    /// One tick: rewrite the stats, failures and exceptions files, append the history rows.
    pub fn tick(&mut self, texts: &CsvTexts, force_flush: bool) -> Result<(), CsvError> {
        self.rewrite("stats", &texts.stats)?;
        self.rewrite("failures", &texts.failures)?;
        self.rewrite("exceptions", &texts.exceptions)?;
        self.history
            .write_all(texts.history_rows.as_bytes())
            .map_err(|e| self.err("stats_history", e))?;
        let due = self
            .last_flush
            .is_none_or(|t| t.elapsed() >= FLUSH_INTERVAL);
        if due || force_flush {
            self.history
                .flush()
                .map_err(|e| self.err("stats_history", e))?;
            self.last_flush = Some(std::time::Instant::now());
        }
        Ok(())
    }
}

/// The text of one CSV tick, built where the statistics live; the writer only does the IO.
pub struct CsvTexts {
    pub stats: String,
    pub failures: String,
    pub exceptions: String,
    pub history_rows: String,
}

impl CsvTexts {
    pub fn build(v: &StatsView<'_>, now: f64, user_count: u64, full_history: bool) -> Self {
        CsvTexts {
            stats: report::csv::stats_csv(v.stats),
            failures: report::csv::failures_csv(v.stats),
            exceptions: report::csv::exceptions_csv(v.exceptions),
            history_rows: report::csv::history_rows(v.stats, now, user_count, full_history),
        }
    }
}

fn path(prefix: &str, kind: &str) -> PathBuf {
    PathBuf::from(format!("{prefix}_{kind}.csv"))
}

/// Files rewritten in place are not truncated on open (`rewrite` sets the length after writing).
fn open(p: &Path, truncate: bool) -> Result<File, CsvError> {
    let mut o = OpenOptions::new();
    o.create(true).write(true).truncate(truncate);
    o.open(p).map_err(|source| CsvError {
        path: p.to_path_buf(),
        source,
    })
}

/// Writes the CSV files every second until `stop`, then once more from the final statistics.
pub fn spawn_csv_writer(
    mut files: CsvFiles,
    run: Arc<dyn RunControl>,
    stop: CancellationToken,
) -> JoinHandle<Result<(), CsvError>> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(CSV_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let last = tokio::select! {
                _ = ticker.tick() => false,
                _ = stop.cancelled() => true,
            };
            let users = run.status().runner.user_count;
            let full = files.full_history;
            let read = run.read(move |v| CsvTexts::build(v, wall_clock(), users, full));
            let Some(texts) = read.await else {
                return Ok(());
            };
            if let Err(e) = files.tick(&texts, last) {
                // Once: the files are now inconsistent, so no later tick rewrites them.
                tracing::error!(
                    "{}: {}; CSV output stopped, the run goes on (exit code {EXIT_OUTPUT_FAILED} at the end)",
                    e,
                    e.source
                );
                return Err(e);
            }
            if last {
                return Ok(());
            }
        }
    })
}

/// Prints the current statistics table at once, then every 2 s until `stop`; `first` is told
/// when the first table is out (Locust prints it before its "Ramping" line).
pub fn spawn_console(
    run: Arc<dyn RunControl>,
    stop: CancellationToken,
    first: tokio::sync::oneshot::Sender<()>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut first = Some(first);
        let mut ticker = tokio::time::interval(CONSOLE_INTERVAL);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.cancelled() => return,
            }
            let Some(table) = run
                .read(|v| report::console::stats_table(v.stats, true))
                .await
            else {
                return;
            };
            print_block(&table);
            if let Some(tx) = first.take() {
                let _ = tx.send(());
            }
        }
    })
}

/// Writes a printed block (tables end with their own blank line) to stderr, where Locust's
/// `stats_logger` writes them; stdout is kept for `--json`.
pub fn print_block(text: &str) {
    let mut e = io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    let _ = e.flush();
}

/// An output file that a run could not write; nothing has run yet when it is found.
#[derive(Debug, Error)]
#[error("cannot write {}", path.display())]
pub struct OutputCheckError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// The files a run writes at its end, resolved and checked before it starts.
pub struct OutputPaths {
    /// `--html`, with `{u}`, `{r}` and `{t}` replaced.
    pub html: Option<String>,
    /// `--json-file NAME` as `NAME.json`.
    pub json_file: Option<PathBuf>,
    /// `--json-file NAME` with `--arrival-rate`: the open model's summary in `NAME_open.json`
    /// (Locust's `NAME.json` keeps its exact shape).
    pub open_json_file: Option<PathBuf>,
    /// `--json-file NAME`: skein's combined summary (checks, verdict, generator, open model)
    /// in `NAME_summary.json`.
    pub summary_json_file: Option<PathBuf>,
}

/// Refuses a run whose `--html`, `--json-file` or `--csv` files cannot be written, so an
/// hour-long run never ends without its report.
pub fn check_outputs(s: &Settings) -> Result<OutputPaths, OutputCheckError> {
    let html = s.web.html.as_ref().map(|t| html_path(t, s));
    let json_file = s.json_file.as_ref().map(|p| {
        let mut p = p.clone().into_os_string();
        p.push(".json");
        PathBuf::from(p)
    });
    let open_json_file = s
        .json_file
        .as_ref()
        .filter(|_| s.open_model.is_some())
        .map(|p| {
            let mut p = p.clone().into_os_string();
            p.push("_open.json");
            PathBuf::from(p)
        });
    let summary_json_file = s.json_file.as_ref().map(|p| {
        let mut p = p.clone().into_os_string();
        p.push("_summary.json");
        PathBuf::from(p)
    });
    let mut paths: Vec<PathBuf> = Vec::new();
    paths.extend(summary_json_file.iter().cloned());
    paths.extend(html.iter().map(PathBuf::from));
    paths.extend(json_file.iter().cloned());
    paths.extend(open_json_file.iter().cloned());
    if let Some(prefix) = &s.csv_prefix {
        paths.push(path(prefix, "stats"));
    }
    for p in paths {
        check_writable(&p).map_err(|source| OutputCheckError { path: p, source })?;
    }
    Ok(OutputPaths {
        html,
        json_file,
        open_json_file,
        summary_json_file,
    })
}

/// `--html FILE` with Locust's `{u}`, `{r}` and `{t}` (ints when whole).
fn html_path(template: &str, s: &Settings) -> String {
    let num = |x: f64| {
        if x.fract() == 0.0 {
            format!("{}", x as i64)
        } else {
            format!("{x}")
        }
    };
    template
        .replace("{u}", &s.users.unwrap_or(1).to_string())
        .replace("{r}", &num(s.spawn_rate.unwrap_or(1.0)))
        .replace(
            "{t}",
            &s.run_time.map(|t| t.as_secs()).unwrap_or(0).to_string(),
        )
}

/// Writes a whole file, creating its missing folders (Locust does for `--html`).
pub fn write_file(path: &str, content: &str) -> io::Result<()> {
    if let Some(parent) = Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            fs::create_dir_all(parent)?;
        }
    }
    fs::write(path, content)
}

/// Fails unless `path` can be created or appended to (creating its missing folders, as the
/// writers do). A file that did not exist is removed again, so a run that ends early leaves
/// nothing behind.
pub fn check_writable(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let existed = path.exists();
    OpenOptions::new().create(true).append(true).open(path)?;
    if !existed {
        fs::remove_file(path)?;
    }
    Ok(())
}

/// Samples the chart history every 5 s while users run (Locust's `stats.history`).
pub fn spawn_history(run: Arc<dyn RunControl>, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(HISTORY_INTERVAL);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.cancelled() => return,
            }
            let st = run.status().runner;
            if !matches!(st.state, RunState::Ready | RunState::Stopped) {
                run.sample_history(wall_clock(), st.user_count);
            }
        }
    })
}

/// The periodic outputs of one run, started together and finished together.
pub struct Outputs {
    stop: CancellationToken,
    csv: Option<JoinHandle<Result<(), CsvError>>>,
    console: Option<JoinHandle<()>>,
    console_first: Option<tokio::sync::oneshot::Receiver<()>>,
    history: JoinHandle<()>,
}

/// Which periodic outputs a run wants.
pub struct OutputPlan<'a> {
    pub csv_prefix: Option<&'a str>,
    pub csv_full_history: bool,
    pub console: bool,
}

impl Outputs {
    pub fn start(plan: OutputPlan<'_>, run: &Arc<dyn RunControl>) -> Result<Self, CsvError> {
        let stop = CancellationToken::new();
        let csv = match plan.csv_prefix {
            Some(prefix) => Some(spawn_csv_writer(
                CsvFiles::create(prefix, plan.csv_full_history)?,
                run.clone(),
                stop.clone(),
            )),
            None => None,
        };
        let (console, console_first) = if plan.console {
            let (tx, rx) = tokio::sync::oneshot::channel();
            (Some(spawn_console(run.clone(), stop.clone(), tx)), Some(rx))
        } else {
            (None, None)
        };
        let history = spawn_history(run.clone(), stop.clone());
        Ok(Outputs {
            stop,
            csv,
            console,
            console_first,
            history,
        })
    }

    /// Waits until the console has printed its first table (at once without `--only-summary`).
    pub async fn first_table_printed(&mut self) {
        if let Some(rx) = self.console_first.take() {
            // An error means the console task ended without printing: nothing to wait for.
            let _ = rx.await;
        }
    }

    /// Call once every user has ended: the CSV writer's last tick then holds everything
    /// recorded. Returns `false` when an output failed (already logged by its writer).
    pub async fn finish(self) -> bool {
        self.stop.cancel();
        if let Some(console) = self.console {
            let _ = console.await;
        }
        let _ = self.history.await;
        match self.csv {
            Some(csv) => match csv.await {
                Ok(r) => r.is_ok(),
                Err(e) => {
                    tracing::error!("the CSV writer ended abnormally: {e}");
                    false
                }
            },
            None => true,
        }
    }
}

#[cfg(test)]
mod tests;
