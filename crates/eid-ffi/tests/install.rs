//! The documented install recipe: `make install` puts the library, header and
//! `eid.pc` under a prefix, and a C program builds from what `pkg-config` says, both
//! against the shared and the static library.

mod support;

use std::path::Path;
use std::process::Command;

use support::native::{crate_dir, have, lib_dir};

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn words(flags: &str) -> Vec<String> {
    flags.split_whitespace().map(str::to_owned).collect()
}

const PROGRAM: &str = r#"
#include <stdio.h>
#include <string.h>
#include <eid.h>

int main(void) {
    eid_id_problem problem = EID_ID_PROBLEM_NONE;
    if (eid_personal_id_validate("001090012345", &problem) != EID_STATUS_OK) return 1;
    if (eid_personal_id_validate("00109001234", &problem) != EID_STATUS_INVALID_PERSONAL_ID
        || problem != EID_ID_PROBLEM_WRONG_LENGTH || strlen(eid_last_error()) == 0) return 2;
    printf("eid %s\n", eid_version());
    return 0;
}
"#;

#[test]
fn make_install_then_pkg_config_builds_a_c_program() {
    if !(have("make", &["--version"])
        && have("cc", &["--version"])
        && have("pkg-config", &["--version"]))
    {
        return;
    }
    let prefix = tempfile::tempdir().unwrap();
    let prefix = prefix.path();
    run(Command::new("make")
        .arg("-C")
        .arg(crate_dir())
        .arg("install")
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("BUILT={}", lib_dir().display())));
    for installed in ["lib/libeid.so", "lib/libeid.a", "include/eid.h"] {
        assert!(prefix.join(installed).is_file(), "{installed}");
    }

    let pkg_config = |args: &[&str]| {
        run(Command::new("pkg-config")
            .args(args)
            .arg("eid")
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")))
    };
    assert_eq!(
        pkg_config(&["--modversion"]).trim(),
        env!("CARGO_PKG_VERSION")
    );
    let cflags = words(&pkg_config(&["--cflags"]));
    let source = prefix.join("hello.c");
    std::fs::write(&source, PROGRAM).unwrap();
    let expected = format!("eid {}\n", env!("CARGO_PKG_VERSION"));

    // Shared: the flags pkg-config gives, and an rpath for the private prefix.
    let build_shared = |compiler: &str, standard: &str, source: &Path, name: &str| {
        let program = prefix.join(name);
        run(Command::new(compiler)
            .args([standard, "-Wall", "-Wextra", "-Werror"])
            .args(&cflags)
            .arg(source)
            .args(words(&pkg_config(&["--libs"])))
            .arg(format!("-Wl,-rpath,{}", prefix.join("lib").display()))
            .arg("-o")
            .arg(&program));
        run(&mut Command::new(&program))
    };
    assert_eq!(
        build_shared("cc", "-std=c11", &source, "hello-shared"),
        expected
    );

    // The README's example compiles against the installed header.
    let readme = std::fs::read_to_string(crate_dir().join("README.md")).unwrap();
    let example = readme
        .split("```c\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a C example in README.md");
    let example_source = prefix.join("readme_example.c");
    std::fs::write(&example_source, example).unwrap();
    run(Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-c"])
        .args(&cflags)
        .arg(&example_source)
        .arg("-o")
        .arg(prefix.join("readme_example.o")));

    // The header is also valid C++ (cbindgen's `cpp_compat`: `extern "C"`).
    if have("c++", &["--version"]) {
        let cpp_source = prefix.join("hello.cpp");
        std::fs::write(&cpp_source, PROGRAM).unwrap();
        assert_eq!(
            build_shared("c++", "-std=c++17", &cpp_source, "hello-cpp"),
            expected
        );
    }

    // Static: libeid.a plus the system libraries `--static` lists (Libs.private).
    let statically = prefix.join("hello-static");
    let private: Vec<String> = words(&pkg_config(&["--static", "--libs-only-l"]))
        .into_iter()
        .filter(|flag| flag != "-leid")
        .collect();
    run(Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .args(&cflags)
        .arg(&source)
        .arg(prefix.join("lib/libeid.a"))
        .args(&private)
        .arg("-o")
        .arg(&statically));
    assert_eq!(run(&mut Command::new(&statically)), expected);
    let dynamic = run(Command::new("ldd").arg(&statically));
    assert!(!dynamic.contains("libeid"), "{dynamic}");
}
