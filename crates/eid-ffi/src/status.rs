//! `eid_status`: the result of every call, one code per failure class.

use std::ffi::{CStr, c_char};

use eid_core::credential::password::PasswordError;
use eid_core::credential::sdjwt::SdJwtError;
use eid_core::credential::status_list::StatusListError;
use eid_core::token::VerifyError;

use crate::boundary::Failure;

/// The result of a call. `EID_STATUS_OK` is 0; every other value names one class of
/// failure, and `eid_last_error()` then describes it. Values never change meaning
/// between versions; new classes get new values.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum eid_status {
    /// Success.
    Ok = 0,
    /// A NULL pointer where one is required, a string that is not UTF-8, or a value out
    /// of range (a level, a leeway, an empty issuer...).
    InvalidArgument = 1,
    /// Not a compact JWS / SD-JWT, or claims of the wrong shape.
    MalformedToken = 2,
    /// `alg` is not ES256 (for example `none`, HS256, RS256).
    UnsupportedAlgorithm = 3,
    /// The token names no key of the key set (`kid` unknown or not a P-256 signature key):
    /// fetch the issuer's JWKS again and replace it, at most every few minutes (anyone can
    /// send a token with a made-up `kid`).
    UnknownKey = 4,
    /// The signature does not verify.
    BadSignature = 5,
    /// The token or credential has expired (beyond the clock leeway).
    Expired = 6,
    /// The token is not valid yet, or was issued in the future (beyond the leeway).
    NotYetValid = 7,
    /// `iss` is not the expected issuer.
    WrongIssuer = 8,
    /// `aud` (or `azp`) is not the expected audience.
    WrongAudience = 9,
    /// The `typ` header does not fit (for example a credential offered as a token).
    WrongTokenType = 10,
    /// The level of assurance is missing, unknown, or below the required one.
    InsufficientAssurance = 11,
    /// The presentation's key binding is missing, unexpected, or wrong (holder
    /// signature, audience, nonce, age, `sd_hash`).
    KeyBindingFailed = 12,
    /// The credential is revoked (status list INVALID, or a status this library does not
    /// know, which is treated as revoked).
    Revoked = 13,
    /// The credential is suspended (status list SUSPENDED); it may become valid again.
    Suspended = 14,
    /// The claim asked for is not in the token or credential.
    NotPresent = 15,
    /// The password does not match the stored hash.
    PasswordMismatch = 16,
    /// The personal ID number is not valid; the reason is given as an `eid_id_problem`.
    InvalidPersonalId = 17,
    /// The JWKS document is not valid (not JSON, no `keys` array, duplicate `kid`).
    InvalidJwks = 18,
    /// Something failed inside the library (for example the random number generator).
    Internal = 19,
    /// The library panicked; the call had no effect. Please report it.
    Panic = 20,
    /// The ID token's `nonce` is missing or not the one sent in the authentication
    /// request (OIDC Core 3.1.3.7 step 11).
    WrongNonce = 21,
}

impl From<VerifyError> for Failure {
    fn from(e: VerifyError) -> Self {
        let status = match e {
            VerifyError::Malformed | VerifyError::WrongSubject | VerifyError::LifetimeTooLong => {
                eid_status::MalformedToken
            }
            VerifyError::UnsupportedAlgorithm => eid_status::UnsupportedAlgorithm,
            VerifyError::WrongType => eid_status::WrongTokenType,
            VerifyError::UnknownKey | VerifyError::KeyMismatch => eid_status::UnknownKey,
            VerifyError::BadSignature => eid_status::BadSignature,
            VerifyError::Expired => eid_status::Expired,
            VerifyError::NotYetValid | VerifyError::IssuedInFuture => eid_status::NotYetValid,
            VerifyError::WrongIssuer => eid_status::WrongIssuer,
            VerifyError::WrongAudience => eid_status::WrongAudience,
            // Nonces are checked only in key binding here.
            VerifyError::WrongNonce => eid_status::KeyBindingFailed,
            VerifyError::InsufficientAssurance => eid_status::InsufficientAssurance,
            VerifyError::InvalidJwks => eid_status::InvalidJwks,
            VerifyError::InvalidLeeway => eid_status::InvalidArgument,
        };
        Failure::new(status, e.to_string())
    }
}

impl From<SdJwtError> for Failure {
    fn from(e: SdJwtError) -> Self {
        let message = e.to_string();
        let status = match e {
            SdJwtError::Issuer(inner) => return Failure::from(inner).context("credential"),
            SdJwtError::KeyBinding(_)
            | SdJwtError::KeyBindingMismatch
            | SdJwtError::HolderKey
            | SdJwtError::SdHashMismatch => eid_status::KeyBindingFailed,
            SdJwtError::StatusList(inner) => return Failure::from(inner),
            SdJwtError::NoStatus => eid_status::NotPresent,
            SdJwtError::Signing(_) => eid_status::Internal,
            SdJwtError::Malformed
            | SdJwtError::BadDisclosure
            | SdJwtError::ReservedName
            | SdJwtError::UnreferencedDisclosure
            | SdJwtError::Duplicate
            | SdJwtError::ClaimClash
            | SdJwtError::NotDisclosable
            | SdJwtError::UnsupportedDigest
            | SdJwtError::MissingVct
            | SdJwtError::UnknownClaim(_) => eid_status::MalformedToken,
        };
        Failure::new(status, message)
    }
}

impl From<StatusListError> for Failure {
    fn from(e: StatusListError) -> Self {
        match e {
            StatusListError::Token(inner) => Failure::from(inner).context("status list token"),
            StatusListError::WrongUri => {
                Failure::new(eid_status::WrongAudience, format!("status list token: {e}"))
            }
            StatusListError::Signing(_) => Failure::new(eid_status::Internal, e.to_string()),
            StatusListError::InvalidBits
            | StatusListError::IndexOutOfRange
            | StatusListError::ValueTooLarge
            | StatusListError::Malformed => Failure::new(
                eid_status::MalformedToken,
                format!("status list token: {e}"),
            ),
        }
    }
}

impl From<PasswordError> for Failure {
    fn from(e: PasswordError) -> Self {
        let status = match e {
            PasswordError::Empty | PasswordError::TooLong | PasswordError::MalformedHash => {
                eid_status::InvalidArgument
            }
            PasswordError::Params(_) | PasswordError::Overloaded | PasswordError::Internal(_) => {
                eid_status::Internal
            }
        };
        Failure::new(status, e.to_string())
    }
}

/// The names of the statuses, indexed by value.
const NAMES: [&CStr; 22] = [
    c"EID_STATUS_OK",
    c"EID_STATUS_INVALID_ARGUMENT",
    c"EID_STATUS_MALFORMED_TOKEN",
    c"EID_STATUS_UNSUPPORTED_ALGORITHM",
    c"EID_STATUS_UNKNOWN_KEY",
    c"EID_STATUS_BAD_SIGNATURE",
    c"EID_STATUS_EXPIRED",
    c"EID_STATUS_NOT_YET_VALID",
    c"EID_STATUS_WRONG_ISSUER",
    c"EID_STATUS_WRONG_AUDIENCE",
    c"EID_STATUS_WRONG_TOKEN_TYPE",
    c"EID_STATUS_INSUFFICIENT_ASSURANCE",
    c"EID_STATUS_KEY_BINDING_FAILED",
    c"EID_STATUS_REVOKED",
    c"EID_STATUS_SUSPENDED",
    c"EID_STATUS_NOT_PRESENT",
    c"EID_STATUS_PASSWORD_MISMATCH",
    c"EID_STATUS_INVALID_PERSONAL_ID",
    c"EID_STATUS_INVALID_JWKS",
    c"EID_STATUS_INTERNAL",
    c"EID_STATUS_PANIC",
    c"EID_STATUS_WRONG_NONCE",
];

/// The name of a status as a static string, for example `"EID_STATUS_EXPIRED"`;
/// `"EID_STATUS_UNKNOWN"` for a value no status has. Never free it.
///
/// Thread safety: may be called from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eid_status_name(status: i32) -> *const c_char {
    usize::try_from(status)
        .ok()
        .and_then(|index| NAMES.get(index))
        .map_or(c"EID_STATUS_UNKNOWN", |name| *name)
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_values() {
        let name = |status: i32| {
            // SAFETY: eid_status_name returns a static NUL-terminated string.
            unsafe { CStr::from_ptr(eid_status_name(status)) }
                .to_str()
                .unwrap()
        };
        for (status, expected) in [
            (eid_status::Ok, "EID_STATUS_OK"),
            (eid_status::Expired, "EID_STATUS_EXPIRED"),
            (
                eid_status::KeyBindingFailed,
                "EID_STATUS_KEY_BINDING_FAILED",
            ),
            (eid_status::Panic, "EID_STATUS_PANIC"),
        ] {
            assert_eq!(name(status as i32), expected);
        }
        // Every name is the variant's, in SCREAMING_SNAKE_CASE, as the header spells it.
        let header = include_str!("../include/eid.h");
        for (value, name) in NAMES.iter().enumerate() {
            let name = name.to_str().unwrap();
            assert!(header.contains(&format!("{name} = {value},")), "{name}");
        }
        assert_eq!(name(-1), "EID_STATUS_UNKNOWN");
        assert_eq!(name(22), "EID_STATUS_UNKNOWN");
    }
}
