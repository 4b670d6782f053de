//! Identifiers of stored things.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoreError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random (version 4) identifier.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            /// Wraps an existing UUID, e.g. one read back from a URL path.
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| StoreError::InvalidId)
            }
        }
    };
}

uuid_id!(
    /// The stable identifier of a citizen's account (never their personal ID number).
    AccountId
);
uuid_id!(
    /// The identifier of one registered passkey.
    PasskeyId
);
uuid_id!(
    /// The identifier of one eKYC record.
    EkycId
);
uuid_id!(
    /// The identifier of one verifiable credential issued to a citizen's wallet.
    CredentialId
);

/// Longest accepted client identifier, in bytes.
const CLIENT_ID_MAX: usize = 255;
/// This many digits in a row could be a personal ID number (12 digits, or 11 when its
/// leading zero was dropped), so names may not hold them.
const ID_NUMBER_DIGITS: usize = 11;

/// The identifier of a relying party (an OAuth `client_id` or a SAML entity ID).
///
/// 1 to 255 visible ASCII characters (RFC 6749 `VSCHAR` without space) and never 11 or more
/// digits in a row (separators ignored, see `has_id_number`), so a personal ID number cannot be smuggled into the audit log or
/// a consent record through this type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// Checks and wraps a client identifier.
    pub fn new(id: impl Into<String>) -> Result<Self, StoreError> {
        let id = id.into();
        let visible = id.bytes().all(|b| b.is_ascii_graphic());
        if id.is_empty() || id.len() > CLIENT_ID_MAX || !visible || has_id_number(&id) {
            return Err(StoreError::InvalidClientId);
        }
        Ok(Self(id))
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ClientId {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

/// Whether `s` holds enough digits in a row to be a personal ID number. Separators a
/// number may be written with (`079-203-001234`, `079 203 001234`, `079.203.001234`) do not
/// break a run; any other character does.
pub(crate) fn has_id_number(s: &str) -> bool {
    let mut run = 0;
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => run += 1,
            b' ' | b'-' | b'.' | b'_' | b'/' | b':' => {}
            _ => run = 0,
        }
        if run >= ID_NUMBER_DIGITS {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_ids_round_trip_through_text() {
        let id = AccountId::new();
        assert_eq!(id.to_string().parse::<AccountId>().ok(), Some(id));
        assert!(matches!(
            "nope".parse::<AccountId>(),
            Err(StoreError::InvalidId)
        ));
        assert_ne!(PasskeyId::new(), PasskeyId::new());
    }

    #[test]
    fn client_ids_accept_urls_and_names() {
        for ok in [
            "demo-rp",
            "https://rp.example.gov.vn/saml",
            "a",
            "tax_portal:2024",
        ] {
            assert_eq!(
                ClientId::new(ok).map(|c| c.to_string()).ok(),
                Some(ok.to_owned())
            );
        }
    }

    #[test]
    fn client_ids_reject_bad_input() {
        let long = "a".repeat(CLIENT_ID_MAX + 1);
        for bad in [
            "",
            "with space",
            "tab\t",
            "ümlaut",
            long.as_str(),
            "001099012345",
            "rp-079203001234-x",
            "79203001234",
            "079-203-001234",
            "rp.079.203.001.234",
        ] {
            assert!(
                matches!(ClientId::new(bad), Err(StoreError::InvalidClientId)),
                "{bad:?}"
            );
        }
        assert!(ClientId::new("rp-0792030012").is_ok(), "10 digits are fine");
        assert!(ClientId::new("rp-2026-11-23-v2").is_ok(), "dates are fine");
        assert!(serde_json::from_str::<ClientId>("\"001099012345\"").is_err());
        assert!(serde_json::from_str::<ClientId>("\"rp\"").is_ok());
    }
}
