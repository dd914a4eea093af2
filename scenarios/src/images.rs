//! The test images the workload uploads: random-pixel JPEGs, generated once per process on
//! first use and shared by every user as `&'static [u8]` (so a multipart part borrows them
//! and no user ever copies one).

use std::io::Cursor;
use std::sync::{LazyLock, OnceLock};

use image::codecs::jpeg::JpegEncoder;
use image::ExtendedColorType;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// JPEG quality of every test image.
pub const QUALITY: u8 = 85;
/// The side of the oversized image `ErrorTestingUser` sends.
pub const LARGE_SIDE: u32 = 4000;

static SMALL: LazyLock<Vec<u8>> = LazyLock::new(|| random_jpeg(224, 1));
static MEDIUM: LazyLock<Vec<u8>> = LazyLock::new(|| random_jpeg(256, 2));
static LARGE: LazyLock<Vec<u8>> = LazyLock::new(|| random_jpeg(512, 3));
/// The benchmark's larger sizes: noise over a gradient (as [`huge_jpeg`]), so a 2048 px image
/// is about 1.5 MB rather than the 6 MB of pure noise, under the service's 10 MB limit.
static BENCH_1024: OnceLock<Vec<u8>> = OnceLock::new();
static BENCH_2048: OnceLock<Vec<u8>> = OnceLock::new();
/// A `OnceLock` rather than a `LazyLock` so async callers can ask whether it is built yet.
static HUGE: OnceLock<Vec<u8>> = OnceLock::new();

/// Uniform noise of full amplitude does not compress: a 4000×4000 one is about 25 MB at
/// quality 85, over the service's 10 MB limit. Noise of this amplitude over a gradient is
/// about 5.3 MB, so the oversized image tests decoding cost rather than the size limit.
const HUGE_NOISE_AMPLITUDE: u32 = 32;

/// The square sides of the everyday test images.
pub const SIDES: [u32; 3] = [224, 256, 512];

/// A random-pixel JPEG of side 224, 256 or 512 (any other side gives the 224 one).
pub fn jpeg(side: u32) -> &'static [u8] {
    match side {
        256 => &MEDIUM,
        512 => &LARGE,
        _ => &SMALL,
    }
}

/// The benchmark's image of side 224, 512, 1024 or 2048 (any other side gives the 224 one).
/// The two large ones take a moment of CPU to build on first use: call [`prepare_bench`]
/// from a blocking thread before a run.
pub fn bench_jpeg(side: u32) -> &'static [u8] {
    match side {
        512 => &LARGE,
        1024 => BENCH_1024.get_or_init(|| noisy_gradient_jpeg(1024, 5, HUGE_NOISE_AMPLITUDE)),
        2048 => BENCH_2048.get_or_init(|| noisy_gradient_jpeg(2048, 6, HUGE_NOISE_AMPLITUDE)),
        _ => &SMALL,
    }
}

/// Builds every benchmark image now (blocking), so no request pays for it.
pub fn prepare_bench() {
    for side in [224, 512, 1024, 2048] {
        bench_jpeg(side);
    }
}

/// The 4000×4000 JPEG: random pixel noise over a gradient, about 5.3 MB at quality 85 (over
/// 1 MB, under the service's 10 MB limit), so the reference classifier decodes it (a 16
/// megapixel decode and downsize) and answers 200.
pub fn huge_jpeg() -> &'static [u8] {
    HUGE.get_or_init(|| noisy_gradient_jpeg(LARGE_SIDE, 4, HUGE_NOISE_AMPLITUDE))
}

/// [`huge_jpeg`] from async code: building it takes a second or more of CPU, so the first
/// call builds it on a blocking thread rather than stalling the runtime's worker (and every
/// user scheduled on it).
pub async fn huge_jpeg_async() -> &'static [u8] {
    if let Some(bytes) = HUGE.get() {
        return bytes;
    }
    match tokio::task::spawn_blocking(huge_jpeg).await {
        Ok(bytes) => bytes,
        // Only a panic while encoding gets here; building inline reports it the same way.
        Err(_) => huge_jpeg(),
    }
}

/// A `side`×`side` JPEG of uniformly random pixels. Seeded so every process, and so every
/// run, uploads the same bytes (sizes and server-side costs are then comparable across runs).
pub fn random_jpeg(side: u32, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pixels = vec![0u8; side as usize * side as usize * 3];
    rng.fill_bytes(&mut pixels);
    encode(&pixels, side)
}

/// A `side`×`side` JPEG of a diagonal gradient plus random noise of `amplitude` (0–255).
pub fn noisy_gradient_jpeg(side: u32, seed: u64, amplitude: u32) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pixels = vec![0u8; side as usize * side as usize * 3];
    rng.fill_bytes(&mut pixels);
    let side_usize = side.max(1) as usize;
    let amplitude = amplitude.min(255);
    for (i, px) in pixels.chunks_exact_mut(3).enumerate() {
        let (x, y) = (i % side_usize, i / side_usize);
        let base = ((x + y) * (255 - amplitude as usize) / (2 * side_usize)) as u32;
        for c in px {
            *c = (base + *c as u32 * amplitude / 255) as u8;
        }
    }
    encode(&pixels, side)
}

fn encode(pixels: &[u8], side: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    // Encoding an in-memory RGB buffer of the right length into a Vec cannot fail.
    let encoded = JpegEncoder::new_with_quality(&mut out, QUALITY).encode(
        pixels,
        side,
        side,
        ExtendedColorType::Rgb8,
    );
    debug_assert!(encoded.is_ok(), "{encoded:?}");
    out.into_inner()
}
