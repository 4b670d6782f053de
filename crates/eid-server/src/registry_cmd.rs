//! `eid-server registry …`: population register tools.

use std::time::Instant;

use anyhow::{Context as _, bail};
use eid_core::registry::{EmbeddedRegistry, RegisterLocation};

use crate::cli::GenerateArgs;

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
