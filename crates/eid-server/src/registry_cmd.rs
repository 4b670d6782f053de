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
    let registry = EmbeddedRegistry::open(RegisterLocation::File(args.out.clone()))
        .await
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    registry
        .load_synthetic(args.citizens, args.seed)
        .await
        .context("cannot generate the register")?;
    let citizens = registry.count().await?;
    println!(
        "{citizens} citizens (seed {}) written to {} in {:.2} s",
        args.seed,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
