//! HTTP basic auth for the web UI (`--web-auth user:pass`), checked on every route.
//!
//! Credentials are compared in constant time: both sides are hashed first so neither the length
//! nor the position of the first differing byte leaks through timing.

use sha2::{Digest, Sha256};

/// The realm sent in `WWW-Authenticate`.
pub const REALM: &str = "skein";

/// True when an `Authorization` header value carries exactly `user:pass`.
pub fn authorized(header: Option<&[u8]>, user: &str, pass: &str) -> bool {
    let Some(header) = header else {
        // Still do the comparison work so a missing header costs the same.
        let _ = ct_eq(b"", format!("{user}:{pass}").as_bytes());
        return false;
    };
    let text = String::from_utf8_lossy(header);
    let text = text.trim();
    let (scheme, rest) = match text.split_once(' ') {
        Some(p) => p,
        None => return false,
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Some(decoded) = base64_decode(rest.trim()) else {
        return false;
    };
    let expected = format!("{user}:{pass}");
    ct_eq(&decoded, expected.as_bytes())
}

/// Constant-time equality of two byte strings of any length.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let ha = Sha256::digest(a);
    let hb = Sha256::digest(b);
    let diff = ha
        .iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    diff == 0
}

/// Standard base64 (with or without padding). `None` on any invalid character.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a') as u32 + 26),
            b'0'..=b'9' => Some((c - b'0') as u32 + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let trimmed = s.trim_end_matches('=');
    if s.len() - trimmed.len() > 2 {
        return None;
    }
    let bytes = trimmed.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc: u32 = 0;
        for &c in chunk {
            acc = (acc << 6) | val(c)?;
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            3 => {
                acc <<= 6;
                out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8]);
            }
            2 => {
                acc <<= 12;
                out.push((acc >> 16) as u8);
            }
            _ => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode("YWI").unwrap(), b"ab");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("a*b=").is_none());
    }

    #[test]
    fn checks_credentials() {
        assert!(authorized(Some(b"Basic dXNlcjpwYXNz"), "user", "pass"));
        assert!(authorized(Some(b"basic  dXNlcjpwYXNz "), "user", "pass"));
        assert!(!authorized(Some(b"Basic dXNlcjpwYXN6"), "user", "pass"));
        assert!(!authorized(Some(b"Bearer dXNlcjpwYXNz"), "user", "pass"));
        assert!(!authorized(Some(b"Basic"), "user", "pass"));
        assert!(!authorized(Some(&[0xff, 0xfe]), "user", "pass"));
        assert!(!authorized(None, "user", "pass"));
    }
}
