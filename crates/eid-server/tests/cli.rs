//! The command line of the `eid-server` binary, including the administration commands.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use argon2::password_hash::PasswordVerifier as _;
use argon2::{Argon2, PasswordHash};
use eid_core::oauth::ClientAuth;
use eid_core::registry::{RecordStatus, RegisterRecord, SyntheticPopulation};
use eid_core::store::{AccountStore as _, CredentialStore as _, EkycStore as _, SqliteStore};
use eid_server::config::Config;

/// 32 bytes of 0x07 in base64.
const KEK: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

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

/// `eid.example.toml` in `dir`, with the other files it names in `dir` too.
fn example_config(dir: &Path) -> PathBuf {
    let example = include_str!("../../../eid.example.toml");
    let text = example
        .replace(
            "url = \"sqlite://eid.sqlite\"",
            &format!("url = \"sqlite://{}\"", dir.join("eid.sqlite").display()),
        )
        .replace(
            "file = \"register.sqlite\"",
            &format!("file = \"{}\"", dir.join("register.sqlite").display()),
        );
    let path = dir.join("eid.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Runs `eid-server ARGS --config CONFIG` without a key-encryption key: the
/// administration commands must not need it.
fn admin(config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = eid_server();
    command
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("EID_KEY_ENCRYPTION_KEY")
        .env_remove("EID_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run eid-server");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait for eid-server")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn clients_add_list_remove_keep_the_file_valid_and_commented() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = example_config(dir.path());
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();
    let original = std::fs::read_to_string(&config).unwrap();

    let added = admin(
        &config,
        &[
            "clients",
            "add",
            "--client-id",
            "bank",
            "--name",
            "Bank",
            "--redirect-uri",
            "https://bank.example.vn/cb",
            "--redirect-uri",
            "https://bank.example.vn/cb2",
            "--auth",
            "client_secret_post",
            "--scope",
            "openid",
            "--scope",
            "profile",
            "--post-logout-redirect-uri",
            "https://bank.example.vn/bye",
            "--client-credentials",
            "--require-par",
        ],
        None,
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let secret = stdout(&added)
        .lines()
        .find_map(|line| line.strip_prefix("client_secret: ").map(str::to_owned))
        .expect("the secret is printed");
    assert_eq!(secret.len(), 43, "32 bytes in unpadded base64url");

    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.starts_with(&original), "the file is only appended to");
    assert!(!text.contains(&secret), "only the secret's hash is stored");
    let mode = std::fs::metadata(&config).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);

    let kek = [("EID_KEY_ENCRYPTION_KEY", KEK)];
    let parsed = Config::parse(&text, |name| {
        kek.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect("serve accepts the new file");
    let bank = parsed.clients.last().unwrap();
    assert_eq!(bank.id.as_str(), "bank");
    assert_eq!(bank.redirect_uris().len(), 2);
    assert_eq!(
        bank.post_logout_redirect_uri("https://bank.example.vn/bye"),
        Ok("https://bank.example.vn/bye")
    );
    assert!(bank.allow_client_credentials && bank.require_par);
    let ClientAuth::SecretPost { secret_phc } = &bank.auth else {
        panic!("client_secret_post expected, got {:?}", bank.auth);
    };
    let phc = PasswordHash::new(secret_phc).unwrap();
    assert!(secret_phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    Argon2::default()
        .verify_password(secret.as_bytes(), &phc)
        .expect("the printed secret matches the stored hash");

    let again = admin(
        &config,
        &[
            "clients",
            "add",
            "--client-id",
            "bank",
            "--name",
            "Bank",
            "--redirect-uri",
            "https://bank.example.vn/cb",
        ],
        None,
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    let listed = admin(&config, &["clients", "list"], None);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let list = stdout(&listed);
    for expected in [
        "tax-portal",
        "health-app",
        "citizen-mobile",
        "bank\n",
        "post_logout_redirect_uris: https://bank.example.vn/bye",
        "client_credentials: true",
    ] {
        assert!(list.contains(expected), "{expected} in {list}");
    }
    for secret_text in ["argon2", "client_secret_hash", "\"keys\"", &secret] {
        assert!(!list.contains(secret_text), "{secret_text} in {list}");
    }

    let removed = admin(&config, &["clients", "remove", "--client-id", "bank"], None);
    assert!(removed.status.success(), "{}", stderr(&removed));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);

    let first = admin(
        &config,
        &["clients", "remove", "--client-id", "tax-portal"],
        None,
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains("tax-portal"), "{text}");
    assert!(
        text.contains("# Registered relying parties, one [[clients]] table each."),
        "the comment introducing the list stays: {text}"
    );
    assert!(text.contains("# argon2id cost for citizens' passwords."));

    let unknown = admin(&config, &["clients", "remove", "--client-id", "bank"], None);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no client with client_id \"bank\""),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn clients_add_never_writes_an_invalid_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = example_config(dir.path());
    let original = std::fs::read_to_string(&config).unwrap();
    for (args, needle) in [
        (
            &["--redirect-uri", "http://app.example.vn/cb"][..],
            "redirect_uris[0]: must be an https URL",
        ),
        (
            &[
                "--redirect-uri",
                "http://localhost:7000/cb",
                "--auth",
                "none",
                "--client-credentials",
            ][..],
            "client_credentials: needs a confidential client",
        ),
        (
            &[
                "--redirect-uri",
                "https://app.example.vn/cb",
                "--auth",
                "private_key_jwt",
            ][..],
            "needs the client's keys",
        ),
    ] {
        let mut all = vec!["clients", "add", "--client-id", "app", "--name", "App"];
        all.extend_from_slice(args);
        let out = admin(&config, &all, None);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains(needle),
            "{needle} in {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "nothing printed, no secret");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
    }
}

#[tokio::test]
async fn accounts_add_enrols_an_active_citizen_with_the_password_on_stdin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = example_config(dir.path());
    let register = dir.path().join("register.sqlite");
    let missing = admin(
        &config,
        &["accounts", "add", "--personal-id", "001099012345"],
        Some("password\n"),
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("does not exist"),
        "{}",
        stderr(&missing)
    );
    assert!(!register.exists(), "no empty register is created");
    let generated = eid_server()
        .args(["registry", "generate", "--citizens", "250", "--seed", "9"])
        .arg("--out")
        .arg(&register)
        .output()
        .expect("run eid-server");
    assert!(generated.status.success(), "{}", stderr(&generated));
    let population: Vec<RegisterRecord> = SyntheticPopulation::new(250, 9)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let active = population
        .iter()
        .find(|r| r.status == RecordStatus::Active)
        .unwrap();
    let number = active.personal_id.expose();

    for password in ["first password\n", "second password\r\n"] {
        let out = admin(
            &config,
            &["accounts", "add", "--personal-id", &number],
            Some(password),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("enrolled"), "{}", stdout(&out));
        for stream in [stdout(&out), stderr(&out)] {
            assert!(!stream.contains(&number) && !stream.contains("password"));
        }
    }

    let store = SqliteStore::open(&format!(
        "sqlite://{}",
        dir.path().join("eid.sqlite").display()
    ))
    .await
    .unwrap();
    let account = store
        .find_account(&active.personal_id)
        .await
        .unwrap()
        .expect("the account exists");
    let phc = store.password(account.id).await.unwrap().unwrap().phc;
    let phc = PasswordHash::new(&phc).unwrap();
    Argon2::default()
        .verify_password(b"second password", &phc)
        .expect("the last password is stored, without its line ending");
    assert_eq!(store.ekyc_records(account.id).await.unwrap().len(), 1);

    let dead = population
        .iter()
        .find(|r| r.status == RecordStatus::Deceased)
        .unwrap();
    let number = dead.personal_id.expose();
    let out = admin(
        &config,
        &["accounts", "add", "--personal-id", &number],
        Some("password\n"),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("deceased"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&number), "{}", stderr(&out));

    let empty = admin(
        &config,
        &[
            "accounts",
            "add",
            "--personal-id",
            &active.personal_id.expose(),
        ],
        Some("\n"),
    );
    assert!(!empty.status.success());
    assert!(
        stderr(&empty).contains("password is empty"),
        "{}",
        stderr(&empty)
    );
}
