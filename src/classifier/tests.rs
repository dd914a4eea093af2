//! Router tests without a socket, plus one over real loopback.

use std::io::Cursor;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::*;

const BOUNDARY: &str = "skeintestboundary7MA4YWxk";

pub(super) enum Part<'a> {
    File(&'a str, &'a [u8]),
    Text(&'a str, &'a str),
}

pub(super) fn multipart_body(parts: &[Part]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::File(name, bytes) => {
                out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"test.jpg\"\r\n\
                         Content-Type: image/jpeg\r\n\r\n"
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(bytes);
            }
            Part::Text(name, value) => {
                out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}")
                        .as_bytes(),
                );
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

pub(super) fn classify_request(parts: &[Part]) -> Request<Body> {
    Request::post("/api/v1/classify")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(multipart_body(parts)))
        .unwrap()
}

pub(super) fn jpeg(side: u32, seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        let v = (x * 31 + y * 17 + seed * 101) % 256;
        image::Rgb([v as u8, (v * 3 % 256) as u8, (255 - v) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

pub(super) async fn send(state: &ClassifierState, req: Request<Body>) -> (StatusCode, Value) {
    let response = router(state.clone()).oneshot(req).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)))
    };
    (status, json)
}

async fn get(state: &ClassifierState, path: &str) -> (StatusCode, Value) {
    send(state, Request::get(path).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn health_on_root_and_health_route() {
    let state = ClassifierState::new();
    for path in ["/", "/api/v1/health"] {
        let (status, body) = get(&state, path).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["model_loaded"], true);
        assert_eq!(body["model_info"]["name"], model::MODEL_NAME);
    }
    assert_eq!(state.counters.get("/", "GET", 200), 1);
    assert_eq!(state.counters.get("/api/v1/health", "GET", 200), 1);
}

#[tokio::test]
async fn model_info_lists_labels() {
    let state = ClassifierState::new();
    let (status, body) = get(&state, "/api/v1/model/info").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["input_size"], 224);
    let labels = body["labels"].as_array().unwrap();
    assert_eq!(body["num_classes"].as_u64().unwrap() as usize, labels.len());
    assert!(labels.len() >= 20);
}

#[tokio::test]
async fn classify_top_k_sizes_sorted_and_summing_to_at_most_one() {
    let state = ClassifierState::new();
    let image = jpeg(224, 1);
    for k in [1usize, 3, 5, 10] {
        let k_text = k.to_string();
        let (status, body) = send(
            &state,
            classify_request(&[Part::File("file", &image), Part::Text("top_k", &k_text)]),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let preds = body["predictions"].as_array().unwrap();
        assert_eq!(preds.len(), k);
        let probs: Vec<f64> = preds
            .iter()
            .map(|p| p["probability"].as_f64().unwrap())
            .collect();
        assert!(probs.windows(2).all(|w| w[0] >= w[1]));
        assert!(probs.iter().sum::<f64>() <= 1.0 + 1e-9);
        assert!(preds[0]["class_name"].is_string());
        assert!(preds[0]["class_id"].is_u64());
        assert!(body["processing_time_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(body["model_info"]["name"], model::MODEL_NAME);
    }
    assert_eq!(state.counters.get("/api/v1/classify", "POST", 200), 4);
}

#[tokio::test]
async fn classify_defaults_to_five_and_is_deterministic() {
    let state = ClassifierState::new();
    let image = jpeg(300, 2);
    let (s1, a) = send(&state, classify_request(&[Part::File("file", &image)])).await;
    let (s2, b) = send(&state, classify_request(&[Part::File("file", &image)])).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a["predictions"].as_array().unwrap().len(), 5);
    assert_eq!(a["predictions"], b["predictions"]);
}

#[tokio::test]
async fn non_image_is_400() {
    let state = ClassifierState::new();
    let (status, body) = send(
        &state,
        classify_request(&[Part::File("file", b"this is not an image")]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap().contains("Invalid image"));
    assert_eq!(state.counters.get("/api/v1/classify", "POST", 400), 1);
}

#[tokio::test]
async fn missing_file_is_422() {
    let state = ClassifierState::new();
    let (status, body) = send(&state, classify_request(&[Part::Text("top_k", "5")])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["detail"][0]["loc"],
        serde_json::json!(["body", "file"])
    );
    assert_eq!(body["detail"][0]["type"], "missing");

    // A body that is not multipart at all is also just a missing file.
    let req = Request::post("/api/v1/classify")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let (status, body) = send(&state, req).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"][1], "file");
}

#[tokio::test]
async fn bad_top_k_is_422() {
    let state = ClassifierState::new();
    let image = jpeg(64, 3);
    for (value, kind) in [
        ("-1", "greater_than_equal"),
        ("0", "greater_than_equal"),
        ("11", "less_than_equal"),
        ("abc", "int_parsing"),
        ("2.5", "int_parsing"),
    ] {
        let (status, body) = send(
            &state,
            classify_request(&[Part::File("file", &image), Part::Text("top_k", value)]),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "top_k={value}");
        let err = &body["detail"][0];
        assert_eq!(err["loc"], serde_json::json!(["body", "top_k"]));
        assert_eq!(err["type"], kind, "top_k={value}");
        assert!(err["msg"].is_string());
    }
    // Both errors at once, file first, as FastAPI lists them.
    let (status, body) = send(&state, classify_request(&[Part::Text("top_k", "x")])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"].as_array().unwrap().len(), 2);
    assert_eq!(body["detail"][1]["loc"][1], "top_k");
}

#[tokio::test]
async fn oversized_upload_is_413() {
    let state = ClassifierState::new();
    // Just over the upload limit (within the body limit) and far over the body limit.
    for size in [MAX_UPLOAD_BYTES + 1, BODY_LIMIT_BYTES + 1024 * 1024] {
        let big = vec![0xAB_u8; size];
        let (status, body) = send(&state, classify_request(&[Part::File("file", &big)])).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "size {size}");
        assert!(body["detail"].as_str().unwrap().contains("too large"));
    }
    // Just under the limit is read and judged on content (not an image: 400).
    let under = vec![0xAB_u8; MAX_UPLOAD_BYTES];
    let (status, _) = send(&state, classify_request(&[Part::File("file", &under)])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_route_404_and_wrong_method_405() {
    let state = ClassifierState::new();
    let (status, body) = get(&state, "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Not Found");

    let (status, body) = get(&state, "/api/v1/classify").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["detail"], "Method Not Allowed");
    let (status, _) = send(
        &state,
        Request::post("/api/v1/health").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    assert_eq!(state.counters.get(UNMATCHED_ROUTE, "GET", 404), 1);
    assert_eq!(state.counters.get("/api/v1/classify", "GET", 405), 1);
    assert_eq!(state.counters.get("/api/v1/health", "POST", 405), 1);
}

#[tokio::test]
async fn counts_endpoint_reports_and_resets() {
    let state = ClassifierState::new();
    get(&state, "/api/v1/health").await;
    get(&state, "/api/v1/health").await;
    get(&state, "/missing").await;
    let (status, body) = get(&state, "/_skein/counts").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 3);
    let counts = body["counts"].as_array().unwrap();
    let health = counts
        .iter()
        .find(|c| c["route"] == "/api/v1/health")
        .unwrap();
    assert_eq!(health["method"], "GET");
    assert_eq!(health["status"], 200);
    assert_eq!(health["count"], 2);

    let (status, _) = send(
        &state,
        Request::delete("/_skein/counts")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(state.counters.total(), 0);
}

#[tokio::test]
async fn serves_over_loopback_and_stops() {
    let server = spawn_local().await.unwrap();
    assert!(server.addr.ip().is_loopback());
    let client = reqwest::Client::new();
    let health: Value = client
        .get(format!("{}/api/v1/health", server.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "healthy");

    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(jpeg(256, 4))
                .file_name("test.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        )
        .text("top_k", "3");
    let response = client
        .post(format!("{}/api/v1/classify", server.base_url()))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["predictions"].as_array().unwrap().len(), 3);
    assert_eq!(server.counters.get("/api/v1/classify", "POST", 200), 1);

    let addr = server.addr;
    tokio::time::timeout(std::time::Duration::from_secs(10), server.stop())
        .await
        .expect("server stops in time")
        .unwrap();
    // Stopped: a fresh connection is refused.
    let fresh = reqwest::Client::new();
    assert!(fresh
        .get(format!("http://{addr}/"))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn oversized_upload_over_loopback_gets_413_not_a_reset() {
    let server = spawn_local().await.unwrap();
    let client = reqwest::Client::new();
    for size in [MAX_UPLOAD_BYTES + 1, 3 * MAX_UPLOAD_BYTES] {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(vec![0x5A_u8; size]).file_name("big.jpg"),
            )
            .text("top_k", "5");
        let response = client
            .post(format!("{}/api/v1/classify", server.base_url()))
            .multipart(form)
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .unwrap_or_else(|e| panic!("size {size}: no response: {e:?}"));
        assert_eq!(response.status().as_u16(), 413, "size {size}");
        let body: Value = response.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains("too large"));
        // The same client's next request must not land on the half-read connection.
        let next = client
            .get(format!("{}/api/v1/health", server.base_url()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("request after a 413 failed: {e:?}"));
        assert_eq!(next.status().as_u16(), 200);
    }
    assert_eq!(server.counters.get("/api/v1/classify", "POST", 413), 2);
    assert_eq!(server.counters.get("/api/v1/health", "GET", 200), 2);
}

#[tokio::test]
async fn wrong_method_names_allowed_methods() {
    let state = ClassifierState::new();
    let response = router(state)
        .oneshot(
            Request::get("/api/v1/classify")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = response
        .headers()
        .get(header::ALLOW)
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(allow.as_deref(), Some("POST"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_classifications_queue_and_all_succeed() {
    let state = ClassifierState::new();
    let image = jpeg(128, 5);
    let requests = (0..24).map(|_| send(&state, classify_request(&[Part::File("file", &image)])));
    let results = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        futures::future::join_all(requests),
    )
    .await
    .expect("all classifications finish");
    assert!(results.iter().all(|(s, _)| *s == StatusCode::OK));
    assert!(results
        .iter()
        .all(|(_, b)| b["predictions"] == results[0].1["predictions"]));
    assert_eq!(state.counters.get("/api/v1/classify", "POST", 200), 24);
    // Every decode slot is free again.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(state.decode_slots.available_permits(), cpus * 2);
}

/// `--delay-ms`: every answer comes that much later, and concurrent requests wait together
/// (a timer, not a thread), so ten at once take one delay, not ten.
#[tokio::test(start_paused = true)]
async fn a_delayed_service_answers_later_without_serialising_requests() {
    let app = router(ClassifierState::new().with_delay(std::time::Duration::from_millis(250)));
    let t0 = tokio::time::Instant::now();
    let calls = (0..10).map(|_| {
        app.clone()
            .oneshot(Request::get("/api/v1/health").body(Body::empty()).unwrap())
    });
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.unwrap().status(), StatusCode::OK);
    }
    let took = t0.elapsed();
    assert!(took >= std::time::Duration::from_millis(250), "{took:?}");
    assert!(took < std::time::Duration::from_millis(500), "{took:?}");
}

#[test]
fn delays_parse_as_whole_milliseconds() {
    assert_eq!(
        parse_delay_ms("40"),
        Ok(std::time::Duration::from_millis(40))
    );
    assert_eq!(parse_delay_ms("0"), Ok(std::time::Duration::ZERO));
    for bad in ["-1", "1.5", "x", "3600001"] {
        assert!(parse_delay_ms(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn metrics_exposes_this_process_resident_memory() {
    let state = ClassifierState::new();
    let req = Request::get("/metrics").body(Body::empty()).unwrap();
    let response = router(state.clone()).oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let rss = crate::bench::analysis::prometheus_value(&text, "process_resident_memory_bytes")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(rss > 1024.0 * 1024.0, "{rss}");
    // Not counted: scraping must not show up in the service's request counts.
    assert_eq!(state.counters.total(), 0);
}
