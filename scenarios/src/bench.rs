//! The workload of `skein bench`: one user class per benchmark family (health, model info,
//! classification over four image sizes), with no waits (the bench drives the pace), and a
//! bounded collector of the classification's top-prediction probability (the service README's
//! "confidence score distribution").
//!
//! These classes are not in [`crate::catalogue`]: Locust-style runs never pick them; the bench
//! builds them itself.

use std::sync::{Arc, Mutex};

use skein_api::goose::goose::Transaction;
use skein_api::goose::GooseError;
use skein_api::prelude::*;

use crate::images;

pub const HEALTH: &str = "/api/v1/health";
pub const MODEL_INFO: &str = "/api/v1/model/info";
pub const CLASSIFY: &str = "/api/v1/classify";
/// The image sides the classification benchmark uploads, each its own stats row.
pub const BENCH_SIDES: [u32; 4] = [224, 512, 1024, 2048];
/// `top_k` of every benchmark classification (the service's default).
const TOP_K: u32 = 5;

/// The stats row of a classification of a `side`-pixel image, e.g. `/api/v1/classify [224px]`.
pub fn classify_name(side: u32) -> String {
    format!("{CLASSIFY} [{side}px]")
}

/// Buckets of the confidence histogram: 0..1 in steps of 0.05.
pub const CONFIDENCE_BUCKETS: usize = 20;

/// The distribution of the top prediction's probability: fixed buckets plus count, min, max
/// and mean, so memory stays constant however long the run.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfidenceSummary {
    /// `buckets[i]` counts probabilities in `[i * 0.05, (i + 1) * 0.05)`; 1.0 goes in the last.
    pub buckets: [u64; CONFIDENCE_BUCKETS],
    pub count: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    sum: f64,
}

impl Default for ConfidenceSummary {
    fn default() -> Self {
        ConfidenceSummary {
            buckets: [0; CONFIDENCE_BUCKETS],
            count: 0,
            min: None,
            max: None,
            sum: 0.0,
        }
    }
}

impl ConfidenceSummary {
    /// Adds one probability; values outside 0..=1 (or NaN) are not probabilities and are ignored.
    pub fn add(&mut self, p: f64) {
        if !(0.0..=1.0).contains(&p) {
            return;
        }
        let i = ((p * CONFIDENCE_BUCKETS as f64) as usize).min(CONFIDENCE_BUCKETS - 1);
        self.buckets[i] += 1;
        self.count += 1;
        self.sum += p;
        self.min = Some(self.min.map_or(p, |m| m.min(p)));
        self.max = Some(self.max.map_or(p, |m| m.max(p)));
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// Shared by every user of a classification run; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ConfidenceCollector(Arc<Mutex<ConfidenceSummary>>);

impl ConfidenceCollector {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&self, p: f64) {
        // A poisoned lock only means another user panicked mid-add; the counts are still valid.
        self.0.lock().unwrap_or_else(|e| e.into_inner()).add(p);
    }

    pub fn summary(&self) -> ConfidenceSummary {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The top prediction's probability from a classification response body, or why there is none.
pub fn top_probability(body: &serde_json::Value) -> Result<f64, String> {
    let predictions = body
        .get("predictions")
        .and_then(|p| p.as_array())
        .ok_or("classification response has no predictions array")?;
    let first = predictions
        .first()
        .ok_or("classification returned no predictions")?;
    first
        .get("probability")
        .and_then(|p| p.as_f64())
        .ok_or_else(|| "top prediction has no numeric probability".to_string())
}

async fn health(user: &mut GooseUser) -> TransactionResult {
    Request::get(HEALTH).expect_status(&[200]).send(user).await;
    Ok(())
}

async fn model_info(user: &mut GooseUser) -> TransactionResult {
    Request::get(MODEL_INFO)
        .expect_status(&[200])
        .send(user)
        .await;
    Ok(())
}

/// One classification of the `side`-pixel image, its top probability added to `collector`.
fn classify_transaction(side: u32, collector: ConfidenceCollector) -> Transaction {
    let name = classify_name(side);
    Transaction::new(Arc::new(move |user| {
        let collector = collector.clone();
        let name = name.clone();
        Box::pin(async move {
            let form = Multipart::new()
                .file("file", "bench.jpg", "image/jpeg", images::bench_jpeg(side))
                .text("top_k", TOP_K.to_string());
            let seen = collector.clone();
            Request::post(CLASSIFY)
                .name(name)
                .multipart(form)
                .expect_status(&[200])
                .check(move |r| {
                    let body: serde_json::Value = r
                        .json()
                        .map_err(|e| format!("classification response is not JSON: {e}"))?;
                    seen.add(top_probability(&body)?);
                    Ok(())
                })
                .send(user)
                .await;
            Ok(())
        })
    }))
    .set_name(&format!("classify_{side}"))
}

/// `BenchHealthUser`: `GET /api/v1/health`, no wait.
pub fn health_user() -> UserClass {
    UserClass::new(
        scenario!("BenchHealthUser").register_transaction(transaction!(health).set_name("health")),
    )
}

/// `BenchModelInfoUser`: `GET /api/v1/model/info`, no wait.
pub fn model_info_user() -> UserClass {
    UserClass::new(
        scenario!("BenchModelInfoUser")
            .register_transaction(transaction!(model_info).set_name("model_info")),
    )
}

/// `BenchClassifyUser`: one classification per iteration, of one of `sides` (equal weights),
/// no wait. Every top probability goes to `collector`.
pub fn classify_user(
    sides: &[u32],
    collector: &ConfidenceCollector,
) -> Result<UserClass, GooseError> {
    let mut scenario = scenario!("BenchClassifyUser");
    for &side in sides {
        scenario = scenario.register_transaction(classify_transaction(side, collector.clone()));
    }
    Ok(UserClass::new(scenario))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_and_moments() {
        let mut s = ConfidenceSummary::default();
        for p in [0.0, 0.049, 0.05, 0.5, 0.99, 1.0, -0.1, 1.5, f64::NAN] {
            s.add(p);
        }
        assert_eq!(s.count, 6);
        assert_eq!(s.buckets[0], 2);
        assert_eq!(s.buckets[1], 1);
        assert_eq!(s.buckets[10], 1);
        assert_eq!(s.buckets[19], 2);
        assert_eq!(s.buckets.iter().sum::<u64>(), 6);
        assert_eq!(s.min, Some(0.0));
        assert_eq!(s.max, Some(1.0));
        let mean = s.mean().unwrap();
        assert!((mean - (0.049 + 0.05 + 0.5 + 0.99 + 1.0) / 6.0).abs() < 1e-12);
        assert_eq!(ConfidenceSummary::default().mean(), None);
    }

    #[test]
    fn top_probability_from_bodies() {
        let ok = serde_json::json!({"predictions": [{"label": "cat", "probability": 0.7}]});
        assert_eq!(top_probability(&ok), Ok(0.7));
        assert!(top_probability(&serde_json::json!({"predictions": []})).is_err());
        assert!(top_probability(&serde_json::json!({})).is_err());
        let bad = serde_json::json!({"predictions": [{"probability": "high"}]});
        assert!(top_probability(&bad).is_err());
    }

    #[test]
    fn classes_and_row_names() {
        let c = ConfidenceCollector::new();
        let class = classify_user(&BENCH_SIDES, &c).unwrap();
        assert_eq!(class.name(), "BenchClassifyUser");
        assert_eq!(class.scenario.transactions.len(), 4);
        assert_eq!(classify_name(224), "/api/v1/classify [224px]");
        assert_eq!(health_user().scenario.transactions.len(), 1);
        assert_eq!(model_info_user().name(), "BenchModelInfoUser");
    }
}
