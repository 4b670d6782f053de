//! `eid-server demo`: everything embedded, nothing to install: a synthetic register,
//! SQLite and in-memory stores, a few citizens with passwords and a relying party of its
//! own, all printed at start.

mod rp;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use eid_core::citizen::PersonalId;
use eid_core::credential::password::{Password, PasswordHasher};
use eid_core::registry::{
    EmbeddedRegistry, RecordStatus, RegisterLocation, RegisterRecord, SyntheticPopulation,
};
use eid_core::store::{DurableStore, EphemeralStore, MemoryEphemeral, SqliteStore};
use eid_core::token::{KeyRing, OpaqueToken, PairwiseSalt, TokenIssuer};

use crate::cli::DemoArgs;
use crate::oidc::{Limits, PasskeySettings, SESSION_LIFETIME, SamlSettings, Settings};
use crate::register::Register;
use crate::saml::keys::{KeyKind, SigningKey};
use crate::{accounts, app};

pub use rp::{CALLBACK, CLIENT_ID};

/// How many demo citizens get a password.
const DEMO_CITIZENS: usize = 3;

/// Builds the embedded stores and register, prints the banner and serves until SIGINT or
/// SIGTERM.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let (_temp_dir, data_dir) = match &args.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create data directory {}", dir.display()))?;
            (None, dir.clone())
        }
        None => {
            let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
            let path = temp.path().to_owned();
            (Some(temp), path)
        }
    };

    let started = Instant::now();
    let registry = open_demo_registry(&data_dir, args.citizens, args.seed).await?;
    let citizens = registry.count().await?;
    let load_time = started.elapsed();

    let durable: Arc<dyn DurableStore> = Arc::new(
        SqliteStore::open_file(&data_dir.join("eid.sqlite"))
            .await
            .context("cannot open the demo's durable store")?,
    );
    let ephemeral: Arc<dyn EphemeralStore> = Arc::new(MemoryEphemeral::new());
    let registry = Arc::new(registry);
    let hasher = PasswordHasher::with_defaults().context("cannot start password hashing")?;
    let demo_citizens = enrol_demo_citizens(
        durable.as_ref(),
        &registry,
        &hasher,
        args.citizens,
        args.seed,
    )
    .await?;
    let newcomer = newcomer(durable.as_ref(), args.citizens, args.seed).await?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let port = listener.local_addr()?.port();
    // WebAuthn accepts `localhost` as a secure origin and RP ID, not a bare IP address.
    let issuer = format!("http://localhost:{port}");

    // The demo's signing key and pairwise salt live only as long as the process.
    let keys = KeyRing::generate().context("cannot generate the demo's signing key")?;
    let salt = PairwiseSalt::new(OpaqueToken::generate().expose().as_bytes())?;
    let demo_rp = Arc::new(rp::DemoRp::new(&issuer, &hasher).await?);
    let app = app::build(app::Parts {
        settings: Settings {
            issuer: issuer.clone(),
            clients: vec![demo_rp.client.clone()],
            pairwise_salt: salt,
            id_token_lifetime: TokenIssuer::DEFAULT_ID_TOKEN_LIFETIME,
            access_token_lifetime: TokenIssuer::DEFAULT_ACCESS_TOKEN_LIFETIME,
            refresh_token_lifetime: time::Duration::days(1),
            code_lifetime: Duration::from_secs(60),
            session_lifetime: SESSION_LIFETIME,
            limits: Limits::default(),
            passkeys: PasskeySettings::default(),
            chip: None,
            saml: Some(SamlSettings {
                entity_id: format!("{issuer}{}", crate::saml::paths::METADATA),
                key: SigningKey::generate(KeyKind::Rsa, &issuer)
                    .context("cannot generate the demo's SAML signing key")?,
                ecdsa_key: Some(
                    SigningKey::generate(KeyKind::EcP256, &issuer)
                        .context("cannot generate the demo's SAML ECDSA key")?,
                ),
                service_providers: Vec::new(),
            }),
        },
        keys,
        durable,
        ephemeral,
        registry: Register::Embedded(registry),
        hasher,
        extra: Arc::clone(&demo_rp).router(),
    })?;

    println!("eID demo");
    println!("issuer: {issuer}");
    println!(
        "register: {citizens} citizens (synthetic, seed {}), ready in {:.1} s",
        args.seed,
        load_time.as_secs_f64()
    );
    println!("data: {}", data_dir.display());
    println!("health: {issuer}/healthz  readiness: {issuer}/readyz  metrics: {issuer}/metrics");
    println!("keys: {issuer}/jwks.json");
    println!("discovery: {issuer}/.well-known/openid-configuration");
    println!(
        "SAML identity provider metadata: {issuer}{} (register service providers with \
         `serve`: see docs/saml.md)",
        crate::saml::paths::METADATA
    );
    println!("account page (passkeys): {issuer}/account");
    println!("demo relying party:");
    println!("  client_id: {CLIENT_ID}");
    println!("  client_secret: {}", demo_rp.secret);
    println!("  redirect_uri: {}", demo_rp.redirect_uri);
    println!("  token_endpoint_auth_method: client_secret_basic");
    println!("demo citizens (personal ID, password):");
    for (id, password) in &demo_citizens {
        println!("  citizen: {} password: {password}", id.expose());
    }
    println!("try it: open this URL in a browser and log in as a demo citizen:");
    println!("  {}", demo_rp.authorize_url);
    if let Some(record) = newcomer {
        let id = &record.identity;
        println!("self-enrolment: {issuer}/enrol with this synthetic citizen's register data:");
        println!(
            "  {} | {} | {} | {} | {} | {} | {}",
            record.personal_id.expose(),
            id.family_name,
            id.middle_names,
            id.given_name,
            id.birth_date,
            id.sex.as_str(),
            id.place_of_birth
        );
    }
    let shutdown = app::shutdown_signal()?;
    println!("ready (Ctrl-C stops)");
    tracing::info!(%issuer, citizens, "demo listening");

    app::serve(listener, app, shutdown).await?;
    tracing::info!("demo stopped");
    Ok(())
}

/// Gives the first active citizens of the synthetic register accounts with fresh random
/// passwords (an existing account's password is replaced), and returns them.
async fn enrol_demo_citizens(
    durable: &dyn DurableStore,
    registry: &EmbeddedRegistry,
    hasher: &PasswordHasher,
    citizens: u64,
    seed: u64,
) -> anyhow::Result<Vec<(PersonalId, String)>> {
    let mut enrolled = Vec::with_capacity(DEMO_CITIZENS);
    for record in SyntheticPopulation::new(citizens, seed)? {
        let record = record?;
        if record.status != RecordStatus::Active {
            continue;
        }
        let password = format!("demo-{}", &OpaqueToken::generate().expose()[..10]);
        accounts::enrol(
            durable,
            registry,
            hasher,
            &record.personal_id,
            Password::new(password.as_str())?,
        )
        .await
        .context("cannot enrol the demo citizens")?;
        enrolled.push((record.personal_id, password));
        if enrolled.len() == DEMO_CITIZENS {
            break;
        }
    }
    Ok(enrolled)
}

/// The first active citizen of the synthetic register without an account, to try
/// self-enrolment with.
async fn newcomer(
    durable: &dyn DurableStore,
    citizens: u64,
    seed: u64,
) -> anyhow::Result<Option<RegisterRecord>> {
    for record in SyntheticPopulation::new(citizens, seed)? {
        let record = record?;
        if record.status == RecordStatus::Active
            && durable.find_account(&record.personal_id).await?.is_none()
        {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// Opens the demo register in `dir` (one file per size and seed), generating it when it is
/// new. A file left incomplete by an interrupted run is reported, not served.
async fn open_demo_registry(
    dir: &Path,
    citizens: u64,
    seed: u64,
) -> anyhow::Result<EmbeddedRegistry> {
    let path = dir.join(format!("register-{citizens}-{seed}.sqlite"));
    let registry = EmbeddedRegistry::open(RegisterLocation::File(path))
        .await
        .context("cannot open the demo register")?;
    match registry.count().await? {
        n if n == citizens => {}
        0 => {
            registry
                .load_synthetic(citizens, seed)
                .await
                .context("cannot generate the demo register")?;
        }
        n => bail!(
            "the demo register in {} holds {n} citizens, not {citizens}: remove it or use \
             another --data-dir",
            dir.display()
        ),
    }
    Ok(registry)
}
