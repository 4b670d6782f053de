//! Verifiable credentials issued to citizens' wallets, each with its entry in a Token
//! Status List (draft-ietf-oauth-status-list).
//!
//! A credential has no status of its own: its entry reads what the eKYC record it was
//! issued from says ([`entry_status`]), so suspending, resuming or revoking the record —
//! by an operator or because the register reported the citizen deceased — changes every
//! credential issued from it at once.

use time::OffsetDateTime;

use super::{AccountId, AccountStatus, CredentialId, EkycId};
use crate::credential::ekyc::EkycStatus;
use crate::credential::status_list::TokenStatus;

/// Statuses per status list: 2^17 entries of 2 bits (32 KiB before compression). Indices
/// are drawn at random in `0..STATUS_LIST_CAPACITY`, so a list is a crowd of this size
/// ("herd privacy", draft-ietf-oauth-status-list, Privacy Considerations).
pub const STATUS_LIST_CAPACITY: u32 = 1 << 17;
/// Random indices tried in the current list before a credential goes to the next list:
/// a list is left when it is so full that this many draws all hit taken entries.
pub const INDEX_ATTEMPTS: usize = 16;

/// A credential to record; the store allocates its status list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    /// Identifier.
    pub id: CredentialId,
    /// The holder's account.
    pub account_id: AccountId,
    /// The eKYC record it was issued from (its status is the credential's).
    pub ekyc_id: EkycId,
    /// When it was issued (its `iat`).
    pub issued_at: OffsetDateTime,
    /// When it expires (its `exp`).
    pub expires_at: OffsetDateTime,
}

/// A recorded credential and its status list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCredential {
    /// Identifier.
    pub id: CredentialId,
    /// The holder's account.
    pub account_id: AccountId,
    /// The eKYC record it was issued from.
    pub ekyc_id: EkycId,
    /// Which status list holds its entry (from 1).
    pub list: u32,
    /// Its index in that list.
    pub index: u32,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// When it expires.
    pub expires_at: OffsetDateTime,
}

/// What a status list entry is computed from: a credential's expiry, and the status and
/// expiry of its eKYC record and account, if they still exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntrySource {
    /// The credential's index in its list.
    pub index: u32,
    /// The credential's expiry.
    pub expires_at: OffsetDateTime,
    /// Its eKYC record's status and expiry, unless the record was deleted.
    pub ekyc: Option<(EkycStatus, OffsetDateTime)>,
    /// Its account's status, unless the account was deleted.
    pub account: Option<AccountStatus>,
}

/// The status a credential's entry publishes at `now`:
///
/// | eKYC record | entry |
/// |---|---|
/// | active, account active | VALID (`0x00`) |
/// | active, account suspended | SUSPENDED (`0x02`) |
/// | suspended | SUSPENDED (`0x02`) |
/// | revoked, expired, or deleted (with its account) | INVALID (`0x01`) |
///
/// An expired credential is INVALID too. A locked account (too many failed logins)
/// leaves its credentials valid: the lockout protects the login, not the identity.
pub fn entry_status(source: &EntrySource, now: OffsetDateTime) -> TokenStatus {
    match (source.ekyc, source.account) {
        _ if source.expires_at <= now => TokenStatus::Invalid,
        (Some((_, expires_at)), _) if expires_at <= now => TokenStatus::Invalid,
        (Some((EkycStatus::Active, _)), Some(AccountStatus::Active | AccountStatus::Locked)) => {
            TokenStatus::Valid
        }
        (Some((EkycStatus::Active | EkycStatus::Suspended, _)), Some(_)) => TokenStatus::Suspended,
        _ => TokenStatus::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn entries_follow_the_ekyc_record_account_and_expiry() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1000);
        let later = now + Duration::days(1);
        let entry = |ekyc, account, expires_at| {
            entry_status(
                &EntrySource {
                    index: 0,
                    expires_at,
                    ekyc,
                    account,
                },
                now,
            )
        };
        use AccountStatus as A;
        use EkycStatus as E;
        use TokenStatus as T;
        let cases = [
            (Some((E::Active, later)), Some(A::Active), later, T::Valid),
            (Some((E::Active, later)), Some(A::Locked), later, T::Valid),
            (
                Some((E::Active, later)),
                Some(A::Suspended),
                later,
                T::Suspended,
            ),
            (
                Some((E::Suspended, later)),
                Some(A::Active),
                later,
                T::Suspended,
            ),
            (
                Some((E::Revoked, later)),
                Some(A::Active),
                later,
                T::Invalid,
            ),
            (Some((E::Active, now)), Some(A::Active), later, T::Invalid),
            (Some((E::Active, later)), Some(A::Active), now, T::Invalid),
            (None, Some(A::Active), later, T::Invalid),
            (None, None, later, T::Invalid),
        ];
        for (ekyc, account, expires_at, expected) in cases {
            assert_eq!(
                entry(ekyc, account, expires_at),
                expected,
                "{ekyc:?} {account:?}"
            );
        }
    }
}
