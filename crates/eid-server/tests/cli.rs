//! The command line of the `eid-server` binary.

use std::process::Command;

fn eid_server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eid-server"))
}

#[test]
fn help_lists_the_subcommands() {
    let out = eid_server().arg("--help").output().expect("run eid-server");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("demo") && help.contains("registry"), "{help}");
}

#[test]
fn registry_generate_writes_a_register_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_file = dir.path().join("register.sqlite");
    let run = || {
        eid_server()
            .args(["registry", "generate", "--citizens", "250", "--seed", "9"])
            .arg("--out")
            .arg(&out_file)
            .output()
            .expect("run eid-server")
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("250 citizens"));
    assert!(out_file.exists());

    let second = run();
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
}

#[test]
fn unknown_subcommand_fails() {
    let out = eid_server().arg("launch").output().expect("run eid-server");
    assert!(!out.status.success());
}

#[test]
fn a_failed_generation_leaves_no_file_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_file = dir.path().join("register.sqlite");
    let out = eid_server()
        .args(["registry", "generate", "--citizens", "100000000000"])
        .arg("--out")
        .arg(&out_file)
        .output()
        .expect("run eid-server");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at most"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out_file.exists());
}
