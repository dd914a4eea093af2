//! `--test comprehensive`: every test in sequence (health, model info, classification, stress,
//! latency, memory) with the comprehensive defaults (30 s per rate test, a 60 s stress ramp),
//! then one JSON, one Markdown report and one self-contained HTML page with plots:
//! `bench_comprehensive_<timestamp>.{json,md,html}`. Its exit code is the worst of its tests'
//! (3 over 1 over 0).

use anyhow::Result;
use serde_json::Value;

use crate::config::BenchTest;

use super::{header, report_html, report_md, results, run_one, Ctx};

pub const ORDER: [BenchTest; 6] = [
    BenchTest::Health,
    BenchTest::ModelInfo,
    BenchTest::Classification,
    BenchTest::Stress,
    BenchTest::Latency,
    BenchTest::Memory,
];

/// The exit code of several tests: a failed check (3) over a test that could not measure (1).
pub fn worst(codes: impl IntoIterator<Item = i32>) -> i32 {
    codes.into_iter().fold(0, |acc, c| match (acc, c) {
        (3, _) | (_, 3) => 3,
        (a, b) => a.max(b),
    })
}

pub async fn run(ctx: &Ctx) -> Result<i32> {
    let mut json = header(ctx, BenchTest::Comprehensive);
    let mut tests = serde_json::Map::new();
    let mut codes = Vec::new();
    for test in ORDER {
        if ctx.cancel.is_cancelled() {
            break;
        }
        let outcome = run_one(ctx, test).await?;
        println!("{}", outcome.summary);
        codes.push(outcome.code);
        tests.insert(test.as_str().into(), outcome.json);
    }
    let code = worst(codes);
    json.insert("exit_code".into(), code.into());
    json.insert("tests".into(), Value::Object(tests));
    let stamp = results::stamp();
    let dir = &ctx.settings.output_dir;
    let name = |ext| results::file_name("comprehensive", &stamp, ext);
    let paths = [
        results::write(dir, &name("json"), &serde_json::to_string_pretty(&json)?)?,
        results::write(dir, &name("md"), &report_md::comprehensive(&json))?,
        results::write(dir, &name("html"), &report_html::page(&json))?,
    ];
    for p in paths {
        println!("Written {}", p.display());
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_code() {
        assert_eq!(worst([0, 0]), 0);
        assert_eq!(worst([0, 1]), 1);
        assert_eq!(worst([1, 3, 0]), 3);
        assert_eq!(worst([3, 1]), 3);
        assert_eq!(worst([]), 0);
    }
}
