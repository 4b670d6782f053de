//! Citizen enrolment by a registrar, and `eid-server accounts add`.
//!
//! A registrar who has checked a citizen gives the citizen's personal ID number and a
//! first password. The register must hold the number with status active; the account is
//! created (or, when it exists, its password replaced, so enrolling again is harmless), and
//! an eKYC record backed by the register match is issued unless a valid one exists. Every
//! change is written to the audit log as the work of the service ([`Actor::System`]).

use std::io::{BufRead as _, IsTerminal as _, Read as _};

use anyhow::{Context as _, bail};
use eid_core::assurance::{Loa, ProofingEvidence};
use eid_core::audit::{Actor, AuditEvent, AuditRecord, Outcome};
use eid_core::citizen::PersonalId;
use eid_core::credential::ekyc::EkycRecord;
use eid_core::credential::password::{MAX_PASSWORD_BYTES, Password, PasswordHasher};
use eid_core::registry::{Authorisation, PopulationRegistry, RecordStatus, RegistryError};
use eid_core::store::{Account, AccountId, AccountStatus, DurableStore, StoreError, Unique};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::cli::{AccountAddArgs, AccountStatusArgs, EvidenceArg};
use crate::config::{ConfigError, RegisterConfig, ToolSettings};
use crate::register::Register;
use crate::serve;

/// How long the eKYC record of a registrar enrolment stays valid.
pub const ENROLMENT_EKYC_VALIDITY: Duration = Duration::days(5 * 365);

/// Who fetches the register record, for the register's log.
const CALLER: &str = "eid-server/accounts";
/// Why.
const PURPOSE: &str = "registrar enrolment";

/// Enrols the citizen holding `personal_id` with `password`: the register record must
/// exist and be active. Creates the account, or replaces the password of an existing one
/// (its status is left as it is); issues a register-match eKYC record at level
/// substantial, valid [`ENROLMENT_EKYC_VALIDITY`], unless the account has a valid record.
/// Errors name the number masked only.
pub async fn enrol(
    durable: &dyn DurableStore,
    registry: &dyn PopulationRegistry,
    hasher: &PasswordHasher,
    personal_id: &PersonalId,
    password: Password,
) -> anyhow::Result<Account> {
    let proofing = ProofingEvidence::RegisterMatch;
    enrol_with(durable, registry, hasher, personal_id, password, proofing).await
}

/// [`enrol`], with the registrar's `proofing`: a register match, or the citizen in person
/// at a registration counter with the ID card (a national level 2 account, level high).
pub async fn enrol_with(
    durable: &dyn DurableStore,
    registry: &dyn PopulationRegistry,
    hasher: &PasswordHasher,
    personal_id: &PersonalId,
    password: Password,
    proofing: ProofingEvidence,
) -> anyhow::Result<Account> {
    let authorisation = Authorisation::new(CALLER, PURPOSE)?;
    let record = match registry.fetch(personal_id, &authorisation).await {
        Ok(record) => record,
        Err(RegistryError::NotFound) => {
            bail!("the register holds no citizen with the number {personal_id}")
        }
        Err(err) => return Err(err).context("cannot query the population register"),
    };
    if record.status != RecordStatus::Active {
        bail!(
            "the register record of {personal_id} is {}: only active citizens can be enrolled",
            record.status
        );
    }
    let evidence = match proofing {
        ProofingEvidence::InPerson => serde_json::json!({
            "register": { "status": "active", "by": "registrar" },
            "in_person": { "document": "citizen ID card", "by": "registrar" }
        }),
        _ => serde_json::json!({ "register": { "status": "active", "by": "registrar" } }),
    };
    proofed_account(durable, hasher, personal_id, password, proofing, evidence).await
}

/// The account of `personal_id`, created if there is none, with `password` set and, unless
/// it has a valid one at least as strong, an eKYC record of `proofing` at the level it
/// supports carrying `evidence` (what was checked), valid [`ENROLMENT_EKYC_VALIDITY`].
/// Every change is audited as the work of the service.
pub async fn proofed_account(
    durable: &dyn DurableStore,
    hasher: &PasswordHasher,
    personal_id: &PersonalId,
    password: Password,
    proofing: ProofingEvidence,
    evidence: serde_json::Value,
) -> anyhow::Result<Account> {
    let account = account(durable, personal_id).await?;
    let phc = hasher
        .hash(password)
        .await
        .context("cannot hash the password")?;
    durable.set_password(account.id, &phc).await?;
    audit(durable, AuditEvent::CredentialAdded, account.id, None).await?;

    let now = OffsetDateTime::now_utc();
    let proofed = durable
        .ekyc_records(account.id)
        .await?
        .iter()
        .any(|record| record.is_valid_at(now) && record.loa >= proofing.cap());
    if !proofed {
        let ekyc = EkycRecord::issue(
            account.id,
            proofing,
            proofing.cap(),
            evidence,
            now,
            now + ENROLMENT_EKYC_VALIDITY,
        )?;
        durable.insert_ekyc(&ekyc).await?;
        audit(
            durable,
            AuditEvent::IdentityProofed,
            account.id,
            Some(ekyc.loa),
        )
        .await?;
    }
    Ok(account)
}

/// The citizen's account, created (and audited) if there is none.
async fn account(durable: &dyn DurableStore, personal_id: &PersonalId) -> anyhow::Result<Account> {
    if let Some(account) = durable.find_account(personal_id).await? {
        return Ok(account);
    }
    match durable.create_account(personal_id).await {
        Ok(account) => {
            audit(durable, AuditEvent::AccountCreated, account.id, None).await?;
            Ok(account)
        }
        // Enrolled concurrently: use that account.
        Err(StoreError::Duplicate(Unique::PersonalId)) => durable
            .find_account(personal_id)
            .await?
            .context("the account created concurrently disappeared"),
        Err(err) => Err(err.into()),
    }
}

pub(crate) async fn audit(
    durable: &dyn DurableStore,
    event: AuditEvent,
    subject: AccountId,
    loa: Option<Loa>,
) -> anyhow::Result<()> {
    let mut record = AuditRecord::new(event, Actor::System, Outcome::Success);
    record.subject = Some(subject);
    record.loa = loa;
    durable
        .append_audit(record)
        .await
        .context("cannot write the audit log")?;
    Ok(())
}

/// `eid-server accounts add`: reads the password from stdin, opens the durable store and
/// the register of the configuration and enrols the citizen.
pub async fn add(args: AccountAddArgs) -> anyhow::Result<()> {
    let settings = ToolSettings::load(&args.config.config).map_err(|err: ConfigError| {
        anyhow::anyhow!("configuration {}: {err}", args.config.config.display())
    })?;
    let personal_id = PersonalId::parse(args.personal_id.trim())
        .map_err(|err| anyhow::anyhow!("--personal-id: {err}"))?;
    let password = read_password()?;
    // Opening a missing register file would create an empty one.
    if let RegisterConfig::File(file) = &settings.register
        && !file.is_file()
    {
        bail!(
            "the register {} does not exist (see `eid-server registry generate`)",
            file.display()
        );
    }
    let durable = serve::open_durable(&settings.durable).await?;
    let registry = Register::open(&settings.register).await?.port();
    let hasher =
        PasswordHasher::new(settings.password, 1, 0).context("cannot set up password hashing")?;
    let proofing = match args.evidence {
        EvidenceArg::RegisterMatch => ProofingEvidence::RegisterMatch,
        EvidenceArg::InPerson => ProofingEvidence::InPerson,
    };
    let account = enrol_with(
        durable.as_ref(),
        registry.as_ref(),
        &hasher,
        &personal_id,
        password,
        proofing,
    )
    .await?;
    println!("enrolled {personal_id}: account {}", account.id);
    Ok(())
}

/// Sets the status of `personal_id`'s account (audited as the service's act); `false` when
/// it already had it.
pub async fn set_status(
    durable: &dyn DurableStore,
    personal_id: &PersonalId,
    status: AccountStatus,
) -> anyhow::Result<bool> {
    let account = durable
        .find_account(personal_id)
        .await?
        .with_context(|| format!("{personal_id} has no account"))?;
    if account.status == status {
        return Ok(false);
    }
    durable.set_account_status(account.id, status).await?;
    audit(durable, AuditEvent::AccountStatusChanged, account.id, None).await?;
    Ok(true)
}

/// `eid-server accounts suspend|resume`.
pub async fn change_status(args: AccountStatusArgs, status: AccountStatus) -> anyhow::Result<()> {
    let settings = ToolSettings::load(&args.config.config).map_err(|err: ConfigError| {
        anyhow::anyhow!("configuration {}: {err}", args.config.config.display())
    })?;
    let personal_id = PersonalId::parse(args.personal_id.trim())
        .map_err(|err| anyhow::anyhow!("--personal-id: {err}"))?;
    let durable = serve::open_durable(&settings.durable).await?;
    if set_status(durable.as_ref(), &personal_id, status).await? {
        println!("{personal_id}: account {}", status.as_str());
    } else {
        println!("{personal_id}: account already {}", status.as_str());
    }
    Ok(())
}

/// One line from stdin, without its line ending; never echoed back.
fn read_password() -> anyhow::Result<Password> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Password (one line; it is echoed, prefer a pipe):");
    }
    let mut line = Zeroizing::new(String::new());
    // Room for the longest password and its line ending: a longer line is refused below.
    let limit = (MAX_PASSWORD_BYTES + 2) as u64;
    stdin
        .lock()
        .take(limit)
        .read_line(&mut line)
        .context("cannot read the password from stdin (one line of UTF-8)")?;
    let password = line
        .strip_suffix('\n')
        .map(|rest| rest.strip_suffix('\r').unwrap_or(rest));
    let password = match password {
        Some(password) => password,
        None if (line.len() as u64) < limit => &line,
        None => bail!("the password is longer than {MAX_PASSWORD_BYTES} bytes"),
    };
    Password::new(password).map_err(|err| anyhow::anyhow!("the password on stdin: {err}"))
}

#[cfg(test)]
mod tests;
