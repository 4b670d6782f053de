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

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// An ID token with identity claims, `claim` set to `value`.
fn with_claim(f: &Fixtures, claim: &str, value: serde_json::Value) -> String {
    let mut claims = f.id_claims();
    claims[claim] = value;
    f.sign(&claims)
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
        (
            with_claim(&f, "iss", "https://evil.example".into()),
            EID_LOA_NONE,
            eid_status::WrongIssuer,
        ),
        (
            with_claim(&f, "iat", (now() + 3600).into()),
            EID_LOA_NONE,
            eid_status::NotYetValid,
        ),
        (
            with_claim(&f, "nbf", (now() + 3600).into()),
            EID_LOA_NONE,
            eid_status::NotYetValid,
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

#[test]
fn null_and_bad_arguments_are_refused_without_crashing() {
    let f = Fixtures::new();
    let jwks = c(&f.jwks());
    let issuer = c(fixtures::ISSUER);
    let audience = c(fixtures::CLIENT_ID);
    let mut v = ptr::null_mut();
    let new = |jwks: *const c_char,
               issuer: *const c_char,
               audience: *const c_char,
               leeway,
               out: *mut *mut eid_verifier| {
        let status = unsafe { eid_verifier_new(jwks, issuer, audience, leeway, out) };
        (status, last_error())
    };
    let (j, i, a) = (jwks.as_ptr(), issuer.as_ptr(), audience.as_ptr());
    let empty = c("");
    for ((status, error), message) in [
        (new(ptr::null(), i, a, 0, &mut v), "jwks is NULL"),
        (new(j, ptr::null(), a, 0, &mut v), "issuer is NULL"),
        (new(j, i, empty.as_ptr(), 0, &mut v), "audience must be"),
        (new(j, i, a, 301, &mut v), "leeway"),
        (new(j, i, a, 0, ptr::null_mut()), "verifier_out is NULL"),
    ] {
        assert_eq!(status, eid_status::InvalidArgument);
        assert!(error.contains(message), "{error}");
        assert!(v.is_null());
    }
    let not_utf8 = CString::new(vec![0xff, 0xfe]).unwrap();
    assert_eq!(
        new(j, not_utf8.as_ptr(), a, 0, &mut v),
        (
            eid_status::InvalidArgument,
            "issuer is not valid UTF-8".to_owned()
        )
    );
    for bad in ["not json", r#"{"keys":{}}"#] {
        assert_eq!(
            new(c(bad).as_ptr(), i, a, 0, &mut v).0,
            eid_status::InvalidJwks
        );
    }
    let huge = c(&"x".repeat(1024 * 1024 + 1));
    assert_eq!(
        new(huge.as_ptr(), i, a, 0, &mut v).0,
        eid_status::InvalidArgument
    );

    let v = verifier(&f, fixtures::CLIENT_ID);
    let token = c(&f.id_token(Loa::Low));
    let mut claims = ptr::null_mut();
    unsafe {
        assert_eq!(
            eid_verify_token(ptr::null(), token.as_ptr(), 0, &mut claims),
            eid_status::InvalidArgument
        );
        assert_eq!(
            eid_verify_token(v, ptr::null(), 0, &mut claims),
            eid_status::InvalidArgument
        );
        assert_eq!(
            eid_verify_token(v, token.as_ptr(), 0, ptr::null_mut()),
            eid_status::InvalidArgument
        );
        assert_eq!(
            eid_verifier_replace_jwks(v, ptr::null()),
            eid_status::InvalidArgument
        );
        assert_eq!(
            eid_verifier_replace_jwks(v, c("{}").as_ptr()),
            eid_status::InvalidJwks
        );
        // The failed replacement kept the keys.
        assert_eq!(
            eid_verify_token(v, token.as_ptr(), 0, &mut claims),
            eid_status::Ok
        );

        let mut text = ptr::null();
        let mut number = 7;
        let mut owned = ptr::null_mut();
        assert_eq!(
            eid_claims_sub(ptr::null(), &mut text),
            eid_status::InvalidArgument
        );
        assert_eq!(
            eid_claims_sub(claims, ptr::null_mut()),
            eid_status::InvalidArgument
        );
        assert_eq!(
            eid_claims_exp(ptr::null(), &mut number),
            eid_status::InvalidArgument
        );
        assert_eq!(number, 0);
        assert_eq!(
            eid_claims_amr(claims, 99, &mut text),
            eid_status::InvalidArgument
        );
        assert_eq!(
            eid_claims_string(claims, ptr::null(), &mut owned),
            eid_status::InvalidArgument
        );
        assert_eq!(
            eid_claims_string(claims, c("nope").as_ptr(), &mut owned),
            eid_status::NotPresent
        );
        assert_eq!(
            eid_claims_string(claims, c("exp").as_ptr(), &mut owned),
            eid_status::InvalidArgument
        );
        assert_eq!(
            eid_claims_status_uri(claims, &mut text),
            eid_status::NotPresent
        );
        assert_eq!(
            eid_claims_json(ptr::null(), &mut owned),
            eid_status::InvalidArgument
        );
        assert!(owned.is_null());

        // The free functions take NULL.
        eid_claims_free(ptr::null_mut());
        eid_verifier_free(ptr::null_mut());
        eid_ekyc_verifier_free(ptr::null_mut());
        eid_string_free(ptr::null_mut());
        eid_claims_free(claims);
        eid_verifier_free(v);
    }
}

#[test]
fn access_tokens_are_told_from_id_tokens() {
    let f = Fixtures::new();
    let api = verifier(&f, fixtures::API);
    let (status, claims) = verify(api, &f.access_token(Loa::Substantial), EID_LOA_LOW);
    assert_eq!(status, eid_status::Ok, "{}", last_error());
    let mut kind = eid_kind::IdToken;
    unsafe { eid_claims_kind(claims, &mut kind) };
    assert_eq!(kind, eid_kind::AccessToken);
    let mut json = ptr::null_mut();
    assert_eq!(
        unsafe { eid_claims_json(claims, &mut json) },
        eid_status::Ok
    );
    let parsed: serde_json::Value =
        serde_json::from_str(unsafe { CStr::from_ptr(json) }.to_str().unwrap()).unwrap();
    assert_eq!(parsed["client_id"], fixtures::CLIENT_ID);
    assert_eq!(parsed["scope"], "openid profile personal_id");
    unsafe {
        eid_string_free(json);
        eid_claims_free(claims);
    }
    // An access token is not for the relying party's client id, and vice versa.
    let rp = verifier(&f, fixtures::CLIENT_ID);
    let (status, _) = verify(rp, &f.access_token(Loa::Low), 0);
    assert_eq!(status, eid_status::WrongAudience);
    unsafe {
        eid_verifier_free(rp);
        eid_verifier_free(api);
    }
}

#[test]
fn ekyc_credentials_verify_with_key_binding_and_status() {
    let f = Fixtures::new();
    let credential = f.credential();
    let mut v = ptr::null_mut();
    assert_eq!(
        unsafe {
            eid_ekyc_verifier_new(
                c(&f.jwks()).as_ptr(),
                c(fixtures::ISSUER).as_ptr(),
                30,
                &mut v,
            )
        },
        eid_status::Ok
    );
    let verify_presentation = |presentation: &str, audience: Option<&str>, nonce: Option<&str>| {
        let (audience, nonce) = (audience.map(c), nonce.map(c));
        let mut claims = ptr::null_mut();
        let status = unsafe {
            eid_ekyc_verify(
                v,
                c(presentation).as_ptr(),
                audience.as_ref().map_or(ptr::null(), |a| a.as_ptr()),
                nonce.as_ref().map_or(ptr::null(), |n| n.as_ptr()),
                &mut claims,
            )
        };
        (status, claims)
    };
    let (status, claims) = verify_presentation(
        &credential.presentation,
        Some(fixtures::VERIFIER),
        Some(fixtures::KB_NONCE),
    );
    assert_eq!(status, eid_status::Ok, "{}", last_error());
    let mut kind = eid_kind::IdToken;
    unsafe { eid_claims_kind(claims, &mut kind) };
    assert_eq!(kind, eid_kind::EkycCredential);
    assert_eq!(
        borrowed(claims, eid_claims_personal_id).as_deref(),
        Some(fixtures::PERSONAL_ID)
    );
    assert_eq!(
        borrowed(claims, eid_claims_given_name).as_deref(),
        Some("Thị Thu Hương")
    );
    assert_eq!(
        borrowed(claims, eid_claims_status_uri).as_deref(),
        Some(fixtures::STATUS_URI)
    );
    let mut loa = 9;
    assert_eq!(
        unsafe { eid_claims_loa(claims, &mut loa) },
        eid_status::NotPresent
    );
    assert_eq!(loa, EID_LOA_NONE);

    let check = |token: &str| unsafe { eid_ekyc_check_status(v, claims, c(token).as_ptr()) };
    // Claims verified for another issuer are not checked against this issuer's lists.
    let mut elsewhere = ptr::null_mut();
    assert_eq!(
        unsafe {
            eid_ekyc_verifier_new(
                c(&f.jwks()).as_ptr(),
                c("https://other.example").as_ptr(),
                30,
                &mut elsewhere,
            )
        },
        eid_status::Ok
    );
    assert_eq!(
        unsafe { eid_ekyc_check_status(elsewhere, claims, c(&credential.status_valid).as_ptr()) },
        eid_status::InvalidArgument
    );
    unsafe { eid_ekyc_verifier_free(elsewhere) };
    assert_eq!(check(&credential.status_valid), eid_status::Ok);
    assert_eq!(check(&credential.status_suspended), eid_status::Suspended);
    assert_eq!(check(&credential.status_revoked), eid_status::Revoked);
    assert_eq!(
        check(&fixtures::tampered(&credential.status_valid)),
        eid_status::BadSignature
    );
    assert_eq!(check(&f.id_token(Loa::Low)), eid_status::WrongTokenType);

    for (audience, nonce, expected) in [
        (
            Some("https://other.example"),
            Some(fixtures::KB_NONCE),
            eid_status::KeyBindingFailed,
        ),
        (
            Some(fixtures::VERIFIER),
            Some("replayed"),
            eid_status::KeyBindingFailed,
        ),
        (None, None, eid_status::KeyBindingFailed),
        (Some(fixtures::VERIFIER), None, eid_status::InvalidArgument),
        (Some(""), Some(""), eid_status::InvalidArgument),
    ] {
        let (status, none) = verify_presentation(&credential.presentation, audience, nonce);
        assert_eq!(status, expected, "{audience:?} {nonce:?}: {}", last_error());
        assert!(none.is_null());
    }
    // A holder-bound credential without its key binding could be a replay.
    let (status, plain) = verify_presentation(&credential.without_key_binding, None, None);
    assert_eq!(status, eid_status::KeyBindingFailed, "{}", last_error());
    assert!(plain.is_null());
    let token_verifier = verifier(&f, fixtures::CLIENT_ID);
    let (_, token_claims) = verify(token_verifier, &f.id_token(Loa::Low), EID_LOA_NONE);
    assert_eq!(
        unsafe { eid_ekyc_check_status(v, token_claims, c(&credential.status_valid).as_ptr()) },
        eid_status::InvalidArgument
    );
    let (status, _) = verify_presentation(&f.id_token(Loa::Low), None, None);
    assert_eq!(status, eid_status::MalformedToken);
    unsafe {
        eid_claims_free(token_claims);
        eid_verifier_free(token_verifier);
        eid_claims_free(plain);
        eid_claims_free(claims);
        eid_ekyc_verifier_free(v);
    }
}

#[test]
fn personal_ids_are_validated_with_the_reason() {
    let validate = |id: &str| {
        let mut problem = eid_id_problem::None;
        let status = unsafe { eid_personal_id_validate(c(id).as_ptr(), &mut problem) };
        (status, problem, last_error())
    };
    assert_eq!(validate(fixtures::PERSONAL_ID).0, eid_status::Ok);
    let (status, problem, message) = validate("00109001234");
    assert_eq!(
        (status, problem),
        (eid_status::InvalidPersonalId, eid_id_problem::WrongLength)
    );
    assert!(message.contains("found 11"), "{message}");
    let (_, problem, message) = validate("0010900123x5");
    assert_eq!(problem, eid_id_problem::NotADigit);
    assert!(message.contains("position 11"), "{message}");
    let (_, problem, message) = validate("999090012345");
    assert_eq!(problem, eid_id_problem::UnknownPlace);
    assert!(
        message.contains("registration place") && !message.contains("999"),
        "{message}"
    );
    // The reason is optional; the string is not.
    assert_eq!(
        unsafe { eid_personal_id_validate(c("1").as_ptr(), ptr::null_mut()) },
        eid_status::InvalidPersonalId
    );
    assert_eq!(
        unsafe { eid_personal_id_validate(ptr::null(), ptr::null_mut()) },
        eid_status::InvalidArgument
    );
}

#[test]
fn passwords_hash_and_verify_as_argon2id() {
    let mut phc = ptr::null_mut();
    assert_eq!(
        unsafe { eid_password_hash(c("mật khẩu").as_ptr(), &mut phc) },
        eid_status::Ok
    );
    let stored = unsafe { CStr::from_ptr(phc) }.to_str().unwrap().to_owned();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    let verify = |password: &str, phc: &str| {
        let mut rehash = ptr::null_mut();
        let status =
            unsafe { eid_password_verify(c(password).as_ptr(), c(phc).as_ptr(), &mut rehash) };
        let rehash = (!rehash.is_null()).then(|| {
            let text = unsafe { CStr::from_ptr(rehash) }
                .to_str()
                .unwrap()
                .to_owned();
            unsafe { eid_string_free(rehash) };
            text
        });
        (status, rehash)
    };
    // NFD input (macOS keyboards) matches its NFC form.
    assert_eq!(
        verify("ma\u{323}\u{302}t kha\u{302}\u{309}u", &stored),
        (eid_status::Ok, None)
    );
    assert_eq!(verify("mat khau", &stored).0, eid_status::PasswordMismatch);
    assert_eq!(verify("", &stored).0, eid_status::InvalidArgument);
    assert_eq!(
        verify("x", "$2b$10$notargon").0,
        eid_status::InvalidArgument
    );
    // A legacy hash with weaker parameters verifies and gets a replacement.
    let legacy = eid_core::credential::password::PasswordParams {
        m_kib: 1024,
        t: 1,
        p: 1,
    }
    .hash_blocking(&eid_core::credential::password::Password::new("old").unwrap())
    .unwrap();
    let (status, rehash) = verify("old", &legacy);
    assert_eq!(status, eid_status::Ok);
    assert!(
        rehash
            .unwrap()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    unsafe { eid_string_free(phc) };
    assert_eq!(
        unsafe { eid_password_hash(c(&"a".repeat(1025)).as_ptr(), &mut phc) },
        eid_status::InvalidArgument
    );
    assert!(phc.is_null());
}

#[test]
fn typed_entry_points_check_the_kind_and_the_nonce() {
    let f = Fixtures::new();
    let rp = verifier(&f, fixtures::CLIENT_ID);
    let api = verifier(&f, fixtures::API);
    let id = c(&f.id_token(Loa::Low));
    let access = c(&f.access_token(Loa::Low));
    let id_token = |token: &CString, nonce: Option<&str>| {
        let nonce = nonce.map(c);
        let mut claims = ptr::null_mut();
        let status = unsafe {
            eid_verify_id_token(
                rp,
                token.as_ptr(),
                nonce.as_ref().map_or(ptr::null(), |n| n.as_ptr()),
                EID_LOA_NONE,
                &mut claims,
            )
        };
        assert_eq!(status == eid_status::Ok, !claims.is_null());
        unsafe { eid_claims_free(claims) };
        status
    };
    assert_eq!(id_token(&id, Some(fixtures::NONCE)), eid_status::Ok);
    assert_eq!(id_token(&id, Some("other")), eid_status::WrongNonce);
    assert_eq!(id_token(&id, None), eid_status::WrongNonce);
    let mut claims = f.id_claims();
    claims.as_object_mut().unwrap().remove("nonce");
    let no_nonce = c(&f.sign(&claims));
    assert_eq!(id_token(&no_nonce, None), eid_status::Ok);
    assert_eq!(
        id_token(&no_nonce, Some(fixtures::NONCE)),
        eid_status::WrongNonce
    );

    // A bad nonce argument still resets the out-parameter.
    let mut junk = ptr::dangling_mut::<eid_claims>();
    let bad_nonce = CString::new(vec![0xff]).unwrap();
    assert_eq!(
        unsafe { eid_verify_id_token(rp, id.as_ptr(), bad_nonce.as_ptr(), 0, &mut junk) },
        eid_status::InvalidArgument
    );
    assert!(junk.is_null());

    let access_token = |v, token: &CString| {
        let mut claims = ptr::null_mut();
        let status =
            unsafe { eid_verify_access_token(v, token.as_ptr(), EID_LOA_LOW, &mut claims) };
        unsafe { eid_claims_free(claims) };
        status
    };
    assert_eq!(access_token(api, &access), eid_status::Ok);
    assert_eq!(access_token(rp, &id), eid_status::WrongTokenType);
    // Through an access-token verifier the ID token fails its audience first.
    assert_eq!(access_token(api, &id), eid_status::WrongAudience);
    let mut out = ptr::null_mut();
    assert_eq!(
        unsafe { eid_verify_id_token(rp, access.as_ptr(), ptr::null(), 0, &mut out) },
        eid_status::WrongAudience
    );
    unsafe {
        eid_verifier_free(rp);
        eid_verifier_free(api);
    }
}
