//! The template's binary as master and worker: the worker runs this binary's classes, so the
//! master's statistics hold this scenario's requests. Loopback only; every wait is bounded.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_my-loadtest");

/// A started process whose output lines are collected; killed by its own PID when dropped.
struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn start(args: &[&str], cwd: &std::path::Path) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(cwd)
            .env_remove("LOCUST_HOST")
            .env("HOME", cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start my-loadtest");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let err = child.stderr.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Proc { child, lines }
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn has(&self, needle: &str) -> bool {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    }

    /// The exit code once it ends by itself; `None` (and killed) after `limit`.
    fn wait(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(s) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(200));
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_worker_from_this_binary_runs_this_binarys_classes() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("m");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let mut master = Proc::start(
        &[
            "--master",
            "--headless",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &port,
            "--expect-workers",
            "1",
            "-u",
            "2",
            "-r",
            "100",
            "-t",
            "4s",
            "--only-summary",
            "--csv",
            prefix.to_str().unwrap(),
        ],
        dir.path(),
    );
    let started = Instant::now();
    while !master.has("Listening for workers") && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // No -H: the worker load-tests the reference service it starts itself.
    let mut worker = Proc::start(
        &[
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            &port,
        ],
        dir.path(),
    );
    let code = master.wait(Duration::from_secs(120));
    let _ = worker.wait(Duration::from_secs(30));
    let (m, w) = (master.output(), worker.output());
    assert_eq!(code, Some(0), "master:\n{m}\nworker:\n{w}");
    assert!(!w.contains("has no user class"), "{w}");
    let stats = std::fs::read_to_string(dir.path().join("m_stats.csv")).unwrap();
    assert!(stats.contains(my_loadtest::CLASSIFY_NAME), "{stats}");
    assert!(stats.contains(my_loadtest::HEALTH_PATH), "{stats}");
}
