//! `eid-server registry …`: population register tools.

use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::ValueEnum as _;
use eid_core::citizen::PersonalId;
use eid_core::registry::{EmbeddedRegistry, RegisterLocation, StatusChangeKind};

use crate::cli::{ChangeKindArg, GenerateArgs, RecordChangeArgs, RegistryServeArgs};
use crate::registry_server;

/// The environment variable holding the register server's bearer token.
pub const TOKEN_VAR: &str = "EID_REGISTRY_TOKEN";

/// Serves an existing register file over gRPC until SIGINT or SIGTERM.
pub async fn serve(args: RegistryServeArgs) -> anyhow::Result<()> {
    let token = zeroize::Zeroizing::new(std::env::var(TOKEN_VAR).unwrap_or_default());
    if token.trim().is_empty() {
        bail!("set {TOKEN_VAR} to the bearer token callers must present");
    }
    let registry = open_existing(&args.register).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let citizens = registry.count().await?;
    // Installed before announcing readiness (see `shutdown_signal`).
    let shutdown = crate::app::shutdown_signal()?;
    println!("register of {citizens} citizens serving gRPC on {address}");
    tracing::info!(%address, citizens, "register serving");
    registry_server::serve(listener, registry, &token, shutdown).await
}

/// Records a status change in an existing register file and prints its sequence number.
pub async fn record_change(args: RecordChangeArgs) -> anyhow::Result<()> {
    let personal_id = PersonalId::parse(args.personal_id.trim())
        .map_err(|err| anyhow::anyhow!("personal ID number: {err}"))?;
    let kind = match (args.kind, args.new_number) {
        (ChangeKindArg::NumberReplaced, Some(number)) => StatusChangeKind::NumberReplaced {
            replacement: PersonalId::parse(number.trim())
                .map_err(|err| anyhow::anyhow!("--new-number: {err}"))?,
        },
        (ChangeKindArg::NumberReplaced, None) => {
            bail!("number-replaced needs --new-number")
        }
        (_, Some(_)) => bail!("--new-number is used only with number-replaced"),
        (ChangeKindArg::Deceased, None) => StatusChangeKind::Deceased,
        (ChangeKindArg::CardRevoked, None) => StatusChangeKind::CardRevoked,
    };
    if let StatusChangeKind::NumberReplaced { replacement } = kind
        && replacement == personal_id
    {
        bail!("--new-number is the number being replaced");
    }
    let registry = open_existing(&args.register).await?;
    let change = registry
        .record_change(&personal_id, kind)
        .await
        .context("cannot record the change")?;
    println!(
        "change {} recorded: {}",
        change.sequence,
        args.kind
            .to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_owned())
    );
    Ok(())
}

/// Opens a register file that must exist (opening a missing one would create it empty).
async fn open_existing(path: &std::path::Path) -> anyhow::Result<EmbeddedRegistry> {
    if !path.is_file() {
        bail!(
            "{} is not a register file (write one with `eid-server registry generate`)",
            path.display()
        );
    }
    EmbeddedRegistry::open(RegisterLocation::File(path.to_owned()))
        .await
        .with_context(|| format!("cannot open {}", path.display()))
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
