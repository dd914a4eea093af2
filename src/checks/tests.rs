use super::*;
use crate::stats::RequestStats;

const T0: f64 = 1_800_000_000.0;

fn check(rule: &str) -> Check {
    Check::parse(rule).unwrap_or_else(|e| panic!("{rule}: {e}"))
}

fn err(rule: &str) -> String {
    match Check::parse(rule) {
        Ok(c) => panic!("{rule} parsed as {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn req(method: &str, name: &str) -> Subject {
    Subject::Request {
        method: (!method.is_empty()).then(|| method.to_string()),
        name: name.to_string(),
    }
}

#[test]
fn parses_the_documented_rules() {
    let cases: &[(&str, Subject, Metric, Op, f64, Unit)] = &[
        (
            "classify p95<500ms",
            req("", "classify"),
            Metric::Percentile(0.95),
            Op::Lt,
            500.0,
            Unit::Ms,
        ),
        (
            "/api/v1/health p95<100ms",
            req("", "/api/v1/health"),
            Metric::Percentile(0.95),
            Op::Lt,
            100.0,
            Unit::Ms,
        ),
        (
            "GET /api/v1/health rps>1000",
            req("GET", "/api/v1/health"),
            Metric::Rps,
            Op::Gt,
            1000.0,
            Unit::Number,
        ),
        (
            "error-rate<0.1%",
            Subject::All,
            Metric::FailRate,
            Op::Lt,
            0.001,
            Unit::Percent,
        ),
        (
            "success-rate>99.9%",
            Subject::All,
            Metric::SuccessRate,
            Op::Gt,
            0.999,
            Unit::Percent,
        ),
        (
            "all p99<1s",
            Subject::All,
            Metric::Percentile(0.99),
            Op::Lt,
            1000.0,
            Unit::S,
        ),
        (
            "avg<200ms",
            Subject::All,
            Metric::Avg,
            Op::Lt,
            200.0,
            Unit::Ms,
        ),
        (
            "fail-ratio<=0.001",
            Subject::All,
            Metric::FailRate,
            Op::Le,
            0.001,
            Unit::Ratio,
        ),
        (
            "requests>=100",
            Subject::All,
            Metric::Requests,
            Op::Ge,
            100.0,
            Unit::Number,
        ),
        (
            "  Aggregated   P99.9 >= 2.5 s ",
            Subject::All,
            Metric::Percentile(0.999),
            Op::Ge,
            2500.0,
            Unit::S,
        ),
        (
            "/api/v1/classify [large image] max<60s",
            req("", "/api/v1/classify [large image]"),
            Metric::Max,
            Op::Lt,
            60_000.0,
            Unit::S,
        ),
        (
            "POST classify median<=250",
            req("POST", "classify"),
            Metric::Median,
            Op::Le,
            250.0,
            Unit::Ms,
        ),
        ("min>0", Subject::All, Metric::Min, Op::Gt, 0.0, Unit::Ms),
        (
            "/search?q=a=b failures<1",
            req("", "/search?q=a=b"),
            Metric::Failures,
            Op::Lt,
            1.0,
            Unit::Number,
        ),
        (
            "rps>=5/s",
            Subject::All,
            Metric::Rps,
            Op::Ge,
            5.0,
            Unit::Number,
        ),
        (
            "p100<1000",
            Subject::All,
            Metric::Percentile(1.0),
            Op::Lt,
            1000.0,
            Unit::Ms,
        ),
    ];
    for (rule, subject, metric, op, threshold, unit) in cases {
        let c = check(rule);
        assert_eq!(&c.subject, subject, "{rule}");
        assert_eq!(c.metric, *metric, "{rule}");
        assert_eq!(c.op, *op, "{rule}");
        assert!(
            (c.threshold - threshold).abs() < 1e-12,
            "{rule}: {}",
            c.threshold
        );
        assert_eq!(c.unit, *unit, "{rule}");
        assert_eq!(c.text, rule.trim());
    }
}

#[test]
fn bad_rules_say_what_is_wrong() {
    let cases = [
        ("", "the rule is empty"),
        ("   ", "the rule is empty"),
        ("p95 500ms", "no comparison: expected <, <=, > or >="),
        ("p95=500", "'=' is not a comparison"),
        ("p95==500", "'==' is not a comparison"),
        ("p95!=500", "'!=' is not a comparison"),
        ("p95<<500", "'<<' is not a comparison"),
        ("p95=<500", "'=<' is not a comparison"),
        ("<500ms", "no metric before the comparison"),
        ("classify p9x<500ms", "unknown metric 'p9x'"),
        ("latency<5", "unknown metric 'latency' (expected pN"),
        ("p0<5", "percentile 'p0' must be above p0 and at most p100"),
        ("p101<5", "percentile 'p101' must be above p0"),
        ("p95<", "no threshold after the comparison"),
        ("p95<fast", "threshold 'fast' is not a number"),
        ("p95<-5ms", "threshold '-5ms' is not a number"),
        ("p95<1.2.3ms", "threshold '1.2.3ms' is not a number"),
        ("p95<5%", "'%' is not a unit for p95: use ms or s (a plain number is ms)"),
        ("avg<5min", "'min' is not a unit for avg"),
        ("error-rate<5ms", "'ms' is not a unit for fail-rate: use % or a ratio"),
        (
            "success-rate>99.9",
            "success-rate threshold 99.9 is not a ratio between 0 and 1; write 99.9% for a percentage",
        ),
        ("error-rate<150%", "fail-rate threshold 150% is above 100%"),
        ("rps>10ms", "'ms' is not a unit for rps"),
        ("requests>=10%", "'%' is not a unit for requests: use a plain number"),
        ("GET p95<100", "'GET' needs a request name after it"),
    ];
    for (rule, want) in cases {
        let got = err(rule);
        assert!(got.contains(want), "{rule:?}: {got:?} lacks {want:?}");
    }
}

#[test]
fn several_rules_split_on_semicolons_and_name_the_bad_one() {
    let rules = parse_rules("p95<500ms; error-rate<0.1% ;").unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[1].text, "error-rate<0.1%");
    let e = parse_rules("p95<500ms; rps>fast").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid check 'rps>fast': threshold 'fast' is not a number"
    );
    assert!(parse_rules(" ; ").unwrap().is_empty());
}

#[test]
fn the_service_targets_parse() {
    for rule in defaults::ALL {
        check(rule);
    }
    assert_eq!(defaults::checks(&defaults::ALL).len(), 8);
    let c = check(defaults::CLASSIFY_RPS);
    assert_eq!((c.metric, c.op, c.threshold), (Metric::Rps, Op::Gt, 100.0));
}

#[test]
fn comparisons_treat_float_noise_as_equal() {
    // 0.1 % of 1000 requests is exactly one failure.
    let t = check("error-rate<=0.1%").threshold;
    assert!(Op::Le.holds(1.0 / 1000.0, t));
    assert!(!Op::Lt.holds(1.0 / 1000.0, t));
    assert!(Op::Ge.holds(0.001, t));
    assert!(!Op::Gt.holds(0.001, t));
    assert!(Op::Lt.holds(0.000999, t));
    assert!(Op::Gt.holds(0.0011, t));
    assert!(Op::Le.holds(0.0, 0.0) && !Op::Lt.holds(0.0, 0.0));
}

/// 100 requests on `POST /api/v1/classify` taking 1..=100 ms over 10 s, 2 of them failed;
/// 50 fast `GET /api/v1/health`; 10 `POST /api/v1/classify [large image]` at 2000 ms; one
/// `GET /api/v1/search?q=cat` and a request without a response time.
fn table() -> RequestStats {
    let mut s = RequestStats::new(T0);
    for i in 1..=100u32 {
        let now = T0 + f64::from(i) / 10.0;
        s.log_request("POST", "/api/v1/classify", Some(f64::from(i)), 10, now);
        if i % 50 == 0 {
            s.log_error("POST", "/api/v1/classify", "HTTP 500", now);
        }
    }
    for i in 0..50u32 {
        s.log_request(
            "GET",
            "/api/v1/health",
            Some(2.0),
            5,
            T0 + f64::from(i) / 10.0,
        );
    }
    for i in 0..10u32 {
        let now = T0 + f64::from(i);
        s.log_request(
            "POST",
            "/api/v1/classify [large image]",
            Some(2000.0),
            5,
            now,
        );
    }
    s.log_request("GET", "/api/v1/search?q=cat", Some(7.0), 5, T0 + 1.0);
    s.log_request("GET", "/api/v1/stream", None, 0, T0 + 10.0);
    s
}

fn eval(rule: &str) -> CheckResult {
    let stats = table();
    let mut r = evaluate(&[check(rule)], &stats, T0 + 11.0);
    assert_eq!(r.len(), 1);
    let r = r.remove(0);
    assert_eq!(r.evaluated_at, T0 + 11.0);
    r
}

#[test]
fn evaluates_metrics_on_the_named_row() {
    // (rule, passed, subject, observed, observed text)
    let cases: &[(&str, bool, &str, f64, &str)] = &[
        // Locust's percentile of 1..=100: the 96th value from the bottom.
        (
            "classify p95<500ms",
            true,
            "POST /api/v1/classify",
            96.0,
            "96 ms",
        ),
        (
            "classify p95<90ms",
            false,
            "POST /api/v1/classify",
            96.0,
            "96 ms",
        ),
        (
            "classify p50<=51",
            true,
            "POST /api/v1/classify",
            51.0,
            "51 ms",
        ),
        (
            "classify p99.9>=100",
            true,
            "POST /api/v1/classify",
            100.0,
            "100 ms",
        ),
        (
            "classify avg<50.5",
            false,
            "POST /api/v1/classify",
            50.5,
            "50.5 ms",
        ),
        (
            "classify avg<=50.5",
            true,
            "POST /api/v1/classify",
            50.5,
            "50.5 ms",
        ),
        (
            "classify min>=1",
            true,
            "POST /api/v1/classify",
            1.0,
            "1 ms",
        ),
        (
            "classify max<=0.1s",
            true,
            "POST /api/v1/classify",
            100.0,
            "0.1 s",
        ),
        (
            "classify median<51",
            false,
            "POST /api/v1/classify",
            51.0,
            "51 ms",
        ),
        (
            "classify requests>=100",
            true,
            "POST /api/v1/classify",
            100.0,
            "100",
        ),
        (
            "classify failures<2",
            false,
            "POST /api/v1/classify",
            2.0,
            "2",
        ),
        (
            "classify error-rate<1%",
            false,
            "POST /api/v1/classify",
            0.02,
            "2 %",
        ),
        (
            "classify fail-ratio<=0.02",
            true,
            "POST /api/v1/classify",
            0.02,
            "0.02",
        ),
        (
            "classify success-rate>=98%",
            true,
            "POST /api/v1/classify",
            0.98,
            "98 %",
        ),
        ("health p95<10ms", true, "GET /api/v1/health", 2.0, "2 ms"),
        ("model/info p95<10ms", false, "", f64::NAN, "-"),
        (
            "v1/health requests>=50",
            true,
            "GET /api/v1/health",
            50.0,
            "50",
        ),
        (
            "GET /api/v1/health p99<=2",
            true,
            "GET /api/v1/health",
            2.0,
            "2 ms",
        ),
        (
            "search p50<10",
            true,
            "GET /api/v1/search?q=cat",
            7.0,
            "7 ms",
        ),
        ("large image] p95<3s", false, "", f64::NAN, "-"),
        (
            "/api/v1/classify [large image] p95<3s",
            true,
            "POST /api/v1/classify [large image]",
            2000.0,
            "2 s",
        ),
        ("all requests>=162", true, "Aggregated", 162.0, "162"),
        ("failures<=2", true, "Aggregated", 2.0, "2"),
        ("max>=2000", true, "Aggregated", 2000.0, "2000 ms"),
    ];
    for (rule, passed, subject, observed, text) in cases {
        let r = eval(rule);
        assert_eq!(r.passed, *passed, "{rule}: {r:?}");
        assert_eq!(r.observed_text, *text, "{rule}: {r:?}");
        if observed.is_nan() {
            assert_eq!(r.observed, None, "{rule}");
        } else {
            assert_eq!(r.subject, *subject, "{rule}");
            let got = r.observed.unwrap();
            assert!((got - observed).abs() < 1e-9, "{rule}: {got}");
        }
    }
}

#[test]
fn rps_is_over_the_whole_run() {
    // The total spans T0 .. T0+10 (the last classify), so 162 requests are 16.2/s and the
    // classify row's 100 are 10/s.
    let r = eval("rps>16");
    assert!(r.passed, "{r:?}");
    assert!((r.observed.unwrap() - 16.2).abs() < 1e-9);
    assert_eq!(r.observed_text, "16.2 req/s");
    assert_eq!(r.reason, "16.2 req/s > 16 req/s");
    let r = eval("POST /api/v1/classify rps>1000");
    assert!(!r.passed);
    assert_eq!(r.reason, "10 req/s is not > 1000 req/s");
}

#[test]
fn unknown_and_ambiguous_names_fail_with_the_candidates() {
    let r = eval("clasify p95<500ms");
    assert!(!r.passed);
    assert_eq!(r.subject, "clasify");
    assert!(
        r.reason.starts_with("no request named 'clasify' (known: POST /api/v1/classify, POST /api/v1/classify [large image], GET "),
        "{}",
        r.reason
    );
    // `classify` is the whole last segment of one name only; `v1` of none.
    let r = eval("api/v1/classify p95<500ms");
    assert!(r.passed, "{r:?}");
    let r = eval("v1 p95<500ms");
    assert!(
        r.reason.starts_with("no request named 'v1'"),
        "{}",
        r.reason
    );
    // An exact name starting with `/` is not a tail.
    let r = eval("/classify p95<500ms");
    assert!(
        r.reason.starts_with("no request named '/classify'"),
        "{}",
        r.reason
    );
    let r = eval("GET classify p95<500ms");
    assert!(
        r.reason
            .starts_with("no request named 'GET classify' (known: POST /api/v1/classify, "),
        "{}",
        r.reason
    );

    let mut stats = table();
    stats.log_request("GET", "/api/v1/classify", Some(1.0), 1, T0 + 1.0);
    stats.log_request("POST", "/v2/health", Some(1.0), 1, T0 + 1.0);
    let rs = evaluate(
        &[
            check("/api/v1/classify p95<500"),
            check("health p95<500"),
            check("POST /api/v1/classify p95<500"),
        ],
        &stats,
        T0,
    );
    assert_eq!(
        rs[0].reason,
        "'/api/v1/classify' is requested with several methods (GET, POST); put the method \
first, e.g. 'GET /api/v1/classify'"
    );
    assert_eq!(
        rs[1].reason,
        "'health' matches 2 requests (GET /api/v1/health, POST /v2/health); write the full name"
    );
    assert!(rs[2].passed, "{:?}", rs[2]);
    assert!(!rs[0].passed && !rs[1].passed && rs[0].observed.is_none());
}

#[test]
fn a_row_without_requests_fails_except_for_counts() {
    let stats = RequestStats::new(T0);
    let rules = [
        "p95<500ms",
        "error-rate<0.1%",
        "success-rate>99%",
        "rps<10",
        "requests<=0",
        "failures<1",
    ];
    let checks: Vec<Check> = rules.iter().map(|r| check(r)).collect();
    let rs = evaluate(&checks, &stats, T0);
    let passed: Vec<bool> = rs.iter().map(|r| r.passed).collect();
    assert_eq!(passed, [false, false, false, false, true, true]);
    assert_eq!(rs[0].reason, "no requests");
    assert_eq!(rs[1].reason, "no requests");
    // A row whose only request had no response time has no latency.
    let r = eval("stream avg<5");
    assert_eq!(r.reason, "no requests with a response time");
    assert!(eval("stream requests>=1").passed);
    assert!(failed(&rs));
    assert!(!failed(&rs[4..]));
    let r = evaluate(&[check("unknown p95<1")], &stats, T0);
    assert_eq!(
        r[0].reason,
        "no request named 'unknown' (no requests recorded)"
    );
}

#[test]
fn console_block_and_json() {
    let stats = table();
    let rs = evaluate(
        &[check("classify p95<500ms"), check("error-rate<0.1%")],
        &stats,
        T0,
    );
    let block = console_block(&rs);
    assert_eq!(
        block,
        "Checks: 1 of 2 failed\n\
         \x20 PASS  classify p95<500ms  96 ms < 500 ms (POST /api/v1/classify)\n\
         \x20 FAIL  error-rate<0.1%     1.23 % is not < 0.1 % (Aggregated)\n"
    );
    assert_eq!(console_block(&[]), "");
    assert!(console_block(&rs[..1]).starts_with("Checks: all 1 passed\n"));
    let j = to_json(&rs);
    assert_eq!(j[0]["status"], "PASS");
    assert_eq!(j[0]["observed"], 96.0);
    assert_eq!(j[0]["threshold_text"], "< 500 ms");
    assert_eq!(j[1]["passed"], false);
    assert_eq!(j[1]["subject"], "Aggregated");
    assert_eq!(j[1]["metric"], "fail-rate");
    assert_eq!(j[1]["evaluated_at"], T0);
    let unknown = evaluate(&[check("nope p95<1")], &stats, T0);
    assert_eq!(to_json(&unknown)[0]["observed"], serde_json::Value::Null);
}

#[test]
fn numbers_read_well() {
    for (x, s) in [
        (96.0, "96"),
        (50.5, "50.5"),
        (16.2, "16.2"),
        (1234.5678, "1234.57"),
        (0.0123456, "0.0123"),
        (0.00042, "0.00042"),
        (0.1, "0.1"),
        (0.0, "0"),
        (99.9, "99.9"),
    ] {
        assert_eq!(eval::fmt_num(x), s, "{x}");
    }
    assert_eq!(check("p99.9<1s").metric.to_string(), "p99.9");
    assert_eq!(check("p99.9<1s").threshold_text(), "< 1 s");
    assert_eq!(check("success-rate>=99.9%").threshold_text(), ">= 99.9 %");
}
