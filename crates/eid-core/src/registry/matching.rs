//! Claims and the value-free answer of `verify`.

use serde::{Deserialize, Serialize};
use time::Date;

use super::{RecordStatus, RegisterRecord, RegistryError};
use crate::citizen::{NameMatch, PersonalId, PivotIdentity, Sex, compare_names};

/// The attributes `verify` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    /// Family name.
    FamilyName,
    /// Middle name(s).
    MiddleNames,
    /// Given name.
    GivenName,
    /// Date of birth.
    BirthDate,
    /// Sex.
    Sex,
    /// Place of birth.
    PlaceOfBirth,
    /// Nationality.
    Nationality,
}

impl Attribute {
    /// Every attribute, in a fixed order.
    pub const ALL: [Attribute; 7] = [
        Attribute::FamilyName,
        Attribute::MiddleNames,
        Attribute::GivenName,
        Attribute::BirthDate,
        Attribute::Sex,
        Attribute::PlaceOfBirth,
        Attribute::Nationality,
    ];

    /// The pivot identity attributes FranceConnect matches on: family name, given names,
    /// date of birth, sex and place of birth.
    pub const PIVOT: [Attribute; 6] = [
        Attribute::FamilyName,
        Attribute::MiddleNames,
        Attribute::GivenName,
        Attribute::BirthDate,
        Attribute::Sex,
        Attribute::PlaceOfBirth,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// How one claimed attribute compares with the register. Carries no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeOutcome {
    /// Identical to the register.
    Matched,
    /// Equal after name normalisation (case, spacing, Unicode composition) only; the
    /// register's spelling should replace the claimed one (FranceConnect's "rectified").
    MatchedAfterNormalisation,
    /// Different from the register.
    Mismatched,
    /// Not claimed.
    NotProvided,
}

impl AttributeOutcome {
    /// Matched, exactly or after normalisation.
    pub fn is_match(self) -> bool {
        matches!(
            self,
            AttributeOutcome::Matched | AttributeOutcome::MatchedAfterNormalisation
        )
    }

    fn of_name(claimed: Option<&str>, registered: &str) -> Self {
        match claimed.map(|c| compare_names(c, registered)) {
            None => AttributeOutcome::NotProvided,
            Some(NameMatch::Exact) => AttributeOutcome::Matched,
            Some(NameMatch::Normalised) => AttributeOutcome::MatchedAfterNormalisation,
            Some(NameMatch::Different) => AttributeOutcome::Mismatched,
        }
    }

    fn of_value<T: PartialEq>(claimed: Option<&T>, registered: &T) -> Self {
        match claimed {
            None => AttributeOutcome::NotProvided,
            Some(c) if c == registered => AttributeOutcome::Matched,
            Some(_) => AttributeOutcome::Mismatched,
        }
    }
}

/// What a caller claims about a citizen: the number, and any attributes it wants checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityClaims {
    /// The personal ID number (the lookup key).
    pub personal_id: PersonalId,
    /// Claimed family name.
    pub family_name: Option<String>,
    /// Claimed middle name(s).
    pub middle_names: Option<String>,
    /// Claimed given name.
    pub given_name: Option<String>,
    /// Claimed date of birth.
    pub birth_date: Option<Date>,
    /// Claimed sex.
    pub sex: Option<Sex>,
    /// Claimed place of birth.
    pub place_of_birth: Option<String>,
    /// Claimed nationality (ISO 3166-1 alpha-2).
    pub nationality: Option<String>,
}

impl IdentityClaims {
    /// Claims of the number alone; set the attributes to check.
    pub fn new(personal_id: PersonalId) -> Self {
        Self {
            personal_id,
            family_name: None,
            middle_names: None,
            given_name: None,
            birth_date: None,
            sex: None,
            place_of_birth: None,
            nationality: None,
        }
    }

    /// Claims of every attribute of a pivot identity.
    pub fn of_identity(personal_id: PersonalId, identity: &PivotIdentity) -> Self {
        Self {
            personal_id,
            family_name: Some(identity.family_name.clone()),
            middle_names: Some(identity.middle_names.clone()),
            given_name: Some(identity.given_name.clone()),
            birth_date: Some(identity.birth_date),
            sex: Some(identity.sex),
            place_of_birth: Some(identity.place_of_birth.clone()),
            nationality: Some(identity.nationality.clone()),
        }
    }

    /// Checks the claimed date of birth and sex against the number's digits (a "bad
    /// request" when they disagree: no record can match).
    pub fn check_consistent(&self) -> Result<(), RegistryError> {
        if let Some(birth_date) = self.birth_date {
            self.personal_id
                .check_birth_date(birth_date)
                .map_err(RegistryError::InconsistentClaims)?;
        }
        if let Some(sex) = self.sex {
            self.personal_id
                .check_sex(sex)
                .map_err(RegistryError::InconsistentClaims)?;
        }
        Ok(())
    }
}

/// The outcome for a record that holds the claimed number: its status and one outcome per
/// attribute. Holds no registered value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordMatch {
    status: RecordStatus,
    outcomes: [AttributeOutcome; 7],
}

impl RecordMatch {
    /// Compares claims with a record (for register implementations).
    pub fn compare(claims: &IdentityClaims, record: &RegisterRecord) -> Self {
        let id = &record.identity;
        let name = AttributeOutcome::of_name;
        let outcomes = Attribute::ALL.map(|attribute| match attribute {
            Attribute::FamilyName => name(claims.family_name.as_deref(), &id.family_name),
            Attribute::MiddleNames => name(claims.middle_names.as_deref(), &id.middle_names),
            Attribute::GivenName => name(claims.given_name.as_deref(), &id.given_name),
            Attribute::BirthDate => {
                AttributeOutcome::of_value(claims.birth_date.as_ref(), &id.birth_date)
            }
            Attribute::Sex => AttributeOutcome::of_value(claims.sex.as_ref(), &id.sex),
            Attribute::PlaceOfBirth => name(claims.place_of_birth.as_deref(), &id.place_of_birth),
            Attribute::Nationality => name(claims.nationality.as_deref(), &id.nationality),
        });
        Self {
            status: record.status,
            outcomes,
        }
    }

    /// A record match from its status and one outcome per attribute (for register clients
    /// that receive the outcomes over the wire).
    pub fn from_outcomes(
        status: RecordStatus,
        outcome: impl Fn(Attribute) -> AttributeOutcome,
    ) -> Self {
        Self {
            status,
            outcomes: Attribute::ALL.map(outcome),
        }
    }

    /// The record's status.
    pub fn status(&self) -> RecordStatus {
        self.status
    }

    /// The outcome for one attribute.
    pub fn outcome(&self, attribute: Attribute) -> AttributeOutcome {
        self.outcomes[attribute.index()]
    }
}

/// The answer of [`super::PopulationRegistry::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    /// No record holds the claimed number.
    UnknownNumber,
    /// A record holds the number.
    Found(RecordMatch),
}

impl Match {
    /// The record's status, if a record was found.
    pub fn status(&self) -> Option<RecordStatus> {
        match self {
            Match::UnknownNumber => None,
            Match::Found(record) => Some(record.status),
        }
    }

    /// The outcome for one attribute, if a record was found.
    pub fn outcome(&self, attribute: Attribute) -> Option<AttributeOutcome> {
        match self {
            Match::UnknownNumber => None,
            Match::Found(record) => Some(record.outcome(attribute)),
        }
    }

    /// True when the record is active, every `required` attribute matched (exactly or after
    /// normalisation), and no provided attribute mismatched.
    pub fn confirms(&self, required: &[Attribute]) -> bool {
        self.status() == Some(RecordStatus::Active)
            && required
                .iter()
                .all(|a| self.outcome(*a).is_some_and(AttributeOutcome::is_match))
            && self.mismatched().is_empty()
    }

    /// The attributes that were claimed and differ from the register.
    pub fn mismatched(&self) -> Vec<Attribute> {
        self.attributes_where(|o| o == AttributeOutcome::Mismatched)
    }

    /// True when some attribute matched only after normalisation: fetch the record to use
    /// the register's spelling.
    pub fn needs_rectification(&self) -> bool {
        !self
            .attributes_where(|o| o == AttributeOutcome::MatchedAfterNormalisation)
            .is_empty()
    }

    fn attributes_where(&self, pred: impl Fn(AttributeOutcome) -> bool) -> Vec<Attribute> {
        Attribute::ALL
            .into_iter()
            .filter(|a| self.outcome(*a).is_some_and(&pred))
            .collect()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use time::macros::date;
    use unicode_normalization::UnicodeNormalization;

    use super::*;

    /// A register record with `status`, shared by the register's unit tests.
    pub(in crate::registry) fn record(status: RecordStatus) -> RegisterRecord {
        RegisterRecord {
            personal_id: PersonalId::parse("001190123489").unwrap(),
            identity: PivotIdentity {
                family_name: "Nguyễn".into(),
                middle_names: "Thị".into(),
                given_name: "Hương".into(),
                birth_date: date!(1990 - 05 - 17),
                sex: Sex::Female,
                place_of_birth: "Hà Nội".into(),
                nationality: "VN".into(),
            },
            status,
        }
    }

    fn full_claims() -> IdentityClaims {
        let r = record(RecordStatus::Active);
        IdentityClaims::of_identity(r.personal_id, &r.identity)
    }

    fn compare(claims: &IdentityClaims, status: RecordStatus) -> Match {
        Match::Found(RecordMatch::compare(claims, &record(status)))
    }

    #[test]
    fn identical_claims_match_every_attribute() {
        let m = compare(&full_claims(), RecordStatus::Active);
        for a in Attribute::ALL {
            assert_eq!(m.outcome(a), Some(AttributeOutcome::Matched), "{a:?}");
        }
        assert!(m.confirms(&Attribute::ALL));
        assert!(!m.needs_rectification());
    }

    #[test]
    fn each_attribute_mismatch_is_reported_alone() {
        type Spoiler = fn(&mut IdentityClaims);
        let spoilers: [(Attribute, Spoiler); 7] = [
            (Attribute::FamilyName, |c| {
                c.family_name = Some("Nguyen".into())
            }),
            (Attribute::MiddleNames, |c| {
                c.middle_names = Some("Văn".into())
            }),
            (Attribute::GivenName, |c| {
                c.given_name = Some("Hường".into())
            }),
            (Attribute::BirthDate, |c| {
                c.birth_date = Some(date!(1990 - 05 - 18))
            }),
            (Attribute::Sex, |c| c.sex = Some(Sex::Male)),
            (Attribute::PlaceOfBirth, |c| {
                c.place_of_birth = Some("Hà Nam".into())
            }),
            (Attribute::Nationality, |c| {
                c.nationality = Some("FR".into())
            }),
        ];
        for (attribute, spoil) in spoilers {
            let mut claims = full_claims();
            spoil(&mut claims);
            let m = compare(&claims, RecordStatus::Active);
            assert_eq!(m.mismatched(), vec![attribute]);
            assert!(!m.confirms(&[Attribute::FamilyName]), "{attribute:?}");
        }
    }

    #[test]
    fn nfd_and_case_variants_match_after_normalisation() {
        let mut claims = full_claims();
        claims.family_name = Some("Nguyễn".nfd().collect());
        claims.given_name = Some(" HƯƠNG ".into());
        let m = compare(&claims, RecordStatus::Active);
        assert_eq!(
            m.outcome(Attribute::FamilyName),
            Some(AttributeOutcome::MatchedAfterNormalisation)
        );
        assert_eq!(
            m.outcome(Attribute::GivenName),
            Some(AttributeOutcome::MatchedAfterNormalisation)
        );
        assert!(m.confirms(&Attribute::ALL));
        assert!(m.needs_rectification());
    }

    #[test]
    fn attributes_not_claimed_are_not_provided() {
        let claims = IdentityClaims {
            given_name: Some("Hương".into()),
            ..IdentityClaims::new(full_claims().personal_id)
        };
        let m = compare(&claims, RecordStatus::Active);
        assert_eq!(
            m.outcome(Attribute::GivenName),
            Some(AttributeOutcome::Matched)
        );
        for a in Attribute::ALL
            .into_iter()
            .filter(|a| *a != Attribute::GivenName)
        {
            assert_eq!(m.outcome(a), Some(AttributeOutcome::NotProvided), "{a:?}");
        }
        assert!(m.confirms(&[Attribute::GivenName]));
        assert!(!m.confirms(&[Attribute::GivenName, Attribute::BirthDate]));
    }

    #[test]
    fn only_active_records_confirm() {
        for status in [RecordStatus::Deceased, RecordStatus::CardRevoked] {
            let m = compare(&full_claims(), status);
            assert_eq!(m.status(), Some(status));
            assert!(!m.confirms(&[]), "{status:?}");
        }
        assert!(!Match::UnknownNumber.confirms(&[]));
        assert_eq!(Match::UnknownNumber.outcome(Attribute::Sex), None);
    }

    #[test]
    fn claims_contradicting_the_number_are_a_bad_request() {
        let mut claims = full_claims();
        assert!(claims.check_consistent().is_ok());
        claims.birth_date = Some(date!(2090 - 05 - 17));
        assert!(matches!(
            claims.check_consistent(),
            Err(RegistryError::InconsistentClaims(_))
        ));
        let mut claims = full_claims();
        claims.sex = Some(Sex::Male);
        assert!(matches!(
            claims.check_consistent(),
            Err(RegistryError::InconsistentClaims(_))
        ));
    }

    #[test]
    fn the_answer_serialises_without_values() {
        let json = serde_json::to_string(&compare(&full_claims(), RecordStatus::Active)).unwrap();
        for value in [
            "Nguyễn",
            "Hương",
            "1990",
            "VN",
            "Hà Nội",
            "female",
            "0123489",
        ] {
            assert!(!json.contains(value), "{value} in {json}");
        }
    }
}
