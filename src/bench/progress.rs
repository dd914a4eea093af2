//! What a test shows and keeps while it runs: a progress line on stderr (elapsed of total,
//! requests, the current rate and errors; redrawn in place on a terminal, a plain line every
//! few seconds otherwise) and, once a second, a point of the test's timeline (for the plots).
//! Both come from one read of the hub's totals per tick.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::engine::HubHandle;

/// The most timeline points kept (an hour of seconds; a longer run keeps every n-th).
const MAX_POINTS: usize = 3600;

/// What the test counts its progress in.
#[derive(Debug, Clone, Copy)]
pub enum Total {
    Seconds(f64),
    Requests(u64),
}

/// One second of the test's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Seconds since the test started.
    pub t: f64,
    pub requests: u64,
    pub failures: u64,
    /// Requests per second since the previous point.
    pub rps: f64,
    /// Locust's current (10 s window) percentiles, ms.
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
}

/// One progress line (pure, for tests).
pub fn line(
    label: &str,
    elapsed: f64,
    total: Total,
    requests: u64,
    rate: f64,
    errors: u64,
) -> String {
    let done = match total {
        Total::Seconds(t) => format!("{:.0}/{t:.0}s, {requests} requests", elapsed.min(t)),
        Total::Requests(n) => format!("{requests}/{n} requests, {elapsed:.0}s"),
    };
    format!("[{label}] {done}, {rate:.1} req/s, {errors} errors")
}

/// Keeps at most [`MAX_POINTS`]: when full, every other point goes (the plot keeps its shape).
fn push_bounded(points: &mut Vec<Point>, p: Point) {
    if points.len() >= MAX_POINTS {
        let mut i = 0;
        points.retain(|_| {
            i += 1;
            i % 2 == 1
        });
    }
    points.push(p);
}

/// A running progress line and timeline; [`Progress::finish`] ends it and gives the timeline.
pub struct Progress {
    stop: CancellationToken,
    task: JoinHandle<Vec<Point>>,
}

impl Progress {
    pub fn start(label: &str, total: Total, hub: HubHandle) -> Progress {
        let stop = CancellationToken::new();
        let tty = std::io::stderr().is_terminal();
        let print_every = if tty { 1 } else { 5 };
        let cancelled = stop.clone();
        let label = label.to_string();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let every = Duration::from_secs(1);
            let mut tick = tokio::time::interval_at(start + every, every);
            let mut points = Vec::new();
            let mut prev = (0.0, 0u64);
            let mut ticks = 0u64;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = cancelled.cancelled() => break,
                }
                let now = crate::engine::wall_clock();
                let Some((requests, failures, p50, p95)) = hub
                    .read(move |v| {
                        let t = v.stats.total();
                        (
                            t.num_requests,
                            t.num_failures,
                            t.current_percentile(0.5, now),
                            t.current_percentile(0.95, now),
                        )
                    })
                    .await
                else {
                    break;
                };
                let t = start.elapsed().as_secs_f64();
                let rps = requests.saturating_sub(prev.1) as f64 / (t - prev.0).max(1e-9);
                prev = (t, requests);
                push_bounded(
                    &mut points,
                    Point {
                        t,
                        requests,
                        failures,
                        rps,
                        p50_ms: p50,
                        p95_ms: p95,
                    },
                );
                ticks += 1;
                if ticks % print_every == 0 {
                    let text = line(&label, t, total, requests, rps, failures);
                    let mut err = std::io::stderr().lock();
                    // Progress is best effort: a closed stderr must not end the test.
                    let _ = if tty {
                        write!(err, "\r\x1b[2K{text}")
                    } else {
                        writeln!(err, "{text}")
                    };
                    let _ = err.flush();
                }
            }
            if tty {
                let _ = write!(std::io::stderr(), "\r\x1b[2K");
            }
            points
        });
        Progress { stop, task }
    }

    pub async fn finish(self) -> Vec<Point> {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            line("health", 12.4, Total::Seconds(60.0), 240, 20.04, 1),
            "[health] 12/60s, 240 requests, 20.0 req/s, 1 errors"
        );
        assert_eq!(
            line("latency", 3.0, Total::Requests(1000), 150, 50.0, 0),
            "[latency] 150/1000 requests, 3s, 50.0 req/s, 0 errors"
        );
    }

    #[test]
    fn timeline_is_bounded() {
        let mut points = Vec::new();
        for i in 0..(MAX_POINTS * 3) {
            push_bounded(
                &mut points,
                Point {
                    t: i as f64,
                    requests: i as u64,
                    failures: 0,
                    rps: 0.0,
                    p50_ms: None,
                    p95_ms: None,
                },
            );
        }
        assert!(points.len() <= MAX_POINTS);
        assert!(points.windows(2).all(|w| w[0].t < w[1].t));
        assert_eq!(points.last().unwrap().t, (MAX_POINTS * 3 - 1) as f64);
    }
}
