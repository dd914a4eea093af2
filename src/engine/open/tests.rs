//! The driver on tokio's paused clock: every due time and every iteration's length is exact,
//! so the counts are too.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::Duration;

use goose::goose::{GooseUser, Scenario, Transaction, TransactionResult};
use goose::transaction;
use skein_api::{RequestRecord, UserClass};
use tokio::time::Instant;

use crate::engine::{hub, runner, select_classes, ArrivalOrder, HubHandle, RunnerHandle};
use crate::engine::{RunnerSetup, SessionFactory};
use crate::stats::ArrivalCounts;

/// The test's wall clock on the paused tokio clock: epoch seconds when it began, and then.
static CLOCK: OnceLock<(f64, Instant)> = OnceLock::new();

fn paused_wall() -> f64 {
    let (t0, i0) = CLOCK.get().copied().unwrap_or((0.0, Instant::now()));
    t0 + (Instant::now() - i0).as_secs_f64()
}

/// Takes 200 ms (of the paused clock) and reports it as one request ending then.
async fn work(_u: &mut GooseUser) -> TransactionResult {
    tokio::time::sleep(Duration::from_millis(200)).await;
    skein_api::record(RequestRecord {
        method: Cow::Borrowed("GET"),
        name: Cow::Borrowed("/work"),
        response_time_ms: Some(200.0),
        content_length: 0,
        failure: None,
        timestamp: paused_wall(),
        scheduled_at: None,
    })
    .await;
    Ok(())
}

async fn long(_u: &mut GooseUser) -> TransactionResult {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

fn runner_for(t: Transaction) -> (RunnerHandle, HubHandle) {
    let class = UserClass::new(Scenario::new("Worker").register_transaction(t));
    let hub = hub::spawn(0.0, "test".into());
    let r = runner::spawn(RunnerSetup {
        classes: select_classes(&[class], &[], None, None).unwrap(),
        host: Some("http://127.0.0.1:9".into()),
        stop_timeout: Duration::ZERO,
        reset_stats_on_spawned: false,
        hub: hub.clone(),
        sessions: SessionFactory::new().unwrap(),
    });
    (r, hub)
}

async fn counts(hub: &HubHandle) -> ArrivalCounts {
    hub.read(|v| v.open.counts()).await.unwrap()
}

/// Ten due in 0.95 s at 10/s; two users busy for 1 s each, three wait, five are dropped.
#[tokio::test(start_paused = true)]
async fn iterations_beyond_the_pool_and_the_backlog_are_dropped_and_counted() {
    let (r, hub) = runner_for(transaction!(long).set_name("long"));
    let order = ArrivalOrder {
        backlog: Some(3),
        ..ArrivalOrder::new(10.0, 2)
    };
    r.arrive(order).await.unwrap();
    tokio::time::sleep(Duration::from_millis(950)).await;
    assert_eq!(r.status().state, crate::engine::RunState::Running);
    r.stop().await;
    assert_eq!(
        counts(&hub).await,
        ArrivalCounts {
            scheduled: 10,
            started: 2,
            late: 0,
            dropped: 5,
        }
    );
    assert_eq!(r.status().state, crate::engine::RunState::Stopped);
}

/// Iterations are due every 50 ms, two users take 200 ms each: iteration j starts
/// 100 ms × ⌊j/2⌋ late. Over 1.99 s, 40 come due, 20 start (18 of them late) and the 18 that
/// finish were on average 400 ms late, which the corrected latency adds and Locust's does not.
#[tokio::test(start_paused = true)]
async fn a_saturated_pool_starts_late_and_the_corrected_latency_charges_the_wait() {
    let (r, hub) = runner_for(transaction!(work).set_name("work"));
    CLOCK.get_or_init(|| (skein_api::epoch_seconds(), Instant::now()));
    let order = ArrivalOrder {
        backlog: Some(1000),
        ..ArrivalOrder::new(20.0, 2)
    };
    r.arrive(order).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1990)).await;
    assert_eq!(r.status().user_count, 2, "both users busy");
    r.stop().await;
    assert_eq!(
        counts(&hub).await,
        ArrivalCounts {
            scheduled: 40,
            started: 20,
            late: 18,
            dropped: 0,
        }
    );
    let (n, corrected, uncorrected, p100) = hub
        .read(|v| {
            let t = v.open.total();
            (
                t.num_requests,
                t.avg_corrected(),
                t.avg_uncorrected(),
                t.corrected_percentile(1.0),
            )
        })
        .await
        .unwrap();
    assert_eq!(n, 18);
    assert_eq!(uncorrected, 200.0);
    // Expected 400 ms; the margin is the real time the test's own code takes.
    let extra = corrected - uncorrected;
    assert!((380.0..450.0).contains(&extra), "{extra}");
    // The last finished one (j = 17) waited 800 ms for its 200 ms.
    assert!((990..=1100).contains(&p100), "{p100}");
    // Locust's own table has the 200 ms.
    let locust_max = hub
        .read(|v| v.stats.total().max_response_time.as_f64())
        .await
        .unwrap();
    assert_eq!(locust_max, 200.0);
}

/// The pool is bounded; a second test may not start while one runs in either model.
#[tokio::test(start_paused = true)]
async fn the_models_exclude_each_other_and_bad_orders_are_refused() {
    let (r, _hub) = runner_for(transaction!(long).set_name("long"));
    let bad = r.arrive(ArrivalOrder::new(0.0, 2)).await.unwrap_err();
    assert!(bad.to_string().contains("arrival rate"), "{bad}");
    let bad = r.arrive(ArrivalOrder::new(5.0, 0)).await.unwrap_err();
    assert!(bad.to_string().contains("max in flight"), "{bad}");
    r.arrive(ArrivalOrder::new(100.0, 3)).await.unwrap();
    // The load is published once a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s = r.status();
    assert_eq!((s.user_count, s.target), (3, 3));
    assert_eq!(s.class_counts.get("Worker"), Some(&3));
    assert!(matches!(
        r.start(1, 1.0, None, None).await,
        Err(crate::engine::RunnerError::Busy)
    ));
    assert!(matches!(
        r.arrive(ArrivalOrder::new(1.0, 1)).await,
        Err(crate::engine::RunnerError::Busy)
    ));
    r.stop().await;
    // After the stop, the closed model runs again.
    r.start(1, 1.0, None, None).await.unwrap();
    r.stop().await;
}

static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static STOPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn count_start(_u: &mut GooseUser) -> TransactionResult {
    STARTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

async fn count_stop(_u: &mut GooseUser) -> TransactionResult {
    STOPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

async fn quarter(_u: &mut GooseUser) -> TransactionResult {
    tokio::time::sleep(Duration::from_millis(250)).await;
    Ok(())
}

/// 10/s, each iteration 250 ms: three users are enough and are reused, so on-start and
/// on-stop run three times, not once per iteration.
#[tokio::test(start_paused = true)]
async fn users_are_reused_and_start_and_stop_once_each() {
    use std::sync::atomic::Ordering::SeqCst;
    let class = UserClass::new(
        Scenario::new("Reused")
            .register_transaction(transaction!(count_start).set_name("start").set_on_start())
            .register_transaction(transaction!(quarter).set_name("quarter"))
            .register_transaction(transaction!(count_stop).set_name("stop").set_on_stop()),
    );
    let hub = hub::spawn(0.0, "test".into());
    let r = runner::spawn(RunnerSetup {
        classes: select_classes(&[class], &[], None, None).unwrap(),
        host: Some("http://127.0.0.1:9".into()),
        stop_timeout: Duration::from_secs(1),
        reset_stats_on_spawned: false,
        hub: hub.clone(),
        sessions: SessionFactory::new().unwrap(),
    });
    r.arrive(ArrivalOrder::new(10.0, 50)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2010)).await;
    r.stop().await;
    let c = counts(&hub).await;
    assert_eq!((c.scheduled, c.started, c.late, c.dropped), (21, 21, 0, 0));
    assert_eq!(STARTS.load(SeqCst), 3);
    assert_eq!(STOPS.load(SeqCst), 3);
    assert_eq!(r.status().final_class_counts.get("Reused"), Some(&3));
}

async fn tick_as(name: &'static str) -> TransactionResult {
    tokio::time::sleep(Duration::from_millis(10)).await;
    skein_api::record(RequestRecord {
        method: Cow::Borrowed("GET"),
        name: Cow::Borrowed(name),
        response_time_ms: Some(10.0),
        content_length: 0,
        failure: None,
        timestamp: 0.0,
        scheduled_at: None,
    })
    .await;
    Ok(())
}

async fn tick_heavy(_u: &mut GooseUser) -> TransactionResult {
    tick_as("heavy").await
}

async fn tick_light(_u: &mut GooseUser) -> TransactionResult {
    tick_as("light").await
}

/// Two classes weighted 3:1 share the iterations exactly so, whatever the pool.
#[tokio::test(start_paused = true)]
async fn iterations_go_to_the_classes_by_weight() {
    let class = |name: &'static str, weight, t: Transaction| {
        UserClass::new(
            Scenario::new(name)
                .set_weight(weight)
                .unwrap()
                .register_transaction(t),
        )
    };
    let heavy = class("Heavy", 3, transaction!(tick_heavy).set_name("tick"));
    let light = class("Light", 1, transaction!(tick_light).set_name("tick"));
    let hub = hub::spawn(0.0, "test".into());
    let r = runner::spawn(RunnerSetup {
        classes: select_classes(&[heavy, light], &[], None, None).unwrap(),
        host: Some("http://127.0.0.1:9".into()),
        stop_timeout: Duration::ZERO,
        reset_stats_on_spawned: false,
        hub: hub.clone(),
        sessions: SessionFactory::new().unwrap(),
    });
    // One user for two classes: it is replaced whenever the other class is due.
    r.arrive(ArrivalOrder::new(20.0, 1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1990)).await;
    r.stop().await;
    let c = counts(&hub).await;
    assert_eq!((c.scheduled, c.started, c.dropped), (40, 40, 0));
    let s = r.status();
    assert_eq!(s.state, crate::engine::RunState::Stopped);
    assert!(s.peak_user_count <= 1, "{s:?}");
    let per_name = hub
        .read(|v| {
            let n = |name| v.stats.get(name, "GET").map_or(0, |e| e.num_requests);
            (n("heavy"), n("light"))
        })
        .await
        .unwrap();
    assert_eq!(per_name, (30, 10));
}

/// 10/s for 0.95 s (10 due), then retargeted to 20/s without a stop: the next is due at 1 s
/// and then every 50 ms, so 20 more by 1.95 s; ten 200 ms users start all of them. Then the
/// pool shrinks to 1 user: at 20/s most of the next second's iterations are dropped.
#[tokio::test(start_paused = true)]
async fn a_retarget_changes_the_rate_and_pool_of_a_running_open_model() {
    let (r, hub) = runner_for(transaction!(work).set_name("work"));
    assert!(matches!(
        r.retarget(5.0, 1).await,
        Err(crate::engine::RunnerError::NotOpen)
    ));
    r.arrive(ArrivalOrder::new(10.0, 10)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(950)).await;
    r.retarget(20.0, 10).await.unwrap();
    assert_eq!(r.status().target, 10);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(matches!(
        r.retarget(0.0, 1).await,
        Err(crate::engine::RunnerError::InvalidArrivalRate(_))
    ));
    r.retarget(20.0, 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    r.stop().await;
    let c = counts(&hub).await;
    // 10 + 20 + 20 due; the first 30 all start; of the last 20 one user at 200 ms starts
    // about 5, its backlog of 1 holds one, the rest are dropped.
    assert_eq!(c.scheduled, 50, "{c:?}");
    assert!(c.started >= 30 + 4 && c.started <= 30 + 7, "{c:?}");
    assert!(c.dropped >= 12, "{c:?}");
    assert_eq!(r.status().state, crate::engine::RunState::Stopped);
}
