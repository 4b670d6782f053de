//! `eid-server serve`, `keys stage`, `keys rotate` and `config check`, driving the real binary.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// 32 bytes of 0x07 in base64.
const KEK: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
/// 32 bytes of 0x08 in base64.
const OTHER_KEK: &str = "CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=";

fn eid_server(kek: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eid-server"));
    command.env("EID_KEY_ENCRYPTION_KEY", kek);
    command
}

/// A configuration in `dir` on SQLite and memory, listening on a free port.
fn write_config(dir: &Path, durable: &str, ephemeral: &str) -> PathBuf {
    let text = format!(
        r#"issuer = "http://localhost:8080"
listen = "127.0.0.1:0"
[durable]
url = "{durable}"
[ephemeral]
{ephemeral}
[register]
file = "{register}"
[keys]
file = "{keys}"
"#,
        register = dir.join("register.sqlite").display(),
        keys = dir.join("keys.sealed").display(),
    );
    let path = dir.join("eid.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn sqlite_config(dir: &Path) -> PathBuf {
    let durable = format!("sqlite://{}", dir.join("eid.sqlite").display());
    write_config(dir, &durable, "url = \"memory\"")
}

/// A running server, killed if a test fails before stopping it.
struct Server {
    child: Child,
    addr: String,
    banner: Vec<String>,
}

impl Server {
    /// Starts `serve` and waits for its `ready` line.
    fn start(config: &Path, kek: &str) -> Self {
        Self::start_command(eid_server(kek), config)
    }

    /// Starts `serve` with the variable `name` set to `value`.
    fn start_with_env(config: &Path, name: &str, value: &str) -> Self {
        let mut command = eid_server(KEK);
        command.env(name, value);
        Self::start_command(command, config)
    }

    fn start_command(mut command: Command, config: &Path) -> Self {
        let mut child = command
            .args(["serve", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run eid-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut banner = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("read stdout");
            let ready = line == "ready";
            banner.push(line);
            if ready {
                break;
            }
        }
        if banner.last().map(String::as_str) != Some("ready") {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut stderr)
                .expect("read stderr");
            let _ = child.wait();
            panic!("serve did not start: {banner:?}\n{stderr}");
        }
        let addr = banner
            .iter()
            .find_map(|l| l.strip_prefix("listening: "))
            .expect("listening line")
            .to_owned();
        Self {
            child,
            addr,
            banner,
        }
    }

    /// GETs `path`; returns the status and the body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("receive");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    fn get_json(&self, path: &str) -> (u16, Value) {
        let (status, body) = self.get(path);
        (status, serde_json::from_str(&body).expect("JSON body"))
    }

    /// The key ids of `/jwks.json`, checking each key is a P-256 key.
    fn kids(&self) -> Vec<String> {
        let (status, jwks) = self.get_json("/jwks.json");
        assert_eq!(status, 200);
        let keys = jwks["keys"].as_array().expect("keys");
        keys.iter()
            .map(|k| {
                assert_eq!(k["kty"], "EC", "{k}");
                assert_eq!(k["crv"], "P-256", "{k}");
                assert!(k.get("d").is_none(), "private part published: {k}");
                k["kid"].as_str().expect("kid").to_owned()
            })
            .collect()
    }

    /// Sends SIGTERM and checks the server stops cleanly.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.expect("run kill").success());
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "{status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(command: &mut Command) -> (Output, String, String) {
    let out = command.output().expect("run eid-server");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn assert_probes(server: &Server) {
    let (status, health) = server.get_json("/healthz");
    assert_eq!((status, health["status"].as_str()), (200, Some("alive")));
    let (status, ready) = server.get_json("/readyz");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["ephemeral_store"]["ok"], true, "{ready}");
    assert_eq!(ready["checks"]["durable_store"]["ok"], true, "{ready}");
}

#[test]
fn serve_answers_probes_and_jwks_keeps_its_key_and_publishes_staged_and_rotated_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = sqlite_config(dir.path());

    let server = Server::start(&config, KEK);
    assert!(
        server
            .banner
            .iter()
            .any(|l| l == "issuer: http://localhost:8080"),
        "{:?}",
        server.banner
    );
    assert_probes(&server);
    let first = server.kids();
    assert_eq!(first.len(), 1);
    assert!(!first[0].is_empty());
    server.stop();

    let restarted = Server::start(&config, KEK);
    assert_eq!(restarted.kids(), first, "a restart must reuse the key ring");
    restarted.stop();

    let keys = |command: &str| {
        let (out, stdout, stderr) = run(eid_server(KEK)
            .args(["keys", command, "--config"])
            .arg(&config));
        assert!(out.status.success(), "{stderr}");
        stdout
    };
    let staged = keys("stage");
    let next = staged
        .lines()
        .find_map(|l| l.strip_prefix("next: "))
        .expect("next key")
        .to_owned();
    let server = Server::start(&config, KEK);
    assert_eq!(
        server.kids(),
        [first[0].clone(), next.clone()],
        "staged: published, not signing"
    );
    server.stop();

    let stdout = keys("rotate");
    assert!(stdout.contains(&format!("active: {next}")), "{stdout}");
    assert!(
        stdout.contains(&format!("retiring: {}", first[0])),
        "{stdout}"
    );

    let rotated = Server::start(&config, KEK);
    assert_eq!(
        rotated.kids(),
        [next, first[0].clone()],
        "the old key stays published"
    );
    rotated.stop();
}

#[test]
fn a_wrong_key_encryption_key_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = sqlite_config(dir.path());
    Server::start(&config, KEK).stop();

    for args in [&["serve"][..], &["keys", "rotate"][..]] {
        let (out, _, stderr) = run(eid_server(OTHER_KEK)
            .args(args)
            .arg("--config")
            .arg(&config));
        assert!(!out.status.success());
        assert!(stderr.contains("key-encryption key"), "{stderr}");
        assert!(stderr.contains("keys.sealed"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn config_check_prints_ok_or_every_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = sqlite_config(dir.path());
    let (out, stdout, stderr) = run(eid_server(KEK)
        .args(["config", "check", "--config"])
        .arg(&config));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "ok");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "issuer = \"http://id.example.vn\"\nlisten = \"nowhere\"\n[keys]\nfile = \"k\"\n\
         key_encryption_key = \"c2VjcmV0\"\n[password]\niterations = 1\n",
    )
    .expect("write");
    let (out, stdout, stderr) = run(eid_server(KEK)
        .args(["config", "check", "--config"])
        .arg(&bad));
    assert!(!out.status.success());
    assert!(!stdout.contains("ok"), "{stdout}");
    for line in [
        "issuer: must be an https URL (http is allowed only for localhost)",
        "listen: must be a socket address",
        "durable.url: required",
        "ephemeral.url: required",
        "register: required: register.file",
        "keys.key_encryption_key: a secret is never written in the configuration file",
        "password.iterations: must be between 2",
    ] {
        assert!(stderr.contains(line), "{line} missing from:\n{stderr}");
    }
    assert!(!stderr.contains("c2VjcmV0"), "{stderr}");
}

#[test]
fn environment_overrides_win_over_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = sqlite_config(dir.path());
    let text = std::fs::read_to_string(&config).expect("read");
    std::fs::write(
        &config,
        text.replace("http://localhost:8080", "http://wrong.example.vn"),
    )
    .expect("write");
    let (out, _, stderr) = run(eid_server(KEK)
        .args(["config", "check", "--config"])
        .arg(&config));
    assert!(
        !out.status.success() && stderr.contains("issuer:"),
        "{stderr}"
    );

    let server = Server::start_with_env(&config, "EID_ISSUER", "https://id.example.vn");
    assert!(
        server
            .banner
            .iter()
            .any(|l| l == "issuer: https://id.example.vn"),
        "{:?}",
        server.banner
    );
    server.stop();
}

#[test]
fn the_example_configuration_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eid.example.toml");
    let (out, stdout, stderr) = run(eid_server(KEK)
        .args(["config", "check", "--config"])
        .arg(&example));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "ok");
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (or, on CI, fails) when a service is unreachable.
fn unavailable(what: &str, err: impl std::fmt::Display) {
    assert!(!ci(), "{what} unreachable on CI: {err}");
    eprintln!("skipping: {what} unreachable: {err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_on_postgres_and_redis() {
    let pg_url = std::env::var("EID_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let redis_url =
        std::env::var("EID_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let pool = match sqlx::PgPool::connect(&pg_url).await {
        Ok(pool) => pool,
        Err(err) => return unavailable("PostgreSQL", err),
    };
    let redis_addr = url::Url::parse(&redis_url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port().unwrap_or(6379))))
        .expect("Redis URL");
    if let Err(err) = TcpStream::connect(&redis_addr) {
        return unavailable("Redis", err);
    }

    let unique = uuid::Uuid::new_v4().simple().to_string();
    let schema = format!("serve_{unique}");
    // The schema name is a fixed prefix and a UUID: nothing to inject.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .expect("create schema");
    let separator = if pg_url.contains('?') { '&' } else { '?' };
    let durable = format!("{pg_url}{separator}options=-csearch_path%3D{schema}");
    let ephemeral = format!("url = \"{redis_url}\"\nkey_prefix = \"eid-test-{unique}:\"");

    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), &durable, &ephemeral);
    let outcome = tokio::task::spawn_blocking(move || {
        let server = Server::start(&config, KEK);
        assert_probes(&server);
        assert_eq!(server.kids().len(), 1);
        server.stop();
    })
    .await;

    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_one(&pool)
    .await
    .expect("count tables");
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await
        .expect("drop schema");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
    assert!(tables > 0, "the migrations ran in the test's schema");
}
