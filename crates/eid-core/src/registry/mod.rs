//! The population register port: match-only verification of claimed identity attributes,
//! and an authorised fetch of the full record for eKYC.
//!
//! # Outcomes
//!
//! Modelled on how FranceConnect classifies its register's answers:
//!
//! | FranceConnect class          | here |
//! |------------------------------|------|
//! | found                        | [`Match::Found`] with every provided attribute [`AttributeOutcome::Matched`] |
//! | found and rectified          | an attribute [`AttributeOutcome::MatchedAfterNormalisation`] (case, spacing or Unicode form differ): fetch to get the register's spelling ([`Match::needs_rectification`]) |
//! | not found                    | [`Match::UnknownNumber`], or an attribute [`AttributeOutcome::Mismatched`] |
//! | several matches / other name | cannot happen: the personal ID number is the key |
//! | bad request                  | [`RegistryError::InconsistentClaims`] (claimed birth date or sex contradicts the number) |
//! | deceased (refused)           | [`RecordStatus::Deceased`]; [`Match::confirms`] refuses it, as it refuses [`RecordStatus::CardRevoked`] |
//! | register timeout             | [`RegistryError::Timeout`] |
//! | (register down)              | [`RegistryError::Unavailable`] (also while the gRPC client's circuit breaker is open) |
//!
//! # No values leak from `verify`
//!
//! [`PopulationRegistry::verify`] returns a [`Match`], which holds only enums (record status
//! and one [`AttributeOutcome`] per [`Attribute`]): it cannot carry a registered value, so
//! a caller learns only whether what it already knew is right. The values come only from
//! [`PopulationRegistry::fetch`], which requires an [`Authorisation`] naming the caller
//! and the purpose.

#[cfg(feature = "sql")]
mod embedded;
pub mod grpc;
#[cfg(feature = "sql")]
mod import;
mod matching;
mod record;
mod synthetic;
mod synthetic_names;

use async_trait::async_trait;

use crate::citizen::{CitizenError, PersonalId};

#[cfg(feature = "sql")]
pub use embedded::{EmbeddedRegistry, RegisterLocation};
pub use matching::{Attribute, AttributeOutcome, IdentityClaims, Match, RecordMatch};
pub use record::{Authorisation, RecordStatus, RegisterRecord, StatusChange, StatusChangeKind};
pub use synthetic::SyntheticPopulation;

/// A population register.
///
/// `verify` is match-only: it never returns a registered value (see the module docs);
/// `fetch` returns the full record to an authorised caller.
#[async_trait]
pub trait PopulationRegistry: Send + Sync {
    /// Compares the claimed attributes with the record of `claims.personal_id`: per attribute
    /// matched / mismatched / not provided, plus the record's status, or
    /// [`Match::UnknownNumber`]. Never returns the record's values.
    async fn verify(&self, claims: &IdentityClaims) -> Result<Match, RegistryError>;

    /// The full record of `id`, for eKYC, to the caller and purpose named in `authorisation`.
    /// [`RegistryError::NotFound`] when no record holds the number.
    async fn fetch(
        &self,
        id: &PersonalId,
        authorisation: &Authorisation,
    ) -> Result<RegisterRecord, RegistryError>;
}

/// Errors of the population register.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The claims contradict themselves (birth date or sex against the number's digits).
    #[error("inconsistent claims: {0}")]
    InconsistentClaims(#[source] CitizenError),
    /// No record holds the number (fetch only; verify answers [`Match::UnknownNumber`]).
    #[error("no record holds this personal ID number")]
    NotFound,
    /// An authorisation lacks its caller or its purpose.
    #[error("invalid authorisation: {0} is empty")]
    InvalidAuthorisation(&'static str),
    /// The register did not answer in time.
    #[error("the population register timed out")]
    Timeout,
    /// The register cannot be reached or cannot serve now (gRPC `UNAVAILABLE` after the
    /// retries, or the client's circuit breaker is open). Register-dependent operations
    /// should tell the user to try again later.
    #[error("the population register is unavailable: {0}")]
    Unavailable(String),
    /// The register refused this service's credential (gRPC `UNAUTHENTICATED` or
    /// `PERMISSION_DENIED`): a configuration error, not the citizen's.
    #[error("the population register refused our credential: {0}")]
    Unauthenticated(String),
    /// The register rejected the request as malformed (gRPC `INVALID_ARGUMENT` other than
    /// inconsistent claims, or an unexpected status code).
    #[error("the population register rejected the request ({code}): {message}")]
    Rejected {
        /// The gRPC status code's name.
        code: String,
        /// The register's message.
        message: String,
    },
    /// The register's answer breaks the contract (a missing field, an unknown enum value).
    #[error("malformed answer from the population register: {0}")]
    Protocol(String),
    /// The register's storage failed.
    #[cfg(feature = "sql")]
    #[error("register storage error: {0}")]
    Storage(#[source] sqlx::Error),
    /// A stored record cannot be decoded (the database was altered outside this code).
    #[error("corrupt register record: {0}")]
    CorruptRecord(String),
    /// A row of an import file is malformed (bad CSV/JSON, missing or unknown column,
    /// bad date, unknown sex or status). Rows are numbered from 1, the header excluded.
    #[error("row {row}: {reason}")]
    MalformedRow {
        /// 1-based row number.
        row: u64,
        /// What is wrong.
        reason: String,
    },
    /// A row of an import file breaks an identity rule.
    #[error("row {row}: {source}")]
    InvalidRow {
        /// 1-based row number.
        row: u64,
        /// The rule broken.
        #[source]
        source: CitizenError,
    },
    /// A row's personal ID number is already in the file or the register.
    #[error("row {row}: the personal ID number is already in the register or earlier in the file")]
    DuplicateNumber {
        /// 1-based row number.
        row: u64,
    },
    /// The database refused a row of the batch starting at `first_row` for no known reason
    /// (the load was rolled back).
    #[error("the register refused a row of the batch starting at row {first_row}")]
    RowRejected {
        /// 1-based row number of the batch's first record.
        first_row: u64,
    },
    /// A JSON import file is not an array of objects.
    #[error("the JSON register file is not an array of records: {0}")]
    JsonDocument(#[source] serde_json::Error),
    /// The registration place table is unusable.
    #[error(transparent)]
    Places(CitizenError),
    /// The synthetic generator was asked for more citizens than it supports.
    #[error("a synthetic population has at most {max} citizens")]
    TooManyCitizens {
        /// The limit.
        max: u64,
    },
    /// A number change names a replacement number that already holds a record.
    #[error("the replacement personal ID number already holds a record")]
    NumberTaken,
}

#[cfg(feature = "sql")]
impl From<sqlx::Error> for RegistryError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut => RegistryError::Timeout,
            other => RegistryError::Storage(other),
        }
    }
}
