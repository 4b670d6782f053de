//! Interoperability: openid-client, an independent strict OpenID Connect relying-party
//! library, drives the real `eid-server serve` (on PostgreSQL and Redis) through whole
//! sessions with `tests/interop/flow.mjs`, once per client authentication method.
//!
//! Needs Node with `npm ci --prefix tests/interop` done, PostgreSQL and Redis: when one is
//! missing the test fails if `CI=true` and otherwise prints `skipping: …` and passes.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use base64ct::{Base64, Base64UrlUnpadded, Encoding as _};
use eid_core::citizen::Sex;
use eid_core::registry::{RecordStatus, RegisterRecord, SyntheticPopulation};
use eid_e2e::server_binary;
use p256::elliptic_curve::Generate as _;
use serde_json::{Value, json};

const CITIZENS: u64 = 50;
const SEED: u64 = 7;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Fails on CI, else prints why the test is skipped; the caller then returns.
fn unavailable(what: &str, err: impl std::fmt::Display) {
    assert!(!ci(), "{what} unavailable on CI: {err}");
    eprintln!("skipping: {what} unavailable: {err}");
}

/// `tests/interop`, where the script and its node_modules are.
fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Whether Node and the script's dependencies are installed (else why not).
fn node_ready() -> Result<(), String> {
    let version = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|err| format!("node: {err}"))?;
    if !version.status.success() {
        return Err("node --version failed".to_owned());
    }
    let module = interop_dir().join("node_modules/openid-client/package.json");
    if !module.exists() {
        return Err(format!(
            "{} missing: run `npm ci --prefix tests/interop`",
            module.display()
        ));
    }
    Ok(())
}

/// Random bytes from the thread RNG.
fn random_bytes<const N: usize>() -> [u8; N] {
    rand::random()
}

/// A random URL-safe string (for secrets and unique names).
fn random_text() -> String {
    Base64UrlUnpadded::encode_string(&random_bytes::<24>())
}

/// The register's first active citizen (the same one `registry generate` writes).
fn citizen() -> RegisterRecord {
    SyntheticPopulation::new(CITIZENS, SEED)
        .expect("synthetic population")
        .map(|record| record.expect("synthetic citizen"))
        .find(|record| record.status == RecordStatus::Active)
        .expect("an active citizen")
}

/// The claims the register supports about `record`, as OIDC Core 5.1 spells them.
fn register_claims(record: &RegisterRecord) -> Value {
    let id = &record.identity;
    let date = id.birth_date;
    let name: Vec<&str> = [&id.family_name, &id.middle_names, &id.given_name]
        .iter()
        .flat_map(|part| part.split_whitespace())
        .collect();
    let mut claims = json!({
        "name": name.join(" "),
        "family_name": id.family_name,
        "given_name": id.given_name,
        "birthdate": format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day()),
        "gender": match id.sex { Sex::Male => "male", Sex::Female => "female" },
        "personal_id": record.personal_id.expose(),
    });
    if !id.middle_names.is_empty() {
        claims["middle_name"] = json!(id.middle_names);
    }
    claims
}

/// A client's token endpoint authentication, with what the script needs to perform it.
enum Auth {
    /// client_secret_basic or client_secret_post, with the plaintext secret.
    Secret {
        method: &'static str,
        secret: String,
    },
    /// private_key_jwt, with the private JWK file and the public JWKS.
    PrivateKeyJwt { key_file: PathBuf, jwks: Value },
    /// A public client.
    None,
}

impl Auth {
    fn secret(method: &'static str) -> Self {
        Auth::Secret {
            method,
            secret: random_text(),
        }
    }

    /// A new ES256 key pair: the private JWK is written to `key_file`.
    fn private_key_jwt(key_file: PathBuf) -> Self {
        let secret = p256::SecretKey::generate_from_rng(&mut rand::rng());
        let point = secret.public_key().to_sec1_bytes();
        assert!(point.len() == 65 && point[0] == 4, "an uncompressed point");
        let public = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "interop-1",
            "x": Base64UrlUnpadded::encode_string(&point[1..33]),
            "y": Base64UrlUnpadded::encode_string(&point[33..]),
        });
        let mut private = public.clone();
        private["d"] = json!(Base64UrlUnpadded::encode_string(&secret.to_bytes()));
        std::fs::write(&key_file, private.to_string()).expect("write the client key");
        Auth::PrivateKeyJwt {
            key_file,
            jwks: json!({ "keys": [public] }),
        }
    }

    fn method(&self) -> &'static str {
        match self {
            Auth::Secret { method, .. } => method,
            Auth::PrivateKeyJwt { .. } => "private_key_jwt",
            Auth::None => "none",
        }
    }

    /// The `[[clients]]` lines for this authentication.
    fn toml(&self) -> String {
        match self {
            Auth::Secret { secret, .. } => {
                let params = Params::new(19_456, 2, 1, None).expect("argon2 params");
                let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                    .hash_password(secret.as_bytes())
                    .expect("hash the client secret");
                format!("client_secret_hash = {:?}\n", hash.to_string())
            }
            Auth::PrivateKeyJwt { jwks, .. } => format!("jwks = '{jwks}'\n"),
            Auth::None => String::new(),
        }
    }

    /// The script's environment for this authentication.
    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("EID_CLIENT_AUTH", self.method().to_owned())];
        match self {
            Auth::Secret { secret, .. } => env.push(("EID_CLIENT_SECRET", secret.clone())),
            Auth::PrivateKeyJwt { key_file, .. } => {
                env.push(("EID_CLIENT_KEY_FILE", key_file.display().to_string()))
            }
            Auth::None => {}
        }
        env
    }
}

/// A registered relying party. Each has its own redirect host, so its own pairwise sector.
struct Rp {
    client_id: &'static str,
    auth: Auth,
    scopes: &'static [&'static str],
    require_par: bool,
}

impl Rp {
    fn redirect_uri(&self) -> String {
        format!("https://{}.example/cb", self.client_id)
    }

    fn post_logout_redirect_uri(&self) -> String {
        format!("https://{}.example/logged-out", self.client_id)
    }

    fn toml(&self) -> String {
        format!(
            "[[clients]]\nclient_id = {id:?}\nname = \"Interop {id}\"\nredirect_uris = [{redirect:?}]\n\
             post_logout_redirect_uris = [{logout:?}]\ntoken_endpoint_auth_method = {method:?}\n\
             scopes = {scopes:?}\nrequire_par = {par}\n{auth}",
            id = self.client_id,
            redirect = self.redirect_uri(),
            logout = self.post_logout_redirect_uri(),
            method = self.auth.method(),
            scopes = self.scopes,
            par = self.require_par,
            auth = self.auth.toml(),
        )
    }
}

/// The service's configuration file in `dir`, on the given stores.
fn write_config(
    dir: &Path,
    port: u16,
    durable: &str,
    redis: &str,
    prefix: &str,
    rps: &[Rp],
) -> PathBuf {
    let mut text = format!(
        "issuer = \"http://localhost:{port}\"\nlisten = \"127.0.0.1:{port}\"\n\
         [durable]\nurl = {durable:?}\n[ephemeral]\nurl = {redis:?}\nkey_prefix = {prefix:?}\n\
         [register]\nfile = {register:?}\n[keys]\nfile = {keys:?}\n",
        register = dir.join("register.sqlite").display().to_string(),
        keys = dir.join("keys.sealed").display().to_string(),
    );
    for rp in rps {
        text.push_str(&rp.toml());
    }
    let path = dir.join("eid.toml");
    std::fs::write(&path, text).expect("write the configuration");
    path
}

/// Runs `eid-server` to completion with `stdin`, failing the test on a non-zero exit.
fn run_admin(kek: &str, args: &[&str], config: &Path, stdin: &str) {
    let mut child = Command::new(server_binary())
        .env("EID_KEY_ENCRYPTION_KEY", kek)
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run eid-server");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait for eid-server");
    // The command, not its arguments: they may hold a personal ID.
    assert!(
        out.status.success(),
        "eid-server {} failed: {}{}",
        args[..2].join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The running daemon, killed if the test fails before stopping it.
struct Daemon {
    child: Child,
}

impl Daemon {
    /// Starts `eid-server serve` and waits for its `ready` line.
    fn start(kek: &str, config: &Path) -> Self {
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
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[eid-server] {line}");
            }
        });
        Daemon { child }
    }

    /// Stops it with SIGTERM and checks it exits cleanly.
    fn stop(mut self) {
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

/// One run of the script: `rp` requests `scope`, over PAR if `par`.
struct Flow<'a> {
    rp: &'a Rp,
    scope: &'static str,
    par: bool,
}

/// Runs flow.mjs; returns the `sub` it received, failing with its output otherwise.
fn run_flow(flow: &Flow, issuer: &str, record: &RegisterRecord, password: &str) -> String {
    let out = Command::new("node")
        // `localhost` is the issuer's host; the daemon listens on IPv4 only.
        .args(["--dns-result-order=ipv4first", "flow.mjs"])
        .current_dir(interop_dir())
        .env("EID_ISSUER", issuer)
        .env("EID_CLIENT_ID", flow.rp.client_id)
        .envs(flow.rp.auth.env())
        .env("EID_REDIRECT_URI", flow.rp.redirect_uri())
        .env(
            "EID_POST_LOGOUT_REDIRECT_URI",
            flow.rp.post_logout_redirect_uri(),
        )
        .env("EID_PERSONAL_ID", record.personal_id.expose())
        .env("EID_PASSWORD", password)
        .env("EID_SCOPE", flow.scope)
        .env("EID_PAR", if flow.par { "1" } else { "0" })
        .env("EID_EXPECTED_CLAIMS", register_claims(record).to_string())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "flow.mjs failed for {} ({}):\n{stdout}{}",
        flow.rp.client_id,
        flow.scope,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("done ")?
                .split_once(" sub=")
                .map(|(_, s)| s)
        })
        .expect("a done line with the sub")
        .to_owned()
}

/// A port free at the time of asking (the daemon's issuer must name its port up front).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Everything after the stores are ready: register, configuration, enrolment, the daemon
/// and the script runs.
fn interoperate(dir: &Path, durable: &str, redis: &str, prefix: &str) {
    let kek = Base64::encode_string(&random_bytes::<32>());
    let register = dir.join("register.sqlite");
    let out = Command::new(server_binary())
        .args(["registry", "generate", "--citizens", &CITIZENS.to_string()])
        .args(["--seed", &SEED.to_string(), "--out"])
        .arg(&register)
        .output()
        .expect("run registry generate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let rps = [
        Rp {
            client_id: "rp-basic",
            auth: Auth::secret("client_secret_basic"),
            scopes: &["openid", "profile", "birthdate", "gender"],
            require_par: false,
        },
        Rp {
            client_id: "rp-jwt",
            auth: Auth::private_key_jwt(dir.join("rp-jwt.jwk.json")),
            scopes: &["openid", "birthdate", "personal_id"],
            require_par: false,
        },
        Rp {
            client_id: "rp-post",
            auth: Auth::secret("client_secret_post"),
            scopes: &["openid", "profile", "address"],
            require_par: true,
        },
        Rp {
            client_id: "rp-public",
            auth: Auth::None,
            scopes: &["openid", "gender"],
            require_par: false,
        },
    ];
    let port = free_port();
    let config = write_config(dir, port, durable, redis, prefix, &rps);

    let record = citizen();
    let password = random_text();
    let personal_id = record.personal_id.expose();
    run_admin(
        &kek,
        &["accounts", "add", "--personal-id", &personal_id],
        &config,
        &format!("{password}\n"),
    );

    let daemon = Daemon::start(&kek, &config);
    let issuer = format!("http://localhost:{port}");
    let [basic, jwt, post, public] = &rps;
    let flows = [
        Flow {
            rp: basic,
            scope: "openid profile birthdate gender",
            par: false,
        },
        Flow {
            rp: jwt,
            scope: "openid birthdate personal_id",
            par: false,
        },
        Flow {
            rp: basic,
            scope: "openid profile",
            par: true,
        },
        Flow {
            rp: post,
            scope: "openid profile address",
            par: true,
        },
        Flow {
            rp: public,
            scope: "openid gender",
            par: false,
        },
    ];
    let subs: Vec<String> = flows
        .iter()
        .map(|flow| run_flow(flow, &issuer, &record, &password))
        .collect();
    daemon.stop();

    // OIDC Core 8.1: pairwise `sub`s are stable for a sector and differ between sectors.
    assert_eq!(subs[0], subs[2], "rp-basic got two subs for one citizen");
    let distinct: BTreeSet<_> = [&subs[0], &subs[1], &subs[3], &subs[4]]
        .into_iter()
        .collect();
    assert_eq!(
        distinct.len(),
        4,
        "one sub shared between sectors: {subs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn openid_client_completes_every_flow() {
    if let Err(err) = node_ready() {
        return unavailable("Node with tests/interop's packages", err);
    }
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
        .expect("a redis://host:port URL");
    if let Err(err) = TcpStream::connect(&redis_addr) {
        return unavailable("Redis", err);
    }

    let unique = uuid::Uuid::new_v4().simple().to_string();
    let schema = format!("interop_{unique}");
    // The schema name is a fixed prefix and a UUID: nothing to inject.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .expect("create schema");
    let separator = if pg_url.contains('?') { '&' } else { '?' };
    let durable = format!("{pg_url}{separator}options=-csearch_path%3D{schema}");
    let prefix = format!("eid-interop-{unique}:");

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_owned();
    let outcome =
        tokio::task::spawn_blocking(move || interoperate(&path, &durable, &redis_url, &prefix))
            .await;

    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await
        .expect("drop schema");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}
