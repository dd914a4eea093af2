//! The test images the workload uploads: random-pixel JPEGs, generated once per process on
//! first use and shared by every user as `&'static [u8]` (so a multipart part borrows them
//! and no user ever copies one).

use std::io::Cursor;
use std::sync::LazyLock;

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
static HUGE: LazyLock<Vec<u8>> = LazyLock::new(|| random_jpeg(LARGE_SIDE, 4));

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

/// The 4000×4000 random-pixel JPEG (about 8.6 MB at quality 85 with these seeds, under the
/// service's 10 MB limit, so the reference classifier decodes it and answers 200).
pub fn huge_jpeg() -> &'static [u8] {
    &HUGE
}

/// A `side`×`side` JPEG of uniformly random pixels. Seeded so every process, and so every
/// run, uploads the same bytes (sizes and server-side costs are then comparable across runs).
pub fn random_jpeg(side: u32, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pixels = vec![0u8; side as usize * side as usize * 3];
    rng.fill_bytes(&mut pixels);
    let mut out = Cursor::new(Vec::new());
    // Encoding an in-memory RGB buffer of the right length into a Vec cannot fail.
    let encoded = JpegEncoder::new_with_quality(&mut out, QUALITY).encode(
        &pixels,
        side,
        side,
        ExtendedColorType::Rgb8,
    );
    debug_assert!(encoded.is_ok(), "{encoded:?}");
    out.into_inner()
}
