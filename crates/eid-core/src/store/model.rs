//! The durable entities: accounts, password and passkey credentials, consents.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AccountId, ClientId, PasskeyId, StoreError};
use crate::assurance::Loa;
use crate::citizen::PersonalId;

/// Whether an account may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Usable.
    Active,
    /// Disabled by an operator (e.g. the register reports the citizen deceased).
    Suspended,
    /// Temporarily locked, e.g. after too many failed logins.
    Locked,
}

impl AccountStatus {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Locked => "locked",
        }
    }
}

impl FromStr for AccountStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(AccountStatus::Active),
            "suspended" => Ok(AccountStatus::Suspended),
            "locked" => Ok(AccountStatus::Locked),
            _ => Err(StoreError::Corrupt("account status")),
        }
    }
}

/// A citizen's account.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// Stable identifier.
    pub id: AccountId,
    /// The citizen's personal identification number (unique; prints masked).
    pub personal_id: PersonalId,
    /// Whether the account may be used.
    pub status: AccountStatus,
    /// When the account was created.
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("personal_id", &self.personal_id)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// An account's password verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordCredential {
    /// The argon2id PHC string.
    pub phc: String,
    /// When it was last set.
    pub updated_at: OffsetDateTime,
}

impl fmt::Debug for PasswordCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordCredential")
            .field("phc", &"<redacted>")
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// Longest passkey label, in characters.
#[cfg(feature = "sql")]
const LABEL_MAX: usize = 100;

/// A passkey registration to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPasskey {
    /// The owner.
    pub account_id: AccountId,
    /// The WebAuthn credential ID (unique across all accounts).
    pub credential_id: Vec<u8>,
    /// The citizen's name for it, e.g. "phone".
    pub label: String,
    /// The webauthn-rs `Passkey`, serialised.
    pub passkey: serde_json::Value,
}

/// A stored passkey.
#[derive(Debug, Clone, PartialEq)]
pub struct PasskeyRecord {
    /// Identifier of this record.
    pub id: PasskeyId,
    /// The owner.
    pub account_id: AccountId,
    /// The WebAuthn credential ID.
    pub credential_id: Vec<u8>,
    /// The citizen's name for it.
    pub label: String,
    /// The webauthn-rs `Passkey`, serialised.
    pub passkey: serde_json::Value,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it last authenticated, if ever.
    pub last_used_at: Option<OffsetDateTime>,
}

/// Checks a passkey label: 1 to 100 characters, not blank, no control characters.
#[cfg(feature = "sql")]
pub(crate) fn check_label(label: &str) -> Result<(), StoreError> {
    let ok = !label.trim().is_empty()
        && label.chars().count() <= LABEL_MAX
        && !label.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidLabel)
    }
}

/// What a refresh token stands for: the authorization grant it continues. Every token of a
/// family shares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    /// The family (one per authorization grant).
    pub family: uuid::Uuid,
    /// The citizen.
    pub account: AccountId,
    /// The client the tokens were issued to.
    pub client: ClientId,
    /// Granted scope, space-separated.
    pub scope: String,
    /// Level of assurance of the authentication the grant rests on.
    pub loa: Option<Loa>,
    /// Authentication methods (RFC 8176) of that authentication.
    pub amr: Vec<String>,
    /// When the citizen authenticated.
    pub auth_time: OffsetDateTime,
    /// When the whole family expires; rotation does not extend it.
    pub expires_at: OffsetDateTime,
}

/// What a citizen allowed a relying party to receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The citizen.
    pub account_id: AccountId,
    /// The relying party.
    pub client_id: ClientId,
    /// Granted OAuth scopes (empty once revoked).
    pub scopes: BTreeSet<String>,
    /// Granted claims (empty once revoked).
    pub claims: BTreeSet<String>,
    /// When it was last granted or extended.
    pub granted_at: OffsetDateTime,
    /// When it was revoked, if it is revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

impl Consent {
    /// Whether this consent is in force and covers every requested scope and claim.
    pub fn covers<'a>(
        &self,
        scopes: impl IntoIterator<Item = &'a str>,
        claims: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        self.revoked_at.is_none()
            && scopes.into_iter().all(|s| self.scopes.contains(s))
            && claims.into_iter().all(|c| self.claims.contains(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_status_round_trips() {
        for s in [
            AccountStatus::Active,
            AccountStatus::Suspended,
            AccountStatus::Locked,
        ] {
            assert_eq!(s.as_str().parse::<AccountStatus>().ok(), Some(s));
        }
        assert!(matches!(
            "gone".parse::<AccountStatus>(),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn debug_hides_personal_id_and_hash() {
        let account = Account {
            id: AccountId::new(),
            personal_id: "001099012345".parse().unwrap(),
            status: AccountStatus::Active,
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(!format!("{account:?}").contains("001099012345"));
        let pw = PasswordCredential {
            phc: "$argon2id$v=19$secret".to_owned(),
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(!format!("{pw:?}").contains("argon2id"));
    }

    #[test]
    fn labels_are_checked() {
        assert!(check_label("phone").is_ok());
        assert!(check_label(&"é".repeat(LABEL_MAX)).is_ok());
        for bad in ["", "   ", "a\nb", &"x".repeat(LABEL_MAX + 1)] {
            assert!(
                matches!(check_label(bad), Err(StoreError::InvalidLabel)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn consent_covers_only_granted_and_unrevoked() {
        let mut c = Consent {
            account_id: AccountId::new(),
            client_id: ClientId::new("rp").unwrap(),
            scopes: BTreeSet::from(["openid".to_owned(), "profile".to_owned()]),
            claims: BTreeSet::from(["birthdate".to_owned()]),
            granted_at: OffsetDateTime::UNIX_EPOCH,
            revoked_at: None,
        };
        assert!(c.covers(["openid"], ["birthdate"]));
        assert!(!c.covers(["openid", "email"], []));
        assert!(!c.covers([], ["address"]));
        c.revoked_at = Some(OffsetDateTime::UNIX_EPOCH);
        assert!(!c.covers(["openid"], []));
    }
}
