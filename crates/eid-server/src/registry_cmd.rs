//! `eid-server registry …`: population register tools.

use std::time::Instant;

use anyhow::{Context as _, bail};
use eid_core::registry::{EmbeddedRegistry, RegisterLocation};

use crate::cli::{GenerateArgs, RegistryServeArgs};
use crate::registry_server::{self, StatusFeed};

/// The environment variable holding the register server's bearer token.
pub const TOKEN_VAR: &str = "EID_REGISTRY_TOKEN";

/// Serves an existing register file over gRPC until SIGINT or SIGTERM.
pub async fn serve(args: RegistryServeArgs) -> anyhow::Result<()> {
    let token = zeroize::Zeroizing::new(std::env::var(TOKEN_VAR).unwrap_or_default());
    if token.trim().is_empty() {
        bail!("set {TOKEN_VAR} to the bearer token callers must present");
    }
    if !args.register.is_file() {
        bail!(
            "{} is not a register file (write one with `eid-server registry generate`)",
            args.register.display()
        );
    }
    let registry = EmbeddedRegistry::open(RegisterLocation::File(args.register.clone()))
        .await
        .with_context(|| format!("cannot open {}", args.register.display()))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let citizens = registry.count().await?;
    // Installed before announcing readiness (see `shutdown_signal`).
    let shutdown = crate::app::shutdown_signal()?;
    println!("register of {citizens} citizens serving gRPC on {address}");
    tracing::info!(%address, citizens, "register serving");
    registry_server::serve(listener, registry, &token, StatusFeed::new(), shutdown).await
}

/// Writes a synthetic register to a new SQLite file and reports the loading time.
pub async fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    if args.out.exists() {
        bail!(
            "{} already exists: choose a new file or remove it",
            args.out.display()
        );
    }
    let started = Instant::now();
    let citizens = match write_synthetic(&args).await {
        Ok(citizens) => citizens,
        Err(err) => {
            // Leave no partial register behind: a rerun would refuse the existing file.
            for suffix in ["", "-wal", "-shm"] {
                let mut file = args.out.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
            return Err(err);
        }
    };
    println!(
        "{citizens} citizens (seed {}) written to {} in {:.2} s",
        args.seed,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn write_synthetic(args: &GenerateArgs) -> anyhow::Result<u64> {
    let registry = EmbeddedRegistry::open(RegisterLocation::File(args.out.clone()))
        .await
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    registry
        .load_synthetic(args.citizens, args.seed)
        .await
        .context("cannot generate the register")?;
    Ok(registry.count().await?)
}
