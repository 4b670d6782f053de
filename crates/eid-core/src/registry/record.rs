//! A register record, its status, and the authorisation needed to fetch one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::RegistryError;
use crate::citizen::{PersonalId, PivotIdentity};

/// The status of a register record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// A living citizen with a valid card.
    Active,
    /// The citizen is recorded as deceased.
    Deceased,
    /// The citizen's ID card has been revoked.
    CardRevoked,
}

impl RecordStatus {
    /// `active`, `deceased` or `card_revoked` (the file and database spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Active => "active",
            RecordStatus::Deceased => "deceased",
            RecordStatus::CardRevoked => "card_revoked",
        }
    }
}

impl fmt::Display for RecordStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordStatus {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            RecordStatus::Active,
            RecordStatus::Deceased,
            RecordStatus::CardRevoked,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .ok_or_else(|| RegistryError::CorruptRecord(format!("unknown status {s:?}")))
    }
}

/// A full register record, as returned by an authorised fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRecord {
    /// The personal ID number (masked in `Debug`).
    pub personal_id: PersonalId,
    /// The pivot identity as the register spells it.
    pub identity: PivotIdentity,
    /// The record's status.
    pub status: RecordStatus,
}

/// Who asks for a full record, and why. Both are required and recorded in the register's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorisation {
    caller: String,
    purpose: String,
}

impl Authorisation {
    /// An authorisation for `caller` (e.g. `eid-server/enroll`) and `purpose`
    /// (e.g. `ekyc-enrolment`); both must be non-blank.
    pub fn new(
        caller: impl Into<String>,
        purpose: impl Into<String>,
    ) -> Result<Self, RegistryError> {
        let (caller, purpose) = (caller.into(), purpose.into());
        if caller.trim().is_empty() {
            return Err(RegistryError::InvalidAuthorisation("caller"));
        }
        if purpose.trim().is_empty() {
            return Err(RegistryError::InvalidAuthorisation("purpose"));
        }
        Ok(Self { caller, purpose })
    }

    /// The caller.
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// The purpose.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }
}

/// A change of a register record's status, as the register publishes it (`WatchStatus`).
/// Holds numbers and statuses only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// Increases by one per published change; a gap means changes were missed.
    pub sequence: u64,
    /// The record's number (before a replacement).
    pub personal_id: PersonalId,
    /// What happened.
    pub kind: StatusChangeKind,
    /// The record's status after the change.
    pub status: RecordStatus,
}

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChangeKind {
    /// The citizen was recorded as deceased.
    Deceased,
    /// The citizen's card was revoked.
    CardRevoked,
    /// The citizen's number was replaced; the old one no longer identifies anyone.
    NumberReplaced {
        /// The new number.
        replacement: PersonalId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_its_name() {
        for status in [
            RecordStatus::Active,
            RecordStatus::Deceased,
            RecordStatus::CardRevoked,
        ] {
            assert_eq!(status.as_str().parse::<RecordStatus>().unwrap(), status);
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::Value::from(status.as_str())
            );
        }
        assert!(matches!(
            "revoked".parse::<RecordStatus>(),
            Err(RegistryError::CorruptRecord(_))
        ));
    }

    #[test]
    fn authorisation_needs_caller_and_purpose() {
        let auth = Authorisation::new("eid-server/enroll", "ekyc-enrolment").unwrap();
        assert_eq!(
            (auth.caller(), auth.purpose()),
            ("eid-server/enroll", "ekyc-enrolment")
        );
        assert!(matches!(
            Authorisation::new(" ", "ekyc"),
            Err(RegistryError::InvalidAuthorisation("caller"))
        ));
        assert!(matches!(
            Authorisation::new("rp", ""),
            Err(RegistryError::InvalidAuthorisation("purpose"))
        ));
    }
}
