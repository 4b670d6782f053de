//! Rows as the SQL stores read them, and their conversion to domain types. The same
//! column names and types (in Rust terms) serve SQLite and PostgreSQL.

use std::collections::BTreeSet;

use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::assurance::{Loa, ProofingEvidence};
use crate::audit::{Actor, AttributeName, AuditEntry, AuditRecord, ChainHead};
use crate::credential::ekyc::EkycRecord;
use crate::store::{
    Account, AccountId, ClientId, Consent, CredentialId, EkycId, EntrySource, IssuedCredential,
    PasskeyId, PasskeyRecord, PasswordCredential, RefreshGrant, StoreError,
};

fn time(us: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .map_err(|_| StoreError::Corrupt("time"))
}

/// A sequence number as stored.
pub(super) fn seq_value(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Corrupt("audit sequence number"))
}

fn seq(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("audit sequence number"))
}

fn hash(v: Vec<u8>) -> Result<[u8; 32], StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt("audit hash"))
}

/// The stored name of an evidence kind.
pub(super) fn evidence_name(e: ProofingEvidence) -> &'static str {
    match e {
        ProofingEvidence::RegisterMatch => "register_match",
        ProofingEvidence::RegisterAndChip => "register_and_chip",
        ProofingEvidence::InPerson => "in_person",
    }
}

fn evidence(name: &str) -> Result<ProofingEvidence, StoreError> {
    [
        ProofingEvidence::RegisterMatch,
        ProofingEvidence::RegisterAndChip,
        ProofingEvidence::InPerson,
    ]
    .into_iter()
    .find(|e| evidence_name(*e) == name)
    .ok_or(StoreError::Corrupt("proofing evidence"))
}

fn loa(name: &str) -> Result<Loa, StoreError> {
    name.parse()
        .map_err(|_| StoreError::Corrupt("level of assurance"))
}

#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
    id: Uuid,
    personal_id: String,
    status: String,
    created_at: i64,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;
    fn try_from(r: AccountRow) -> Result<Self, StoreError> {
        Ok(Account {
            id: AccountId::from_uuid(r.id),
            personal_id: r
                .personal_id
                .parse()
                .map_err(|_| StoreError::Corrupt("personal ID number"))?,
            status: r.status.parse()?,
            created_at: time(r.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct PasswordRow {
    phc: String,
    updated_at: i64,
}

impl TryFrom<PasswordRow> for PasswordCredential {
    type Error = StoreError;
    fn try_from(r: PasswordRow) -> Result<Self, StoreError> {
        Ok(PasswordCredential {
            phc: r.phc,
            updated_at: time(r.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct PasskeyRow {
    id: Uuid,
    account_id: Uuid,
    credential_id: Vec<u8>,
    label: String,
    passkey: Json<serde_json::Value>,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl TryFrom<PasskeyRow> for PasskeyRecord {
    type Error = StoreError;
    fn try_from(r: PasskeyRow) -> Result<Self, StoreError> {
        Ok(PasskeyRecord {
            id: PasskeyId::from_uuid(r.id),
            account_id: AccountId::from_uuid(r.account_id),
            credential_id: r.credential_id,
            label: r.label,
            passkey: r.passkey.0,
            created_at: time(r.created_at)?,
            last_used_at: r.last_used_at.map(time).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ConsentRow {
    client_id: String,
    granted_at: i64,
    revoked_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(super) struct ConsentItemRow {
    client_id: String,
    kind: String,
    name: String,
}

/// Builds consents from their rows and the items of the same account (any order).
pub(super) fn consents(
    account_id: AccountId,
    rows: Vec<ConsentRow>,
    items: Vec<ConsentItemRow>,
) -> Result<Vec<Consent>, StoreError> {
    let mut out = rows
        .into_iter()
        .map(|r| {
            Ok(Consent {
                account_id,
                client_id: ClientId::new(r.client_id)
                    .map_err(|_| StoreError::Corrupt("client id"))?,
                scopes: BTreeSet::new(),
                claims: BTreeSet::new(),
                granted_at: time(r.granted_at)?,
                revoked_at: r.revoked_at.map(time).transpose()?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    for item in items {
        let consent = out
            .iter_mut()
            .find(|c| c.client_id.as_str() == item.client_id)
            .ok_or(StoreError::Corrupt("consent item"))?;
        let set = match item.kind.as_str() {
            "scope" => &mut consent.scopes,
            "claim" => &mut consent.claims,
            _ => return Err(StoreError::Corrupt("consent item kind")),
        };
        set.insert(item.name);
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
pub(super) struct EkycRow {
    id: Uuid,
    account_id: Uuid,
    evidence: String,
    loa: String,
    details: Json<serde_json::Value>,
    status: String,
    issued_at: i64,
    expires_at: i64,
    status_changed_at: i64,
}

impl TryFrom<EkycRow> for EkycRecord {
    type Error = StoreError;
    fn try_from(r: EkycRow) -> Result<Self, StoreError> {
        Ok(EkycRecord {
            id: EkycId::from_uuid(r.id),
            account_id: AccountId::from_uuid(r.account_id),
            evidence: evidence(&r.evidence)?,
            loa: loa(&r.loa)?,
            details: r.details.0,
            status: r.status.parse()?,
            issued_at: time(r.issued_at)?,
            expires_at: time(r.expires_at)?,
            status_changed_at: time(r.status_changed_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RefreshRow {
    pub(super) family: Uuid,
    account_id: Uuid,
    client_id: String,
    scope: String,
    loa: Option<String>,
    amr: Json<Vec<String>>,
    auth_time: i64,
    expires_at: i64,
    /// Set when the token was exchanged for its successor.
    pub(super) used_at: Option<i64>,
    /// Set when the family was revoked.
    pub(super) revoked_at: Option<i64>,
}

impl RefreshRow {
    /// Whether the token can still be exchanged at `now` (unix microseconds).
    pub(super) fn usable_at(&self, now: i64) -> bool {
        self.used_at.is_none() && self.revoked_at.is_none() && self.expires_at > now
    }
}

impl TryFrom<RefreshRow> for RefreshGrant {
    type Error = StoreError;
    fn try_from(r: RefreshRow) -> Result<Self, StoreError> {
        Ok(RefreshGrant {
            family: r.family,
            account: AccountId::from_uuid(r.account_id),
            client: ClientId::new(r.client_id).map_err(|_| StoreError::Corrupt("client id"))?,
            scope: r.scope,
            loa: r.loa.as_deref().map(loa).transpose()?,
            amr: r.amr.0,
            auth_time: time(r.auth_time)?,
            expires_at: time(r.expires_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    seq: i64,
    at: i64,
    event: String,
    actor_kind: String,
    actor_id: Option<String>,
    subject: Option<Uuid>,
    relying_party: Option<String>,
    attributes: Json<Vec<String>>,
    loa: Option<String>,
    outcome: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        let relying_party = r
            .relying_party
            .map(|c| ClientId::new(c).map_err(|_| StoreError::Corrupt("relying party")))
            .transpose()?;
        let attributes = r
            .attributes
            .0
            .into_iter()
            .map(AttributeName::new)
            .collect::<Result<_, _>>()?;
        Ok(AuditEntry {
            seq: seq(r.seq)?,
            at: time(r.at)?,
            record: AuditRecord {
                event: r.event.parse()?,
                actor: Actor::from_parts(&r.actor_kind, r.actor_id.as_deref())?,
                subject: r.subject.map(AccountId::from_uuid),
                relying_party,
                attributes,
                loa: r.loa.as_deref().map(loa).transpose()?,
                outcome: r.outcome.parse()?,
            },
            prev_hash: hash(r.prev_hash)?,
            hash: hash(r.hash)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct HeadRow {
    seq: i64,
    hash: Vec<u8>,
}

impl TryFrom<HeadRow> for ChainHead {
    type Error = StoreError;
    fn try_from(r: HeadRow) -> Result<Self, StoreError> {
        Ok(ChainHead {
            seq: seq(r.seq)?,
            hash: hash(r.hash)?,
        })
    }
}

/// Maps a failed write: a uniqueness violation to `Duplicate(unique)`, a foreign key
/// violation to `NotFound(missing)`.
#[derive(sqlx::FromRow)]
pub(super) struct IssuedRow {
    id: Uuid,
    account_id: Uuid,
    ekyc_id: Uuid,
    list_id: i64,
    idx: i64,
    issued_at: i64,
    expires_at: i64,
}

impl TryFrom<IssuedRow> for IssuedCredential {
    type Error = StoreError;
    fn try_from(r: IssuedRow) -> Result<Self, StoreError> {
        let number = |n: i64| u32::try_from(n).map_err(|_| StoreError::Corrupt("status index"));
        Ok(IssuedCredential {
            id: CredentialId::from_uuid(r.id),
            account_id: AccountId::from_uuid(r.account_id),
            ekyc_id: EkycId::from_uuid(r.ekyc_id),
            list: number(r.list_id)?,
            index: number(r.idx)?,
            issued_at: time(r.issued_at)?,
            expires_at: time(r.expires_at)?,
        })
    }
}

/// A status list entry with its eKYC record and account, when they still exist.
#[derive(sqlx::FromRow)]
pub(super) struct SourceRow {
    idx: i64,
    expires_at: i64,
    ekyc_status: Option<String>,
    ekyc_expires_at: Option<i64>,
    account_status: Option<String>,
}

impl TryFrom<SourceRow> for EntrySource {
    type Error = StoreError;
    fn try_from(r: SourceRow) -> Result<Self, StoreError> {
        let ekyc = match (r.ekyc_status, r.ekyc_expires_at) {
            (Some(status), Some(expires_at)) => Some((status.parse()?, time(expires_at)?)),
            _ => None,
        };
        Ok(EntrySource {
            index: u32::try_from(r.idx).map_err(|_| StoreError::Corrupt("status index"))?,
            expires_at: time(r.expires_at)?,
            ekyc,
            account: r.account_status.map(|s| s.parse()).transpose()?,
        })
    }
}

pub(super) fn write_error(
    e: sqlx::Error,
    unique: crate::store::Unique,
    missing: crate::store::Entity,
) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Duplicate(unique);
        }
        if db.is_foreign_key_violation() {
            return StoreError::NotFound(missing);
        }
    }
    e.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_at_microsecond_precision() {
        let t = crate::store::now();
        assert_eq!(time(crate::store::unix_micros(t)).ok(), Some(t));
        assert!(time(i64::MAX).is_err());
    }

    #[test]
    fn names_round_trip_and_reject_unknown() {
        for e in [
            ProofingEvidence::RegisterMatch,
            ProofingEvidence::RegisterAndChip,
            ProofingEvidence::InPerson,
        ] {
            assert_eq!(evidence(evidence_name(e)).ok(), Some(e));
        }
        assert!(evidence("hearsay").is_err());
        assert!(loa("medium").is_err());
        assert!(seq(-1).is_err());
        assert!(hash(vec![0; 31]).is_err());
    }

    #[test]
    fn consent_items_must_belong_to_a_known_consent_and_kind() {
        let a = AccountId::new();
        let row = || ConsentRow {
            client_id: "rp".into(),
            granted_at: 0,
            revoked_at: None,
        };
        let item = |client: &str, kind: &str| ConsentItemRow {
            client_id: client.into(),
            kind: kind.into(),
            name: "openid".into(),
        };
        let ok = consents(
            a,
            vec![row()],
            vec![item("rp", "scope"), item("rp", "claim")],
        )
        .unwrap();
        assert!(ok[0].scopes.contains("openid") && ok[0].claims.contains("openid"));
        assert!(consents(a, vec![row()], vec![item("other", "scope")]).is_err());
        assert!(consents(a, vec![row()], vec![item("rp", "secret")]).is_err());
    }
}
