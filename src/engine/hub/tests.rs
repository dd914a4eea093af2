use super::*;
use std::borrow::Cow;

fn rec(i: u64) -> RequestRecord {
    RequestRecord {
        method: Cow::Borrowed("GET"),
        name: Cow::Owned(format!("/id/{i}")),
        response_time_ms: Some(1.0),
        content_length: 0,
        failure: Some(skein_api::Failure::Check(format!("error {i}"))),
        timestamp: 1.0,
        scheduled_at: None,
    }
}

#[tokio::test]
async fn the_hub_caps_its_tables() {
    let limits = StatsLimits {
        max_request_names: 10,
        max_failure_rows: 7,
    };
    let hub = spawn_with(0.0, "test".into(), limits);
    for i in 0..2_000 {
        hub.record(rec(i)).await;
    }
    let (entries, errors, requests, failures) = hub
        .read(|v| {
            let total = v.stats.total();
            (
                v.stats.entries_in_order().len(),
                v.stats.errors_in_order().len(),
                total.num_requests,
                total.num_failures,
            )
        })
        .await
        .expect("hub runs");
    assert_eq!((entries, errors), (11, 8));
    assert_eq!((requests, failures), (2_000, 2_000));
}

/// A worker's hub hands over its deltas and starts again; a master's merges them, and
/// lists each worker that raised an exception.
#[tokio::test]
async fn a_worker_reports_deltas_and_a_master_merges_them() {
    let limits = StatsLimits::default();
    let worker = spawn_as(HubRole::Worker, 0.0, "w1".into(), limits);
    let master = spawn_as(HubRole::Master, 0.0, "master".into(), limits);
    for i in 0..3 {
        worker.record(rec(i % 2)).await;
    }
    let first = worker.take_report(5.0).await.expect("hub runs");
    assert_eq!(first.stats.len(), 2);
    assert_eq!(first.stats_total.num_requests, 3);
    assert_eq!(first.errors.0.len(), 2);
    let second = worker.take_report(8.0).await.expect("hub runs");
    assert!(
        second.stats.is_empty(),
        "entries without data are not sent again"
    );
    assert_eq!(second.stats_total.num_requests, 0);
    assert!(second.errors.0.is_empty());

    master.merge_report("w1".into(), first.clone(), 5.0);
    master.merge_report("w2".into(), first, 5.0);
    master
        .exception_from("boom".into(), "tb".into(), "w1".into())
        .await;
    master
        .exception_from("boom".into(), "tb".into(), "w2".into())
        .await;
    let (requests, rows, nodes, count) = master
        .read(|v| {
            let ex = &v.exceptions.rows()[0];
            (
                v.stats.total().num_requests,
                v.stats.entries_in_order().len(),
                ex.nodes_joined(),
                ex.count,
            )
        })
        .await
        .expect("hub runs");
    assert_eq!((requests, rows), (6, 2));
    assert_eq!((nodes.as_str(), count), ("w1, w2", 2));
}

/// A hub that is not running (the test's single thread never yields to it) takes exactly
/// its queue's worth of records; the next sender waits. Reads and exceptions are not lost
/// behind the full queue: once the hub runs, it answers and has counted everything.
#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_makes_senders_wait() {
    use futures::FutureExt;
    let hub = spawn_queued(
        HubRole::Local,
        0.0,
        "local".into(),
        StatsLimits::default(),
        4,
    );
    for i in 0..4 {
        assert!(hub.record(rec(i)).now_or_never().is_some(), "room for {i}");
    }
    let mut fifth = hub.record(rec(4));
    assert!((&mut fifth).now_or_never().is_none(), "the fifth waits");
    let mut exception = Box::pin(hub.exception("boom".into(), "tb".into()));
    assert!(
        (&mut exception).now_or_never().is_none(),
        "so does an exception"
    );
    // The read goes through although the queue is full, and sees the four queued records.
    let seen = hub.read(|v| v.stats.total().num_requests).await;
    assert_eq!(seen, Some(4));
    fifth.await;
    exception.await;
    let (requests, exceptions) = hub
        .read(|v| (v.stats.total().num_requests, v.exceptions.len()))
        .await
        .expect("hub runs");
    assert_eq!((requests, exceptions), (5, 1));
}

/// Collects what the fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_warning_is_logged_once_per_table() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let limits = StatsLimits {
            max_request_names: 3,
            max_failure_rows: 5,
        };
        let mut stats = RequestStats::with_limits(true, limits, 0.0);
        let mut warned = Overflowed::default();
        for i in 0..100 {
            stats.log(&rec(i));
            warn_overflow_once(&stats, &mut warned);
            if i == 50 {
                stats.reset_all(2.0);
            }
        }
    });
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text.matches("More than 3 request names").count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches("More than 5 distinct failures").count(),
        1,
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
}

/// In an open-model run a worker's report carries its open-model delta with the statistics,
/// taken in the same step; a master merges the deltas into its own summary.
#[tokio::test]
async fn a_workers_open_model_delta_reaches_the_masters_summary() {
    let limits = StatsLimits::default();
    let worker = spawn_as(HubRole::Worker, 0.0, "w1".into(), limits);
    let master = spawn_as(HubRole::Master, 0.0, "master".into(), limits);
    let (_, none) = worker.take_reports(1.0).await.unwrap();
    assert!(none.is_none(), "no open model yet");
    worker.open_begin(10.0, 1.0);
    master.open_begin(20.0, 1.0);
    // Records queued before a command are taken in before it: let the begin land first.
    worker.read(|_| ()).await.unwrap();
    let mut r = rec(0);
    r.scheduled_at = Some(0.5);
    worker.record(r).await;
    let delta = ArrivalCounts {
        scheduled: 5,
        started: 4,
        late: 1,
        dropped: 1,
    };
    worker.count_arrivals(delta, 2.0);
    // The statistics-only read leaves the open delta for the worker's report.
    assert_eq!(worker.take_report(2.5).await.unwrap().stats.len(), 1);
    let (_, open) = worker.take_reports(3.0).await.unwrap();
    let open = open.expect("an open-model delta");
    assert_eq!(open.counts, delta);
    assert_eq!(open.entries.len(), 1);
    master.merge_open(open.clone(), 3.0);
    master.merge_open(open, 3.0);
    let (counts, requests, asked) = master
        .read(|v| {
            (
                v.open.counts(),
                v.open.total().num_requests,
                v.open.rate_asked(),
            )
        })
        .await
        .unwrap();
    assert_eq!(counts.scheduled, 10);
    assert_eq!(counts.dropped, 2);
    assert_eq!(requests, 2);
    assert_eq!(
        asked,
        Some(20.0),
        "the master's own rate, not a worker's share"
    );
    let (_, again) = worker.take_reports(4.0).await.unwrap();
    assert!(again.unwrap().is_empty(), "the report reset the delta");
}
