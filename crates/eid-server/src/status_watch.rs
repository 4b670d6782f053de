//! Follows a gRPC population register's status changes (`WatchStatus`) and acts on the
//! citizens who have an account (issue 5, "automatic suspension when `WatchStatus` reports
//! the record deceased or the card revoked"):
//!
//! - **Deceased** or **card revoked**: the account is suspended (its live tokens become
//!   inactive at once, new logins are refused) and its active eKYC records are suspended.
//!   Audited: [`AuditEvent::RegisterStatusChanged`], then an
//!   [`AuditEvent::AccountStatusChanged`] and one [`AuditEvent::EkycStatusChanged`] per
//!   record.
//! - **Number replaced**: audited ([`AuditEvent::RegisterNumberReplaced`]) and logged with
//!   the account's id for an operator, nothing else: moving an account to another number is
//!   an identity decision, not a mechanical one. Meanwhile the old number's register
//!   record is gone, so UserInfo releases nothing for it.
//! - A number without an account is ignored.
//!
//! The sequence number of the last change handled is kept in the durable store
//! ([`RegisterWatchStore`](eid_core::store::RegisterWatchStore)); the watcher resumes after
//! it (`after_sequence`) whenever it (re)connects, so changes made while the daemon or the
//! register was down are not lost. A change whose handling fails (the store is down) is not
//! marked handled: the watcher reconnects and gets it again. Handling is idempotent. Logs
//! carry sequence numbers and account ids, never a personal ID number.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use eid_core::audit::AuditEvent;
use eid_core::credential::ekyc::EkycStatus;
use eid_core::registry::EmbeddedRegistry;
use eid_core::registry::grpc::GrpcRegistry;
use eid_core::registry::{StatusChange, StatusChangeKind};
use eid_core::store::{AccountStatus, DurableStore};
use time::OffsetDateTime;

use crate::accounts;

/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait before reconnecting.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Follows the register until the task is aborted, reconnecting with backoff.
pub async fn run(registry: Arc<GrpcRegistry>, durable: Arc<dyn DurableStore>) {
    let mut backoff = INITIAL_BACKOFF;
    let mut connected_once = false;
    loop {
        match follow(&registry, durable.as_ref(), &mut connected_once).await {
            Ok(()) => backoff = INITIAL_BACKOFF,
            Err(Stop::Unreachable(reason)) => {
                if connected_once {
                    tracing::warn!(
                        %reason,
                        retry_in_ms = backoff.as_millis(),
                        "population register unreachable: enrolment answers 'try later' until \
                         it is back; password and passkey logins are unaffected"
                    );
                } else {
                    tracing::warn!(
                        %reason,
                        retry_in_ms = backoff.as_millis(),
                        "population register unreachable at start-up: enrolment answers 'try \
                         later' until it is back; password and passkey logins are unaffected"
                    );
                }
            }
            Err(Stop::Failed(reason)) => {
                tracing::error!(
                    %reason,
                    retry_in_ms = backoff.as_millis(),
                    "following the register's status changes failed"
                );
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// How often the embedded register file's change log is read.
const EMBEDDED_POLL: Duration = Duration::from_secs(2);
/// Logged changes read at once from an embedded register file.
const EMBEDDED_PAGE: u32 = 500;

/// Applies the changes `eid-server registry record-change` logs in the embedded register
/// file, reading the log every [`EMBEDDED_POLL`], with the same cursor and handling as
/// [`run`]. A cursor beyond the log (the file was replaced) is reported, never skipped.
pub async fn follow_embedded(registry: Arc<EmbeddedRegistry>, durable: Arc<dyn DurableStore>) {
    let mut reported = None;
    loop {
        match apply_logged(&registry, durable.as_ref()).await {
            Ok(()) => reported = None,
            Err(err) => {
                let reason = format!("{err:#}");
                // Once per distinct failure, not every poll.
                if reported.as_ref() != Some(&reason) {
                    tracing::error!(%reason, "applying the register's logged changes failed");
                    reported = Some(reason);
                }
            }
        }
        tokio::time::sleep(EMBEDDED_POLL).await;
    }
}

/// Handles every logged change after the stored cursor, advancing it after each.
pub async fn apply_logged(
    registry: &EmbeddedRegistry,
    durable: &dyn DurableStore,
) -> anyhow::Result<()> {
    let mut cursor = durable.register_watch_cursor().await?;
    let last = registry.last_change().await?;
    anyhow::ensure!(
        cursor <= last,
        "the watch cursor ({cursor}) is beyond the register file's last change ({last}): the \
         file was replaced; reconcile the accounts before resetting the cursor"
    );
    loop {
        let changes = registry.changes_after(cursor, EMBEDDED_PAGE).await?;
        if changes.is_empty() {
            return Ok(());
        }
        for change in changes {
            handle(durable, &change)
                .await
                .with_context(|| format!("change {}", change.sequence))?;
            durable.advance_register_watch(change.sequence).await?;
            cursor = change.sequence;
        }
    }
}

/// Why a subscription ended.
enum Stop {
    /// The register could not be reached or the stream broke.
    Unreachable(String),
    /// The durable store failed, or the register sent something unusable.
    Failed(String),
}

/// One subscription: resumes after the stored cursor and handles changes until the stream
/// ends (`Ok`) or fails.
async fn follow(
    registry: &GrpcRegistry,
    durable: &dyn DurableStore,
    connected_once: &mut bool,
) -> Result<(), Stop> {
    let mut cursor = durable
        .register_watch_cursor()
        .await
        .map_err(|err| Stop::Failed(format!("cannot read the watch cursor: {err}")))?;
    let mut watch = registry
        .watch_status(Some(cursor))
        .await
        .map_err(|err| Stop::Unreachable(err.to_string()))?;
    tracing::info!(after = cursor, "following the register's status changes");
    *connected_once = true;
    while let Some(change) = watch.next().await {
        let change = change.map_err(|err| Stop::Unreachable(err.to_string()))?;
        if change.sequence <= cursor {
            continue;
        }
        if change.sequence != cursor + 1 {
            tracing::error!(
                after = cursor,
                next = change.sequence,
                "the register skipped status changes: they cannot be handled"
            );
        }
        handle(durable, &change)
            .await
            .map_err(|err| Stop::Failed(format!("change {}: {err:#}", change.sequence)))?;
        durable
            .advance_register_watch(change.sequence)
            .await
            .map_err(|err| Stop::Failed(format!("cannot store the watch cursor: {err}")))?;
        cursor = change.sequence;
    }
    Ok(())
}

/// Acts on one change (see the module docs).
pub async fn handle(durable: &dyn DurableStore, change: &StatusChange) -> anyhow::Result<()> {
    let Some(account) = durable.find_account(&change.personal_id).await? else {
        tracing::debug!(sequence = change.sequence, "register change: no account");
        return Ok(());
    };
    match change.kind {
        StatusChangeKind::Deceased | StatusChangeKind::CardRevoked => {
            accounts::audit(durable, AuditEvent::RegisterStatusChanged, account.id, None).await?;
            if account.status != AccountStatus::Suspended {
                durable
                    .set_account_status(account.id, AccountStatus::Suspended)
                    .await?;
                accounts::audit(durable, AuditEvent::AccountStatusChanged, account.id, None)
                    .await?;
            }
            let now = OffsetDateTime::now_utc();
            for record in durable.ekyc_records(account.id).await? {
                if record.status == EkycStatus::Active {
                    durable
                        .set_ekyc_status(record.id, EkycStatus::Suspended, now)
                        .await?;
                    accounts::audit(
                        durable,
                        AuditEvent::EkycStatusChanged,
                        account.id,
                        Some(record.loa),
                    )
                    .await?;
                }
            }
            tracing::info!(
                sequence = change.sequence,
                account = %account.id,
                status = change.status.as_str(),
                "register status change: account and eKYC records suspended"
            );
        }
        StatusChangeKind::NumberReplaced { .. } => {
            accounts::audit(
                durable,
                AuditEvent::RegisterNumberReplaced,
                account.id,
                None,
            )
            .await?;
            tracing::warn!(
                sequence = change.sequence,
                account = %account.id,
                "the register replaced this account's personal ID number: an operator must \
                 review the account (nothing was changed)"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use eid_core::assurance::{Loa, ProofingEvidence};
    use eid_core::citizen::PersonalId;
    use eid_core::credential::ekyc::EkycRecord;
    use eid_core::registry::RecordStatus;
    use eid_core::store::{
        Account, AccountStore as _, AuditStore as _, EkycStore as _, RegisterWatchStore as _,
        SqliteStore,
    };

    use super::*;

    fn id(digits: &str) -> PersonalId {
        PersonalId::parse(digits).unwrap()
    }

    fn change(sequence: u64, personal_id: &str, kind: StatusChangeKind) -> StatusChange {
        StatusChange {
            sequence,
            personal_id: id(personal_id),
            kind,
            status: RecordStatus::Deceased,
        }
    }

    /// An account for `personal_id` with one active eKYC record.
    async fn proofed(durable: &dyn DurableStore, personal_id: &str) -> Account {
        let account = durable.create_account(&id(personal_id)).await.unwrap();
        let now = OffsetDateTime::now_utc();
        let record = EkycRecord::issue(
            account.id,
            ProofingEvidence::RegisterMatch,
            Loa::Substantial,
            serde_json::json!({}),
            now,
            now + time::Duration::days(30),
        )
        .unwrap();
        durable.insert_ekyc(&record).await.unwrap();
        account
    }

    async fn events(durable: &dyn DurableStore) -> Vec<AuditEvent> {
        let entries = durable.audit_entries(0, 100).await.unwrap();
        entries.into_iter().map(|e| e.record.event).collect()
    }

    #[tokio::test]
    async fn a_death_suspends_the_account_and_its_ekyc_records_once() {
        let durable = SqliteStore::in_memory().await.unwrap();
        let account = proofed(&durable, "001190123489").await;
        let deceased = change(1, "001190123489", StatusChangeKind::Deceased);
        handle(&durable, &deceased).await.unwrap();
        assert_eq!(
            durable.account(account.id).await.unwrap().status,
            AccountStatus::Suspended
        );
        let records = durable.ekyc_records(account.id).await.unwrap();
        assert_eq!(records[0].status, EkycStatus::Suspended);
        let expected = [
            AuditEvent::RegisterStatusChanged,
            AuditEvent::AccountStatusChanged,
            AuditEvent::EkycStatusChanged,
        ];
        assert_eq!(events(&durable).await, expected);

        // Handled again (the cursor was not stored): only the report is audited again.
        handle(&durable, &deceased).await.unwrap();
        assert_eq!(
            events(&durable).await[3..],
            [AuditEvent::RegisterStatusChanged]
        );
        let entry = durable.audit_entries(0, 1).await.unwrap().remove(0);
        assert_eq!(entry.record.subject, Some(account.id));
    }

    #[tokio::test]
    async fn a_revoked_card_suspends_a_locked_account_too() {
        let durable = SqliteStore::in_memory().await.unwrap();
        let account = proofed(&durable, "001190123489").await;
        durable
            .set_account_status(account.id, AccountStatus::Locked)
            .await
            .unwrap();
        let revoked = change(4, "001190123489", StatusChangeKind::CardRevoked);
        handle(&durable, &revoked).await.unwrap();
        assert_eq!(
            durable.account(account.id).await.unwrap().status,
            AccountStatus::Suspended
        );
    }

    #[tokio::test]
    async fn a_replaced_number_is_audited_and_changes_nothing() {
        let durable = SqliteStore::in_memory().await.unwrap();
        let account = proofed(&durable, "079085000001").await;
        let replaced = change(
            2,
            "079085000001",
            StatusChangeKind::NumberReplaced {
                replacement: id("079085000002"),
            },
        );
        handle(&durable, &replaced).await.unwrap();
        assert_eq!(
            durable.account(account.id).await.unwrap().status,
            AccountStatus::Active
        );
        let records = durable.ekyc_records(account.id).await.unwrap();
        assert_eq!(records[0].status, EkycStatus::Active);
        assert_eq!(events(&durable).await, [AuditEvent::RegisterNumberReplaced]);
    }

    #[tokio::test]
    async fn a_number_without_an_account_is_ignored() {
        let durable = SqliteStore::in_memory().await.unwrap();
        let other = proofed(&durable, "079085000001").await;
        let deceased = change(3, "001190123489", StatusChangeKind::Deceased);
        handle(&durable, &deceased).await.unwrap();
        assert!(events(&durable).await.is_empty());
        assert_eq!(
            durable.account(other.id).await.unwrap().status,
            AccountStatus::Active
        );
    }

    #[tokio::test]
    async fn changes_logged_in_an_embedded_register_are_applied_once() {
        let durable = SqliteStore::in_memory().await.unwrap();
        let registry = EmbeddedRegistry::open(eid_core::registry::RegisterLocation::Memory)
            .await
            .unwrap();
        registry
            .load_csv(
                "personal_id,family_name,middle_names,given_name,birth_date,sex,\
                 place_of_birth,nationality,status\n\
                 001190123489,Nguyễn,Thị,Hương,1990-05-17,female,Hà Nội,VN,active\n"
                    .as_bytes(),
            )
            .await
            .unwrap();
        let account = proofed(&durable, "001190123489").await;
        apply_logged(&registry, &durable).await.unwrap();
        assert_eq!(
            durable.account(account.id).await.unwrap().status,
            AccountStatus::Active
        );

        registry
            .record_change(&id("001190123489"), StatusChangeKind::CardRevoked)
            .await
            .unwrap();
        apply_logged(&registry, &durable).await.unwrap();
        assert_eq!(
            durable.account(account.id).await.unwrap().status,
            AccountStatus::Suspended
        );
        assert_eq!(durable.register_watch_cursor().await.unwrap(), 1);
        let audited = events(&durable).await.len();
        apply_logged(&registry, &durable).await.unwrap();
        assert_eq!(events(&durable).await.len(), audited, "handled once");

        // A cursor beyond the log is refused, not skipped past.
        durable.advance_register_watch(7).await.unwrap();
        let err = apply_logged(&registry, &durable).await.unwrap_err();
        assert!(format!("{err:#}").contains("beyond"), "{err:#}");
    }
}
