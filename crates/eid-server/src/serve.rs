//! `eid-server serve`, `keys stage`, `keys rotate` and `config check`: the production daemon and its
//! tools, all driven by one configuration file.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use eid_core::credential::password::PasswordHasher;
use eid_core::store::{
    DurableStore, EphemeralStore, MemoryEphemeral, PostgresStore, RedisEphemeral, SqliteStore,
};
use eid_core::token::KeyRing;

use crate::cli::ConfigArgs;
use crate::config::{Config, ConfigError, DurableConfig, EphemeralConfig, SamlConfig};
use crate::oidc::{Limits, SESSION_LIFETIME, SamlSettings, Settings};
use crate::register::Register;
use crate::saml::keys::{KeyKind, SigningKey};
use crate::{app, keyfile, status_watch};

/// Loads and validates the configuration, opens the stores, the register and the key
/// ring, prints the banner and serves until SIGINT or SIGTERM.
pub async fn run(args: ConfigArgs) -> anyhow::Result<()> {
    let config = load(&args)?;
    let durable = open_durable(&config.durable).await?;
    let ephemeral = open_ephemeral(&config.ephemeral).await?;
    let registry = Register::open(&config.register).await?;
    let register_line = registry.describe().await?;
    let (keys, created) = keyfile::open_or_create(&config.keys.file, &config.keys.kek)?;
    let kid = keys.active().kid().to_owned();
    let client_count = config.clients.len();
    let saml = config.saml.map(saml_settings).transpose()?;
    let saml_line = saml.as_ref().map(|s: &SamlSettings| {
        format!(
            "saml: {} ({} service providers)",
            s.entity_id,
            s.service_providers.len()
        )
    });
    let settings = Settings {
        issuer: config.issuer.clone(),
        clients: config.clients,
        pairwise_salt: config
            .keys
            .kek
            .derive_pairwise_salt()
            .context("cannot derive the pairwise subject salt")?,
        id_token_lifetime: config.tokens.id_token,
        access_token_lifetime: config.tokens.access_token,
        refresh_token_lifetime: config.tokens.refresh_token,
        code_lifetime: config
            .tokens
            .authorization_code
            .try_into()
            .context("bad authorization code lifetime")?,
        session_lifetime: SESSION_LIFETIME,
        limits: Limits::default(),
        passkeys: config.passkeys,
        chip: config.chip,
        saml,
    };
    // Follow the register's status changes: its `WatchStatus` stream, or the change log of
    // the embedded file (written by `registry record-change`).
    let watcher = match &registry {
        Register::Grpc(grpc) => {
            tokio::spawn(status_watch::run(Arc::clone(grpc), Arc::clone(&durable)))
        }
        Register::Embedded(file) => tokio::spawn(status_watch::follow_embedded(
            Arc::clone(file),
            Arc::clone(&durable),
        )),
    };
    let app = app::build(app::Parts {
        settings,
        keys,
        durable,
        ephemeral,
        registry,
        hasher: PasswordHasher::per_core(config.password)
            .context("bad password hashing parameters")?,
        extra: axum::Router::new(),
    })?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr()?;

    println!("eID server");
    println!("issuer: {}", config.issuer);
    println!("listening: {local}");
    println!("register: {register_line}");
    if let Some(line) = saml_line {
        println!("{line}");
    }
    println!(
        "signing key: {kid}{}",
        if created { " (new key ring)" } else { "" }
    );
    println!("clients: {client_count}");
    let shutdown = app::shutdown_signal()?;
    println!("ready");
    tracing::info!(issuer = %config.issuer, %local, "server listening");

    let served = app::serve(listener, app, shutdown).await;
    watcher.abort();
    served?;
    tracing::info!("server stopped");
    Ok(())
}

/// Stages the next signing key on disk and prints the published key ids.
pub fn stage_key(args: ConfigArgs) -> anyhow::Result<()> {
    let config = load(&args)?;
    print_ring(&keyfile::stage(&config.keys.file, &config.keys.kek)?);
    Ok(())
}

/// Rotates the key ring on disk and prints the published key ids.
pub fn rotate_keys(args: ConfigArgs) -> anyhow::Result<()> {
    let config = load(&args)?;
    let max_lifetime = config.tokens.id_token.max(config.tokens.access_token);
    print_ring(&keyfile::rotate(
        &config.keys.file,
        &config.keys.kek,
        max_lifetime,
    )?);
    Ok(())
}

fn print_ring(ring: &KeyRing) {
    println!("active: {}", ring.active().kid());
    if let Some(next) = ring.next() {
        println!("next: {}", next.kid());
    }
    for key in ring.retiring() {
        println!("retiring: {}", key.kid());
    }
    println!("restart the servers to publish and use the change");
}

/// Validates the configuration and prints `ok` (errors are returned, all of them).
pub fn check(args: ConfigArgs) -> anyhow::Result<()> {
    load(&args)?;
    println!("ok");
    Ok(())
}

fn load(args: &ConfigArgs) -> anyhow::Result<Config> {
    Config::load(&args.config).map_err(|err: ConfigError| {
        anyhow::anyhow!("configuration {}: {err}", args.config.display())
    })
}

/// Opens (and migrates) the configured durable store.
pub(crate) async fn open_durable(config: &DurableConfig) -> anyhow::Result<Arc<dyn DurableStore>> {
    Ok(match config {
        DurableConfig::Sqlite(url) => Arc::new(
            SqliteStore::open(url.expose())
                .await
                .context("cannot open the SQLite durable store")?,
        ),
        DurableConfig::Postgres(url) => Arc::new(
            PostgresStore::connect(url.expose())
                .await
                .context("cannot connect to the PostgreSQL durable store")?,
        ),
    })
}

async fn open_ephemeral(config: &EphemeralConfig) -> anyhow::Result<Arc<dyn EphemeralStore>> {
    Ok(match config {
        EphemeralConfig::Memory => Arc::new(MemoryEphemeral::new()),
        EphemeralConfig::Redis { url, key_prefix } => Arc::new(
            RedisEphemeral::connect(url.expose(), key_prefix)
                .await
                .context("cannot connect to the Redis ephemeral store")?,
        ),
    })
}

/// Opens the SAML signing key (creating it and its certificate on first start).
fn saml_settings(config: SamlConfig) -> anyhow::Result<SamlSettings> {
    let open = |key_file: &Path, cert_file: &Path, kind| {
        let (key, created) =
            SigningKey::open_or_create(key_file, cert_file, &config.entity_id, kind).with_context(
                || format!("cannot open the SAML signing key {}", key_file.display()),
            )?;
        if created {
            println!(
                "saml: created the signing key {} and certificate {}",
                key_file.display(),
                cert_file.display()
            );
        }
        anyhow::Ok(key)
    };
    let key = open(&config.key_file, &config.certificate_file, KeyKind::Rsa)?;
    let ecdsa_key = match &config.ecdsa_key {
        Some((key_file, cert_file)) => Some(open(key_file, cert_file, KeyKind::EcP256)?),
        None => None,
    };
    Ok(SamlSettings {
        entity_id: config.entity_id,
        key,
        ecdsa_key,
        service_providers: config.service_providers,
    })
}
