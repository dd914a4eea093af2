//! The crate stays free of the network stack: the statistics build on it alone, so a network
//! crate added here would reach them again.

const NETWORK: &[&str] = &[
    "goose",
    "hyper",
    "hyper-util",
    "reqwest",
    "rustls",
    "tokio",
    "tokio-rustls",
    "h2",
    "http",
    "mio",
    "socket2",
    "url",
];

/// The dependency names of every `[...dependencies]` table in the manifest (a plain line parse:
/// the manifest is ours and written one dependency a line).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line.trim_end_matches(']').ends_with("dependencies");
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once('=') {
                names.push(name.trim().to_string());
            }
        }
    }
    names
}

#[test]
fn no_network_dependency() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("read the manifest");
    let deps = dependencies(&manifest);
    let network: Vec<_> = deps
        .iter()
        .filter(|d| NETWORK.contains(&d.as_str()))
        .collect();
    assert!(
        network.is_empty(),
        "skein-record must not depend on the network stack; found {network:?}"
    );
}

#[test]
fn the_parse_sees_a_dependency() {
    let deps = dependencies("[package]\nname = \"x\"\n[dependencies]\ntokio = \"1\"\n[dev-dependencies]\nserde = \"1\"\n");
    assert_eq!(deps, ["tokio", "serde"]);
}
