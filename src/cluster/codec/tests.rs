use super::*;
use crate::stats::{PyNum, RequestStats};

/// Frames printed by Locust 2.47.0's `Message.serialize()` (`golden_frames.py` next to it).
const GOLDEN: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/locust/protocol/golden-frames.txt"
));

const W: &str = "vm_80a2f069ecf5491e88136703992bbb86";

struct Golden {
    kind: &'static str,
    direction: &'static str,
    name: &'static str,
    bytes: Vec<u8>,
}

fn golden() -> Vec<Golden> {
    let rows: Vec<Golden> = GOLDEN
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 4, "a golden line: {line}");
            Golden {
                kind: f[0],
                direction: f[1],
                name: f[2],
                bytes: hex::decode(f[3]).expect("hex"),
            }
        })
        .collect();
    assert!(rows.len() > 50, "the golden file is incomplete");
    rows
}

fn find(name: &str, direction: &str) -> Vec<u8> {
    golden()
        .into_iter()
        .find(|g| g.kind == "ok" && g.name == name && g.direction == direction)
        .unwrap_or_else(|| panic!("no golden frame {direction}/{name}"))
        .bytes
}

fn counts(pairs: &[(&str, u64)]) -> ClassCounts {
    ClassCounts(pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect())
}

fn to_master(node: &str, message: ToMaster) -> Frame<ToMaster> {
    Frame {
        message,
        node_id: node.into(),
    }
}

fn to_worker(message: ToWorker) -> Frame<ToWorker> {
    Frame {
        message,
        node_id: W.into(),
    }
}

/// The messages skein builds, which must be byte-identical to Locust's.
fn expected_to_master() -> Vec<(&'static str, Frame<ToMaster>)> {
    vec![
        (
            "client_ready",
            to_master(W, ToMaster::ClientReady(Version::Named(LOCUST_VERSION.into()))),
        ),
        ("client_ready_unchecked", to_master(W, ToMaster::ClientReady(Version::Unchecked))),
        (
            "heartbeat",
            to_master(
                W,
                ToMaster::Heartbeat(Heartbeat {
                    state: WorkerState::Running,
                    cpu_percent: 1.5,
                    memory_bytes: Some(55558144),
                }),
            ),
        ),
        (
            "heartbeat_idle",
            to_master(
                W,
                ToMaster::Heartbeat(Heartbeat {
                    state: WorkerState::Ready,
                    cpu_percent: 0.0,
                    memory_bytes: Some(0),
                }),
            ),
        ),
        ("stats_empty", to_master(W, ToMaster::Stats(Box::new(empty_stats())))),
        ("spawning", to_master(W, ToMaster::Spawning)),
        (
            "spawning_complete",
            to_master(
                W,
                ToMaster::SpawningComplete(SpawnedUsers {
                    user_classes_count: counts(&[("HeavyUser", 2), ("LightUser", 1)]),
                    user_count: 3,
                }),
            ),
        ),
        ("client_stopped", to_master(W, ToMaster::ClientStopped)),
        ("quit", to_master(W, ToMaster::Quit)),
        (
            "exception",
            to_master(
                W,
                ToMaster::Exception(ExceptionReport {
                    msg: "intentional exception from LightUser".into(),
                    traceback: "  File \"/project/locustfile.py\", line 32, in boom\n    raise ValueError(\"intentional\")\n".into(),
                }),
            ),
        ),
        (
            "logs",
            to_master(
                W,
                ToMaster::Logs(LogsReport {
                    worker_id: W.into(),
                    logs: vec![
                        "[2026-11-27 19:30:12,270] vm/INFO/locust.main: Starting Locust 2.47.0".into(),
                        "é ünïcode".into(),
                    ],
                }),
            ),
        ),
        (
            "locustfile",
            to_master(
                "vm_download_locustfile_0a1b",
                ToMaster::Locustfile {
                    version: LOCUST_VERSION.into(),
                },
            ),
        ),
    ]
}

fn expected_to_worker() -> Vec<(&'static str, Frame<ToWorker>)> {
    let url = "http://127.0.0.1:18765";
    vec![
        ("ack", to_worker(ToWorker::Ack { index: 0 })),
        ("ack_large", to_worker(ToWorker::Ack { index: 300 })),
        ("heartbeat", to_worker(ToWorker::Heartbeat)),
        (
            "spawn",
            to_worker(ToWorker::Spawn(Spawn {
                arrival: None,
                timestamp: 1795808251.2074518,
                user_classes_count: counts(&[("HeavyUser", 4), ("LightUser", 1)]),
                host: Some(url.into()),
                stop_timeout: Some(0.0),
                parsed_options: vec![
                    ("host".into(), Value::str(url)),
                    ("num_users".into(), Value::Int(5)),
                    ("spawn_rate".into(), Value::Float(5.0)),
                    ("headless".into(), Value::Bool(true)),
                    ("tags".into(), Value::Nil),
                    ("user_classes".into(), Value::Array(vec![])),
                    ("stop_timeout".into(), Value::Int(0)),
                ],
            })),
        ),
        (
            "spawn_no_host",
            to_worker(ToWorker::Spawn(Spawn {
                arrival: None,
                timestamp: 1.0,
                user_classes_count: counts(&[("A", 0)]),
                host: None,
                stop_timeout: None,
                parsed_options: vec![],
            })),
        ),
        (
            "spawning_complete",
            to_worker(ToWorker::SpawningComplete { user_count: 5 }),
        ),
        ("stop", to_worker(ToWorker::Stop)),
        ("quit", to_worker(ToWorker::Quit)),
        ("reconnect", to_worker(ToWorker::Reconnect)),
        (
            "update_user_class",
            to_worker(ToWorker::UpdateUserClass(UserClassUpdate {
                user_class_name: "HeavyUser".into(),
                settings: vec![
                    ("weight".into(), Value::Int(3)),
                    ("fixed_count".into(), Value::Int(0)),
                    ("tasks".into(), Value::Array(vec![Value::str("index")])),
                ],
            })),
        ),
        (
            "locustfile_files",
            to_worker(ToWorker::Locustfile(LocustfileReply::Files(vec![
                LocustfileSource::File {
                    filename: "locustfile.py".into(),
                    contents: "from locust import User\n".into(),
                },
                LocustfileSource::Url("https://x/l.py".into()),
            ]))),
        ),
        (
            "locustfile_error",
            to_worker(ToWorker::Locustfile(LocustfileReply::Error(
                "locustfile must be a full path".into(),
            ))),
        ),
    ]
}

/// An idle worker's report, built by `stats/` itself (the reuse the codec relies on).
fn empty_stats() -> StatsPayload {
    let mut stats = RequestStats::new(1795807812.2711236);
    StatsPayload {
        open: None,
        sent_at: None,
        report: stats.take_report(1795807812.2711236),
        user_classes_count: counts(&[("HeavyUser", 0), ("LightUser", 0)]),
        user_count: Some(0),
    }
}

#[test]
fn encodes_every_message_as_locust_does() {
    let mut checked = 0;
    for (name, frame) in expected_to_master() {
        let want = find(name, "to_master");
        assert_eq!(
            hex::encode(frame.encode().unwrap()),
            hex::encode(&want),
            "{name}"
        );
        assert_eq!(
            Frame::<ToMaster>::decode(&want).as_ref(),
            Ok(&frame),
            "{name}"
        );
        checked += 1;
    }
    for (name, frame) in expected_to_worker() {
        let want = find(name, "to_worker");
        assert_eq!(
            hex::encode(frame.encode().unwrap()),
            hex::encode(&want),
            "{name}"
        );
        assert_eq!(
            Frame::<ToWorker>::decode(&want).as_ref(),
            Ok(&frame),
            "{name}"
        );
        checked += 1;
    }
    // Every `ok` frame but the busy stats report (checked field by field below) was built.
    let ok = golden().iter().filter(|g| g.kind == "ok").count();
    assert_eq!(checked, ok - 1);
}

#[test]
fn every_golden_frame_round_trips_byte_for_byte() {
    for g in golden().iter().filter(|g| g.kind == "ok") {
        let again = if g.direction == "to_master" {
            Frame::<ToMaster>::decode(&g.bytes).map(|f| f.encode().unwrap())
        } else {
            Frame::<ToWorker>::decode(&g.bytes).map(|f| f.encode().unwrap())
        };
        assert_eq!(
            again.map(hex::encode),
            Ok(hex::encode(&g.bytes)),
            "{}",
            g.name
        );
    }
}

#[test]
fn a_busy_stats_report_decodes_into_the_stats_wire_types() {
    let frame = Frame::<ToMaster>::decode(&find("stats_busy", "to_master")).unwrap();
    let ToMaster::Stats(p) = frame.message else {
        panic!("not stats: {:?}", frame.message);
    };
    assert_eq!(
        p.user_classes_count,
        counts(&[("HeavyUser", 3), ("LightUser", 1)])
    );
    assert_eq!(p.user_count, Some(4));
    let r = &p.report;
    assert_eq!(r.stats.len(), 2);
    assert_eq!(r.stats[0].response_times.get(120), 97);
    assert_eq!(r.stats[0].num_reqs_per_sec.get(1795807814), 298);
    assert!(matches!(r.stats[1].total_response_time, PyNum::Int(6)));
    assert!(matches!(r.stats[0].max_response_time, PyNum::Float(x) if x == 1250.5));
    assert_eq!(r.stats_total.num_none_requests, 1);
    let (key, err) = &r.errors.0[0];
    assert_eq!(key, &err.key(), "the worker's error key is skein's");
    assert_eq!(err.occurrences, 3);
    // Merged on a master as any report.
    let mut master = RequestStats::new(0.0);
    master.merge_report(&p.report, 0.0);
    assert_eq!(master.total().num_requests, 300);
    assert_eq!(master.errors().len(), 1);
}

#[test]
fn a_workers_own_report_survives_the_wire() {
    let mut worker = RequestStats::new(100.0);
    worker.log_request("GET", "/", Some(12.5), 10, 101.2);
    worker.log_request("GET", "/", None, 0, 101.7);
    worker.log_error("GET", "/", "HTTPError('500 Server Error')", 101.7);
    let payload = StatsPayload {
        open: None,
        sent_at: None,
        report: worker.take_report(102.0),
        user_classes_count: counts(&[("A", 2)]),
        user_count: Some(2),
    };
    let frame = to_master(W, ToMaster::Stats(Box::new(payload)));
    let back = Frame::<ToMaster>::decode(&frame.encode().unwrap()).unwrap();
    assert_eq!(back, frame);
    // A reset worker's next report is empty but still carries the total.
    let next = worker.take_report(105.0);
    assert!(next.stats.is_empty());
    assert_eq!(next.stats_total.num_requests, 0);
}

/// The label each malformed frame of the golden file is expected to get.
fn label(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::Msgpack(ValueError::Truncated) => "truncated",
        DecodeError::Msgpack(ValueError::TrailingBytes(_)) => "trailing",
        DecodeError::Msgpack(ValueError::InvalidUtf8) => "utf8",
        DecodeError::Msgpack(_) => "garbage",
        DecodeError::NotAnEnvelope(_) => "envelope",
        DecodeError::UnknownType { .. } => "unknown",
        DecodeError::Payload { problem, .. } => match problem {
            PayloadError::MissingKey(_) => "missing_key",
            PayloadError::WrongType { .. } | PayloadError::NotAMap(_) | PayloadError::Stats(_) => {
                "wrong_type"
            }
            PayloadError::OldWorker => "old_worker",
            PayloadError::IntVersion(_) => "int_version",
            PayloadError::UnknownState(_) => "unknown_state",
            PayloadError::TooMany { .. } => "too_many",
            PayloadError::Inconsistent(_) => "inconsistent",
        },
    }
}

fn decode_any(direction: &str, bytes: &[u8]) -> Result<(), DecodeError> {
    if direction == "to_master" {
        Frame::<ToMaster>::decode(bytes).map(drop)
    } else {
        Frame::<ToWorker>::decode(bytes).map(drop)
    }
}

#[test]
fn malformed_frames_are_errors_that_say_why() {
    let mut seen = 0;
    for g in golden().iter().filter(|g| g.kind.starts_with("bad:")) {
        let want = &g.kind["bad:".len()..];
        match decode_any(g.direction, &g.bytes) {
            Ok(()) => panic!("{}: decoded a malformed frame", g.name),
            Err(e) => {
                assert_eq!(label(&e), want, "{}: {e}", g.name);
                // Once the envelope is readable the sender is known, so it can be distrusted.
                if !matches!(e, DecodeError::Msgpack(_) | DecodeError::NotAnEnvelope(_)) {
                    assert_eq!(e.node_id(), Some(W), "{}", g.name);
                }
            }
        }
        seen += 1;
    }
    assert!(seen >= 30, "too few malformed frames: {seen}");
}

#[test]
fn no_prefix_or_corruption_of_a_real_frame_panics() {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rejected = 0;
    for g in golden().iter().filter(|g| g.kind == "ok") {
        for cut in 0..g.bytes.len() {
            assert!(
                decode_any(g.direction, &g.bytes[..cut]).is_err(),
                "{} cut at {cut}",
                g.name
            );
            rejected += 1;
        }
        // Bounded, deterministic corruption: 64 single-byte flips per frame.
        for _ in 0..64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bytes = g.bytes.clone();
            let i = (state as usize) % bytes.len();
            bytes[i] ^= (state >> 32) as u8 | 1;
            // Either outcome is fine; what matters is that it returns.
            let _ = decode_any(g.direction, &bytes);
        }
    }
    assert!(rejected > 1000);
}

#[test]
fn direction_matters_for_shared_type_names() {
    // A master's heartbeat (None) is not a worker's heartbeat (a dict).
    let bytes = find("heartbeat", "to_worker");
    let err = Frame::<ToMaster>::decode(&bytes).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::Payload {
            problem: PayloadError::NotAMap("None"),
            ..
        }
    ));
    assert!(Frame::<ToWorker>::decode(&find("heartbeat", "to_master")).is_ok());
}

#[test]
fn a_skein_workers_send_time_round_trips_and_is_absent_otherwise() {
    let mut p = empty_stats();
    p.sent_at = Some(1795807815.25);
    let frame = Frame {
        message: ToMaster::Stats(Box::new(p.clone())),
        node_id: "vm_1".to_string(),
    };
    let bytes = frame.encode().unwrap();
    let back = Frame::<ToMaster>::decode(&bytes).unwrap();
    assert_eq!(back.message, ToMaster::Stats(Box::new(p.clone())));
    // A Python worker's report has no such key, and decodes to None.
    p.sent_at = None;
    let plain = Frame {
        message: ToMaster::Stats(Box::new(p)),
        node_id: "vm_1".to_string(),
    }
    .encode()
    .unwrap();
    assert!(!plain.windows(13).any(|w| w == b"skein_sent_at"));
    assert!(bytes.windows(13).any(|w| w == b"skein_sent_at"));
}

#[test]
fn a_spawn_carries_an_arrival_share_only_when_set() {
    let mut s = Spawn {
        arrival: Some(ArrivalShare {
            rate: 13.5,
            max_in_flight: 7,
        }),
        timestamp: 1.0,
        user_classes_count: counts(&[("A", 0)]),
        host: None,
        stop_timeout: None,
        parsed_options: vec![],
    };
    let bytes = to_worker(ToWorker::Spawn(s.clone())).encode().unwrap();
    let back = Frame::<ToWorker>::decode(&bytes).unwrap();
    assert_eq!(back.message, ToWorker::Spawn(s.clone()));
    assert!(bytes.windows(13).any(|w| w == b"skein_arrival"));
    s.arrival = None;
    let plain = to_worker(ToWorker::Spawn(s)).encode().unwrap();
    assert!(!plain.windows(13).any(|w| w == b"skein_arrival"));
}

/// Frames with skein-only keys as Locust's own `Message.serialize()` writes them
/// (`skein_frames.py`, which also shows Locust's master merging such a report).
const SKEIN_GOLDEN: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/locust/protocol/skein-frames.txt"
));

fn skein_golden(name: &str) -> Vec<u8> {
    SKEIN_GOLDEN
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('\t'))
        .map(|h| hex::decode(h).expect("hex"))
        .unwrap_or_else(|| panic!("no skein golden frame {name}"))
}

fn open_report() -> crate::stats::OpenReport {
    use crate::stats::{ArrivalCounts, OpenEntry, OpenReport};
    let mut e = OpenEntry::new("/api/v1/health", "GET");
    e.num_requests = 3;
    e.total_corrected = 1530.5;
    e.total_uncorrected = 61.25;
    e.corrected.add(20, 1);
    e.corrected.add(1500, 2);
    e.uncorrected.add(20, 2);
    e.uncorrected.add(21, 1);
    OpenReport {
        counts: ArrivalCounts {
            scheduled: 12,
            started: 10,
            late: 3,
            dropped: 2,
        },
        entries: vec![e],
    }
}

fn open_frame() -> Frame<ToMaster> {
    let mut p = empty_stats();
    p.sent_at = Some(1795807815.25);
    p.open = Some(open_report());
    to_master(W, ToMaster::Stats(Box::new(p)))
}

#[test]
fn a_workers_open_model_report_is_the_bytes_python_writes() {
    let want = skein_golden("stats_open");
    let frame = open_frame();
    assert_eq!(hex::encode(frame.encode().unwrap()), hex::encode(&want));
    assert_eq!(Frame::<ToMaster>::decode(&want), Ok(frame));
    // Without an open model run the key is absent.
    let plain = to_master(W, ToMaster::Stats(Box::new(empty_stats())))
        .encode()
        .unwrap();
    assert!(!plain.windows(10).any(|w| w == b"skein_open"));
}

/// The open report's data with one change, decoded: the error it gives.
fn bad_open(change: impl FnOnce(&mut Vec<(Value, Value)>)) -> PayloadError {
    let bytes = open_frame().encode().unwrap();
    let Value::Array(mut env) = Value::decode(&bytes).unwrap() else {
        panic!("an envelope")
    };
    let Value::Map(data) = &mut env[1] else {
        panic!("a map")
    };
    let (_, open) = data
        .iter_mut()
        .find(|(k, _)| matches!(k, Value::Str(s) if s == "skein_open"))
        .unwrap();
    let Value::Map(open) = open else {
        panic!("a map")
    };
    change(open);
    match Frame::<ToMaster>::decode(&Value::Array(env).encode()) {
        Err(DecodeError::Payload { problem, .. }) => problem,
        other => panic!("not a payload error: {other:?}"),
    }
}

fn field<'a>(m: &'a mut [(Value, Value)], key: &str) -> &'a mut Value {
    &mut m
        .iter_mut()
        .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
        .unwrap()
        .1
}

fn first_row(open: &mut [(Value, Value)]) -> &mut Vec<(Value, Value)> {
    let Value::Array(rows) = field(open, "entries") else {
        panic!("a list")
    };
    let Value::Map(row) = &mut rows[0] else {
        panic!("a map")
    };
    row
}

#[test]
fn a_malformed_open_model_report_is_an_error_that_says_why() {
    let e = bad_open(|o| *field(o, "late") = Value::Int(-1));
    assert!(
        e.to_string().contains("late must be a non-negative int"),
        "{e}"
    );

    let e = bad_open(|o| *field(o, "entries") = Value::str("x"));
    assert!(
        e.to_string().contains("skein_open.entries must be a list"),
        "{e}"
    );

    let e = bad_open(|o| o.retain(|(k, _)| !matches!(k, Value::Str(s) if s == "dropped")));
    assert_eq!(e, PayloadError::MissingKey("dropped"));

    // Buckets that do not add up to the row's count.
    let e = bad_open(|o| *field(first_row(o), "num_requests") = Value::Int(4));
    assert!(
        e.to_string().contains("add up to 3, not its 4 requests"),
        "{e}"
    );

    let e = bad_open(|o| {
        *field(first_row(o), "corrected") = Value::Map(vec![(Value::str("20"), Value::Int(3))])
    });
    assert!(e.to_string().contains("a dict of int to int"), "{e}");

    let e = bad_open(|o| *field(first_row(o), "total_corrected") = Value::Float(f64::NAN));
    assert!(e.to_string().contains("total_corrected is NaN"), "{e}");

    // Absurd sizes are refused before anything is built from them.
    let e = bad_open(|o| {
        let row = Value::Map(first_row(o).clone());
        *field(o, "entries") = Value::Array(vec![row; super::MAX_OPEN_ROWS + 1]);
    });
    assert!(
        e.to_string()
            .contains("skein_open.entries: 10001 items, at most 10000 allowed"),
        "{e}"
    );
    let e = bad_open(|o| {
        let many = (0..=super::MAX_OPEN_BUCKETS as i64)
            .map(|k| (Value::Int(k), Value::Int(0)))
            .collect();
        *field(first_row(o), "uncorrected") = Value::Map(many);
    });
    assert!(e.to_string().contains("at most 100000 allowed"), "{e}");
}

#[test]
fn no_prefix_or_corruption_of_an_open_model_report_panics() {
    let bytes = open_frame().encode().unwrap();
    for n in 0..bytes.len() {
        let _ = Frame::<ToMaster>::decode(&bytes[..n]);
    }
    for i in 0..bytes.len() {
        for x in [0x00, 0xff, 0xc1, 0x7f] {
            let mut b = bytes.clone();
            b[i] = x;
            let _ = Frame::<ToMaster>::decode(&b);
        }
    }
}
