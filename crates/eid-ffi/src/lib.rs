//! `eid-ffi`: the C library over eid-core for legacy systems — offline verification of
//! ID tokens, access tokens and eKYC credentials, personal ID validation and argon2id
//! password hashes. The C header is `include/eid.h`, generated from this crate by
//! cbindgen (`EID_BLESS_HEADER=1 cargo test -p eid-ffi --test header` rewrites it).
//!
//! Conventions of every function:
//! * it returns an [`eid_status`] (0 = `EID_STATUS_OK`) and [`eid_last_error`] then
//!   describes the outcome on the calling thread;
//! * results come through out-parameters, set to NULL / 0 first, so they are defined
//!   whatever the outcome;
//! * NULL is accepted everywhere (an error, or ignored by the `_free` functions);
//! * no panic crosses the boundary: one is caught and returned as `EID_STATUS_PANIC`;
//! * strings in are NUL-terminated UTF-8 (at most 1 MiB); strings the library gives
//!   out are either borrowed from a handle (valid until it is freed) or owned by the
//!   caller and freed with [`eid_string_free`], as each function says.

mod boundary;
mod claims;
mod ekyc;
mod password;
mod personal_id;
mod status;
mod verifier;

use std::ffi::c_char;

pub use claims::{
    EID_LOA_HIGH, EID_LOA_LOW, EID_LOA_NONE, EID_LOA_SUBSTANTIAL, eid_claims, eid_claims_acr,
    eid_claims_amr, eid_claims_amr_count, eid_claims_auth_time, eid_claims_birthdate,
    eid_claims_exp, eid_claims_family_name, eid_claims_free, eid_claims_given_name,
    eid_claims_json, eid_claims_kind, eid_claims_loa, eid_claims_middle_name, eid_claims_name,
    eid_claims_personal_id, eid_claims_status_uri, eid_claims_string, eid_claims_sub, eid_kind,
    eid_loa,
};
pub use ekyc::{
    eid_ekyc_check_status, eid_ekyc_verifier, eid_ekyc_verifier_free, eid_ekyc_verifier_new,
    eid_ekyc_verifier_replace_jwks, eid_ekyc_verify,
};
pub use password::{eid_password_hash, eid_password_verify};
pub use personal_id::{eid_id_problem, eid_personal_id_validate};
pub use status::{eid_status, eid_status_name};
pub use verifier::{
    eid_verifier, eid_verifier_free, eid_verifier_new, eid_verifier_replace_jwks,
    eid_verify_access_token, eid_verify_id_token, eid_verify_token,
};

/// The library version as a static NUL-terminated UTF-8 string. Never free it.
///
/// Thread safety: may be called from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eid_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// What went wrong in the last call on this thread that failed, in English, never
/// holding a token, password or personal data; an empty string after a call that
/// succeeded. Never NULL. The string belongs to the library: it stays valid until the
/// next call into the library on this thread; do not free it.
///
/// Thread safety: each thread has its own message.
#[unsafe(no_mangle)]
pub extern "C" fn eid_last_error() -> *const c_char {
    boundary::last_error()
}

/// Frees a string the library gave to the caller (claims JSON, a claim copy, a PHC
/// string), wiping its bytes first. NULL is ignored. Never pass a borrowed string (from
/// a getter documented as borrowed, `eid_version` or `eid_last_error`).
///
/// Thread safety: may be called from any thread.
///
/// # Safety
/// `string` is NULL or a string from this library that was not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eid_string_free(string: *mut c_char) {
    // SAFETY: the caller's contract stated above.
    unsafe { boundary::free_owned_string(string) }
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: eid_version returns a pointer to a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(super::eid_version()) };
        assert_eq!(version.to_str(), Ok(env!("CARGO_PKG_VERSION")));
    }
}
