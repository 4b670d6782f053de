//! Stores: the durable store (accounts, credentials, consents, eKYC records, the audit
//! log, issued verifiable credentials) and the ephemeral store (short-lived values with a time to live, single-use
//! takes, counters).
//!
//! | trait | implementations |
//! |---|---|
//! | [`DurableStore`] | [`SqliteStore`] (embedded, the default; a file or in memory), [`PostgresStore`] |
//! | [`EphemeralStore`] | [`MemoryEphemeral`] (one process, the default), [`RedisEphemeral`] (shared by instances) |
//!
//! Durable stores run their migrations when opened. Times are kept to the microsecond
//! (see [`db_time`]), the precision both databases share.

mod durable;
mod ephemeral;
mod ids;
pub mod issued;
mod memory;
mod model;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sql")]
mod sql;

use time::OffsetDateTime;

use crate::audit::AuditError;
use crate::credential::ekyc::EkycError;

pub use durable::{
    AccountStore, AuditStore, ConsentStore, CredentialStore, DurableStore, EkycStore,
    IssuedCredentialStore, RefreshTokenStore, RegisterWatchStore,
};
pub use ephemeral::{EphemeralStore, MAX_TTL, SecretBytes};
pub(crate) use ids::has_id_number;
pub use ids::{AccountId, ClientId, CredentialId, EkycId, PasskeyId};
pub use issued::{
    EntrySource, INDEX_ATTEMPTS, IssuedCredential, NewCredential, STATUS_LIST_CAPACITY,
    entry_status,
};
pub use memory::MemoryEphemeral;
pub use model::{
    Account, AccountStatus, Consent, NewPasskey, PasskeyRecord, PasswordCredential, RefreshGrant,
};
#[cfg(feature = "redis")]
pub use redis::RedisEphemeral;
#[cfg(feature = "sql")]
pub use sql::{PostgresStore, SqliteStore};

/// What kind of thing was missing or duplicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// An account.
    Account,
    /// A password.
    Password,
    /// A passkey.
    Passkey,
    /// A consent.
    Consent,
    /// An eKYC record.
    Ekyc,
    /// A refresh token (unknown, expired or revoked).
    RefreshToken,
}

/// Which uniqueness rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    /// An account with this personal ID number exists.
    PersonalId,
    /// A passkey with this WebAuthn credential ID exists.
    CredentialId,
    /// A record with this identifier exists.
    Id,
}

/// Errors of the stores.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{0:?} not found")]
    NotFound(Entity),
    /// A write would break a uniqueness rule.
    #[error("duplicate {0:?}")]
    Duplicate(Unique),
    /// A text is not a valid identifier.
    #[error("invalid identifier")]
    InvalidId,
    /// A text is not a valid client identifier.
    #[error("invalid client identifier")]
    InvalidClientId,
    /// A passkey label is blank, too long or has control characters.
    #[error("invalid passkey label")]
    InvalidLabel,
    /// A time to live or counter window is zero or longer than `ephemeral::MAX_TTL`.
    #[error("time to live must be positive and at most a year")]
    InvalidTtl,
    /// `incr` on a value that is not a counter.
    #[error("value is not a counter")]
    NotACounter,
    /// A refresh token that was already exchanged was presented again: its whole family
    /// has been revoked (RFC 9700 section 4.14.2).
    #[error("refresh token reused; its grant is revoked")]
    RefreshTokenReused {
        /// The revoked family, so that its access tokens can be revoked too.
        family: uuid::Uuid,
    },
    /// A concurrent writer kept changing the same record.
    #[error("too much contention on one record, try again")]
    Contention,
    /// A stored value could not be read back.
    #[error("corrupt stored {0}")]
    Corrupt(&'static str),
    /// An eKYC rule was broken.
    #[error(transparent)]
    Ekyc(#[from] EkycError),
    /// An audit rule was broken, or the chain does not verify.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The SQL database failed.
    #[cfg(feature = "sql")]
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[cfg(feature = "sql")]
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Redis failed.
    #[cfg(feature = "redis")]
    #[error("redis error: {0}")]
    Redis(#[from] ::redis::RedisError),
}

/// `t` truncated to the microsecond, the precision the stores keep.
pub fn db_time(t: OffsetDateTime) -> OffsetDateTime {
    let micros = t.microsecond();
    t.replace_nanosecond(micros * 1000).unwrap_or(t)
}

/// A store key part derived from `parts`: lower-case hex of the SHA-256 of the parts,
/// each followed by a zero byte. Keys built this way never show the subject (a personal
/// ID number, an IP address, a client's `jti`) and have a fixed length.
pub fn key_digest(parts: &[&[u8]]) -> String {
    use sha2::Digest as _;
    let mut digest = sha2::Sha256::new();
    for part in parts {
        digest.update(part);
        digest.update([0]);
    }
    hex(&digest.finalize())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `t` as whole Unix microseconds, the stored form of times (and the audit hash's).
pub(crate) fn unix_micros(t: OffsetDateTime) -> i64 {
    // `OffsetDateTime` spans ±9999 years; i64 microseconds cover ±292,000 years.
    (t.unix_timestamp_nanos() / 1000) as i64
}

/// The current UTC time, to the microsecond.
pub fn now() -> OffsetDateTime {
    db_time(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_time_drops_sub_microseconds() {
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::nanoseconds(1_234_567);
        assert_eq!(
            db_time(t),
            OffsetDateTime::UNIX_EPOCH + time::Duration::microseconds(1_234)
        );
        assert_eq!(now().nanosecond() % 1000, 0);
    }
}
