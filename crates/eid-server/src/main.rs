//! `eid-server`: the eID daemon.
//!
//! `eid-server demo` runs everything embedded (a synthetic population register on SQLite,
//! an SQLite durable store, an in-memory ephemeral store) on `http://localhost:8080`.
//! `eid-server registry generate` writes a synthetic register file.

mod cli;
mod demo;
mod logging;
mod metrics;
mod ops;
mod registry_cmd;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.log_format);
    let result = match cli.command {
        cli::Command::Demo(args) => demo::run(args).await,
        cli::Command::Registry {
            command: cli::RegistryCommand::Generate(args),
        } => registry_cmd::generate(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("eid-server: {err:#}");
            ExitCode::FAILURE
        }
    }
}
