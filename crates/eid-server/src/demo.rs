//! `eid-server demo`: everything embedded, nothing to install.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use eid_core::registry::{EmbeddedRegistry, RegisterLocation};
use eid_core::store::{MemoryEphemeral, SqliteStore};
use eid_core::token::KeyRing;

use crate::cli::DemoArgs;
use crate::{app, ops};

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

    let durable = SqliteStore::open_file(&data_dir.join("eid.sqlite"))
        .await
        .context("cannot open the demo's durable store")?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let port = listener.local_addr()?.port();
    // WebAuthn accepts `localhost` as a secure origin and RP ID, not a bare IP address.
    let issuer = format!("http://localhost:{port}");

    // The demo's signing key lives only as long as the process.
    let keys = KeyRing::generate().context("cannot generate the demo's signing key")?;
    let app = app::router(
        ops::OpsState {
            durable: Arc::new(durable),
            ephemeral: Arc::new(MemoryEphemeral::new()),
            registry: Arc::new(registry),
        },
        app::jwks_json(&keys)?,
    );

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
    let shutdown = app::shutdown_signal()?;
    println!("ready (Ctrl-C stops)");
    tracing::info!(%issuer, citizens, "demo listening");

    app::serve(listener, app, shutdown).await?;
    tracing::info!("demo stopped");
    Ok(())
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
