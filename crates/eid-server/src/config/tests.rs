use std::collections::{BTreeSet, HashMap};

use eid_core::oauth::ClientAuth;
use eid_core::release::Scope;
use eid_core::token::{SectorId, SubjectType};

use super::*;

/// 32 bytes of 0x07 in base64.
const KEK: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

/// A PHC hash of "secret" (argon2id, small parameters: only its syntax is checked).
const HASH: &str = "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$qfPIH7Ao7Z3xQy0eNhXkf9fl1QO5kd5ljZ+zJ+eJpGM";

pub(super) const GOOD: &str = r#"
issuer = "https://id.example.vn"
listen = "0.0.0.0:8443"

[durable]
url = "postgres://eid@db/eid"

[ephemeral]
url = "redis://cache:6379"
key_prefix = "eid:"

[register]
file = "/var/lib/eid/register.sqlite"

[keys]
file = "/var/lib/eid/keys.sealed"

[[clients]]
client_id = "tax-portal"
name = "Tax portal"
redirect_uris = ["https://tax.example.vn/callback"]
token_endpoint_auth_method = "client_secret_basic"
client_secret_hash = "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$qfPIH7Ao7Z3xQy0eNhXkf9fl1QO5kd5ljZ+zJ+eJpGM"
scopes = ["openid", "profile"]

[[clients]]
client_id = "mobile-app"
name = "Mobile app"
redirect_uris = ["http://localhost:9000/cb"]
token_endpoint_auth_method = "none"
subject_type = "public"
require_par = true
"#;

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| vars.get(name).cloned()
}

pub(super) fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, env(&[(KEK_ENV, KEK)]))
}

/// The field errors of an invalid configuration.
pub(super) fn errors(text: &str, vars: &[(&str, &str)]) -> Vec<FieldError> {
    match Config::parse(text, env(vars)) {
        Err(ConfigError::Invalid(errors)) => errors,
        other => panic!("expected field errors, got {other:?}"),
    }
}

/// The one error about `field`, whose message must contain `needle`.
fn assert_error(errors: &[FieldError], field: &str, needle: &str) {
    let found: Vec<_> = errors.iter().filter(|e| e.field == field).collect();
    assert_eq!(found.len(), 1, "{field} in {errors:?}");
    assert!(found[0].message.contains(needle), "{}", found[0]);
}

pub(super) fn with_kek() -> [(&'static str, &'static str); 1] {
    [(KEK_ENV, KEK)]
}

#[test]
fn a_good_configuration_loads_with_defaults() {
    let config = parse(GOOD).unwrap();
    assert_eq!(config.issuer, "https://id.example.vn");
    assert_eq!(config.listen.to_string(), "0.0.0.0:8443");
    assert!(matches!(config.durable, DurableConfig::Postgres(_)));
    assert!(
        matches!(&config.ephemeral, EphemeralConfig::Redis { key_prefix, .. } if key_prefix == "eid:")
    );
    assert_eq!(config.password, MIN_PASSWORD_PARAMS);
    assert_eq!(config.tokens.id_token, Duration::seconds(300));
    assert_eq!(config.clients.len(), 2);
    let tax = &config.clients[0];
    assert_eq!(tax.id.as_str(), "tax-portal");
    assert_eq!(tax.auth.method(), "client_secret_basic");
    assert_eq!(
        tax.subject_type,
        SubjectType::Pairwise(SectorId::new("tax.example.vn").unwrap())
    );
    assert_eq!(tax.scopes, BTreeSet::from([Scope::OpenId, Scope::Profile]));
    assert!(!tax.require_par);
    assert!(tax.post_logout_redirect_uris().is_empty());
    assert!(!tax.allow_client_credentials);
    let app = &config.clients[1];
    assert_eq!(app.auth, ClientAuth::None);
    assert_eq!(app.subject_type, SubjectType::Public);
    assert_eq!(app.scopes, BTreeSet::from([Scope::OpenId]));
    assert!(app.require_par);
}

#[test]
fn debug_output_hides_secrets() {
    let config = parse(GOOD).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("argon2id"), "{debug}");
    assert!(!debug.contains("postgres://"), "{debug}");
    assert!(!debug.contains(KEK), "{debug}");
}

#[test]
fn every_bad_field_is_reported_at_once() {
    let text = r#"
issuer = "http://id.example.vn/?x=1"
listen = "everywhere"
[durable]
url = "mysql://db"
[ephemeral]
url = "memcached://cache"
[register]
file = ""
[keys]
file = "/k"
[tokens]
id_token_lifetime_secs = 5
access_token_lifetime_secs = 999999
refresh_token_lifetime_secs = 60
authorization_code_lifetime_secs = 3600
[password]
memory_kib = 4096
iterations = 1
parallelism = 0
"#;
    let errors = errors(text, &with_kek());
    assert_error(
        &errors,
        "issuer",
        "must be an https URL (http is allowed only for localhost)",
    );
    assert_error(&errors, "listen", "socket address");
    assert_error(&errors, "durable.url", "sqlite:");
    assert_error(&errors, "ephemeral.url", "redis://");
    assert_error(&errors, "register.file", "must not be empty");
    assert_error(
        &errors,
        "tokens.id_token_lifetime_secs",
        "between 60 and 3600",
    );
    assert_error(&errors, "tokens.access_token_lifetime_secs", "between");
    assert_error(&errors, "tokens.refresh_token_lifetime_secs", "between");
    assert_error(
        &errors,
        "tokens.authorization_code_lifetime_secs",
        "between",
    );
    assert_error(&errors, "password.memory_kib", "19456");
    assert_error(&errors, "password.iterations", "OWASP");
    assert_error(&errors, "password.parallelism", "OWASP");
    assert_eq!(errors.len(), 12, "{errors:?}");
    let shown = ConfigError::Invalid(errors).to_string();
    assert!(shown.starts_with("12 invalid setting(s):"), "{shown}");
    assert!(shown.contains("\n  listen: "), "{shown}");
}

#[test]
fn missing_settings_are_each_named() {
    let errors = errors("", &[]);
    for field in [
        "issuer",
        "durable.url",
        "ephemeral.url",
        "register",
        "keys.file",
        "keys",
    ] {
        assert_error(&errors, field, "");
    }
    assert_eq!(errors.len(), 6, "{errors:?}");
}

#[test]
fn issuer_rules() {
    let config = |issuer: &str| GOOD.replace("https://id.example.vn\"", &format!("{issuer}\""));
    for ok in ["https://id.example.vn/eid", "http://localhost:8080"] {
        assert!(parse(&config(ok)).is_ok(), "{ok}");
    }
    for (bad, needle) in [
        ("http://id.example.vn", "https"),
        ("https://id.example.vn/#x", "fragment"),
        ("https://id.example.vn/?a=b", "query"),
        ("https://user:pw@id.example.vn", "credentials"),
        ("id.example.vn", "absolute URL"),
        ("ftp://localhost", "https"),
        ("http://127.0.0.1:8080", "https"),
        ("https://192.0.2.7", "domain name"),
        ("https://[2001:db8::1]", "domain name"),
    ] {
        assert_error(&errors(&config(bad), &with_kek()), "issuer", needle);
    }
}

#[test]
fn durable_and_ephemeral_urls() {
    let config = GOOD
        .replace("postgres://eid@db/eid", "sqlite::memory:")
        .replace(
            "url = \"redis://cache:6379\"\nkey_prefix = \"eid:\"",
            "url = \"memory\"",
        );
    let parsed = parse(&config).unwrap();
    assert!(matches!(parsed.durable, DurableConfig::Sqlite(_)));
    assert!(matches!(parsed.ephemeral, EphemeralConfig::Memory));

    let prefix_with_memory = GOOD.replace("redis://cache:6379", "memory");
    assert_error(
        &errors(&prefix_with_memory, &with_kek()),
        "ephemeral.key_prefix",
        "only with redis",
    );
    let bad_prefix = GOOD.replace("key_prefix = \"eid:\"", "key_prefix = \"a b\"");
    assert_error(
        &errors(&bad_prefix, &with_kek()),
        "ephemeral.key_prefix",
        "printable",
    );
}

#[test]
fn environment_overrides_win_over_the_file() {
    let config = Config::parse(
        GOOD,
        env(&[
            (KEK_ENV, KEK),
            ("EID_ISSUER", "https://login.example.vn"),
            ("EID_LISTEN", "127.0.0.1:0"),
            ("EID_DURABLE_URL", "sqlite::memory:"),
            ("EID_EPHEMERAL_URL", "redis://other:6379"),
            ("EID_EPHEMERAL_KEY_PREFIX", "x:"),
            ("EID_REGISTER_FILE", "/tmp/r.sqlite"),
            ("EID_KEYS_FILE", "/tmp/k.sealed"),
            ("EID_TOKENS_ID_TOKEN_LIFETIME_SECS", "600"),
            ("EID_PASSWORD_MEMORY_KIB", "65536"),
        ]),
    )
    .unwrap();
    assert_eq!(config.issuer, "https://login.example.vn");
    assert_eq!(config.listen.port(), 0);
    assert!(matches!(config.durable, DurableConfig::Sqlite(_)));
    assert!(matches!(
        &config.ephemeral,
        EphemeralConfig::Redis { url, key_prefix } if url.expose() == "redis://other:6379" && key_prefix == "x:"
    ));
    assert!(matches!(&config.register, RegisterConfig::File(f) if f == Path::new("/tmp/r.sqlite")));
    assert_eq!(config.keys.file, PathBuf::from("/tmp/k.sealed"));
    assert_eq!(config.tokens.id_token, Duration::seconds(600));
    assert_eq!(config.password.m_kib, 65_536);
}

#[test]
fn a_non_integer_override_is_reported_with_its_variable() {
    let errors = errors(GOOD, &[(KEK_ENV, KEK), ("EID_PASSWORD_ITERATIONS", "two")]);
    assert_error(
        &errors,
        "password.iterations",
        "EID_PASSWORD_ITERATIONS must be an integer",
    );
}

#[test]
fn every_override_has_the_documented_name() {
    assert_eq!(env_name("durable.url"), "EID_DURABLE_URL");
    assert_eq!(env_name("keys.file"), "EID_KEYS_FILE");
    assert_eq!(env_name("keys.kek_file"), "EID_KEYS_KEK_FILE");
    assert_eq!(
        env_name("register.grpc_endpoint"),
        "EID_REGISTER_GRPC_ENDPOINT"
    );
    assert_eq!(OVERRIDES.len(), 22);
}

#[test]
fn passkey_settings_have_defaults_and_bounds() {
    let config = parse(GOOD).unwrap();
    assert_eq!(config.passkeys.rp_name, "eID");
    assert_eq!(config.passkeys.ceremony_lifetime.as_secs(), 300);
    let env = [
        (KEK_ENV, KEK),
        ("EID_PASSKEYS_RP_NAME", "Cổng định danh"),
        ("EID_PASSKEYS_CEREMONY_LIFETIME_SECS", "60"),
    ];
    let config = Config::parse(GOOD, self::env(&env)).unwrap();
    assert_eq!(config.passkeys.rp_name, "Cổng định danh");
    assert_eq!(config.passkeys.ceremony_lifetime.as_secs(), 60);
    for (field, value, message) in [
        ("ceremony_lifetime_secs", "4", "between 5 and 600"),
        ("ceremony_lifetime_secs", "601", "between 5 and 600"),
        ("rp_name", "\"  \"", "1 to 64 characters"),
        ("rp_name", "\"a\\u0007b\"", "1 to 64 characters"),
    ] {
        let text = format!("{GOOD}\n[passkeys]\n{field} = {value}\n");
        assert_error(
            &errors(&text, &with_kek()),
            &format!("passkeys.{field}"),
            message,
        );
    }
}

#[test]
fn an_inline_key_encryption_key_is_refused() {
    for key in ["key_encryption_key", "kek"] {
        let text = GOOD.replace("[keys]\n", &format!("[keys]\n{key} = \"{KEK}\"\n"));
        let errors = errors(&text, &with_kek());
        assert_error(
            &errors,
            "keys.key_encryption_key",
            "never written in the configuration",
        );
    }
}

#[test]
fn the_kek_comes_from_the_environment_or_a_file() {
    assert_error(&errors(GOOD, &[]), "keys", "EID_KEY_ENCRYPTION_KEY");
    assert_error(&errors(GOOD, &[(KEK_ENV, "c2hvcnQ=")]), KEK_ENV, "32 bytes");
    assert_error(
        &errors(GOOD, &[(KEK_ENV, "not base64!")]),
        KEK_ENV,
        "base64",
    );

    let dir = tempfile::tempdir().unwrap();
    let kek_file = dir.path().join("kek");
    std::fs::write(&kek_file, format!("{KEK}\n")).unwrap();
    let text = GOOD.replace(
        "[keys]\n",
        &format!("[keys]\nkek_file = {:?}\n", kek_file.display().to_string()),
    );
    assert!(Config::parse(&text, env(&[])).is_ok());

    let missing = GOOD.replace("[keys]\n", "[keys]\nkek_file = \"/nonexistent/kek\"\n");
    assert_error(&errors(&missing, &[]), "keys.kek_file", "cannot read");
}

#[test]
fn an_unknown_setting_is_a_syntax_error_naming_it() {
    let err = parse(&format!("issuer_url = \"x\"\n{GOOD}")).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Syntax(m) if m.contains("issuer_url")),
        "{err}"
    );
}

#[test]
fn a_syntax_error_names_its_line_but_not_its_text() {
    let err = parse("issuer = \"https://id.example.vn\"\n[keys]\nkek = \"s3cr3t").unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, ConfigError::Syntax(_)), "{shown}");
    assert!(shown.contains("line 3"), "{shown}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
}

#[test]
fn listen_defaults_to_localhost_8080() {
    let config = parse(&GOOD.replace("listen = \"0.0.0.0:8443\"\n", "")).unwrap();
    assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
}

/// `GOOD` with its first client replaced by `client` (TOML lines).
fn with_client(client: &str) -> String {
    let start = GOOD.find("[[clients]]").unwrap();
    let second = GOOD[start + 1..].find("[[clients]]").unwrap() + start + 1;
    format!(
        "{}[[clients]]\n{client}\n{}",
        &GOOD[..start],
        &GOOD[second..]
    )
}

#[test]
fn every_bad_client_field_is_reported() {
    let text = with_client(
        r#"client_id = "has space"
name = " "
redirect_uris = ["http://rp.example.vn/cb", "https://rp.example.vn/cb#frag", "relative"]
token_endpoint_auth_method = "client_secret_jwt"
client_secret_hash = "$2b$12$notargon"
jwks_uri = "https://rp.example.vn/jwks"
subject_type = "secret"
scopes = ["openid", "email"]"#,
    );
    let errors = errors(&text, &with_kek());
    assert_error(&errors, "clients[0].client_id", "printable ASCII");
    assert_error(&errors, "clients[0].name", "must not be empty");
    assert_error(&errors, "clients[0].redirect_uris[0]", "https");
    assert_error(&errors, "clients[0].redirect_uris[1]", "fragment");
    assert_error(&errors, "clients[0].redirect_uris[2]", "absolute URL");
    assert_error(
        &errors,
        "clients[0].token_endpoint_auth_method",
        "must be client_secret_basic",
    );
    assert_error(
        &errors,
        "clients[0].client_secret_hash",
        "only with client_secret",
    );
    assert_error(&errors, "clients[0].jwks", "only with private_key_jwt");
    assert_error(&errors, "clients[0].subject_type", "pairwise or public");
    assert_error(&errors, "clients[0].scopes[1]", "unknown scope \"email\"");
    assert_eq!(errors.len(), 10, "{errors:?}");
}

#[test]
fn a_plaintext_client_secret_is_refused() {
    let text = with_client(
        r#"client_id = "rp"
name = "RP"
redirect_uris = ["https://rp.example.vn/cb"]
token_endpoint_auth_method = "client_secret_post"
client_secret = "hunter2""#,
    );
    let errors = errors(&text, &with_kek());
    assert_error(
        &errors,
        "clients[0].client_secret",
        "plaintext secret is refused",
    );
    assert_error(&errors, "clients[0].client_secret_hash", "required");
    let shown = ConfigError::Invalid(errors).to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn secret_methods_need_an_argon2id_hash() {
    let text = |hash: &str| {
        with_client(&format!(
            r#"client_id = "rp"
name = "RP"
redirect_uris = ["https://rp.example.vn/cb"]
token_endpoint_auth_method = "client_secret_post"
client_secret_hash = "{hash}""#
        ))
    };
    assert!(parse(&text(HASH)).is_ok());
    let argon2i = HASH.replace("argon2id", "argon2i");
    assert_error(
        &errors(&text(&argon2i), &with_kek()),
        "clients[0].client_secret_hash",
        "argon2id PHC",
    );
}

#[test]
fn private_key_jwt_needs_inline_keys() {
    let text = |jwks: &str| {
        with_client(&format!(
            r#"client_id = "rp"
name = "RP"
redirect_uris = ["https://rp.example.vn/cb"]
token_endpoint_auth_method = "private_key_jwt"
{jwks}"#
        ))
    };
    let inline = parse(&text(
        r#"jwks = '{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}'"#,
    ))
    .unwrap();
    assert_eq!(inline.clients[0].auth.method(), "private_key_jwt");

    for (jwks, field, needle) in [
        ("", "clients[0].jwks", "needs the client's keys"),
        (
            r#"jwks = '{"keys":[]}'"#,
            "clients[0].jwks",
            "at least one key",
        ),
        (r#"jwks = 'nope'"#, "clients[0].jwks", "JSON Web Key Set"),
        (
            r#"jwks_uri = "https://rp.example.vn/jwks""#,
            "clients[0].jwks_uri",
            "not supported yet",
        ),
    ] {
        assert_error(&errors(&text(jwks), &with_kek()), field, needle);
    }
}

#[test]
fn client_ids_are_unique_and_required_fields_named() {
    let text = GOOD.replace("\"mobile-app\"", "\"tax-portal\"");
    assert_error(
        &errors(&text, &with_kek()),
        "clients[1].client_id",
        "earlier client",
    );

    let bare = with_client("require_par = false");
    let errors = errors(&bare, &with_kek());
    for field in [
        "clients[0].client_id",
        "clients[0].name",
        "clients[0].redirect_uris",
        "clients[0].token_endpoint_auth_method",
    ] {
        assert_error(&errors, field, "");
    }
}

#[test]
fn scopes_must_include_openid() {
    let text = GOOD.replace(
        r#"scopes = ["openid", "profile"]"#,
        r#"scopes = ["profile"]"#,
    );
    assert_error(
        &errors(&text, &with_kek()),
        "clients[0].scopes",
        "must include openid",
    );
}

#[test]
fn a_pairwise_client_needs_its_redirect_uris_on_one_host() {
    let text = GOOD.replace(
        r#"redirect_uris = ["https://tax.example.vn/callback"]"#,
        r#"redirect_uris = ["https://tax.example.vn/cb", "https://other.example.vn/cb"]"#,
    );
    assert_error(
        &errors(&text, &with_kek()),
        "clients[0].redirect_uris",
        "several hosts",
    );
    let public = text.replace(
        r#"scopes = ["openid", "profile"]"#,
        "scopes = [\"openid\", \"profile\"]\nsubject_type = \"public\"",
    );
    assert!(parse(&public).is_ok());
}

#[test]
fn post_logout_redirect_uris_and_client_credentials_are_read() {
    let text = GOOD.replace(
        r#"scopes = ["openid", "profile"]"#,
        "scopes = [\"openid\", \"profile\"]\n\
         post_logout_redirect_uris = [\"https://tax.example.vn/bye\", \"http://localhost:9000/bye\"]\n\
         client_credentials = true",
    );
    let config = parse(&text).unwrap();
    let tax = &config.clients[0];
    assert_eq!(
        tax.post_logout_redirect_uris(),
        ["https://tax.example.vn/bye", "http://localhost:9000/bye"]
    );
    assert_eq!(
        tax.post_logout_redirect_uri("https://tax.example.vn/bye"),
        Ok("https://tax.example.vn/bye")
    );
    assert!(tax.allow_client_credentials);
}

#[test]
fn bad_post_logout_redirect_uris_and_a_public_client_credentials_client_are_reported() {
    let text = with_client(
        r#"client_id = "rp"
name = "RP"
redirect_uris = ["http://localhost:7000/cb"]
token_endpoint_auth_method = "none"
post_logout_redirect_uris = ["https://rp.example.vn/ok", "http://rp.example.vn/bye", "https://rp.example.vn/bye#x", "bye"]
client_credentials = true"#,
    );
    let errors = errors(&text, &with_kek());
    assert_error(&errors, "clients[0].post_logout_redirect_uris[1]", "https");
    assert_error(
        &errors,
        "clients[0].post_logout_redirect_uris[2]",
        "fragment",
    );
    assert_error(
        &errors,
        "clients[0].post_logout_redirect_uris[3]",
        "absolute URL",
    );
    assert_error(
        &errors,
        "clients[0].client_credentials",
        "needs a confidential client",
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
}

#[test]
fn tools_validate_everything_but_the_key_encryption_key() {
    let settings = ToolSettings::parse(GOOD, env(&[])).unwrap();
    assert_eq!(settings.clients.len(), 2);
    assert!(matches!(settings.durable, DurableConfig::Postgres(_)));
    let unreadable_kek_file =
        GOOD.replace("[keys]\n", "[keys]\nkek_file = \"/nonexistent/eid-kek\"\n");
    assert!(ToolSettings::parse(&unreadable_kek_file, env(&[])).is_ok());
    let bad = GOOD.replace("https://id.example.vn", "http://id.example.vn");
    let Err(ConfigError::Invalid(errors)) = ToolSettings::parse(&bad, env(&[])) else {
        panic!("expected field errors");
    };
    assert_error(&errors, "issuer", "https");
    assert_eq!(errors.len(), 1, "{errors:?}");
}

/// GOOD with its `[register]` table replaced by `register`.
fn with_register(register: &str) -> String {
    GOOD.replace(
        "[register]\nfile = \"/var/lib/eid/register.sqlite\"\n",
        &format!("[register]\n{register}\n"),
    )
}

#[test]
fn a_grpc_register_takes_its_token_from_the_environment_with_defaults() {
    let text = with_register(r#"grpc_endpoint = "http://register.internal:50051""#);
    let config = Config::parse(
        &text,
        env(&[(KEK_ENV, KEK), (REGISTER_TOKEN_ENV, " reg-token\n")]),
    )
    .unwrap();
    let RegisterConfig::Grpc(grpc) = &config.register else {
        panic!("expected a gRPC register, got {:?}", config.register);
    };
    assert_eq!(grpc.endpoint, "http://register.internal:50051");
    assert_eq!(grpc.token.expose(), "reg-token");
    assert_eq!(grpc.timeout, std::time::Duration::from_secs(2));
    assert_eq!(grpc.connect_timeout, std::time::Duration::from_secs(1));
    assert_eq!(grpc.max_attempts, 3);
    assert!(!format!("{config:?}").contains("reg-token"));

    // Or from a file, with overrides from the environment.
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "file-token\n").unwrap();
    let text = with_register(&format!(
        "token_file = {:?}",
        token_file.display().to_string()
    ));
    let config = Config::parse(
        &text,
        env(&[
            (KEK_ENV, KEK),
            ("EID_REGISTER_GRPC_ENDPOINT", "http://register.gov.vn"),
            ("EID_REGISTER_TIMEOUT_MS", "500"),
            ("EID_REGISTER_MAX_ATTEMPTS", "1"),
        ]),
    )
    .unwrap();
    let RegisterConfig::Grpc(grpc) = &config.register else {
        panic!("expected a gRPC register");
    };
    assert_eq!(grpc.token.expose(), "file-token");
    assert_eq!(grpc.endpoint, "http://register.gov.vn");
    assert_eq!(grpc.timeout, std::time::Duration::from_millis(500));
    assert_eq!(grpc.max_attempts, 1);
}

#[test]
fn register_settings_are_checked() {
    let both = with_register("file = \"/r.sqlite\"\ngrpc_endpoint = \"http://register:50051\"");
    assert_error(&errors(&both, &with_kek()), "register", "exactly one");

    let no_token = with_register(r#"grpc_endpoint = "http://register:50051""#);
    assert_error(
        &errors(&no_token, &with_kek()),
        "register",
        REGISTER_TOKEN_ENV,
    );

    let inline = with_register("grpc_endpoint = \"http://register:50051\"\ntoken = \"s3cret\"");
    let found = errors(&inline, &[(KEK_ENV, KEK), (REGISTER_TOKEN_ENV, "t")]);
    assert_error(&found, "register.token", "never written");
    assert!(!format!("{found:?}").contains("s3cret"));

    let bad = with_register(
        "grpc_endpoint = \"ftp://register\"\ntimeout_ms = 0\nconnect_timeout_ms = 600000\n\
         max_attempts = 11",
    );
    let found = errors(&bad, &[(KEK_ENV, KEK), (REGISTER_TOKEN_ENV, "bad token")]);
    assert_error(&found, "register.grpc_endpoint", "must be an http:// URI");
    assert_error(&found, REGISTER_TOKEN_ENV, "visible ASCII");
    assert_error(&found, "register.timeout_ms", "between 50 and 60000");
    assert_error(
        &found,
        "register.connect_timeout_ms",
        "between 50 and 60000",
    );
    assert_error(&found, "register.max_attempts", "between 1 and 10");

    // No TLS in the client yet: https would travel in clear text, so it is refused.
    let tls = with_register(r#"grpc_endpoint = "https://register:50051""#);
    let found = errors(&tls, &[(KEK_ENV, KEK), (REGISTER_TOKEN_ENV, "t")]);
    assert_error(
        &found,
        "register.grpc_endpoint",
        "https:// is not supported yet",
    );

    let credentials = with_register(r#"grpc_endpoint = "http://user:pw@register:50051""#);
    let found = errors(&credentials, &[(KEK_ENV, KEK), (REGISTER_TOKEN_ENV, "t")]);
    assert_error(&found, "register.grpc_endpoint", "without credentials");

    let missing_file = with_register(
        "grpc_endpoint = \"http://register:50051\"\ntoken_file = \"/nonexistent/token\"",
    );
    assert_error(
        &errors(&missing_file, &with_kek()),
        "register.token_file",
        "cannot read",
    );

    let grpc_only = with_register("file = \"/r.sqlite\"\ntimeout_ms = 100");
    assert_error(
        &errors(&grpc_only, &with_kek()),
        "register.timeout_ms",
        "only with register.grpc_endpoint",
    );
}
