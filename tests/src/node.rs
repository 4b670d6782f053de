//! Node scripts in `tests/<name>` and the browser `tests/browser` drives: whether they
//! can run (else why not, for [`crate::availability::unavailable`]).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/<name>`, a script's package with its `node_modules`.
pub fn package_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Whether `node` runs and `module` is installed in `dir` (else why not).
pub fn node_ready(dir: &Path, module: &str) -> Result<(), String> {
    succeeds(Command::new("node").arg("--version"), "node --version")?;
    let manifest = dir.join("node_modules").join(module).join("package.json");
    if !manifest.exists() {
        return Err(format!(
            "{} missing: run `npm ci --prefix {}`",
            manifest.display(),
            dir.display()
        ));
    }
    Ok(())
}

/// Whether Debian's Chromium, the browser `tests/browser/chromium.mjs` launches, runs
/// (else why not).
pub fn chromium_ready() -> Result<(), String> {
    succeeds(
        Command::new("/usr/bin/chromium").arg("--version"),
        "/usr/bin/chromium --version",
    )
    .map_err(|err| format!("{err}: install Debian's chromium package"))
}

/// Runs `command`; `Err` naming `what` unless it starts and exits successfully.
fn succeeds(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command.output().map_err(|err| format!("{what}: {err}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}
