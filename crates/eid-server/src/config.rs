//! The daemon's configuration: one TOML file, `EID_*` environment overrides, validated at
//! start with one message per bad field.
//!
//! Every scalar setting can be overridden by an environment variable named `EID_`
//! followed by the setting's path in upper case, dots turned into underscores:
//! `issuer` → `EID_ISSUER`, `durable.url` → `EID_DURABLE_URL`, `keys.file` →
//! `EID_KEYS_FILE`, `password.memory_kib` → `EID_PASSWORD_MEMORY_KIB` (see
//! [`OVERRIDES`]). The `[[clients]]` table cannot be overridden.
//!
//! The key-encryption key is never written in the file: it comes from
//! `EID_KEY_ENCRYPTION_KEY` (32 bytes, standard base64) or from the file named by
//! `keys.kek_file`. Likewise the bearer token of a gRPC register (`register.grpc_endpoint`)
//! comes from `EID_REGISTER_TOKEN` or the file named by `register.token_file`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64ct::{Base64, Encoding as _};
use eid_core::credential::password::PasswordParams;
use eid_core::oauth::RegisteredClient;
use eid_core::token::{KEK_LEN, KeyEncryptionKey};
use serde::Deserialize;
use serde::de::IgnoredAny;
use time::Duration;
use url::Url;
use zeroize::Zeroizing;

use chip::RawChip;
use clients::{RawClient, clients};
use saml::RawSaml;
pub use saml::SamlConfig;

/// The environment variable holding the base64 key-encryption key.
pub const KEK_ENV: &str = "EID_KEY_ENCRYPTION_KEY";

/// The environment variable holding the bearer token the daemon presents to a gRPC
/// population register (`register.grpc_endpoint`).
pub const REGISTER_TOKEN_ENV: &str = "EID_REGISTER_TOKEN";

/// Settings an `EID_*` variable overrides, with whether the value is an integer.
pub const OVERRIDES: &[(&str, bool)] = &[
    ("issuer", false),
    ("listen", false),
    ("durable.url", false),
    ("ephemeral.url", false),
    ("ephemeral.key_prefix", false),
    ("register.file", false),
    ("register.grpc_endpoint", false),
    ("register.token_file", false),
    ("register.timeout_ms", true),
    ("register.connect_timeout_ms", true),
    ("register.max_attempts", true),
    ("keys.file", false),
    ("keys.kek_file", false),
    ("tokens.id_token_lifetime_secs", true),
    ("tokens.access_token_lifetime_secs", true),
    ("tokens.refresh_token_lifetime_secs", true),
    ("tokens.authorization_code_lifetime_secs", true),
    ("password.memory_kib", true),
    ("password.iterations", true),
    ("password.parallelism", true),
    ("passkeys.rp_name", false),
    ("passkeys.ceremony_lifetime_secs", true),
];

/// Default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The OWASP minimum argon2id parameters; weaker ones are refused.
pub const MIN_PASSWORD_PARAMS: PasswordParams = PasswordParams {
    m_kib: 19_456,
    t: 2,
    p: 1,
};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not TOML of the expected shape (unknown key, wrong type).
    #[error("{0}")]
    Syntax(String),
    /// One or more settings are invalid; every one is listed.
    #[error("{} invalid setting(s):\n{}", .0.len(), list(.0))]
    Invalid(Vec<FieldError>),
}

fn list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One invalid setting: its path (`clients[1].redirect_uris[0]`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The setting's path.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A secret string (a store URL that may carry a password): wiped on drop,
/// never shown by `Debug`.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The public issuer URL (`iss`), exactly as configured.
    pub issuer: String,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The durable store.
    pub durable: DurableConfig,
    /// The ephemeral store.
    pub ephemeral: EphemeralConfig,
    /// The population register.
    pub register: RegisterConfig,
    /// The sealed key ring.
    pub keys: KeysConfig,
    /// Token lifetimes.
    pub tokens: TokenLifetimes,
    /// argon2id parameters for citizens' passwords.
    pub password: PasswordParams,
    /// Registered relying parties.
    pub clients: Vec<RegisteredClient>,
    /// Passkey (WebAuthn) settings.
    pub passkeys: crate::oidc::PasskeySettings,
    /// The chip path to level high (`[chip]`); `None` when not configured (disabled).
    pub chip: Option<crate::oidc::ChipSettings>,
    /// The SAML identity provider (`[saml]`); `None` when not configured (disabled).
    pub saml: Option<SamlConfig>,
}

/// Where accounts, credentials, consents and audit live.
#[derive(Debug)]
pub enum DurableConfig {
    /// `sqlite://path` or `sqlite::memory:`.
    Sqlite(Secret),
    /// `postgres://…` or `postgresql://…`.
    Postgres(Secret),
}

/// Where sessions and short-lived state live.
#[derive(Debug)]
pub enum EphemeralConfig {
    /// In this process (one instance only).
    Memory,
    /// A Redis server shared by the instances.
    Redis {
        /// `redis://…` or `rediss://…`.
        url: Secret,
        /// Prefix of every key.
        key_prefix: String,
    },
}

/// Where the population register is: exactly one of `register.file` and
/// `register.grpc_endpoint`.
#[derive(Debug)]
pub enum RegisterConfig {
    /// The embedded register's SQLite file.
    File(PathBuf),
    /// A register served over gRPC (`proto/eid/registry/v1/registry.proto`).
    Grpc(GrpcRegisterConfig),
}

/// How the daemon calls a gRPC register.
#[derive(Debug)]
pub struct GrpcRegisterConfig {
    /// The register's `http://` or `https://` URI.
    pub endpoint: String,
    /// The bearer token presented with every call (from [`REGISTER_TOKEN_ENV`] or
    /// `register.token_file`).
    pub token: Secret,
    /// The deadline of one call attempt.
    pub timeout: std::time::Duration,
    /// The deadline of establishing a connection.
    pub connect_timeout: std::time::Duration,
    /// Attempts per call, the first included (retries are on `UNAVAILABLE` only).
    pub max_attempts: u32,
}

/// The sealed key ring and the key that opens it.
#[derive(Debug)]
pub struct KeysConfig {
    /// The sealed key ring file.
    pub file: PathBuf,
    /// The key-encryption key.
    pub kek: KeyEncryptionKey,
}

/// How long tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// ID tokens.
    pub id_token: Duration,
    /// Access tokens.
    pub access_token: Duration,
    /// Refresh tokens.
    pub refresh_token: Duration,
    /// Authorization codes.
    pub authorization_code: Duration,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    issuer: Option<String>,
    listen: Option<String>,
    #[serde(default)]
    durable: RawDurable,
    #[serde(default)]
    ephemeral: RawEphemeral,
    #[serde(default)]
    register: RawRegister,
    #[serde(default)]
    keys: RawKeys,
    #[serde(default)]
    tokens: RawTokens,
    #[serde(default)]
    password: RawPassword,
    #[serde(default)]
    passkeys: RawPasskeys,
    #[serde(default)]
    clients: Vec<RawClient>,
    chip: Option<RawChip>,
    saml: Option<RawSaml>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPasskeys {
    rp_name: Option<String>,
    ceremony_lifetime_secs: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDurable {
    url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEphemeral {
    url: Option<String>,
    key_prefix: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRegister {
    file: Option<PathBuf>,
    grpc_endpoint: Option<String>,
    token_file: Option<PathBuf>,
    /// Present only to refuse it with a clear message.
    token: Option<IgnoredAny>,
    timeout_ms: Option<i64>,
    connect_timeout_ms: Option<i64>,
    max_attempts: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    file: Option<PathBuf>,
    kek_file: Option<PathBuf>,
    /// Present only to refuse it with a clear message.
    #[serde(alias = "kek")]
    key_encryption_key: Option<IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTokens {
    id_token_lifetime_secs: Option<i64>,
    access_token_lifetime_secs: Option<i64>,
    refresh_token_lifetime_secs: Option<i64>,
    authorization_code_lifetime_secs: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPassword {
    memory_kib: Option<i64>,
    iterations: Option<i64>,
    parallelism: Option<i64>,
}

/// Collects field errors while validating.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// `value`, or an error "required" naming `field` and what is expected.
    fn required<T>(&mut self, field: &str, value: Option<T>, expected: &str) -> Option<T> {
        if value.is_none() {
            self.add(field, format!("required ({expected})"));
        }
        value
    }
}

impl Config {
    /// Reads `path`, applies the process environment and validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(&read(path)?, |name| std::env::var(name).ok())
    }

    /// Parses TOML `text`, applies the overrides `env` returns and validates.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| syntax(text, &e))?;
        let mut errors = Errors::default();
        apply_overrides(&mut table, &env, &mut errors);
        let raw = RawConfig::deserialize(table).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        let secrets = EnvSecrets {
            kek: env(KEK_ENV).map(Zeroizing::new),
            register_token: env(REGISTER_TOKEN_ENV).map(Zeroizing::new),
        };
        let config = validate(raw, secrets, &mut errors);
        match config {
            Some(config) if errors.0.is_empty() => Ok(config),
            _ => Err(ConfigError::Invalid(errors.0)),
        }
    }
}

/// The settings of a configuration that tools which never open the key ring need
/// (`clients`, `accounts`).
#[derive(Debug)]
pub struct ToolSettings {
    /// The durable store.
    pub durable: DurableConfig,
    /// The population register.
    pub register: RegisterConfig,
    /// argon2id parameters for citizens' passwords.
    pub password: PasswordParams,
    /// Registered relying parties.
    pub clients: Vec<RegisteredClient>,
}

impl ToolSettings {
    /// Validates TOML `text` with the overrides `env` returns exactly as
    /// [`Config::parse`] does, except that the key-encryption key is neither required
    /// nor read (a placeholder stands in for it and is dropped): a tool that never opens
    /// the key ring should not need it.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let placeholder = Base64::encode_string(&[0; KEK_LEN]);
        let env = |name: &str| {
            if name == KEK_ENV {
                Some(placeholder.clone())
            } else {
                env(name)
            }
        };
        let config = Config::parse(text, env)?;
        Ok(Self {
            durable: config.durable,
            register: config.register,
            password: config.password,
            clients: config.clients,
        })
    }

    /// Reads `path` and validates it like [`parse`](Self::parse), with the process
    /// environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(&read(path)?, |name| std::env::var(name).ok())
    }
}

/// The text of the configuration file at `path`.
fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// A TOML syntax error with its line but without the offending text, which may be a
/// secret.
fn syntax(text: &str, err: &toml::de::Error) -> ConfigError {
    let line = err.span().map(|span| {
        let before = text.as_bytes().get(..span.start).unwrap_or_default();
        before.iter().filter(|&&b| b == b'\n').count() + 1
    });
    ConfigError::Syntax(match line {
        Some(line) => format!("TOML syntax error on line {line}: {}", err.message()),
        None => format!("TOML syntax error: {}", err.message()),
    })
}

/// The environment variable overriding the setting at `path`.
pub fn env_name(path: &str) -> String {
    format!("EID_{}", path.to_uppercase().replace('.', "_"))
}

fn apply_overrides(
    table: &mut toml::Table,
    env: &impl Fn(&str) -> Option<String>,
    errors: &mut Errors,
) {
    for &(path, integer) in OVERRIDES {
        let name = env_name(path);
        let Some(value) = env(&name) else { continue };
        let value = if integer {
            match value.trim().parse::<i64>() {
                Ok(n) => toml::Value::Integer(n),
                Err(_) => {
                    errors.add(path, format!("{name} must be an integer"));
                    continue;
                }
            }
        } else {
            toml::Value::String(value)
        };
        let mut target = &mut *table;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                target.insert(part.to_owned(), value);
                break;
            }
            let entry = target
                .entry(part)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => target = inner,
                _ => {
                    errors.add(part, "must be a table");
                    break;
                }
            }
        }
    }
}

/// The secrets read from the environment rather than the file.
struct EnvSecrets {
    kek: Option<Zeroizing<String>>,
    register_token: Option<Zeroizing<String>>,
}

/// Validates everything, recording every problem; `None` when something is missing.
fn validate(raw: RawConfig, secrets: EnvSecrets, errors: &mut Errors) -> Option<Config> {
    let issuer = errors
        .required("issuer", raw.issuer, "the public https URL of this service")
        .and_then(|issuer| check_issuer(&issuer, errors).then_some(issuer));
    let listen = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen = SocketAddr::from_str(listen)
        .map_err(|_| errors.add("listen", "must be a socket address such as 127.0.0.1:8080"))
        .ok();
    let durable = errors
        .required(
            "durable.url",
            raw.durable.url,
            "sqlite://path, sqlite::memory: or postgres://…",
        )
        .and_then(|url| durable(url, errors));
    let ephemeral = errors
        .required("ephemeral.url", raw.ephemeral.url, "memory or redis://…")
        .and_then(|url| ephemeral(url, raw.ephemeral.key_prefix, errors));
    let register = register(raw.register, secrets.register_token, errors);
    let keys = keys(raw.keys, secrets.kek, errors);
    let tokens = tokens(&raw.tokens, errors);
    let password = password(&raw.password, errors);
    let clients = clients(raw.clients, errors);
    let passkeys = passkeys(raw.passkeys, errors);
    let chip = match raw.chip {
        Some(raw) => Some(chip::chip(raw, errors)?),
        None => None,
    };
    let saml = match (raw.saml, &clients) {
        (Some(raw), Some(clients)) => {
            let ids = clients.iter().map(|c| c.id.as_str().to_owned()).collect();
            Some(saml::saml(raw, issuer.as_deref(), &ids, errors)?)
        }
        _ => None,
    };
    Some(Config {
        issuer: issuer?,
        listen: listen?,
        durable: durable?,
        ephemeral: ephemeral?,
        register: register?,
        keys: keys?,
        tokens: tokens?,
        password: password?,
        clients: clients?,
        passkeys: passkeys?,
        chip,
        saml,
    })
}

fn passkeys(raw: RawPasskeys, errors: &mut Errors) -> Option<crate::oidc::PasskeySettings> {
    let defaults = crate::oidc::PasskeySettings::default();
    let rp_name = raw.rp_name.unwrap_or(defaults.rp_name);
    let name_ok = !rp_name.trim().is_empty()
        && rp_name.chars().count() <= 64
        && !rp_name.chars().any(char::is_control);
    if !name_ok {
        errors.add(
            "passkeys.rp_name",
            "must be 1 to 64 characters without control characters",
        );
    }
    let lifetime = lifetime(
        "passkeys.ceremony_lifetime_secs",
        raw.ceremony_lifetime_secs,
        defaults
            .ceremony_lifetime
            .as_secs()
            .try_into()
            .unwrap_or(300),
        (5, 600),
        errors,
    )?;
    let ceremony_lifetime = lifetime.try_into().ok()?;
    name_ok.then_some(crate::oidc::PasskeySettings {
        rp_name,
        ceremony_lifetime,
    })
}

/// Whether the host is `localhost`, where plain http is acceptable (the same rule as
/// [`RegisteredClient::new`] applies to redirect URIs).
fn is_localhost(url: &Url) -> bool {
    url.host_str()
        .is_some_and(|host| host.eq_ignore_ascii_case("localhost"))
}

/// Checks an absolute https URL (http on localhost) without a fragment; records the
/// problem under `field`.
fn check_web_url(field: &str, value: &str, errors: &mut Errors) -> Option<Url> {
    let Ok(url) = Url::parse(value) else {
        errors.add(field, "must be an absolute URL");
        return None;
    };
    let secure = url.scheme() == "https" || (url.scheme() == "http" && is_localhost(&url));
    if !secure || url.host().is_none() {
        errors.add(
            field,
            "must be an https URL (http is allowed only for localhost)",
        );
        return None;
    }
    if url.fragment().is_some() {
        errors.add(field, "must not have a fragment (#…)");
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        errors.add(field, "must not carry credentials");
        return None;
    }
    Some(url)
}

fn check_issuer(issuer: &str, errors: &mut Errors) -> bool {
    let Some(url) = check_web_url("issuer", issuer, errors) else {
        return false;
    };
    if url.query().is_some() {
        errors.add("issuer", "must not have a query (?…)");
        return false;
    }
    // The issuer's host is the passkeys' relying party ID, which must be a domain name
    // (W3C WebAuthn Level 3 section 5.1.3: browsers refuse IP addresses).
    if !matches!(url.host(), Some(url::Host::Domain(_))) {
        errors.add(
            "issuer",
            "must name its host by a domain name, not an IP address (passkeys need one)",
        );
        return false;
    }
    true
}

fn durable(url: String, errors: &mut Errors) -> Option<DurableConfig> {
    if url.starts_with("sqlite:") {
        Some(DurableConfig::Sqlite(Secret::new(url)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(DurableConfig::Postgres(Secret::new(url)))
    } else {
        errors.add(
            "durable.url",
            "must start with sqlite: (sqlite://path or sqlite::memory:) or postgres://",
        );
        None
    }
}

fn ephemeral(
    url: String,
    key_prefix: Option<String>,
    errors: &mut Errors,
) -> Option<EphemeralConfig> {
    if url == "memory" {
        if key_prefix.is_some() {
            errors.add("ephemeral.key_prefix", "is used only with redis://");
            return None;
        }
        return Some(EphemeralConfig::Memory);
    }
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        errors.add("ephemeral.url", "must be memory, redis://… or rediss://…");
        return None;
    }
    let key_prefix = key_prefix.unwrap_or_else(|| "eid:".to_owned());
    if key_prefix.is_empty() || !key_prefix.bytes().all(|b| b.is_ascii_graphic()) {
        errors.add(
            "ephemeral.key_prefix",
            "must be non-empty printable ASCII without spaces",
        );
        return None;
    }
    Some(EphemeralConfig::Redis {
        url: Secret::new(url),
        key_prefix,
    })
}

fn non_empty_path(field: &str, path: PathBuf, errors: &mut Errors) -> Option<PathBuf> {
    if path.as_os_str().is_empty() {
        errors.add(field, "must not be empty");
        return None;
    }
    Some(path)
}

fn register(
    raw: RawRegister,
    env_token: Option<Zeroizing<String>>,
    errors: &mut Errors,
) -> Option<RegisterConfig> {
    if raw.token.is_some() {
        errors.add(
            "register.token",
            format!(
                "a secret is never written in the configuration file: set {REGISTER_TOKEN_ENV} \
                 or register.token_file"
            ),
        );
    }
    let endpoint = match (raw.file, raw.grpc_endpoint) {
        (Some(_), Some(_)) => {
            errors.add(
                "register",
                "set exactly one of register.file (embedded) and register.grpc_endpoint",
            );
            return None;
        }
        (None, None) => {
            errors.add(
                "register",
                "required: register.file (the embedded register's SQLite file) or \
                 register.grpc_endpoint (http://host:port of a gRPC register)",
            );
            return None;
        }
        (Some(file), None) => {
            let grpc_only = [
                ("register.token_file", raw.token_file.is_some()),
                ("register.timeout_ms", raw.timeout_ms.is_some()),
                (
                    "register.connect_timeout_ms",
                    raw.connect_timeout_ms.is_some(),
                ),
                ("register.max_attempts", raw.max_attempts.is_some()),
            ];
            for (field, set) in grpc_only {
                if set {
                    errors.add(field, "is used only with register.grpc_endpoint");
                }
            }
            return non_empty_path("register.file", file, errors).map(RegisterConfig::File);
        }
        (None, Some(endpoint)) => endpoint,
    };
    // The gRPC client is built without TLS (tonic's TLS features are off), so an https://
    // endpoint would silently travel in clear text: refuse it until TLS is built.
    let endpoint = match Url::parse(&endpoint) {
        Ok(url) if url.scheme() == "https" => {
            errors.add(
                "register.grpc_endpoint",
                "https:// is not supported yet (the register client has no TLS): use http:// \
                 over a private network, or a TLS-terminating sidecar on the loopback interface",
            );
            None
        }
        Ok(url)
            if url.scheme() == "http"
                && url.host().is_some()
                && url.username().is_empty()
                && url.password().is_none() =>
        {
            Some(endpoint)
        }
        _ => {
            errors.add(
                "register.grpc_endpoint",
                "must be an http:// URI with a host and without credentials, \
                 e.g. http://register.internal:50051",
            );
            None
        }
    };
    let token = match (env_token, raw.token_file) {
        (Some(value), _) => register_token(REGISTER_TOKEN_ENV, value, errors),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(text) => register_token("register.token_file", Zeroizing::new(text), errors),
            Err(err) => {
                errors.add(
                    "register.token_file",
                    format!("cannot read {}: {err}", path.display()),
                );
                None
            }
        },
        (None, None) => {
            errors.add(
                "register",
                format!(
                    "no bearer token for the gRPC register: set {REGISTER_TOKEN_ENV} or \
                     register.token_file"
                ),
            );
            None
        }
    };
    let timeout = millis(
        "register.timeout_ms",
        raw.timeout_ms,
        2_000,
        (50, 60_000),
        errors,
    );
    let connect_timeout = millis(
        "register.connect_timeout_ms",
        raw.connect_timeout_ms,
        1_000,
        (50, 60_000),
        errors,
    );
    let max_attempts = match raw.max_attempts.unwrap_or(3) {
        n @ 1..=10 => u32::try_from(n).ok(),
        _ => {
            errors.add("register.max_attempts", "must be between 1 and 10");
            None
        }
    };
    Some(RegisterConfig::Grpc(GrpcRegisterConfig {
        endpoint: endpoint?,
        token: token?,
        timeout: timeout?,
        connect_timeout: connect_timeout?,
        max_attempts: max_attempts?,
    }))
}

/// A bearer token: surrounding whitespace (a file's final newline) trimmed; must be
/// visible ASCII, which gRPC metadata can carry.
fn register_token(field: &str, value: Zeroizing<String>, errors: &mut Errors) -> Option<Secret> {
    let token = value.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        errors.add(
            field,
            "the register bearer token must be non-empty visible ASCII",
        );
        return None;
    }
    Some(Secret::new(token.to_owned()))
}

/// Checks `value` (default `default`) lies in `min..=max` milliseconds.
fn millis(
    field: &str,
    value: Option<i64>,
    default: u64,
    (min, max): (u64, u64),
    errors: &mut Errors,
) -> Option<std::time::Duration> {
    let ms = value.map_or(Ok(default), u64::try_from);
    match ms {
        Ok(ms) if (min..=max).contains(&ms) => Some(std::time::Duration::from_millis(ms)),
        _ => {
            errors.add(
                field,
                format!("must be between {min} and {max} milliseconds"),
            );
            None
        }
    }
}

fn keys(
    raw: RawKeys,
    env_kek: Option<Zeroizing<String>>,
    errors: &mut Errors,
) -> Option<KeysConfig> {
    if raw.key_encryption_key.is_some() {
        errors.add(
            "keys.key_encryption_key",
            format!(
                "a secret is never written in the configuration file: set {KEK_ENV} or \
                 keys.kek_file"
            ),
        );
    }
    let file = errors
        .required("keys.file", raw.file, "the sealed key ring file")
        .and_then(|file| non_empty_path("keys.file", file, errors));
    let kek = match (env_kek, raw.kek_file) {
        (Some(value), _) => decode_kek(KEK_ENV, &value, errors),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(text) => decode_kek("keys.kek_file", &Zeroizing::new(text), errors),
            Err(err) => {
                errors.add(
                    "keys.kek_file",
                    format!("cannot read {}: {err}", path.display()),
                );
                None
            }
        },
        (None, None) => {
            errors.add(
                "keys",
                format!("no key-encryption key: set {KEK_ENV} or keys.kek_file"),
            );
            None
        }
    };
    Some(KeysConfig {
        file: file?,
        kek: kek?,
    })
}

fn decode_kek(field: &str, value: &str, errors: &mut Errors) -> Option<KeyEncryptionKey> {
    let bytes = Base64::decode_vec(value.trim()).map(Zeroizing::new);
    match bytes.ok().map(|b| KeyEncryptionKey::from_slice(&b)) {
        Some(Ok(kek)) => Some(kek),
        _ => {
            errors.add(
                field,
                format!("the key-encryption key must be {KEK_LEN} bytes in standard base64"),
            );
            None
        }
    }
}

/// Checks `value` (default `default`) lies in `min..=max` seconds.
fn lifetime(
    field: &str,
    value: Option<i64>,
    default: i64,
    (min, max): (i64, i64),
    errors: &mut Errors,
) -> Option<Duration> {
    let secs = value.unwrap_or(default);
    if !(min..=max).contains(&secs) {
        errors.add(field, format!("must be between {min} and {max} seconds"));
        return None;
    }
    Some(Duration::seconds(secs))
}

fn tokens(raw: &RawTokens, errors: &mut Errors) -> Option<TokenLifetimes> {
    let id_token = lifetime(
        "tokens.id_token_lifetime_secs",
        raw.id_token_lifetime_secs,
        300,
        (60, 3_600),
        errors,
    );
    let access_token = lifetime(
        "tokens.access_token_lifetime_secs",
        raw.access_token_lifetime_secs,
        300,
        (60, 3_600),
        errors,
    );
    let refresh_token = lifetime(
        "tokens.refresh_token_lifetime_secs",
        raw.refresh_token_lifetime_secs,
        86_400,
        (3_600, 90 * 86_400),
        errors,
    );
    let authorization_code = lifetime(
        "tokens.authorization_code_lifetime_secs",
        raw.authorization_code_lifetime_secs,
        60,
        (10, 600),
        errors,
    );
    Some(TokenLifetimes {
        id_token: id_token?,
        access_token: access_token?,
        refresh_token: refresh_token?,
        authorization_code: authorization_code?,
    })
}

/// Checks `value` (default `min`) lies in `min..=max`.
fn bounded(
    field: &str,
    value: Option<i64>,
    (min, max): (u32, u32),
    errors: &mut Errors,
) -> Option<u32> {
    let value = value.unwrap_or(i64::from(min));
    match u32::try_from(value) {
        Ok(v) if (min..=max).contains(&v) => Some(v),
        _ => {
            errors.add(
                field,
                format!("must be between {min} and {max} (OWASP minimum {min})"),
            );
            None
        }
    }
}

fn password(raw: &RawPassword, errors: &mut Errors) -> Option<PasswordParams> {
    let min = MIN_PASSWORD_PARAMS;
    let m_kib = bounded(
        "password.memory_kib",
        raw.memory_kib,
        (min.m_kib, 4 * 1024 * 1024),
        errors,
    );
    let t = bounded("password.iterations", raw.iterations, (min.t, 64), errors);
    let p = bounded("password.parallelism", raw.parallelism, (min.p, 64), errors);
    Some(PasswordParams {
        m_kib: m_kib?,
        t: t?,
        p: p?,
    })
}

mod chip;
mod clients;
mod saml;
#[cfg(test)]
mod tests;
