//! What several end-to-end test files share: starting the `skein` binary with its web UI on a
//! free loopback port and learning that port from its log.

// Each test file uses only some of these.
#![allow(dead_code)]

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// `skein --web-host 127.0.0.1 -P 0 ARGS…`, to be adjusted (environment) and given to [`start`].
pub fn skein_web(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_skein"));
    cmd.args(["--web-host", "127.0.0.1", "-P", "0"]).args(args);
    cmd
}

/// Starts the command; returns the process, its web port, and the rest of its log (collected
/// until it exits). Waits at most 30 s for the web interface.
pub async fn start(mut cmd: Command) -> (Child, u16, JoinHandle<String>) {
    let mut child = cmd
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line
                .split("Starting web interface at http://127.0.0.1:")
                .nth(1)
            {
                return rest.trim().parse::<u16>().unwrap();
            }
        }
        panic!("skein ended without starting its web interface");
    })
    .await
    .expect("the web interface starts");
    let rest = tokio::spawn(async move {
        let mut all = String::new();
        while let Ok(Some(l)) = lines.next_line().await {
            all.push_str(&l);
            all.push('\n');
        }
        all
    });
    (child, port, rest)
}
