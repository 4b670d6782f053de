//! The C entry points called from Rust: every outcome class and every bad input.

mod support;

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use eid::*;
use eid_core::assurance::Loa;
use support::fixtures::{self, Fixtures};

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn last_error() -> String {
    // SAFETY: never NULL, valid until the next call on this thread.
    unsafe { CStr::from_ptr(eid_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn verifier(f: &Fixtures, audience: &str) -> *mut eid_verifier {
    let mut v = ptr::null_mut();
    let status = unsafe {
        eid_verifier_new(
            c(&f.jwks()).as_ptr(),
            c(fixtures::ISSUER).as_ptr(),
            c(audience).as_ptr(),
            60,
            &mut v,
        )
    };
    assert_eq!(status, eid_status::Ok, "{}", last_error());
    v
}

fn verify(v: *const eid_verifier, token: &str, min_loa: eid_loa) -> (eid_status, *mut eid_claims) {
    let mut claims = ptr::null_mut();
    let status = unsafe { eid_verify_token(v, c(token).as_ptr(), min_loa, &mut claims) };
    assert_eq!(status == eid_status::Ok, !claims.is_null());
    (status, claims)
}

fn borrowed(
    claims: *const eid_claims,
    getter: unsafe extern "C" fn(*const eid_claims, *mut *const c_char) -> eid_status,
) -> Option<String> {
    let mut out = ptr::null();
    match unsafe { getter(claims, &mut out) } {
        eid_status::Ok => Some(unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned()),
        eid_status::NotPresent => {
            assert!(out.is_null());
            None
        }
        other => panic!("{other:?}: {}", last_error()),
    }
}

#[test]
fn good_tokens_verify_and_their_claims_read_back() {
    let f = Fixtures::new();
    let v = verifier(&f, fixtures::CLIENT_ID);
    let (status, claims) = verify(v, &f.sign(&f.id_claims()), EID_LOA_HIGH);
    assert_eq!(status, eid_status::Ok, "{}", last_error());
    assert_eq!(last_error(), "");
    let mut kind = eid_kind::AccessToken;
    assert_eq!(
        unsafe { eid_claims_kind(claims, &mut kind) },
        eid_status::Ok
    );
    assert_eq!(kind, eid_kind::IdToken);
    assert_eq!(borrowed(claims, eid_claims_sub), Some(f.subject()));
    assert_eq!(
        borrowed(claims, eid_claims_given_name).as_deref(),
        Some("Hương")
    );
    assert_eq!(
        borrowed(claims, eid_claims_personal_id).as_deref(),
        Some(fixtures::PERSONAL_ID)
    );
    assert_eq!(
        borrowed(claims, eid_claims_birthdate).as_deref(),
        Some("1990-03-07")
    );
    let mut loa = EID_LOA_NONE;
    assert_eq!(unsafe { eid_claims_loa(claims, &mut loa) }, eid_status::Ok);
    assert_eq!(loa, EID_LOA_HIGH);
    let mut count = 0;
    assert_eq!(
        unsafe { eid_claims_amr_count(claims, &mut count) },
        eid_status::Ok
    );
    assert_eq!(count, 3);
    let mut nonce = ptr::null_mut();
    assert_eq!(
        unsafe { eid_claims_string(claims, c("nonce").as_ptr(), &mut nonce) },
        eid_status::Ok
    );
    assert_eq!(
        unsafe { CStr::from_ptr(nonce) }.to_str(),
        Ok(fixtures::NONCE)
    );
    unsafe { eid_string_free(nonce) };
    unsafe { eid_claims_free(claims) };

    // An ID token from eid-core's issuer carries no identity claims.
    let (status, claims) = verify(v, &f.id_token(Loa::Substantial), EID_LOA_SUBSTANTIAL);
    assert_eq!(status, eid_status::Ok, "{}", last_error());
    assert_eq!(borrowed(claims, eid_claims_family_name), None);
    unsafe { eid_claims_free(claims) };
    unsafe { eid_verifier_free(v) };
}

#[test]
fn bad_tokens_get_their_own_status() {
    let f = Fixtures::new();
    let v = verifier(&f, fixtures::CLIENT_ID);
    let good = f.id_token(Loa::Substantial);
    for (token, min, expected) in [
        (f.expired_id_token(), EID_LOA_NONE, eid_status::Expired),
        (
            fixtures::tampered(&good),
            EID_LOA_NONE,
            eid_status::BadSignature,
        ),
        (
            f.wrong_audience_id_token(),
            EID_LOA_NONE,
            eid_status::WrongAudience,
        ),
        (
            fixtures::alg_none(&good),
            EID_LOA_NONE,
            eid_status::UnsupportedAlgorithm,
        ),
        (
            good.clone(),
            EID_LOA_HIGH,
            eid_status::InsufficientAssurance,
        ),
        (
            f.foreign_key_id_token(),
            EID_LOA_NONE,
            eid_status::BadSignature,
        ),
        (
            Fixtures::new().id_token(Loa::Low),
            EID_LOA_NONE,
            eid_status::UnknownKey,
        ),
        (
            "not a token".to_owned(),
            EID_LOA_NONE,
            eid_status::MalformedToken,
        ),
        (good.clone(), 9, eid_status::InvalidArgument),
    ] {
        let (status, claims) = verify(v, &token, min);
        assert_eq!(status, expected, "{}", last_error());
        assert!(claims.is_null());
        assert!(!last_error().is_empty());
    }
    unsafe { eid_verifier_free(v) };
}
