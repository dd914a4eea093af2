//! The embedded front end: our own page (HTML/CSS/JS, no build step) and the vendored uPlot
//! chart library, compiled into the binary so the UI and the report work offline.

/// The page shell; `{{TEMPLATE_ARGS}}` is replaced by the script-safe index args JSON.
pub const INDEX_HTML: &str = include_str!("assets/index.html");
pub const APP_JS: &str = include_str!("assets/app.js");
pub const APP_CSS: &str = include_str!("assets/app.css");
/// Shared by the live page and the report: table/chart helpers.
pub const COMMON_JS: &str = include_str!("assets/common.js");
pub const REPORT_JS: &str = include_str!("assets/report.js");
pub const UPLOT_JS: &str = include_str!("assets/vendor/uPlot.iife.min.js");
pub const UPLOT_CSS: &str = include_str!("assets/vendor/uPlot.min.css");
pub const UPLOT_LICENSE: &str = include_str!("assets/vendor/uPlot.LICENSE");
pub const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

/// Files served under `assets/`: (path, body, content type).
const FILES: &[(&str, &str, &str)] = &[
    ("app.js", APP_JS, "text/javascript; charset=utf-8"),
    ("common.js", COMMON_JS, "text/javascript; charset=utf-8"),
    ("report.js", REPORT_JS, "text/javascript; charset=utf-8"),
    ("app.css", APP_CSS, "text/css; charset=utf-8"),
    ("favicon.svg", FAVICON_SVG, "image/svg+xml"),
    (
        "vendor/uPlot.iife.min.js",
        UPLOT_JS,
        "text/javascript; charset=utf-8",
    ),
    ("vendor/uPlot.min.css", UPLOT_CSS, "text/css; charset=utf-8"),
    (
        "vendor/uPlot.LICENSE",
        UPLOT_LICENSE,
        "text/plain; charset=utf-8",
    ),
];

/// Looks up an asset by its path below `assets/`.
pub fn lookup(path: &str) -> Option<(&'static str, &'static str)> {
    FILES
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, body, ct)| (*body, *ct))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_found_with_types() {
        assert_eq!(
            lookup("app.js").map(|a| a.1),
            Some("text/javascript; charset=utf-8")
        );
        assert!(lookup("vendor/uPlot.iife.min.js")
            .unwrap()
            .0
            .contains("uPlot"));
        assert!(lookup("../Cargo.toml").is_none());
        assert!(lookup("").is_none());
    }

    #[test]
    fn page_has_no_external_urls() {
        for text in [INDEX_HTML, APP_JS, APP_CSS, COMMON_JS, REPORT_JS] {
            assert!(!text.contains("src=\"http"), "external src");
            assert!(!text.contains("href=\"http"), "external href");
        }
        assert!(INDEX_HTML.contains("{{TEMPLATE_ARGS}}"));
    }
}
