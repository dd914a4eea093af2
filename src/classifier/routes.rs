//! The HTTP face of the reference service: FastAPI-shaped routes, errors and request counting.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::model::{self, ModelInfo};
use super::ClassifierState;

/// The largest upload the service classifies (the real service's 10 MB).
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// The body limit: the upload plus room for the multipart framing and the other fields,
/// so an upload just under the limit is classified and one over it gets a clean 413.
pub const BODY_LIMIT_BYTES: usize = MAX_UPLOAD_BYTES + 64 * 1024;

const DEFAULT_TOP_K: i64 = 5;
const MIN_TOP_K: i64 = 1;
const MAX_TOP_K: i64 = 10;

/// The routes the counters know by name; anything else counts as [`UNMATCHED_ROUTE`].
pub const ROUTES: &[&str] = &[
    "/",
    "/api/v1/health",
    "/api/v1/model/info",
    "/api/v1/classify",
];
pub const UNMATCHED_ROUTE: &str = "<unmatched>";
const COUNTS_ROUTE: &str = "/_skein/counts";
/// Prometheus exposition of the service process's own resident memory (the bench's memory test).
pub const METRICS_ROUTE: &str = "/metrics";

pub(super) fn build(state: ClassifierState) -> Router {
    Router::new()
        .route("/", get(health))
        .route("/api/v1/health", get(health))
        .route("/api/v1/model/info", get(model_info))
        .route("/api/v1/classify", axum::routing::post(classify))
        .route(COUNTS_ROUTE, get(counts).delete(reset_counts))
        .route(METRICS_ROUTE, get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

async fn count(State(state): State<ClassifierState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == COUNTS_ROUTE || path == METRICS_ROUTE {
        return next.run(req).await;
    }
    let route = ROUTES
        .iter()
        .find(|r| **r == path)
        .copied()
        .unwrap_or(UNMATCHED_ROUTE);
    let method = req.method().clone();
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    let response = next.run(req).await;
    state
        .counters
        .add(route, method.as_str(), response.status().as_u16());
    response
}

fn detail(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({ "detail": text.into() }))).into_response()
}

async fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
}

async fn method_not_allowed() -> Response {
    detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

async fn health(State(state): State<ClassifierState>) -> Json<Value> {
    Json(json!({
        "status": "healthy",
        "model_loaded": true,
        "model_info": state.model.summary(),
    }))
}

async fn model_info(State(state): State<ClassifierState>) -> Json<ModelInfo> {
    Json(state.model.as_ref().clone())
}

/// `process_resident_memory_bytes` of this process, read from `/proc/self/status` (the
/// gauge Prometheus' client libraries export); absent where there is no /proc.
async fn metrics() -> Response {
    let rss = tokio::fs::read_to_string("/proc/self/status")
        .await
        .ok()
        .and_then(|s| crate::bench::analysis::status_rss_bytes(&s));
    let mut text = String::new();
    if let Some(bytes) = rss {
        text.push_str(
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
             # TYPE process_resident_memory_bytes gauge\n",
        );
        text.push_str(&format!("process_resident_memory_bytes {bytes}\n"));
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn counts(State(state): State<ClassifierState>) -> Json<Value> {
    Json(json!({
        "total": state.counters.total(),
        "counts": state.counters.snapshot(),
    }))
}

async fn reset_counts(State(state): State<ClassifierState>) -> StatusCode {
    state.counters.reset();
    StatusCode::NO_CONTENT
}

/// The fields of a classification form, as read (validation comes after).
#[derive(Default)]
struct Form {
    file: Option<Bytes>,
    top_k: Option<String>,
}

async fn read_form(multipart: Result<Multipart, MultipartRejection>) -> Result<Form, Response> {
    let mut form = Form::default();
    // A body that is not multipart at all has no fields: FastAPI then reports the missing file.
    let Ok(mut multipart) = multipart else {
        return Ok(form);
    };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok(form),
            Err(e) => return Err(multipart_error(e)),
        };
        match field.name() {
            Some("file") if form.file.is_none() => {
                form.file = Some(field.bytes().await.map_err(multipart_error)?);
            }
            Some("top_k") if form.top_k.is_none() => {
                form.top_k = Some(field.text().await.map_err(multipart_error)?);
            }
            // Unknown or repeated fields are read and ignored, as FastAPI does.
            _ => {
                field.bytes().await.map_err(multipart_error)?;
            }
        }
    }
}

/// The rest of the body is left unread, so the connection cannot carry another request; hyper
/// closes it, and `Connection: close` tells the client not to pool it (tested: a request after a
/// 413 on the same client succeeds).
fn multipart_error(e: MultipartError) -> Response {
    let mut response = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        detail(
            StatusCode::BAD_REQUEST,
            "There was an error parsing the body",
        )
    };
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

fn too_large() -> Response {
    detail(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "File too large. Maximum size is {} MB",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        ),
    )
}

/// Validates the form the way FastAPI/pydantic would, collecting every error (in the
/// `detail` list of a 422).
fn validate(form: &Form) -> Result<usize, Vec<Value>> {
    let mut errors = Vec::new();
    if form.file.is_none() {
        errors.push(json!({
            "type": "missing",
            "loc": ["body", "file"],
            "msg": "Field required",
            "input": null,
        }));
    }
    let top_k = match form.top_k.as_deref() {
        None => Some(DEFAULT_TOP_K),
        Some(raw) => match raw.trim().parse::<i64>() {
            Err(_) => {
                errors.push(json!({
                    "type": "int_parsing",
                    "loc": ["body", "top_k"],
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "input": raw,
                }));
                None
            }
            Ok(k) if k < MIN_TOP_K => {
                errors.push(json!({
                    "type": "greater_than_equal",
                    "loc": ["body", "top_k"],
                    "msg": format!("Input should be greater than or equal to {MIN_TOP_K}"),
                    "input": raw,
                    "ctx": { "ge": MIN_TOP_K },
                }));
                None
            }
            Ok(k) if k > MAX_TOP_K => {
                errors.push(json!({
                    "type": "less_than_equal",
                    "loc": ["body", "top_k"],
                    "msg": format!("Input should be less than or equal to {MAX_TOP_K}"),
                    "input": raw,
                    "ctx": { "le": MAX_TOP_K },
                }));
                None
            }
            Ok(k) => Some(k),
        },
    };
    match top_k {
        // k is within MIN_TOP_K..=MAX_TOP_K here, so the cast is exact.
        Some(k) if errors.is_empty() => Ok(k as usize),
        _ => Err(errors),
    }
}

async fn classify(
    State(state): State<ClassifierState>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let started = Instant::now();
    let form = match read_form(multipart).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let top_k = match validate(&form) {
        Ok(k) => k,
        Err(errors) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "detail": errors })),
            )
                .into_response()
        }
    };
    let Some(file) = form.file else {
        return detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
    };
    if file.len() > MAX_UPLOAD_BYTES {
        return too_large();
    }
    let Ok(slot) = state.decode_slots.clone().acquire_owned().await else {
        return detail(StatusCode::SERVICE_UNAVAILABLE, "Service shutting down");
    };
    // Decoding is CPU work: keep it off the async workers so the service stays responsive.
    let outcome = tokio::task::spawn_blocking(move || {
        let predictions = model::classify(&file, top_k);
        drop(slot);
        predictions
    })
    .await;
    match outcome {
        Ok(Ok(predictions)) => Json(json!({
            "predictions": predictions,
            "model_info": state.model.summary(),
            "processing_time_ms": started.elapsed().as_secs_f64() * 1000.0,
        }))
        .into_response(),
        Ok(Err(e)) => detail(StatusCode::BAD_REQUEST, e.to_string()),
        Err(_) => detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    }
}
