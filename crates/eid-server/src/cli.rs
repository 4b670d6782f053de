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
    /// Manage the relying parties (`[[clients]]`) in the configuration file.
    Clients {
        /// What to do with the clients.
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Manage the SAML service providers (`[[saml.service_providers]]`) in the
    /// configuration file.
    Saml {
        /// What to do with the service providers.
        #[command(subcommand)]
        command: SamlCommand,
    },
    /// Citizens' accounts.
    Accounts {
        /// What to do with the accounts.
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Citizens' eKYC records and the verifiable credentials issued from them.
    Credentials {
        /// What to do with the credentials.
        #[command(subcommand)]
        command: CredentialsCommand,
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
    /// Serve a register file over gRPC (`proto/eid/registry/v1/registry.proto`): the
    /// reference register. Callers must send `authorization: Bearer $EID_REGISTRY_TOKEN`.
    Serve(RegistryServeArgs),
    /// Record a status change of a citizen in a register file: the record is updated and
    /// the change appended to the change log in one transaction; a running `registry
    /// serve` streams it to its `WatchStatus` watchers.
    RecordChange(RecordChangeArgs),
}

/// Options of `eid-server registry record-change`.
#[derive(Debug, Args)]
pub struct RecordChangeArgs {
    /// SQLite register file; must exist.
    #[arg(long)]
    pub register: PathBuf,
    /// The citizen's 12-digit personal ID number.
    pub personal_id: String,
    /// What happened.
    pub kind: ChangeKindArg,
    /// The new number (with `number-replaced` only).
    #[arg(long)]
    pub new_number: Option<String>,
}

/// A register status change, as `registry record-change` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChangeKindArg {
    /// The citizen died.
    Deceased,
    /// The citizen's card was revoked.
    CardRevoked,
    /// The citizen's number was replaced by `--new-number`.
    NumberReplaced,
}

/// Options of `eid-server registry serve`. The bearer token is read from the environment
/// variable `EID_REGISTRY_TOKEN` only (a command-line argument would show in `ps`).
#[derive(Debug, Args)]
pub struct RegistryServeArgs {
    /// SQLite register file (e.g. written by `registry generate`); must exist.
    #[arg(long)]
    pub register: PathBuf,
    /// Address to listen on, e.g. `127.0.0.1:50051` (port 0 picks a free one; the address
    /// is printed once listening).
    #[arg(long)]
    pub listen: String,
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

/// Client subcommands: they edit the configuration file in place, keeping its comments.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a relying party; prints its generated client secret once.
    Add(ClientAddArgs),
    /// List the registered relying parties (never their secrets).
    List(ConfigArgs),
    /// Remove a relying party.
    Remove(ClientRemoveArgs),
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMethod {
    /// HTTP Basic with a generated secret.
    #[value(name = "client_secret_basic")]
    ClientSecretBasic,
    /// A generated secret in the request body.
    #[value(name = "client_secret_post")]
    ClientSecretPost,
    /// A JWT signed with the client's key (give its public keys with --jwks-file).
    #[value(name = "private_key_jwt")]
    PrivateKeyJwt,
    /// A public client (PKCE only).
    #[value(name = "none")]
    None,
}

impl AuthMethod {
    /// The `token_endpoint_auth_method` name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }
}

/// Which `sub` a client receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SubjectTypeArg {
    /// A `sub` of its own per sector (the host of its redirect URIs).
    Pairwise,
    /// The same `sub` as every public client.
    Public,
}

/// Options of `eid-server clients add`.
#[derive(Debug, Args)]
pub struct ClientAddArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The new client's identifier (unique).
    #[arg(long)]
    pub client_id: String,
    /// The name shown to citizens.
    #[arg(long)]
    pub name: String,
    /// A redirect URI (repeat for several); compared exactly.
    #[arg(long = "redirect-uri", required = true)]
    pub redirect_uris: Vec<String>,
    /// Token endpoint authentication.
    #[arg(long, value_enum, default_value = "client_secret_basic")]
    pub auth: AuthMethod,
    /// The client's public keys (a JSON Web Key Set file), for private_key_jwt.
    #[arg(long)]
    pub jwks_file: Option<PathBuf>,
    /// A scope the client may request (repeat; default openid).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Which `sub` the client receives.
    #[arg(long, value_enum, default_value = "pairwise")]
    pub subject_type: SubjectTypeArg,
    /// Require pushed authorization requests (RFC 9126).
    #[arg(long)]
    pub require_par: bool,
    /// A URI the client may be sent to after logout (repeat for several).
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Allow the client credentials grant (confidential clients only).
    #[arg(long)]
    pub client_credentials: bool,
}

/// Options of `eid-server clients remove`.
#[derive(Debug, Args)]
pub struct ClientRemoveArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The client to remove.
    #[arg(long)]
    pub client_id: String,
}

/// Account subcommands.
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Enrol a citizen found active in the register (a registrar's task): creates the
    /// account or replaces its password. The password is read from stdin (one line).
    Add(AccountAddArgs),
    /// Suspend an account: it signs in nowhere, and its live tokens stop working at once.
    Suspend(AccountStatusArgs),
    /// Make a suspended or locked account active again.
    Resume(AccountStatusArgs),
}

/// SAML service provider subcommands.
#[derive(Debug, Subcommand)]
pub enum SamlCommand {
    /// Register a service provider from its metadata (a file, or an https URL fetched
    /// now, never at request time): the metadata is stored next to the configuration and
    /// an entry is added to it. Check the printed certificate fingerprints with the
    /// service provider before restarting the servers.
    AddSp(SamlAddSpArgs),
    /// List the registered service providers.
    ListSps(ConfigArgs),
    /// Remove a service provider (its metadata file is left in place).
    RemoveSp(SamlRemoveSpArgs),
}

/// How a service provider's attributes are named.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AttributeProfileArg {
    /// The OpenID Connect claim names (`family_name`, `birthdate`, …).
    Claims,
    /// The eIDAS natural-person minimum dataset (needs the profile and birthdate scopes).
    Eidas,
}

/// Options of `eid-server saml add-sp`.
#[derive(Debug, Args)]
pub struct SamlAddSpArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The service provider's metadata: a file, or an https URL.
    #[arg(long)]
    pub metadata: String,
    /// Its name on the citizen's consent and account pages.
    #[arg(long)]
    pub name: String,
    /// The scopes whose attributes it may receive (repeat the option or separate with
    /// commas): profile, birthdate, gender, address, personal_id.
    #[arg(long, value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// How its attributes are named.
    #[arg(long, value_enum, default_value = "claims")]
    pub attribute_profile: AttributeProfileArg,
    /// Accept its unsigned requests (by default every request must be signed).
    #[arg(long)]
    pub allow_unsigned_requests: bool,
    /// Do not encrypt its assertions (by default they are encrypted when its metadata
    /// has an RSA encryption certificate).
    #[arg(long)]
    pub no_encryption: bool,
    /// How responses to it are signed (default: ECDSA-SHA256 when its metadata lists it
    /// and `[saml]` has an ECDSA key, else RSA-SHA256).
    #[arg(long, value_enum)]
    pub signature_algorithm: Option<SignatureAlgorithmArg>,
}

/// A signature algorithm of SAML responses.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SignatureAlgorithmArg {
    /// RSA-SHA256.
    RsaSha256,
    /// ECDSA-SHA256 (P-256).
    EcdsaSha256,
}

/// Options of `eid-server saml remove-sp`.
#[derive(Debug, Args)]
pub struct SamlRemoveSpArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The service provider's entity ID.
    #[arg(long)]
    pub entity_id: String,
}

/// Options of `eid-server accounts suspend|resume`.
#[derive(Debug, Args)]
pub struct AccountStatusArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The citizen's personal ID number (12 digits).
    #[arg(long)]
    pub personal_id: String,
}

/// Options of `eid-server accounts add`.
#[derive(Debug, Args)]
pub struct AccountAddArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The citizen's personal ID number (12 digits).
    #[arg(long)]
    pub personal_id: String,
    /// How the registrar established the citizen's identity.
    #[arg(long, value_enum, default_value = "register-match")]
    pub evidence: EvidenceArg,
}

/// Identity proofing done by a registrar.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EvidenceArg {
    /// The citizen's data matched the register (a national level 1 account: substantial).
    RegisterMatch,
    /// The citizen came to a registration counter with the ID card, portrait and
    /// fingerprints checked (a national level 2 account: high).
    InPerson,
}

/// Credential subcommands. A credential's status is its eKYC record's: these change the
/// record, and every credential issued from it follows in the status lists.
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// List the eKYC records and issued credentials, with the status each publishes.
    List(CredentialTargetArgs),
    /// Suspend the active eKYC records (their credentials read SUSPENDED).
    Suspend(CredentialTargetArgs),
    /// Make suspended eKYC records active again (their credentials read VALID).
    Resume(CredentialTargetArgs),
    /// Revoke the eKYC records for good (their credentials read INVALID).
    Revoke(CredentialTargetArgs),
}

/// Options of `eid-server credentials list|suspend|resume|revoke`: whose records.
#[derive(Debug, Args)]
pub struct CredentialTargetArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Every eKYC record of the account of this personal ID number (12 digits).
    #[arg(long, required_unless_present = "record", conflicts_with = "record")]
    pub personal_id: Option<String>,
    /// One eKYC record, by its id (as `list` prints it).
    #[arg(long)]
    pub record: Option<String>,
}
