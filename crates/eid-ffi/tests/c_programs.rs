//! The C library as C and Python programs use it: the programs of `tests/c` compiled with
//! the system `cc` against `include/eid.h` and the `libeid.so` cargo built for this test
//! run, run natively and under valgrind's memcheck, `verify_tokens.c` also linked against
//! `libeid.a`; the exported symbols checked with `nm`; and the Python ctypes example of
//! `examples/python` run with `python3`.
//!
//! The tokens, keys and credentials come from eid-core's issuer ([`Fixtures`]), written to
//! a temporary directory the programs read. Without `cc`, `valgrind`, `nm` or `python3`
//! a test is skipped with a message, except with `CI=true`, where it fails.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use eid::eid_status;
use eid_core::assurance::Loa;
use serde_json::Value;
use support::fixtures::{self, Fixtures};
use support::native::{NATIVE_STATIC_LIBS, crate_dir, have, lib_dir};
use tempfile::TempDir;

/// Verifications per thread in `threads.c` (fewer under valgrind, which is slow and
/// runs one thread at a time).
const THREAD_ITERATIONS: &str = "300";
const THREAD_ITERATIONS_VALGRIND: &str = "40";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout:\n{}\n--- stderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    )
}

/// Compiles `tests/c/<name>.c` into `dir`, linked against `libeid.so` (or `libeid.a`
/// when `static_lib`), and returns the program's path.
fn compile(name: &str, dir: &Path, static_lib: bool) -> PathBuf {
    let lib = lib_dir();
    let out = dir.join(if static_lib {
        format!("{name}_static")
    } else {
        name.to_owned()
    });
    let mut cc = Command::new("cc");
    cc.args([
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
        "-g",
    ])
    .arg("-I")
    .arg(crate_dir().join("include"))
    .arg(crate_dir().join("tests/c").join(format!("{name}.c")))
    .arg("-o")
    .arg(&out)
    .arg("-pthread");
    if static_lib {
        cc.arg(lib.join("libeid.a")).args(NATIVE_STATIC_LIBS);
    } else {
        cc.arg("-L")
            .arg(&lib)
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-leid");
    }
    let output = cc.output().expect("cc runs");
    assert!(
        output.status.success(),
        "compiling {name}.c: {}",
        describe(&output)
    );
    out
}

/// The inputs of the C programs, written to a temporary directory.
struct Inputs {
    dir: TempDir,
    /// The pairwise subject the tokens name.
    subject: String,
}

impl Inputs {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// `jwks.json`, `cases.txt` and `ekyc.txt` for `verify_tokens.c`; `jwks-a.json`,
    /// `jwks-b.json` and `token.txt` for `threads.c` and the Python example.
    fn new() -> Self {
        let f = Fixtures::new();
        let inputs = Inputs {
            dir: TempDir::new().unwrap(),
            subject: f.subject(),
        };
        let other = Fixtures::new();
        let good = f.id_token(Loa::Substantial);
        let ok = eid_status::Ok as i32;
        let cases: Vec<(i32, u32, &str, &str, String)> = vec![
            (ok, 2, fixtures::CLIENT_ID, "good-id", good.clone()),
            (
                ok,
                3,
                fixtures::CLIENT_ID,
                "good-id-claims",
                f.sign(&f.id_claims()),
            ),
            (
                ok,
                3,
                fixtures::API,
                "good-access",
                f.access_token(Loa::High),
            ),
            (
                eid_status::Expired as i32,
                0,
                fixtures::CLIENT_ID,
                "expired",
                f.expired_id_token(),
            ),
            (
                eid_status::BadSignature as i32,
                0,
                fixtures::CLIENT_ID,
                "tampered",
                fixtures::tampered(&good),
            ),
            (
                eid_status::WrongAudience as i32,
                0,
                fixtures::CLIENT_ID,
                "wrong-audience",
                f.wrong_audience_id_token(),
            ),
            (
                eid_status::UnsupportedAlgorithm as i32,
                0,
                fixtures::CLIENT_ID,
                "alg-none",
                fixtures::alg_none(&good),
            ),
            (
                eid_status::InsufficientAssurance as i32,
                3,
                fixtures::CLIENT_ID,
                "under-assured",
                good.clone(),
            ),
            (
                eid_status::InsufficientAssurance as i32,
                2,
                fixtures::API,
                "under-assured-access",
                f.access_token(Loa::Low),
            ),
            (
                eid_status::UnknownKey as i32,
                0,
                fixtures::CLIENT_ID,
                "unknown-key",
                other.id_token(Loa::Low),
            ),
            (
                eid_status::BadSignature as i32,
                0,
                fixtures::CLIENT_ID,
                "foreign-key",
                f.foreign_key_id_token(),
            ),
            (
                eid_status::MalformedToken as i32,
                0,
                fixtures::CLIENT_ID,
                "malformed",
                "not-a-token".to_owned(),
            ),
            (
                eid_status::MalformedToken as i32,
                0,
                fixtures::CLIENT_ID,
                "malformed-parts",
                "a.b.c".to_owned(),
            ),
        ];
        let mut text =
            String::from("# <expected eid_status> <min_loa> <audience> <label> <token>\n");
        for (status, loa, audience, label, token) in &cases {
            text.push_str(&format!("{status} {loa} {audience} {label} {token}\n"));
        }
        inputs.write("cases.txt", &text);
        inputs.write("jwks.json", &f.jwks());

        let credential = f.credential();
        let ekyc = [
            ("audience", fixtures::VERIFIER),
            ("nonce", fixtures::KB_NONCE),
            ("personal_id", fixtures::PERSONAL_ID),
            ("status_uri", fixtures::STATUS_URI),
            ("presentation", &credential.presentation),
            ("status_valid", &credential.status_valid),
            ("status_suspended", &credential.status_suspended),
            ("status_revoked", &credential.status_revoked),
        ];
        let ekyc: String = ekyc.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
        inputs.write("ekyc.txt", &ekyc);

        // Two key sets that both hold the signing key; B also another issuer key.
        let mut jwks_b: Value = serde_json::from_str(&f.jwks()).unwrap();
        let other_keys: Value = serde_json::from_str(&other.jwks()).unwrap();
        let keys = jwks_b["keys"].as_array_mut().unwrap();
        let before = keys.len();
        keys.extend(other_keys["keys"].as_array().unwrap().iter().cloned());
        assert!(keys.len() > before);
        inputs.write("jwks-a.json", &f.jwks());
        inputs.write("jwks-b.json", &jwks_b.to_string());
        inputs.write("jwks-other.json", &other.jwks());
        inputs.write("token.txt", &good);
        inputs.write("expired.txt", &f.expired_id_token());
        inputs
    }

    fn verify_tokens_args(&self) -> Vec<String> {
        vec![
            self.path("jwks.json").display().to_string(),
            fixtures::ISSUER.to_owned(),
            self.path("cases.txt").display().to_string(),
            self.path("ekyc.txt").display().to_string(),
        ]
    }

    fn threads_args(&self, iterations: &str) -> Vec<String> {
        vec![
            self.path("jwks-a.json").display().to_string(),
            self.path("jwks-b.json").display().to_string(),
            fixtures::ISSUER.to_owned(),
            fixtures::CLIENT_ID.to_owned(),
            self.path("token.txt").display().to_string(),
            iterations.to_owned(),
            self.path("jwks-other.json").display().to_string(),
        ]
    }
}

fn run(program: &Path, args: &[String]) -> Output {
    Command::new(program)
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap()
}

/// What `verify_tokens` must print, beside exiting 0.
fn check_verify_tokens_output(output: &Output, inputs: &Inputs) {
    assert!(output.status.success(), "{}", describe(output));
    let stdout = text(&output.stdout);
    let subject = &inputs.subject;
    let nonce = fixtures::NONCE;
    let personal_id = fixtures::PERSONAL_ID;
    let status_uri = fixtures::STATUS_URI;
    let expected = [
        format!("version={}", env!("CARGO_PKG_VERSION")),
        "case good-id: EID_STATUS_OK".to_owned(),
        format!("good-id sub={subject}"),
        "good-id kind=1".to_owned(),
        "good-id loa=2".to_owned(),
        "good-id acr=http://eidas.europa.eu/LoA/substantial".to_owned(),
        "good-id amr=hwk,user,mfa".to_owned(),
        format!("good-id nonce={nonce}"),
        format!("good-id iss={}", fixtures::ISSUER),
        "good-id family_name=<absent>".to_owned(),
        "case good-id-claims: EID_STATUS_OK".to_owned(),
        "good-id-claims loa=3".to_owned(),
        "good-id-claims name=Nguyễn Thị Thu Hương".to_owned(),
        "good-id-claims family_name=Nguyễn".to_owned(),
        "good-id-claims middle_name=Thị Thu".to_owned(),
        "good-id-claims given_name=Hương".to_owned(),
        "good-id-claims birthdate=1990-03-07".to_owned(),
        format!("good-id-claims personal_id={personal_id}"),
        format!("good-id-claims nonce={nonce}"),
        "case good-access: EID_STATUS_OK".to_owned(),
        "good-access kind=2".to_owned(),
        "good-access loa=3".to_owned(),
        format!("good-access sub={subject}"),
        "good-access nonce=<absent>".to_owned(),
        "case expired: EID_STATUS_EXPIRED".to_owned(),
        "case tampered: EID_STATUS_BAD_SIGNATURE".to_owned(),
        "case wrong-audience: EID_STATUS_WRONG_AUDIENCE".to_owned(),
        "case alg-none: EID_STATUS_UNSUPPORTED_ALGORITHM".to_owned(),
        "case under-assured: EID_STATUS_INSUFFICIENT_ASSURANCE".to_owned(),
        "case under-assured-access: EID_STATUS_INSUFFICIENT_ASSURANCE".to_owned(),
        "case unknown-key: EID_STATUS_UNKNOWN_KEY".to_owned(),
        "case foreign-key: EID_STATUS_BAD_SIGNATURE".to_owned(),
        "case malformed: EID_STATUS_MALFORMED_TOKEN".to_owned(),
        "case malformed-parts: EID_STATUS_MALFORMED_TOKEN".to_owned(),
        "null arguments: all refused".to_owned(),
        "personal_id \"12345\": problem 1".to_owned(),
        "personal_id \"00109001234X\": problem 2".to_owned(),
        "personal_id \"999090012345\": problem 3".to_owned(),
        "password hash: $argon2id$v=19$m=19456,t=2,p=1$...".to_owned(),
        "ekyc kind=3".to_owned(),
        "ekyc family_name=Nguyễn".to_owned(),
        "ekyc birthdate=1990-03-07".to_owned(),
        format!("ekyc personal_id={personal_id}"),
        format!("ekyc status_uri={status_uri}"),
        "ekyc status: valid, suspended, revoked as expected".to_owned(),
        "ekyc wrong nonce: ".to_owned(),
        "verify_tokens: 13 token cases, ".to_owned(),
    ];
    let lines: Vec<&str> = stdout.lines().collect();
    for want in &expected {
        assert!(
            lines.iter().any(|line| line.starts_with(want.as_str())),
            "no line starting with {want:?} in:\n{stdout}"
        );
    }
    // The claims JSON is JSON, with the identity claims.
    let json = lines
        .iter()
        .find_map(|line| line.strip_prefix("good-id-claims json="))
        .expect("claims JSON printed");
    let json: Value = serde_json::from_str(json).unwrap();
    assert_eq!(json["personal_id"], personal_id);
    assert_eq!(json["sub"], subject.as_str());
    assert!(stdout.contains(", 0 failures"), "{stdout}");
}

#[test]
fn verify_tokens_c_program() {
    if !have("cc", &["--version"]) {
        return;
    }
    let inputs = Inputs::new();
    let program = compile("verify_tokens", inputs.dir.path(), false);
    let output = run(&program, &inputs.verify_tokens_args());
    check_verify_tokens_output(&output, &inputs);
}

#[test]
fn verify_tokens_c_program_fails_on_a_wrong_expectation() {
    // The program really compares: a case expecting the wrong status makes it fail.
    if !have("cc", &["--version"]) {
        return;
    }
    let inputs = Inputs::new();
    let cases = std::fs::read_to_string(inputs.path("cases.txt")).unwrap();
    let wrong = cases.replacen("\n6 0 ", "\n0 0 ", 1);
    assert_ne!(wrong, cases);
    inputs.write("cases.txt", &wrong);
    let program = compile("verify_tokens", inputs.dir.path(), false);
    let output = run(&program, &inputs.verify_tokens_args());
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        text(&output.stderr)
            .contains("case expired: got EID_STATUS_EXPIRED, expected EID_STATUS_OK"),
        "{}",
        describe(&output)
    );
}

/// The static library works: the program is linked with `libeid.a` and no `-leid`, and
/// runs without `LD_LIBRARY_PATH` or an rpath, so it cannot be using `libeid.so`.
#[test]
fn verify_tokens_c_program_linked_statically() {
    if !have("cc", &["--version"]) {
        return;
    }
    let inputs = Inputs::new();
    let program = compile("verify_tokens", inputs.dir.path(), true);
    let output = run(&program, &inputs.verify_tokens_args());
    check_verify_tokens_output(&output, &inputs);
}

fn check_threads_output(output: &Output) {
    assert!(output.status.success(), "{}", describe(output));
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("threads: 4 threads, ") && stdout.contains(" 0 failures"),
        "{stdout}"
    );
}

#[test]
fn threads_c_program() {
    if !have("cc", &["--version"]) {
        return;
    }
    let inputs = Inputs::new();
    let program = compile("threads", inputs.dir.path(), false);
    let output = run(&program, &inputs.threads_args(THREAD_ITERATIONS));
    check_threads_output(&output);
    // 4 threads, each at least THREAD_ITERATIONS times.
    let stdout = text(&output.stdout);
    let verified: u32 = stdout
        .split(", ")
        .nth(1)
        .and_then(|part| part.strip_suffix(" verifications"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(verified >= 4 * THREAD_ITERATIONS.parse::<u32>().unwrap());
}

/// Runs `program` under memcheck; returns its output and valgrind's summary lines.
fn valgrind(program: &Path, args: &[String]) -> (Output, Vec<String>) {
    let output = Command::new("valgrind")
        .args([
            "--tool=memcheck",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--error-exitcode=99",
            // Valgrind runs one thread at a time under a lock that is unfair by default:
            // on a busy machine the main thread of threads.c (which replaces the key set
            // the workers wait for) starved for minutes, and the tokens expired.
            "--fair-sched=yes",
        ])
        .arg(program)
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    let summary = stderr
        .lines()
        .filter(|line| {
            [
                "in use at exit",
                "total heap usage",
                "definitely lost",
                "indirectly lost",
                "possibly lost",
                "still reachable",
                "suppressed:",
                "All heap blocks were freed",
                "ERROR SUMMARY",
            ]
            .iter()
            .any(|key| line.contains(key))
        })
        .map(str::to_owned)
        .collect();
    (output, summary)
}

/// Asserts no memcheck error and no definitely or indirectly lost block (valgrind's own
/// exit status, 99 on any of them, and its summary). "Still reachable" blocks are
/// allowed: with `--show-leak-kinds=all` they are the library's process-wide state, the
/// same 33,464 bytes in 66 blocks for both programs when this was written: the table of
/// registration places eid-core parses once into a `LazyLock` (the first personal ID
/// validated), and aws-lc's per-thread error queue of the main thread (a pthread key
/// whose destructor runs at thread exit, which the main thread never reaches); worker
/// threads' queues are freed when they exit.
fn check_memcheck(name: &str, output: &Output, summary: &[String]) {
    eprintln!("valgrind summary of {name}:\n{}", summary.join("\n"));
    assert!(output.status.success(), "{name}: {}", describe(output));
    let errors = summary
        .iter()
        .find(|line| line.contains("ERROR SUMMARY"))
        .unwrap_or_else(|| panic!("{name}: no ERROR SUMMARY: {}", describe(output)));
    assert!(errors.contains("ERROR SUMMARY: 0 errors"), "{errors}");
    for kind in ["definitely lost", "indirectly lost"] {
        if let Some(line) = summary.iter().find(|line| line.contains(kind)) {
            assert!(line.contains(&format!("{kind}: 0 bytes")), "{name}: {line}");
        }
    }
}

#[test]
fn c_programs_are_clean_under_valgrind() {
    if !have("cc", &["--version"]) || !have("valgrind", &["--version"]) {
        return;
    }
    let inputs = Inputs::new();
    let verify_tokens = compile("verify_tokens", inputs.dir.path(), false);
    let (output, summary) = valgrind(&verify_tokens, &inputs.verify_tokens_args());
    check_memcheck("verify_tokens", &output, &summary);
    check_verify_tokens_output(&output, &inputs);

    let threads = compile("threads", inputs.dir.path(), false);
    let (output, summary) = valgrind(&threads, &inputs.threads_args(THREAD_ITERATIONS_VALGRIND));
    check_memcheck("threads", &output, &summary);
    check_threads_output(&output);
}

/// The function names `include/eid.h` declares.
fn header_functions() -> Vec<String> {
    let header = std::fs::read_to_string(crate_dir().join("include/eid.h")).unwrap();
    let mut names: Vec<String> = header
        .lines()
        .filter(|line| !line.starts_with("//") && !line.starts_with(' '))
        .filter_map(|line| {
            // "<return type> <name>(<parameters>": the word before the first '('.
            let before = &line[..line.find('(')?];
            let name = before.split_whitespace().last()?.trim_start_matches('*');
            name.starts_with("eid_").then(|| name.to_owned())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn exported_symbols_are_the_header_functions() {
    if !have("nm", &["--version"]) {
        return;
    }
    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib_dir().join("libeid.so"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let listing = text(&output.stdout);
    let mut functions = Vec::new();
    for line in listing.lines() {
        // "<address> <type> <name>"
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, kind, name] = fields[..] else {
            panic!("unexpected nm line {line:?}");
        };
        assert!(
            name.starts_with("eid_"),
            "libeid.so exports {name} ({kind}), which is not an eid_ symbol:\n{listing}"
        );
        assert_eq!(kind, "T", "{name} is exported as {kind}, not as a function");
        functions.push(name.to_owned());
    }
    functions.sort();
    let declared = header_functions();
    // The header parse found the functions (33 when this was written).
    for name in [
        "eid_version",
        "eid_verify_token",
        "eid_claims_amr",
        "eid_string_free",
    ] {
        assert!(
            declared.iter().any(|d| d == name),
            "{name} not in {declared:?}"
        );
    }
    assert_eq!(
        functions, declared,
        "exported functions differ from eid.h's"
    );
}

/// Runs the Python example with `args`, libeid.so given with `--lib` (or in `EID_LIB`
/// when `lib_in_env`), the token on stdin from `stdin`.
fn python_example(
    inputs: &Inputs,
    lib_in_env: bool,
    args: &[&str],
    stdin: Option<&Path>,
) -> Output {
    let lib = lib_dir().join("libeid.so");
    let mut command = Command::new("python3");
    command
        .arg(crate_dir().join("examples/python/verify_token.py"))
        .arg("--jwks")
        .arg(inputs.path("jwks.json"))
        .args([
            "--issuer",
            fixtures::ISSUER,
            "--audience",
            fixtures::CLIENT_ID,
        ])
        .args(args)
        .env_remove("LD_LIBRARY_PATH");
    if lib_in_env {
        command.env("EID_LIB", lib);
    } else {
        command.arg("--lib").arg(lib).env_remove("EID_LIB");
    }
    if let Some(path) = stdin {
        command.stdin(std::fs::File::open(path).unwrap());
    }
    command.output().unwrap()
}

#[test]
fn python_ctypes_example() {
    if !have("python3", &["--version"]) {
        return;
    }
    let inputs = Inputs::new();
    let token = inputs.path("token.txt").display().to_string();

    let output = python_example(
        &inputs,
        false,
        &["--min-loa", "substantial", "--token", &token],
        None,
    );
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(&format!("sub: {}", inputs.subject)),
        "{stdout}"
    );
    assert!(stdout.contains("loa: substantial"), "{stdout}");
    // The claims JSON comes first, as a JSON object.
    let json_end = stdout.find("\nsub: ").unwrap();
    let claims: Value = serde_json::from_str(&stdout[..json_end]).unwrap();
    assert_eq!(claims["nonce"], fixtures::NONCE);
    assert_eq!(claims["iss"], fixtures::ISSUER);

    // The token on stdin; a level it does not reach.
    let output = python_example(
        &inputs,
        true,
        &["--min-loa", "high"],
        Some(&inputs.path("token.txt")),
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        text(&output.stderr).contains("EID_STATUS_INSUFFICIENT_ASSURANCE"),
        "{}",
        describe(&output)
    );
    assert!(output.stdout.is_empty(), "{}", describe(&output));

    // An expired token from stdin ("-").
    let output = python_example(
        &inputs,
        false,
        &["--token", "-"],
        Some(&inputs.path("expired.txt")),
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("EID_STATUS_EXPIRED"), "{stderr}");
    assert!(stderr.lines().count() == 1, "{stderr}");
}
