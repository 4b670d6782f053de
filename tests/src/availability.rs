//! Missing components: a failure on CI (`CI=true`), a printed skip elsewhere.

/// Whether the tests run on CI, where every component must be present.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Fails on CI, else prints why the test is skipped; the caller then returns.
pub fn unavailable(what: &str, err: impl std::fmt::Display) {
    assert!(!ci(), "{what} unavailable on CI: {err}");
    eprintln!("skipping: {what} unavailable: {err}");
}
