//! Helpers shared by the end-to-end tests in `tests/`: the binary, the stores, the
//! register's citizens, relying parties, configuration, the running daemon, a software
//! passkey, and the Node scripts and browser that drive it.

pub mod availability;
pub mod browser;
pub mod citizen;
pub mod clients;
pub mod daemon;
pub mod deployment;
pub mod node;
pub mod passkey;
pub mod python;
pub mod random;
pub mod register;
pub mod stores;

use std::path::PathBuf;

/// The `eid-server` binary built next to the running test (cargo builds it for
/// eid-server's own integration tests in the same `cargo test --workspace` run).
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let bin = dir.join(format!("eid-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: run `cargo test --workspace` (or `cargo build -p eid-server` first)",
        bin.display()
    );
    bin
}
