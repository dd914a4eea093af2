//! My load test's user classes: what a simulated user of the service does. Here one class,
//! `ClassifyUser`, against skein's reference image classifier (which skein starts on its own
//! when no `-H/--host` is given).

use std::sync::OnceLock;
use std::time::Duration;

use skein_api::goose::GooseError;
use skein_api::prelude::*;

/// The stats row of the classify request (Locust's `name=`); the health check keeps its path.
pub const CLASSIFY_NAME: &str = "classify gradient";
pub const HEALTH_PATH: &str = "/api/v1/health";

/// Every class this binary offers, in the order `--list` shows them.
pub fn user_classes() -> Result<Vec<UserClass>, GooseError> {
    Ok(vec![classify_user()?])
}

/// Checks health now and then, mostly classifies; waits 0.1–0.5 s between transactions.
pub fn classify_user() -> Result<UserClass, GooseError> {
    Ok(UserClass::new(
        scenario!("ClassifyUser")
            .set_wait_time(Duration::from_millis(100), Duration::from_millis(500))?
            .register_transaction(transaction!(health).set_name("health").set_weight(1)?)
            .register_transaction(transaction!(classify).set_name("classify").set_weight(3)?),
    )
    .tag("health", &["health"])
    .tag("classify", &["classify"]))
}

async fn health(user: &mut GooseUser) -> TransactionResult {
    Request::get(HEALTH_PATH)
        .expect_status(&[200])
        .send(user)
        .await;
    Ok(())
}

async fn classify(user: &mut GooseUser) -> TransactionResult {
    let form = Multipart::new()
        .file("file", "gradient.jpg", "image/jpeg", gradient_jpeg())
        .text("top_k", "3");
    Request::post("/api/v1/classify")
        .name(CLASSIFY_NAME)
        .multipart(form)
        .expect_status(&[200])
        .check(has_predictions)
        .send(user)
        .await;
    Ok(())
}

/// A request that answered 200 but without predictions still fails, with this message.
fn has_predictions(response: &Response) -> Result<(), String> {
    let body: serde_json::Value = response.json().map_err(|e| format!("not JSON: {e}"))?;
    match body.get("predictions").and_then(|p| p.as_array()) {
        Some(p) if !p.is_empty() => Ok(()),
        _ => Err("no predictions".into()),
    }
}

/// A 224×224 colour gradient, encoded once and shared by every request (no copy per send).
fn gradient_jpeg() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let img = image::RgbImage::from_fn(224, 224, |x, y| {
            image::Rgb([x as u8, y as u8, ((x + y) / 2) as u8])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&img)
            .expect("encoding an in-memory RGB image to JPEG cannot fail");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classes_build_and_the_image_is_a_jpeg() {
        let classes = user_classes().unwrap();
        assert_eq!(classes.len(), 1);
        assert_eq!(classes[0].name(), "ClassifyUser");
        assert_eq!(&gradient_jpeg()[..2], &[0xFF, 0xD8]);
    }
}
