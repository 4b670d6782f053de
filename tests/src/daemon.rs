//! Running the `eid-server` binary: administration commands and the `serve` daemon.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::server_binary;

/// Runs `command` to completion with `stdin`; its output.
pub(crate) fn run_with_stdin(command: &mut Command, stdin: &str) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for the command")
}

/// Runs `eid-server` to completion with `stdin`, failing the test on a non-zero exit.
pub(crate) fn run_admin(kek: &str, args: &[&str], config: &Path, stdin: &str) -> String {
    let mut command = Command::new(server_binary());
    command
        .env("EID_KEY_ENCRYPTION_KEY", kek)
        .args(args)
        .arg("--config")
        .arg(config);
    let out = run_with_stdin(&mut command, stdin);
    // The command, not its arguments: they may hold a personal ID.
    assert!(
        out.status.success(),
        "eid-server {} failed: {}{}",
        args[..2].join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running `eid-server serve`, killed if the test fails before stopping it.
pub struct Daemon {
    child: Child,
}

impl Daemon {
    /// Starts `eid-server serve` and waits for its `ready` line.
    pub fn start(kek: &str, config: &Path) -> Self {
        let mut child = Command::new(server_binary())
            .env("EID_KEY_ENCRYPTION_KEY", kek)
            .args(["serve", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run eid-server serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut banner = Vec::new();
        let ready = loop {
            match stdout.next() {
                Some(line) => {
                    let line = line.expect("read stdout");
                    if line == "ready" {
                        break true;
                    }
                    banner.push(line);
                }
                None => break false,
            }
        };
        if !ready {
            let mut stderr = String::new();
            let _ = child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut stderr);
            panic!("eid-server serve did not start: {banner:?}\n{stderr}");
        }
        // Keep both pipes drained; the log (stderr) shows the server's side of a failure.
        std::thread::spawn(move || stdout.for_each(drop));
        let stderr = child.stderr.take().expect("stderr");
        let pid = child.id();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[eid-server {pid}] {line}");
            }
        });
        Daemon { child }
    }

    /// Stops it with SIGTERM and checks it exits cleanly.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.expect("run kill").success());
        let status = self.child.wait().expect("wait for the daemon");
        assert!(status.success(), "eid-server serve exited with {status}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free at the time of asking (the daemon's issuer must name its port up front).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
