//! `GET /metrics`: the Prometheus scrape of a standalone run or a master. The backend builds the
//! exposition text (`report::prometheus`); this route only serves it with the text format's
//! content type, behind the same basic auth as every other route. A backend without metrics
//! answers Flask's 404, as an unknown route does.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use super::Backend;

/// The content type of the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The scrape's answer; `None` when the backend has no metrics.
pub async fn response(backend: &dyn Backend) -> Option<Response> {
    let text = backend.metrics().await?;
    let mut r = Response::new(Body::from(text));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    // A scrape is always fresh; no proxy should answer it from a cache.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    *r.status_mut() = StatusCode::OK;
    Some(r)
}
