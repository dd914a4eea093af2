//! The image-classifier user classes: what each simulated user does and how requests are judged.

use std::time::Duration;

use rand::seq::IndexedRandom;
use skein_api::goose::GooseError;
use skein_api::prelude::*;

use crate::images;

const HEALTH: &str = "/api/v1/health";
const MODEL_INFO: &str = "/api/v1/model/info";
const CLASSIFY: &str = "/api/v1/classify";
const TOP_KS: [u32; 4] = [1, 3, 5, 10];
/// The oversized upload may take a while to send and decode; only a 5xx or this timeout fails it.
const LARGE_IMAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// The classify form; the image part borrows the shared `&'static` bytes (no copy per request).
fn classify_form(image: &'static [u8], top_k: u32) -> Multipart {
    Multipart::new()
        .file("file", "test.jpg", "image/jpeg", image)
        .text("top_k", top_k.to_string())
}

/// Succeeds only on a JSON body whose `predictions` is a non-empty array.
fn has_predictions(response: &Response) -> Result<(), String> {
    let body: serde_json::Value = response
        .json()
        .map_err(|e| format!("classification response is not JSON: {e}"))?;
    match body.get("predictions").and_then(|p| p.as_array()) {
        Some(p) if !p.is_empty() => Ok(()),
        Some(_) => Err("classification returned no predictions".to_string()),
        None => Err("classification response has no predictions array".to_string()),
    }
}

/// `GET /api/v1/health`.
pub async fn health(user: &mut GooseUser) -> TransactionResult {
    Request::get(HEALTH).send(user).await;
    Ok(())
}

/// `GET /api/v1/model/info`.
pub async fn model_info(user: &mut GooseUser) -> TransactionResult {
    Request::get(MODEL_INFO).send(user).await;
    Ok(())
}

/// Classifies a random test image (224, 256 or 512 px) with a random `top_k` of 1, 3, 5 or 10.
pub async fn classify_random(user: &mut GooseUser) -> TransactionResult {
    // The thread RNG is not `Send`: draw before the first await.
    let (side, top_k) = {
        let mut rng = rand::rng();
        (
            *images::SIDES.choose(&mut rng).unwrap_or(&224),
            *TOP_KS.choose(&mut rng).unwrap_or(&5),
        )
    };
    classify(user, images::jpeg(side), top_k).await;
    Ok(())
}

/// Classifies the 224×224 image with `top_k=5`: the high-load request.
pub async fn classify_small(user: &mut GooseUser) -> TransactionResult {
    classify(user, images::jpeg(224), 5).await;
    Ok(())
}

async fn classify(user: &mut GooseUser, image: &'static [u8], top_k: u32) -> Response {
    Request::post(CLASSIFY)
        .multipart(classify_form(image, top_k))
        .expect_status(&[200])
        .check(has_predictions)
        .send(user)
        .await
}

/// Bytes that are no image, sent as a JPEG: the service must refuse them.
pub async fn invalid_image(user: &mut GooseUser) -> TransactionResult {
    static NOT_AN_IMAGE: &[u8] = b"this is not an image, just some text pretending to be a JPEG";
    Request::post(CLASSIFY)
        .name("/api/v1/classify [invalid image]")
        .multipart(classify_form(NOT_AN_IMAGE, 5))
        .expect_status(&[400, 422])
        .send(user)
        .await;
    Ok(())
}

/// A form without its `file` field.
pub async fn missing_file(user: &mut GooseUser) -> TransactionResult {
    Request::post(CLASSIFY)
        .name("/api/v1/classify [missing file]")
        .multipart(Multipart::new().text("top_k", "5"))
        .expect_status(&[400, 422])
        .send(user)
        .await;
    Ok(())
}

/// A valid image with `top_k=-1`.
pub async fn invalid_top_k(user: &mut GooseUser) -> TransactionResult {
    Request::post(CLASSIFY)
        .name("/api/v1/classify [invalid top_k]")
        .multipart(
            Multipart::new()
                .file("file", "test.jpg", "image/jpeg", images::jpeg(224))
                .text("top_k", "-1"),
        )
        .expect_status(&[400, 422])
        .send(user)
        .await;
    Ok(())
}

/// The 4000×4000 JPEG: a service may classify it (200) or refuse it (400, 413); a 5xx or a
/// timeout is a failure. The reference classifier classifies it (it is under 10 MB).
pub async fn large_image(user: &mut GooseUser) -> TransactionResult {
    let image = images::huge_jpeg_async().await;
    Request::post(CLASSIFY)
        .name("/api/v1/classify [large image]")
        .multipart(classify_form(image, 5))
        .expect_status(&[200, 400, 413])
        .timeout(LARGE_IMAGE_TIMEOUT)
        .send(user)
        .await;
    Ok(())
}

/// `GET /`: the cheapest request, for throughput benchmarks.
pub async fn root(user: &mut GooseUser) -> TransactionResult {
    Request::get("/").send(user).await;
    Ok(())
}

/// The classification upload of `HighLoadUser` (224 px JPEG, `top_k` 5) with no check of the
/// answer: the generator's cost of a multipart POST, for `perf/bench.sh` against a stub server.
pub async fn post_classify(user: &mut GooseUser) -> TransactionResult {
    Request::post(CLASSIFY)
        .multipart(classify_form(images::jpeg(224), 5))
        .send(user)
        .await;
    Ok(())
}

fn weighted(
    transaction: Transaction,
    name: &str,
    weight: usize,
) -> Result<Transaction, GooseError> {
    transaction.set_name(name).set_weight(weight)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

pub(crate) fn image_classifier_user() -> Result<UserClass, GooseError> {
    let scenario = scenario!("ImageClassifierUser")
        .set_weight(1)?
        .set_wait_time(secs(1.0), secs(3.0))?
        .register_transaction(weighted(transaction!(health), "health", 3)?)
        .register_transaction(weighted(transaction!(model_info), "model_info", 2)?)
        .register_transaction(weighted(transaction!(classify_random), "classify", 5)?);
    Ok(UserClass::new(scenario)
        .tag("health", &["health"])
        .tag("model_info", &["model"])
        .tag("classify", &["classify"]))
}

pub(crate) fn high_load_user() -> Result<UserClass, GooseError> {
    let scenario = scenario!("HighLoadUser")
        .set_wait_time(secs(0.1), secs(0.5))?
        .register_transaction(weighted(transaction!(classify_small), "classify", 8)?)
        .register_transaction(weighted(transaction!(health), "health", 2)?);
    Ok(UserClass::new(scenario)
        .tag("classify", &["classify"])
        .tag("health", &["health"]))
}

pub(crate) fn error_testing_user() -> Result<UserClass, GooseError> {
    let scenario = scenario!("ErrorTestingUser")
        .set_wait_time(secs(2.0), secs(5.0))?
        .register_transaction(transaction!(invalid_image).set_name("invalid_image"))
        .register_transaction(transaction!(missing_file).set_name("missing_file"))
        .register_transaction(transaction!(invalid_top_k).set_name("invalid_top_k"))
        .register_transaction(transaction!(large_image).set_name("large_image"));
    let mut class = UserClass::new(scenario);
    for name in [
        "invalid_image",
        "missing_file",
        "invalid_top_k",
        "large_image",
    ] {
        class = class.tag(name, &["errors"]);
    }
    Ok(class)
}

pub(crate) fn throughput_user() -> UserClass {
    let scenario =
        scenario!("ThroughputUser").register_transaction(transaction!(root).set_name("root"));
    UserClass::new(scenario).named_only()
}

pub(crate) fn paced_user() -> Result<UserClass, GooseError> {
    let scenario = scenario!("PacedUser")
        .set_wait_time(secs(1.0), secs(3.0))?
        .register_transaction(transaction!(root).set_name("root"));
    Ok(UserClass::new(scenario).named_only())
}

pub(crate) fn throughput_post_user() -> UserClass {
    let scenario = scenario!("ThroughputPostUser")
        .register_transaction(transaction!(post_classify).set_name("classify"));
    UserClass::new(scenario).named_only()
}
