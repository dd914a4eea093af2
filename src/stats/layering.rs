//! The statistics stay off the HTTP client: they take their record types from `skein-record`
//! (no network inside), never from `skein-api` or a network crate, so they build and test as pure
//! code. Cargo cannot enforce this inside one crate, so this test reads the module's sources.

use std::path::Path;

/// Paths that would pull the network stack (or the scenario API that carries it) into stats.
const FORBIDDEN: &[&str] = &[
    "skein_api",
    "goose::",
    "hyper::",
    "reqwest::",
    "rustls::",
    "tokio::",
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/stats") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `file:line: text` of every code line (comments aside) naming a forbidden path.
fn offences(text: &str, file: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| FORBIDDEN.iter().any(|f| line.contains(f)))
        .map(|(n, line)| format!("{file}:{}: {}", n + 1, line.trim()))
        .collect()
}

#[test]
fn stats_import_only_skein_record() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/stats");
    let mut files = Vec::new();
    sources(&dir, &mut files);
    assert!(files.len() > 5, "found the stats sources: {files:?}");
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a stats source");
        if file.ends_with("layering.rs") {
            continue;
        }
        found.extend(offences(&text, &file.display().to_string()));
    }
    assert!(
        found.is_empty(),
        "src/stats must import its record types from skein_record, not the network stack:\n{}",
        found.join("\n")
    );
}

#[test]
fn an_import_of_skein_api_is_seen() {
    let text = "//! skein_api in a comment is fine\nuse skein_api::RequestRecord;\n";
    assert_eq!(
        offences(text, "x.rs"),
        ["x.rs:2: use skein_api::RequestRecord;"]
    );
}
