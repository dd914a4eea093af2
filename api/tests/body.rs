//! Response bodies are streamed: the recorded length is the whole decoded size, but a response
//! keeps at most its cap in memory, for a huge plain body and for a gzip bomb, with several
//! users at once; a check that needs the whole of a truncated body fails and says why.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use goose::config::GooseConfiguration;
use goose::goose::GooseUser;
use skein_api::engine_support::{with_sink, RecordFuture, RequestSink};
use skein_api::{Failure, Request, RequestRecord};
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

const BIG: u64 = 64 * 1024 * 1024;
const BOMB: u64 = 128 * 1024 * 1024;
const CAP: usize = 1024 * 1024;

/// A gzip stream of `BOMB` zero bytes (about 128 KB on the wire).
fn bomb() -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..BOMB >> 20 {
        enc.write_all(&zeros).unwrap();
    }
    Bytes::from(enc.finish().unwrap())
}

/// `/big`: `BIG` bytes streamed in 64 KiB writes; `/bomb`: the gzip bomb; `/json`: a small
/// JSON body. Keeps connections alive.
async fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bomb = bomb();
    tokio::spawn(async move {
        for _ in 0..20 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let bomb = bomb.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                for _ in 0..20 {
                    let n = match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let req = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
                    let ok = match path.as_str() {
                        "/big" => {
                            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {BIG}\r\n\r\n");
                            let chunk = vec![b'x'; 64 * 1024];
                            let mut ok = sock.write_all(head.as_bytes()).await.is_ok();
                            for _ in 0..BIG / chunk.len() as u64 {
                                ok = ok && sock.write_all(&chunk).await.is_ok();
                            }
                            ok
                        }
                        "/bomb" => {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                                bomb.len()
                            );
                            sock.write_all(head.as_bytes()).await.is_ok()
                                && sock.write_all(&bomb).await.is_ok()
                        }
                        _ => sock
                            .write_all(
                                b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"a\": [1]} ",
                            )
                            .await
                            .is_ok(),
                    };
                    if !ok {
                        return;
                    }
                }
            });
        }
    });
    base
}

fn user(base: &str) -> GooseUser {
    GooseUser::single(base.parse().unwrap(), &GooseConfiguration::default()).unwrap()
}

/// Each of `users` users requests `path` twice; returns the bytes each response kept and its
/// content length, and the records.
async fn run(
    base: &str,
    path: &'static str,
    users: usize,
) -> (Vec<(usize, u64)>, Vec<RequestRecord>) {
    let sink = Arc::new(Collect::default());
    let kept = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..users {
        let (base, sink, kept) = (base.to_string(), sink.clone(), kept.clone());
        tasks.push(tokio::spawn(with_sink(sink, async move {
            let mut u = user(&base);
            for _ in 0..2 {
                let r = Request::get(path).max_body_size(CAP).send(&mut u).await;
                assert!(r.ok(), "{:?}", r.failure);
                assert!(r.truncated());
                kept.lock().unwrap().push((r.body.len(), r.content_length));
            }
        })));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let kept = kept.lock().unwrap().clone();
    let recs = sink.0.lock().unwrap().clone();
    (kept, recs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_body_is_counted_in_full_and_kept_up_to_the_cap() {
    let base = server().await;
    let (kept, recs) = run(&base, "/big", 4).await;
    assert_eq!(kept.len(), 8);
    assert!(kept.iter().all(|&k| k == (CAP, BIG)), "{kept:?}");
    assert!(recs
        .iter()
        .all(|r| r.content_length == BIG && r.failure.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_is_decoded_in_bounded_memory() {
    let base = server().await;
    let (kept, recs) = run(&base, "/bomb", 3).await;
    assert_eq!(kept.len(), 6);
    assert!(kept.iter().all(|&k| k == (CAP, BOMB)), "{kept:?}");
    assert!(recs.iter().all(|r| r.content_length == BOMB));
}

#[tokio::test]
async fn a_check_that_needs_the_whole_truncated_body_fails_clearly() {
    let base = server().await;
    let sink = Arc::new(Collect::default());
    let out = sink.clone();
    with_sink(sink, async move {
        let mut u = user(&base);
        // The small JSON body fits: the check runs as usual.
        let r = Request::get("/json")
            .check(|r| {
                r.json::<serde_json::Value>()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .send(&mut u)
            .await;
        assert!(r.ok(), "{:?}", r.failure);
        // Cut at 4 bytes, a JSON check cannot judge it.
        let r = Request::get("/json")
            .max_body_size(4)
            .check(|r| {
                r.json::<serde_json::Value>()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .send(&mut u)
            .await;
        assert_eq!(r.body.len(), 4);
        // A check on the text that "passes" on the part is failed too.
        let t = Request::get("/json")
            .max_body_size(4)
            .check(|r| {
                if r.text().starts_with('{') {
                    Ok(())
                } else {
                    Err("no".into())
                }
            })
            .send(&mut u)
            .await;
        assert!(!t.ok());
        // A check that looks only at the status is unaffected by the cap.
        let s = Request::get("/json")
            .max_body_size(4)
            .check(|r| {
                if r.status == 200 {
                    Ok(())
                } else {
                    Err("status".into())
                }
            })
            .send(&mut u)
            .await;
        assert!(s.ok(), "{:?}", s.failure);
    })
    .await;
    let recs = out.0.lock().unwrap();
    let expected = "response body of 11 bytes is larger than the 4-byte cap (--max-body-size): \
                    only its first 4 bytes were kept, so a check on the whole body cannot run";
    assert_eq!(recs[1].failure, Some(Failure::Check(expected.to_string())));
    assert_eq!(recs[2].failure, Some(Failure::Check(expected.to_string())));
    assert_eq!(recs[1].content_length, 11);
}
