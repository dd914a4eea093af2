//! The controller behind the router, driven in-process (no socket): a scrape of `/metrics` while
//! a run records requests, behind `--web-auth`.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use skein_api::RequestRecord;
use tower::ServiceExt;

use super::*;
use crate::control::{FakeRun, RunStatus, WorkerView};
use crate::engine::{hub, RunState, RunnerStatus};
use crate::web::{metrics, WebOptions};

fn running(user_count: u64, workers: Vec<WorkerView>) -> RunStatus {
    RunStatus {
        runner: RunnerStatus {
            state: RunState::Running,
            user_count,
            class_counts: [("HighLoadUser".to_string(), user_count)]
                .into_iter()
                .collect(),
            target: user_count,
            spawn_rate: 1.0,
            host: None,
            peak_user_count: user_count,
            final_class_counts: Default::default(),
        },
        is_distributed: true,
        workers,
        membership: Vec::new(),
    }
}

fn controller(run: Arc<FakeRun>) -> Arc<Controller> {
    Controller::new(
        run,
        LogBuffer::default(),
        RunInfo {
            num_users: None,
            spawn_rate: None,
            run_time: None,
            csv_history_path: None,
            autoquit: None,
            checks: Vec::new(),
            open_model: None,
            health: None,
        },
    )
}

async fn scrape(app: &axum::Router, auth: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::get("/metrics");
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .expect("infallible");
    let status = resp.status();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    (status, ct, String::from_utf8_lossy(&body).into_owned())
}

/// The value of one series line (`name{labels} value`).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_follow_a_running_test_behind_web_auth() {
    let hub = hub::spawn(wall_clock(), "local".to_string());
    let workers = vec![
        WorkerView {
            id: "w1".into(),
            state: "running".into(),
            user_count: 2,
            cpu_percent: 50.0,
            memory_bytes: 1 << 20,
        },
        WorkerView {
            id: "w2".into(),
            state: "missing".into(),
            user_count: 1,
            cpu_percent: 0.0,
            memory_bytes: 0,
        },
    ];
    let run = FakeRun::new(hub.clone(), running(3, workers));
    let app = crate::web::router(
        controller(run.clone()),
        WebOptions {
            auth: Some(("user".into(), "pass".into())),
            ..WebOptions::default()
        },
    );

    let (status, _, _) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let basic = Some("Basic dXNlcjpwYXNz");

    let sink = hub.sink();
    let get = r#"{method="GET",name="/api/v1/health"}"#;
    let mut seen = Vec::new();
    for round in 1..=3u64 {
        for i in 0..5 {
            sink.record(RequestRecord {
                method: "GET".into(),
                name: "/api/v1/health".into(),
                response_time_ms: Some(3.0 + i as f64),
                content_length: 2,
                failure: None,
                timestamp: wall_clock(),
                scheduled_at: None,
            })
            .await;
        }
        let (status, ct, text) = scrape(&app, basic).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ct, metrics::CONTENT_TYPE);
        // Every record sent before the scrape is in it (the hub reads in queue order).
        let total = value(&text, &format!("skein_requests_total{get}")).expect("counter");
        assert_eq!(total, (5 * round) as f64, "{text}");
        let le_10ms = value(
            &text,
            r#"skein_request_duration_seconds_bucket{method="GET",name="/api/v1/health",le="0.01"}"#,
        );
        assert_eq!(le_10ms, Some(total));
        seen.push(total);
    }
    assert_eq!(seen, vec![5.0, 10.0, 15.0]);

    run.status.send_replace(running(4, Vec::new()));
    let (_, _, text) = scrape(&app, basic).await;
    assert_eq!(
        value(&text, r#"skein_users{class="HighLoadUser"}"#),
        Some(4.0)
    );
    assert_eq!(
        value(&text, r#"skein_run_state{state="running"}"#),
        Some(1.0)
    );
    assert_eq!(value(&text, r#"skein_workers{state="missing"}"#), Some(0.0));
    #[cfg(target_os = "linux")]
    assert!(value(&text, "process_resident_memory_bytes").unwrap_or(0.0) > 0.0);
}

#[tokio::test]
async fn metrics_of_a_master_list_each_worker() {
    let hub = hub::spawn(wall_clock(), "local".to_string());
    let workers = vec![WorkerView {
        id: "host_abc".into(),
        state: "running".into(),
        user_count: 7,
        cpu_percent: 150.0,
        memory_bytes: 2048,
    }];
    let app = crate::web::router(
        controller(FakeRun::new(hub, running(7, workers))),
        WebOptions::default(),
    );
    let (status, _, text) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        value(&text, r#"skein_worker_users{worker="host_abc"}"#),
        Some(7.0)
    );
    assert_eq!(
        value(&text, r#"skein_worker_cpu_usage_ratio{worker="host_abc"}"#),
        Some(1.5)
    );
    assert_eq!(
        value(&text, r#"skein_worker_memory_bytes{worker="host_abc"}"#),
        Some(2048.0)
    );
    assert_eq!(value(&text, r#"skein_workers{state="running"}"#), Some(1.0));
}
