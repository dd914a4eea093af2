//! The router: Locust's routes (SPEC §4.2) under an optional base path, with Flask's status
//! codes, content types, HTML 404/405 pages, `Allow` headers, automatic `OPTIONS`/`HEAD`, the
//! CORS header on every answer, basic auth on every route when configured, a body limit, and the
//! cross-site `Origin` check of the state-changing routes (see [`super::origin`]).
//!
//! Routing is a single dispatcher rather than axum's method router so that every corner
//! (wrong method, unknown path, base-path prefix, auth before 404) answers exactly as Flask does.
//! `/stats/requests` is not memoized (Locust caches it 2 s because building it is slow in
//! Python; the backend hands us ready-made data, so a fresh answer is cheap).

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Map, Value};

use super::assets;
use super::auth;
use super::metrics;
use super::origin;
use super::pyjson::{jsonify, script_safe};
use super::report::render_report;
use super::swarm_form::{parse_swarm_form, parse_urlencoded};
use super::{Backend, CsvKind, CsvNameParts, WebOptions};

const TEXT_HTML: &str = "text/html; charset=utf-8";
const NOT_FOUND_DESC: &str = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";
const FULL_HISTORY_404: &str =
    "Error: Server was not started with option to generate full history.";

struct AppState {
    backend: Arc<dyn Backend>,
    opts: WebOptions,
    /// The base path without a trailing slash ("" or "/prefix").
    base: String,
}

/// Builds the web UI's router for `backend`.
pub fn router(backend: Arc<dyn Backend>, opts: WebOptions) -> Router {
    let base = normalize_base(&opts.base_path);
    let state = Arc::new(AppState {
        backend,
        opts,
        base,
    });
    Router::new().fallback(dispatch).with_state(state)
}

fn normalize_base(base: &str) -> String {
    let trimmed = base.trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Route {
    Index,
    Asset(String),
    Swarm,
    Stop,
    Reset,
    StatsRequests,
    Csv(CsvKind),
    Report,
    Exceptions,
    Tasks,
    Logs,
    WorkerCount,
    Health,
    User,
    Login,
    Metrics,
}

impl Route {
    fn is_post(&self) -> bool {
        matches!(
            self,
            Route::Swarm | Route::Stop | Route::Reset | Route::User
        )
    }
}

fn match_route(path: &str) -> Option<Route> {
    Some(match path {
        "/" => Route::Index,
        "/swarm" => Route::Swarm,
        "/stop" => Route::Stop,
        "/stats/reset" => Route::Reset,
        "/stats/requests" => Route::StatsRequests,
        "/stats/requests/csv" => Route::Csv(CsvKind::Requests),
        "/stats/failures/csv" => Route::Csv(CsvKind::Failures),
        "/exceptions/csv" => Route::Csv(CsvKind::Exceptions),
        "/stats/requests_full_history/csv" => Route::Csv(CsvKind::FullHistory),
        "/stats/report" => Route::Report,
        "/exceptions" => Route::Exceptions,
        "/tasks" => Route::Tasks,
        "/logs" => Route::Logs,
        "/worker-count" => Route::WorkerCount,
        "/skein/health" => Route::Health,
        "/user" => Route::User,
        "/login" => Route::Login,
        "/metrics" => Route::Metrics,
        p => {
            let rest = p.strip_prefix("/assets/")?;
            if rest.is_empty() {
                return None;
            }
            Route::Asset(rest.to_string())
        }
    })
}

async fn dispatch(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let mut resp = handle(&st, req).await;
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

async fn handle(st: &AppState, req: Request) -> Response {
    if let Some((user, pass)) = &st.opts.auth {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        if !auth::authorized(given, user, pass) {
            return unauthorized();
        }
    }

    // WSGI hands Flask the percent-decoded path; routing sees `%2F` as `/` too.
    let Some(full_path) = percent_decode(req.uri().path()) else {
        return flask_error(StatusCode::NOT_FOUND, "Not Found", NOT_FOUND_DESC);
    };
    let query = req.uri().query().unwrap_or("").to_string();
    let path = if st.base.is_empty() {
        full_path.as_str()
    } else if full_path == st.base {
        // Werkzeug's strict slashes: the bare prefix redirects to the index.
        return redirect(StatusCode::PERMANENT_REDIRECT, &format!("{}/", st.base));
    } else {
        match full_path.strip_prefix(st.base.as_str()) {
            Some(p) if p.starts_with('/') => p,
            _ => return flask_error(StatusCode::NOT_FOUND, "Not Found", NOT_FOUND_DESC),
        }
    };
    let Some(route) = match_route(path) else {
        return flask_error(StatusCode::NOT_FOUND, "Not Found", NOT_FOUND_DESC);
    };

    let allow = if route.is_post() {
        "OPTIONS, POST"
    } else {
        "GET, HEAD, OPTIONS"
    };
    let method = req.method().clone();
    if method == Method::OPTIONS {
        let mut r = text_response(StatusCode::OK, TEXT_HTML, String::new());
        set_header(r.headers_mut(), header::ALLOW, allow);
        return r;
    }
    let method_ok = if route.is_post() {
        method == Method::POST
    } else {
        method == Method::GET || method == Method::HEAD
    };
    if !method_ok {
        let mut r = flask_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
            "The method is not allowed for the requested URL.",
        );
        set_header(r.headers_mut(), header::ALLOW, allow);
        return r;
    }

    if route.is_post() {
        let h = |name: HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
        if let Err(refused) =
            origin::check(h(header::ORIGIN), h(header::HOST), &st.opts.allowed_origins)
        {
            let message = refused.message();
            tracing::warn!(target: "skein::web", "{message}");
            return flask_error(StatusCode::FORBIDDEN, "Forbidden", &html_escape(&message));
        }
    }

    let (parts, body) = req.into_parts();
    let body = if route.is_post() {
        match read_body(&parts.headers, body, st.opts.body_limit).await {
            Ok(b) => b,
            Err(r) => return r,
        }
    } else {
        bytes::Bytes::new()
    };

    let resp = route_response(st, route, &parts.headers, &query, &body).await;
    if method == Method::HEAD {
        let (mut p, b) = resp.into_parts();
        let len = to_bytes(b, usize::MAX).await.map(|b| b.len()).unwrap_or(0);
        p.headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        return Response::from_parts(p, Body::empty());
    }
    resp
}

async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, Response> {
    let too_large = || {
        flask_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Entity Too Large",
            "The data value transmitted exceeds the capacity limit.",
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    to_bytes(body, limit).await.map_err(|_| too_large())
}

async fn route_response(
    st: &AppState,
    route: Route,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Response {
    let b = &st.backend;
    match route {
        Route::Index => {
            let mut args = b.index_args().await;
            if let Value::Object(m) = &mut args {
                m.entry("stats_history_enabled")
                    .or_insert(Value::Bool(st.opts.stats_history_enabled));
            }
            let html = assets::INDEX_HTML.replace("{{TEMPLATE_ARGS}}", &script_safe(&args));
            text_response(StatusCode::OK, TEXT_HTML, html)
        }
        Route::Asset(path) => match assets::lookup(&path) {
            Some((body, ct)) => text_response(StatusCode::OK, ct, body.to_string()),
            None => flask_error(StatusCode::NOT_FOUND, "Not Found", NOT_FOUND_DESC),
        },
        Route::Swarm => swarm(st, headers, body).await,
        Route::Stop => {
            b.stop().await;
            json_response(
                StatusCode::OK,
                &json!({"message": "Test stopped", "success": true}),
            )
        }
        Route::Reset => {
            b.reset_stats().await;
            text_response(StatusCode::OK, TEXT_HTML, "ok".into())
        }
        Route::StatsRequests => json_response(StatusCode::OK, &b.stats_requests().await),
        Route::Csv(kind) => csv(st, kind).await,
        Route::Report => report(st, query).await,
        Route::Exceptions => json_response(StatusCode::OK, &b.exceptions().await),
        Route::Tasks => json_response(StatusCode::OK, &b.tasks().await),
        Route::Logs => json_response(StatusCode::OK, &b.logs().await),
        Route::Health => json_response(StatusCode::OK, &b.health().await),
        Route::WorkerCount => json_response(
            StatusCode::OK,
            &json!({"worker_count": b.worker_count().await}),
        ),
        Route::User => match serde_json::from_slice::<Value>(body) {
            Ok(settings) => match b.update_user(settings).await {
                Ok(()) => json_response(StatusCode::CREATED, &json!({})),
                Err(e) => text_response(StatusCode::INTERNAL_SERVER_ERROR, TEXT_HTML, e),
            },
            Err(e) => text_response(StatusCode::INTERNAL_SERVER_ERROR, TEXT_HTML, e.to_string()),
        },
        Route::Login => redirect(StatusCode::FOUND, &format!("{}/", st.base)),
        Route::Metrics => match metrics::response(b.as_ref()).await {
            Some(r) => r,
            None => flask_error(StatusCode::NOT_FOUND, "Not Found", NOT_FOUND_DESC),
        },
    }
}

async fn swarm(st: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    // Werkzeug only fills `request.form` for form content types; anything else is an empty form.
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
        .unwrap_or(false);
    let fields = is_form
        .then(|| url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())))
        .into_iter()
        .flatten();
    let b = &st.backend;
    let refuse = |message: String, host: Option<String>| async move {
        // Locust logs each refused form with `logger.error(err_msg)`.
        tracing::error!(target: "skein::web", "{message}");
        let host = match host {
            Some(h) => Some(h),
            None => b.host().await,
        };
        json_response(
            StatusCode::OK,
            &json!({"success": false, "message": message, "host": host}),
        )
    };
    let req = match parse_swarm_form(fields, st.opts.class_picker) {
        Ok(r) => r,
        Err(e) => return refuse(e.message, e.host).await,
    };
    // The names are already distinct; more of them than there are classes means some are
    // unknown, and the answer says so briefly instead of echoing a list of any length.
    if let (Some(chosen), Some(known)) = (&req.user_classes, b.user_class_count().await) {
        if chosen.len() > known {
            let message = format!(
                "Too many user_classes: {} different names given, but only {known} user classes exist",
                chosen.len()
            );
            return refuse(message, req.host.clone()).await;
        }
    }
    let run_time = req.run_time.map(|d| d.as_secs()).filter(|s| *s > 0);
    let selected = req.user_classes.clone();
    let posted_host = req.host.clone();
    let result = b.swarm(req).await;
    let host = b.host().await.or(posted_host);
    match result {
        Err(message) => json_response(
            StatusCode::OK,
            &json!({"success": false, "message": message, "host": host}),
        ),
        Ok(()) => {
            let mut m = Map::new();
            m.insert("success".into(), Value::Bool(true));
            m.insert("message".into(), Value::String("Swarming started".into()));
            m.insert(
                "host".into(),
                host.map(Value::String).unwrap_or(Value::Null),
            );
            if let Some(rt) = run_time {
                m.insert("run_time".into(), Value::from(rt));
            }
            // skein's page always offers the classes; the answer names them only when the
            // request chose some, so a client of plain Locust (no --class-picker) gets Locust's shape.
            if let (true, Some(mut classes)) = (st.opts.class_picker, selected) {
                classes.sort();
                m.insert("user_classes".into(), json!(classes));
            }
            json_response(StatusCode::OK, &Value::Object(m))
        }
    }
}

async fn csv(st: &AppState, kind: CsvKind) -> Response {
    let b = &st.backend;
    let data = if kind == CsvKind::FullHistory && !st.opts.stats_history_enabled {
        None
    } else {
        b.csv(kind).await
    };
    let Some(data) = data else {
        return text_response(StatusCode::NOT_FOUND, TEXT_HTML, FULL_HISTORY_404.into());
    };
    let filename = format!(
        "{}_{}.csv",
        name_stem(&b.csv_name_parts().await),
        kind.suffix()
    );
    if kind == CsvKind::FullHistory {
        // Flask's send_file form of the headers.
        let mut r = text_response(StatusCode::OK, "text/csv; charset=utf-8", data);
        set_header(
            r.headers_mut(),
            header::CONTENT_DISPOSITION,
            &format!("attachment; filename=\"{}\"", filename.replace('"', "")),
        );
        set_header(
            r.headers_mut(),
            header::CACHE_CONTROL,
            "no-cache, max-age=0",
        );
        return r;
    }
    let mut r = text_response(StatusCode::OK, "text/csv", data);
    set_header(
        r.headers_mut(),
        header::CONTENT_DISPOSITION,
        &format!("attachment;filename={filename}"),
    );
    r
}

/// `Locust_<start>_<locustfile>[_<host>]`.
fn name_stem(p: &CsvNameParts) -> String {
    let host = match &p.host {
        Some(h) if !h.is_empty() => format!("_{h}"),
        _ => String::new(),
    };
    format!("Locust_{}_{}{}", p.start_time, p.locustfile, host)
}

async fn report(st: &AppState, query: &str) -> Response {
    let params = parse_urlencoded(query.as_bytes());
    let get = |k: &str| {
        params
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    // Python truthiness of `request.args.get("download")`: any non-empty value.
    let download = !get("download").is_empty();
    let theme = get("theme").to_string();
    let mut args = st.backend.report_args().await;
    if let Value::Object(m) = &mut args {
        m.insert("show_download_link".into(), Value::Bool(!download));
        m.insert("theme".into(), Value::String(theme));
        m.entry("is_report").or_insert(Value::Bool(true));
    }
    let mut r = text_response(StatusCode::OK, TEXT_HTML, render_report(&args));
    if download {
        let name = format!("{}.html", name_stem(&st.backend.csv_name_parts().await));
        set_header(
            r.headers_mut(),
            header::CONTENT_DISPOSITION,
            &format!("attachment;filename={name}"),
        );
    }
    r
}

fn text_response(status: StatusCode, content_type: &str, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    set_header(r.headers_mut(), header::CONTENT_TYPE, content_type);
    r
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    text_response(status, "application/json", jsonify(v))
}

/// Flask/Werkzeug's HTML error page.
pub fn flask_error(status: StatusCode, title: &str, desc: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=en>\n<title>{} {}</title>\n<h1>{}</h1>\n<p>{}</p>\n",
        status.as_u16(),
        title,
        title,
        desc
    );
    text_response(status, TEXT_HTML, body)
}

fn redirect(status: StatusCode, location: &str) -> Response {
    let esc = html_escape(location);
    let body = format!(
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: <a href=\"{esc}\">{esc}</a>. If not, click the link.\n"
    );
    let mut r = text_response(status, TEXT_HTML, body);
    set_header(r.headers_mut(), header::LOCATION, location);
    r
}

fn unauthorized() -> Response {
    let mut r = flask_error(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "The server could not verify that you are authorized to access the URL requested. You either supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials required.",
    );
    set_header(
        r.headers_mut(),
        header::WWW_AUTHENTICATE,
        &format!("Basic realm=\"{}\"", auth::REALM),
    );
    r
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(path: &str) -> Option<String> {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let s = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(s, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Sets a header, dropping characters a header value cannot carry instead of failing.
fn set_header(h: &mut HeaderMap, name: HeaderName, value: &str) {
    let v = HeaderValue::from_str(value).unwrap_or_else(|_| {
        let cleaned: String = value
            .chars()
            .filter(|c| c.is_ascii() && (*c == '\t' || (' '..='~').contains(c)))
            .collect();
        HeaderValue::from_str(&cleaned).unwrap_or_else(|_| HeaderValue::from_static(""))
    });
    h.insert(name, v);
}
