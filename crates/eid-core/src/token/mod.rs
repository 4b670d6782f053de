//! Tokens: the ES256 key ring, OIDC ID tokens and RFC 9068 access tokens, and their
//! verification.
//!
//! * [`KeyRing`] holds one active P-256 signing key and the retiring keys still
//!   published in the JWKS; it rotates, prunes, and seals itself for storage under a
//!   [`KeyEncryptionKey`] (AES-256-GCM).
//! * [`TokenIssuer`] issues ID tokens (with `acr`, `amr`, `at_hash`) and access tokens
//!   (`typ` `at+jwt`), with a pairwise `sub` per sector unless a client is public.
//! * [`TokenVerifier`] checks tokens against a JWKS: ES256 only, `typ`, `kid`, issuer,
//!   audience, times within a bounded leeway and a minimum level of assurance.
//! * [`OpaqueToken`] is a random refresh token or authorization code, stored only as its
//!   hash.

mod claims;
mod issuer;
mod keyring;
mod opaque;
mod sealed;
mod subject;
#[cfg(test)]
mod testing;
mod verifier;

pub use claims::{AccessTokenClaims, Audience, ClientAssertionClaims, IdTokenClaims, at_hash};
pub use issuer::{
    ACCESS_TOKEN_TYP, AccessTokenRequest, Authentication, ID_TOKEN_TYP, IdTokenRequest, IssueError,
    IssuedAccessToken, RelyingParty, TokenIssuer,
};
pub use keyring::{KeyRing, KeyRingError, SigningKey};
pub use opaque::{
    AuthorizationCode, MalformedToken, OPAQUE_TOKEN_LEN, OpaqueToken, RefreshToken,
    RefreshTokenHash, TokenHash,
};
pub use sealed::{FORMAT_VERSION, KEK_LEN, KeyEncryptionKey, SealError};
pub use subject::{PairwiseSalt, SectorId, SubjectError, SubjectType};
pub use verifier::{
    MAX_ASSERTION_LIFETIME, MAX_LEEWAY, MAX_TOKEN_LEN, TokenVerifier, VerificationKeys,
    VerifiedKind, VerifiedToken, VerifyError,
};
pub(crate) use verifier::{es256_key_of, map_jwt_error};
