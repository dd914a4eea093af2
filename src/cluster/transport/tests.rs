//! Loopback tests of the ZeroMQ transport (port 0, every wait bounded) and of its in-memory
//! twin, held to the same expectations.

use std::time::Duration;

use bytes::Bytes;
use zeromq::util::PeerIdentity;
use zeromq::{DealerSocket, Socket, SocketOptions, SocketSend, ZmqMessage};

use super::*;

const WAIT: Duration = Duration::from_secs(10);

fn quick() -> WorkerOptions {
    WorkerOptions {
        connect_timeout: Duration::from_secs(2),
        connect_attempts: 3,
        retry_pause: Duration::from_millis(100),
        ..WorkerOptions::default()
    }
}

async fn master() -> (MasterTransport, u16) {
    let master = MasterTransport::bind("127.0.0.1", 0, MasterOptions::default())
        .await
        .expect("bind");
    let port = master.local_addr().expect("bound").port();
    (master, port)
}

async fn next_master(master: &mut MasterTransport) -> MasterItem {
    tokio::time::timeout(WAIT, master.recv())
        .await
        .expect("a frame in time")
        .expect("master open")
}

async fn next_worker(worker: &mut WorkerTransport) -> WorkerItem {
    tokio::time::timeout(WAIT, worker.recv())
        .await
        .expect("a frame in time")
        .expect("worker open")
}

/// Sends until the master has its frame: a send right after a restart may go to the
/// connection that just died, so retry (boundedly), reconnecting on errors.
async fn send_until_heard(
    worker: &mut WorkerTransport,
    master: &mut MasterTransport,
    payload: &[u8],
) {
    for _ in 0..50 {
        if worker.send(payload.to_vec()).await.is_err() {
            let _ = worker.reconnect().await;
            continue;
        }
        if let Ok(Some(item)) =
            tokio::time::timeout(Duration::from_millis(200), master.recv()).await
        {
            assert_eq!(item, Ok((worker.node_id().to_string(), payload.to_vec())));
            return;
        }
    }
    panic!(
        "the master never heard {:?}",
        String::from_utf8_lossy(payload)
    );
}

#[tokio::test]
async fn two_workers_exchange_frames_routed_by_identity() {
    let (mut master, port) = master().await;
    let mut a = WorkerTransport::connect("127.0.0.1", port, "host-a_1", quick())
        .await
        .unwrap();
    let mut b = WorkerTransport::connect("127.0.0.1", port, "host-b_2", quick())
        .await
        .unwrap();

    a.send(b"from a".to_vec()).await.unwrap();
    b.send(b"from b".to_vec()).await.unwrap();
    let mut got = vec![
        next_master(&mut master).await,
        next_master(&mut master).await,
    ];
    got.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
    assert_eq!(
        got,
        vec![
            Ok(("host-a_1".to_string(), b"from a".to_vec())),
            Ok(("host-b_2".to_string(), b"from b".to_vec())),
        ]
    );

    master
        .send("host-b_2".into(), b"to b".to_vec())
        .await
        .unwrap();
    master
        .send("nobody".into(), b"lost".to_vec())
        .await
        .unwrap();
    master
        .send("host-a_1".into(), b"to a".to_vec())
        .await
        .unwrap();
    assert_eq!(next_worker(&mut a).await, Ok(b"to a".to_vec()));
    assert_eq!(next_worker(&mut b).await, Ok(b"to b".to_vec()));
    // Nothing else arrived: not the frame for "nobody", not the other worker's.
    for worker in [&mut a, &mut b] {
        let extra = tokio::time::timeout(Duration::from_millis(200), worker.recv()).await;
        assert!(extra.is_err(), "unexpected {extra:?}");
    }
}

#[tokio::test]
async fn a_worker_reconnects_to_a_master_rebound_on_the_same_port() {
    let (mut master, port) = master().await;
    let mut worker = WorkerTransport::connect("127.0.0.1", port, "vm_reconnect", quick())
        .await
        .unwrap();
    send_until_heard(&mut worker, &mut master, b"before").await;

    drop(master);
    // The old listener closes asynchronously: retry the bind for a bounded time.
    let mut rebound = None;
    for _ in 0..50 {
        match MasterTransport::bind("127.0.0.1", port, MasterOptions::default()).await {
            Ok(m) => {
                rebound = Some(m);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let mut master = rebound.expect("rebound the port");

    worker.reconnect().await.expect("reconnect");
    send_until_heard(&mut worker, &mut master, b"after").await;
    master
        .send("vm_reconnect".into(), b"welcome back".to_vec())
        .await
        .unwrap();
    assert_eq!(next_worker(&mut worker).await, Ok(b"welcome back".to_vec()));
}

/// zmq.rs does not always notice a master that went away: sends may keep returning `Ok`
/// (observed here for 5 s), which is why master heartbeat silence must trigger the reconnect.
/// What holds: sends return promptly, and a reconnect to nothing fails within its bounds.
#[tokio::test]
async fn with_the_master_gone_sends_return_and_reconnect_gives_up() {
    let (master, port) = master().await;
    let mut worker = WorkerTransport::connect("127.0.0.1", port, "vm_gone", quick())
        .await
        .unwrap();
    drop(master);
    for _ in 0..5 {
        let sent =
            tokio::time::timeout(Duration::from_secs(2), worker.send(b"anyone?".to_vec())).await;
        assert!(sent.is_ok(), "a send hung with no master");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let error = worker.reconnect().await.expect_err("nobody listens");
    assert!(
        matches!(error, TransportError::Connect { attempts: 1, .. }),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(
        worker.send(b"x".to_vec()).await,
        Err(TransportError::NotConnected(_))
    ));
}

#[tokio::test]
async fn megabyte_frames_both_ways() {
    let (mut master, port) = master().await;
    let mut worker = WorkerTransport::connect("127.0.0.1", port, "vm_big", quick())
        .await
        .unwrap();
    let up: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let down: Vec<u8> = up.iter().rev().copied().collect();
    worker.send(up.clone()).await.unwrap();
    assert_eq!(
        next_master(&mut master).await,
        Ok(("vm_big".to_string(), up))
    );
    master.send("vm_big".into(), down.clone()).await.unwrap();
    assert_eq!(next_worker(&mut worker).await, Ok(down));
}

#[tokio::test]
async fn oversized_frames_are_reported_not_delivered() {
    let options = MasterOptions {
        max_frame_bytes: 1000,
        ..MasterOptions::default()
    };
    let mut master = MasterTransport::bind("127.0.0.1", 0, options)
        .await
        .unwrap();
    let port = master.local_addr().unwrap().port();
    let worker = WorkerTransport::connect("127.0.0.1", port, "vm_huge", quick())
        .await
        .unwrap();
    worker.send(vec![7; 1001]).await.unwrap();
    worker.send(vec![7; 1000]).await.unwrap();
    assert_eq!(
        next_master(&mut master).await,
        Err(BadFrame::Oversized {
            identity: "vm_huge".into(),
            len: 1001,
            max: 1000
        })
    );
    assert_eq!(
        next_master(&mut master).await,
        Ok(("vm_huge".into(), vec![7; 1000]))
    );
}

#[tokio::test]
async fn bad_framing_is_reported_with_the_sender() {
    let (mut master, port) = master().await;
    let raw = |identity: &[u8]| {
        let mut options = SocketOptions::default();
        options.peer_identity(PeerIdentity::try_from(identity).unwrap());
        DealerSocket::with_options(options)
    };
    let endpoint = zmq::endpoint_for_tests("127.0.0.1", port);

    let mut not_utf8 = raw(&[0xff, 0xfe, b'x']);
    not_utf8.connect(&endpoint).await.unwrap();
    not_utf8.send(ZmqMessage::from("hello")).await.unwrap();
    assert_eq!(
        next_master(&mut master).await,
        Err(BadFrame::NonUtf8Identity {
            identity_hex: "fffe78".into()
        })
    );

    let mut chatty = raw(b"vm_parts");
    chatty.connect(&endpoint).await.unwrap();
    let mut two = ZmqMessage::from("");
    two.push_back(Bytes::from_static(b"payload"));
    chatty.send(two).await.unwrap();
    assert_eq!(
        next_master(&mut master).await,
        Err(BadFrame::PartCount {
            identity: "vm_parts".into(),
            parts: 2
        })
    );
    chatty.send(ZmqMessage::from(Bytes::new())).await.unwrap();
    assert_eq!(
        next_master(&mut master).await,
        Err(BadFrame::Empty {
            identity: "vm_parts".into()
        })
    );
}

#[tokio::test]
async fn a_busy_port_is_a_bind_error_worded_like_locust() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let error = MasterTransport::bind("127.0.0.1", port, MasterOptions::default())
        .await
        .expect_err("the port is taken");
    let TransportError::Bind { addr, source } = &error else {
        panic!("not a bind error: {error:?}");
    };
    assert_eq!(addr, &format!("127.0.0.1:{port}"));
    assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
    let text = error.to_string();
    assert!(
        text.starts_with("Socket bind failure: Address already in use")
            && text.ends_with(&format!("(addr='tcp://127.0.0.1:{port}')")),
        "{text}"
    );
}

#[tokio::test]
async fn star_binds_every_interface() {
    let master = MasterTransport::bind("*", 0, MasterOptions::default())
        .await
        .unwrap();
    let addr = master.local_addr().unwrap();
    assert!(addr.ip().is_unspecified(), "{addr}");
    // IPv4 workers reach it whichever family was bound.
    let mut master = master;
    let worker = WorkerTransport::connect("127.0.0.1", addr.port(), "vm_star", quick())
        .await
        .unwrap();
    worker.send(b"v4".to_vec()).await.unwrap();
    assert_eq!(
        next_master(&mut master).await,
        Ok(("vm_star".into(), b"v4".to_vec()))
    );
}

#[tokio::test]
async fn bad_node_ids_are_refused_before_connecting() {
    for bad in [String::new(), "x".repeat(256), "\0vm".to_string()] {
        let error = WorkerTransport::connect("127.0.0.1", 1, &bad, quick())
            .await
            .expect_err("refused");
        assert!(
            matches!(error, TransportError::BadNodeId { .. }),
            "{error:?}"
        );
    }
    assert!(validate_node_id(&"é".repeat(127)).is_ok());
    assert!(validate_node_id(&"é".repeat(128)).is_err());
}

#[tokio::test]
async fn connecting_to_nothing_gives_up_after_the_attempts() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let options = WorkerOptions {
        connect_timeout: Duration::from_millis(300),
        connect_attempts: 2,
        retry_pause: Duration::from_millis(50),
        ..WorkerOptions::default()
    };
    let started = std::time::Instant::now();
    let error = WorkerTransport::connect("127.0.0.1", port, "vm_alone", options)
        .await
        .expect_err("nobody listens");
    assert!(
        matches!(error, TransportError::Connect { attempts: 2, .. }),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn close_flushes_the_last_frames() {
    let (mut master, port) = master().await;
    let worker = WorkerTransport::connect("127.0.0.1", port, "vm_bye", quick())
        .await
        .unwrap();
    worker.send(b"stats".to_vec()).await.unwrap();
    worker.send(b"quit".to_vec()).await.unwrap();
    worker.close(Duration::from_millis(200)).await;
    assert_eq!(
        next_master(&mut master).await,
        Ok(("vm_bye".into(), b"stats".to_vec()))
    );
    assert_eq!(
        next_master(&mut master).await,
        Ok(("vm_bye".into(), b"quit".to_vec()))
    );
}

#[test]
fn node_ids_have_locusts_shape() {
    let id = node_id_from("my_vm", [0xab; 16]);
    assert_eq!(id, "my-vm_abababababab4bababababababababab");
    let (host, hex) = id.split_once('_').unwrap();
    assert_eq!(host, "my-vm");
    assert_eq!(hex.len(), 32);
    assert_eq!(
        node_id_from("", [0; 16]),
        "localhost_00000000000040008000000000000000"
    );
    assert!(validate_node_id(&node_id_from(&"h".repeat(400), [1; 16])).is_ok());

    let fresh = hostname_hex32();
    assert!(validate_node_id(&fresh).is_ok());
    assert_ne!(fresh, hostname_hex32());
    assert_eq!(fresh.rsplit_once('_').unwrap().1.len(), 32);
}

mod memory_twin {
    use super::*;
    use crate::cluster::transport::memory::Network;

    #[tokio::test]
    async fn routes_by_identity_and_drops_unknown_ones() {
        let net = Network::new();
        let mut master = net.bind(MasterOptions::default());
        let mut a = net.connect("host-a_1").await.unwrap();
        let mut b = net.connect("host-b_2").await.unwrap();
        a.send(b"from a".to_vec()).await.unwrap();
        assert_eq!(
            next_master(&mut master).await,
            Ok(("host-a_1".into(), b"from a".to_vec()))
        );
        b.send(Vec::new()).await.unwrap();
        assert_eq!(
            next_master(&mut master).await,
            Err(BadFrame::Empty {
                identity: "host-b_2".into()
            })
        );
        master
            .send("nobody".into(), b"lost".to_vec())
            .await
            .unwrap();
        master
            .send("host-b_2".into(), b"to b".to_vec())
            .await
            .unwrap();
        assert_eq!(next_worker(&mut b).await, Ok(b"to b".to_vec()));
        let extra = tokio::time::timeout(Duration::from_millis(100), a.recv()).await;
        assert!(extra.is_err(), "unexpected {extra:?}");
    }

    #[tokio::test]
    async fn reconnects_to_a_rebound_master() {
        let net = Network::new();
        let master = net.bind(MasterOptions::default());
        let mut worker = net.connect("vm_1").await.unwrap();
        drop(master);
        assert!(matches!(
            worker.send(b"x".to_vec()).await,
            Err(TransportError::NotConnected(_))
        ));
        assert!(worker.reconnect().await.is_err(), "no master bound yet");
        let mut master = net.bind(MasterOptions::default());
        worker.reconnect().await.unwrap();
        worker.send(b"again".to_vec()).await.unwrap();
        assert_eq!(
            next_master(&mut master).await,
            Ok(("vm_1".into(), b"again".to_vec()))
        );
        master.send("vm_1".into(), b"hi".to_vec()).await.unwrap();
        assert_eq!(next_worker(&mut worker).await, Ok(b"hi".to_vec()));
    }

    #[tokio::test]
    async fn refuses_bad_node_ids_and_a_missing_master() {
        let net = Network::new();
        assert!(matches!(
            net.connect("").await,
            Err(TransportError::BadNodeId { .. })
        ));
        assert!(matches!(
            net.connect("vm_1").await,
            Err(TransportError::Connect { .. })
        ));
    }
}
