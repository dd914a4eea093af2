//! Test support shared by unit tests: where the read-only `shared/` reference folder is.

use std::path::PathBuf;

/// `$SKEIN_SHARED/<rel>`, else `<repo>/../shared/<rel>` (the CI layout), else `/work/shared/<rel>`.
pub fn shared_path(rel: &str) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(dir) = std::env::var("SKEIN_SHARED") {
        candidates.push(PathBuf::from(dir));
    }
    candidates.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared"
    )));
    candidates.push(PathBuf::from("/work/shared"));
    candidates
        .into_iter()
        .map(|d| d.join(rel))
        .find(|p| p.exists())
}
