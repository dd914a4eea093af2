//! The per-user session against a raw loopback server that does what real servers do and our
//! reference service does not: close idle keep-alive connections.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use goose::config::GooseConfiguration;
use goose::goose::GooseUser;
use skein_api::engine_support::{with_sink, RecordFuture, RequestSink};
use skein_api::{Request, RequestRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Default)]
struct Collect(Mutex<Vec<RequestRecord>>);

impl RequestSink for Collect {
    fn record(&self, r: RequestRecord) -> RecordFuture<'_> {
        self.0.lock().unwrap().push(r);
        Box::pin(std::future::ready(()))
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

/// Answers each request by its path: `/login` sets a cookie, `/slow` never answers, `/gz` sends a
/// gzip body, anything else echoes the request's Cookie header. Keeps connections alive.
async fn scripted_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        for _ in 0..20 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                loop {
                    let mut buf = vec![0u8; 4096];
                    let n = match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let req = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
                    let cookie = req
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("cookie: ")
                                .or_else(|| l.strip_prefix("Cookie: "))
                        })
                        .unwrap_or("")
                        .to_string();
                    log.lock().unwrap().push(format!("{path} {cookie}"));
                    let response: Vec<u8> = match path.as_str() {
                        "/login" => b"HTTP/1.1 200 OK\r\nset-cookie: sid=abc; Path=/\r\ncontent-length: 0\r\n\r\n".to_vec(),
                        "/slow" => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                        "/gz" => {
                            // gzip of "hello hello hello" (17 bytes), made with Python's gzip module.
                            let gz: &[u8] = &[
                                0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57,
                                0xc8, 0x40, 0x90, 0x00, 0x80, 0x88, 0xf9, 0xe5, 0x11, 0x00, 0x00, 0x00,
                            ];
                            let mut r = format!(
                                "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
                                gz.len()
                            )
                            .into_bytes();
                            r.extend_from_slice(gz);
                            r
                        }
                        _ => format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{cookie}", cookie.len()).into_bytes(),
                    };
                    if sock.write_all(&response).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, seen)
}

#[tokio::test]
async fn cookies_survive_a_timed_out_request() {
    let (base, seen) = scripted_server().await;
    let sink = Arc::new(Collect::default());
    with_sink(sink, async move {
        let mut u = user(&base);
        assert!(Request::get("/login").send(&mut u).await.ok());
        let slow = Request::get("/slow")
            .timeout(Duration::from_millis(100))
            .send(&mut u)
            .await;
        assert!(
            matches!(slow.failure, Some(skein_api::Failure::Timeout(_))),
            "{:?}",
            slow.failure
        );
        let me = Request::get("/me").send(&mut u).await;
        assert_eq!(me.text(), "sid=abc", "the session kept its cookie jar");
        // Cancelled from outside (a scenario's own timeout, a killed user): the jar comes back too.
        let cancelled = tokio::time::timeout(
            Duration::from_millis(100),
            Request::get("/slow").send(&mut u),
        )
        .await;
        assert!(cancelled.is_err());
        let me = Request::get("/me").send(&mut u).await;
        assert_eq!(
            me.text(),
            "sid=abc",
            "the session kept its cookie jar after a cancelled request"
        );
    })
    .await;
    assert_eq!(seen.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn gzip_bodies_are_decoded_and_their_decoded_size_recorded() {
    let (base, _seen) = scripted_server().await;
    let sink = Arc::new(Collect::default());
    let records = sink.clone();
    with_sink(sink, async move {
        let mut u = user(&base);
        let r = Request::get("/gz").send(&mut u).await;
        assert_eq!(r.text(), "hello hello hello");
    })
    .await;
    assert_eq!(
        records.0.lock().unwrap()[0].content_length,
        17,
        "Locust records len(response.content)"
    );
}

/// Keeps each connection open and answers every request on it; returns the number of
/// connections accepted so far.
async fn keep_alive_server() -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(0usize));
    let count = accepted.clone();
    tokio::spawn(async move {
        for _ in 0..10 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            *count.lock().unwrap() += 1;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                // One request per read is enough for a client that waits for each answer.
                for _ in 0..100 {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if sock.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), accepted)
}

#[tokio::test]
async fn a_parked_connection_is_resumed_not_reopened() {
    let (base, accepted) = keep_alive_server().await;
    let sink = Arc::new(Collect::default());
    let mut cx = skein_api::engine_support::UserContext::new(sink.clone());
    let mut u = user(&base);
    for _ in 0..4 {
        let r = cx.run(None, Request::get("/x").send(&mut u)).await;
        assert!(r.ok(), "{:?}", r.failure);
        cx.park();
        // Parking twice, or with nothing to park, changes nothing.
        cx.park();
    }
    assert_eq!(sink.0.lock().unwrap().len(), 4);
    assert_eq!(
        *accepted.lock().unwrap(),
        1,
        "parking must keep the connection"
    );
}

#[tokio::test]
async fn a_parked_connection_the_server_closed_is_replaced_not_failed() {
    let (base, seen) = closing_server(Duration::from_millis(30)).await;
    let sink = Arc::new(Collect::default());
    let mut cx = skein_api::engine_support::UserContext::new(sink.clone());
    let mut u = user(&base);
    for _ in 0..3 {
        let r = cx.run(None, Request::get("/x").send(&mut u)).await;
        assert!(r.ok(), "{:?}", r.failure);
        cx.park();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen.lock().unwrap().len(), 3, "one connection per request");
    assert!(sink.0.lock().unwrap().iter().all(|r| r.failure.is_none()));
}
