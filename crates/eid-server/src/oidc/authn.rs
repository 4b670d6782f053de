//! What an authentication achieves: the level of assurance (eid-core's table: the weaker
//! of the account's identity proofing and the authenticator) and the RFC 8176 `amr`
//! values, turned into a new session.

use eid_core::assurance::{Authenticator, Loa};
use eid_core::audit::{Actor, AuditEvent, AuditRecord, Outcome};
use eid_core::credential::passkey::PasskeyLogin;
use eid_core::store::{Account, AccountId, StoreError};

use super::Oidc;
use super::session::Session;

/// How the citizen just authenticated.
pub(super) enum Method<'a> {
    /// A password (`pwd`).
    Password,
    /// A passkey.
    Passkey(&'a PasskeyLogin),
}

impl Method<'_> {
    fn authenticator(&self) -> Authenticator {
        match self {
            Method::Password => Authenticator::Password,
            Method::Passkey(login) if login.user_verified => Authenticator::PasskeyUserVerified,
            Method::Passkey(_) => Authenticator::Passkey,
        }
    }

    fn amr(&self) -> Vec<&'static str> {
        match self {
            Method::Password => vec!["pwd"],
            Method::Passkey(login) => login.amr(),
        }
    }
}

/// The best level an account's valid identity proofing supports, if it is proofed.
pub(super) async fn proofed_level(
    oidc: &Oidc,
    account: AccountId,
) -> Result<Option<Loa>, StoreError> {
    let now = time::OffsetDateTime::now_utc();
    Ok(oidc
        .durable
        .ekyc_records(account)
        .await?
        .into_iter()
        .filter(|r| r.is_valid_at(now))
        .map(|r| r.loa)
        .max())
}

/// Whether a passkey login could bring `account` to `min`: it has a passkey and its
/// proofing supports the level.
pub(super) async fn passkey_reaches(
    oidc: &Oidc,
    account: AccountId,
    min: Loa,
) -> Result<bool, StoreError> {
    let proofed = proofed_level(oidc, account).await?;
    let level = proofed.map(|p| p.min(Authenticator::PasskeyUserVerified.cap()));
    Ok(level.is_some_and(|l| l >= min) && !oidc.durable.passkeys(account).await?.is_empty())
}

/// The session of `account` after authenticating with `method`. Its level comes from the
/// account's current proofing and this authentication alone. When `stepped_up_from` is
/// the session a relying party's request asked to step up from (a live session of the
/// same account, fresh for that request, below its level), its methods are kept in `amr`
/// with `mfa`: both were used for this request. Audited.
pub(super) async fn new_session(
    oidc: &Oidc,
    account: &Account,
    method: Method<'_>,
    stepped_up_from: Option<&Session>,
) -> anyhow::Result<Session> {
    let now = time::OffsetDateTime::now_utc();
    let proofed = proofed_level(oidc, account.id).await?;
    let loa = proofed.map(|p| p.min(method.authenticator().cap()));
    let mut amr: Vec<String> = method.amr().into_iter().map(str::to_owned).collect();
    if let Some(previous) = stepped_up_from.filter(|p| p.account == account.id) {
        for method in &previous.amr {
            if !amr.contains(method) {
                amr.push(method.clone());
            }
        }
        if !amr.iter().any(|m| m == "mfa") {
            amr.push("mfa".to_owned());
        }
    }
    let session = Session {
        account: account.id,
        auth_time: now.unix_timestamp(),
        loa,
        amr,
    };
    let mut record = AuditRecord::new(
        AuditEvent::Authentication,
        Actor::Account(account.id),
        Outcome::Success,
    );
    record.subject = Some(account.id);
    record.loa = loa;
    oidc.audit.append(record).await?;
    oidc.metrics.login("success");
    Ok(session)
}
