//! The audit log: an append-only, hash-chained record of every identification,
//! authentication and data release.
//!
//! Each [`AuditEntry`] carries the SHA-256 of its predecessor, so editing, removing or
//! reordering an entry breaks the chain, which [`ChainVerifier`] reports with the first
//! bad sequence number. The chain is unkeyed: someone able to rewrite the whole table can
//! recompute it, so publish or copy the [`ChainHead`] elsewhere from time to time to
//! anchor it.
//!
//! Entries name who acted ([`Actor`]), whose data it was (an [`AccountId`]), the relying
//! party and the *names* of released attributes — never their values. No field can hold
//! a personal ID number: accounts appear by their opaque id, and the free-text fields
//! ([`ClientId`], [`AttributeName`]) refuse anything that could be a personal ID number.

mod chain;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::assurance::Loa;
use crate::store::{AccountId, ClientId, has_id_number};

pub use chain::{BreakReason, ChainBreak, ChainHead, ChainVerifier, HASH_LEN};

/// Errors of the audit module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// An attribute name is empty, too long, has characters outside `[A-Za-z0-9_.:/-]`, or
    /// holds something that could be a personal ID number.
    #[error("invalid attribute name")]
    InvalidAttributeName,
    /// A stored name (event, outcome, actor kind) is unknown.
    #[error("unknown audit {what} {value:?}")]
    UnknownName {
        /// Which kind of name.
        what: &'static str,
        /// The name.
        value: String,
    },
    /// The chain does not verify.
    #[error("audit chain broken at entry {}: {}", .0.seq, .0.reason)]
    ChainBroken(ChainBreak),
}

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = AuditError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(AuditError::UnknownName { what: $what, value: other.to_owned() }),
                }
            }
        }
    };
}

named_enum!(
    /// What happened.
    AuditEvent, "event" {
        /// An account was created.
        AccountCreated => "account_created",
        /// An account was suspended, locked or reactivated.
        AccountStatusChanged => "account_status_changed",
        /// A citizen's identity was proofed (an eKYC record issued).
        IdentityProofed => "identity_proofed",
        /// An eKYC record was suspended, reactivated or revoked.
        EkycStatusChanged => "ekyc_status_changed",
        /// A login attempt (see the outcome).
        Authentication => "authentication",
        /// A password or passkey was added or replaced.
        CredentialAdded => "credential_added",
        /// A password or passkey was removed.
        CredentialRemoved => "credential_removed",
        /// A passkey was renamed.
        CredentialRenamed => "credential_renamed",
        /// A passkey's signature counter went backwards: the authenticator may have been
        /// cloned (W3C WebAuthn section 6.1.1); the login was refused.
        CredentialCloneSuspected => "credential_clone_suspected",
        /// The citizen granted a relying party access to attributes.
        ConsentGranted => "consent_granted",
        /// The citizen withdrew a consent.
        ConsentRevoked => "consent_revoked",
        /// Tokens were issued to a relying party.
        TokenIssued => "token_issued",
        /// Attributes were released to a relying party (userinfo, assertion).
        DataReleased => "data_released",
        /// The population register reported an account's citizen deceased or their card
        /// revoked (`WatchStatus`); the account and eKYC suspensions that follow are
        /// audited as their own entries.
        RegisterStatusChanged => "register_status_changed",
        /// The population register replaced an account's citizen's number (`WatchStatus`):
        /// nothing is changed automatically, an operator re-links the account.
        RegisterNumberReplaced => "register_number_replaced",
        /// A verifiable credential (SD-JWT VC) was issued to the citizen's wallet.
        VerifiableCredentialIssued => "verifiable_credential_issued",
    }
);

named_enum!(
    /// How it ended.
    Outcome, "outcome" {
        /// It succeeded.
        Success => "success",
        /// It failed or was refused.
        Failure => "failure",
    }
);

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Actor {
    /// A citizen, by account id.
    Account(AccountId),
    /// A relying party.
    Client(ClientId),
    /// The service itself or an operator task.
    System,
}

impl Actor {
    /// The stored kind name (`account`, `client`, `system`).
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Account(_) => "account",
            Actor::Client(_) => "client",
            Actor::System => "system",
        }
    }

    /// The stored identifier, if the kind has one.
    pub fn id(&self) -> Option<String> {
        match self {
            Actor::Account(a) => Some(a.to_string()),
            Actor::Client(c) => Some(c.to_string()),
            Actor::System => None,
        }
    }

    /// Rebuilds an actor from its stored kind and identifier.
    pub fn from_parts(kind: &str, id: Option<&str>) -> Result<Self, AuditError> {
        let bad = || AuditError::UnknownName {
            what: "actor",
            value: kind.to_owned(),
        };
        match (kind, id) {
            ("account", Some(id)) => id.parse().map(Actor::Account).map_err(|_| bad()),
            ("client", Some(id)) => ClientId::new(id).map(Actor::Client).map_err(|_| bad()),
            ("system", None) => Ok(Actor::System),
            _ => Err(bad()),
        }
    }
}

/// Longest attribute name, in bytes.
const ATTRIBUTE_MAX: usize = 128;

/// The name (never the value) of a released attribute or claim, e.g. `birthdate`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct AttributeName(String);

impl AttributeName {
    /// Checks and wraps an attribute name: 1 to 128 characters of `[A-Za-z0-9_.:/-]`,
    /// without anything that could be a personal ID number.
    pub fn new(name: impl Into<String>) -> Result<Self, AuditError> {
        let name = name.into();
        let charset = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:/-".contains(&b));
        if name.is_empty() || name.len() > ATTRIBUTE_MAX || !charset || has_id_number(&name) {
            return Err(AuditError::InvalidAttributeName);
        }
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AttributeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AttributeName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// What to record: everything in an entry except its position, time and hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// What happened.
    pub event: AuditEvent,
    /// Who acted.
    pub actor: Actor,
    /// Whose account it concerned, if any.
    pub subject: Option<AccountId>,
    /// The relying party involved, if any.
    pub relying_party: Option<ClientId>,
    /// Names of the attributes released.
    pub attributes: BTreeSet<AttributeName>,
    /// The level of assurance reached or asserted, if any.
    pub loa: Option<Loa>,
    /// How it ended.
    pub outcome: Outcome,
}

impl AuditRecord {
    /// A record with no subject, relying party, attributes or level.
    pub fn new(event: AuditEvent, actor: Actor, outcome: Outcome) -> Self {
        Self {
            event,
            actor,
            subject: None,
            relying_party: None,
            attributes: BTreeSet::new(),
            loa: None,
            outcome,
        }
    }
}

/// One entry of the log, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the chain, from 1 without gaps.
    pub seq: u64,
    /// When it was appended (microsecond precision).
    pub at: OffsetDateTime,
    /// What was recorded.
    pub record: AuditRecord,
    /// Hash of the previous entry (zeros for the first).
    pub prev_hash: [u8; HASH_LEN],
    /// Hash of this entry: SHA-256 over its canonical encoding and `prev_hash`.
    pub hash: [u8; HASH_LEN],
}

impl AuditEntry {
    /// Builds the entry following `head`, computing its hash.
    pub fn seal(head: &ChainHead, at: OffsetDateTime, record: AuditRecord) -> Self {
        let seq = head.seq + 1;
        let hash = chain::entry_hash(seq, at, &record, &head.hash);
        Self {
            seq,
            at,
            record,
            prev_hash: head.hash,
            hash,
        }
    }

    /// The chain head once this entry is appended.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in [
            AuditEvent::AccountCreated,
            AuditEvent::DataReleased,
            AuditEvent::TokenIssued,
        ] {
            assert_eq!(e.as_str().parse::<AuditEvent>(), Ok(e));
        }
        assert_eq!("failure".parse::<Outcome>(), Ok(Outcome::Failure));
        assert!(matches!(
            "x".parse::<Outcome>(),
            Err(AuditError::UnknownName {
                what: "outcome",
                ..
            })
        ));
    }

    #[test]
    fn actors_round_trip_through_parts() {
        let actors = [
            Actor::Account(AccountId::new()),
            Actor::Client(ClientId::new("rp").unwrap()),
            Actor::System,
        ];
        for a in actors {
            let id = a.id();
            assert_eq!(Actor::from_parts(a.kind(), id.as_deref()), Ok(a));
        }
    }

    #[test]
    fn actors_reject_bad_parts() {
        for (kind, id) in [
            ("account", Some("not-a-uuid")),
            ("client", Some("001099012345")),
            ("system", Some("x")),
            ("account", None),
            ("root", None),
        ] {
            assert!(Actor::from_parts(kind, id).is_err(), "{kind} {id:?}");
        }
    }

    #[test]
    fn attribute_names_are_checked() {
        for ok in ["birthdate", "given_name", "urn:vn:eid:1.0/place-of-birth"] {
            assert_eq!(
                AttributeName::new(ok).map(|a| a.to_string()),
                Ok(ok.to_owned())
            );
        }
        let long = "a".repeat(ATTRIBUTE_MAX + 1);
        for bad in [
            "",
            "has space",
            "tên",
            "001099012345",
            "pid=001099012345",
            long.as_str(),
        ] {
            assert_eq!(
                AttributeName::new(bad),
                Err(AuditError::InvalidAttributeName),
                "{bad:?}"
            );
        }
        assert!(serde_json::from_str::<AttributeName>("\"001099012345\"").is_err());
    }
}
