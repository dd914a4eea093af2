//! Router tests: every route driven in-process (no socket) against [`FakeBackend`], compared
//! with the Locust captures in `samples/webapi/` where they exist.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

use super::swarm_form::{MSG_MISSING, MSG_RUN_TIME};
use super::testing::FakeBackend;
use super::{router, WebOptions};

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("json body")
    }
}

fn app_with(opts: WebOptions) -> (Router, Arc<FakeBackend>) {
    let fake = Arc::new(FakeBackend::new());
    (router(fake.clone(), opts), fake)
}

fn app() -> (Router, Arc<FakeBackend>) {
    app_with(WebOptions {
        stats_history_enabled: true,
        ..WebOptions::default()
    })
}

async fn send(app: &Router, req: Request<Body>) -> Resp {
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(app: &Router, uri: &str) -> Resp {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post_form(app: &Router, uri: &str, form: &str) -> Resp {
    let req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap();
    send(app, req).await
}

async fn post(app: &Router, uri: &str) -> Resp {
    send(app, Request::post(uri).body(Body::empty()).unwrap()).await
}

fn sample(name: &str) -> String {
    crate::testing::read_fixture(&format!("locust/webapi/{name}"))
}

/// The header names/values of a capture's `.headers` file (Date and Content-Length dropped).
fn sample_headers(name: &str) -> Vec<(String, String)> {
    sample(name)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| k != "date" && k != "content-length")
        .collect()
}

#[tokio::test]
async fn stop_matches_capture() {
    let (app, fake) = app();
    let r = post(&app, "/stop").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        "{\n  \"message\": \"Test stopped\",\n  \"success\": true\n}\n"
    );
    let cap = sample("stop.json");
    if !cap.is_empty() {
        assert_eq!(r.body, cap);
    }
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("access-control-allow-origin"), "*");
    assert_eq!(fake.calls().stops, 1);
}

#[tokio::test]
async fn json_routes_are_sorted_indented_with_cors() {
    let (app, _) = app();
    for (uri, cap) in [
        ("/tasks", "tasks.json"),
        ("/exceptions", "exceptions.json"),
        ("/worker-count", "worker-count.json"),
        ("/logs", "logs.json"),
    ] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        assert_eq!(r.header("content-type"), "application/json", "{uri}");
        assert_eq!(r.header("access-control-allow-origin"), "*", "{uri}");
        let want = sample(cap);
        if !want.is_empty() {
            // Same data served back must come out byte-identical to Flask's output.
            assert_eq!(r.body.trim_end(), want.trim_end(), "{uri}");
        }
    }
}

#[tokio::test]
async fn stats_requests_sorted_keys() {
    let (app, _) = app();
    let r = get(&app, "/stats/requests").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.starts_with("{\n  \"current_fail_per_sec\": "));
    assert!(r.body.ends_with("}\n"));
    let v = r.json();
    assert_eq!(v["state"], "ready");
    assert!(v["stats"].as_array().unwrap().len() >= 2);
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    for (k, v) in sample_headers("stats_requests.headers") {
        assert_eq!(r.header(&k), v, "{k}");
    }
}

#[tokio::test]
async fn swarm_success_and_retarget() {
    let (app, fake) = app();
    let r = post_form(
        &app,
        "/swarm",
        "user_count=5&spawn_rate=2&host=http%3A%2F%2F127.0.0.1%3A18765&run_time=30s",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let cap = sample("swarm.json");
    if !cap.is_empty() {
        assert_eq!(r.body, cap);
    }
    assert_eq!(r.json()["run_time"], 30);
    let r = post_form(&app, "/swarm", "user_count=9&spawn_rate=3&host=").await;
    let v = r.json();
    assert_eq!(v["success"], true);
    assert_eq!(v["host"], "");
    assert!(v.get("run_time").is_none());
    let calls = fake.calls();
    assert_eq!(calls.swarms.len(), 2);
    assert_eq!(calls.swarms[1].user_count, 9);
    assert_eq!(calls.swarms[1].spawn_rate, 3.0);
    assert_eq!(
        get(&app, "/stats/requests").await.json()["state"],
        "running"
    );
}

#[tokio::test]
async fn swarm_invalid_inputs() {
    let (app, fake) = app();
    let cases: &[(&str, &str)] = &[
        ("", MSG_MISSING),
        ("user_count=1", MSG_MISSING),
        ("spawn_rate=1", MSG_MISSING),
        (
            "user_count=abc&spawn_rate=1",
            "Invalid user_count value: 'abc' (must be an integer)",
        ),
        (
            "user_count=1&spawn_rate=x",
            "Invalid spawn_rate value: 'x' (must be a number)",
        ),
        ("user_count=-3&spawn_rate=1", MSG_MISSING),
        ("user_count=1&spawn_rate=0", MSG_MISSING),
        ("user_count=1&spawn_rate=inf", MSG_MISSING),
        ("user_count=1&spawn_rate=1&run_time=ten", MSG_RUN_TIME),
        ("%ZZ=%&&&=", MSG_MISSING),
    ];
    for (form, msg) in cases {
        let r = post_form(&app, "/swarm", form).await;
        assert_eq!(r.status, StatusCode::OK, "{form}");
        assert_eq!(r.header("content-type"), "application/json");
        let v = r.json();
        assert_eq!(v["success"], false, "{form}");
        assert_eq!(v["message"], *msg, "{form}");
        assert_eq!(v["host"], "http://127.0.0.1:18765", "{form}");
    }
    let cap = sample("swarm_invalid.json");
    if !cap.is_empty() {
        assert_eq!(post_form(&app, "/swarm", "spawn_rate=1").await.body, cap);
    }
    // A JSON body is not a form: Locust sees no fields.
    let req = Request::post("/swarm")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"user_count\": 1, \"spawn_rate\": 1}"))
        .unwrap();
    assert_eq!(send(&app, req).await.json()["message"], MSG_MISSING);
    assert!(fake.calls().swarms.is_empty());
}

#[tokio::test]
async fn swarm_backend_error_and_class_picker() {
    let mut fake = FakeBackend::new();
    fake.swarm_error = Some("No runner".into());
    let app = router(Arc::new(fake), WebOptions::default());
    let v = post_form(&app, "/swarm", "user_count=1&spawn_rate=1")
        .await
        .json();
    assert_eq!(v["success"], false);
    assert_eq!(v["message"], "No runner");

    let (app, fake) = app_with(WebOptions {
        class_picker: true,
        ..WebOptions::default()
    });
    let v = post_form(
        &app,
        "/swarm",
        "user_count=1&spawn_rate=1&user_classes=LightUser",
    )
    .await
    .json();
    assert_eq!(v["user_classes"], serde_json::json!(["LightUser"]));
    let v = post_form(&app, "/swarm", "user_count=1&spawn_rate=1")
        .await
        .json();
    // Without a class choice the answer keeps plain Locust's shape.
    assert!(v.get("user_classes").is_none(), "{v}");
    assert_eq!(
        fake.calls().swarms[0].user_classes,
        Some(vec!["LightUser".to_string()])
    );
}

#[tokio::test]
async fn reset_is_ok_text() {
    let (app, fake) = app();
    let r = post(&app, "/stats/reset").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "ok");
    for (k, v) in sample_headers("stats_reset.headers") {
        assert_eq!(r.header(&k), v, "{k}");
    }
    assert_eq!(fake.calls().resets, 1);
}

#[tokio::test]
async fn not_found_is_flask_html() {
    let (app, _) = app();
    assert_eq!(get(&app, "/stats%2Frequests").await.status, StatusCode::OK);
    assert_eq!(
        get(&app, "/assets/vendor%2FuPlot.min.css").await.status,
        StatusCode::OK
    );
    for uri in [
        "/nope",
        "/stats",
        "/assets/",
        "/assets/nope.js",
        "/stats/requests/",
        "/%zz",
        "/%ff",
        "/assets/%2e%2e/Cargo.toml",
    ] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(r.header("access-control-allow-origin"), "*");
        assert!(r.body.contains("<title>404 Not Found</title>"));
        let cap = sample("notfound.txt");
        if !cap.is_empty() {
            assert_eq!(r.body, cap);
        }
    }
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let (app, _) = app();
    let r = get(&app, "/stop").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), "OPTIONS, POST");
    let cap = sample("stop_get.txt");
    if !cap.is_empty() {
        assert_eq!(r.body, cap);
    }
    for (k, v) in sample_headers("stop_get.headers") {
        assert_eq!(r.header(&k), v, "{k}");
    }
    let r = post(&app, "/stats/requests").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), "GET, HEAD, OPTIONS");
    let r = send(&app, Request::delete("/swarm").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = send(
        &app,
        Request::options("/swarm").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("allow"), "OPTIONS, POST");
    let r = send(&app, Request::head("/tasks").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    assert_ne!(r.header("content-length"), "0");
}

#[tokio::test]
async fn csv_downloads() {
    let (app, _) = app();
    for (uri, cap, suffix) in [
        ("/stats/requests/csv", "requests_csv.headers", "requests"),
        ("/stats/failures/csv", "failures_csv.headers", "failures"),
        ("/exceptions/csv", "exceptions_csv.headers", "exceptions"),
    ] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), "text/csv");
        assert_eq!(
            r.header("content-disposition"),
            format!("attachment;filename=Locust_2026-11-27-19h34_skein_http://127.0.0.1:18765_{suffix}.csv")
        );
        // Same header set as Locust, modulo the locustfile name.
        for (k, v) in sample_headers(cap) {
            assert_eq!(
                r.header(&k),
                v.replace("locustfile.py", "skein"),
                "{uri} {k}"
            );
        }
        assert!(r.body.contains("\r\n"));
    }
    let r = get(&app, "/stats/requests_full_history/csv").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        r.header("content-disposition"),
        "attachment; filename=\"Locust_2026-11-27-19h34_skein_http://127.0.0.1:18765_requests_full_history.csv\""
    );
}

#[tokio::test]
async fn full_history_404_when_disabled() {
    let (app, _) = app_with(WebOptions::default());
    let r = get(&app, "/stats/requests_full_history/csv").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        "Error: Server was not started with option to generate full history."
    );
    let mut fake = FakeBackend::new();
    fake.full_history = false;
    let app = router(
        Arc::new(fake),
        WebOptions {
            stats_history_enabled: true,
            ..WebOptions::default()
        },
    );
    assert_eq!(
        get(&app, "/stats/requests_full_history/csv").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn report_and_download() {
    let (app, _) = app();
    let r = get(&app, "/stats/report").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert!(r.header("content-disposition").is_empty());
    assert!(r.body.contains("id=\"report-download\""));
    assert!(r.body.contains("custom failure text"));
    let r = get(&app, "/stats/report?download=1&theme=dark").await;
    assert_eq!(
        r.header("content-disposition"),
        "attachment;filename=Locust_2026-11-27-19h34_skein_http://127.0.0.1:18765.html"
    );
    assert!(!r.body.contains("id=\"report-download\""));
    assert!(r.body.contains("data-theme=\"dark\""));
    // Python truthiness: an empty value is no download.
    let r = get(&app, "/stats/report?download=").await;
    assert!(r.header("content-disposition").is_empty());
}

#[tokio::test]
async fn index_and_assets() {
    let (app, _) = app();
    let r = get(&app, "/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert!(r.body.contains("id=\"start-form\""));
    assert!(r
        .body
        .contains("window.templateArgs = {\"available_shape_classes\""));
    assert!(!r.body.contains("{{TEMPLATE_ARGS}}"));
    assert!(r.body.contains("src=\"./assets/app.js\""));
    for (path, ct) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/common.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
        (
            "/assets/vendor/uPlot.iife.min.js",
            "text/javascript; charset=utf-8",
        ),
        ("/assets/vendor/uPlot.min.css", "text/css; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let r = get(&app, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.header("content-type"), ct, "{path}");
        assert!(!r.body.is_empty());
    }
}

#[tokio::test]
async fn user_and_login() {
    let (app, fake) = app();
    let req = Request::post("/user")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            "{\"user_class_name\": \"HeavyUser\", \"weight\": 2}",
        ))
        .unwrap();
    let r = send(&app, req).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body.trim_end(), "{}");
    assert_eq!(fake.calls().user_updates.len(), 1);
    let req = Request::post("/user").body(Body::from("not json")).unwrap();
    assert_eq!(
        send(&app, req).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let r = get(&app, "/login").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.header("location"), "/");
    assert_eq!(r.body.len(), 189);
}

#[tokio::test]
async fn base_path() {
    let (app, _) = app_with(WebOptions {
        base_path: "/locust/".into(),
        ..WebOptions::default()
    });
    assert_eq!(get(&app, "/locust/").await.status, StatusCode::OK);
    assert_eq!(get(&app, "/locust/tasks").await.status, StatusCode::OK);
    assert_eq!(
        get(&app, "/locust/assets/app.js").await.status,
        StatusCode::OK
    );
    assert_eq!(get(&app, "/tasks").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&app, "/locusttasks").await.status,
        StatusCode::NOT_FOUND
    );
    let r = get(&app, "/locust").await;
    assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.header("location"), "/locust/");
    assert_eq!(
        get(&app, "/locust/login").await.header("location"),
        "/locust/"
    );
}

#[tokio::test]
async fn basic_auth_on_every_route() {
    let (app, fake) = app_with(WebOptions {
        auth: Some(("user".into(), "pa:ss".into())),
        ..WebOptions::default()
    });
    for uri in ["/", "/tasks", "/assets/app.js", "/nope", "/stats/report"] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(r.header("www-authenticate"), "Basic realm=\"skein\"");
        assert_eq!(r.header("access-control-allow-origin"), "*");
    }
    let r = post(&app, "/stop").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(fake.calls().stops, 0);
    // "user:pa:ss" base64
    let good = "Basic dXNlcjpwYTpzcw==";
    let bad = "Basic dXNlcjpwYXNz";
    let req = |auth: &str| {
        Request::get("/tasks")
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&app, req(good)).await.status, StatusCode::OK);
    assert_eq!(send(&app, req(bad)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&app, req("Basic !!!")).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Without auth configured, no header is needed.
    let (open, _) = self::app();
    assert_eq!(get(&open, "/tasks").await.status, StatusCode::OK);
}

#[tokio::test]
async fn body_limit_gives_413() {
    let (app, fake) = app_with(WebOptions {
        body_limit: 1024,
        ..WebOptions::default()
    });
    let big = format!("user_count=1&spawn_rate=1&pad={}", "x".repeat(4096));
    let r = post_form(&app, "/swarm", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.body.contains("413 Request Entity Too Large"));
    // Without a Content-Length (streamed body) the limit still holds.
    let stream = futures::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'a'; 512]))),
    );
    let req = Request::post("/swarm")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from_stream(stream))
        .unwrap();
    assert_eq!(send(&app, req).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(fake.calls().swarms.is_empty());
    let ok = post_form(&app, "/swarm", "user_count=1&spawn_rate=1").await;
    assert_eq!(ok.json()["success"], true);
}

/// A form POST as a browser page sends it: with an `Origin` and the `Host` it was sent to.
async fn post_from(app: &Router, uri: &str, origin: Option<&str>, form: &str) -> Resp {
    let mut req = Request::post(uri)
        .header(header::HOST, "127.0.0.1:8089")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    send(app, req.body(Body::from(form.to_string())).unwrap()).await
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let (app, fake) = app();
    for uri in ["/swarm", "/stop", "/stats/reset", "/user"] {
        let r = post_from(
            &app,
            uri,
            Some("http://evil.example"),
            "user_count=1&spawn_rate=1",
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(r.body.contains("--web-allowed-origin"), "{}", r.body);
    }
    let calls = fake.calls();
    assert!(calls.swarms.is_empty());
    assert_eq!((calls.stops, calls.resets), (0, 0));
    assert!(calls.user_updates.is_empty());
    // Reading is not state-changing: a GET with a foreign Origin is answered as before.
    let req = Request::get("/stats/requests")
        .header(header::ORIGIN, "http://evil.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.status, StatusCode::OK);
}

#[tokio::test]
async fn own_origin_no_origin_and_named_origins_are_allowed() {
    let (app, fake) = app_with(WebOptions {
        allowed_origins: vec!["https://dash.example".into()],
        ..WebOptions::default()
    });
    let form = "user_count=1&spawn_rate=1";
    for origin in [
        None,
        Some("http://127.0.0.1:8089"),
        Some("https://dash.example"),
    ] {
        let r = post_from(&app, "/swarm", origin, form).await;
        assert_eq!(r.status, StatusCode::OK, "{origin:?}");
        assert_eq!(r.json()["success"], true, "{origin:?}");
    }
    let r = post_from(&app, "/stop", Some("https://dash.example"), "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(fake.calls().swarms.len(), 3);
    assert_eq!(fake.calls().stops, 1);
    let r = post_from(&app, "/stop", Some("https://other.example"), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(fake.calls().stops, 1);
}

#[tokio::test]
async fn many_repeated_user_classes_collapse_and_too_many_are_refused_briefly() {
    let (app, fake) = app_with(WebOptions {
        class_picker: true,
        body_limit: 4 * 1024 * 1024,
        ..WebOptions::default()
    });
    let mut form = String::from("user_count=2&spawn_rate=1");
    for i in 0..10_000 {
        form.push_str(if i % 2 == 0 {
            "&user_classes=LightUser"
        } else {
            "&user_classes=HeavyUser"
        });
    }
    let v = post_form(&app, "/swarm", &form).await.json();
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(
        v["user_classes"],
        serde_json::json!(["HeavyUser", "LightUser"])
    );
    assert_eq!(
        fake.calls().swarms[0].user_classes,
        Some(vec!["LightUser".to_string(), "HeavyUser".to_string()])
    );

    // 10,000 different names against 2 classes: refused without echoing them.
    let mut form = String::from("user_count=2&spawn_rate=1");
    for i in 0..10_000 {
        form.push_str(&format!("&user_classes=Class{i}"));
    }
    let r = post_form(&app, "/swarm", &form).await;
    let v = r.json();
    assert_eq!(v["success"], false);
    assert_eq!(
        v["message"],
        "Too many user_classes: 10000 different names given, but only 2 user classes exist"
    );
    assert!(r.body.len() < 300, "{} bytes", r.body.len());
    assert_eq!(
        fake.calls().swarms.len(),
        1,
        "the refused form started nothing"
    );
}

/// Collects what `tracing` prints while the returned guard lives (this thread only).
fn capture_logs() -> (
    Arc<std::sync::Mutex<Vec<u8>>>,
    tracing::subscriber::DefaultGuard,
) {
    #[derive(Clone)]
    struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut v) = self.0.lock() {
                v.extend_from_slice(b);
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Sink(buf.clone());
    let sub = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    (buf, tracing::subscriber::set_default(sub))
}

#[tokio::test(flavor = "current_thread")]
async fn invalid_swarm_forms_are_logged_as_errors() {
    let (buf, _guard) = capture_logs();
    let (app, _) = app();
    for form in [
        "user_count=x&spawn_rate=1",
        "user_count=1",
        "user_count=1&spawn_rate=1&run_time=5x",
    ] {
        assert_eq!(
            post_form(&app, "/swarm", form).await.json()["success"],
            false
        );
    }
    let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 3, "{text}");
    assert!(errors[0].contains("Invalid user_count value: 'x' (must be an integer)"));
    assert!(errors[1].contains(MSG_MISSING));
    assert!(errors[2].contains(MSG_RUN_TIME));
}

#[tokio::test]
async fn metrics_route_serves_the_exposition_behind_auth_and_base_path() {
    let (app, _) = app_with(WebOptions {
        base_path: "/load".into(),
        auth: Some(("user".into(), "pass".into())),
        ..WebOptions::default()
    });
    assert_eq!(
        get(&app, "/load/metrics").await.status,
        StatusCode::UNAUTHORIZED
    );
    let authed = |method: &str| {
        Request::builder()
            .method(method)
            .uri("/load/metrics")
            .header(header::AUTHORIZATION, "Basic dXNlcjpwYXNz")
            .body(Body::empty())
            .unwrap()
    };
    let r = send(&app, authed("GET")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), super::metrics::CONTENT_TYPE);
    assert!(r.body.ends_with("skein_target_users 2\n"), "{}", r.body);
    let head = send(&app, authed("HEAD")).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(
        send(&app, authed("POST")).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}
