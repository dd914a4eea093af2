//! Hostile-client tests of the service: idle connections are closed, truncated JPEGs are
//! refused as Pillow refuses them.

use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tests::{classify_request, jpeg, send, Part};
use super::*;

/// A short idle timeout so the test is quick; the bound on each wait is far longer.
const IDLE: Duration = Duration::from_millis(300);
const BOUND: Duration = Duration::from_secs(30);

/// Reads until the server closes the connection; the bytes read before the close.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut out))
        .await
        .expect("the server closed the idle connection")
        .expect("read");
    out
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_timeout() {
    let server = spawn_local_with(ServeOptions { idle_timeout: IDLE })
        .await
        .unwrap();
    // Connections that never send a byte.
    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(server.addr).await.unwrap());
    }
    for s in &mut silent {
        assert!(read_until_closed(s).await.is_empty());
    }
    // A kept-alive connection after its response.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8(read_until_closed(&mut kept).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("\"healthy\""), "{answer}");
    assert_eq!(server.counters.get("/api/v1/health", "GET", 200), 1);
    // The server still accepts new work afterwards.
    let health = reqwest::get(format!("{}/api/v1/health", server.base_url()))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn a_slow_body_is_not_cut_by_the_idle_timeout() {
    let server = spawn_local_with(ServeOptions { idle_timeout: IDLE })
        .await
        .unwrap();
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let body = b"{}";
    s.write_all(
        format!(
            "POST /api/v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // The head is in: the request is in progress, and waiting past the idle timeout before
    // the body arrives must not drop it.
    tokio::time::sleep(IDLE * 3).await;
    s.write_all(body).await.unwrap();
    let answer = String::from_utf8(read_until_closed(&mut s).await).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 422 Unprocessable Entity"),
        "{answer}"
    );
}

#[tokio::test]
async fn the_default_idle_timeout_is_uvicorns() {
    assert_eq!(ServeOptions::default().idle_timeout, Duration::from_secs(5));
}

#[tokio::test]
async fn truncated_jpegs_are_400_as_pillow_refuses_them() {
    let state = ClassifierState::new();
    let whole = jpeg(224, 7);
    let (status, _) = send(&state, classify_request(&[Part::File("file", &whole)])).await;
    assert_eq!(status, StatusCode::OK);
    // Cut in the image data (half the file; all but the end marker).
    for cut in [whole.len() / 2, whole.len() - 2] {
        let (status, body) = send(
            &state,
            classify_request(&[Part::File("file", &whole[..cut])]),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "cut at {cut}");
        assert_eq!(
            body["detail"], "Invalid image file: image file is truncated",
            "cut at {cut}"
        );
    }
    // Cut in the headers (inside the quantization or Huffman tables).
    let (status, body) = send(
        &state,
        classify_request(&[Part::File("file", &whole[..300])]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["detail"], "Invalid image file: Truncated File Read");
    assert_eq!(state.counters.get("/api/v1/classify", "POST", 400), 3);
}
