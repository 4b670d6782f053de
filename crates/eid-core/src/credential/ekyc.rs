//! eKYC records: the outcome of identity proofing, with its lifecycle.
//!
//! A record says how a citizen's identity was established ([`ProofingEvidence`]) and at
//! which level of assurance, until when, and whether it is still in force:
//!
//! ```text
//! active ⇄ suspended
//!    \       /
//!     revoked   (terminal)
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::assurance::{Loa, ProofingEvidence};
use crate::store::{AccountId, EkycId, db_time};

/// Errors of eKYC records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EkycError {
    /// The lifecycle does not allow this change.
    #[error("an eKYC record cannot go from {from} to {to}")]
    InvalidTransition {
        /// The current status.
        from: EkycStatus,
        /// The requested status.
        to: EkycStatus,
    },
    /// The level is higher than the evidence supports.
    #[error("{evidence:?} evidence cannot support level {loa}")]
    LoaAboveEvidence {
        /// The evidence.
        evidence: ProofingEvidence,
        /// The requested level.
        loa: Loa,
    },
    /// `expires_at` is not after `issued_at`.
    #[error("an eKYC record must expire after it is issued")]
    ExpiresBeforeIssued,
    /// A stored status name is unknown.
    #[error("unknown eKYC status {0:?}")]
    UnknownStatus(String),
}

/// Whether an eKYC record is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EkycStatus {
    /// In force.
    Active,
    /// Temporarily not in force (e.g. the card was reported lost); can be reactivated.
    Suspended,
    /// Permanently withdrawn.
    Revoked,
}

impl EkycStatus {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EkycStatus::Active => "active",
            EkycStatus::Suspended => "suspended",
            EkycStatus::Revoked => "revoked",
        }
    }

    /// The status after moving to `to`, if the lifecycle allows it: active ⇄ suspended,
    /// active or suspended → revoked. Revoked is terminal, and staying put is not a move.
    pub fn transition(self, to: EkycStatus) -> Result<EkycStatus, EkycError> {
        use EkycStatus::*;
        match (self, to) {
            (Active, Suspended) | (Suspended, Active) | (Active | Suspended, Revoked) => Ok(to),
            (from, to) => Err(EkycError::InvalidTransition { from, to }),
        }
    }
}

impl fmt::Display for EkycStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EkycStatus {
    type Err = EkycError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(EkycStatus::Active),
            "suspended" => Ok(EkycStatus::Suspended),
            "revoked" => Ok(EkycStatus::Revoked),
            other => Err(EkycError::UnknownStatus(other.to_owned())),
        }
    }
}

/// The verified-identity record produced by identity proofing.
#[derive(Debug, Clone, PartialEq)]
pub struct EkycRecord {
    /// Identifier.
    pub id: EkycId,
    /// The proofed citizen's account.
    pub account_id: AccountId,
    /// How the identity was established.
    pub evidence: ProofingEvidence,
    /// The level of assurance of the proofing (at most `evidence.cap()`).
    pub loa: Loa,
    /// What was checked, e.g. `{"register": ["family_name", "birthdate"], "chip": "pa-ok"}`:
    /// names of checks and their results, never register values beyond what is needed.
    pub details: serde_json::Value,
    /// Lifecycle status.
    pub status: EkycStatus,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// When it stops being valid.
    pub expires_at: OffsetDateTime,
    /// When `status` last changed (`issued_at` at first).
    pub status_changed_at: OffsetDateTime,
}

impl EkycRecord {
    /// A new active record, checking that `loa` is supported by `evidence` and that the
    /// record expires after it is issued. Times are kept to the microsecond, as stored.
    pub fn issue(
        account_id: AccountId,
        evidence: ProofingEvidence,
        loa: Loa,
        details: serde_json::Value,
        issued_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Self, EkycError> {
        if loa > evidence.cap() {
            return Err(EkycError::LoaAboveEvidence { evidence, loa });
        }
        let (issued_at, expires_at) = (db_time(issued_at), db_time(expires_at));
        if expires_at <= issued_at {
            return Err(EkycError::ExpiresBeforeIssued);
        }
        Ok(Self {
            id: EkycId::new(),
            account_id,
            evidence,
            loa,
            details,
            status: EkycStatus::Active,
            issued_at,
            expires_at,
            status_changed_at: issued_at,
        })
    }

    /// Moves the record to `to` at time `at`, following the lifecycle rules.
    pub fn set_status(&mut self, to: EkycStatus, at: OffsetDateTime) -> Result<(), EkycError> {
        self.status = self.status.transition(to)?;
        self.status_changed_at = db_time(at);
        Ok(())
    }

    /// Whether the record is active and not expired at `now`.
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.status == EkycStatus::Active && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    fn record() -> EkycRecord {
        let now = OffsetDateTime::now_utc();
        EkycRecord::issue(
            AccountId::new(),
            ProofingEvidence::RegisterMatch,
            Loa::Substantial,
            serde_json::json!({"register": "match"}),
            now,
            now + Duration::days(365),
        )
        .unwrap()
    }

    #[test]
    fn lifecycle_allows_only_the_documented_moves() {
        use EkycStatus::*;
        let all = [Active, Suspended, Revoked];
        for from in all {
            for to in all {
                let allowed = matches!(
                    (from, to),
                    (Active, Suspended)
                        | (Suspended, Active)
                        | (Active, Revoked)
                        | (Suspended, Revoked)
                );
                assert_eq!(from.transition(to).is_ok(), allowed, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn set_status_updates_the_change_time_only_on_success() {
        let mut r = record();
        let later = r.issued_at + Duration::hours(1);
        r.set_status(EkycStatus::Suspended, later).unwrap();
        assert_eq!(
            (r.status, r.status_changed_at),
            (EkycStatus::Suspended, later)
        );
        r.set_status(EkycStatus::Revoked, later + Duration::hours(1))
            .unwrap();
        let err = r.set_status(EkycStatus::Active, later + Duration::hours(2));
        assert_eq!(
            err,
            Err(EkycError::InvalidTransition {
                from: EkycStatus::Revoked,
                to: EkycStatus::Active
            })
        );
        assert_eq!(r.status_changed_at, later + Duration::hours(1));
    }

    #[test]
    fn issue_rejects_level_above_evidence_and_bad_validity() {
        let now = OffsetDateTime::now_utc();
        let a = AccountId::new();
        let details = serde_json::Value::Null;
        assert_eq!(
            EkycRecord::issue(
                a,
                ProofingEvidence::RegisterMatch,
                Loa::High,
                details.clone(),
                now,
                now + Duration::DAY
            ),
            Err(EkycError::LoaAboveEvidence {
                evidence: ProofingEvidence::RegisterMatch,
                loa: Loa::High
            })
        );
        assert_eq!(
            EkycRecord::issue(a, ProofingEvidence::InPerson, Loa::High, details, now, now),
            Err(EkycError::ExpiresBeforeIssued)
        );
    }

    #[test]
    fn validity_needs_active_and_unexpired() {
        let mut r = record();
        assert!(r.is_valid_at(r.issued_at));
        assert!(!r.is_valid_at(r.expires_at));
        r.set_status(EkycStatus::Suspended, r.issued_at).unwrap();
        assert!(!r.is_valid_at(r.issued_at));
    }

    #[test]
    fn status_names_round_trip() {
        for s in [
            EkycStatus::Active,
            EkycStatus::Suspended,
            EkycStatus::Revoked,
        ] {
            assert_eq!(s.as_str().parse::<EkycStatus>(), Ok(s));
        }
        assert_eq!(
            "gone".parse::<EkycStatus>(),
            Err(EkycError::UnknownStatus("gone".into()))
        );
    }
}
