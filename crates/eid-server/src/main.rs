//! `eid-server`: the eID daemon.
//!
//! `eid-server demo` runs everything embedded (a synthetic population register on SQLite,
//! an SQLite durable store, an in-memory ephemeral store) on `http://localhost:8080`.
//! `eid-server serve --config eid.toml` runs the production server; `keys stage`, `keys
//! rotate` and `config check` manage its key ring and configuration.
//! `eid-server registry generate` writes a synthetic register file; `registry serve` serves
//! one over gRPC. `clients add|list|remove`
//! edit the configuration's relying parties; `accounts add` enrols a citizen;
//! `credentials list|suspend|resume|revoke` manage eKYC records and issued credentials.

use std::process::ExitCode;

use clap::Parser;
use eid_core::credential::ekyc::EkycStatus;
use eid_core::store::AccountStatus;
use eid_server::{
    accounts, cli, clients_cmd, credentials_cmd, demo, logging, registry_cmd, saml_cmd, serve,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.log_format);
    let result = match cli.command {
        cli::Command::Demo(args) => demo::run(args).await,
        cli::Command::Serve(args) => serve::run(args).await,
        cli::Command::Keys {
            command: cli::KeysCommand::Stage(args),
        } => serve::stage_key(args),
        cli::Command::Keys {
            command: cli::KeysCommand::Rotate(args),
        } => serve::rotate_keys(args),
        cli::Command::Config {
            command: cli::ConfigCommand::Check(args),
        } => serve::check(args),
        cli::Command::Registry {
            command: cli::RegistryCommand::Generate(args),
        } => registry_cmd::generate(args).await,
        cli::Command::Registry {
            command: cli::RegistryCommand::Serve(args),
        } => registry_cmd::serve(args).await,
        cli::Command::Registry {
            command: cli::RegistryCommand::RecordChange(args),
        } => registry_cmd::record_change(args).await,
        cli::Command::Clients { command } => match command {
            cli::ClientsCommand::Add(args) => clients_cmd::add(args),
            cli::ClientsCommand::List(args) => clients_cmd::list(args),
            cli::ClientsCommand::Remove(args) => clients_cmd::remove(args),
        },
        cli::Command::Saml { command } => match command {
            cli::SamlCommand::AddSp(args) => saml_cmd::add_sp(args).await,
            cli::SamlCommand::ListSps(args) => saml_cmd::list_sps(args),
            cli::SamlCommand::RemoveSp(args) => saml_cmd::remove_sp(args),
        },
        cli::Command::Accounts {
            command: cli::AccountsCommand::Add(args),
        } => accounts::add(args).await,
        cli::Command::Accounts {
            command: cli::AccountsCommand::Suspend(args),
        } => accounts::change_status(args, AccountStatus::Suspended).await,
        cli::Command::Accounts {
            command: cli::AccountsCommand::Resume(args),
        } => accounts::change_status(args, AccountStatus::Active).await,
        cli::Command::Credentials { command } => match command {
            cli::CredentialsCommand::List(args) => credentials_cmd::list(args).await,
            cli::CredentialsCommand::Suspend(args) => {
                credentials_cmd::change_status(args, EkycStatus::Suspended).await
            }
            cli::CredentialsCommand::Resume(args) => {
                credentials_cmd::change_status(args, EkycStatus::Active).await
            }
            cli::CredentialsCommand::Revoke(args) => {
                credentials_cmd::change_status(args, EkycStatus::Revoked).await
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("eid-server: {err:#}");
            ExitCode::FAILURE
        }
    }
}
