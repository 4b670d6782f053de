//! The 12-digit personal identification number (số định danh cá nhân), `PPP G YY RRRRRR`.
//!
//! * `PPP` — code of the province (or country) where the birth was registered
//!   ([`RegistrationPlaces`]);
//! * `G` — century and sex: 0/1 = male/female born 1900–1999, 2/3 = 2000–2099,
//!   4/5 = 2100–2199, 6/7 = 2200–2299, 8/9 = 2300–2399 (only 0–5 are confirmed by secondary
//!   sources; 6–9 follow the circular's pattern);
//! * `YY` — last two digits of the birth year;
//! * `RRRRRR` — random.
//!
//! There is **no check digit** (Luật Căn cước 2023 art. 12; Thông tư 59/2021/TT-BCA art. 4).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::Date;

use super::{CitizenError, Place, RegistrationPlaces, Sex};

/// A validated personal identification number.
///
/// `Display` and `Debug` are masked (`001*******89`); [`PersonalId::expose`] gives the digits.
/// Serde serialises the digits (storage needs them) and deserialising validates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonalId(u64);

const LEN: usize = 12;

impl PersonalId {
    /// Parses and validates a number against the embedded registration place table.
    pub fn parse(s: &str) -> Result<Self, CitizenError> {
        Self::parse_in(s, RegistrationPlaces::embedded()?)
    }

    /// Parses and validates a number against a given registration place table.
    pub fn parse_in(s: &str, places: &RegistrationPlaces) -> Result<Self, CitizenError> {
        let found = s.chars().count();
        if found != LEN {
            return Err(CitizenError::WrongLength { found });
        }
        let mut value = 0u64;
        for (i, b) in s.bytes().enumerate() {
            if !b.is_ascii_digit() {
                return Err(CitizenError::NotADigit { position: i + 1 });
            }
            value = value * 10 + u64::from(b - b'0');
        }
        let id = Self(value);
        let code = id.place_code();
        if places.get(code).is_none() {
            return Err(CitizenError::UnknownPlaceCode { code });
        }
        Ok(id)
    }

    /// Builds a number from its parts, checked against the embedded table. `random` must be
    /// below 1,000,000; the century digit is derived from `birth_year` (1900–2399) and `sex`.
    pub fn from_parts(
        place_code: u16,
        sex: Sex,
        birth_year: i32,
        random: u32,
    ) -> Result<Self, CitizenError> {
        let century = birth_year.div_euclid(100) - 19;
        if !(0..=4).contains(&century) {
            return Err(CitizenError::BirthDateMismatch {
                claimed_year: birth_year,
            });
        }
        if random >= 1_000_000 {
            return Err(CitizenError::RandomPartOutOfRange);
        }
        let sex_bit = match sex {
            Sex::Male => 0,
            Sex::Female => 1,
        };
        let gender_digit = century as u64 * 2 + sex_bit;
        let value = u64::from(place_code) * 1_000_000_000
            + gender_digit * 100_000_000
            + birth_year.rem_euclid(100) as u64 * 1_000_000
            + u64::from(random);
        Self::parse(&format!("{value:012}"))
    }

    /// The twelve digits, for storage or transmission to an authorised party. Never log them.
    pub fn expose(&self) -> String {
        format!("{:012}", self.0)
    }

    /// The three-digit registration place code (`PPP`).
    pub fn place_code(&self) -> u16 {
        (self.0 / 1_000_000_000) as u16
    }

    /// The registration place (province or country) in the embedded table, if present.
    pub fn place(&self) -> Option<&'static Place> {
        RegistrationPlaces::embedded().ok()?.get(self.place_code())
    }

    fn gender_digit(&self) -> u64 {
        self.0 / 100_000_000 % 10
    }

    /// The sex encoded by the `G` digit (even: male, odd: female).
    pub fn sex(&self) -> Sex {
        if self.gender_digit().is_multiple_of(2) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The birth year encoded by the `G` (century) and `YY` digits.
    pub fn birth_year(&self) -> i32 {
        let century = (self.gender_digit() / 2) as i32;
        let yy = (self.0 / 1_000_000 % 100) as i32;
        1900 + century * 100 + yy
    }

    /// Checks that a claimed date of birth has the century and year the number encodes.
    pub fn check_birth_date(&self, birth_date: Date) -> Result<(), CitizenError> {
        if birth_date.year() == self.birth_year() {
            Ok(())
        } else {
            Err(CitizenError::BirthDateMismatch {
                claimed_year: birth_date.year(),
            })
        }
    }

    /// Checks that a claimed sex is the one the number encodes.
    pub fn check_sex(&self, sex: Sex) -> Result<(), CitizenError> {
        if sex == self.sex() {
            Ok(())
        } else {
            Err(CitizenError::SexMismatch { claimed: sex })
        }
    }

    /// The number as an integer key (storage only).
    #[cfg(feature = "sql")]
    pub(crate) fn as_u64(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for PersonalId {
    /// Masked: the place code and the last two digits only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.expose();
        write!(f, "{}*******{}", &digits[..3], &digits[10..])
    }
}

impl fmt::Debug for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonalId({self})")
    }
}

impl FromStr for PersonalId {
    type Err = CitizenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for PersonalId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.expose())
    }
}

impl<'de> Deserialize<'de> for PersonalId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PersonalIdVisitor)
    }
}

/// Reads a personal ID number from a string. Anything else is refused without quoting it
/// (serde's default message would print a number written as a JSON integer in full).
struct PersonalIdVisitor;

impl serde::de::Visitor<'_> for PersonalIdVisitor {
    type Value = PersonalId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a personal ID number as a string of 12 digits")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<PersonalId, E> {
        PersonalId::parse(s).map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<PersonalId, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<PersonalId, E> {
        Err(E::custom(NOT_A_STRING))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<PersonalId, E> {
        Err(E::custom(NOT_A_STRING))
    }
}

const NOT_A_STRING: &str = "a personal ID number must be a string of 12 digits";

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const HANOI_MALE_1990: &str = "001090123489";

    #[test]
    fn a_number_given_as_a_json_integer_is_refused_without_echo() {
        let err = serde_json::from_str::<PersonalId>("79203001234").unwrap_err();
        assert!(!err.to_string().contains("79203001234"), "{err}");
        let id: PersonalId = serde_json::from_str(&format!("\"{HANOI_MALE_1990}\"")).unwrap();
        assert_eq!(id.expose(), HANOI_MALE_1990);
    }

    #[test]
    fn parses_and_exposes_its_parts() {
        let id = PersonalId::parse(HANOI_MALE_1990).unwrap();
        assert_eq!(id.expose(), HANOI_MALE_1990);
        assert_eq!(id.place_code(), 1);
        assert_eq!(id.place().unwrap().name, "Hà Nội");
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.birth_year(), 1990);
    }

    #[test]
    fn every_century_and_sex_digit_decodes() {
        for (g, year, sex) in [
            ('0', 1905, Sex::Male),
            ('1', 1905, Sex::Female),
            ('2', 2005, Sex::Male),
            ('3', 2005, Sex::Female),
            ('4', 2105, Sex::Male),
            ('5', 2105, Sex::Female),
            ('6', 2205, Sex::Male),
            ('7', 2205, Sex::Female),
            ('8', 2305, Sex::Male),
            ('9', 2305, Sex::Female),
        ] {
            let id = PersonalId::parse(&format!("079{g}05000001")).unwrap();
            assert_eq!((id.birth_year(), id.sex()), (year, sex), "G = {g}");
        }
    }

    #[test]
    fn there_is_no_check_digit() {
        for last in '0'..='9' {
            assert!(PersonalId::parse(&format!("00109012348{last}")).is_ok());
        }
    }

    #[test]
    fn wrong_length_is_rejected() {
        for (s, found) in [("", 0), ("00109012348", 11), ("0010901234890", 13)] {
            assert_eq!(
                PersonalId::parse(s),
                Err(CitizenError::WrongLength { found }),
                "{s}"
            );
        }
    }

    #[test]
    fn non_digits_are_rejected_with_their_position() {
        for (s, position) in [
            ("a01090123489", 1),
            ("001 90123489", 4),
            ("00109012348-", 12),
            ("+01090123489", 1),
            // Twelve characters, not twelve bytes: length counts characters.
            ("00109012348ễ", 12),
            ("００1090123489", 1),
        ] {
            assert_eq!(
                PersonalId::parse(s),
                Err(CitizenError::NotADigit { position }),
                "{s}"
            );
        }
    }

    #[test]
    fn unknown_place_codes_are_rejected() {
        for code in [0u16, 3, 97, 100, 999] {
            let s = format!("{code:03}090123489");
            assert_eq!(
                PersonalId::parse(&s),
                Err(CitizenError::UnknownPlaceCode { code })
            );
        }
    }

    #[test]
    fn a_custom_table_admits_country_codes() {
        let places =
            RegistrationPlaces::parse("code,name\n001,Hà Nội\n", "code,name\n400,Pháp\n").unwrap();
        let id = PersonalId::parse_in("400090123489", &places).unwrap();
        assert_eq!(id.place_code(), 400);
        assert!(PersonalId::parse("400090123489").is_err());
    }

    #[test]
    fn birth_date_must_match_century_and_year() {
        let id = PersonalId::parse(HANOI_MALE_1990).unwrap();
        assert_eq!(id.check_birth_date(date!(1990 - 12 - 31)), Ok(()));
        assert_eq!(
            id.check_birth_date(date!(1991 - 01 - 01)),
            Err(CitizenError::BirthDateMismatch { claimed_year: 1991 })
        );
        // Right year digits, wrong century.
        assert_eq!(
            id.check_birth_date(date!(2090 - 01 - 01)),
            Err(CitizenError::BirthDateMismatch { claimed_year: 2090 })
        );
    }

    #[test]
    fn sex_must_match_the_sex_digit() {
        let id = PersonalId::parse(HANOI_MALE_1990).unwrap();
        assert_eq!(id.check_sex(Sex::Male), Ok(()));
        assert_eq!(
            id.check_sex(Sex::Female),
            Err(CitizenError::SexMismatch {
                claimed: Sex::Female
            })
        );
    }

    #[test]
    fn from_parts_builds_valid_numbers() {
        let id = PersonalId::from_parts(79, Sex::Female, 2004, 42).unwrap();
        assert_eq!(id.expose(), "079304000042");
        assert_eq!(
            PersonalId::from_parts(79, Sex::Female, 1899, 0),
            Err(CitizenError::BirthDateMismatch { claimed_year: 1899 })
        );
        assert!(PersonalId::from_parts(79, Sex::Female, 2400, 0).is_err());
        assert_eq!(
            PersonalId::from_parts(79, Sex::Female, 2004, 1_000_000),
            Err(CitizenError::RandomPartOutOfRange)
        );
        assert_eq!(
            PersonalId::from_parts(3, Sex::Male, 2004, 0),
            Err(CitizenError::UnknownPlaceCode { code: 3 })
        );
    }

    #[test]
    fn display_and_debug_are_masked() {
        let id = PersonalId::parse(HANOI_MALE_1990).unwrap();
        assert_eq!(id.to_string(), "001*******89");
        assert_eq!(format!("{id:?}"), "PersonalId(001*******89)");
        assert!(!format!("{id:?}").contains("0901234"));
    }

    #[test]
    fn serde_carries_digits_and_validates() {
        let id = PersonalId::parse(HANOI_MALE_1990).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{HANOI_MALE_1990}\""));
        assert_eq!(serde_json::from_str::<PersonalId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<PersonalId>("\"003090123489\"").is_err());
        assert!(serde_json::from_str::<PersonalId>("1090123489").is_err());
    }
}
