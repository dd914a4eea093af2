//! A response body as it streams in: gzip/deflate decoded incrementally, counted in full (the
//! length Locust records is the decoded size), and kept in memory only up to a cap, so a huge
//! body or a gzip bomb costs a bounded amount of memory. Decoding happens in small slices with
//! a yield to the runtime after each megabyte produced, so a bomb never holds a runtime thread
//! for long.

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use flate2::write::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use http::header::{HeaderMap, CONTENT_ENCODING};

use crate::pyerr;

/// The default cap on the body bytes kept per response (16 MiB).
pub const DEFAULT_MAX_BODY_SIZE: usize = 16 * 1024 * 1024;

static MAX_BODY_SIZE: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_BODY_SIZE);

/// Sets the process-wide cap on the body bytes a response keeps (`--max-body-size`); a
/// request can still choose its own with [`Request::max_body_size`](crate::Request::max_body_size).
pub fn set_max_body_size(bytes: usize) {
    MAX_BODY_SIZE.store(bytes, Ordering::Relaxed);
}

/// The process-wide cap on the body bytes a response keeps.
pub fn max_body_size() -> usize {
    MAX_BODY_SIZE.load(Ordering::Relaxed)
}

/// Compressed input handed to the decoder at a time: one slice inflates to at most ~4 MB.
const SLICE: usize = 4096;
/// Decoded output after which the reader yields to the runtime.
const YIELD_EVERY: u64 = 1024 * 1024;

/// The decoded body: every byte counted, the first `cap` kept.
struct Kept {
    data: Vec<u8>,
    cap: usize,
    total: u64,
}

impl Write for Kept {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.total += buf.len() as u64;
        let room = self.cap - self.data.len();
        let take = buf.len().min(room);
        if take > 0 {
            if self.data.len() + take > self.data.capacity() {
                // Grow by doubling, but never past the cap.
                let want = (self.data.capacity() * 2)
                    .max(self.data.len() + take)
                    .min(self.cap);
                self.data.reserve_exact(want - self.data.len());
            }
            self.data.extend_from_slice(&buf[..take]);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Identity(Kept),
    /// gzip or deflate before the first two bytes tell which decoder is needed.
    Sniff {
        gzip: bool,
        head: Vec<u8>,
        kept: Kept,
    },
    Gzip(MultiGzDecoder<Kept>),
    Zlib(ZlibDecoder<Kept>),
    Raw(DeflateDecoder<Kept>),
    /// Only while switching states.
    Empty,
}

/// The whole of a response body as [`BodyReader::finish`] hands it over.
pub(crate) struct ReadBody {
    /// At most the cap.
    pub(crate) kept: Bytes,
    /// The decoded length.
    pub(crate) total: u64,
}

pub(crate) struct BodyReader {
    decoder: Decoder,
    encoding: &'static str,
    since_yield: u64,
}

impl BodyReader {
    pub(crate) fn new(headers: &HeaderMap, cap: usize) -> Self {
        let encoding = headers
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        // A plain body's size is known up front: one allocation instead of a doubling series
        // (whose reallocations would hold up to 1.5 times the cap at once).
        let known = match encoding.as_str() {
            "gzip" | "x-gzip" | "deflate" => None,
            _ => headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok()),
        };
        let size = known.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX).min(cap));
        let kept = Kept {
            data: Vec::with_capacity(size),
            cap,
            total: 0,
        };
        let (decoder, encoding) = match encoding.as_str() {
            "gzip" | "x-gzip" => (
                Decoder::Sniff {
                    gzip: true,
                    head: Vec::new(),
                    kept,
                },
                "gzip",
            ),
            "deflate" => (
                Decoder::Sniff {
                    gzip: false,
                    head: Vec::new(),
                    kept,
                },
                "deflate",
            ),
            _ => (Decoder::Identity(kept), ""),
        };
        BodyReader {
            decoder,
            encoding,
            since_yield: 0,
        }
    }

    fn total(&self) -> u64 {
        match &self.decoder {
            Decoder::Identity(k) | Decoder::Sniff { kept: k, .. } => k.total,
            Decoder::Gzip(d) => d.get_ref().total,
            Decoder::Zlib(d) => d.get_ref().total,
            Decoder::Raw(d) => d.get_ref().total,
            Decoder::Empty => 0,
        }
    }

    /// Takes one chunk of the body as received; the error is the Python exception text.
    pub(crate) async fn feed(&mut self, data: &[u8]) -> Result<(), String> {
        if let Decoder::Identity(k) = &mut self.decoder {
            let _ = k.write(data);
            return Ok(());
        }
        for slice in data.chunks(SLICE) {
            let before = self.total();
            self.write_encoded(slice)?;
            self.since_yield += self.total() - before;
            if self.since_yield >= YIELD_EVERY {
                self.since_yield = 0;
                // A bomb inflates ~1000:1: let the other users (and the stats tick) run.
                tokio::task::yield_now().await;
            }
        }
        Ok(())
    }

    fn write_encoded(&mut self, slice: &[u8]) -> Result<(), String> {
        if let Decoder::Sniff { head, .. } = &mut self.decoder {
            head.extend_from_slice(slice);
            if head.len() < 2 {
                return Ok(());
            }
            let Decoder::Sniff { gzip, head, kept } =
                std::mem::replace(&mut self.decoder, Decoder::Empty)
            else {
                unreachable!("matched above")
            };
            self.decoder = if gzip {
                if head[..2] != [0x1f, 0x8b] {
                    return Err(self.error("incorrect header check"));
                }
                Decoder::Gzip(MultiGzDecoder::new(kept))
            } else if head[0] & 0x0f == 8 && u16::from_be_bytes([head[0], head[1]]) % 31 == 0 {
                // A zlib header; urllib3 tries zlib first and falls back to raw deflate.
                Decoder::Zlib(ZlibDecoder::new(kept))
            } else {
                Decoder::Raw(DeflateDecoder::new(kept))
            };
            return self.write_encoded(&head);
        }
        let result = match &mut self.decoder {
            Decoder::Gzip(d) => d.write_all(slice),
            Decoder::Zlib(d) => d.write_all(slice),
            Decoder::Raw(d) => d.write_all(slice),
            _ => Ok(()),
        };
        result.map_err(|e| {
            let text = e.to_string();
            // zlib's own words where miniz names the same defect; other data errors have
            // no finer cause in miniz, and zlib's commonest is used.
            let zlib = if text.contains("header") {
                "incorrect header check"
            } else {
                "invalid block type"
            };
            self.error(zlib)
        })
    }

    fn error(&self, zlib: &str) -> String {
        pyerr::decode_error(self.encoding, zlib)
    }

    /// The body once the stream ended. A compressed stream cut short is not an error, as in
    /// urllib3, which decodes what it got.
    pub(crate) fn finish(self) -> ReadBody {
        let kept = match self.decoder {
            Decoder::Identity(k) | Decoder::Sniff { kept: k, .. } => k,
            Decoder::Gzip(mut d) => {
                let _ = d.try_finish();
                take(d.get_mut())
            }
            Decoder::Zlib(mut d) => {
                let _ = d.try_finish();
                take(d.get_mut())
            }
            Decoder::Raw(mut d) => {
                let _ = d.try_finish();
                take(d.get_mut())
            }
            Decoder::Empty => Kept {
                data: Vec::new(),
                cap: 0,
                total: 0,
            },
        };
        ReadBody {
            kept: Bytes::from(kept.data),
            total: kept.total,
        }
    }
}

fn take(k: &mut Kept) -> Kept {
    Kept {
        data: std::mem::take(&mut k.data),
        cap: k.cap,
        total: k.total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(encoding: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
        h
    }

    async fn read(encoding: &'static str, wire: &[u8], cap: usize) -> Result<ReadBody, String> {
        let mut r = BodyReader::new(&headers(encoding), cap);
        // Fed in odd-sized pieces, as frames arrive.
        for piece in wire.chunks(1000) {
            r.feed(piece).await?;
        }
        Ok(r.finish())
    }

    fn compress<W: Write>(mut enc: W, data: &[u8]) -> W {
        enc.write_all(data).unwrap();
        enc
    }

    #[tokio::test]
    async fn decodes_counts_and_caps() {
        let plain: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let gz = compress(
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()),
            &plain,
        )
        .finish()
        .unwrap();
        let b = read("gzip", &gz, usize::MAX).await.unwrap();
        assert_eq!(b.total, plain.len() as u64);
        assert_eq!(&b.kept[..], &plain[..]);

        let b = read("gzip", &gz, 1000).await.unwrap();
        assert_eq!(b.total, plain.len() as u64);
        assert_eq!(&b.kept[..], &plain[..1000]);

        let z = compress(
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast()),
            &plain,
        )
        .finish()
        .unwrap();
        let raw = compress(
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast()),
            &plain,
        )
        .finish()
        .unwrap();
        for wire in [z, raw] {
            let b = read("deflate", &wire, 10).await.unwrap();
            assert_eq!((b.total, b.kept.len()), (plain.len() as u64, 10));
        }
        let b = read("identity", &plain, 7).await.unwrap();
        assert_eq!((b.total, &b.kept[..]), (plain.len() as u64, &plain[..7]));
    }

    #[tokio::test]
    async fn bad_gzip_is_urllib3s_error() {
        let e = read("gzip", b"hello", 100).await.err().unwrap();
        assert_eq!(
            e,
            "ContentDecodingError(DecodeError('Received response with content-encoding: gzip, \
             but failed to decode it.', error('Error -3 while decompressing data: incorrect \
             header check')))"
        );
    }
}
