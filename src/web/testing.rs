//! A fake [`Backend`] for tests and demos: serves the Locust captures from `testdata/` and
//! records the control calls it receives. It runs no load; `swarm` only flips the state.

use std::sync::Mutex;

use futures::future::BoxFuture;
use serde_json::Value;

use super::{Backend, CsvKind, CsvNameParts, SwarmRequest};

/// What the fake has been asked to do.
#[derive(Debug, Default, Clone)]
pub struct FakeCalls {
    pub swarms: Vec<SwarmRequest>,
    pub stops: usize,
    pub resets: usize,
    pub user_updates: Vec<Value>,
}

/// A backend that answers with fixed sample data.
pub struct FakeBackend {
    pub calls: Mutex<FakeCalls>,
    state: Mutex<FakeState>,
    /// When set, `swarm` fails with this message.
    pub swarm_error: Option<String>,
    /// Whether the full-history CSV exists.
    pub full_history: bool,
}

struct FakeState {
    host: Option<String>,
    running: bool,
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl Default for FakeBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeBackend {
    pub fn new() -> Self {
        FakeBackend {
            calls: Mutex::new(FakeCalls::default()),
            state: Mutex::new(FakeState {
                host: Some("http://127.0.0.1:18765".into()),
                running: false,
            }),
            swarm_error: None,
            full_history: true,
        }
    }

    /// A copy of the recorded calls.
    pub fn calls(&self) -> FakeCalls {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn state_name(&self) -> &'static str {
        match self.state.lock() {
            Ok(s) if s.running => "running",
            Ok(_) => "ready",
            Err(_) => "ready",
        }
    }

    fn host_now(&self) -> Option<String> {
        self.state.lock().ok().and_then(|s| s.host.clone())
    }
}

fn ready<T: Send + 'static>(v: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(v))
}

impl Backend for FakeBackend {
    fn swarm(&self, req: SwarmRequest) -> BoxFuture<'_, Result<(), String>> {
        if let Some(e) = &self.swarm_error {
            return ready(Err(e.clone()));
        }
        if let Ok(mut s) = self.state.lock() {
            if let Some(h) = &req.host {
                s.host = Some(h.clone());
            }
            s.running = true;
        }
        if let Ok(mut c) = self.calls.lock() {
            c.swarms.push(req);
        }
        ready(Ok(()))
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        if let Ok(mut s) = self.state.lock() {
            s.running = false;
        }
        if let Ok(mut c) = self.calls.lock() {
            c.stops += 1;
        }
        ready(())
    }

    fn reset_stats(&self) -> BoxFuture<'_, ()> {
        if let Ok(mut c) = self.calls.lock() {
            c.resets += 1;
        }
        ready(())
    }

    fn stats_requests(&self) -> BoxFuture<'_, Value> {
        let mut v = parse(include_str!("testdata/stats_requests_running.json"));
        v["state"] = Value::String(self.state_name().into());
        ready(v)
    }

    fn exceptions(&self) -> BoxFuture<'_, Value> {
        ready(parse(include_str!("testdata/exceptions.json")))
    }

    fn tasks(&self) -> BoxFuture<'_, Value> {
        ready(parse(include_str!("testdata/tasks.json")))
    }

    fn logs(&self) -> BoxFuture<'_, Value> {
        ready(parse(include_str!("testdata/logs.json")))
    }

    fn worker_count(&self) -> BoxFuture<'_, u64> {
        ready(2)
    }

    fn csv(&self, kind: CsvKind) -> BoxFuture<'_, Option<String>> {
        ready(match kind {
            CsvKind::Requests => Some(include_str!("testdata/requests.csv").to_string()),
            CsvKind::Failures => Some(include_str!("testdata/failures.csv").to_string()),
            CsvKind::Exceptions => Some(include_str!("testdata/exceptions.csv").to_string()),
            CsvKind::FullHistory if self.full_history => {
                Some(include_str!("testdata/requests_full_history.csv").to_string())
            }
            CsvKind::FullHistory => None,
        })
    }

    fn report_args(&self) -> BoxFuture<'_, Value> {
        ready(parse(include_str!("testdata/report_args.json")))
    }

    fn index_args(&self) -> BoxFuture<'_, Value> {
        let mut v = parse(include_str!("testdata/index_args.json"));
        v["state"] = Value::String(self.state_name().into());
        v["host"] = self.host_now().map(Value::String).unwrap_or(Value::Null);
        // Seed the charts as a reload mid-run would.
        let report = parse(include_str!("testdata/report_args.json"));
        v["history"] = report
            .get("history")
            .cloned()
            .unwrap_or(Value::Array(vec![]));
        ready(v)
    }

    fn csv_name_parts(&self) -> BoxFuture<'_, CsvNameParts> {
        ready(CsvNameParts {
            start_time: "2026-11-27-19h34".into(),
            locustfile: "skein".into(),
            host: self.host_now(),
        })
    }

    fn host(&self) -> BoxFuture<'_, Option<String>> {
        ready(self.host_now())
    }

    /// The sample's two classes, HeavyUser and LightUser.
    fn user_class_count(&self) -> BoxFuture<'_, Option<usize>> {
        ready(Some(2))
    }

    fn metrics(&self) -> BoxFuture<'_, Option<String>> {
        ready(Some(
            "# HELP skein_target_users Users the current test ramps to.\n\
             # TYPE skein_target_users gauge\nskein_target_users 2\n"
                .to_string(),
        ))
    }

    fn update_user(&self, settings: Value) -> BoxFuture<'_, Result<(), String>> {
        if let Ok(mut c) = self.calls.lock() {
            c.user_updates.push(settings);
        }
        ready(Ok(()))
    }
}
