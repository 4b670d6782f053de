//! SD-JWT Verifiable Credentials: selective disclosure JWTs (RFC 9901) in the SD-JWT VC
//! profile (IETF draft-ietf-oauth-sd-jwt-vc), carrying a citizen's PID attributes.
//!
//! * [`PidIssuer`] turns a verified identity into an SD-JWT VC signed ES256 by the service
//!   key: `typ` `dc+sd-jwt`, `vct`, `iss`, `iat`, `nbf`, `exp`, `cnf.jwk` (the holder's
//!   key) and `status.status_list` in the clear, each PID attribute a salted disclosure.
//! * [`present`] is the holder side (for tests and documentation): keep a subset of the
//!   disclosures and append a Key Binding JWT (`typ` `kb+jwt`) signed by the holder key.
//! * [`SdJwtVcVerifier`] checks a presentation against the issuer's JWKS and returns the
//!   disclosed claims; [`SdJwtVcVerifier::check_status`] reads the credential's entry in a
//!   Status List Token the caller fetched (see [`super::status_list`]).
//!
//! The serialisation is `<issuer-signed JWT>~<disclosure>~…~<disclosure>~<KB-JWT>`,
//! the KB-JWT empty when there is none (RFC 9901 section 4).

mod disclosure;
mod issue;
mod verify;

pub use disclosure::Disclosure;
pub use issue::{DEFAULT_CREDENTIAL_LIFETIME, DEFAULT_VCT, PidIssuer, present};
pub use verify::{
    DEFAULT_KB_MAX_AGE, KeyBindingCheck, NEVER_DISCLOSED, SdJwtVcVerifier, VerifiedSdJwtVc,
};

use crate::token::{KeyRingError, VerifyError};

use super::status_list::StatusListError;

/// The `typ` of an SD-JWT VC's issuer-signed JWT (SD-JWT VC draft section 3.2.1).
pub const SD_JWT_VC_TYP: &str = "dc+sd-jwt";
/// The `typ` of a Key Binding JWT (RFC 9901 section 4.3).
pub const KB_JWT_TYP: &str = "kb+jwt";
/// The only digest algorithm used and accepted: the `_sd_alg` value (RFC 9901 section
/// 4.1.1), also the default when `_sd_alg` is absent.
pub const SD_ALG: &str = "sha-256";

/// Why an SD-JWT VC could not be issued, presented or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdJwtError {
    /// Not `<JWT>~<disclosures>~<KB-JWT>`, or claims of the wrong shape.
    #[error("malformed SD-JWT")]
    Malformed,
    /// The issuer-signed JWT failed a JWS or claim check (signature, `typ`, `alg`, key,
    /// issuer, times).
    #[error("issuer-signed JWT: {0}")]
    Issuer(VerifyError),
    /// The Key Binding JWT failed a check (signature by the `cnf` key, `typ`, `aud`,
    /// `nonce`, `iat`).
    #[error("key binding JWT: {0}")]
    KeyBinding(VerifyError),
    /// A disclosure is not base64url JSON `[salt, name, value]`.
    #[error("malformed disclosure")]
    BadDisclosure,
    /// A disclosure names `_sd` or `...` (RFC 9901 section 4.2.1).
    #[error("reserved claim name in a disclosure")]
    ReservedName,
    /// A disclosure's digest is not referenced by the issuer-signed JWT (RFC 9901 section
    /// 7.1 step 5).
    #[error("disclosure not referenced by the credential")]
    UnreferencedDisclosure,
    /// A digest appears more than once, or a disclosure is presented twice (RFC 9901
    /// section 7.1 step 4).
    #[error("duplicate digest or disclosure")]
    Duplicate,
    /// A disclosed claim name already exists in its object (RFC 9901 section 7.1 step
    /// 3).
    #[error("disclosed claim clashes with a plain claim")]
    ClaimClash,
    /// A claim that SD-JWT VC never discloses selectively ([`NEVER_DISCLOSED`]) came in
    /// a disclosure.
    #[error("claim must not be selectively disclosed")]
    NotDisclosable,
    /// `_sd_alg` is not `sha-256`.
    #[error("unsupported disclosure digest algorithm")]
    UnsupportedDigest,
    /// `vct` is missing or not a string.
    #[error("missing vct")]
    MissingVct,
    /// Key binding was required but the presentation has no KB-JWT, or a KB-JWT came
    /// when none was asked for.
    #[error("key binding missing or unexpected")]
    KeyBindingMismatch,
    /// The credential has no usable `cnf.jwk` holder key (or the holder key given to the
    /// issuer is not a P-256 public key).
    #[error("no usable holder key")]
    HolderKey,
    /// The KB-JWT `sd_hash` does not match the presented SD-JWT (RFC 9901 section 4.3.1).
    #[error("sd_hash mismatch")]
    SdHashMismatch,
    /// The holder asked to present a claim the credential has no disclosure for.
    #[error("no disclosure for claim {0}")]
    UnknownClaim(String),
    /// The credential has no `status` reference to check.
    #[error("credential has no status reference")]
    NoStatus,
    /// The status list token could not be used.
    #[error(transparent)]
    StatusList(#[from] StatusListError),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl From<KeyRingError> for SdJwtError {
    fn from(e: KeyRingError) -> Self {
        SdJwtError::Signing(e.to_string())
    }
}
