//! Conversions between the register's domain types and the `eid.registry.v1` messages, used
//! by the client here and by the reference server.

use eid_proto::registry::v1 as pb;
use time::Date;
use time::macros::format_description;

use crate::citizen::{PersonalId, PivotIdentity, Sex};
use crate::registry::{
    Attribute, AttributeOutcome, IdentityClaims, Match, RecordMatch, RecordStatus, RegisterRecord,
    StatusChange, StatusChangeKind,
};

/// A message that breaks the contract: a malformed number or date, a missing field, an
/// unknown or unspecified enum value. The server answers it with `INVALID_ARGUMENT`; the
/// client reports it as [`crate::registry::RegistryError::Protocol`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidMessage(pub String);

fn invalid(what: impl Into<String>) -> InvalidMessage {
    InvalidMessage(what.into())
}

const ISO_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

fn date_to_proto(date: Date) -> String {
    // A `Date` always formats with this description (years are four digits here).
    date.format(ISO_DATE).unwrap_or_default()
}

fn date_from_proto(field: &str, value: &str) -> Result<Date, InvalidMessage> {
    Date::parse(value, ISO_DATE).map_err(|_| invalid(format!("{field} is not YYYY-MM-DD")))
}

fn id_from_proto(field: &str, value: &str) -> Result<PersonalId, InvalidMessage> {
    PersonalId::parse(value).map_err(|e| invalid(format!("{field}: {e}")))
}

fn sex_to_proto(sex: Sex) -> pb::Sex {
    match sex {
        Sex::Male => pb::Sex::Male,
        Sex::Female => pb::Sex::Female,
    }
}

/// `None` for `SEX_UNSPECIFIED`.
fn sex_from_proto(value: i32) -> Result<Option<Sex>, InvalidMessage> {
    match pb::Sex::try_from(value) {
        Ok(pb::Sex::Unspecified) => Ok(None),
        Ok(pb::Sex::Male) => Ok(Some(Sex::Male)),
        Ok(pb::Sex::Female) => Ok(Some(Sex::Female)),
        Err(_) => Err(invalid(format!("unknown sex {value}"))),
    }
}

fn status_to_proto(status: RecordStatus) -> pb::RecordStatus {
    match status {
        RecordStatus::Active => pb::RecordStatus::Active,
        RecordStatus::Deceased => pb::RecordStatus::Deceased,
        RecordStatus::CardRevoked => pb::RecordStatus::CardRevoked,
    }
}

fn status_from_proto(value: i32) -> Result<RecordStatus, InvalidMessage> {
    match pb::RecordStatus::try_from(value) {
        Ok(pb::RecordStatus::Active) => Ok(RecordStatus::Active),
        Ok(pb::RecordStatus::Deceased) => Ok(RecordStatus::Deceased),
        Ok(pb::RecordStatus::CardRevoked) => Ok(RecordStatus::CardRevoked),
        Ok(pb::RecordStatus::Unspecified) | Err(_) => {
            Err(invalid(format!("unknown record status {value}")))
        }
    }
}

fn attribute_to_proto(attribute: Attribute) -> pb::Attribute {
    match attribute {
        Attribute::FamilyName => pb::Attribute::FamilyName,
        Attribute::MiddleNames => pb::Attribute::MiddleNames,
        Attribute::GivenName => pb::Attribute::GivenName,
        Attribute::BirthDate => pb::Attribute::BirthDate,
        Attribute::Sex => pb::Attribute::Sex,
        Attribute::PlaceOfBirth => pb::Attribute::PlaceOfBirth,
        Attribute::Nationality => pb::Attribute::Nationality,
    }
}

fn outcome_to_proto(outcome: AttributeOutcome) -> pb::AttributeOutcome {
    match outcome {
        AttributeOutcome::Matched => pb::AttributeOutcome::Matched,
        AttributeOutcome::MatchedAfterNormalisation => {
            pb::AttributeOutcome::MatchedAfterNormalisation
        }
        AttributeOutcome::Mismatched => pb::AttributeOutcome::Mismatched,
        AttributeOutcome::NotProvided => pb::AttributeOutcome::NotProvided,
    }
}

fn outcome_from_proto(value: i32) -> Result<AttributeOutcome, InvalidMessage> {
    match pb::AttributeOutcome::try_from(value) {
        Ok(pb::AttributeOutcome::Matched) => Ok(AttributeOutcome::Matched),
        Ok(pb::AttributeOutcome::MatchedAfterNormalisation) => {
            Ok(AttributeOutcome::MatchedAfterNormalisation)
        }
        Ok(pb::AttributeOutcome::Mismatched) => Ok(AttributeOutcome::Mismatched),
        Ok(pb::AttributeOutcome::NotProvided) => Ok(AttributeOutcome::NotProvided),
        Ok(pb::AttributeOutcome::Unspecified) | Err(_) => {
            Err(invalid(format!("unknown attribute outcome {value}")))
        }
    }
}

/// Claims to their message.
pub fn claims_to_proto(claims: &IdentityClaims) -> pb::IdentityClaims {
    pb::IdentityClaims {
        personal_id: claims.personal_id.expose(),
        family_name: claims.family_name.clone(),
        middle_names: claims.middle_names.clone(),
        given_name: claims.given_name.clone(),
        birth_date: claims.birth_date.map(date_to_proto),
        sex: claims.sex.map_or(pb::Sex::Unspecified, sex_to_proto).into(),
        place_of_birth: claims.place_of_birth.clone(),
        nationality: claims.nationality.clone(),
    }
}

/// Claims from their message.
pub fn claims_from_proto(claims: pb::IdentityClaims) -> Result<IdentityClaims, InvalidMessage> {
    Ok(IdentityClaims {
        personal_id: id_from_proto("personal_id", &claims.personal_id)?,
        family_name: claims.family_name,
        middle_names: claims.middle_names,
        given_name: claims.given_name,
        birth_date: claims
            .birth_date
            .as_deref()
            .map(|d| date_from_proto("birth_date", d))
            .transpose()?,
        sex: sex_from_proto(claims.sex)?,
        place_of_birth: claims.place_of_birth,
        nationality: claims.nationality,
    })
}

/// The answer of `verify` to its message: one result per attribute when found.
pub fn match_to_proto(answer: &Match) -> pb::VerifyIdentityResponse {
    match answer {
        Match::UnknownNumber => pb::VerifyIdentityResponse::default(),
        Match::Found(record) => pb::VerifyIdentityResponse {
            found: true,
            status: status_to_proto(record.status()).into(),
            results: Attribute::ALL
                .into_iter()
                .map(|attribute| pb::AttributeResult {
                    attribute: attribute_to_proto(attribute).into(),
                    outcome: outcome_to_proto(record.outcome(attribute)).into(),
                })
                .collect(),
        },
    }
}

/// The answer of `verify` from its message. Requires exactly one result per attribute.
pub fn match_from_proto(answer: pb::VerifyIdentityResponse) -> Result<Match, InvalidMessage> {
    if !answer.found {
        return Ok(Match::UnknownNumber);
    }
    let status = status_from_proto(answer.status)?;
    let mut outcomes = [None; Attribute::ALL.len()];
    for result in &answer.results {
        let index = Attribute::ALL
            .iter()
            .position(|a| i32::from(attribute_to_proto(*a)) == result.attribute)
            .ok_or_else(|| invalid(format!("unknown attribute {}", result.attribute)))?;
        if outcomes[index]
            .replace(outcome_from_proto(result.outcome)?)
            .is_some()
        {
            return Err(invalid(format!(
                "attribute {} answered twice",
                result.attribute
            )));
        }
    }
    if outcomes.iter().any(Option::is_none) {
        return Err(invalid("an attribute has no result"));
    }
    let outcome = |attribute: Attribute| {
        let index = Attribute::ALL.iter().position(|a| *a == attribute);
        index
            .and_then(|i| outcomes[i])
            .unwrap_or(AttributeOutcome::NotProvided)
    };
    Ok(Match::Found(RecordMatch::from_outcomes(status, outcome)))
}

/// A record to its message.
pub fn record_to_proto(record: &RegisterRecord) -> pb::Citizen {
    let identity = &record.identity;
    pb::Citizen {
        personal_id: record.personal_id.expose(),
        family_name: identity.family_name.clone(),
        middle_names: identity.middle_names.clone(),
        given_name: identity.given_name.clone(),
        birth_date: date_to_proto(identity.birth_date),
        sex: sex_to_proto(identity.sex).into(),
        place_of_birth: identity.place_of_birth.clone(),
        nationality: identity.nationality.clone(),
        status: status_to_proto(record.status).into(),
    }
}

/// A record from its message.
pub fn record_from_proto(citizen: pb::Citizen) -> Result<RegisterRecord, InvalidMessage> {
    Ok(RegisterRecord {
        personal_id: id_from_proto("personal_id", &citizen.personal_id)?,
        identity: PivotIdentity {
            birth_date: date_from_proto("birth_date", &citizen.birth_date)?,
            sex: sex_from_proto(citizen.sex)?.ok_or_else(|| invalid("sex is unspecified"))?,
            family_name: citizen.family_name,
            middle_names: citizen.middle_names,
            given_name: citizen.given_name,
            place_of_birth: citizen.place_of_birth,
            nationality: citizen.nationality,
        },
        status: status_from_proto(citizen.status)?,
    })
}

/// A status change to its message.
pub fn change_to_proto(change: &StatusChange) -> pb::WatchStatusResponse {
    let (kind, replacement) = match change.kind {
        StatusChangeKind::Deceased => (pb::StatusChangeKind::Deceased, String::new()),
        StatusChangeKind::CardRevoked => (pb::StatusChangeKind::CardRevoked, String::new()),
        StatusChangeKind::NumberReplaced { replacement } => {
            (pb::StatusChangeKind::NumberReplaced, replacement.expose())
        }
    };
    pb::WatchStatusResponse {
        sequence: change.sequence,
        personal_id: change.personal_id.expose(),
        kind: kind.into(),
        status: status_to_proto(change.status).into(),
        replacement_personal_id: replacement,
    }
}

/// A status change from its message.
pub fn change_from_proto(change: pb::WatchStatusResponse) -> Result<StatusChange, InvalidMessage> {
    let kind = match pb::StatusChangeKind::try_from(change.kind) {
        Ok(pb::StatusChangeKind::Deceased) => StatusChangeKind::Deceased,
        Ok(pb::StatusChangeKind::CardRevoked) => StatusChangeKind::CardRevoked,
        Ok(pb::StatusChangeKind::NumberReplaced) => StatusChangeKind::NumberReplaced {
            replacement: id_from_proto("replacement_personal_id", &change.replacement_personal_id)?,
        },
        Ok(pb::StatusChangeKind::Unspecified) | Err(_) => {
            return Err(invalid(format!("unknown status change {}", change.kind)));
        }
    };
    Ok(StatusChange {
        sequence: change.sequence,
        personal_id: id_from_proto("personal_id", &change.personal_id)?,
        kind,
        status: status_from_proto(change.status)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::matching::tests::record;

    #[test]
    fn claims_records_and_answers_round_trip() {
        let record = record(RecordStatus::Deceased);
        assert_eq!(record_from_proto(record_to_proto(&record)).unwrap(), record);
        let mut claims = IdentityClaims::of_identity(record.personal_id, &record.identity);
        claims.given_name = Some("HƯƠNG".into());
        claims.nationality = None;
        assert_eq!(claims_from_proto(claims_to_proto(&claims)).unwrap(), claims);
        let answer = Match::Found(RecordMatch::compare(&claims, &record));
        assert_eq!(match_from_proto(match_to_proto(&answer)).unwrap(), answer);
        let unknown = Match::UnknownNumber;
        assert_eq!(match_from_proto(match_to_proto(&unknown)).unwrap(), unknown);
        let change = StatusChange {
            sequence: 7,
            personal_id: record.personal_id,
            kind: StatusChangeKind::NumberReplaced {
                replacement: PersonalId::parse("001190123490").unwrap(),
            },
            status: RecordStatus::Active,
        };
        assert_eq!(change_from_proto(change_to_proto(&change)).unwrap(), change);
    }

    #[test]
    fn incomplete_or_unknown_answers_are_refused() {
        let record = record(RecordStatus::Active);
        let claims = IdentityClaims::of_identity(record.personal_id, &record.identity);
        let full = match_to_proto(&Match::Found(RecordMatch::compare(&claims, &record)));
        let mut missing = full.clone();
        missing.results.pop();
        assert!(match_from_proto(missing).is_err());
        let mut twice = full.clone();
        twice.results[1] = twice.results[0];
        assert!(match_from_proto(twice).is_err());
        let mut unspecified = full;
        unspecified.status = pb::RecordStatus::Unspecified.into();
        assert!(match_from_proto(unspecified).is_err());
    }

    #[test]
    fn malformed_claims_are_refused() {
        let base = claims_to_proto(&IdentityClaims::new(
            PersonalId::parse("001190123489").unwrap(),
        ));
        for bad in [
            pb::IdentityClaims {
                personal_id: "12345".into(),
                ..base.clone()
            },
            pb::IdentityClaims {
                birth_date: Some("17/05/1990".into()),
                ..base.clone()
            },
            pb::IdentityClaims {
                sex: 9,
                ..base.clone()
            },
        ] {
            assert!(claims_from_proto(bad).is_err());
        }
    }
}
