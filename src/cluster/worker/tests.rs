use super::*;
use crate::cluster::message::{LocustfileReply, UserClassUpdate};
use crate::stats::testdata::{py_literal, sample};
use crate::stats::RequestStats;

const T0: f64 = 1_795_808_250.0;

fn cfg() -> WorkerConfig {
    WorkerConfig::new(
        "vm_0123456789abcdef0123456789abcdef",
        vec!["HeavyUser".into(), "LightUser".into()],
    )
}

fn counts(v: &[(&str, u64)]) -> ClassCounts {
    ClassCounts(v.iter().map(|(k, n)| (k.to_string(), *n)).collect())
}

fn spawn(ts: f64, v: &[(&str, u64)], stop_timeout: Option<f64>) -> ToWorker {
    ToWorker::Spawn(Spawn {
        arrival: None,
        timestamp: ts,
        user_classes_count: counts(v),
        host: Some("http://127.0.0.1:18765".into()),
        stop_timeout,
        parsed_options: vec![("my_custom_arg".into(), Value::str("x"))],
    })
}

/// Effects as short strings, logs left out: `Send(m)` is its wire type (a heartbeat with its
/// state), the others their names.
fn names(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter_map(|e| {
            Some(match e {
                Effect::Send(ToMaster::Heartbeat(h)) => format!("heartbeat:{}", h.state.as_str()),
                Effect::Send(m) => m.type_name().to_string(),
                Effect::TestStart => "test_start".into(),
                Effect::Apply { .. } => "apply".into(),
                Effect::StopUsers => "stop_users".into(),
                Effect::ResetStats => "reset_stats".into(),
                Effect::SendReport => "stats".into(),
                Effect::Reconnect => "reconnect".into(),
                Effect::MasterLost => "master_lost".into(),
                Effect::Quit { code } => format!("exit:{code}"),
                Effect::Log(..) => return None,
            })
        })
        .collect()
}

fn logs(fx: &[Effect]) -> Vec<&str> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Log(_, t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn applied(fx: &[Effect]) -> ClassCounts {
    fx.iter()
        .find_map(|e| match e {
            Effect::Apply { counts, .. } => Some(counts.clone()),
            _ => None,
        })
        .expect("an Apply effect")
}

/// A worker acked at `T0` with index 0, effects of the handshake dropped.
fn registered(cfg: WorkerConfig) -> Worker {
    let (mut w, _) = Worker::new(cfg, T0);
    w.handle(ToWorker::Ack { index: 0 }, T0);
    w
}

/// `registered`, plus the master's first heartbeat (arming the loss timer) and a running spawn.
fn running(cfg: WorkerConfig, stop_timeout: f64) -> Worker {
    let mut w = registered(cfg);
    w.handle(ToWorker::Heartbeat, T0 + 0.01);
    w.handle(
        spawn(
            T0 + 0.5,
            &[("HeavyUser", 2), ("LightUser", 1)],
            Some(stop_timeout),
        ),
        T0 + 0.5,
    );
    w.spawned(counts(&[("HeavyUser", 2), ("LightUser", 1)]), T0 + 0.6);
    assert_eq!(w.state(), WorkerState::Running);
    w
}

/// Ticks every second over `(from, to]`, the master answering each heartbeat when `answer`.
fn ticks(w: &mut Worker, from: f64, to: f64, answer: bool) -> Vec<Effect> {
    let mut fx = Vec::new();
    let mut t = from + 1.0;
    while t <= to + 1e-9 {
        fx.extend(w.tick(t, 2.0, 1000));
        if answer {
            fx.extend(w.handle(ToWorker::Heartbeat, t + 0.001));
        }
        t += 1.0;
    }
    fx
}

fn count(fx: &[Effect], name: &str) -> usize {
    names(fx).iter().filter(|n| *n == name).count()
}

#[test]
fn transcript_a_worker_side_message_by_message() {
    // The fake worker of transcript A sent its first heartbeat before the ack; a real Locust
    // worker (transcript B) sends a heartbeat and a report right after it, as skein does.
    let text = sample("transcript_A.txt");
    let mut expected = Vec::new();
    let mut got = Vec::new();
    let mut w: Option<Worker> = None;
    let mut acked = false;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("[t+") else {
            continue;
        };
        let (t, rest) = rest.split_once("s] ").expect("time");
        let now = T0 + t.trim().parse::<f64>().expect("seconds");
        let (dir, rest) = rest.split_at(4);
        let Some(kind) = rest
            .trim()
            .strip_prefix('\'')
            .and_then(|r| r.split('\'').next())
        else {
            continue;
        };
        let data = line.find("data=").map(|i| py_literal(&line[i + 5..]));
        match dir {
            "SEND" => {
                if kind == "heartbeat" && !acked {
                    continue;
                }
                let state = data
                    .as_ref()
                    .and_then(|d| d.get("state"))
                    .and_then(|s| s.as_str());
                expected.push(match state {
                    Some(s) => format!("heartbeat:{s}"),
                    None => kind.to_string(),
                });
                if kind == "client_ready" {
                    let (worker, fx) = Worker::new(cfg(), now);
                    got.extend(fx);
                    w = Some(worker);
                } else if kind == "heartbeat" {
                    got.extend(w.as_mut().unwrap().tick(now, 1.5, 12_345_678));
                } else {
                    got.extend(w.as_mut().unwrap().on_deadline(now));
                }
            }
            "RECV" => {
                let w = w.as_mut().expect("client_ready first");
                let d = data.expect("data");
                let msg = match kind {
                    "ack" => ToWorker::Ack {
                        index: d["index"].as_u64().unwrap(),
                    },
                    "heartbeat" => ToWorker::Heartbeat,
                    "spawn" => {
                        let c: Vec<(String, u64)> = d["user_classes_count"]
                            .as_object()
                            .unwrap()
                            .iter()
                            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                            .collect();
                        ToWorker::Spawn(Spawn {
                            arrival: None,
                            timestamp: d["timestamp"].as_f64().unwrap(),
                            user_classes_count: ClassCounts(c),
                            host: d["host"].as_str().map(String::from),
                            stop_timeout: d["stop_timeout"].as_f64(),
                            parsed_options: vec![],
                        })
                    }
                    "spawning_complete" => ToWorker::SpawningComplete {
                        user_count: d["user_count"].as_u64().unwrap(),
                    },
                    "quit" => ToWorker::Quit,
                    other => panic!("unexpected {other}"),
                };
                let fx = w.handle(msg, now);
                match kind {
                    "ack" => {
                        acked = true;
                        expected.extend(["heartbeat:ready".to_string(), "stats".to_string()]);
                    }
                    "spawn" => assert_eq!(names(&fx), ["spawning", "test_start", "apply"]),
                    "quit" => assert_eq!(names(&fx), ["stop_users", "stats", "quit", "exit:0"]),
                    _ => {}
                }
                // The runner applies a spawn at once.
                let apply = fx.iter().find_map(|e| match e {
                    Effect::Apply { counts, .. } => Some(counts.clone()),
                    _ => None,
                });
                got.extend(fx);
                if let Some(c) = apply {
                    got.extend(w.spawned(c, now));
                }
            }
            _ => {}
        }
    }
    assert_eq!(wire(&got), expected);
    assert_eq!(count(&got, "stats"), 5, "first report, every 3 s, final");
    assert_eq!(count(&got, "heartbeat:running"), 10);
    let w = w.unwrap();
    assert!(w.is_finished());
    // The spawning_complete carries the applied counts.
    let complete = got.iter().find_map(|e| match e {
        Effect::Send(ToMaster::SpawningComplete(s)) => Some(s.clone()),
        _ => None,
    });
    assert_eq!(
        complete,
        Some(SpawnedUsers {
            user_classes_count: counts(&[("HeavyUser", 4), ("LightUser", 1)]),
            user_count: 5
        })
    );
}

/// Only what goes on the wire (a report counts as `stats`).
fn wire(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter(|e| matches!(e, Effect::Send(_) | Effect::SendReport))
        .flat_map(|e| names(std::slice::from_ref(e)))
        .collect()
}

#[test]
fn a_new_worker_sends_client_ready_and_no_heartbeat_before_the_ack() {
    let (mut w, fx) = Worker::new(cfg(), T0);
    assert_eq!(
        fx,
        [Effect::Send(ToMaster::ClientReady(Version::Named(
            "2.47.0+skein".into()
        )))]
    );
    assert!(!w.is_registered());
    assert_eq!(w.index(), None);
    assert!(names(&w.tick(T0 + 1.0, 1.0, 1)).is_empty());
    assert_eq!(w.next_deadline(), Some(T0 + 5.0));
}

#[test]
fn client_ready_is_resent_every_5s_61_times_then_exit_255() {
    let (mut w, mut all) = Worker::new(cfg(), T0);
    let mut last = T0;
    let mut rounds = 0;
    while let Some(t) = w.next_deadline() {
        assert!(t >= last);
        last = t;
        all.extend(w.on_deadline(t));
        rounds += 1;
        assert!(rounds < 1000, "no end");
    }
    assert_eq!(count(&all, "client_ready"), 61, "the first and 60 retries");
    assert_eq!(names(&all).last().unwrap(), "exit:255");
    assert_eq!(last, T0 + 61.0 * 5.0);
    assert!(w.is_finished());
    let l = logs(&all);
    assert!(l[0].contains("retry 1/60"), "{l:?}");
    assert!(l.last().unwrap().contains("giving up"));
    // Before the last deadline it had not given up.
    let (mut w2, _) = Worker::new(cfg(), T0);
    for i in 1..=60 {
        assert!(!names(&w2.on_deadline(T0 + i as f64 * 5.0)).contains(&"exit:255".into()));
    }
    assert_eq!(names(&w2.on_deadline(T0 + 304.9)), Vec::<String>::new());
    w2.handle(ToWorker::Ack { index: 4 }, T0 + 304.95);
    assert!(w2.is_registered());
    assert!(!names(&w2.on_deadline(T0 + 305.0)).contains(&"exit:255".into()));
}

#[test]
fn the_ack_registers_with_a_heartbeat_and_a_report_at_once_then_reports_every_3s() {
    let (mut w, _) = Worker::new(cfg(), T0);
    w.tick(T0 + 0.5, 3.5, 777);
    let fx = w.handle(ToWorker::Ack { index: 7 }, T0 + 1.0);
    assert_eq!(names(&fx), ["heartbeat:ready", "stats"]);
    assert_eq!(
        fx[0],
        Effect::Send(ToMaster::Heartbeat(Heartbeat {
            state: WorkerState::Ready,
            cpu_percent: 3.5,
            memory_bytes: Some(777)
        }))
    );
    assert_eq!(w.index(), Some(7));
    assert_eq!(w.state(), WorkerState::Ready);
    assert_eq!(w.next_deadline(), Some(T0 + 4.0));
    // No master heartbeat yet, so no loss timer either.
    let fx = ticks(&mut w, T0 + 1.0, T0 + 10.0, false);
    assert_eq!(count(&fx, "stats"), 3, "at +3, +6, +9 after the ack");
    assert_eq!(count(&fx, "heartbeat:ready"), 9);
    // A stall does not cause a burst of reports.
    let fx = w.on_deadline(T0 + 100.0);
    assert_eq!(count(&fx, "stats"), 1);
    assert_eq!(w.next_deadline(), Some(T0 + 103.0));
}

#[test]
fn a_stale_spawn_is_discarded_but_still_answered_with_spawning() {
    let mut w = registered(cfg());
    let fx = w.handle(spawn(100.0, &[("HeavyUser", 1)], None), T0);
    assert_eq!(names(&fx), ["spawning", "test_start", "apply"]);
    for ts in [100.0, 99.0, f64::NAN] {
        let fx = w.handle(spawn(ts, &[("HeavyUser", 9)], None), T0);
        assert_eq!(names(&fx), ["spawning"], "{ts}");
        assert!(logs(&fx)[0].starts_with("Discard spawn message with older or equal timestamp"));
    }
    // Locust's last timestamp starts at 0.
    let mut fresh = registered(cfg());
    assert_eq!(
        names(&fresh.handle(spawn(0.0, &[], None), T0)),
        ["spawning"]
    );
    assert_eq!(fresh.state(), WorkerState::Ready);
}

#[test]
fn spawns_up_then_down_apply_absolute_counts() {
    let mut w = registered(cfg());
    let fx = w.handle(
        spawn(1.0, &[("HeavyUser", 4), ("LightUser", 1)], Some(0.0)),
        T0 + 1.0,
    );
    assert_eq!(w.state(), WorkerState::Spawning);
    assert_eq!(
        fx.iter().find(|e| matches!(e, Effect::Apply { .. })),
        Some(&Effect::Apply {
            counts: counts(&[("HeavyUser", 4), ("LightUser", 1)]),
            host: Some("http://127.0.0.1:18765".into()),
            stop_timeout: 0.0,
            options: vec![("my_custom_arg".into(), Value::str("x"))],
            arrival: None,
        })
    );
    assert_eq!(names(&w.tick(T0 + 1.5, 0.0, 0)), ["heartbeat:spawning"]);
    let fx = w.spawned(counts(&[("HeavyUser", 4), ("LightUser", 1)]), T0 + 1.6);
    assert_eq!(names(&fx), ["spawning_complete"]);
    assert_eq!(w.state(), WorkerState::Running);
    // Down: a running worker does not start a new test.
    let fx = w.handle(
        spawn(2.0, &[("HeavyUser", 1), ("LightUser", 0)], None),
        T0 + 2.0,
    );
    assert_eq!(names(&fx), ["spawning", "apply"]);
    assert_eq!(applied(&fx), counts(&[("HeavyUser", 1), ("LightUser", 0)]));
    let fx = w.spawned(counts(&[("HeavyUser", 1), ("LightUser", 0)]), T0 + 2.1);
    assert_eq!(
        fx,
        [Effect::Send(ToMaster::SpawningComplete(SpawnedUsers {
            user_classes_count: counts(&[("HeavyUser", 1), ("LightUser", 0)]),
            user_count: 1
        }))]
    );
    assert_eq!(names(&w.tick(T0 + 2.5, 0.0, 0)), ["heartbeat:running"]);
}

#[test]
fn spawning_complete_and_stats_list_every_class() {
    let mut w = registered(cfg());
    w.handle(spawn(1.0, &[("LightUser", 2)], None), T0);
    let fx = w.spawned(counts(&[("LightUser", 2)]), T0);
    assert_eq!(
        fx,
        [Effect::Send(ToMaster::SpawningComplete(SpawnedUsers {
            user_classes_count: counts(&[("HeavyUser", 0), ("LightUser", 2)]),
            user_count: 2
        }))]
    );
    let report = RequestStats::new(T0).take_report(T0 + 3.0);
    let ToMaster::Stats(p) = w.stats(report.clone(), counts(&[("LightUser", 2)])) else {
        panic!("stats")
    };
    assert_eq!(p.report, report);
    assert_eq!(p.report.stats_total.name, "Aggregated");
    assert_eq!(
        p.user_classes_count,
        counts(&[("HeavyUser", 0), ("LightUser", 2)])
    );
    assert_eq!(p.user_count, Some(2));
}

#[test]
fn unknown_classes_in_a_spawn_are_dropped_with_an_error_sent_to_the_master() {
    let mut w = registered(cfg());
    let fx = w.handle(spawn(1.0, &[("HeavyUser", 1), ("Ghost", 3)], None), T0);
    assert_eq!(applied(&fx), counts(&[("HeavyUser", 1)]));
    let own = w.cfg.class_names.join(", ");
    let error = logs(&fx)
        .into_iter()
        .find(|l| l.contains("no user class Ghost"))
        .expect("an error naming the class")
        .to_string();
    assert!(error.contains(&own), "{error}");
    let sent: Vec<&ExceptionReport> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Send(ToMaster::Exception(x)) => Some(x),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].msg, error);
    // Only the classes it has: no report for a spawn it can run.
    let fx = w.handle(spawn(2.0, &[("HeavyUser", 2)], None), T0 + 1.0);
    assert!(!names(&fx).contains(&"exception".to_string()));
}

#[test]
fn the_masters_spawning_complete_only_resets_stats_when_asked() {
    let mut w = running(cfg(), 0.0);
    assert!(names(&w.handle(ToWorker::SpawningComplete { user_count: 3 }, T0 + 1.0)).is_empty());
    assert_eq!(w.state(), WorkerState::Running);
    let mut c = cfg();
    c.reset_stats = true;
    let mut w = running(c, 0.0);
    let fx = w.handle(ToWorker::SpawningComplete { user_count: 3 }, T0 + 1.0);
    assert_eq!(names(&fx), ["reset_stats"]);
}

#[test]
fn stop_cycle_waits_stop_timeout_plus_the_additional_wait_before_client_ready() {
    let mut c = cfg();
    c.additional_wait_before_ready = 1.0;
    let mut w = running(c, 2.5);
    let fx = w.handle(ToWorker::Stop, T0 + 10.0);
    assert_eq!(names(&fx), ["stop_users"]);
    // Still "running" until client_ready (Locust's worker_state).
    assert_eq!(names(&w.tick(T0 + 10.5, 0.0, 0))[0], "heartbeat:running");
    let fx = w.stopped(T0 + 12.0);
    assert_eq!(names(&fx), ["client_stopped"]);
    assert_eq!(w.job, Job::ReadyAt(T0 + 12.0 + 3.5));
    assert!(!names(&w.on_deadline(T0 + 15.49)).contains(&"client_ready".into()));
    let fx = w.on_deadline(T0 + 15.5);
    assert_eq!(names(&fx), ["client_ready"]);
    assert_eq!(w.state(), WorkerState::Ready);
    assert!(w.users().0.is_empty());
    assert!(names(&w.handle(ToWorker::Ack { index: 0 }, T0 + 15.6)).is_empty());
    assert_eq!(names(&w.tick(T0 + 16.0, 0.0, 0)), ["heartbeat:ready"]);
    // The next spawn starts a new test.
    let fx = w.handle(spawn(T0 + 20.0, &[("HeavyUser", 1)], None), T0 + 20.0);
    assert_eq!(names(&fx), ["spawning", "test_start", "apply"]);
}

#[test]
fn a_stop_from_ready_still_answers_client_stopped_and_client_ready() {
    let mut w = registered(cfg());
    assert_eq!(names(&w.handle(ToWorker::Stop, T0 + 1.0)), ["stop_users"]);
    assert_eq!(
        names(&w.stopped(T0 + 1.0)),
        ["client_stopped", "client_ready"],
        "stop_timeout 0: no wait"
    );
}

#[test]
fn messages_during_a_stop_cycle_wait_for_client_ready() {
    let mut w = running(cfg(), 2.0);
    w.handle(ToWorker::Stop, T0 + 10.0);
    w.stopped(T0 + 10.0);
    let fx = w.handle(spawn(T0 + 11.0, &[("HeavyUser", 5)], None), T0 + 11.0);
    assert!(names(&fx).is_empty(), "deferred: {fx:?}");
    // Heartbeats are read at once.
    assert!(names(&w.handle(ToWorker::Heartbeat, T0 + 11.0)).is_empty());
    let fx = w.on_deadline(T0 + 12.0);
    assert_eq!(
        names(&fx),
        ["client_ready", "spawning", "test_start", "apply"]
    );
    // A spawn that came during the stop is no longer deferred once it ended: a stale
    // spawn from the same master is still discarded.
    let fx = w.handle(spawn(T0 + 0.5, &[("HeavyUser", 5)], None), T0 + 12.5);
    assert_eq!(names(&fx), ["spawning"]);
}

#[test]
fn a_spawn_overtaken_by_a_stop_sends_no_spawning_complete() {
    let mut w = registered(cfg());
    w.handle(spawn(1.0, &[("HeavyUser", 3)], None), T0);
    w.handle(ToWorker::Stop, T0 + 0.1);
    assert!(w.spawned(counts(&[("HeavyUser", 3)]), T0 + 0.2).is_empty());
    assert_eq!(
        names(&w.stopped(T0 + 0.3)),
        ["client_stopped", "client_ready"]
    );
}

#[test]
fn quit_stops_users_sends_a_final_report_then_quit_then_exits_0() {
    let mut w = running(cfg(), 0.0);
    let fx = w.handle(ToWorker::Quit, T0 + 10.0);
    assert_eq!(names(&fx), ["stop_users", "stats", "quit", "exit:0"]);
    assert_eq!(
        logs(&fx),
        ["Got quit message from master, shutting down..."]
    );
    assert!(w.is_finished());
    assert_eq!(w.next_deadline(), None);
    assert!(w.tick(T0 + 11.0, 0.0, 0).is_empty());
    assert!(w.handle(ToWorker::Heartbeat, T0 + 11.0).is_empty());
    assert!(w.on_deadline(T0 + 1000.0).is_empty());
}

#[test]
fn reconnect_recreates_the_socket_without_resending_client_ready() {
    let mut w = running(cfg(), 0.0);
    let fx = w.handle(ToWorker::Reconnect, T0 + 2.0);
    assert_eq!(names(&fx), ["reconnect"]);
    assert!(w.is_registered());
    assert_eq!(w.state(), WorkerState::Running);
}

#[test]
fn unsupported_and_unknown_messages_are_logged_and_tolerated() {
    let mut w = running(cfg(), 0.0);
    let fx = w.handle(
        ToWorker::UpdateUserClass(UserClassUpdate {
            user_class_name: "HeavyUser".into(),
            settings: vec![],
        }),
        T0 + 1.0,
    );
    assert!(names(&fx).is_empty());
    assert!(logs(&fx)[0].contains("not supported"));
    let fx = w.handle(
        ToWorker::Locustfile(LocustfileReply::Error("x".into())),
        T0 + 1.0,
    );
    assert!(names(&fx).is_empty());
    let fx = w.unknown_message("my_custom_msg", T0 + 1.0);
    assert_eq!(logs(&fx), ["Unknown message type received: my_custom_msg"]);
    let err = DecodeError::UnknownType {
        message_type: "other_msg".into(),
        node_id: "vm_x".into(),
    };
    assert_eq!(
        logs(&w.bad_message(&err, T0 + 1.0)),
        ["Unknown message type received: other_msg"]
    );
    let err = DecodeError::NotAnEnvelope("nil".into());
    assert!(
        logs(&w.bad_message(&err, T0 + 1.0))[0].starts_with("Dropping a message from the master")
    );
    assert_eq!(w.state(), WorkerState::Running);
}

#[test]
fn master_loss_stops_users_within_the_timeout_and_re_registers_on_a_new_ack() {
    let mut w = running(cfg(), 0.0);
    // The master answers until T0+10, then falls silent.
    let fx = ticks(&mut w, T0, T0 + 10.0, true);
    assert!(!names(&fx).contains(&"master_lost".into()));
    let last_heard = T0 + 10.001;
    assert_eq!(w.link_deadline(), Some(last_heard + 5.0));
    let fx = ticks(&mut w, T0 + 10.0, T0 + 15.0, false);
    assert!(
        !names(&fx).contains(&"master_lost".into()),
        "4.999 s of silence"
    );
    let fx = w.on_deadline(last_heard + 5.0);
    assert_eq!(
        names(&fx),
        ["stop_users", "master_lost", "reconnect", "client_ready"]
    );
    assert!(logs(&fx)[0].starts_with("Didn't get heartbeat from master in over 5s"));
    assert_eq!(w.state(), WorkerState::Ready);
    assert!(w.is_master_lost());
    // No client_stopped: nobody to tell.
    assert!(w.stopped(last_heard + 5.5).is_empty());
    // No heartbeats while lost, client_ready every 5 s.
    let fx = ticks(&mut w, T0 + 15.0, T0 + 26.0, false);
    assert_eq!(count(&fx, "heartbeat:ready"), 0);
    assert_eq!(
        count(&fx, "client_ready"),
        2,
        "at +10 and +15 after the loss"
    );
    assert_eq!(count(&fx, "reconnect"), 2);
    // A master message other than an ack does not register it, a spawn is not taken.
    assert!(names(&w.handle(spawn(T0 + 26.0, &[("HeavyUser", 1)], None), T0 + 26.0)).is_empty());
    assert!(names(&w.handle(ToWorker::Stop, T0 + 26.0)).is_empty());
    assert!(w.is_master_lost());
    // The (restarted) master acks: registered again, with a report at once.
    let fx = w.handle(ToWorker::Ack { index: 3 }, T0 + 27.0);
    assert_eq!(names(&fx), ["heartbeat:ready", "stats"]);
    assert!(w.is_registered());
    assert_eq!(w.index(), Some(3));
    // A new master's clock may be behind the old one: its spawns are taken.
    let fx = w.handle(spawn(T0 - 1000.0, &[("HeavyUser", 1)], None), T0 + 28.0);
    assert_eq!(names(&fx), ["spawning", "test_start", "apply"]);
    // The loss timer is armed again from the ack.
    assert_eq!(w.link_deadline(), Some(T0 + 28.0 + 5.0));
    assert_eq!(
        w.next_deadline(),
        Some(T0 + 30.0),
        "the next report comes first"
    );
    let fx = ticks(&mut w, T0 + 28.0, T0 + 40.0, true);
    assert!(!names(&fx).contains(&"master_lost".into()));
}

#[test]
fn a_lost_master_that_never_comes_back_ends_the_worker_after_keep_running() {
    let mut w = running(cfg(), 0.0);
    // Last heard at T0+0.6 (the spawned() call does not count; the spawn at T0+0.5 does).
    let lost_at = T0 + 0.5 + 5.0;
    let mut all = Vec::new();
    let mut t = T0;
    while let Some(d) = w.next_deadline() {
        t = d;
        all.extend(w.on_deadline(d));
        if all.iter().any(|e| matches!(e, Effect::StopUsers)) && !w.is_finished() {
            all.extend(w.stopped(d));
        }
        assert!(t < T0 + 1000.0);
    }
    assert_eq!(
        t,
        lost_at + 55.0,
        "60 s after the last word from the master, as Locust"
    );
    let n = names(&all);
    assert_eq!(n[n.len() - 2..], ["quit", "exit:0"]);
    assert_eq!(count(&all, "master_lost"), 1);
    // At the loss, then every 5 s until the quit (exclusive): 0, 5, ..., 50.
    assert_eq!(count(&all, "client_ready"), 11);
    assert!(w.is_finished());
}

#[test]
fn keep_running_zero_quits_at_the_loss() {
    let mut c = cfg();
    c.keep_running_without_master = 0.0;
    let mut w = running(c, 0.0);
    let fx = w.on_deadline(T0 + 5.5);
    assert_eq!(names(&fx), ["stop_users", "master_lost", "quit", "exit:0"]);
}

#[test]
fn the_loss_timer_starts_only_after_the_first_master_heartbeat() {
    let mut w = registered(cfg());
    w.handle(spawn(1.0, &[("HeavyUser", 1)], None), T0 + 0.5);
    let fx = ticks(&mut w, T0, T0 + 120.0, false);
    assert!(!names(&fx).contains(&"master_lost".into()));
    w.handle(ToWorker::Heartbeat, T0 + 120.5);
    assert_eq!(w.link_deadline(), Some(T0 + 125.5));
    let fx = ticks(&mut w, T0 + 120.0, T0 + 126.0, false);
    assert_eq!(count(&fx, "master_lost"), 1);
}

#[test]
fn any_master_message_keeps_the_master_alive() {
    // A Python master ramping inside its message handler sends spawns, not heartbeats.
    let mut w = running(cfg(), 0.0);
    for i in 1..=20 {
        let t = T0 + i as f64 * 2.0;
        let fx = w.handle(spawn(t, &[("HeavyUser", i)], None), t);
        assert_eq!(names(&fx)[0], "spawning");
        let fx = w.on_deadline(t + 1.0);
        assert!(!names(&fx).contains(&"master_lost".into()), "at {i}");
    }
    let fx = w.unknown_message("custom", T0 + 44.0);
    assert_eq!(logs(&fx).len(), 1);
    // A frame with a readable envelope counts, garbage does not.
    let bad = DecodeError::Payload {
        message_type: "spawn",
        node_id: "vm_x".into(),
        problem: crate::cluster::PayloadError::MissingKey("host"),
    };
    w.bad_message(&bad, T0 + 45.0);
    w.bad_message(&DecodeError::NotAnEnvelope("nil".into()), T0 + 46.0);
    assert!(!names(&w.on_deadline(T0 + 49.9)).contains(&"master_lost".into()));
    assert!(names(&w.on_deadline(T0 + 50.0)).contains(&"master_lost".into()));
}

#[test]
fn the_loss_timer_is_paused_between_client_stopped_and_client_ready() {
    let mut w = running(cfg(), 30.0);
    w.handle(ToWorker::Heartbeat, T0 + 1.0);
    w.handle(ToWorker::Stop, T0 + 1.0);
    w.handle(ToWorker::Heartbeat, T0 + 2.0);
    w.stopped(T0 + 2.0);
    // The master has forgotten the worker and does not answer for 30 s.
    let fx = ticks(&mut w, T0 + 2.0, T0 + 32.0, false);
    assert!(!names(&fx).contains(&"master_lost".into()));
    assert_eq!(count(&fx, "client_ready"), 1);
    // Re-armed by the client_ready at T0+32.
    let fx = ticks(&mut w, T0 + 32.0, T0 + 36.0, false);
    assert!(!names(&fx).contains(&"master_lost".into()));
    let fx = ticks(&mut w, T0 + 36.0, T0 + 37.0, false);
    assert_eq!(count(&fx, "master_lost"), 1);
    assert_eq!(count(&fx, "stop_users"), 0, "nothing runs");
}

#[test]
fn losing_the_master_while_stopping_sends_no_client_stopped() {
    let mut w = running(cfg(), 0.0);
    w.handle(ToWorker::Heartbeat, T0 + 1.0);
    w.handle(ToWorker::Stop, T0 + 1.0);
    let fx = w.on_deadline(T0 + 6.0);
    assert_eq!(names(&fx), ["master_lost", "reconnect", "client_ready"]);
    assert!(w.stopped(T0 + 7.0).is_empty());
}

#[test]
fn a_quit_while_lost_is_still_obeyed() {
    let mut w = running(cfg(), 0.0);
    w.on_deadline(T0 + 6.0);
    assert!(w.is_master_lost());
    let fx = w.handle(ToWorker::Quit, T0 + 7.0);
    assert_eq!(names(&fx), ["stop_users", "stats", "quit", "exit:0"]);
}

#[test]
fn shutdown_tells_a_master_only_once_acked() {
    let (mut w, _) = Worker::new(cfg(), T0);
    assert_eq!(names(&w.shutdown(1)), ["stop_users", "exit:1"]);
    let mut w = running(cfg(), 0.0);
    assert_eq!(names(&w.shutdown(0)), ["stop_users", "quit", "exit:0"]);
    assert!(w.shutdown(0).is_empty());
}

#[test]
fn a_spawn_before_the_ack_is_handled_as_locust_does() {
    // Locust's receive loop runs while it waits for the ack.
    let (mut w, _) = Worker::new(cfg(), T0);
    let fx = w.handle(spawn(1.0, &[("HeavyUser", 1)], None), T0 + 0.1);
    assert_eq!(names(&fx), ["spawning", "test_start", "apply"]);
    assert_eq!(
        names(&w.spawned(counts(&[("HeavyUser", 1)]), T0 + 0.2)),
        ["spawning_complete"]
    );
    assert!(
        w.tick(T0 + 1.0, 0.0, 0).is_empty(),
        "no heartbeat before the ack"
    );
}

#[test]
fn heartbeats_carry_the_latest_cpu_and_memory_sample() {
    let mut w = registered(cfg());
    let fx = w.tick(T0 + 1.0, 42.5, 55_558_144);
    assert_eq!(
        fx,
        [Effect::Send(ToMaster::Heartbeat(Heartbeat {
            state: WorkerState::Ready,
            cpu_percent: 42.5,
            memory_bytes: Some(55_558_144)
        }))]
    );
}
