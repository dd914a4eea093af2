//! The per-user session against a raw loopback server that does what real servers do and our
//! reference service does not: close idle keep-alive connections.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use goose::config::GooseConfiguration;
use goose::goose::GooseUser;
use skein_api::{with_sink, Request, RequestRecord, RequestSink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Default)]
struct Collect(Mutex<Vec<RequestRecord>>);

impl RequestSink for Collect {
    fn record(&self, r: RequestRecord) {
        self.0.lock().unwrap().push(r);
    }
}

/// Answers one request per connection with keep-alive promised, then closes the connection
/// after `idle` (as uvicorn's 5 s keep-alive timeout does). Returns the request lines seen.
async fn closing_server(idle: Duration) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        for _ in 0..10 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                log.lock().unwrap().push(head);
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok",
                    )
                    .await;
                tokio::time::sleep(idle).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

fn user(base: &str) -> GooseUser {
    GooseUser::single(base.parse().unwrap(), &GooseConfiguration::default()).unwrap()
}

#[tokio::test]
async fn a_connection_closed_while_idle_is_replaced_not_failed() {
    let (base, seen) = closing_server(Duration::from_millis(50)).await;
    let sink = Arc::new(Collect::default());
    let records = sink.clone();
    with_sink(sink, async move {
        let mut u = user(&base);
        for _ in 0..3 {
            let r = Request::get("/x").send(&mut u).await;
            assert!(r.ok(), "{:?}", r.failure);
            // Longer than the server keeps the connection.
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    })
    .await;
    assert_eq!(
        records
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.failure.is_none())
            .count(),
        3
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        3,
        "one new connection per request"
    );
}

#[tokio::test]
async fn the_path_is_appended_to_the_host_as_locust_does() {
    let (base, seen) = closing_server(Duration::from_millis(10)).await;
    let sink = Arc::new(Collect::default());
    let records = sink.clone();
    with_sink(sink, async move {
        let mut u = user(&format!("{base}/api"));
        assert!(Request::get("/v1/health?full=1").send(&mut u).await.ok());
    })
    .await;
    assert_eq!(
        seen.lock().unwrap()[0],
        "GET /api/v1/health?full=1 HTTP/1.1"
    );
    // The request is named by the path as written in the scenario.
    assert_eq!(records.0.lock().unwrap()[0].name, "/v1/health?full=1");
}

#[tokio::test]
async fn a_refused_connection_is_a_recorded_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sink = Arc::new(Collect::default());
    let records = sink.clone();
    with_sink(sink, async move {
        let mut u = user(&format!("http://127.0.0.1:{port}"));
        let r = Request::get("/").send(&mut u).await;
        assert_eq!(r.status, 0);
    })
    .await;
    let recs = records.0.lock().unwrap();
    assert!(
        matches!(recs[0].failure, Some(skein_api::Failure::Connection(_))),
        "{:?}",
        recs[0].failure
    );
}

/// A server that answers with bytes that are not HTTP: a recorded failure, never a panic, and
/// the next request gets a fresh connection.
#[tokio::test]
async fn a_garbage_response_is_a_recorded_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        for _ in 0..4 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(b"\x00\x01 this is not HTTP\r\n\r\n").await;
            });
        }
    });
    let sink = Arc::new(Collect::default());
    let records = sink.clone();
    with_sink(sink, async move {
        let mut u = user(&base);
        for _ in 0..2 {
            let r = Request::get("/").send(&mut u).await;
            assert_eq!(r.status, 0);
        }
    })
    .await;
    let recs = records.0.lock().unwrap();
    assert_eq!(recs.len(), 2);
    assert!(
        recs.iter()
            .all(|r| matches!(r.failure, Some(skein_api::Failure::Connection(_)))),
        "{recs:?}"
    );
}
