//! The HTML report (`--html FILE` and `GET /stats/report`): one self-contained page that opens
//! offline. Styles, the chart library and our renderer are inlined; the run's data (SPEC §3.8
//! template args) travels as JSON in a `<script type="application/json">` element written so that
//! no value can close the element. The summary (times, host, users, duration) is also rendered
//! server-side so the essentials read even without JavaScript.

use serde_json::Value;

use super::assets;
use super::pyjson::script_safe;

/// Renders the report page for `args` (keys as in SPEC §3.8; `theme` and `show_download_link`
/// are honoured when present).
pub fn render_report(args: &Value) -> String {
    let s = |k: &str| match args.get(k) {
        Some(Value::String(v)) => v.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    };
    let host = s("host");
    let users = report_users(args);
    let dark = args.get("theme").and_then(Value::as_str) == Some("dark");
    let show_download = args
        .get("show_download_link")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let download = if show_download {
        let theme = if dark { "&amp;theme=dark" } else { "" };
        format!(
            "<p class=\"download\"><a id=\"report-download\" href=\"?download=1{theme}\">Download the report</a></p>"
        )
    } else {
        String::new()
    };
    let profile = match args.get("profile").and_then(Value::as_str) {
        Some(p) if !p.is_empty() => {
            format!("<dt>Profile</dt><dd id=\"report-profile\">{}</dd>", esc(p))
        }
        _ => String::new(),
    };
    let mut out = String::with_capacity(assets::UPLOT_JS.len() + 64 * 1024);
    out.push_str("<!doctype html>\n<html lang=\"en\"");
    if dark {
        out.push_str(" data-theme=\"dark\"");
    }
    out.push_str(">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "<title>Test Report for {}</title>\n",
        esc(&s("locustfile"))
    ));
    // The icon travels inside the file: a report opened from disk or from /stats/report makes
    // the browser request nothing (without a link it would ask for /favicon.ico and get 404).
    out.push_str(&format!(
        "<link rel=\"icon\" type=\"image/svg+xml\" href=\"{}\">\n",
        favicon_data_url()
    ));
    for css in [assets::UPLOT_CSS, assets::APP_CSS] {
        out.push_str("<style>\n");
        out.push_str(&css.replace("</style", "<\\/style"));
        out.push_str("\n</style>\n");
    }
    out.push_str("</head>\n<body class=\"report\">\n<main id=\"report\">\n");
    out.push_str("<h1>skein Test Report</h1>\n<dl class=\"summary\" id=\"report-summary\">\n");
    out.push_str(&format!(
        "<dt>During</dt><dd id=\"report-during\">{} - {}</dd>\n",
        esc(&s("start_time")),
        esc(&s("end_time"))
    ));
    out.push_str(&format!(
        "<dt>Duration</dt><dd id=\"report-duration\">{}</dd>\n",
        esc(&s("duration"))
    ));
    out.push_str(&format!(
        "<dt>Target Host</dt><dd id=\"report-host\">{}</dd>\n",
        esc(&host)
    ));
    out.push_str(&format!(
        "<dt>Users</dt><dd id=\"report-users\">{}</dd>\n",
        esc(&users)
    ));
    out.push_str(&format!(
        "<dt>Script</dt><dd id=\"report-locustfile\">{}</dd>\n",
        esc(&s("locustfile"))
    ));
    out.push_str(&profile);
    out.push_str("</dl>\n");
    out.push_str(&download);
    out.push_str(&health_section(args));
    out.push_str(&crate::report::open::html_section(args));
    out.push_str(REPORT_BODY);
    out.push_str("</main>\n<script type=\"application/json\" id=\"report-data\">");
    out.push_str(&script_safe(args));
    out.push_str("</script>\n");
    for js in [assets::UPLOT_JS, assets::COMMON_JS, assets::REPORT_JS] {
        out.push_str("<script>\n");
        // Our own and the vendored code never contain it, but a stray `</script` would end the
        // element early, so escape it defensively (valid inside JS strings and regexes).
        out.push_str(&js.replace("</script", "<\\/script"));
        out.push_str("\n</script>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// skein's "Generator" section (this process's CPU, memory, network, disk, per-worker CPU) and
/// the run's verdict, rendered here so they read without JavaScript; the CPU and memory charts
/// are drawn by report.js from `generator.series`. Nothing when the data has no `generator`.
fn health_section(args: &Value) -> String {
    let Some(g) = args.get("generator").filter(|g| g.is_object()) else {
        return String::new();
    };
    let n = |v: &Value| v.as_f64().unwrap_or(0.0);
    let b = |v: &Value| crate::health::text::bytes(v.as_u64().unwrap_or(0));
    let mut out = String::from("<section id=\"section-generator\"><h2>Generator</h2>\n");
    if let Some(v) = args.get("verdict") {
        let valid = v.get("valid").and_then(Value::as_bool).unwrap_or(false);
        out.push_str(&format!(
            "<p id=\"report-verdict\" class=\"{}\"><strong>{}</strong></p>\n",
            if valid {
                "verdict-valid"
            } else {
                "verdict-suspect"
            },
            esc(v.get("text").and_then(Value::as_str).unwrap_or(""))
        ));
    }
    let cpu = &g["cpu_percent"];
    out.push_str("<dl class=\"summary\" id=\"report-generator\">\n");
    out.push_str(&format!(
        "<dt>CPU (% of one core)</dt><dd id=\"report-generator-cpu\">mean {:.1}%, max {:.1}% ({} cores; above {:.0}% in {} of {} samples)</dd>\n",
        n(&cpu["mean"]),
        n(&cpu["max"]),
        g["cores"],
        n(&g["cpu_limit_percent"]),
        cpu["saturated_samples"],
        cpu["samples"]
    ));
    out.push_str(&format!(
        "<dt>Peak RSS</dt><dd id=\"report-generator-rss\">{}</dd>\n",
        b(&g["rss_bytes"]["peak"])
    ));
    let net = &g["network"];
    let net_text = if net.is_object() {
        format!(
            "{} in, {} out; loopback {} in, {} out (whole network namespace)",
            b(&net["external"]["rx_bytes"]),
            b(&net["external"]["tx_bytes"]),
            b(&net["loopback"]["rx_bytes"]),
            b(&net["loopback"]["tx_bytes"])
        )
    } else {
        "not available".to_string()
    };
    out.push_str(&format!(
        "<dt>Network</dt><dd id=\"report-generator-net\">{net_text}</dd>\n"
    ));
    let disk = &g["disk"];
    let disk_text = if disk.is_object() {
        format!(
            "{} read, {} written",
            b(&disk["read_bytes"]),
            b(&disk["write_bytes"])
        )
    } else {
        "not available".to_string()
    };
    out.push_str(&format!(
        "<dt>Disk</dt><dd id=\"report-generator-disk\">{disk_text}</dd>\n"
    ));
    for w in g["workers"].as_array().into_iter().flatten() {
        let c = &w["cpu_percent"];
        out.push_str(&format!(
            "<dt>Worker {}</dt><dd>CPU mean {:.1}%, max {:.1}% (above 90% in {} of {} samples); peak memory {}</dd>\n",
            esc(w["id"].as_str().unwrap_or("")),
            n(&c["mean"]),
            n(&c["max"]),
            c["saturated_samples"],
            c["samples"],
            b(&w["peak_memory_bytes"])
        ));
    }
    out.push_str("</dl>\n<div class=\"chart\" id=\"chart-generator-cpu\" data-testid=\"chart-generator-cpu\"></div>\n<div class=\"chart\" id=\"chart-generator-rss\" data-testid=\"chart-generator-rss\"></div>\n</section>\n");
    out
}

/// The SVG favicon as a `data:` URL (percent-encoded, so it needs no base64).
fn favicon_data_url() -> String {
    let mut url = String::from("data:image/svg+xml,");
    for b in assets::FAVICON_SVG.trim().bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b' '
            | b'='
            | b':'
            | b'/'
            | b'.'
            | b'-'
            | b','
            | b'('
            | b')'
            | b';' => url.push(b as char),
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
}

/// The user count of the run: `user_count` if given, else the largest `user_count` in history.
fn report_users(args: &Value) -> String {
    if let Some(n) = args.get("user_count").and_then(Value::as_u64) {
        return n.to_string();
    }
    let max = args
        .get("history")
        .and_then(Value::as_array)
        .map(|h| {
            h.iter()
                .filter_map(|item| item.get("user_count")?.get(1)?.as_u64())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    max.to_string()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const REPORT_BODY: &str = r#"
<section id="section-checks" hidden><h2>Checks</h2><div id="report-checks"></div></section>
<section><h2>Request Statistics</h2><div id="report-requests"></div></section>
<section id="section-response-times"><h2>Response Time Statistics</h2><div id="report-response-times"></div></section>
<section id="section-failures"><h2>Failures Statistics</h2><div id="report-failures"></div></section>
<section id="section-exceptions"><h2>Exceptions Statistics</h2><div id="report-exceptions"></div></section>
<section id="section-workers" hidden><h2>Workers</h2><div id="report-workers"></div></section>
<section><h2>Charts</h2>
<div class="chart" id="chart-rps" data-testid="chart-rps"></div>
<div class="chart" id="chart-response-times" data-testid="chart-response-times"></div>
<div class="chart" id="chart-users" data-testid="chart-users"></div>
</section>
<section><h2>Final ratio</h2><div id="report-tasks"></div></section>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        serde_json::from_str(include_str!("testdata/report_args.json")).unwrap()
    }

    #[test]
    fn contains_the_data_and_summary() {
        let html = render_report(&sample());
        assert!(html.contains("id=\"report-data\""));
        assert!(html.contains("custom failure text"));
        assert!(html.contains("intentional exception from LightUser"));
        assert!(html.contains("<dd id=\"report-host\">http://127.0.0.1:18765</dd>"));
        assert!(html.contains("<dd id=\"report-duration\">10 seconds</dd>"));
        assert!(html.contains("2026-11-27T19:34:16Z - 2026-11-27T19:34:27Z"));
        assert!(html.contains("<dd id=\"report-users\">6</dd>"));
    }

    #[test]
    fn favicon_is_inline_and_empty_sections_can_hide() {
        let html = render_report(&sample());
        assert!(
            html.contains("<link rel=\"icon\" type=\"image/svg+xml\" href=\"data:image/svg+xml,")
        );
        // The renderer hides these two when their data is empty (as Locust's report).
        assert!(html.contains("id=\"section-response-times\""));
        assert!(html.contains("id=\"section-exceptions\""));
        assert!(html.contains("SK.REPORT_STATS_COLUMNS"));
    }

    #[test]
    fn no_external_urls() {
        let html = render_report(&sample());
        for bad in [
            "src=\"http",
            "href=\"http",
            "src='http",
            "href='http",
            "url(http",
        ] {
            assert!(!html.contains(bad), "{bad}");
        }
    }

    #[test]
    fn script_injection_is_neutralised() {
        let html = render_report(&json!({"host": "</script><script>alert(1)</script>",
            "failures_statistics": [{"error": "</script><b>x", "name": "<i>"}]}));
        // The only `</script>` occurrences are the ones closing our own elements.
        let closes = html.matches("</script>").count();
        let opens = html.matches("<script").count();
        assert_eq!(closes, opens);
        assert!(!html.contains("<script>alert(1)"));
        assert!(html.contains("&lt;/script&gt;"));
    }

    #[test]
    fn download_link_and_theme() {
        let mut a = sample();
        a["show_download_link"] = json!(true);
        a["theme"] = json!("dark");
        let html = render_report(&a);
        assert!(html.contains("data-theme=\"dark\""));
        assert!(html.contains("?download=1&amp;theme=dark"));
        a["show_download_link"] = json!(false);
        assert!(!render_report(&a).contains("report-download"));
    }

    #[test]
    fn odd_args_do_not_panic() {
        for v in [
            json!(null),
            json!([]),
            json!({"history": "x", "user_count": -1}),
            json!(5),
        ] {
            let html = render_report(&v);
            assert!(html.starts_with("<!doctype html>"));
        }
    }
}
