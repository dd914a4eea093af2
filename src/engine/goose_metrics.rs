//! Requests a transaction makes through Goose's own API (`user.get`, `user.post`,
//! `user.request(GooseRequest)`, …), turned into skein's [`RequestRecord`]s so they are counted
//! in the statistics instead of reaching the target unrecorded.
//!
//! Why Goose's metrics channel, and not a client of our own: `GooseUser::request` sends over
//! `user.client` (a `reqwest::Client`) and returns the response to the transaction; nothing
//! between the two can be hooked, but Goose reports every request, and every
//! `set_success`/`set_failure` on one, as a `GooseMetric::Request` on
//! `GooseUser::metrics_channel`. Each user gets its own channel, owned by this collector.
//!
//! Goose buffers a request's metric in the user until the next request (or a
//! `set_success`/`set_failure`), and offers no public flush. At the end of each transaction the
//! collector flushes it with `set_success` on a marker request of its own (failed, so Goose sends
//! it as an update after the pending one), which it recognises and drops.
//!
//! Most transactions make no Goose request (skein's own `Request` is recorded without Goose), and
//! the flush costs a marker clone, a channel send and a drain each time. So each user also gets
//! Goose's throttle channel, unbounded: Goose sends one token on it before every request it
//! makes, which never waits, and the collector skips the flush when no token came since the last
//! one and no update is queued.
//!
//! The transaction is the unit of Locust's `catch_response` block: the records are held until it
//! ends, and a `set_success`/`set_failure` update replaces its request's outcome, so each request
//! is counted once, with its final outcome. An update whose request was recorded in an earlier
//! transaction (kept across transactions in session data) changes nothing: that request is
//! already counted.
//!
//! What differs from Locust's `HttpUser` and why (Goose does not expose it): the response time
//! runs to the response headers (Goose measures to `client.execute`, and the body is read by the
//! transaction, if at all); the content length is 0 (reqwest 0.13's connector layer cannot wrap
//! the connection's IO — its `Conn` has no public constructor — so no byte count or end of body
//! is seen); a status < 400 Goose calls a failure (a 3xx it did not follow, a status other than
//! `expect_status_code`) stays a failure.
//!
//! A failed connect (refused, reset: an operating-system error) gets Python's exception text,
//! the one `skein_api::Request` gives, from the user's client (see [`super::session`]), so the
//! two merge; a DNS or TLS failure, or a timeout, keeps Goose's text
//! (`error sending request /path: client error (Connect)`).

use std::borrow::Cow;
use std::sync::Arc;

use goose::goose::GooseUser;
use goose::metrics::{GooseMetric, GooseRequestMetric};
use skein_api::engine_support::RequestSink;

use super::session::ConnectFaults;
use skein_api::{Failure, RequestRecord};

/// The name of the flush marker; a request name Goose itself never produces (it is not a path).
const MARKER_NAME: &str = "\u{0}skein-flush-marker";

/// One user's collector: the receiving end of its Goose metrics channel and the marker that
/// flushes Goose's pending request.
pub struct GooseMetrics {
    rx: flume::Receiver<GooseMetric>,
    /// One token per request Goose started (its throttle channel, which nothing else reads).
    started: flume::Receiver<bool>,
    marker: GooseRequestMetric,
    /// When the user was created (epoch seconds): Goose's `elapsed` counts from it.
    epoch_start: f64,
    /// The connects the user's client failed, as Python's exceptions.
    faults: ConnectFaults,
}

impl GooseMetrics {
    /// Gives `user` a metrics channel (replacing any) and returns its collector. Call it right
    /// after `GooseUser::new`, whose clock the records' timestamps are taken from.
    pub fn attach(user: &mut GooseUser, faults: ConnectFaults) -> Self {
        // Unbounded because Goose sends synchronously from inside the transaction (a bounded
        // channel would block a runtime thread); it holds one transaction's requests at most,
        // as `collect` empties it after each.
        let (tx, rx) = flume::unbounded();
        user.metrics_channel = Some(tx);
        // Unbounded for the same reason, and emptied by every flush.
        let (tokens, started) = flume::unbounded();
        user.throttle = Some(tokens);
        user.is_throttled = true;
        GooseMetrics {
            rx,
            started,
            marker: marker(),
            epoch_start: skein_api::epoch_seconds(),
            faults,
        }
    }

    /// After a transaction: flushes Goose's pending request, then reports every request the
    /// transaction made, with its final outcome, to `sink`.
    pub async fn collect(
        &self,
        user: &mut GooseUser,
        sink: &Arc<dyn RequestSink>,
        scheduled_at: Option<f64>,
    ) {
        for record in self.take(user, scheduled_at) {
            sink.record(record).await;
        }
    }

    /// Flushes Goose's pending request and turns everything the channel holds into records.
    fn take(&self, user: &mut GooseUser, scheduled_at: Option<f64>) -> Vec<RequestRecord> {
        // No request started since the last flush, so nothing is pending in `user`.
        if self.started.is_empty() && self.rx.is_empty() {
            return Vec::new();
        }
        self.started.drain();
        let mut marker = self.marker.clone();
        // The channel is ours and open while `self` lives, so this cannot fail; were it to,
        // the pending request is sent with the next one.
        let _ = user.set_success(&mut marker);
        coalesce(self.drain(), self.epoch_start, scheduled_at)
    }
}

impl GooseMetrics {
    /// For a user dropped in the middle of a transaction (a killed user): reports the requests
    /// that transaction finished, from a task of their own, as Drop cannot wait. Outside a
    /// runtime (nothing to report to) they are dropped.
    pub fn collect_detached(&self, user: &mut GooseUser, sink: Arc<dyn RequestSink>) {
        let records = self.take(user, None);
        if records.is_empty() {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                for record in records {
                    sink.record(record).await;
                }
            });
        }
    }
}

impl GooseMetrics {
    /// The transaction's request metrics, each connection error given the text of its failed
    /// connect (in order: a user's Goose requests are sequential).
    fn drain(&self) -> Vec<GooseRequestMetric> {
        let metrics = self
            .rx
            .try_iter()
            .filter_map(|m| match m {
                GooseMetric::Request(r) => Some(*r),
                _ => None,
            })
            .map(|mut r| {
                if is_connect_error(&r) {
                    if let Some(text) = self.faults.pop() {
                        r.error = text;
                    }
                }
                r
            })
            .collect();
        self.faults.clear();
        metrics
    }
}

/// A request Goose failed for want of a connection (not an update: `set_failure`'s text is
/// the transaction's).
fn is_connect_error(m: &GooseRequestMetric) -> bool {
    m.status_code == 0 && !m.update && m.error.ends_with("(Connect)")
}

/// The records of one transaction's metrics: each request once, an update (from
/// `set_success`/`set_failure`) applied to the latest earlier request it names, the marker
/// dropped.
pub fn coalesce(
    metrics: Vec<GooseRequestMetric>,
    epoch_start: f64,
    scheduled_at: Option<f64>,
) -> Vec<RequestRecord> {
    let mut requests: Vec<GooseRequestMetric> = Vec::with_capacity(metrics.len());
    for m in metrics {
        if &*m.name == MARKER_NAME {
            continue;
        }
        if !m.update {
            requests.push(m);
            continue;
        }
        let original = requests.iter_mut().rev().find(|r| same_request(r, &m));
        if let Some(r) = original {
            r.success = m.success;
            r.error = m.error;
            r.update = true;
        }
    }
    requests
        .into_iter()
        .map(|m| to_record(m, epoch_start, scheduled_at))
        .collect()
}

fn same_request(a: &GooseRequestMetric, b: &GooseRequestMetric) -> bool {
    a.elapsed == b.elapsed
        && a.user == b.user
        && a.name == b.name
        && a.raw.url == b.raw.url
        && a.raw.method == b.raw.method
}

/// One Goose request metric as Locust's statistics see it.
pub fn to_record(
    m: GooseRequestMetric,
    epoch_start: f64,
    scheduled_at: Option<f64>,
) -> RequestRecord {
    let response_time_ms = m.response_time_micros() as f64 / 1000.0;
    let failure = failure(&m);
    RequestRecord {
        method: Cow::Owned(m.raw.method_label().to_string()),
        name: Cow::Owned(m.name.to_string()),
        response_time_ms: Some(response_time_ms),
        content_length: 0,
        failure,
        timestamp: epoch_start + (m.elapsed as f64 + response_time_ms) / 1000.0,
        scheduled_at,
    }
}

/// Locust's verdict: an update's own (`set_failure`'s tag is a `catch_response` failure, a
/// `set_success` accepts any status); otherwise no response is a connection error, a status of
/// 400 or more fails unless Goose accepted it (`expect_status_code`), and a smaller status
/// keeps Goose's verdict.
fn failure(m: &GooseRequestMetric) -> Option<Failure> {
    if m.success {
        return None;
    }
    if m.update {
        return Some(Failure::Check(m.error.clone()));
    }
    if m.status_code == 0 {
        return Some(Failure::Connection(m.error.clone()));
    }
    if m.status_code >= 400 && m.status_code < 600 {
        let reason = reqwest::StatusCode::from_u16(m.status_code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_string();
        return Some(Failure::Status {
            code: m.status_code,
            reason,
            url: m.name.to_string(),
        });
    }
    Some(Failure::Check(m.error.clone()))
}

/// A failed request under [`MARKER_NAME`], so `set_success` sends it (after the pending one).
/// Goose's metric has no public constructor; its fields are public and it deserialises.
fn marker() -> GooseRequestMetric {
    serde_json::from_value(serde_json::json!({
        "elapsed": 0,
        "scenario_index": 0,
        "scenario_name": "",
        "transaction_index": usize::MAX,
        "transaction_name": {"TransactionOnly": ""},
        "raw": {"method": "Get", "url": "", "headers": [], "body": "", "custom_method": ""},
        "name": MARKER_NAME,
        "final_url": "",
        "redirected": false,
        "response_time": 0,
        "status_code": 0,
        "success": false,
        "update": false,
        "user": 0,
        "error": "",
        "coordinated_omission_elapsed": 0,
        "user_cadence": 0,
    }))
    .expect("the marker matches GooseRequestMetric's fields")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_builds() {
        let m = marker();
        assert!(!m.success);
        assert_eq!(&*m.name, MARKER_NAME);
    }

    fn metric(name: &str, status: u16, success: bool) -> GooseRequestMetric {
        let mut m = marker();
        m.name = Arc::from(name);
        m.raw.url = format!("http://t{name}");
        m.status_code = status;
        m.success = success;
        m.elapsed = 5;
        m.response_time = 7;
        m
    }

    #[test]
    fn an_update_flips_its_request_once() {
        let a = metric("/a", 200, true);
        let mut a_failed = a.clone();
        a_failed.success = false;
        a_failed.update = true;
        a_failed.error = "wrong body".into();
        let b = metric("/b", 404, false);
        let mut b_ok = b.clone();
        b_ok.success = true;
        b_ok.update = true;
        let recs = coalesce(vec![a, a_failed, b, b_ok, marker()], 100.0, None);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].failure, Some(Failure::Check("wrong body".into())));
        assert_eq!(recs[1].failure, None);
        assert_eq!(recs[0].response_time_ms, Some(7.0));
        assert_eq!(recs[0].method, "GET");
    }

    #[test]
    fn a_status_of_400_or_more_fails_with_locusts_error() {
        let recs = coalesce(vec![metric("/x", 500, false)], 0.0, None);
        assert_eq!(
            recs[0].failure,
            Some(Failure::Status {
                code: 500,
                reason: "Internal Server Error".into(),
                url: "/x".into()
            })
        );
    }
}
