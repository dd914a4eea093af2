//! The "model": a pure, deterministic image classifier over a fixed label set.
//!
//! It does the work a real preprocessing pipeline does (decode whatever format the bytes are,
//! cap the size at [`MAX_SIDE`], resize to the model input of [`INPUT_SIZE`]²) so that its cost
//! grows with the image like the real service's, then turns image statistics (a colour
//! histogram and a coarse luminance grid) into label scores with a fixed pseudo-random
//! projection and a softmax. The same bytes always give the same predictions. No I/O, no clock.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use serde::Serialize;

use super::jpeg::Completeness;

/// The side of the square model input.
pub const INPUT_SIZE: u32 = 224;
/// Larger images are downsized to fit this side before preprocessing.
pub const MAX_SIDE: u32 = 1024;
/// Images with a side larger than this are refused before decoding (decompression bombs).
pub const MAX_DECODE_SIDE: u32 = 16_384;
pub const MODEL_NAME: &str = "skein-reference-classifier";
pub const MODEL_VERSION: &str = "1.0.0";

/// ImageNet-like labels; the index is the class id.
pub const LABELS: &[&str] = &[
    "tench",
    "goldfish",
    "great white shark",
    "hen",
    "ostrich",
    "goldfinch",
    "bald eagle",
    "tree frog",
    "loggerhead turtle",
    "green snake",
    "tarantula",
    "peacock",
    "flamingo",
    "king penguin",
    "golden retriever",
    "tabby cat",
    "tiger",
    "zebra",
    "red panda",
    "monarch butterfly",
    "airliner",
    "ambulance",
    "bicycle",
    "canoe",
    "castle",
    "cellular telephone",
    "coffee mug",
    "convertible",
    "desktop computer",
    "electric guitar",
    "fire engine",
    "grand piano",
    "lighthouse",
    "mountain bike",
    "park bench",
    "school bus",
    "sports car",
    "steam locomotive",
    "umbrella",
    "volcano",
];

const HIST_BINS_PER_CHANNEL: usize = 4;
const GRID: u32 = 8;
const NUM_FEATURES: usize =
    HIST_BINS_PER_CHANNEL * HIST_BINS_PER_CHANNEL * HIST_BINS_PER_CHANNEL + (GRID * GRID) as usize;
/// Scales the scores before the softmax: larger makes the top class more confident.
const TEMPERATURE: f64 = 4.0;

/// One label with its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub class_name: &'static str,
    pub probability: f64,
    pub class_id: usize,
}

/// Why an upload could not be classified (all are the client's fault: HTTP 400).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ClassifyError {
    #[error("Empty file")]
    Empty,
    #[error("Invalid image file: cannot identify image format")]
    UnknownFormat,
    #[error("Invalid image file: {0}")]
    Decode(String),
    /// A JPEG whose image data stops before its end marker: Pillow's `OSError` text, without
    /// the count of bytes its decoder had buffered (that count is Pillow's internal state).
    #[error("Invalid image file: image file is truncated")]
    Truncated,
    /// A JPEG that stops inside its headers (Pillow's `OSError('Truncated File Read')`).
    #[error("Invalid image file: Truncated File Read")]
    TruncatedHeader,
    #[error("Image dimensions {width}x{height} exceed the maximum of {max}x{max}")]
    TooLarge { width: u32, height: u32, max: u32 },
}

/// Describes the model, as `/api/v1/model/info` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub framework: &'static str,
    pub input_size: u32,
    pub num_classes: usize,
    pub max_image_side: u32,
    pub labels: &'static [&'static str],
}

impl ModelInfo {
    pub fn get() -> Self {
        ModelInfo {
            name: MODEL_NAME,
            version: MODEL_VERSION,
            framework: "skein (deterministic image statistics)",
            input_size: INPUT_SIZE,
            num_classes: LABELS.len(),
            max_image_side: MAX_SIDE,
            labels: LABELS,
        }
    }

    /// The short form embedded in health and classification responses (no label list).
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "version": self.version,
            "input_size": self.input_size,
            "num_classes": self.num_classes,
        })
    }
}

/// Decodes `bytes` (format guessed from the content), preprocesses and returns the `top_k`
/// most probable labels, most probable first. `top_k` is clamped to the label count.
pub fn classify(bytes: &[u8], top_k: usize) -> Result<Vec<Prediction>, ClassifyError> {
    let image = decode(bytes)?;
    let input = preprocess(image);
    let features = features(&input);
    let probabilities = softmax(&scores(&features));
    Ok(top(&probabilities, top_k))
}

fn decode(bytes: &[u8]) -> Result<DynamicImage, ClassifyError> {
    if bytes.is_empty() {
        return Err(ClassifyError::Empty);
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ClassifyError::Decode(e.to_string()))?;
    match reader.format() {
        None => return Err(ClassifyError::UnknownFormat),
        // The `image` crate decodes a cut JPEG (grey where data is missing); Pillow refuses it.
        Some(ImageFormat::Jpeg) => match super::jpeg::completeness(bytes) {
            Completeness::Complete => {}
            Completeness::DataCut => return Err(ClassifyError::Truncated),
            Completeness::HeaderCut => return Err(ClassifyError::TruncatedHeader),
        },
        Some(_) => {}
    }
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| ClassifyError::Decode(e.to_string()))?;
    if width > MAX_DECODE_SIDE || height > MAX_DECODE_SIDE {
        return Err(ClassifyError::TooLarge {
            width,
            height,
            max: MAX_DECODE_SIDE,
        });
    }
    // `into_dimensions` consumed the reader; a second one over the same bytes is cheap.
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ClassifyError::Decode(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODE_SIDE);
    limits.max_image_height = Some(MAX_DECODE_SIDE);
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| ClassifyError::Decode(e.to_string()))
}

fn preprocess(image: DynamicImage) -> image::RgbImage {
    let image = if image.width() > MAX_SIDE || image.height() > MAX_SIDE {
        image.resize(MAX_SIDE, MAX_SIDE, FilterType::Triangle)
    } else {
        image
    };
    image
        .resize_exact(INPUT_SIZE, INPUT_SIZE, FilterType::Triangle)
        .to_rgb8()
}

/// A normalized colour histogram followed by a centred luminance grid.
fn features(input: &image::RgbImage) -> Vec<f64> {
    let mut features = vec![0.0; NUM_FEATURES];
    let bins = HIST_BINS_PER_CHANNEL;
    let pixels = (input.width() * input.height()).max(1) as f64;
    for p in input.pixels() {
        let [r, g, b] = p.0;
        let bin = |c: u8| (c as usize * bins) / 256;
        features[(bin(r) * bins + bin(g)) * bins + bin(b)] += 1.0 / pixels;
    }
    let grid = image::imageops::thumbnail(input, GRID, GRID);
    let offset = bins * bins * bins;
    for (i, p) in grid.pixels().enumerate() {
        let [r, g, b] = p.0;
        let luma = 0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64;
        features[offset + i] = luma / 255.0 - 0.5;
    }
    features
}

/// A fixed projection: weight (label, feature) is a hash of the pair mapped to [-1, 1].
fn scores(features: &[f64]) -> Vec<f64> {
    (0..LABELS.len())
        .map(|label| {
            features
                .iter()
                .enumerate()
                .map(|(j, f)| weight(label, j) * f)
                .sum::<f64>()
                * TEMPERATURE
        })
        .collect()
}

fn weight(label: usize, feature: usize) -> f64 {
    let h = splitmix64(((label as u64) << 32) ^ feature as u64 ^ 0x5EED_C1A5_5F1E_u64);
    (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn softmax(scores: &[f64]) -> Vec<f64> {
    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

fn top(probabilities: &[f64], k: usize) -> Vec<Prediction> {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    // Ties broken by class id so the order is total and stable.
    order.sort_by(|&a, &b| {
        probabilities[b]
            .total_cmp(&probabilities[a])
            .then(a.cmp(&b))
    });
    order
        .into_iter()
        .take(k)
        .map(|i| Prediction {
            class_name: LABELS[i],
            probability: probabilities[i],
            class_id: i,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, seed: u8) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([
                (x as u8).wrapping_mul(seed),
                (y as u8).wrapping_add(seed),
                seed,
            ])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn top_k_is_sorted_and_sums_to_at_most_one() {
        let bytes = png(64, 48, 7);
        for k in [1, 3, 5, 10, LABELS.len()] {
            let p = classify(&bytes, k).unwrap();
            assert_eq!(p.len(), k);
            assert!(p.windows(2).all(|w| w[0].probability >= w[1].probability));
            let sum: f64 = p.iter().map(|p| p.probability).sum();
            assert!(sum <= 1.0 + 1e-9, "sum {sum}");
            for pred in &p {
                assert_eq!(LABELS[pred.class_id], pred.class_name);
            }
        }
        let all: f64 = classify(&bytes, 1000)
            .unwrap()
            .iter()
            .map(|p| p.probability)
            .sum();
        assert!((all - 1.0).abs() < 1e-9);
    }

    #[test]
    fn deterministic_and_content_dependent() {
        let a = png(50, 50, 3);
        let b = png(50, 50, 200);
        assert_eq!(classify(&a, 5).unwrap(), classify(&a, 5).unwrap());
        assert_ne!(classify(&a, 5).unwrap(), classify(&b, 5).unwrap());
    }

    #[test]
    fn rejects_non_images() {
        assert_eq!(classify(b"", 5), Err(ClassifyError::Empty));
        assert_eq!(
            classify(b"definitely not an image", 5),
            Err(ClassifyError::UnknownFormat)
        );
        // A PNG signature with a truncated body is recognised but fails to decode.
        let mut bytes = png(20, 20, 1);
        bytes.truncate(40);
        assert!(matches!(classify(&bytes, 5), Err(ClassifyError::Decode(_))));
    }

    #[test]
    fn large_images_are_downsized() {
        let bytes = png(1500, 300, 9);
        assert_eq!(classify(&bytes, 3).unwrap().len(), 3);
    }
}
