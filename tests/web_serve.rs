//! The web UI over a real loopback socket: plain HTTP with graceful shutdown, and HTTPS with a
//! throwaway certificate made in-process (rcgen). The ignored `demo_server` test serves
//! the page with the fake backend for a browser (SKEIN_WEB_DEMO_PORT, SKEIN_WEB_DEMO_SECS).

use std::sync::Arc;
use std::time::Duration;

use skein::web::testing::FakeBackend;
use skein::web::{router, serve, WebOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[tokio::test]
async fn serves_http_and_shuts_down_gracefully() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(Arc::new(FakeBackend::new()), WebOptions::default());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app, None, async {
        let _ = rx.await;
    }));

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let r = client
        .get(format!("http://{addr}/worker-count"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"].to_str().unwrap(),
        "*"
    );
    assert_eq!(r.text().await.unwrap(), "{\n  \"worker_count\": 2\n}\n");
    let r = client
        .post(format!("http://{addr}/swarm"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("user_count=3&spawn_rate=1")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("\"success\": true"));

    tx.send(()).unwrap();
    let res = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops after shutdown")
        .unwrap();
    assert!(res.is_ok());
}

#[tokio::test]
async fn serves_https_with_a_pem_pair() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    // A throwaway certificate made in-process, so the test needs nothing installed and never skips.
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("a self-signed certificate for localhost");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(Arc::new(FakeBackend::new()), WebOptions::default());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app, Some((cert, key)), async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let r = client
        .get(format!("https://localhost:{}/tasks", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A plain-HTTP client must not break the server.
    let _ = reqwest::Client::new()
        .get(format!("http://{addr}/tasks"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    let r = client
        .get(format!("https://localhost:{}/worker-count", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tx.send(()).unwrap();
    let res = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .unwrap();
    assert!(res.is_ok());
}

#[tokio::test]
async fn bad_tls_files_fail_before_serving() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = router(Arc::new(FakeBackend::new()), WebOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let res = serve(
        listener,
        app,
        Some((dir.path().join("no.pem"), dir.path().join("no.key"))),
        std::future::pending(),
    )
    .await;
    assert!(res.is_err());
}

#[tokio::test]
#[ignore = "manual: serves the UI with the fake backend for a browser"]
async fn demo_server() {
    let port: u16 = std::env::var("SKEIN_WEB_DEMO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(18089);
    let secs: u64 = std::env::var("SKEIN_WEB_DEMO_SECS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(60)
        .min(1800);
    let base = std::env::var("SKEIN_WEB_DEMO_BASE").unwrap_or_default();
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let opts = WebOptions {
        base_path: base,
        stats_history_enabled: true,
        ..WebOptions::default()
    };
    let app = router(Arc::new(FakeBackend::new()), opts);
    serve(
        listener,
        app,
        None,
        tokio::time::sleep(Duration::from_secs(secs)),
    )
    .await
    .unwrap();
}
