//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The eID daemon.
#[derive(Debug, Parser)]
#[command(name = "eid-server", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, env = "EID_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Log line format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded demo: synthetic register, SQLite and in-memory stores, no setup.
    Demo(DemoArgs),
    /// Run the production server described by a configuration file.
    Serve(ConfigArgs),
    /// Signing key tools.
    Keys {
        /// What to do with the key ring.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Configuration tools.
    Config {
        /// What to do with the configuration.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Population register tools.
    Registry {
        /// What to do with the register.
        #[command(subcommand)]
        command: RegistryCommand,
    },
}

/// Options of `eid-server demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Port on 127.0.0.1 (0 picks a free one). The issuer is `http://localhost:PORT`.
    #[arg(long, env = "EID_DEMO_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Number of synthetic citizens in the demo register.
    #[arg(long, default_value_t = 10_000)]
    pub citizens: u64,
    /// Seed of the synthetic register (the same seed gives the same citizens).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory for the demo's SQLite files (default: a new temporary directory, removed
    /// at exit).
    #[arg(long, env = "EID_DEMO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Register subcommands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Write a synthetic register to an SQLite file and report how long loading took.
    Generate(GenerateArgs),
}

/// Options of `eid-server registry generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of citizens.
    #[arg(long)]
    pub citizens: u64,
    /// Seed (the same seed gives the same citizens).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// SQLite file to write (must not exist).
    #[arg(long)]
    pub out: PathBuf,
}

/// The configuration file option shared by `serve`, `keys` and `config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The TOML configuration file (`EID_*` variables override its settings).
    #[arg(long, env = "EID_CONFIG")]
    pub config: PathBuf,
}

/// Key ring subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Publish the key the next rotation activates (do this at least one JWKS cache
    /// lifetime before rotating).
    Stage(ConfigArgs),
    /// Make a new key sign; the previous one stays published as retiring.
    Rotate(ConfigArgs),
}

/// Configuration subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration: print `ok` or every error.
    Check(ConfigArgs),
}
