//! Each fault a hostile or broken server can produce, against a loopback server that produces
//! it, with the exact text Locust 2.47's `HttpUser` recorded for the same fault (measured with
//! real Locust against an equivalent Python server; the table is in the README).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use goose::config::GooseConfiguration;
use goose::goose::GooseUser;
use skein_api::engine_support::{with_sink, RecordFuture, RequestSink};
use skein_api::{Failure, Request, RequestRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

#[derive(Default)]
struct Collect(Mutex<Vec<RequestRecord>>);

impl RequestSink for Collect {
    fn record(&self, r: RequestRecord) -> RecordFuture<'_> {
        self.0.lock().unwrap().push(r);
        Box::pin(std::future::ready(()))
    }
}

/// Reads one request head; `None` when the connection ended.
async fn read_head(sock: &mut TcpStream) -> Option<String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while !data.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut buf).await.ok()?;
        if n == 0 || data.len() > 1 << 20 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&data).to_string();
    Some(head.split_whitespace().nth(1).unwrap_or("").to_string())
}

/// Closes with a TCP reset instead of a FIN.
fn reset(sock: TcpStream) {
    let _ = sock.set_zero_linger();
    drop(sock);
}

/// Answers by path with the fault of the same name; keeps connections alive otherwise.
async fn fault_server() -> (String, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for _ in 0..200 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                for _ in 0..100 {
                    let Some(path) = read_head(&mut sock).await else {
                        return;
                    };
                    let reply: Vec<u8> = match path.as_str() {
                        "/ok" => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
                        "/hang" => {
                            tokio::time::sleep(Duration::from_secs(20)).await;
                            return;
                        }
                        p if p.starts_with("/redirect/") => {
                            let n: u32 = p[10..].parse().unwrap_or(0);
                            format!("HTTP/1.1 302 Found\r\nLocation: /redirect/{}\r\nContent-Length: 0\r\n\r\n", n + 1)
                                .into_bytes()
                        }
                        "/status500" => b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec(),
                        "/status500boom" => b"HTTP/1.1 500 boom\r\nContent-Length: 0\r\n\r\n".to_vec(),
                        "/status404" => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                        "/status600" => b"HTTP/1.1 600 Weird\r\nContent-Length: 0\r\n\r\n".to_vec(),
                        "/reset" => return reset(sock),
                        "/close" => return,
                        "/resetbody" => {
                            let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
                            r.extend_from_slice(&[b'x'; 1000]);
                            let _ = sock.write_all(&r).await;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            return reset(sock);
                        }
                        "/short" => {
                            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello").await;
                            return;
                        }
                        "/shortchunked" => {
                            let _ = sock
                                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
                                .await;
                            return;
                        }
                        "/slowbody" => {
                            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello").await;
                            tokio::time::sleep(Duration::from_secs(20)).await;
                            return;
                        }
                        "/garbage" => {
                            let _ = sock.write_all(b"HELLO WORLD\r\n\r\n").await;
                            return;
                        }
                        "/garbage2" => {
                            let _ = sock.write_all(b"HTTP/1.1 abc OK\r\n\r\n").await;
                            return;
                        }
                        "/bigheader" => {
                            let mut r = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
                            r.extend_from_slice(&[b'a'; 70000]);
                            r.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
                            r
                        }
                        "/hugeheader" => {
                            let mut r = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
                            r.extend_from_slice(&[b'a'; 500000]);
                            r.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
                            r
                        }
                        "/manyheaders" => {
                            let mut r = b"HTTP/1.1 200 OK\r\n".to_vec();
                            for i in 0..101 {
                                r.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
                            }
                            r.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
                            r
                        }
                        "/badgzip" => {
                            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello".to_vec()
                        }
                        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                    };
                    if sock.write_all(&reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), port)
}

fn user(base: &str) -> GooseUser {
    GooseUser::single(base.parse().unwrap(), &GooseConfiguration::default()).unwrap()
}

/// Sends each request as one user and returns what was recorded.
async fn records(base: &str, requests: Vec<Request>) -> Vec<RequestRecord> {
    let sink = Arc::new(Collect::default());
    let out = sink.clone();
    let base = base.to_string();
    with_sink(sink, async move {
        let mut u = user(&base);
        for r in requests {
            r.send(&mut u).await;
        }
    })
    .await;
    let recs = out.0.lock().unwrap().clone();
    recs
}

/// The text of a failure without a response (the Python repr the record carries).
fn text(r: &RequestRecord) -> String {
    match &r.failure {
        Some(Failure::Connection(t)) | Some(Failure::Timeout(t)) => t.clone(),
        other => panic!("{} {}: not a fault: {other:?}", r.method, r.name),
    }
}

async fn one(path: &'static str) -> String {
    let (base, _) = fault_server().await;
    text(&records(&base, vec![Request::get(path)]).await[0])
}

#[tokio::test]
async fn port_closed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let recs = records(&format!("http://127.0.0.1:{port}"), vec![Request::get("/")]).await;
    assert_eq!(
        text(&recs[0]),
        "ConnectionRefusedError(111, 'Connection refused')"
    );
    assert_eq!(recs[0].content_length, 0);
}

#[tokio::test]
async fn read_timeout_names_host_port_and_timeout() {
    let (base, port) = fault_server().await;
    let recs = records(
        &base,
        vec![
            Request::get("/hang").timeout(Duration::from_millis(500)),
            Request::get("/hang").timeout(Duration::from_secs(1)),
        ],
    )
    .await;
    assert!(matches!(recs[0].failure, Some(Failure::Timeout(_))));
    assert_eq!(
        text(&recs[0]),
        format!(
            "ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool(host='127.0.0.1', port={port}): \
             Read timed out. (read timeout=0.5)\"))"
        )
    );
    assert!(
        text(&recs[1]).ends_with("(read timeout=1)\"))"),
        "{}",
        text(&recs[1])
    );
}

#[tokio::test]
async fn body_stalled_past_the_timeout() {
    let (base, port) = fault_server().await;
    let recs = records(
        &base,
        vec![Request::get("/slowbody").timeout(Duration::from_millis(300))],
    )
    .await;
    assert_eq!(
        text(&recs[0]),
        format!(
            "ReadTimeoutError(\"HTTPConnectionPool(host='127.0.0.1', port={port}): Read timed out.\")"
        )
    );
}

/// A listener that never accepts, its accept queue full: the kernel drops further SYNs, so
/// connecting times out (as real Locust showed against the same setup).
#[tokio::test]
async fn connect_timeout() {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    // With a backlog of 0 the queue holds one connection; two more make sure it is full.
    let _first = TcpStream::connect(addr).await.unwrap();
    let fillers: Vec<_> = (0..2)
        .map(|_| tokio::spawn(TcpStream::connect(addr)))
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let recs = records(
        &format!("http://{addr}"),
        vec![Request::get("/").timeout(Duration::from_millis(500))],
    )
    .await;
    assert_eq!(
        text(&recs[0]),
        format!(
            "ConnectTimeoutError(<HTTPConnection(host='127.0.0.1', port={}) at 0x....>, \
             'Connection to 127.0.0.1 timed out. (connect timeout=0.5)')",
            addr.port()
        )
    );
    for f in fillers {
        f.abort();
    }
    drop(listener);
}

#[tokio::test]
async fn redirect_loop_is_named_by_its_last_hop() {
    let (base, _) = fault_server().await;
    let recs = records(
        &base,
        vec![
            Request::get("/redirect/0"),
            Request::get("/redirect/0").name("loop"),
        ],
    )
    .await;
    assert_eq!(text(&recs[0]), "TooManyRedirects('Exceeded 30 redirects.')");
    // requests raised on the 31st response, whose request was for /redirect/30.
    assert_eq!(recs[0].name, "/redirect/30");
    assert_eq!(recs[1].name, "loop");
}

#[tokio::test]
async fn status_errors_carry_the_name_and_the_servers_reason() {
    let (base, _) = fault_server().await;
    let recs = records(
        &base,
        vec![
            Request::get("/status500").name("/api/v1/classify [invalid top_k]"),
            Request::get("/status500boom"),
            Request::get("/status404"),
            Request::get("/status600"),
        ],
    )
    .await;
    let status = |r: &RequestRecord| match &r.failure {
        Some(Failure::Status { code, reason, url }) => (*code, reason.clone(), url.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        status(&recs[0]),
        (
            500,
            "Internal Server Error".to_string(),
            "/api/v1/classify [invalid top_k]".to_string()
        )
    );
    assert_eq!(
        status(&recs[1]),
        (500, "boom".to_string(), "/status500boom".to_string())
    );
    assert_eq!(
        status(&recs[2]),
        (404, "Not Found".to_string(), "/status404".to_string())
    );
    // requests' raise_for_status ignores codes of 600 and more.
    assert!(recs[3].failure.is_none(), "{:?}", recs[3].failure);
}

#[tokio::test]
async fn reset_or_close_before_the_response() {
    assert_eq!(
        one("/reset").await,
        "ConnectionResetError(104, 'Connection reset by peer')"
    );
    assert_eq!(
        one("/close").await,
        "RemoteDisconnected('Remote end closed connection without response')"
    );
}

#[tokio::test]
async fn a_reused_connection_reset_is_the_same_fault() {
    let (base, _) = fault_server().await;
    let recs = records(
        &base,
        vec![
            Request::get("/ok"),
            Request::get("/reset"),
            Request::get("/ok"),
            Request::get("/close"),
        ],
    )
    .await;
    assert_eq!(
        text(&recs[1]),
        "ConnectionResetError(104, 'Connection reset by peer')"
    );
    assert_eq!(
        text(&recs[3]),
        "RemoteDisconnected('Remote end closed connection without response')"
    );
}

#[tokio::test]
async fn a_post_to_a_resetting_server() {
    let (base, _) = fault_server().await;
    let recs = records(
        &base,
        vec![Request::post("/reset").body(&b"0123456789"[..])],
    )
    .await;
    assert_eq!(
        text(&recs[0]),
        "ConnectionResetError(104, 'Connection reset by peer')"
    );
}

#[tokio::test]
async fn broken_bodies() {
    assert_eq!(
        one("/resetbody").await,
        "ChunkedEncodingError(ProtocolError(\"Connection broken: ConnectionResetError(104, \
         'Connection reset by peer')\", ConnectionResetError(104, 'Connection reset by peer')))"
    );
    assert_eq!(
        one("/short").await,
        "ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(5 bytes read, 95 \
         more expected)', IncompleteRead(5 bytes read, 95 more expected)))"
    );
    assert_eq!(
        one("/shortchunked").await,
        "ChunkedEncodingError(ProtocolError('Response ended prematurely'))"
    );
}

#[tokio::test]
async fn heads_http_client_rejects() {
    assert_eq!(one("/garbage").await, "BadStatusLine('HELLO WORLD\\r\\n')");
    assert_eq!(
        one("/garbage2").await,
        "BadStatusLine('HTTP/1.1 abc OK\\r\\n')"
    );
    let long = "LineTooLong('got more than 65536 bytes when reading header line')";
    assert_eq!(one("/bigheader").await, long);
    assert_eq!(one("/hugeheader").await, long);
    assert_eq!(
        one("/manyheaders").await,
        "HTTPException('got more than 100 headers')"
    );
}

#[tokio::test]
async fn undecodable_gzip() {
    assert_eq!(
        one("/badgzip").await,
        "ContentDecodingError(DecodeError('Received response with content-encoding: gzip, but \
         failed to decode it.', error('Error -3 while decompressing data: incorrect header \
         check')))"
    );
}

#[tokio::test]
async fn a_failed_request_does_not_spoil_the_next() {
    let (base, _) = fault_server().await;
    let recs = records(
        &base,
        vec![
            Request::get("/garbage"),
            Request::get("/ok"),
            Request::get("/bigheader"),
            Request::get("/ok"),
        ],
    )
    .await;
    assert!(
        recs[1].failure.is_none() && recs[3].failure.is_none(),
        "{recs:?}"
    );
}
