//! Single-use authorization codes (RFC 6749 section 4.1.2) in the ephemeral store.
//!
//! A code is an [`AuthorizationCode`] (256 random bits); the store keeps the
//! [`CodeGrant`] it stands for under the code's hash, for a short lifetime. Redeeming it
//! first claims a redemption marker atomically (`put_if_absent`), naming the token family
//! the redeemer is about to issue, and only then takes the grant: of any number of
//! concurrent redemptions exactly one gets the grant, and every later one learns which
//! family to revoke (RFC 6749 section 4.1.2: "If an authorization code is used more than
//! once, the authorization server MUST deny the request and SHOULD revoke ... all tokens
//! previously issued based on that authorization code").

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::CodeChallenge;
use crate::assurance::Loa;
use crate::store::{AccountId, EphemeralStore, StoreError};
use crate::token::{AuthorizationCode, TokenHash};

/// Longest code lifetime: RFC 6749 section 4.1.2 recommends at most 10 minutes.
pub const MAX_CODE_LIFETIME: Duration = Duration::from_secs(600);

/// How long a redemption marker outlives its code, so that late replays are still caught.
const REPLAY_WINDOW: Duration = Duration::from_secs(3600);

/// What an authorization code stands for: the authorization request it answers and the
/// authentication behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The client the code was issued to.
    pub client_id: String,
    /// The exact `redirect_uri` of the request (RFC 6749 section 4.1.3).
    pub redirect_uri: String,
    /// The citizen.
    pub account: AccountId,
    /// Granted scope, space-separated.
    pub scope: String,
    /// The request's `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// The PKCE challenge the token request must answer.
    pub challenge: CodeChallenge,
    /// When the citizen authenticated, unix seconds.
    pub auth_time: i64,
    /// Level of assurance reached.
    pub loa: Option<Loa>,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
}

/// Code failures.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// Unknown or expired code.
    #[error("unknown or expired authorization code")]
    Unknown,
    /// The code was redeemed before; the tokens of that redemption belong to `family`.
    #[error("authorization code already used")]
    Replayed {
        /// The token family issued on the first redemption, to revoke.
        family: Uuid,
    },
    /// The lifetime is zero or above [`MAX_CODE_LIFETIME`].
    #[error("code lifetime must be between 1 s and 10 minutes")]
    InvalidLifetime,
    /// A stored grant cannot be read back.
    #[error("corrupt stored authorization code")]
    Corrupt,
    /// The ephemeral store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Issues and redeems authorization codes.
#[derive(Clone)]
pub struct CodeStore {
    store: Arc<dyn EphemeralStore>,
    lifetime: Duration,
}

impl CodeStore {
    /// Codes kept in `store`, valid for `lifetime` (at most [`MAX_CODE_LIFETIME`]; FAPI 2.0
    /// asks for 60 s or less).
    pub fn new(store: Arc<dyn EphemeralStore>, lifetime: Duration) -> Result<Self, CodeError> {
        if lifetime.is_zero() || lifetime > MAX_CODE_LIFETIME {
            return Err(CodeError::InvalidLifetime);
        }
        Ok(Self { store, lifetime })
    }

    /// Stores `grant` under a fresh code and returns the code for the redirect.
    pub async fn issue(&self, grant: &CodeGrant) -> Result<AuthorizationCode, CodeError> {
        let code = AuthorizationCode::generate();
        let value = serde_json::to_vec(grant).map_err(|_| CodeError::Corrupt)?;
        self.store
            .put(&grant_key(&code.hash()), &value, self.lifetime)
            .await?;
        Ok(code)
    }

    /// Redeems `code` for the grant, recording that its tokens will form `family`.
    /// A second redemption fails with [`CodeError::Replayed`] naming the first's family.
    pub async fn redeem(
        &self,
        code: &AuthorizationCode,
        family: Uuid,
    ) -> Result<CodeGrant, CodeError> {
        let hash = code.hash();
        let marker = marker_key(&hash);
        // An unknown code writes nothing (no marker for guesses).
        if self.store.get(&grant_key(&hash)).await?.is_none() {
            return match self.store.get(&marker).await? {
                Some(first) => Err(replayed(&first)?),
                None => Err(CodeError::Unknown),
            };
        }
        if !self
            .store
            .put_if_absent(&marker, family.as_bytes(), REPLAY_WINDOW)
            .await?
        {
            let first = self.store.get(&marker).await?.ok_or(CodeError::Unknown)?;
            return Err(replayed(&first)?);
        }
        let value = self
            .store
            .take(&grant_key(&hash))
            .await?
            .ok_or(CodeError::Unknown)?;
        serde_json::from_slice(&value).map_err(|_| CodeError::Corrupt)
    }
}

fn grant_key(hash: &TokenHash) -> String {
    format!("code:{}", hash.to_hex())
}

fn marker_key(hash: &TokenHash) -> String {
    format!("code-redeemed:{}", hash.to_hex())
}

fn replayed(first: &[u8]) -> Result<CodeError, CodeError> {
    let family = Uuid::from_slice(first).map_err(|_| CodeError::Corrupt)?;
    Ok(CodeError::Replayed { family })
}
