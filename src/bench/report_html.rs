//! The comprehensive run's self-contained HTML page: the Markdown report's tables and four
//! inline SVG plots drawn here (no script, no external asset): latency over time, per-size
//! response times, the stress curve and memory over time.

use serde_json::{Map, Value};

const W: f64 = 640.0;
const H: f64 = 240.0;
const PAD: f64 = 44.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A line chart of named series of `(x, y)` points (pure). Empty data gives a "no data" box.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> String {
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let mut out = format!("<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">", esc(title));
    if all.is_empty() {
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\">no data</text></svg></figure>",
            W / 2.0 - 20.0,
            H / 2.0
        ));
        return out;
    }
    let (x0, x1) = bounds(all.iter().map(|p| p.0));
    let (_, y1) = bounds(all.iter().map(|p| p.1));
    let y0 = 0.0f64.min(all.iter().map(|p| p.1).fold(f64::INFINITY, f64::min));
    let sx = |x: f64| PAD + (x - x0) / (x1 - x0).max(1e-12) * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD + -(y - y0) / (y1 - y0).max(1e-12) * (H - 2.0 * PAD);
    out.push_str(&axes(x_label, y_label, Some((x0, x1)), (y0, y1)));
    const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
    for (i, (name, pts)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = pts
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .map(|p| format!("{:.1},{:.1}", sx(p.0), sy(p.1)))
            .collect();
        out.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
            path.join(" ")
        ));
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" fill=\"{colour}\" font-size=\"11\">{}</text>",
            W - PAD - 120.0,
            PAD + 14.0 * i as f64,
            esc(name)
        ));
    }
    out.push_str("</svg></figure>");
    out
}

/// A bar chart of `(label, value)` (pure).
pub fn bar_chart(title: &str, y_label: &str, bars: &[(String, f64)]) -> String {
    let mut out = format!("<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">", esc(title));
    let max = bars
        .iter()
        .map(|b| b.1)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    if bars.is_empty() {
        out.push_str("<text x=\"300\" y=\"120\">no data</text></svg></figure>");
        return out;
    }
    out.push_str(&axes("", y_label, None, (0.0, max)));
    let slot = (W - 2.0 * PAD) / bars.len() as f64;
    for (i, (label, v)) in bars.iter().enumerate() {
        let h = if max > 0.0 {
            v / max * (H - 2.0 * PAD)
        } else {
            0.0
        };
        let x = PAD + slot * i as f64 + slot * 0.15;
        out.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#1f77b4\"/><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\">{v:.1}</text>",
            H - PAD - h,
            slot * 0.7,
            H - PAD + 14.0,
            esc(label),
            H - PAD - h - 3.0,
        ));
    }
    out.push_str("</svg></figure>");
    out
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if hi > lo {
        (lo, hi)
    } else {
        (lo, lo + 1.0)
    }
}

/// The two axes with the y range, and the x range when the x axis is numeric.
fn axes(x_label: &str, y_label: &str, x: Option<(f64, f64)>, y: (f64, f64)) -> String {
    let x_ticks = x.map_or(String::new(), |(x0, x1)| {
        format!(
            "<text x=\"{PAD}\" y=\"{lb}\" font-size=\"10\">{x0:.3}</text><text x=\"{r2}\" y=\"{lb}\" font-size=\"10\">{x1:.3}</text>",
            lb = H - PAD + 14.0,
            r2 = W - PAD - 30.0,
        )
    });
    format!(
        "<line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#444\"/><line x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{b}\" stroke=\"#444\"/>{x_ticks}\
         <text x=\"2\" y=\"{b}\" font-size=\"10\">{:.1}</text><text x=\"2\" y=\"{PAD}\" font-size=\"10\">{:.1}</text>\
         <text x=\"{mx}\" y=\"{H}\" font-size=\"11\">{}</text><text x=\"2\" y=\"14\" font-size=\"11\">{}</text>",
        y.0, y.1, esc(x_label), esc(y_label),
        b = H - PAD, r = W - PAD, mx = W / 2.0 - 40.0,
    )
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn timeline_series(t: Option<&Value>, field: &str) -> Vec<(f64, f64)> {
    t.and_then(|t| t.get("timeline"))
        .and_then(Value::as_array)
        .map(|pts| {
            pts.iter()
                .filter_map(|p| Some((num(&p["t"])?, num(&p[field])?)))
                .collect()
        })
        .unwrap_or_default()
}

/// The page (pure: from the comprehensive JSON).
pub fn page(json: &Map<String, Value>) -> String {
    let tests = json
        .get("tests")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut body = String::new();
    let latency_series: Vec<(String, Vec<(f64, f64)>)> = ["health", "model_info", "classification"]
        .iter()
        .map(|n| {
            (
                format!("{n} p95 ms"),
                timeline_series(tests.get(*n), "p95_ms"),
            )
        })
        .collect();
    let refs: Vec<(&str, Vec<(f64, f64)>)> = latency_series
        .iter()
        .map(|(n, s)| (n.as_str(), s.clone()))
        .collect();
    body.push_str(&line_chart(
        "Latency over time (current p95)",
        "seconds",
        "ms",
        &refs,
    ));
    let mut sizes: Vec<(String, f64)> = tests
        .get("classification")
        .and_then(|c| c["endpoints"].as_array())
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    (
                        r["name"]
                            .as_str()
                            .unwrap_or("")
                            .trim_start_matches("/api/v1/classify ")
                            .to_string(),
                        num(&r["p95_response_time"]).unwrap_or(0.0) * 1000.0,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    // By side, not by name: 224 px before 1024 px.
    sizes.sort_by_key(|(label, _)| {
        label
            .trim_matches(|c: char| !c.is_ascii_digit())
            .parse::<u32>()
            .unwrap_or(u32::MAX)
    });
    body.push_str(&bar_chart(
        "Classification p95 by image size (ms)",
        "ms",
        &sizes,
    ));
    let steps = tests
        .get("stress")
        .and_then(|s| s["steps"].as_array())
        .cloned()
        .unwrap_or_default();
    let rps: Vec<(f64, f64)> = steps
        .iter()
        .filter_map(|s| Some((num(&s["users"])?, num(&s["requests_per_second"])?)))
        .collect();
    let p95: Vec<(f64, f64)> = steps
        .iter()
        .filter_map(|s| Some((num(&s["users"])?, num(&s["p95_response_time"])? * 1000.0)))
        .collect();
    body.push_str(&line_chart(
        "Stress: throughput (req/s) by concurrency",
        "users",
        "req/s",
        &[("req/s", rps)],
    ));
    body.push_str(&line_chart(
        "Stress: p95 (ms) by concurrency",
        "users",
        "ms",
        &[("p95 ms", p95)],
    ));
    let mem: Vec<(f64, f64)> = tests
        .get("memory")
        .and_then(|m| m["memory"]["series"].as_array())
        .map(|s| {
            s.iter()
                .filter_map(|p| Some((num(&p["t"])?, num(&p["rss_bytes"])? / 1048576.0)))
                .collect()
        })
        .unwrap_or_default();
    body.push_str(&line_chart(
        "Target memory over time (RSS, MiB)",
        "seconds",
        "MiB",
        &[("RSS MiB", mem)],
    ));
    let md = super::report_md::comprehensive(json);
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>skein bench: comprehensive</title>\
         <style>body{{font-family:sans-serif;max-width:900px;margin:2em auto}}figure{{margin:1em 0}}pre{{background:#f4f4f4;padding:1em;overflow-x:auto}}</style>\
         </head><body><h1>skein bench: comprehensive</h1>{body}<h2>Report</h2><pre>{}</pre></body></html>\n",
        esc(&md)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_and_escape() {
        let c = line_chart("a<b", "x", "y", &[("s", vec![(0.0, 1.0), (1.0, 2.0)])]);
        assert!(
            c.contains("<svg") && c.contains("polyline") && c.contains("a&lt;b"),
            "{c}"
        );
        assert!(line_chart("t", "x", "y", &[("s", vec![])]).contains("no data"));
        let b = bar_chart(
            "bars",
            "ms",
            &[("224px".into(), 10.0), ("2048px".into(), 40.0)],
        );
        assert_eq!(b.matches("<rect").count(), 2);
        let p = page(&Map::new());
        assert!(
            p.starts_with("<!DOCTYPE html>") && p.matches("<svg").count() == 5,
            "{p}"
        );
    }
}
