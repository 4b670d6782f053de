//! `eid-server credentials list|suspend|resume|revoke`: an operator's view and control of
//! a citizen's eKYC records and of the verifiable credentials issued from them.
//!
//! A credential's status list entry reads its eKYC record's status
//! ([`eid_core::store::entry_status`]), so suspending, resuming or revoking the record
//! changes every credential issued from it, and the next Status List Token any instance
//! serves says so. Each change is audited (`ekyc_status_changed`, by the service).

use anyhow::Context as _;
use eid_core::audit::{Actor, AuditEvent, AuditRecord, Outcome};
use eid_core::citizen::PersonalId;
use eid_core::credential::ekyc::{EkycRecord, EkycStatus};
use eid_core::store::{DurableStore, EkycId, EntrySource, entry_status};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::CredentialTargetArgs;
use crate::config::{ConfigError, ToolSettings};
use crate::serve;

/// Whose eKYC records a command is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every record of the account of this number.
    Account(PersonalId),
    /// One record.
    Record(EkycId),
}

impl Target {
    fn from_args(args: &CredentialTargetArgs) -> anyhow::Result<Self> {
        match (&args.personal_id, &args.record) {
            (Some(number), None) => PersonalId::parse(number.trim())
                .map(Target::Account)
                .map_err(|err| anyhow::anyhow!("--personal-id: {err}")),
            (None, Some(record)) => record
                .trim()
                .parse()
                .map(Target::Record)
                .map_err(|_| anyhow::anyhow!("--record: not an eKYC record id")),
            _ => anyhow::bail!("give either --personal-id or --record"),
        }
    }

    /// The records the target names, newest first.
    async fn records(&self, durable: &dyn DurableStore) -> anyhow::Result<Vec<EkycRecord>> {
        match self {
            Target::Account(number) => {
                let account = durable
                    .find_account(number)
                    .await?
                    .with_context(|| format!("{number} has no account"))?;
                Ok(durable.ekyc_records(account.id).await?)
            }
            Target::Record(id) => Ok(vec![
                durable
                    .ekyc(*id)
                    .await
                    .with_context(|| format!("no eKYC record {id}"))?,
            ]),
        }
    }
}

/// Moves the target's records that can make the move to `to` (active ⇄ suspended, either
/// → revoked) at `now`, each audited as the service's act. Returns the changed records;
/// none when every record already has that status or cannot leave its own (revoked).
pub async fn set_status(
    durable: &dyn DurableStore,
    target: &Target,
    to: EkycStatus,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<EkycRecord>> {
    let mut changed = Vec::new();
    for record in target.records(durable).await? {
        if record.status.transition(to).is_err() {
            continue;
        }
        let record = durable.set_ekyc_status(record.id, to, now).await?;
        let mut audit = AuditRecord::new(
            AuditEvent::EkycStatusChanged,
            Actor::System,
            Outcome::Success,
        );
        audit.subject = Some(record.account_id);
        audit.loa = Some(record.loa);
        durable
            .append_audit(audit)
            .await
            .context("cannot write the audit log")?;
        changed.push(record);
    }
    Ok(changed)
}

/// One line per eKYC record of the target, then one per credential issued from it with
/// the status its entry publishes at `now`. Identifiers and times only.
pub async fn describe(
    durable: &dyn DurableStore,
    target: &Target,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for record in target.records(durable).await? {
        let account = durable.account(record.account_id).await?;
        lines.push(format!(
            "ekyc {}  {}  level {}  {}  expires {}",
            record.id,
            record.status,
            record.loa.as_str(),
            if record.expires_at <= now {
                "expired"
            } else {
                "in force"
            },
            rfc3339(record.expires_at),
        ));
        for credential in durable.credentials_of_ekyc(record.id).await? {
            let source = EntrySource {
                index: credential.index,
                expires_at: credential.expires_at,
                ekyc: Some((record.status, record.expires_at)),
                account: Some(account.status),
            };
            lines.push(format!(
                "  credential {}  list {} index {}  issued {}  expires {}  status {:?}",
                credential.id,
                credential.list,
                credential.index,
                rfc3339(credential.issued_at),
                rfc3339(credential.expires_at),
                entry_status(&source, now),
            ));
        }
    }
    Ok(lines)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

async fn open(
    args: &CredentialTargetArgs,
) -> anyhow::Result<(std::sync::Arc<dyn DurableStore>, Target)> {
    let settings = ToolSettings::load(&args.config.config).map_err(|err: ConfigError| {
        anyhow::anyhow!("configuration {}: {err}", args.config.config.display())
    })?;
    let target = Target::from_args(args)?;
    Ok((serve::open_durable(&settings.durable).await?, target))
}

/// `eid-server credentials list`.
pub async fn list(args: CredentialTargetArgs) -> anyhow::Result<()> {
    let (durable, target) = open(&args).await?;
    let lines = describe(durable.as_ref(), &target, OffsetDateTime::now_utc()).await?;
    if lines.is_empty() {
        println!("no eKYC record");
    }
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// `eid-server credentials suspend|resume|revoke`.
pub async fn change_status(args: CredentialTargetArgs, to: EkycStatus) -> anyhow::Result<()> {
    let (durable, target) = open(&args).await?;
    let changed = set_status(durable.as_ref(), &target, to, OffsetDateTime::now_utc()).await?;
    if changed.is_empty() {
        println!("no eKYC record could become {to}");
    }
    for record in changed {
        let credentials = durable.credentials_of_ekyc(record.id).await?.len();
        println!(
            "ekyc {}: {to} ({credentials} credential(s) follow)",
            record.id
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
