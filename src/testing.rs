//! Test support shared by unit and integration tests: where the repository's test fixtures
//! are (`tests/fixtures/`, see its README.md). Nothing here reaches outside the repository.

use std::path::PathBuf;

/// `<repo>/tests/fixtures/<rel>`. Panics when the file is missing, so that a test whose input
/// is gone fails instead of passing without checking anything.
pub fn fixture(rel: &str) -> PathBuf {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(rel);
    assert!(
        path.exists(),
        "missing test fixture {} (see tests/fixtures/README.md)",
        path.display()
    );
    path
}

/// The text of `tests/fixtures/<rel>`; panics (fails the test) when it is missing or unreadable.
pub fn read_fixture(rel: &str) -> String {
    let path = fixture(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn fixtures_resolve_inside_the_repository() {
        let p = super::fixture("locust/dispatch-vectors.json");
        assert!(p.starts_with(env!("CARGO_MANIFEST_DIR")), "{}", p.display());
    }

    #[test]
    #[should_panic(expected = "missing test fixture")]
    fn a_missing_fixture_fails() {
        super::fixture("locust/no-such-file.json");
    }
}
