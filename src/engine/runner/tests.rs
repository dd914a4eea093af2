use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use goose::goose::{GooseUser, Scenario, Transaction, TransactionResult};
use goose::transaction;
use skein_api::UserClass;
use tokio::time::Instant;

use super::*;
use crate::engine::{hub, select_classes, HubHandle};

static FINISHED: AtomicUsize = AtomicUsize::new(0);

async fn idle(_u: &mut GooseUser) -> TransactionResult {
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

async fn slow(_u: &mut GooseUser) -> TransactionResult {
    // On the tests' paused clock: longer than the pause before each stop below, whatever the
    // machine's load.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    FINISHED.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// Outlasts any stop timeout below, so only the kill ends it.
async fn stubborn(_u: &mut GooseUser) -> TransactionResult {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(())
}

fn class(name: &str, weight: usize) -> UserClass {
    UserClass::new(
        Scenario::new(name)
            .set_weight(weight)
            .unwrap()
            .register_transaction(transaction!(idle).set_name("idle")),
    )
}

fn stubborn_class() -> UserClass {
    UserClass::new(
        Scenario::new("Stubborn").register_transaction(transaction!(stubborn).set_name("stubborn")),
    )
}

fn runner_with_hub(classes: &[UserClass], stop_timeout: Duration) -> (RunnerHandle, HubHandle) {
    let hub = hub::spawn(0.0, "test".into());
    let r = spawn(RunnerSetup {
        classes: select_classes(classes, &[], None, None).unwrap(),
        host: Some("http://127.0.0.1:9".into()),
        stop_timeout,
        reset_stats_on_spawned: false,
        hub: hub.clone(),
        sessions: SessionFactory::new().unwrap(),
    });
    (r, hub)
}

fn runner(classes: &[UserClass], stop_timeout: Duration) -> RunnerHandle {
    runner_with_hub(classes, stop_timeout).0
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// A spawn that keeps the runner's host and stop timeout as the tests set them up.
fn order(pairs: &[(&str, u64)], stop_timeout: Duration) -> SpawnOrder {
    SpawnOrder {
        counts: counts(pairs),
        host: Some("http://127.0.0.1:9".into()),
        stop_timeout: Some(stop_timeout),
    }
}

async fn exceptions(hub: &HubHandle) -> usize {
    hub.read(|v| v.exceptions.len()).await.unwrap()
}

#[tokio::test]
async fn spawns_absolute_per_class_counts_up_and_down() {
    let r = runner(
        &[class("ImageClassifierUser", 1), class("HighLoadUser", 1)],
        Duration::ZERO,
    );
    let now = r
        .spawn(order(
            &[("ImageClassifierUser", 7), ("HighLoadUser", 3)],
            Duration::ZERO,
        ))
        .await
        .unwrap();
    let want = counts(&[("HighLoadUser", 3), ("ImageClassifierUser", 7)]);
    assert_eq!(now, want);
    assert_eq!(r.status().class_counts, want);
    assert_eq!((r.status().user_count, r.status().target), (10, 10));
    assert_eq!(r.status().state, RunState::Running);
    // A class left out goes to zero.
    let now = r
        .spawn(order(&[("ImageClassifierUser", 2)], Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(
        now,
        counts(&[("HighLoadUser", 0), ("ImageClassifierUser", 2)])
    );
    assert_eq!(r.status().user_count, 2);
    r.stop().await;
    let st = r.status();
    assert_eq!((st.state, st.user_count), (RunState::Stopped, 0));
    assert_eq!(
        st.final_class_counts,
        counts(&[("HighLoadUser", 0), ("ImageClassifierUser", 2)])
    );
}

#[tokio::test]
async fn a_spawn_from_ready_clears_the_statistics_and_a_later_one_does_not() {
    let (r, hub) = runner_with_hub(&[class("A", 1)], Duration::ZERO);
    hub.exception("boom".into(), "tb\n".into()).await;
    assert_eq!(exceptions(&hub).await, 1);
    r.spawn(order(&[("A", 1)], Duration::ZERO)).await.unwrap();
    assert_eq!(exceptions(&hub).await, 0, "a new test starts empty");
    hub.exception("boom".into(), "tb\n".into()).await;
    r.spawn(order(&[("A", 2)], Duration::ZERO)).await.unwrap();
    assert_eq!(
        exceptions(&hub).await,
        1,
        "a running test keeps its statistics"
    );
    r.stop().await;
    r.spawn(order(&[("A", 1)], Duration::ZERO)).await.unwrap();
    assert_eq!(
        exceptions(&hub).await,
        0,
        "a spawn after a stop is a new test"
    );
    r.stop().await;
}

#[tokio::test]
async fn a_spawn_with_an_unknown_class_changes_nothing() {
    let (r, hub) = runner_with_hub(&[class("A", 1), class("B", 1)], Duration::ZERO);
    r.spawn(order(&[("A", 2)], Duration::ZERO)).await.unwrap();
    hub.exception("boom".into(), "tb\n".into()).await;
    let before = r.status();
    let stale = SpawnOrder {
        counts: counts(&[("A", 5), ("Gone", 1)]),
        host: Some("http://127.0.0.2:9".into()),
        stop_timeout: None,
    };
    let err = r.spawn(stale).await.unwrap_err();
    assert!(matches!(&err, RunnerError::UnknownClass(n) if n == &["Gone".to_string()]));
    assert_eq!(err.to_string(), "Unknown user class in [\"Gone\"]");
    let after = r.status();
    assert_eq!(after.class_counts, before.class_counts);
    assert_eq!(after.host, before.host);
    assert_eq!(after.state, RunState::Running);
    assert_eq!(exceptions(&hub).await, 1);
    r.stop().await;
}

#[tokio::test]
async fn a_spawn_without_any_host_is_refused_before_anything_changes() {
    let r = runner(&[class("A", 1)], Duration::ZERO);
    let order = SpawnOrder {
        counts: counts(&[("A", 1)]),
        host: None,
        stop_timeout: None,
    };
    let err = r.spawn(order).await.unwrap_err();
    assert!(matches!(err, RunnerError::NoHost), "{err}");
    assert_eq!(r.status().state, RunState::Ready);
    assert_eq!(r.status().user_count, 0);
    let bad = SpawnOrder {
        counts: counts(&[("A", 1)]),
        host: Some("ftp://x".into()),
        stop_timeout: None,
    };
    assert_eq!(
        r.spawn(bad).await.unwrap_err().to_string(),
        "Invalid host \"ftp://x\": it must be an http:// or https:// URL with a host"
    );
}

#[tokio::test]
async fn start_errors_keep_their_texts() {
    let r = runner(&[class("A", 1)], Duration::ZERO);
    let e = r.start(1, 0.0, None, None).await.unwrap_err();
    assert_eq!(e.to_string(), "Invalid spawn_rate value: 0");
    let e = r
        .start(1, 1.0, None, Some(vec!["A".into(), "Nope".into()]))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "Unknown user class in [\"A\", \"Nope\"]");
    let e = r
        .start(1, 1.0, Some("not a url".into()), None)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid host \"not a url\": relative URL without a base"
    );
    assert_eq!(r.status().state, RunState::Ready);
}

#[tokio::test(start_paused = true)]
async fn ramps_at_the_spawn_rate_by_weight() {
    let r = runner(&[class("A", 3), class("B", 1)], Duration::ZERO);
    r.start(8, 4.0, None, None).await.unwrap();
    assert_eq!(r.status().user_count, 4, "first iteration at once");
    assert_eq!(r.status().state, RunState::Spawning);
    tokio::time::sleep(Duration::from_millis(1010)).await;
    let st = r.status();
    assert_eq!((st.user_count, st.state), (8, RunState::Running));
    assert_eq!(st.class_counts, counts(&[("A", 6), ("B", 2)]));
    // Retarget downwards while running.
    r.start(2, 10.0, None, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(r.status().user_count, 2);
    r.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stop_timeout_lets_running_transactions_finish() {
    let slow_class = || {
        UserClass::new(
            Scenario::new("Slow").register_transaction(transaction!(slow).set_name("slow")),
        )
    };
    let before = FINISHED.load(Ordering::SeqCst);
    let graceful = runner(&[slow_class()], Duration::ZERO);
    // The spawn's stop timeout replaces the runner's.
    graceful
        .spawn(order(&[("Slow", 3)], Duration::from_secs(5)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    graceful.stop().await;
    assert_eq!(
        FINISHED.load(Ordering::SeqCst) - before,
        3,
        "each user finished its transaction"
    );

    let before = FINISHED.load(Ordering::SeqCst);
    let abrupt = runner(&[slow_class()], Duration::from_secs(5));
    let no_timeout = SpawnOrder {
        stop_timeout: None,
        ..order(&[("Slow", 3)], Duration::ZERO)
    };
    abrupt.spawn(no_timeout).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    abrupt.stop().await;
    assert_eq!(
        FINISHED.load(Ordering::SeqCst) - before,
        0,
        "without a stop timeout (None is 0) users are interrupted"
    );
}

#[tokio::test(start_paused = true)]
async fn the_runner_keeps_answering_while_users_drain() {
    let r = runner(&[stubborn_class()], Duration::ZERO);
    r.spawn(order(&[("Stubborn", 2)], Duration::from_secs(5)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t0 = Instant::now();
    r.request_stop().await;
    assert_eq!(t0.elapsed(), Duration::ZERO, "request_stop returns at once");
    let st = r.status();
    assert_eq!(st.state, RunState::Stopping);
    assert_eq!(st.final_class_counts, counts(&[("Stubborn", 2)]));

    let mut status = r.subscribe();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        r.status().state,
        RunState::Stopping,
        "within the stop timeout"
    );
    // A second command is answered at once, though the users have not ended.
    let t1 = Instant::now();
    r.request_stop().await;
    assert_eq!(t1.elapsed(), Duration::ZERO);
    // Refusals are answered at once too: the loop checks them, it does not wait for the drain.
    let e = r.start(1, -1.0, None, None).await.unwrap_err();
    assert!(matches!(e, RunnerError::InvalidSpawnRate(_)), "{e}");
    let e = r
        .spawn(order(&[("Gone", 1)], Duration::ZERO))
        .await
        .unwrap_err();
    assert!(matches!(e, RunnerError::UnknownClass(_)), "{e}");
    assert_eq!(t1.elapsed(), Duration::ZERO);
    assert_eq!(r.status().state, RunState::Stopping);

    r.stop().await;
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_millis(5100),
        "stopped when the stop timeout killed the users: {waited:?}"
    );
    assert_eq!(r.status().state, RunState::Stopped);
    // The watch saw `stopped` after `stopping`, as a subscriber would.
    assert_eq!(status.borrow_and_update().state, RunState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_spawn_during_a_stop_waits_for_it_then_starts_a_new_test() {
    let (r, hub) = runner_with_hub(&[stubborn_class()], Duration::from_secs(5));
    r.spawn(order(&[("Stubborn", 3)], Duration::from_secs(5)))
        .await
        .unwrap();
    let t0 = Instant::now();
    r.request_stop().await;
    hub.exception("from the old test".into(), "tb\n".into())
        .await;
    let again = tokio::spawn({
        let r = r.clone();
        async move { r.spawn(order(&[("Stubborn", 1)], Duration::ZERO)).await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!again.is_finished(), "the spawn waits for the stop");
    assert_eq!(r.status().state, RunState::Stopping);
    let now = again.await.unwrap().unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(now, counts(&[("Stubborn", 1)]));
    let st = r.status();
    assert_eq!((st.state, st.user_count), (RunState::Running, 1));
    assert_eq!(exceptions(&hub).await, 0, "the new test starts empty");
    // Its own stop timeout (0) now applies: this stop is immediate.
    let t1 = Instant::now();
    r.stop().await;
    assert!(
        t1.elapsed() < Duration::from_millis(100),
        "{:?}",
        t1.elapsed()
    );
    assert_eq!(r.status().state, RunState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_second_stop_drops_a_spawn_that_was_waiting() {
    let r = runner(&[stubborn_class()], Duration::from_secs(5));
    r.spawn(order(&[("Stubborn", 1)], Duration::from_secs(5)))
        .await
        .unwrap();
    r.request_stop().await;
    let waiting = tokio::spawn({
        let r = r.clone();
        async move { r.start(4, 1.0, None, None).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    r.stop().await;
    let err = waiting.await.unwrap().unwrap_err();
    assert!(matches!(err, RunnerError::Cancelled), "{err}");
    let st = r.status();
    assert_eq!((st.state, st.user_count), (RunState::Stopped, 0));
}

#[tokio::test(start_paused = true)]
async fn start_after_a_stop_runs_again() {
    let r = runner(&[class("A", 1)], Duration::ZERO);
    r.start(2, 2.0, None, None).await.unwrap();
    assert_eq!(r.status().state, RunState::Running);
    r.stop().await;
    assert_eq!(r.status().state, RunState::Stopped);
    r.start(3, 3.0, None, None).await.unwrap();
    let st = r.status();
    assert_eq!((st.state, st.user_count), (RunState::Running, 3));
    r.stop().await;
}
