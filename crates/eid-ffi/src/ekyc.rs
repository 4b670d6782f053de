//! `eid_ekyc_verifier`: offline verification of presented eKYC credentials (SD-JWT VCs
//! with selective disclosures and key binding) and of their status.

use std::ffi::c_char;
use std::sync::{Arc, PoisonError, RwLock};

use eid_core::credential::sdjwt::{KeyBindingCheck, SdJwtVcVerifier};
use eid_core::credential::status_list::TokenStatus;
use time::OffsetDateTime;

use crate::boundary::{Failure, Out, guard, handle, into_handle, opt_str_arg, str_arg};
use crate::claims::eid_claims;
use crate::status::eid_status;
use crate::verifier::{identifier, keys, leeway};

/// Verifies eKYC credentials of one issuer. Opaque; made by `eid_ekyc_verifier_new`,
/// freed by `eid_ekyc_verifier_free`. Shareable across threads.
#[allow(non_camel_case_types)]
pub struct eid_ekyc_verifier {
    issuer: String,
    leeway: u32,
    credentials: RwLock<Arc<SdJwtVcVerifier>>,
}

impl eid_ekyc_verifier {
    fn build(issuer: &str, leeway_seconds: u32, jwks: &str) -> Result<SdJwtVcVerifier, Failure> {
        Ok(SdJwtVcVerifier::new(
            keys(jwks)?,
            issuer,
            leeway(leeway_seconds),
        )?)
    }

    fn current(&self) -> Arc<SdJwtVcVerifier> {
        Arc::clone(
            &self
                .credentials
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

/// Makes a verifier of eKYC credentials issued by `issuer` (the credential's `iss`),
/// signed by a key of `jwks` (the issuer's JWKS, as published at its
/// `/.well-known/jwt-vc-issuer`), allowing `leeway_seconds` of clock skew (0 to 300).
/// On success `*verifier_out` is the new verifier; on failure NULL.
///
/// Thread safety: may be called from any thread.
///
/// # Safety
/// The strings are NULL or NUL-terminated; `verifier_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_ekyc_verifier_new(
    jwks: *const c_char,
    issuer: *const c_char,
    leeway_seconds: u32,
    verifier_out: *mut *mut eid_ekyc_verifier,
) -> eid_status {
    guard(|| {
        // SAFETY (all blocks): the caller's contract stated above.
        let out = unsafe { Out::new(verifier_out, "verifier_out", std::ptr::null_mut()) }?;
        let jwks = unsafe { str_arg(jwks, "jwks") }?;
        let issuer = identifier(unsafe { str_arg(issuer, "issuer") }?, "issuer")?;
        let credentials = eid_ekyc_verifier::build(issuer, leeway_seconds, jwks)?;
        out.set(into_handle(eid_ekyc_verifier {
            issuer: issuer.to_owned(),
            leeway: leeway_seconds,
            credentials: RwLock::new(Arc::new(credentials)),
        }));
        Ok(())
    })
}

/// Replaces the verifier's key set atomically (see `eid_verifier_replace_jwks`).
///
/// Thread safety: may be called while other threads verify with the same verifier.
///
/// # Safety
/// `verifier` is NULL or a live verifier; `jwks` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_ekyc_verifier_replace_jwks(
    verifier: *const eid_ekyc_verifier,
    jwks: *const c_char,
) -> eid_status {
    guard(|| {
        // SAFETY (both blocks): the caller's contract stated above.
        let verifier = unsafe { handle(verifier, "verifier") }?;
        let jwks = unsafe { str_arg(jwks, "jwks") }?;
        let replacement = eid_ekyc_verifier::build(&verifier.issuer, verifier.leeway, jwks)?;
        *verifier
            .credentials
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(replacement);
        Ok(())
    })
}

/// Frees an eKYC verifier. NULL is ignored.
///
/// Thread safety: no other thread may be using the verifier.
///
/// # Safety
/// `verifier` is NULL or a live verifier, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_ekyc_verifier_free(verifier: *mut eid_ekyc_verifier) {
    if !verifier.is_null() {
        // SAFETY: made by Box::into_raw in eid_ekyc_verifier_new and freed once.
        drop(unsafe { Box::from_raw(verifier) });
    }
}

/// Verifies a presented eKYC credential `presentation`
/// (`<issuer-signed JWT>~<disclosure>~...~<KB-JWT>`, RFC 9901): the issuer's ES256
/// signature, `typ` `dc+sd-jwt`, issuer, validity times, every disclosure (each
/// referenced exactly once), and the key binding. With `audience` (your identifier) and
/// `nonce` (the one you gave the holder for this presentation), a Key Binding JWT signed
/// by the credential's holder key for that audience and nonce, recent, and covering this
/// presentation, is required. Both NULL is only for credentials bound to no holder key
/// (no `cnf`): a holder-bound credential (every PID this service issues) presented without
/// proof of possession could be a replay, and is `EID_STATUS_KEY_BINDING_FAILED`. The
/// status is not checked here: see `eid_ekyc_check_status`. On success `*claims_out`
/// holds the credential's claims (kind `EID_KIND_EKYC_CREDENTIAL`); on failure NULL.
///
/// Thread safety: may be called from many threads at once with the same verifier.
///
/// # Safety
/// `verifier` is NULL or a live verifier; the strings are NULL or NUL-terminated;
/// `claims_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_ekyc_verify(
    verifier: *const eid_ekyc_verifier,
    presentation: *const c_char,
    audience: *const c_char,
    nonce: *const c_char,
    claims_out: *mut *mut eid_claims,
) -> eid_status {
    guard(|| {
        // SAFETY (all blocks): the caller's contract stated above.
        let out = unsafe { Out::new(claims_out, "claims_out", std::ptr::null_mut()) }?;
        let verifier = unsafe { handle(verifier, "verifier") }?;
        let presentation = unsafe { str_arg(presentation, "presentation") }?;
        let audience = unsafe { opt_str_arg(audience, "audience") }?;
        let nonce = unsafe { opt_str_arg(nonce, "nonce") }?;
        let key_binding = match (audience, nonce) {
            (Some(audience), Some(nonce)) if !audience.is_empty() && !nonce.is_empty() => {
                Some(KeyBindingCheck { audience, nonce })
            }
            (None, None) => None,
            _ => {
                return Err(Failure::invalid(
                    "audience and nonce must both be given (non-empty) or both be NULL",
                ));
            }
        };
        let credential =
            verifier
                .current()
                .verify(presentation, key_binding, OffsetDateTime::now_utc())?;
        if key_binding.is_none() && credential.holder_key.is_some() {
            return Err(Failure::new(
                eid_status::KeyBindingFailed,
                "the credential is bound to its holder's key: pass audience and nonce so that \
                 its key binding is checked",
            ));
        }
        out.set(into_handle(eid_claims::from_credential(credential)?));
        Ok(())
    })
}

/// Checks a verified credential's status in `status_list_token`, the Status List Token
/// the caller fetched from `eid_claims_status_uri` (it must be signed by the issuer's
/// keys, name that URI as its `sub`, and be current). `EID_STATUS_OK` only when the
/// credential is valid; **anything else means its status could not be established as
/// valid, and the credential must not be accepted**: `EID_STATUS_REVOKED` or
/// `EID_STATUS_SUSPENDED`; `EID_STATUS_NOT_PRESENT` for a credential without a status
/// entry; a status list token that is expired, badly signed, from another key set or for
/// another URI (`EID_STATUS_EXPIRED`, `_BAD_SIGNATURE`, `_UNKNOWN_KEY`, `_WRONG_AUDIENCE`
/// ...); `EID_STATUS_INVALID_ARGUMENT` for claims that are not an eKYC credential
/// verified by a verifier of this issuer.
///
/// Thread safety: may be called from many threads at once with the same verifier.
///
/// # Safety
/// `verifier` and `credential` are NULL or live handles; `status_list_token` is NULL or
/// NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_ekyc_check_status(
    verifier: *const eid_ekyc_verifier,
    credential: *const eid_claims,
    status_list_token: *const c_char,
) -> eid_status {
    guard(|| {
        // SAFETY (all blocks): the caller's contract stated above.
        let verifier = unsafe { handle(verifier, "verifier") }?;
        let claims = unsafe { handle(credential, "credential") }?;
        let token = unsafe { str_arg(status_list_token, "status_list_token") }?;
        let credential = claims
            .credential
            .as_ref()
            .ok_or_else(|| Failure::invalid("credential is a token, not an eKYC credential"))?;
        if credential.issuer != verifier.issuer {
            return Err(Failure::invalid(
                "the credential was verified for another issuer than this verifier's",
            ));
        }
        let status =
            verifier
                .current()
                .check_status(credential, token, OffsetDateTime::now_utc())?;
        match status {
            TokenStatus::Valid => Ok(()),
            TokenStatus::Suspended => Err(Failure::new(
                eid_status::Suspended,
                "the credential is suspended",
            )),
            TokenStatus::Invalid => Err(Failure::new(
                eid_status::Revoked,
                "the credential is revoked",
            )),
            TokenStatus::Other(value) => Err(Failure::new(
                eid_status::Revoked,
                format!("the credential has status {value:#04x}, treated as revoked"),
            )),
        }
    })
}
