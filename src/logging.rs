//! Log lines in Locust's format (`[2026-11-27 20:12:34,123] host/INFO/skein.runner: message`),
//! to stderr or `--logfile`, with the last 500 lines kept for the web UI's Logs tab.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

const KEEP_LINES: usize = 500;

/// The recent log lines, newest last.
#[derive(Clone, Default)]
pub struct LogBuffer {
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl LogBuffer {
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn push(&self, line: String) {
        if let Ok(mut l) = self.lines.lock() {
            if l.len() == KEEP_LINES {
                l.pop_front();
            }
            l.push_back(line);
        }
    }
}

struct LocustFormat {
    host: String,
    max_level: Level,
    out: Mutex<Box<dyn Write + Send>>,
    buffer: LogBuffer,
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "DEBUG",
    }
}

impl LocustFormat {
    /// Our own crates log at the chosen level; dependencies only their warnings and errors.
    fn wants(&self, meta: &Metadata<'_>) -> bool {
        let ours = meta.target().starts_with("skein");
        let limit = if ours {
            self.max_level
        } else {
            self.max_level.min(Level::WARN)
        };
        *meta.level() <= limit
    }
}

impl<S: Subscriber> Layer<S> for LocustFormat {
    // Deciding per call site (not per event) keeps disabled log lines free on hot paths.
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.wants(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.wants(meta)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !self.wants(meta) {
            return;
        }
        let mut msg = Message::default();
        event.record(&mut msg);
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S,%3f");
        let target = meta.target().replace("::", ".");
        let line = format!(
            "[{now}] {}/{}/{target}: {}",
            self.host,
            level_name(meta.level()),
            msg.0
        );
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        self.buffer.push(line);
    }
}

/// `--logfile` could not be opened (or its folder created); the message names the path.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the log file {}", path.display())]
pub struct LogFileError {
    pub path: std::path::PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Opens `--logfile` for appending, creating its missing folders first as Locust does.
fn open_logfile(p: &std::path::Path) -> Result<std::fs::File, LogFileError> {
    let err = |source| LogFileError {
        path: p.to_path_buf(),
        source,
    };
    if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .map_err(err)
}

/// Installs the global logger. `logfile` replaces stderr, as Locust's `--logfile` does (the
/// console tables stay on stderr, as Locust's `stats_logger` does).
pub fn init(level: Level, logfile: Option<&std::path::Path>) -> Result<LogBuffer, LogFileError> {
    let out: Box<dyn Write + Send> = match logfile {
        Some(p) => Box::new(open_logfile(p)?),
        None => Box::new(std::io::stderr()),
    };
    let buffer = LogBuffer::default();
    let layer = LocustFormat {
        host: short_hostname(),
        max_level: level,
        out: Mutex::new(out),
        buffer: buffer.clone(),
    };
    let subscriber = tracing_subscriber::registry().with(layer);
    // A second init (tests) keeps the first logger.
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(buffer)
}

/// The host name up to its first dot, as Locust's log lines show it.
pub fn short_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into the buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).to_string();
    name.split('.').next().unwrap_or("localhost").to_string()
}
