//! The image-classifier workload: Goose scenarios for skein's engine.
//!
//! [`catalogue`] lists the user classes; [`classifier`] holds their transactions (public, so
//! tests and other workloads can reuse them); [`images`] the shared test images.

pub mod bench;
pub mod classifier;
pub mod images;

use skein_api::goose::GooseError;
use skein_api::UserClass;

/// Every user class this workload offers, in the order `--list` shows them:
///
/// | class | weight | wait | transactions (weight) | tags |
/// |---|---|---|---|---|
/// | `ImageClassifierUser` | 1 | 1–3 s | `health` (3), `model_info` (2), `classify` (5) | `health`, `model`, `classify` |
/// | `HighLoadUser` | 1 | 0.1–0.5 s | `classify` (8), `health` (2) | `classify`, `health` |
/// | `ErrorTestingUser` | 1 | 2–5 s | `invalid_image`, `missing_file`, `invalid_top_k`, `large_image` | `errors` |
/// | `ThroughputUser` (runs only when named) | 1 | none | `root` (`GET /`) | — |
/// | `ThroughputPostUser` (runs only when named) | 1 | none | `classify` (224 px upload, no check) | — |
/// | `PacedUser` (runs only when named) | 1 | 1–3 s | `root` (`GET /`) | — |
///
/// # Adding your own scenario
///
/// Your own load test needs no change here: write the classes in a crate of your own and call
/// `skein::main(your_classes)` from its `main` (see `examples/my-loadtest/`). This list is the
/// `skein` binary's own.
///
/// A user class is a Goose [`Scenario`](skein_api::goose::goose::Scenario) wrapped in a
/// [`UserClass`]. Its transactions make requests with [`Request`](skein_api::Request), which
/// records them in skein's statistics with Locust's semantics (a status >= 400 fails unless
/// listed in `expect_status`, a `check` can fail a request with a message). Write the
/// transactions, build the class, and pass it to `skein::main` (or push it onto the list below):
///
/// ```
/// use skein_api::prelude::*;
/// use std::time::Duration;
///
/// async fn search(user: &mut GooseUser) -> TransactionResult {
///     Request::get("/api/v1/search?q=cat")
///         .name("/api/v1/search")            // the stats row (Locust's `name=`)
///         .expect_status(&[200])
///         .check(|r| if r.body.is_empty() { Err("empty body".into()) } else { Ok(()) })
///         .send(user)
///         .await;                             // never errors: failures are recorded
///     Ok(())
/// }
///
/// # fn build() -> Result<UserClass, skein_api::goose::GooseError> {
/// let searcher = UserClass::new(
///     scenario!("SearchUser")
///         .set_weight(2)?                                      // class weight
///         .set_wait_time(Duration::from_secs(1), Duration::from_secs(2))?
///         .register_transaction(transaction!(search).set_name("search").set_weight(3)?),
/// )
/// .tag("search", &["search"]); // so `-T search` / `-E search` select it
/// # Ok(searcher) }
/// # build().unwrap();
/// ```
///
/// Add `.named_only()` for a class that should run only when named on the command line.
pub fn catalogue() -> Vec<UserClass> {
    // Every weight and wait time below is a valid constant (tested), so this cannot fail.
    try_catalogue().expect("the built-in catalogue's weights and wait times are valid")
}

fn try_catalogue() -> Result<Vec<UserClass>, GooseError> {
    Ok(vec![
        classifier::image_classifier_user()?,
        classifier::high_load_user()?,
        classifier::error_testing_user()?,
        classifier::throughput_user(),
        classifier::throughput_post_user(),
        classifier::paced_user()?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_valid_and_ordered() {
        let classes = try_catalogue().unwrap();
        let names: Vec<&str> = classes.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "ImageClassifierUser",
                "HighLoadUser",
                "ErrorTestingUser",
                "ThroughputUser",
                "ThroughputPostUser",
                "PacedUser"
            ]
        );
        assert_eq!(
            classes.iter().map(|c| c.named_only).collect::<Vec<_>>(),
            [false, false, false, true, true, true]
        );
        let icu = &classes[0].scenario;
        assert_eq!(icu.weight, 1);
        assert_eq!(
            icu.transaction_wait,
            Some((Duration::from_secs(1), Duration::from_secs(3)))
        );
        let weights: Vec<usize> = icu.transactions.iter().map(|t| t.weight).collect();
        assert_eq!(weights, [3, 2, 5]);
        assert_eq!(
            classes[0].tags_of("model_info").collect::<Vec<_>>(),
            ["model"]
        );
        let high: Vec<usize> = classes[1]
            .scenario
            .transactions
            .iter()
            .map(|t| t.weight)
            .collect();
        assert_eq!(high, [8, 2]);
        assert_eq!(classes[3].scenario.transaction_wait, None);
        for t in &classes[2].scenario.transactions {
            let name = t.name.name_for_transaction();
            assert_eq!(classes[2].tags_of(name).collect::<Vec<_>>(), ["errors"]);
        }
    }

    use std::time::Duration;
}
