//! `eid_verifier`: offline verification of ID tokens and access tokens against a JWKS.

use std::ffi::c_char;

use eid_core::assurance::Loa;
use eid_core::token::{TokenVerifier, VerificationKeys, VerifiedKind};
use time::{Duration, OffsetDateTime};

use crate::boundary::{Failure, Out, guard, handle, into_handle, opt_str_arg, str_arg};
use crate::claims::{eid_claims, eid_loa};
use crate::status::eid_status;

/// The longest issuer or audience accepted.
const MAX_IDENTIFIER_LEN: usize = 2048;

/// Verifies tokens of one issuer for one audience. Opaque; made by
/// `eid_verifier_new`, freed by `eid_verifier_free`. Shareable across threads.
#[allow(non_camel_case_types)]
pub struct eid_verifier {
    tokens: TokenVerifier,
}

/// A non-empty issuer or audience of bounded length.
pub(crate) fn identifier<'a>(value: &'a str, name: &str) -> Result<&'a str, Failure> {
    if value.is_empty() || value.len() > MAX_IDENTIFIER_LEN {
        return Err(Failure::invalid(format!(
            "{name} must be 1 to {MAX_IDENTIFIER_LEN} bytes"
        )));
    }
    Ok(value)
}

/// A leeway in seconds as a duration (range-checked by eid-core).
pub(crate) fn leeway(seconds: u32) -> Duration {
    Duration::seconds(seconds.into())
}

/// The keys of a JWKS JSON document.
pub(crate) fn keys(jwks: &str) -> Result<VerificationKeys, Failure> {
    Ok(VerificationKeys::from_json(jwks)?)
}

/// A minimum level from the C constant; `EID_LOA_NONE` asks for none.
fn required_loa(value: eid_loa) -> Result<Option<Loa>, Failure> {
    match value {
        crate::claims::EID_LOA_NONE => Ok(None),
        crate::claims::EID_LOA_LOW => Ok(Some(Loa::Low)),
        crate::claims::EID_LOA_SUBSTANTIAL => Ok(Some(Loa::Substantial)),
        crate::claims::EID_LOA_HIGH => Ok(Some(Loa::High)),
        other => Err(Failure::invalid(format!(
            "min_loa {other} is not one of the EID_LOA_ constants"
        ))),
    }
}

/// Makes a verifier of tokens issued by `issuer` for `audience` (the relying party's
/// client id, or the resource server's identifier for access tokens), with the keys of
/// `jwks` (the issuer's JWKS document as JSON; fetching and refreshing it is the
/// caller's job) and `leeway_seconds` of clock skew (0 to 300). On success
/// `*verifier_out` is the new verifier; on failure it is NULL.
///
/// Thread safety: may be called from any thread.
///
/// # Safety
/// The strings are NULL or NUL-terminated; `verifier_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_verifier_new(
    jwks: *const c_char,
    issuer: *const c_char,
    audience: *const c_char,
    leeway_seconds: u32,
    verifier_out: *mut *mut eid_verifier,
) -> eid_status {
    guard(|| {
        // SAFETY (all blocks): the caller's contract stated above.
        let out = unsafe { Out::new(verifier_out, "verifier_out", std::ptr::null_mut()) }?;
        let jwks = unsafe { str_arg(jwks, "jwks") }?;
        let issuer = identifier(unsafe { str_arg(issuer, "issuer") }?, "issuer")?;
        let audience = identifier(unsafe { str_arg(audience, "audience") }?, "audience")?;
        let tokens = TokenVerifier::new(keys(jwks)?, issuer, audience, leeway(leeway_seconds))?;
        out.set(into_handle(eid_verifier { tokens }));
        Ok(())
    })
}

/// Replaces the verifier's key set with the keys of `jwks`, atomically: verifications
/// running on other threads finish with the old set, later ones use the new set. On
/// failure the old set stays.
///
/// Thread safety: may be called while other threads verify with the same verifier.
///
/// # Safety
/// `verifier` is NULL or a live verifier; `jwks` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_verifier_replace_jwks(
    verifier: *const eid_verifier,
    jwks: *const c_char,
) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): the caller's contract stated above.
        let verifier = unsafe { handle(verifier, "verifier") }?;
        let jwks = unsafe { str_arg(jwks, "jwks") }?;
        verifier.tokens.replace_keys(keys(jwks)?);
        Ok(())
    })
}

/// Frees a verifier. NULL is ignored.
///
/// Thread safety: no other thread may be using the verifier.
///
/// # Safety
/// `verifier` is NULL or a live verifier, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_verifier_free(verifier: *mut eid_verifier) {
    if !verifier.is_null() {
        // SAFETY: made by Box::into_raw in eid_verifier_new and freed once.
        drop(unsafe { Box::from_raw(verifier) });
    }
}

/// Verifies `token`, an ID token (`typ` `JWT` or none) or an RFC 9068 access token
/// (`typ` `at+jwt`): ES256 signature by a key of the key set, issuer, audience (and
/// `azp`), expiry, not-before and issue time within the leeway, the claims each kind
/// requires, and a level of assurance of at least `min_loa` (`EID_LOA_NONE` for no
/// requirement). A token whose typed claims (`sub`, `acr`, `amr`, names, `birthdate`,
/// personal ID) are not strings free of NUL characters is `EID_STATUS_MALFORMED_TOKEN`.
/// `eid_claims_kind` tells which kind it was. On success `*claims_out`
/// holds the claims (free them with `eid_claims_free`); on failure it is NULL. A relying
/// party checking an ID token should rather call `eid_verify_id_token` (which checks the
/// nonce), and a resource server `eid_verify_access_token`.
///
/// Thread safety: may be called from many threads at once with the same verifier.
///
/// # Safety
/// `verifier` is NULL or a live verifier; `token` is NULL or NUL-terminated;
/// `claims_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_verify_token(
    verifier: *const eid_verifier,
    token: *const c_char,
    min_loa: eid_loa,
    claims_out: *mut *mut eid_claims,
) -> eid_status {
    // SAFETY: same contract.
    unsafe { verify(verifier, token, Expect::Either, min_loa, claims_out) }
}

/// Verifies an ID token as `eid_verify_token` does, and also that it is one (an access
/// token is `EID_STATUS_WRONG_TOKEN_TYPE`) and that its `nonce` equals `nonce`, the value
/// sent in the authentication request (`EID_STATUS_WRONG_NONCE` otherwise; OIDC Core
/// 3.1.3.7 step 11). With `nonce` NULL (a request that carried none) the token must
/// carry none either.
///
/// Thread safety: may be called from many threads at once with the same verifier.
///
/// # Safety
/// `verifier` is NULL or a live verifier; `token` and `nonce` are NULL or
/// NUL-terminated; `claims_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_verify_id_token(
    verifier: *const eid_verifier,
    token: *const c_char,
    nonce: *const c_char,
    min_loa: eid_loa,
    claims_out: *mut *mut eid_claims,
) -> eid_status {
    guard(|| {
        // SAFETY (all blocks): the caller's contract stated above.
        let out = unsafe { Out::new(claims_out, "claims_out", std::ptr::null_mut()) }?;
        let nonce = unsafe { opt_str_arg(nonce, "nonce") }?;
        let claims = unsafe { verified(verifier, token, Expect::IdToken, min_loa) }?;
        if claims.nonce() != nonce {
            return Err(Failure::new(
                eid_status::WrongNonce,
                "the ID token's nonce is not the one sent",
            ));
        }
        out.set(into_handle(claims));
        Ok(())
    })
}

/// Verifies an RFC 9068 access token as `eid_verify_token` does, and also that it is one
/// (an ID token is `EID_STATUS_WRONG_TOKEN_TYPE`): what a resource server calls with the
/// bearer token of a request.
///
/// Thread safety: may be called from many threads at once with the same verifier.
///
/// # Safety
/// As for `eid_verify_token`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_verify_access_token(
    verifier: *const eid_verifier,
    token: *const c_char,
    min_loa: eid_loa,
    claims_out: *mut *mut eid_claims,
) -> eid_status {
    // SAFETY: same contract.
    unsafe { verify(verifier, token, Expect::AccessToken, min_loa, claims_out) }
}

/// Which kind of token the caller accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Either,
    IdToken,
    AccessToken,
}

/// The body of the `eid_verify_*` functions without a nonce.
///
/// # Safety
/// As for `eid_verify_token`.
unsafe fn verify(
    verifier: *const eid_verifier,
    token: *const c_char,
    expect: Expect,
    min_loa: eid_loa,
    claims_out: *mut *mut eid_claims,
) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): forwarded contract.
        let out = unsafe { Out::new(claims_out, "claims_out", std::ptr::null_mut()) }?;
        out.set(into_handle(unsafe {
            verified(verifier, token, expect, min_loa)
        }?));
        Ok(())
    })
}

/// Verifies the token; returns its claims for the caller to store (in an out-parameter
/// it has already reset) once its own checks pass.
///
/// # Safety
/// `verifier` is NULL or a live verifier; `token` is NULL or NUL-terminated.
unsafe fn verified(
    verifier: *const eid_verifier,
    token: *const c_char,
    expect: Expect,
    min_loa: eid_loa,
) -> Result<eid_claims, Failure> {
    // SAFETY (both blocks): the caller's contract.
    let verifier = unsafe { handle(verifier, "verifier") }?;
    let token = unsafe { str_arg(token, "token") }?;
    let min_loa = required_loa(min_loa)?;
    let verified = verifier
        .tokens
        .verify_token_at(token, min_loa, OffsetDateTime::now_utc())?;
    let kind_ok = match expect {
        Expect::Either => true,
        Expect::IdToken => verified.kind == VerifiedKind::IdToken,
        Expect::AccessToken => verified.kind == VerifiedKind::AccessToken,
    };
    if !kind_ok {
        return Err(Failure::new(
            eid_status::WrongTokenType,
            "wrong token type: an ID token where an access token is expected, or the reverse",
        ));
    }
    eid_claims::from_token(verified)
}
