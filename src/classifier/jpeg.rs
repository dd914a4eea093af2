//! JPEG completeness, as the real service's Pillow sees it. The `image` crate decodes a JPEG
//! whose data stops early (it fills the rest with grey), but Pillow raises `OSError` and the
//! service answers 400: this walks the marker segments and the entropy-coded scans to find
//! whether the file reaches its end-of-image marker.

/// Where a JPEG's bytes ran out, if they did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// The end-of-image marker (`FF D9`) is there.
    Complete,
    /// The bytes stop inside a header segment (Pillow: `Truncated File Read`).
    HeaderCut,
    /// The bytes stop inside the image data (Pillow: `image file is truncated (N bytes not
    /// processed)`).
    DataCut,
}

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;

/// Walks `bytes` from the start-of-image marker. Bytes that are not a JPEG at all are
/// [`Completeness::Complete`] here: telling those apart is the format guesser's job.
pub fn completeness(bytes: &[u8]) -> Completeness {
    if bytes.len() < 2 || bytes[0] != 0xFF || bytes[1] != SOI {
        return Completeness::Complete;
    }
    // Once a scan has started, running out of bytes is a cut in the image data.
    let mut seen_scan = false;
    let cut = |seen_scan: bool| {
        if seen_scan {
            Completeness::DataCut
        } else {
            Completeness::HeaderCut
        }
    };
    let mut i = 2;
    loop {
        // Between segments: Pillow skips anything up to the next FF, then FF fill bytes.
        while i < bytes.len() && bytes[i] != 0xFF {
            i += 1;
        }
        while i < bytes.len() && bytes[i] == 0xFF {
            i += 1;
        }
        let Some(&code) = bytes.get(i) else {
            return cut(seen_scan);
        };
        i += 1;
        match code {
            EOI => return Completeness::Complete,
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(len) = bytes
            .get(i..i + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return cut(seen_scan);
        };
        if len < 2 || i + len > bytes.len() {
            return cut(seen_scan);
        }
        i += len;
        if code == SOS {
            seen_scan = true;
            match end_of_scan(bytes, i) {
                Some(at) => i = at,
                None => return Completeness::DataCut,
            }
        }
    }
}

/// The index of the `FF` of the marker that ends the entropy-coded data starting at `from`:
/// in the data, `FF 00` is a stuffed `FF` byte and `FF D0..D7` are restart markers.
fn end_of_scan(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < bytes.len() {
        if bytes[i] == 0xFF && !matches!(bytes[i + 1], 0x00 | 0xD0..=0xD7 | 0xFF) {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(side: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(side, side, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 13 % 256) as u8,
                ((x ^ y) % 256) as u8,
            ])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    #[test]
    fn whole_files_are_complete() {
        let whole = jpeg(64);
        assert_eq!(completeness(&whole), Completeness::Complete);
        // Trailing bytes after the end marker do not matter (Pillow ignores them too).
        let mut trailing = whole.clone();
        trailing.extend_from_slice(b"\0\0junk");
        assert_eq!(completeness(&trailing), Completeness::Complete);
        assert_eq!(completeness(b"not a jpeg"), Completeness::Complete);
    }

    #[test]
    fn every_cut_is_found() {
        let whole = jpeg(48);
        let sos = whole
            .windows(2)
            .position(|w| w == [0xFF, SOS])
            .expect("a scan");
        let data_start =
            sos + 2 + usize::from(u16::from_be_bytes([whole[sos + 2], whole[sos + 3]]));
        for len in 2..whole.len() {
            let want = if len < data_start {
                Completeness::HeaderCut
            } else {
                Completeness::DataCut
            };
            assert_eq!(
                completeness(&whole[..len]),
                want,
                "cut at {len} of {}",
                whole.len()
            );
        }
    }

    #[test]
    fn stuffed_bytes_and_restart_markers_stay_in_the_scan() {
        // SOI, an SOS segment with a 2-byte body, data with FF 00 and FF D3, no EOI.
        let cut = [
            0xFF, SOI, 0xFF, SOS, 0x00, 0x04, 0x01, 0x02, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56,
        ];
        assert_eq!(completeness(&cut), Completeness::DataCut);
        let mut whole = cut.to_vec();
        whole.extend_from_slice(&[0xFF, EOI]);
        assert_eq!(completeness(&whole), Completeness::Complete);
    }
}
