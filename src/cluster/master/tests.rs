use serde_json::Value as Json;

use super::*;
use crate::cluster::dispatch::DispatchClass;
use crate::cluster::message::{
    ExceptionReport, Heartbeat, LogsReport, Spawn, SpawnedUsers, StatsPayload, Version,
};
use crate::cluster::value::Value;
use crate::stats::RequestStats;

const W: &str = "vm_fakeb748272724aa4c36a8b326432ed4";
const A: &str = "vm_aaa";
const B: &str = "vm_bbb";
const T0: f64 = 1_795_808_250.0;

fn classes() -> Vec<DispatchClass> {
    vec![
        DispatchClass {
            name: "LightUser".into(),
            weight: 1.0,
            fixed_count: 0,
        },
        DispatchClass {
            name: "HeavyUser".into(),
            weight: 3.0,
            fixed_count: 0,
        },
    ]
}

fn master() -> Master {
    let mut cfg = MasterConfig::new(classes());
    cfg.host = Some("http://127.0.0.1:18765".into());
    cfg.stop_timeout = Some(0.0);
    cfg.parsed_options = vec![("num_users".into(), Value::Int(5))];
    Master::new(cfg, T0)
}

/// A skein worker registers (skein's mark on the version).
fn ready(m: &mut Master, id: &str, now: f64) -> Vec<Effect> {
    m.handle(id, ToMaster::ClientReady(Version::skein()), now)
}

/// A Python Locust worker registers.
fn ready_locust(m: &mut Master, id: &str, now: f64) -> Vec<Effect> {
    m.handle(
        id,
        ToMaster::ClientReady(Version::Named("2.47.0".into())),
        now,
    )
}

fn heartbeat(m: &mut Master, id: &str, state: WorkerState, now: f64) -> Vec<Effect> {
    m.handle(
        id,
        ToMaster::Heartbeat(Heartbeat {
            state,
            cpu_percent: 1.5,
            memory_bytes: Some(12_345_678),
        }),
        now,
    )
}

fn counts(pairs: &[(&str, u64)]) -> ClassCounts {
    ClassCounts(pairs.iter().map(|(n, c)| (n.to_string(), *c)).collect())
}

fn stats(m: &mut Master, id: &str, users: &[(&str, u64)], now: f64) -> Vec<Effect> {
    let report = RequestStats::new(now).take_report(now);
    m.handle(
        id,
        ToMaster::Stats(Box::new(StatsPayload {
            open: None,
            sent_at: None,
            report,
            user_classes_count: counts(users),
            user_count: Some(users.iter().map(|(_, n)| n).sum()),
        })),
        now,
    )
}

/// What a worker does with a spawn: `spawning`, then `spawning_complete` with those counts.
fn apply(m: &mut Master, id: &str, spawn: &Spawn, now: f64) -> Vec<Effect> {
    let mut out = m.handle(id, ToMaster::Spawning, now);
    out.extend(m.handle(
        id,
        ToMaster::SpawningComplete(SpawnedUsers {
            user_classes_count: spawn.user_classes_count.clone(),
            user_count: spawn.user_classes_count.total(),
        }),
        now,
    ));
    out
}

fn sends(out: &[Effect]) -> Vec<(String, ToWorker)> {
    out.iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg } => Some((to.clone(), msg.clone())),
            _ => None,
        })
        .collect()
}

fn spawns(out: &[Effect]) -> Vec<(String, Spawn)> {
    sends(out)
        .into_iter()
        .filter_map(|(to, m)| match m {
            ToWorker::Spawn(s) => Some((to, s)),
            _ => None,
        })
        .collect()
}

fn spawn_for(out: &[Effect], id: &str) -> Spawn {
    spawns(out)
        .into_iter()
        .rev()
        .find(|(to, _)| to == id)
        .unwrap_or_else(|| panic!("no spawn for {id} in {out:#?}"))
        .1
}

fn logs(out: &[Effect], level: Level) -> Vec<String> {
    out.iter()
        .filter_map(|e| match e {
            Effect::Log(l, t) if *l == level => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn changes(out: &[Effect]) -> Vec<(String, MembershipChange, f64)> {
    out.iter()
        .filter_map(|e| match e {
            Effect::Membership(ev) => Some((ev.node.clone(), ev.change, ev.time)),
            _ => None,
        })
        .collect()
}

fn per_class(s: &Spawn) -> Vec<(String, u64)> {
    s.user_classes_count.0.clone()
}

/// Two workers registered and heartbeating at `T0`, a test of `users` at `rate` started,
/// every spawn applied at once, ramp complete.
fn running_pair(users: u64, rate: f64) -> Master {
    let mut m = master();
    for id in [A, B] {
        ready(&mut m, id, T0);
        heartbeat(&mut m, id, WorkerState::Ready, T0);
    }
    let mut out = m.start(users, rate, None, None, T0).unwrap();
    let mut now = T0;
    loop {
        for (to, s) in spawns(&out) {
            apply(&mut m, &to, &s, now);
        }
        match m.next_deadline() {
            Some(d) if m.status().state == RunState::Spawning => {
                now = d;
                out = m.on_deadline(now);
            }
            _ => break,
        }
    }
    assert_eq!(m.status().state, RunState::Running);
    assert_eq!(m.status().user_count, users);
    m
}

#[test]
fn transcript_a_message_by_message() {
    let mut m = master();
    let out = ready(&mut m, W, T0 + 0.001);
    assert_eq!(
        sends(&out),
        vec![(W.to_string(), ToWorker::Ack { index: 0 })]
    );
    assert_eq!(
        logs(&out, Level::Info),
        vec![format!(
            "{W} (index 0) reported as ready. 1 workers connected."
        )]
    );
    assert_eq!(
        changes(&out),
        vec![(W.into(), MembershipChange::Joined, T0 + 0.001)]
    );
    let out = heartbeat(&mut m, W, WorkerState::Ready, T0 + 0.002);
    assert_eq!(sends(&out), vec![(W.to_string(), ToWorker::Heartbeat)]);
    // The first report arrives before any spawn.
    let out = stats(&mut m, W, &[], T0 + 0.002);
    assert!(matches!(&out[0], Effect::MergeStats { node, .. } if node == W));
    assert_eq!(m.ready_count(), 1);

    let out = m.start(5, 5.0, None, None, T0 + 0.61).unwrap();
    assert_eq!(out[0], Effect::ClearStats);
    assert!(out.contains(&Effect::State(RunState::Spawning)));
    assert_eq!(
        logs(&out, Level::Info),
        vec!["Sending spawn jobs of 5 users at 5.00 spawn rate to 1 ready workers"]
    );
    let sent = spawns(&out);
    assert_eq!(sent.len(), 1, "one iteration for 5 users at 5/s");
    let spawn = &sent[0].1;
    assert_eq!(spawn.timestamp, T0 + 0.61);
    assert_eq!(
        per_class(spawn),
        vec![("HeavyUser".into(), 4), ("LightUser".into(), 1)]
    );
    assert_eq!(spawn.host.as_deref(), Some("http://127.0.0.1:18765"));
    assert_eq!(spawn.stop_timeout, Some(0.0));
    assert_eq!(
        spawn.parsed_options,
        vec![("num_users".into(), Value::Int(5))]
    );
    assert_eq!(
        m.next_deadline(),
        Some(T0 + 1.61),
        "waiting up to 1 s for reports"
    );

    let out = m.handle(W, ToMaster::Spawning, T0 + 0.61);
    assert!(sends(&out).is_empty());
    assert_eq!(m.status().workers[0].state, WorkerState::Spawning);
    let out = apply(&mut m, W, spawn, T0 + 0.62);
    assert_eq!(
        sends(&out),
        vec![(W.to_string(), ToWorker::SpawningComplete { user_count: 5 })]
    );
    assert!(out.contains(&Effect::SpawningComplete { user_count: 5 }));
    assert!(out.contains(&Effect::State(RunState::Running)));
    assert_eq!(
        logs(&out, Level::Info),
        vec![r#"All users spawned: {"HeavyUser": 4, "LightUser": 1} (5 total users)"#]
    );
    assert_eq!(m.next_deadline(), None);

    for s in 1..=10 {
        let now = T0 + s as f64;
        assert!(m
            .tick(now - 0.5)
            .iter()
            .all(|e| !matches!(e, Effect::Membership(_))));
        let out = heartbeat(&mut m, W, WorkerState::Running, now);
        assert_eq!(sends(&out), vec![(W.to_string(), ToWorker::Heartbeat)]);
    }
    // Headless -t expiry: quit only, no stop.
    let out = m.quit(T0 + 10.608);
    assert_eq!(sends(&out), vec![(W.to_string(), ToWorker::Quit)]);
    assert_eq!(m.status().state, RunState::Stopping);
    assert_eq!(
        m.status().final_class_counts,
        [("HeavyUser".to_string(), 4), ("LightUser".to_string(), 1)].into()
    );
    let out = stats(
        &mut m,
        W,
        &[("HeavyUser", 4), ("LightUser", 1)],
        T0 + 10.609,
    );
    assert!(matches!(&out[0], Effect::MergeStats { .. }));
    let out = m.handle(W, ToMaster::Quit, T0 + 10.609);
    assert!(sends(&out).is_empty());
    assert_eq!(
        logs(&out, Level::Info),
        vec![
            format!("Worker '{W}' (index 0) quit. 0 workers ready."),
            "The last worker quit, stopping test.".to_string(),
        ]
    );
    assert_eq!(
        changes(&out),
        vec![(W.into(), MembershipChange::Quit, T0 + 10.609)]
    );
    assert_eq!(m.status().state, RunState::Stopped);
    assert!(m.start(1, 1.0, None, None, T0 + 11.0).is_err());
}

fn vectors_case_8_at_4() -> Vec<Json> {
    let text = crate::testing::read_fixture("locust/dispatch-vectors.json");
    let cases: Vec<Json> = serde_json::from_str(&text).unwrap();
    let case = cases
        .into_iter()
        .find(|c| c["case"].as_str().unwrap().contains("0->8 @4/s"))
        .unwrap();
    assert_eq!(case["steps"][0]["target_user_count"], 8);
    case["steps"][0]["iterations"].as_array().unwrap().clone()
}

fn as_json(out: &[Effect]) -> Json {
    let mut map = serde_json::Map::new();
    for (to, s) in spawns(out) {
        let counts: serde_json::Map<String, Json> = per_class(&s)
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect();
        map.insert(to, counts.into());
    }
    map.into()
}

#[test]
fn ramp_8_at_4_over_two_workers_follows_the_vectors_one_second_apart() {
    let mut m = master();
    for id in [B, A] {
        ready(&mut m, id, T0);
    }
    let expected = vectors_case_8_at_4();
    let out = m.start(8, 4.0, None, None, T0 + 0.25).unwrap();
    assert_eq!(as_json(&out), expected[0]);
    assert!(spawns(&out).iter().all(|(_, s)| s.timestamp >= T0 + 0.25));
    assert_eq!(m.next_deadline(), Some(T0 + 1.25));
    assert!(spawns(&m.on_deadline(T0 + 1.0)).is_empty(), "not due yet");
    let out = m.on_deadline(T0 + 1.25);
    assert_eq!(as_json(&out), expected[1]);
    assert_eq!(expected.len(), 2);
    // No wait after the last iteration: now the wait for reports.
    assert_eq!(m.next_deadline(), Some(T0 + 2.25));
    assert_eq!(m.status().state, RunState::Spawning);
    // Only one worker reports: the wait expires.
    let s = spawn_for(&out, A);
    apply(&mut m, A, &s, T0 + 1.3);
    assert_eq!(m.status().state, RunState::Spawning);
    let out = m.on_deadline(T0 + 2.25);
    assert_eq!(
        logs(&out, Level::Info),
        vec![
            r#"Spawning is complete and report waittime is expired, but not all reports received from workers: {"HeavyUser": 4, "LightUser": 0} (4 total users)"#
        ]
    );
    let complete: Vec<_> = sends(&out)
        .into_iter()
        .filter(|(_, m)| *m == ToWorker::SpawningComplete { user_count: 8 })
        .map(|(to, _)| to)
        .collect();
    assert_eq!(
        complete,
        vec![B.to_string(), A.to_string()],
        "to every worker, in registration order"
    );
    assert_eq!(m.status().state, RunState::Running);
}

#[test]
fn spawn_timestamps_increase_strictly_even_when_now_repeats_or_steps_back() {
    let mut m = master();
    for id in [A, B] {
        ready(&mut m, id, T0);
    }
    let mut all = Vec::new();
    let out = m.start(8, 4.0, None, None, T0).unwrap();
    all.extend(spawns(&out));
    // A third worker joins at the same instant (a rebalance), then the clock steps back.
    all.extend(spawns(&ready(&mut m, "vm_ccc", T0)));
    all.extend(spawns(&m.on_deadline(T0 + 1.0)));
    all.extend(spawns(&m.start(2, 4.0, None, None, T0 + 0.5).unwrap()));
    assert!(all.len() >= 9, "{}", all.len());
    for pair in all.windows(2) {
        assert!(pair[1].1.timestamp > pair[0].1.timestamp, "{pair:?}");
    }
}

#[test]
fn every_class_is_in_every_spawn_zeros_included() {
    let mut cfg = MasterConfig::new(classes());
    cfg.class_names = vec!["LightUser".into(), "HeavyUser".into(), "IdleUser".into()];
    let mut m = Master::new(cfg, T0);
    ready(&mut m, A, T0);
    let out = m.start(1, 1.0, None, None, T0).unwrap();
    assert_eq!(
        per_class(&spawn_for(&out, A)),
        vec![
            ("HeavyUser".into(), 1),
            ("IdleUser".into(), 0),
            ("LightUser".into(), 0)
        ]
    );
    let out = m
        .start(1, 1.0, Some(vec!["LightUser".into()]), None, T0 + 1.0)
        .unwrap();
    assert_eq!(
        per_class(&spawn_for(&out, A)),
        vec![
            ("HeavyUser".into(), 0),
            ("IdleUser".into(), 0),
            ("LightUser".into(), 1)
        ]
    );
    assert_eq!(
        m.start(1, 1.0, Some(vec!["Nope".into()]), None, T0 + 2.0),
        Err(MasterError::UnknownClass(vec!["Nope".into()]))
    );
    assert_eq!(
        m.start(1, 0.0, None, None, T0 + 2.0),
        Err(MasterError::InvalidRate(0.0))
    );
}

#[test]
fn start_without_workers_is_refused() {
    let mut m = master();
    assert_eq!(m.start(1, 1.0, None, None, T0), Err(MasterError::NoWorkers));
    assert_eq!(m.status().state, RunState::Ready);
}

/// Heartbeats from the given workers every second from `from` to `to`, ticking half-way
/// between; returns everything that happened.
fn run(m: &mut Master, alive: &[&str], from: f64, to: f64) -> Vec<(f64, Effect)> {
    let mut seen = Vec::new();
    let mut now = from;
    while now <= to + 1e-9 {
        for id in alive {
            let state = m
                .status()
                .workers
                .iter()
                .find(|w| w.id == *id)
                .map(|w| w.state);
            let state = match state {
                Some(WorkerState::Missing) | None => WorkerState::Running,
                Some(s) => s,
            };
            seen.extend(heartbeat(m, id, state, now).into_iter().map(|e| (now, e)));
        }
        seen.extend(m.tick(now + 0.5).into_iter().map(|e| (now + 0.5, e)));
        now += 1.0;
    }
    seen
}

#[test]
fn a_lost_workers_users_move_to_the_others_within_5_s_of_its_last_heartbeat() {
    let mut m = running_pair(6, 6.0);
    let before = m.status();
    let a_users = before
        .workers
        .iter()
        .find(|w| w.id == A)
        .unwrap()
        .user_count;
    assert!(a_users > 0);
    // Both alive for 3 s, then A falls silent after its heartbeat at T0 + 3.
    run(&mut m, &[A, B], T0 + 1.0, T0 + 3.0);
    let last_a = T0 + 3.0;
    let seen = run(&mut m, &[B], T0 + 4.0, T0 + 10.0);
    let missing_at = seen
        .iter()
        .find(|(_, e)| matches!(e, Effect::Membership(ev) if ev.node == A && ev.change == MembershipChange::Missing))
        .map(|(t, _)| *t)
        .expect("A goes missing");
    assert!(
        missing_at - last_a >= 3.0 && missing_at - last_a <= 4.0,
        "{}",
        missing_at - last_a
    );
    let moved = seen
        .iter()
        .find_map(|(t, e)| match e {
            Effect::Send {
                to,
                msg: ToWorker::Spawn(s),
            } if to == B => Some((*t, s.clone())),
            _ => None,
        })
        .expect("B gets A's users");
    assert!(moved.0 - last_a < 5.0, "{}", moved.0 - last_a);
    assert_eq!(moved.1.user_classes_count.total(), 6);
    assert!(seen
        .iter()
        .all(|(_, e)| !matches!(e, Effect::Send { to, msg: ToWorker::Spawn(_) } if to == A)));
    let texts: Vec<String> = seen
        .iter()
        .filter_map(|(_, e)| match e {
            Effect::Log(Level::Info, t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert!(texts.contains(&format!(
        "Worker {A} failed to send heartbeat, setting state to missing."
    )));
    assert!(texts.contains(
        &"Sending spawn jobs of 6 users at 6.00 spawn rate to 1 ready workers".to_string()
    ));
    apply(&mut m, B, &moved.1, moved.0);
    assert_eq!(m.status().user_count, 6);
    assert_eq!(m.status().state, RunState::Running);
}

#[test]
fn a_worker_lost_mid_ramp_hands_its_users_over_at_once_and_the_ramp_goes_on() {
    let mut m = master();
    for id in [A, B] {
        ready(&mut m, id, T0);
        heartbeat(&mut m, id, WorkerState::Ready, T0);
    }
    // 1 user/s: a slow ramp.
    let out = m.start(6, 1.0, None, None, T0).unwrap();
    let mut now = T0;
    for (to, s) in spawns(&out) {
        apply(&mut m, &to, &s, now);
    }
    while now < T0 + 2.0 {
        now = m.next_deadline().unwrap();
        for (to, s) in spawns(&m.on_deadline(now)) {
            apply(&mut m, &to, &s, now);
        }
    }
    assert_eq!(m.status().user_count, 3);
    let next = m.next_deadline().unwrap();
    for t in [T0 + 2.5, T0 + 3.5, T0 + 4.5, T0 + 5.5] {
        heartbeat(&mut m, B, WorkerState::Running, t - 0.4);
        let out = m.tick(t);
        if let Some(ev) = changes(&out).first() {
            assert_eq!(ev.1, MembershipChange::Missing);
            let s = spawn_for(&out, B);
            assert_eq!(s.user_classes_count.total(), 3, "all current users on B");
            assert_eq!(m.next_deadline(), Some(next), "the ramp keeps its pace");
            return;
        }
    }
    panic!("A never went missing");
}

#[test]
fn a_worker_joining_mid_run_gets_its_share_at_once() {
    let mut m = master();
    ready(&mut m, A, T0);
    let out = m.start(4, 4.0, None, None, T0).unwrap();
    apply(&mut m, A, &spawn_for(&out, A), T0);
    assert_eq!(m.status().state, RunState::Running);
    let out = ready(&mut m, B, T0 + 6.0);
    assert_eq!(sends(&out)[0], (B.to_string(), ToWorker::Ack { index: 1 }));
    let info = logs(&out, Level::Info);
    assert_eq!(
        info[0],
        "Sending spawn jobs of 4 users at 4.00 spawn rate to 2 ready workers"
    );
    assert_eq!(
        info.last().unwrap(),
        &format!("{B} (index 1) reported as ready. 2 workers connected.")
    );
    let (a, b) = (spawn_for(&out, A), spawn_for(&out, B));
    assert_eq!(
        a.user_classes_count.total() + b.user_classes_count.total(),
        4
    );
    assert!(b.user_classes_count.total() > 0);
    assert!(a.timestamp >= T0 + 6.0 && b.timestamp >= T0 + 6.0);
}

#[test]
fn the_last_worker_going_missing_stops_the_test() {
    let mut m = master();
    ready(&mut m, W, T0);
    let out = m.start(5, 5.0, None, None, T0).unwrap();
    apply(&mut m, W, &spawn_for(&out, W), T0);
    let mut stopped = None;
    for s in 1..=6 {
        let out = m.tick(T0 + s as f64);
        if !changes(&out).is_empty() {
            stopped = Some((s, out));
            break;
        }
    }
    let (s, out) = stopped.expect("missing");
    assert_eq!(s, 4, "liveness 3: the fourth silent tick");
    assert_eq!(
        logs(&out, Level::Info),
        vec![
            format!("Worker {W} failed to send heartbeat, setting state to missing."),
            "The last worker went missing, stopping test.".to_string(),
        ]
    );
    assert_eq!(
        sends(&out),
        vec![(W.to_string(), ToWorker::Stop)],
        "stop goes to the missing one too"
    );
    assert_eq!(m.status().state, RunState::Stopped);
    assert_eq!(m.status().user_count, 0);
}

#[test]
fn a_missing_worker_self_heals_with_a_heartbeat_and_gets_users_again() {
    let mut m = running_pair(6, 6.0);
    let mut t = T0 + 1.0;
    let mut missing = false;
    while !missing {
        heartbeat(&mut m, B, WorkerState::Running, t);
        missing = !changes(&m.tick(t + 0.5)).is_empty();
        t += 1.0;
        assert!(t < T0 + 10.0);
    }
    assert_eq!(
        m.status().workers.iter().find(|w| w.id == A).unwrap().state,
        WorkerState::Missing
    );
    let out = heartbeat(&mut m, A, WorkerState::Running, t);
    assert_eq!(
        logs(&out, Level::Info)[0],
        format!("Worker {A} self-healed with heartbeat, setting state to running.")
    );
    assert_eq!(
        changes(&out),
        vec![(A.into(), MembershipChange::SelfHealed, t)]
    );
    assert_eq!(sends(&out)[0], (A.to_string(), ToWorker::Heartbeat));
    let (a, b) = (spawn_for(&out, A), spawn_for(&out, B));
    assert_eq!(
        a.user_classes_count.total() + b.user_classes_count.total(),
        6
    );
    assert!(a.user_classes_count.total() > 0);
}

#[test]
fn a_missing_worker_is_forgotten_after_60_more_ticks() {
    let mut m = master();
    ready(&mut m, A, T0);
    ready(&mut m, B, T0);
    let mut forgotten_at = None;
    for s in 1..=70 {
        heartbeat(&mut m, B, WorkerState::Ready, T0 + s as f64);
        let out = m.tick(T0 + s as f64 + 0.5);
        if changes(&out)
            .iter()
            .any(|c| c.1 == MembershipChange::Removed)
        {
            forgotten_at = Some(s);
            break;
        }
    }
    assert_eq!(forgotten_at, Some(64));
    assert_eq!(m.status().workers.len(), 1);
}

#[test]
fn unknown_workers_are_asked_to_quit_and_get_no_heartbeat() {
    let mut m = master();
    let x = "vm_stranger";
    let out = m.handle(x, ToMaster::Spawning, T0);
    assert_eq!(sends(&out), vec![(x.to_string(), ToWorker::Quit)]);
    assert_eq!(
        logs(&out, Level::Warning),
        vec![format!(
            "Got spawning message from unknown worker {x}. Asking worker to quit."
        )]
    );
    let out = m.handle(
        x,
        ToMaster::SpawningComplete(SpawnedUsers {
            user_classes_count: counts(&[("HeavyUser", 1)]),
            user_count: 1,
        }),
        T0,
    );
    assert_eq!(sends(&out), vec![(x.to_string(), ToWorker::Quit)]);
    assert!(sends(&heartbeat(&mut m, x, WorkerState::Running, T0)).is_empty());
    let out = m.handle(x, ToMaster::ClientStopped, T0);
    assert_eq!(
        logs(&out, Level::Warning),
        vec![format!(
            "Received client_stopped message from an unknown worker: {x}."
        )]
    );
    // Locust merges a stranger's statistics but not its user counts.
    let out = stats(&mut m, x, &[("HeavyUser", 3)], T0);
    assert!(matches!(&out[0], Effect::MergeStats { .. }));
    assert_eq!(m.status().user_count, 0);
    assert!(m.status().workers.is_empty());
}

#[test]
fn after_a_malformed_frame_a_worker_is_ignored_until_client_ready() {
    let mut m = running_pair(4, 4.0);
    let out = m.malformed(Some(A), "3 extra bytes after the msgpack value", T0 + 1.0);
    assert_eq!(sends(&out), vec![(A.to_string(), ToWorker::Reconnect)]);
    assert_eq!(
        logs(&out, Level::Error),
        vec![format!("RPCError when receiving from client: 3 extra bytes after the msgpack value. Will reset client {A}.")]
    );
    assert_eq!(changes(&out)[0].1, MembershipChange::Untrusted);
    assert_eq!(m.status().state, RunState::Running);
    let out = heartbeat(&mut m, A, WorkerState::Running, T0 + 1.1);
    assert!(sends(&out).is_empty());
    assert_eq!(logs(&out, Level::Debug).len(), 1);
    assert!(stats(&mut m, A, &[], T0 + 1.2)
        .iter()
        .all(|e| !matches!(e, Effect::MergeStats { .. })));
    assert!(sends(&m.handle(A, ToMaster::Quit, T0 + 1.3)).is_empty());
    assert_eq!(m.status().workers.len(), 2, "its quit was ignored too");
    // B is unaffected.
    assert_eq!(
        sends(&heartbeat(&mut m, B, WorkerState::Running, T0 + 1.3)).len(),
        1
    );
    let out = ready(&mut m, A, T0 + 1.5);
    assert_eq!(sends(&out)[0], (A.to_string(), ToWorker::Ack { index: 0 }));
    assert_eq!(changes(&out)[0].1, MembershipChange::Rejoined);
    // Re-registered mid-run: it gets its share back.
    assert!(spawn_for(&out, A).user_classes_count.total() > 0);
    assert_eq!(
        sends(&heartbeat(&mut m, A, WorkerState::Running, T0 + 1.6)).len(),
        1
    );
    // A malformed frame with no sender, or from a stranger, only logs.
    let out = m.malformed(None, "incomplete input (truncated msgpack)", T0 + 2.0);
    assert_eq!(out.len(), 1);
    let out = m.malformed(Some("vm_x"), "bad", T0 + 2.0);
    assert!(sends(&out).is_empty());
    assert_eq!(m.status().state, RunState::Running);
}

#[test]
fn stop_then_client_stopped_then_client_ready_cycle() {
    let mut m = running_pair(4, 4.0);
    let out = m.stop(T0 + 5.0);
    assert_eq!(
        sends(&out),
        vec![
            (A.to_string(), ToWorker::Stop),
            (B.to_string(), ToWorker::Stop)
        ]
    );
    assert_eq!(m.status().state, RunState::Stopping);
    assert_eq!(m.status().final_class_counts.values().sum::<u64>(), 4);
    assert!(m.stop(T0 + 5.0).is_empty(), "already stopping");
    let out = m.handle(A, ToMaster::ClientStopped, T0 + 5.1);
    assert_eq!(
        logs(&out, Level::Info),
        vec![format!("{A} (index 0) reported that it has stopped")]
    );
    assert_eq!(changes(&out)[0].1, MembershipChange::Stopped);
    assert_eq!(m.status().state, RunState::Stopping, "B still running");
    let out = ready(&mut m, A, T0 + 5.2);
    assert_eq!(
        sends(&out),
        vec![(A.to_string(), ToWorker::Ack { index: 0 })]
    );
    m.handle(B, ToMaster::ClientStopped, T0 + 5.3);
    let out = ready(&mut m, B, T0 + 5.4);
    assert_eq!(
        sends(&out),
        vec![(B.to_string(), ToWorker::Ack { index: 1 })]
    );
    assert_eq!(m.status().state, RunState::Stopped);
    assert_eq!(m.ready_count(), 2);
    assert!(m
        .status()
        .workers
        .iter()
        .all(|w| w.cpu_percent == 0.0 && w.user_count == 0));
    // A new test clears the statistics and starts from zero.
    let out = m.start(2, 2.0, None, None, T0 + 6.0).unwrap();
    assert_eq!(out[0], Effect::ClearStats);
    assert_eq!(spawns(&out).len(), 2);
}

#[test]
fn a_stop_that_never_completes_times_out() {
    let mut m = running_pair(2, 2.0);
    m.stop(T0 + 5.0);
    assert_eq!(m.next_deadline(), Some(T0 + 65.0));
    assert!(m.on_deadline(T0 + 30.0).is_empty());
    let out = m.on_deadline(T0 + 65.0);
    assert_eq!(
        logs(&out, Level::Error),
        vec!["Timeout waiting for all workers to stop"]
    );
    assert_eq!(m.status().state, RunState::Stopped);
}

#[test]
fn ready_count_counts_workers_in_state_ready() {
    let mut m = master();
    assert_eq!(m.ready_count(), 0);
    ready(&mut m, A, T0);
    ready(&mut m, B, T0);
    assert_eq!(m.ready_count(), 2);
    heartbeat(&mut m, A, WorkerState::Running, T0 + 1.0);
    assert_eq!(m.ready_count(), 1);
    let out = ready(&mut m, B, T0 + 1.0);
    assert_eq!(
        logs(&out, Level::Debug),
        vec![format!(
            "{B} (index 1) reported as ready (duplicate message). 2 workers connected."
        )]
    );
}

#[test]
fn peak_and_final_counts() {
    let mut m = running_pair(6, 6.0);
    assert_eq!(m.status().peak_user_count, 6);
    let out = m.start(2, 6.0, None, None, T0 + 3.0).unwrap();
    for (to, s) in spawns(&out) {
        apply(&mut m, &to, &s, T0 + 3.0);
    }
    let status = m.status();
    assert_eq!(
        (status.user_count, status.peak_user_count, status.target),
        (2, 6, 2)
    );
    m.stop(T0 + 4.0);
    // The most recently started users stopped first: H L H H H L keeps H L.
    let expected: BTreeMap<String, u64> =
        [("HeavyUser".to_string(), 1), ("LightUser".to_string(), 1)].into();
    assert_eq!(m.status().final_class_counts, expected);
    assert_eq!(m.status().class_counts, m.status().final_class_counts);
}

#[test]
fn version_check_follows_locust() {
    let mut m = master();
    let out = m.handle(A, ToMaster::ClientReady(Version::Named(String::new())), T0);
    assert!(sends(&out).is_empty(), "no ack for an old worker");
    assert_eq!(
        logs(&out, Level::Error),
        vec![format!(
            "An old (pre 2.0) worker tried to connect ({A}). That's not going to work."
        )]
    );
    let out = m.handle(
        A,
        ToMaster::ClientReady(Version::Named("2.46.0".into())),
        T0,
    );
    assert_eq!(
        logs(&out, Level::Warning),
        vec![format!("A worker ({A}) running a different version (2.46.0) connected, master version is 2.47.0")]
    );
    assert_eq!(
        sends(&out),
        vec![(A.to_string(), ToWorker::Ack { index: 0 })]
    );
    let out = m.handle(
        B,
        ToMaster::ClientReady(Version::Named("2.47.1".into())),
        T0,
    );
    assert_eq!(
        logs(&out, Level::Debug)[0],
        format!("A worker ({B}) running a different patch version ('2.47.1') connected, master version is '2.47.0'")
    );
    let out = m.handle("vm_c", ToMaster::ClientReady(Version::Unchecked), T0);
    assert!(logs(&out, Level::Warning).is_empty() && logs(&out, Level::Debug).is_empty());
    assert_eq!(
        sends(&out),
        vec![("vm_c".to_string(), ToWorker::Ack { index: 2 })]
    );
}

#[test]
fn headless_master_shuts_down_when_the_last_worker_quits() {
    let mut cfg = MasterConfig::new(classes());
    cfg.headless = true;
    let mut m = Master::new(cfg, T0);
    ready(&mut m, A, T0);
    let out = m.start(1, 1.0, None, None, T0).unwrap();
    apply(&mut m, A, &spawn_for(&out, A), T0);
    let out = m.handle(A, ToMaster::Quit, T0 + 2.0);
    assert_eq!(out.last(), Some(&Effect::Shutdown));
    assert_eq!(m.status().state, RunState::Stopped);
}

#[test]
fn exceptions_logs_and_cpu_warnings_are_passed_on() {
    let mut m = master();
    ready(&mut m, A, T0);
    let out = m.handle(
        A,
        ToMaster::Exception(ExceptionReport {
            msg: "boom".into(),
            traceback: "tb".into(),
        }),
        T0,
    );
    assert_eq!(
        out,
        vec![Effect::Exception {
            node: A.into(),
            msg: "boom".into(),
            traceback: "tb".into()
        }]
    );
    let out = m.handle(
        A,
        ToMaster::Logs(LogsReport {
            worker_id: A.into(),
            logs: vec!["line".into()],
        }),
        T0,
    );
    assert_eq!(
        out,
        vec![Effect::WorkerLogs {
            worker: A.into(),
            lines: vec!["line".into()]
        }]
    );
    let hot = Heartbeat {
        state: WorkerState::Ready,
        cpu_percent: 95.0,
        memory_bytes: None,
    };
    let out = m.handle(A, ToMaster::Heartbeat(hot.clone()), T0);
    assert_eq!(logs(&out, Level::Warning).len(), 1);
    assert!(logs(&m.handle(A, ToMaster::Heartbeat(hot), T0), Level::Warning).is_empty());
    assert!(m.status().cpu_warning);
    let out = m.handle(
        A,
        ToMaster::Locustfile {
            version: "2.47.0".into(),
        },
        T0,
    );
    assert!(out.contains(&Effect::LocustfileRequested { node: A.into() }));
}

/// One line of a transcript: time, direction from the fake worker's side, message type, text.
fn transcript_events(text: &str) -> Vec<(f64, bool, String, String)> {
    text.lines()
        .filter_map(|line| {
            let sent = line.contains("] SEND '");
            if !sent && !line.contains("] RECV '") {
                return None;
            }
            let t: f64 = line[line.find("t+")? + 2..line.find("s]")?]
                .trim()
                .parse()
                .ok()?;
            let rest = &line[line.find(if sent { "SEND '" } else { "RECV '" })? + 6..];
            let ty = rest[..rest.find('\'')?].to_string();
            Some((t, sent, ty, line.to_string()))
        })
        .collect()
}

#[test]
fn transcript_a_replayed_gives_locusts_replies_in_order() {
    let text = crate::testing::read_fixture("locust/transcript_A.txt");
    let events = transcript_events(&text);
    assert!(events.len() >= 30, "{}", events.len());
    let mut m = master();
    let (mut expected, mut got) = (Vec::new(), Vec::new());
    let mut last_tick = T0;
    let mut applied = ClassCounts::default();
    let mut started = false;
    for (t, sent, ty, line) in events {
        let now = T0 + t;
        let mut out = Vec::new();
        while last_tick + 1.0 <= now {
            last_tick += 1.0;
            out.extend(m.tick(last_tick));
        }
        while let Some(d) = m.next_deadline().filter(|d| *d <= now) {
            out.extend(m.on_deadline(d));
        }
        if sent {
            let msg = match ty.as_str() {
                "client_ready" => ToMaster::ClientReady(Version::Named("2.47.0".into())),
                "heartbeat" => {
                    let state = if line.contains("'state': 'running'") {
                        WorkerState::Running
                    } else {
                        WorkerState::Ready
                    };
                    ToMaster::Heartbeat(Heartbeat {
                        state,
                        cpu_percent: 1.5,
                        memory_bytes: Some(12_345_678),
                    })
                }
                "stats" => ToMaster::Stats(Box::new(StatsPayload {
                    open: None,
                    sent_at: None,
                    report: RequestStats::new(now).take_report(now),
                    user_classes_count: applied.clone(),
                    user_count: Some(applied.total()),
                })),
                "spawning" => ToMaster::Spawning,
                "spawning_complete" => ToMaster::SpawningComplete(SpawnedUsers {
                    user_classes_count: applied.clone(),
                    user_count: applied.total(),
                }),
                "quit" => ToMaster::Quit,
                other => panic!("unexpected worker message {other}"),
            };
            out.extend(m.handle(W, msg, now));
        } else {
            expected.push(ty.clone());
            if ty == "spawn" && !started {
                started = true;
                out.extend(m.start(5, 5.0, None, None, now).unwrap());
            } else if ty == "quit" {
                out.extend(m.quit(now));
            }
        }
        for (to, msg) in sends(&out) {
            assert_eq!(to, W);
            if let ToWorker::Spawn(s) = &msg {
                applied = s.user_classes_count.clone();
            }
            got.push(msg.type_name().to_string());
        }
    }
    assert_eq!(got, expected);
    assert_eq!(m.status().state, RunState::Stopped);
}

#[test]
fn a_worker_that_registers_while_the_master_quits_is_told_to_quit() {
    let mut m = running_pair(4, 4.0);
    let out = m.quit(T0 + 10.0);
    assert_eq!(
        sends(&out)
            .iter()
            .filter(|(_, msg)| *msg == ToWorker::Quit)
            .count(),
        2
    );
    let late = ready(&mut m, "late_0123", T0 + 10.1);
    let to_late: Vec<ToWorker> = sends(&late)
        .into_iter()
        .filter(|(to, _)| to == "late_0123")
        .map(|(_, msg)| msg)
        .collect();
    assert!(
        matches!(to_late[..], [ToWorker::Ack { .. }, ToWorker::Quit]),
        "{to_late:?}"
    );
}

// ---- the open model across workers ------------------------------------------------------------

const C: &str = "vm_ccc";

fn shares(out: &[Effect]) -> Vec<(String, ArrivalShare)> {
    spawns(out)
        .into_iter()
        .filter_map(|(to, s)| {
            assert_eq!(
                s.user_classes_count.total(),
                0,
                "an open share runs no users"
            );
            s.arrival.map(|a| (to, a))
        })
        .collect()
}

fn total_rate(shares: &[(String, ArrivalShare)]) -> f64 {
    shares.iter().map(|(_, a)| a.rate).sum()
}

#[test]
fn split_keeps_the_total_rate_and_gives_every_worker_a_pool() {
    let total = ArrivalShare {
        rate: 40.0,
        max_in_flight: 10,
    };
    let s = split_arrival(total, 3);
    assert_eq!(
        s.iter().map(|a| a.max_in_flight).collect::<Vec<_>>(),
        [4, 3, 3]
    );
    assert!((s.iter().map(|a| a.rate).sum::<f64>() - 40.0).abs() < 1e-9);
    let tiny = split_arrival(
        ArrivalShare {
            rate: 1.0,
            max_in_flight: 1,
        },
        2,
    );
    assert_eq!(
        tiny.iter().map(|a| a.max_in_flight).collect::<Vec<_>>(),
        [1, 1]
    );
    assert!(split_arrival(total, 0).is_empty());
}

#[test]
fn the_rate_is_split_and_re_split_when_a_worker_is_lost_or_joins() {
    let r = 30.0;
    let mut m = master();
    for id in [A, B, C] {
        ready(&mut m, id, T0);
    }
    let out = m
        .start_open(
            ArrivalShare {
                rate: r,
                max_in_flight: 9,
            },
            T0,
        )
        .unwrap();
    assert!(out.contains(&Effect::ClearStats));
    assert_eq!(m.status().state, RunState::Running);
    let s = shares(&out);
    assert_eq!(s.len(), 3);
    for (_, a) in &s {
        assert!((a.rate - r / 3.0).abs() < 1e-9);
        assert_eq!(a.max_in_flight, 3);
    }

    // C falls silent after T0; A and B keep beating. Within the liveness timeout (5 s) A and B
    // get R/2 each, and C gets nothing more.
    let seen = run(&mut m, &[A, B], T0 + 1.0, T0 + 6.0);
    let lost_at = seen
        .iter()
        .find(|(_, e)| matches!(e, Effect::Membership(ev) if ev.node == C && ev.change == MembershipChange::Missing))
        .map(|(t, _)| *t)
        .expect("C goes missing");
    assert!(lost_at - T0 <= 5.0, "missing after {} s", lost_at - T0);
    let after: Vec<Effect> = seen
        .iter()
        .filter(|(t, _)| *t >= lost_at)
        .map(|(_, e)| e.clone())
        .collect();
    let s = shares(&after);
    assert_eq!(
        s.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        [A, B]
    );
    for (_, a) in &s {
        assert!((a.rate - r / 2.0).abs() < 1e-9);
    }
    assert!((total_rate(&s) - r).abs() < 1e-9);
    assert_eq!(s.iter().map(|(_, a)| a.max_in_flight).sum::<u64>(), 9);

    // A new worker joins: R/3 again for everyone, at once.
    let out = ready(&mut m, "vm_ddd", T0 + 7.0);
    let s = shares(&out);
    assert_eq!(s.len(), 3);
    assert!(s.iter().any(|(id, _)| id == "vm_ddd"));
    for (_, a) in &s {
        assert!((a.rate - r / 3.0).abs() < 1e-9);
    }

    // One quits: the two left share R.
    let out = m.handle(A, ToMaster::Quit, T0 + 8.0);
    let s = shares(&out);
    assert_eq!(s.len(), 2);
    assert!((total_rate(&s) - r).abs() < 1e-9);

    // After a stop nothing is re-split.
    m.stop(T0 + 9.0);
    assert!(m.arrival().is_none());
    assert!(shares(&ready(&mut m, "vm_eee", T0 + 10.0)).is_empty());
}

#[test]
fn an_open_start_is_refused_without_workers_or_with_a_bad_rate() {
    let mut m = master();
    let total = ArrivalShare {
        rate: 5.0,
        max_in_flight: 2,
    };
    assert_eq!(m.start_open(total, T0), Err(MasterError::NoWorkers));
    ready(&mut m, A, T0);
    let bad = ArrivalShare { rate: 0.0, ..total };
    assert_eq!(m.start_open(bad, T0), Err(MasterError::InvalidRate(0.0)));
    // A closed start replaces an open test: its spawns carry no share.
    m.start_open(total, T0).unwrap();
    let out = m.start(2, 2.0, None, None, T0 + 1.0).unwrap();
    assert!(spawns(&out).iter().all(|(_, s)| s.arrival.is_none()));
    assert!(m.arrival().is_none());
}

#[test]
fn a_worker_lacking_a_master_class_is_logged_once_per_registration() {
    let mut m = master();
    ready(&mut m, A, T0);
    ready(&mut m, B, T0);
    // B has every class (zeros included, as workers report them); A lacks HeavyUser.
    assert!(logs(
        &stats(&mut m, B, &[("LightUser", 0), ("HeavyUser", 0)], T0 + 1.0),
        Level::Error
    )
    .is_empty());
    let out = stats(&mut m, A, &[("LightUser", 0), ("OtherUser", 0)], T0 + 1.0);
    assert_eq!(
        logs(&out, Level::Error),
        [format!(
            "Worker {A} has no user class HeavyUser (its classes are LightUser, OtherUser): are master and workers the same binary? Users of that class will not run on it"
        )]
    );
    let again = stats(&mut m, A, &[("LightUser", 0), ("OtherUser", 0)], T0 + 4.0);
    assert!(logs(&again, Level::Error).is_empty());
    // A new registration (after a stop, a restart) is told again.
    ready(&mut m, A, T0 + 5.0);
    let out = stats(&mut m, A, &[("LightUser", 0)], T0 + 6.0);
    assert_eq!(logs(&out, Level::Error).len(), 1);
}

const L: &str = "py_locust_worker";

fn open_total(rate: f64) -> ArrivalShare {
    ArrivalShare {
        rate,
        max_in_flight: 8,
    }
}

#[test]
fn a_skein_workers_mark_is_not_a_different_version() {
    let mut m = master();
    let out = ready(&mut m, A, T0);
    assert!(logs(&out, Level::Warning).is_empty());
    assert!(!logs(&out, Level::Debug)
        .iter()
        .any(|l| l.contains("different")));
}

#[test]
fn locust_workers_get_no_share_of_the_rate_and_are_named_once() {
    let mut m = master();
    ready(&mut m, A, T0);
    ready_locust(&mut m, L, T0);
    ready(&mut m, B, T0);
    let out = m.start_open(open_total(30.0), T0).unwrap();
    let s = shares(&out);
    assert_eq!(
        s.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        [A, B]
    );
    assert!(
        (total_rate(&s) - 30.0).abs() < 1e-9,
        "the skein workers carry it all"
    );
    assert!(
        spawns(&out).iter().all(|(to, _)| to != L),
        "an idle Locust worker is left alone"
    );
    let warned = logs(&out, Level::Warning);
    assert_eq!(
        warned,
        vec![format!("Worker {L} is a Locust worker, which cannot run an arrival rate: it gets no share of the 30.00/s (the skein workers share it)")]
    );
    // A re-split (a skein worker joins) does not warn again; a new Locust worker is named.
    let out = ready(&mut m, C, T0 + 1.0);
    assert_eq!(shares(&out).len(), 3);
    assert!(logs(&out, Level::Warning).is_empty());
    let out = ready_locust(&mut m, "py_2", T0 + 2.0);
    let s = shares(&out);
    assert_eq!(s.len(), 3);
    assert!((total_rate(&s) - 30.0).abs() < 1e-9);
    let warned = logs(&out, Level::Warning);
    assert_eq!(warned.len(), 1);
    assert!(
        warned[0].starts_with("Worker py_2 is a Locust worker"),
        "{warned:?}"
    );
}

#[test]
fn an_open_start_with_only_locust_workers_is_refused_naming_them() {
    let mut m = master();
    ready_locust(&mut m, L, T0);
    ready_locust(&mut m, "py_2", T0);
    let err = m.start_open(open_total(10.0), T0).unwrap_err();
    assert_eq!(
        err,
        MasterError::NoSkeinWorkers(vec![L.to_string(), "py_2".to_string()])
    );
    assert_eq!(
        err.to_string(),
        format!("No skein worker to run the arrival rate: Locust workers cannot run the open model (connected: {L}, py_2)")
    );
    assert!(m.arrival().is_none());
    assert_eq!(m.status().state, RunState::Ready);
}

#[test]
fn the_last_skein_worker_leaving_warns_that_no_iterations_start() {
    let mut m = master();
    ready(&mut m, A, T0);
    ready_locust(&mut m, L, T0);
    m.start_open(open_total(10.0), T0).unwrap();
    let out = m.handle(A, ToMaster::Quit, T0 + 1.0);
    assert!(shares(&out).is_empty());
    assert!(logs(&out, Level::Warning)
        .iter()
        .any(|l| l.starts_with("No skein worker is left to run the arrival rate of 10.00/s")));
}

#[test]
fn a_locust_worker_running_users_is_stopped_when_the_test_turns_open() {
    let mut m = master();
    ready(&mut m, A, T0);
    ready_locust(&mut m, L, T0);
    m.start(4, 100.0, None, None, T0).unwrap();
    // Both report users.
    stats(&mut m, A, &[("A", 2)], T0 + 0.5);
    stats(&mut m, L, &[("A", 2)], T0 + 0.5);
    let out = m.start_open(open_total(10.0), T0 + 1.0).unwrap();
    let to_l = spawn_for(&out, L);
    assert_eq!(to_l.user_classes_count.total(), 0);
    assert!(to_l.arrival.is_none(), "no share for a Locust worker");
    assert_eq!(shares(&out).len(), 1);
}

#[test]
fn a_workers_open_model_delta_goes_to_the_merge() {
    let mut m = master();
    ready(&mut m, A, T0);
    let mut report = RequestStats::new(T0);
    let open = crate::stats::OpenReport {
        counts: crate::stats::ArrivalCounts {
            scheduled: 3,
            started: 2,
            late: 1,
            dropped: 1,
        },
        entries: vec![],
    };
    let out = m.handle(
        A,
        ToMaster::Stats(Box::new(StatsPayload {
            open: Some(open.clone()),
            sent_at: Some(T0),
            report: report.take_report(T0),
            user_classes_count: counts(&[("A", 0)]),
            user_count: Some(0),
        })),
        T0,
    );
    assert!(matches!(&out[0], Effect::MergeStats { open: Some(o), .. } if **o == open));
}
