//! Citizen identity: the 12-digit personal identification number ([`PersonalId`]), the pivot
//! identity used to match a citizen against the population register ([`PivotIdentity`]), and
//! name normalisation ([`compare_names`]).
//!
//! A full personal ID number never reaches a log: [`PersonalId`]'s `Display` and `Debug` are
//! masked, and the digits come out only through [`PersonalId::expose`] (for storage).

mod identity;
mod name;
mod personal_id;
mod places;

#[cfg(feature = "sql")]
pub(crate) use identity::iso_date;
pub use identity::{PivotIdentity, Sex};
pub use name::{NameMatch, compare_names, normalize_name};
pub use personal_id::PersonalId;
pub use places::{Place, PlaceKind, RegistrationPlaces};

/// Errors of the citizen module: each rule a personal ID number or an identity can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CitizenError {
    /// The number does not have exactly 12 characters.
    #[error("a personal ID number has 12 digits, found {found} characters")]
    WrongLength {
        /// Number of characters found.
        found: usize,
    },
    /// A character of the number is not an ASCII digit.
    #[error("a personal ID number has only digits, position {position} is not a digit")]
    NotADigit {
        /// 1-based position of the first offending character.
        position: usize,
    },
    /// The first three digits name no known province or country of birth registration.
    #[error("unknown birth registration place code {code:03}")]
    UnknownPlaceCode {
        /// The three-digit code.
        code: u16,
    },
    /// A claimed date of birth disagrees with the number's century and year digits.
    #[error(
        "the birth year {claimed_year} does not match the century and year digits of the number"
    )]
    BirthDateMismatch {
        /// Year of the claimed date of birth.
        claimed_year: i32,
    },
    /// A claimed sex disagrees with the number's sex digit.
    #[error("the sex {claimed} does not match the sex digit of the number")]
    SexMismatch {
        /// The claimed sex.
        claimed: Sex,
    },
    /// The random part given to [`PersonalId::from_parts`] has more than six digits.
    #[error("the random part of a personal ID number has at most six digits")]
    RandomPartOutOfRange,
    /// A required identity field is empty (after whitespace is trimmed).
    #[error("{field} is empty")]
    EmptyField {
        /// Name of the field.
        field: &'static str,
    },
    /// The nationality is not an ISO 3166-1 alpha-2 code.
    #[error("nationality must be an ISO 3166-1 alpha-2 code (two letters A–Z)")]
    InvalidNationality,
    /// A registration place table (province or country codes) is malformed.
    #[error("registration place table, line {line}: {reason}")]
    PlaceTable {
        /// 1-based line in the table file.
        line: u64,
        /// What is wrong.
        reason: String,
    },
}
