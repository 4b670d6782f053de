//! The ephemeral store trait: short-lived values shared by every instance.

use std::time::Duration;

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::StoreError;

/// A value read from the ephemeral store; wiped from memory when dropped.
pub type SecretBytes = Zeroizing<Vec<u8>>;

/// Values with a time to live: sessions, authorization codes, PAR requests, WebAuthn
/// ceremony state, rate-limit counters, replay caches.
///
/// Keys are the caller's (namespace them, e.g. `code:…`); values are bytes. A time to
/// live must be positive ([`StoreError::InvalidTtl`]).
#[async_trait]
pub trait EphemeralStore: Send + Sync {
    /// Stores `value` under `key` for `ttl`, replacing any value.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError>;
    /// Stores `value` under `key` for `ttl` only if the key is absent; `true` if stored.
    /// This is the replay check for one-time identifiers such as a JWT `jti`.
    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str) -> Result<Option<SecretBytes>, StoreError>;
    /// Removes and returns the value under `key`, atomically: of any number of concurrent
    /// takes, exactly one gets the value. For single-use values (codes, ceremonies).
    async fn take(&self, key: &str) -> Result<Option<SecretBytes>, StoreError>;
    /// Removes `key`; `true` if it was present.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;
    /// Adds one to the counter under `key` and returns the new count. A new counter starts
    /// at 1 and expires `window` later (a fixed window), atomically with the increment.
    async fn incr(&self, key: &str, window: Duration) -> Result<u64, StoreError>;
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The longest time to live: ephemeral values (sessions, codes, counters, replay-cache
/// entries) live minutes to days; a longer one is a caller's bug (or an attacker-chosen
/// `exp`), and would overflow the memory store's clock.
pub const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 3600);

/// Checks that a time to live is positive and at most [`MAX_TTL`].
pub(super) fn check_ttl(ttl: Duration) -> Result<Duration, StoreError> {
    if ttl.is_zero() || ttl > MAX_TTL {
        Err(StoreError::InvalidTtl)
    } else {
        Ok(ttl)
    }
}
