//! What the tests of native programs share: the tools they need, where the library is.

#![allow(dead_code)] // Each test crate uses a different part.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Native link libraries of `libeid.a`, as printed by
/// `cargo rustc -p eid-ffi --lib --crate-type staticlib -- --print native-static-libs`.
pub const NATIVE_STATIC_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// Whether this is a CI run, where missing tools fail tests instead of skipping them.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// Whether `tool` runs (`tool args...` succeeds). Without it the test is skipped, or
/// fails under CI.
pub fn have(tool: &str, args: &[&str]) -> bool {
    let works = Command::new(tool)
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success());
    if !works {
        assert!(
            !in_ci(),
            "`{tool}` is required with CI=true but does not run"
        );
        eprintln!("SKIPPED: `{tool}` is not available (it is required with CI=true)");
    }
    works
}

/// Where cargo put `libeid.so` and `libeid.a` for this test run: the `deps` directory of
/// the profile, beside the test binaries (`cargo test` does not copy them up to
/// `target/debug`, so a library there may be stale or missing).
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().to_path_buf();
    assert!(
        dir.join("libeid.so").is_file(),
        "no libeid.so in {}",
        dir.display()
    );
    dir
}

/// This crate's directory.
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
