//! `multipart/form-data` bodies whose file parts borrow shared bytes instead of copying them.

use bytes::Bytes;

use crate::session::ChunkBody;

/// A `multipart/form-data` form: text fields and file parts, in order, sent with
/// [`Request::multipart`](crate::Request::multipart).
///
/// ```
/// use skein_api::Multipart;
///
/// static IMAGE: &[u8] = b"\xff\xd8\xff\xe0 a JPEG"; // borrowed by the form, not copied
/// let form = Multipart::new()
///     .file("file", "image.jpg", "image/jpeg", IMAGE)
///     .text("top_k", 5.to_string());
/// assert!(form.content_type().starts_with("multipart/form-data; boundary="));
/// ```
#[derive(Debug, Clone)]
pub struct Multipart {
    boundary: String,
    chunks: Vec<Bytes>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(['\r', '\n'], " ")
}

impl Multipart {
    /// An empty form with a fresh boundary.
    pub fn new() -> Self {
        let n: u64 = rand_u64();
        Multipart {
            boundary: format!("skein-{n:016x}"),
            chunks: Vec::new(),
        }
    }

    /// A text field.
    pub fn text(mut self, name: &str, value: impl AsRef<str>) -> Self {
        let head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
            self.boundary,
            quoted(name)
        );
        self.chunks.push(Bytes::from(head));
        self.chunks
            .push(Bytes::copy_from_slice(value.as_ref().as_bytes()));
        self.chunks.push(Bytes::from_static(b"\r\n"));
        self
    }

    /// A file part. `content` may be a `&'static [u8]` (sent without a copy) or any `Bytes`.
    pub fn file(
        mut self,
        name: &str,
        filename: &str,
        content_type: &str,
        content: impl Into<Bytes>,
    ) -> Self {
        let head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            self.boundary,
            quoted(name),
            quoted(filename),
            content_type.replace(['\r', '\n'], "")
        );
        self.chunks.push(Bytes::from(head));
        self.chunks.push(content.into());
        self.chunks.push(Bytes::from_static(b"\r\n"));
        self
    }

    /// The form's `Content-Type` header value, with its boundary.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    pub(crate) fn into_body(self) -> ChunkBody {
        let end = Bytes::from(format!("--{}--\r\n", self.boundary));
        ChunkBody::new(self.chunks.into_iter().chain(std::iter::once(end)))
    }
}

/// A boundary only has to be unlikely to occur in the parts; the clock's nanoseconds mixed
/// with a counter is plenty and needs no RNG state.
fn rand_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let c = COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    (t ^ c).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn encodes_fields_and_files() {
        static IMG: &[u8] = b"\xff\xd8jpeg";
        let form = Multipart::new()
            .file("file", "test.jpg", "image/jpeg", IMG)
            .text("top_k", "5");
        let boundary = form.boundary.clone();
        let body = form.into_body();
        let len = body.len();
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len() as u64, len);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"test.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n")));
        assert!(text.contains("name=\"top_k\"\r\n\r\n5\r\n"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
