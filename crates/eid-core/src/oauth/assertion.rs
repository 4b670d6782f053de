//! Replay protection for `private_key_jwt` client assertions: OIDC Core 9 requires a `jti`
//! and RFC 7523 section 3 item 7 lets the server refuse a `jti` it has seen. Each verified
//! assertion's `jti` is recorded in the ephemeral store until the assertion expires, so
//! the check holds across instances.

use std::time::Duration;

use time::OffsetDateTime;

use crate::store::{EphemeralStore, StoreError, key_digest};
use crate::token::{ClientAssertionClaims, MAX_LEEWAY};

/// Assertion replay failures.
#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    /// This client already authenticated with this `jti`.
    #[error("client assertion replayed")]
    Replayed,
    /// The ephemeral store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records the `jti` of a verified assertion; fails if the same client used it before.
pub async fn check_assertion_replay(
    store: &dyn EphemeralStore,
    claims: &ClientAssertionClaims,
    now: OffsetDateTime,
) -> Result<(), AssertionError> {
    // Keep the record until the assertion can no longer verify, leeway included.
    let remaining = claims.exp.saturating_sub(now.unix_timestamp()) + MAX_LEEWAY.whole_seconds();
    let ttl = Duration::from_secs(u64::try_from(remaining).unwrap_or(0).max(1));
    let key = key_digest(&[claims.iss.as_bytes(), claims.jti.as_bytes()]);
    if store
        .put_if_absent(&format!("jti:{key}"), b"1", ttl)
        .await?
    {
        Ok(())
    } else {
        Err(AssertionError::Replayed)
    }
}
