//! Runs every scenario's transactions on a single Goose user against the reference classifier
//! on loopback, collecting what they record, and shows that checks do fail against a bad server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use skein::classifier::{self, LocalClassifier};
use skein_api::engine_support::{with_sink, RecordFuture, RequestSink};
use skein_api::goose::config::GooseConfiguration;
use skein_api::goose::goose::GooseUser;
use skein_api::{Failure, RequestRecord, UserClass};
use skein_scenarios::{catalogue, images};

#[derive(Default)]
struct Collect(Mutex<Vec<RequestRecord>>);

impl RequestSink for Collect {
    fn record(&self, record: RequestRecord) -> RecordFuture<'_> {
        self.0.lock().unwrap().push(record);
        Box::pin(std::future::ready(()))
    }
}

fn class(name: &str) -> UserClass {
    catalogue()
        .into_iter()
        .find(|c| c.name() == name)
        .unwrap_or_else(|| panic!("no class {name}"))
}

/// Runs each named transaction of `class` once (in the given order) and returns the records.
async fn run(base_url: &str, class: &UserClass, transactions: &[&str]) -> Vec<RequestRecord> {
    let sink = Arc::new(Collect::default());
    let mut user = GooseUser::single(
        skein_api::url::Url::parse(base_url).unwrap(),
        &GooseConfiguration::default(),
    )
    .unwrap();
    let functions: Vec<_> = transactions
        .iter()
        .map(|name| {
            class
                .scenario
                .transactions
                .iter()
                .find(|t| t.name.name_for_transaction() == *name)
                .unwrap_or_else(|| panic!("{} has no transaction {name}", class.name()))
                .function
                .clone()
        })
        .collect();
    with_sink(sink.clone(), async {
        for f in &functions {
            tokio::time::timeout(Duration::from_secs(120), f(&mut user))
                .await
                .expect("transaction finishes in time")
                .expect("transactions never return errors");
        }
    })
    .await;
    let records = sink.0.lock().unwrap().clone();
    records
}

fn names(records: &[RequestRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {}", r.method, r.name))
        .collect()
}

fn assert_all_ok(records: &[RequestRecord]) {
    for r in records {
        assert!(
            r.failure.is_none(),
            "{} {} failed: {:?}",
            r.method,
            r.name,
            r.failure
        );
        assert!(r.response_time_ms.is_some());
    }
}

async fn server() -> LocalClassifier {
    classifier::spawn_local().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_classifier_user_succeeds() {
    let server = server().await;
    let class = class("ImageClassifierUser");
    // Classify several times so the random image and top_k choices vary.
    let plan = [
        "health",
        "model_info",
        "classify",
        "classify",
        "classify",
        "classify",
        "classify",
        "classify",
    ];
    let records = run(&server.base_url(), &class, &plan).await;
    assert_all_ok(&records);
    let mut expected = vec![
        "GET /api/v1/health".to_string(),
        "GET /api/v1/model/info".to_string(),
    ];
    expected.extend(std::iter::repeat_n("POST /api/v1/classify".to_string(), 6));
    assert_eq!(names(&records), expected);
    assert_eq!(server.counters.get("/api/v1/classify", "POST", 200), 6);
    assert_eq!(server.counters.get("/api/v1/health", "GET", 200), 1);
    assert_eq!(server.counters.get("/api/v1/model/info", "GET", 200), 1);
    assert!(records.iter().all(|r| r.content_length > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_load_and_throughput_users_succeed() {
    let server = server().await;
    let records = run(
        &server.base_url(),
        &class("HighLoadUser"),
        &["classify", "health"],
    )
    .await;
    assert_all_ok(&records);
    assert_eq!(
        names(&records),
        ["POST /api/v1/classify", "GET /api/v1/health"]
    );

    let records = run(&server.base_url(), &class("ThroughputUser"), &["root"]).await;
    assert_all_ok(&records);
    assert_eq!(names(&records), ["GET /"]);
    assert_eq!(server.counters.get("/", "GET", 200), 1);

    let records = run(
        &server.base_url(),
        &class("ThroughputPostUser"),
        &["classify"],
    )
    .await;
    assert_all_ok(&records);
    assert_eq!(names(&records), ["POST /api/v1/classify"]);
    // HighLoadUser's classify above was the first.
    assert_eq!(server.counters.get("/api/v1/classify", "POST", 200), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_testing_user_gets_the_expected_rejections() {
    let server = server().await;
    let records = run(
        &server.base_url(),
        &class("ErrorTestingUser"),
        &[
            "invalid_image",
            "missing_file",
            "invalid_top_k",
            "large_image",
        ],
    )
    .await;
    assert_all_ok(&records);
    assert_eq!(
        names(&records),
        [
            "POST /api/v1/classify [invalid image]",
            "POST /api/v1/classify [missing file]",
            "POST /api/v1/classify [invalid top_k]",
            "POST /api/v1/classify [large image]",
        ]
    );
    // What the reference service actually answered: 400 for bad bytes, 422 for the two
    // validation errors, and 200 for the 4000×4000 JPEG (it is under the 10 MB limit).
    assert_eq!(server.counters.get("/api/v1/classify", "POST", 400), 1);
    assert_eq!(server.counters.get("/api/v1/classify", "POST", 422), 2);
    assert_eq!(server.counters.get("/api/v1/classify", "POST", 200), 1);
}

#[test]
fn test_images_are_shared_and_sized_as_documented() {
    for side in images::SIDES {
        let a = images::jpeg(side);
        // The same allocation every time: generated once, never copied.
        assert_eq!(a.as_ptr(), images::jpeg(side).as_ptr());
        assert_eq!(&a[..2], &[0xFF, 0xD8], "JPEG signature");
    }
    let huge = images::huge_jpeg();
    eprintln!("huge test image: {} bytes", huge.len());
    assert!(huge.len() > 1024 * 1024, "{} bytes", huge.len());
    assert!(
        huge.len() < classifier::MAX_UPLOAD_BYTES,
        "{} bytes",
        huge.len()
    );
}

/// A stub service that answers like a broken classifier.
async fn stub() -> (String, tokio::task::JoinHandle<()>) {
    use axum::routing::{get, post};
    use axum::Json;
    let app = axum::Router::new()
        .route(
            "/api/v1/classify",
            // Reads the upload: a server that answers without reading it closes the connection,
            // and the client's next request on it would fail for that reason instead.
            post(|_body: axum::body::Bytes| async {
                Json(serde_json::json!({ "predictions": [] }))
            }),
        )
        .route(
            "/api/v1/health",
            get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .layer(axum::extract::DefaultBodyLimit::disable());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_fail_against_a_broken_service() {
    let (base_url, task) = stub().await;
    let records = run(
        &base_url,
        &class("ImageClassifierUser"),
        &["classify", "health"],
    )
    .await;
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0].failure,
        Some(Failure::Check(
            "classification returned no predictions".to_string()
        ))
    );
    assert!(
        matches!(&records[1].failure, Some(Failure::Status { code: 503, .. })),
        "{:?}",
        records[1].failure
    );

    // An error case that the service accepts (200) is itself a failure.
    let records = run(&base_url, &class("ErrorTestingUser"), &["invalid_image"]).await;
    assert!(
        matches!(&records[0].failure, Some(Failure::Check(text)) if text.contains("200")),
        "{:?}",
        records[0].failure
    );
    task.abort();
}
