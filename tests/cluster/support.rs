//! Process plumbing for the cluster tests: free loopback ports, child processes that are
//! killed when the test ends, a real Locust from the venv `.ci/run` creates, and a tiny HTTP
//! target whose every answer is the same status.

use std::io::{BufRead, BufReader};
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The real Locust 2.47.0 CLI: `$SKEIN_LOCUST`, else `<repo>/.venv/bin/locust` (what `.ci/run`
/// installs). Without it the test is skipped with a note, except in CI (`CI` set), where a missing
/// Locust fails the test: interoperability is checked on every CI run.
pub fn locust() -> Option<PathBuf> {
    let path = std::env::var_os("SKEIN_LOCUST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/locust")));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "real Locust not found at {} (CI must install it: see .ci/run)",
        path.display()
    );
    eprintln!(
        "skipped: real Locust not found at {} (python3 -m venv .venv && .venv/bin/pip install locust==2.47.0)",
        path.display()
    );
    None
}

pub fn locustfile() -> PathBuf {
    skein::testing::fixture("interop/locustfile.py")
}

/// A child process whose stderr and stdout are collected line by line; killed (by its PID, which
/// only this test started) when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    pub fn start(name: &str, mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("LOCUST_HOST")
            .env("PYTHONUNBUFFERED", "1");
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Proc {
            name: name.to_string(),
            child,
            lines,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits until a line contains `needle`; panics with everything printed after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self
                .lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(needle))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} did not print {needle:?} within {timeout:?}:\n{}",
            self.name,
            self.output()
        );
    }

    /// Waits for the process to end by itself; kills it and panics after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the reader threads drain what the process wrote last.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!(
            "{} did not end within {timeout:?}:\n{}",
            self.name,
            self.output()
        );
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{sig} {}", self.pid());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn skein_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skein"));
    c.args(args);
    c
}

/// A master listening for workers on loopback `port` (the same flags for skein and Locust).
pub fn master_on(port: &str) -> [&str; 5] {
    [
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        port,
    ]
}

/// A web UI on loopback at `port` (a master's or a standalone run's).
pub fn web_on(port: &str) -> [&str; 4] {
    ["--web-host", "127.0.0.1", "--web-port", port]
}

/// A web-UI master that starts on its own once `workers` joined: `users` at `rate`.
pub fn autostart<'a>(workers: &'a str, users: &'a str, rate: &'a str) -> [&'a str; 7] {
    [
        "--expect-workers",
        workers,
        "--autostart",
        "-u",
        users,
        "-r",
        rate,
    ]
}

/// A headless master's run: it waits for `workers`, then runs `users` at `rate` for `time`.
pub fn headless_run<'a>(
    workers: &'a str,
    users: &'a str,
    rate: &'a str,
    time: &'a str,
) -> [&'a str; 9] {
    [
        "--headless",
        "--expect-workers",
        workers,
        "-u",
        users,
        "-r",
        rate,
        "-t",
        time,
    ]
}

/// A worker of the master on loopback `port`.
pub fn worker_of(port: &str) -> [&str; 5] {
    [
        "--worker",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        port,
    ]
}

pub fn locust_cmd(locust: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(locust);
    c.arg("-f").arg(locustfile()).args(args);
    c
}

/// An HTTP/1.1 target on loopback that answers every request with `status` and an empty body,
/// keeping connections alive; it runs until the test process ends.
pub fn target(status: &'static str) -> String {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind target");
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || serve_conn(conn, status));
        }
    });
    format!("http://{addr}")
}

fn serve_conn(conn: std::net::TcpStream, status: &str) {
    use std::io::Write;
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut conn = conn;
    let answer =
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nContent-Type: text/plain\r\n\r\n");
    loop {
        // Read one request head (the tests' requests have no body).
        let mut head_done = false;
        let mut line = String::new();
        while !head_done {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => head_done = line == "\r\n" || line == "\n",
            }
        }
        if conn.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// `GET` a URL on loopback and return the body (for the web API of a master).
pub fn http_get(url: &str) -> Option<String> {
    http(url, "GET", None)
}

pub fn http_post_form(url: &str, form: &str) -> Option<String> {
    http(url, "POST", Some(form))
}

fn http(url: &str, method: &str, form: Option<&str>) -> Option<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (hostport, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}")))?;
    let mut s = std::net::TcpStream::connect(hostport).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let body = form.unwrap_or("");
    let extra = if form.is_some() {
        format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        )
    } else {
        String::new()
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n{extra}\r\n{body}"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// Polls `f` every 200 ms until it returns `Some`, for at most `timeout`.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `(method, name) -> (requests, failures)` from a `_stats.csv`.
pub fn stats_rows(path: &std::path::Path) -> Vec<(String, String, u64, u64)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            (
                cols[0].to_string(),
                cols[1].to_string(),
                cols[2].parse().unwrap_or(0),
                cols[3].parse().unwrap_or(0),
            )
        })
        .collect()
}
