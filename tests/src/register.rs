//! The reference population register as a process of its own (`eid-server registry
//! serve`), and `eid-server registry record-change` to change a citizen's status.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::server_binary;

/// A running `eid-server registry serve`, killed on drop.
pub struct RegisterProcess {
    child: Child,
}

impl RegisterProcess {
    /// Serves `register` on `127.0.0.1:port`, callers presenting `token`; returns once it
    /// listens.
    pub fn start(register: &Path, port: u16, token: &str) -> Self {
        let mut child = Command::new(server_binary())
            .args([
                "registry",
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--register")
            .arg(register)
            .env("EID_REGISTRY_TOKEN", token)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run eid-server registry serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the register's banner");
        assert!(
            line.contains("serving gRPC"),
            "register did not start: {line:?}"
        );
        Self { child }
    }

    /// Kills the process (the register goes down without a goodbye).
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RegisterProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Records a status change in the register file (`registry record-change` with `args`),
/// failing the test if it is refused.
pub fn record_change(register: &Path, args: &[&str]) {
    let out = Command::new(server_binary())
        .args(["registry", "record-change", "--register"])
        .arg(register)
        .args(args)
        .output()
        .expect("run eid-server registry record-change");
    assert!(
        out.status.success(),
        "record-change {}: {}",
        args.get(1).copied().unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr)
    );
}
