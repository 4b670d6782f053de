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

use eid_core::audit::AuditEvent;
use eid_core::credential::ekyc::EkycStatus;
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
