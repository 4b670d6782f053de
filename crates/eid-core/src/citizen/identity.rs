//! The pivot identity: the attributes a citizen is matched on against the register.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;

use super::{CitizenError, normalize_name};

time::serde::format_description!(pub(crate) iso_date, Date, "[year]-[month]-[day]");

/// Sex as recorded in the register and encoded in the personal ID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// Male.
    Male,
    /// Female.
    Female,
}

impl Sex {
    /// `male` or `female`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pivot identity of a citizen, as the register holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PivotIdentity {
    /// Family name (họ), e.g. `Nguyễn`.
    pub family_name: String,
    /// Middle name(s) (tên đệm), e.g. `Thị Thu`; may be empty.
    pub middle_names: String,
    /// Given name (tên), e.g. `Hương`.
    pub given_name: String,
    /// Date of birth (serialised `YYYY-MM-DD`).
    #[serde(with = "iso_date")]
    pub birth_date: Date,
    /// Sex.
    pub sex: Sex,
    /// Place of birth (the province or country name).
    pub place_of_birth: String,
    /// Nationality, ISO 3166-1 alpha-2 (`VN`).
    pub nationality: String,
}

impl PivotIdentity {
    /// Checks the required fields: family name, given name and place of birth not blank,
    /// nationality two letters A–Z.
    pub fn validate(&self) -> Result<(), CitizenError> {
        for (field, value) in [
            ("family name", &self.family_name),
            ("given name", &self.given_name),
            ("place of birth", &self.place_of_birth),
        ] {
            if normalize_name(value).is_empty() {
                return Err(CitizenError::EmptyField { field });
            }
        }
        if self.nationality.len() != 2 || !self.nationality.bytes().all(|b| b.is_ascii_uppercase())
        {
            return Err(CitizenError::InvalidNationality);
        }
        Ok(())
    }

    /// The full name in Vietnamese order: family, middle, given, single-spaced.
    pub fn full_name(&self) -> String {
        [&self.family_name, &self.middle_names, &self.given_name]
            .iter()
            .flat_map(|part| part.split_whitespace())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn identity() -> PivotIdentity {
        PivotIdentity {
            family_name: "Nguyễn".into(),
            middle_names: "Thị  Thu".into(),
            given_name: "Hương".into(),
            birth_date: date!(1990 - 05 - 17),
            sex: Sex::Female,
            place_of_birth: "Hà Nội".into(),
            nationality: "VN".into(),
        }
    }

    #[test]
    fn a_complete_identity_is_valid() {
        assert_eq!(identity().validate(), Ok(()));
        assert_eq!(identity().full_name(), "Nguyễn Thị Thu Hương");
    }

    #[test]
    fn middle_names_may_be_empty() {
        let id = PivotIdentity {
            middle_names: String::new(),
            ..identity()
        };
        assert_eq!(id.validate(), Ok(()));
        assert_eq!(id.full_name(), "Nguyễn Hương");
    }

    #[test]
    fn blank_required_fields_are_rejected() {
        type Spoiler = fn(&mut PivotIdentity);
        let cases: [(Spoiler, &str); 3] = [
            (|i| i.family_name = " ".into(), "family name"),
            (|i| i.given_name = String::new(), "given name"),
            (|i| i.place_of_birth = "\t".into(), "place of birth"),
        ];
        for (spoil, field) in cases {
            let mut id = identity();
            spoil(&mut id);
            assert_eq!(id.validate(), Err(CitizenError::EmptyField { field }));
        }
    }

    #[test]
    fn nationality_must_be_alpha_2() {
        for bad in ["VNM", "vn", "V", "", "V1"] {
            let id = PivotIdentity {
                nationality: bad.into(),
                ..identity()
            };
            assert_eq!(
                id.validate(),
                Err(CitizenError::InvalidNationality),
                "{bad}"
            );
        }
    }

    #[test]
    fn sex_serialises_lowercase() {
        assert_eq!(serde_json::to_string(&Sex::Female).unwrap(), "\"female\"");
        assert!(serde_json::from_str::<Sex>("\"F\"").is_err());
    }

    #[test]
    fn birth_date_serialises_as_iso_date() {
        let json = serde_json::to_value(identity()).unwrap();
        assert_eq!(json["birth_date"], "1990-05-17");
        assert_eq!(
            serde_json::from_value::<PivotIdentity>(json).unwrap(),
            identity()
        );
    }
}
