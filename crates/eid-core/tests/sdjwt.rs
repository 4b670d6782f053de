//! SD-JWT VCs end to end: the service issues a PID credential, the holder presents a
//! subset of its disclosures with a Key Binding JWT, the verifier checks it against the
//! issuer's JWKS and the credential's entry in a Token Status List.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use eid_core::citizen::{PersonalId, PivotIdentity, Sex};
use eid_core::credential::sdjwt::{
    DEFAULT_VCT, Disclosure, KeyBindingCheck, PidIssuer, SD_JWT_VC_TYP, SdJwtError,
    SdJwtVcVerifier, VerifiedSdJwtVc, present,
};
use eid_core::credential::status_list::{
    StatusList, StatusListError, StatusReference, TokenStatus, sign_status_list_token,
};
use eid_core::token::{KeyRing, SigningKey, VerificationKeys, VerifyError};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

const ISSUER: &str = "https://eid.example.vn";
const VERIFIER: &str = "https://rp.example.vn";
const NONCE: &str = "n-0S6_WzA2Mj";
const STATUS_URI: &str = "https://eid.example.vn/statuslists/1";
const T0: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);
const LEEWAY: Duration = Duration::seconds(60);
const PID_CLAIMS: [&str; 7] = [
    "family_name",
    "given_name",
    "birthdate",
    "sex",
    "place_of_birth",
    "nationalities",
    "personal_administrative_number",
];

struct World {
    ring: KeyRing,
    holder: SigningKey,
    credential: String,
}

fn identity() -> PivotIdentity {
    PivotIdentity {
        family_name: "Nguyễn".into(),
        middle_names: "Thị Thu".into(),
        given_name: "Hương".into(),
        birth_date: date!(1990 - 03 - 15),
        sex: Sex::Female,
        place_of_birth: "Hà Nội".into(),
        nationality: "VN".into(),
    }
}

fn status_ref() -> StatusReference {
    StatusReference {
        idx: 5,
        uri: STATUS_URI.to_owned(),
    }
}

fn world_with(issuer: PidIssuer) -> World {
    let ring = KeyRing::generate().unwrap();
    let holder = SigningKey::generate().unwrap();
    let credential = issuer
        .issue(
            ring.active(),
            &identity(),
            &PersonalId::parse("001190123489").unwrap(),
            holder.jwk(),
            &status_ref(),
            T0,
        )
        .unwrap();
    World {
        ring,
        holder,
        credential,
    }
}

fn world() -> World {
    world_with(PidIssuer::new(ISSUER))
}

fn verifier(ring: &KeyRing) -> SdJwtVcVerifier {
    let keys = VerificationKeys::from_json(&serde_json::to_string(&ring.jwks()).unwrap()).unwrap();
    SdJwtVcVerifier::new(keys, ISSUER, LEEWAY).unwrap()
}

fn expect_kb() -> Option<KeyBindingCheck<'static>> {
    Some(KeyBindingCheck {
        audience: VERIFIER,
        nonce: NONCE,
    })
}

fn verify(w: &World, presentation: &str) -> Result<VerifiedSdJwtVc, SdJwtError> {
    verifier(&w.ring).verify(presentation, expect_kb(), T0 + Duration::minutes(1))
}

fn present_now(w: &World, sd_jwt: &str, reveal: &[&str]) -> String {
    present(
        sd_jwt,
        reveal,
        &w.holder,
        VERIFIER,
        NONCE,
        T0 + Duration::minutes(1),
    )
    .unwrap()
}

fn payload(jwt: &str) -> Map<String, Value> {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
}

/// An issuer-signed JWT with `claims`, followed by `disclosures`, signed by `key`.
fn craft(key: &SigningKey, typ: &str, claims: &Value, disclosures: &[&Disclosure]) -> String {
    let mut sd_jwt = key.sign(typ, claims).unwrap();
    sd_jwt.push('~');
    for d in disclosures {
        sd_jwt.push_str(d.encoded());
        sd_jwt.push('~');
    }
    sd_jwt
}

fn base_claims(w: &World, digests: &[String]) -> Value {
    json!({
        "iss": ISSUER,
        "vct": DEFAULT_VCT,
        "iat": T0.unix_timestamp(),
        "exp": (T0 + Duration::days(1)).unix_timestamp(),
        "cnf": { "jwk": w.holder.jwk() },
        "_sd_alg": "sha-256",
        "_sd": digests,
    })
}

#[test]
fn issued_credential_has_the_sd_jwt_vc_shape() {
    let w = world_with(PidIssuer::new(ISSUER).with_decoys(5));
    let jwt = w.credential.split('~').next().unwrap();
    let header: Value = serde_json::from_slice(
        &Base64UrlUnpadded::decode_vec(jwt.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], SD_JWT_VC_TYP);
    assert_eq!(header["alg"], "ES256");
    let claims = payload(jwt);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["vct"], DEFAULT_VCT);
    assert_eq!(claims["_sd_alg"], "sha-256");
    assert_eq!(claims["nbf"], T0.unix_timestamp());
    assert_eq!(claims["cnf"]["jwk"]["x"], json!(w.holder.jwk())["x"]);
    assert_eq!(
        claims["status"],
        json!({ "status_list": { "idx": 5, "uri": STATUS_URI } })
    );
    // Seven attributes plus five decoys; no attribute in the clear.
    assert_eq!(claims["_sd"].as_array().unwrap().len(), 12);
    for name in PID_CLAIMS {
        assert!(!claims.contains_key(name), "{name} in the clear");
    }
    // One disclosure per attribute, each with its own 128-bit salt.
    let disclosures: Vec<Value> = w
        .credential
        .split('~')
        .skip(1)
        .filter(|d| !d.is_empty())
        .map(|d| serde_json::from_slice(&Base64UrlUnpadded::decode_vec(d).unwrap()).unwrap())
        .collect();
    assert_eq!(disclosures.len(), 7);
    for d in &disclosures {
        let salt = Base64UrlUnpadded::decode_vec(d[0].as_str().unwrap()).unwrap();
        assert_eq!(salt.len(), 16);
    }
}

#[test]
fn presents_a_subset_and_verifies_only_those_claims() {
    let w = world();
    let presentation = present_now(&w, &w.credential, &["given_name", "birthdate"]);
    let got = verify(&w, &presentation).unwrap();
    assert_eq!(got.vct, DEFAULT_VCT);
    assert_eq!(got.issuer, ISSUER);
    assert_eq!(got.disclosed.len(), 2);
    assert_eq!(got.claims["given_name"], "Thị Thu Hương");
    assert_eq!(got.claims["birthdate"], "1990-03-15");
    for hidden in [
        "family_name",
        "sex",
        "place_of_birth",
        "nationalities",
        "personal_administrative_number",
    ] {
        assert!(!got.claims.contains_key(hidden), "{hidden} leaked");
    }
    assert!(!got.claims.contains_key("_sd"));
    assert!(!got.claims.contains_key("_sd_alg"));
    assert_eq!(got.status, Some(status_ref()));
    assert_eq!(
        got.holder_key.unwrap().common.key_id,
        w.holder.jwk().common.key_id
    );
}

#[test]
fn presents_every_attribute() {
    let w = world_with(
        PidIssuer::new(ISSUER)
            .with_decoys(3)
            .with_vct("urn:eudi:pid:1"),
    );
    let presentation = present_now(&w, &w.credential, &PID_CLAIMS);
    let got = verify(&w, &presentation).unwrap();
    assert_eq!(got.vct, "urn:eudi:pid:1");
    assert_eq!(got.claims["family_name"], "Nguyễn");
    assert_eq!(got.claims["sex"], 2);
    assert_eq!(
        got.claims["place_of_birth"],
        json!({ "locality": "Hà Nội" })
    );
    assert_eq!(got.claims["nationalities"], json!(["VN"]));
    assert_eq!(got.claims["personal_administrative_number"], "001190123489");
}

#[test]
fn holder_cannot_present_a_claim_it_lacks() {
    let w = world();
    assert_eq!(
        present(&w.credential, &["email"], &w.holder, VERIFIER, NONCE, T0),
        Err(SdJwtError::UnknownClaim("email".into()))
    );
}

#[test]
fn tampered_disclosure_is_refused() {
    let w = world();
    let mut parts: Vec<String> = w.credential.split('~').map(str::to_owned).collect();
    let mut d: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(&parts[1]).unwrap()).unwrap();
    d[2] = json!("Trần");
    parts[1] = Base64UrlUnpadded::encode_string(&serde_json::to_vec(&d).unwrap());
    let tampered = parts.join("~");
    let name = d[1].as_str().unwrap().to_owned();
    let presentation = present_now(&w, &tampered, &[&name]);
    assert_eq!(
        verify(&w, &presentation),
        Err(SdJwtError::UnreferencedDisclosure)
    );
}

#[test]
fn disclosure_not_in_sd_is_refused() {
    let w = world();
    let forged = Disclosure::new("family_name", json!("Trần")).unwrap();
    // Instead of the genuine disclosure.
    let jwt = w.credential.split('~').next().unwrap();
    let sd_jwt = format!("{jwt}~{}~", forged.encoded());
    let presentation = present_now(&w, &sd_jwt, &["family_name"]);
    assert_eq!(
        verify(&w, &presentation),
        Err(SdJwtError::UnreferencedDisclosure)
    );
    // Alongside the genuine one.
    let genuine = present_now(&w, &w.credential, &["family_name"]);
    let (head, _) = genuine.rsplit_once('~').unwrap();
    let with_forged = format!("{head}~{}~", forged.encoded());
    let presentation = present_now(&w, &with_forged, &[]);
    let (_, kb) = presentation.rsplit_once('~').unwrap();
    assert_eq!(
        verify(&w, &format!("{with_forged}{kb}")),
        Err(SdJwtError::UnreferencedDisclosure)
    );
}

#[test]
fn duplicate_disclosure_is_refused() {
    let w = world();
    let presentation = present_now(&w, &w.credential, &["given_name", "given_name"]);
    assert_eq!(verify(&w, &presentation), Err(SdJwtError::Duplicate));
}

#[test]
fn reserved_names_are_refused() {
    assert_eq!(
        Disclosure::new("_sd", json!([])),
        Err(SdJwtError::ReservedName)
    );
    assert_eq!(
        Disclosure::new("...", json!("x")),
        Err(SdJwtError::ReservedName)
    );
    let w = world();
    let encoded = Base64UrlUnpadded::encode_string(br#"["c2FsdHNhbHRzYWx0c2FsdA","_sd",[]]"#);
    let d = Disclosure::parse(&encoded);
    assert_eq!(d, Err(SdJwtError::ReservedName));
    let jwt = w.credential.split('~').next().unwrap();
    let presentation = format!("{jwt}~{encoded}~");
    assert_eq!(
        verifier(&w.ring).verify(&presentation, None, T0),
        Err(SdJwtError::ReservedName)
    );
}

#[test]
fn never_disclosed_claims_are_refused_in_disclosures() {
    let w = world();
    // `iss` and `vct` are needed in the clear before disclosures are looked at (a
    // missing one fails as WrongIssuer / MissingVct); the others fail here.
    for name in ["exp", "nbf", "cnf", "status", "_sd_alg"] {
        let d = Disclosure::new(name, json!(1)).unwrap();
        let mut claims = base_claims(&w, &[d.digest()]);
        claims.as_object_mut().unwrap().remove(name);
        let sd_jwt = craft(w.ring.active(), SD_JWT_VC_TYP, &claims, &[&d]);
        let presentation = present_now(&w, &sd_jwt, &[name]);
        assert_eq!(
            verify(&w, &presentation),
            Err(SdJwtError::NotDisclosable),
            "{name}"
        );
    }
}

#[test]
fn digest_bookkeeping() {
    let w = world();
    let d = Disclosure::new("family_name", json!("Nguyễn")).unwrap();
    // The same digest twice in `_sd`.
    let twice = craft(
        w.ring.active(),
        SD_JWT_VC_TYP,
        &base_claims(&w, &[d.digest(), d.digest()]),
        &[&d],
    );
    assert_eq!(
        verify(&w, &present_now(&w, &twice, &["family_name"])),
        Err(SdJwtError::Duplicate)
    );
    // A disclosed name that is also a plain claim.
    let mut clash = base_claims(&w, &[d.digest()]);
    clash["family_name"] = json!("Lê");
    let clash = craft(w.ring.active(), SD_JWT_VC_TYP, &clash, &[&d]);
    assert_eq!(
        verify(&w, &present_now(&w, &clash, &["family_name"])),
        Err(SdJwtError::ClaimClash)
    );
    // Another digest algorithm.
    let mut md5 = base_claims(&w, &[d.digest()]);
    md5["_sd_alg"] = json!("md5");
    let md5 = craft(w.ring.active(), SD_JWT_VC_TYP, &md5, &[&d]);
    assert_eq!(
        verify(&w, &present_now(&w, &md5, &["family_name"])),
        Err(SdJwtError::UnsupportedDigest)
    );
    // No `vct`.
    let mut no_vct = base_claims(&w, &[d.digest()]);
    no_vct.as_object_mut().unwrap().remove("vct");
    let no_vct = craft(w.ring.active(), SD_JWT_VC_TYP, &no_vct, &[&d]);
    assert_eq!(
        verify(&w, &present_now(&w, &no_vct, &["family_name"])),
        Err(SdJwtError::MissingVct)
    );
}

#[test]
fn key_binding_checks() {
    let w = world();
    let at = T0 + Duration::minutes(1);
    let v = verifier(&w.ring);
    let wrong_aud = present(
        &w.credential,
        &["given_name"],
        &w.holder,
        "https://evil.example",
        NONCE,
        at,
    )
    .unwrap();
    assert_eq!(
        v.verify(&wrong_aud, expect_kb(), at),
        Err(SdJwtError::KeyBinding(VerifyError::WrongAudience))
    );
    let wrong_nonce = present(
        &w.credential,
        &["given_name"],
        &w.holder,
        VERIFIER,
        "other",
        at,
    )
    .unwrap();
    assert_eq!(
        v.verify(&wrong_nonce, expect_kb(), at),
        Err(SdJwtError::KeyBinding(VerifyError::WrongNonce))
    );
    let thief = SigningKey::generate().unwrap();
    let stolen = present(&w.credential, &["given_name"], &thief, VERIFIER, NONCE, at).unwrap();
    assert_eq!(
        v.verify(&stolen, expect_kb(), at),
        Err(SdJwtError::KeyBinding(VerifyError::BadSignature))
    );
    // Stale and future KB-JWTs.
    let stale = present(
        &w.credential,
        &["given_name"],
        &w.holder,
        VERIFIER,
        NONCE,
        T0,
    )
    .unwrap();
    assert_eq!(
        v.verify(&stale, expect_kb(), T0 + Duration::minutes(10)),
        Err(SdJwtError::KeyBinding(VerifyError::Expired))
    );
    let early = present(
        &w.credential,
        &["given_name"],
        &w.holder,
        VERIFIER,
        NONCE,
        at + Duration::minutes(10),
    )
    .unwrap();
    assert_eq!(
        v.verify(&early, expect_kb(), at),
        Err(SdJwtError::KeyBinding(VerifyError::IssuedInFuture))
    );
    // A KB-JWT with the right claims but `typ` JWT.
    let one = present_now(&w, &w.credential, &["given_name"]);
    let (sd_jwt, _) = one.rsplit_once('~').unwrap();
    let sd_jwt = format!("{sd_jwt}~");
    let sd_hash = Base64UrlUnpadded::encode_string(&Sha256::digest(sd_jwt.as_bytes()));
    let claims =
        json!({ "iat": at.unix_timestamp(), "aud": VERIFIER, "nonce": NONCE, "sd_hash": sd_hash });
    let plain_kb = w.holder.sign("JWT", &claims).unwrap();
    assert_eq!(
        v.verify(&format!("{sd_jwt}{plain_kb}"), expect_kb(), at),
        Err(SdJwtError::KeyBinding(VerifyError::WrongType))
    );
    // The same claims as `kb+jwt` verify, so only the type was wrong.
    let kb = w.holder.sign("kb+jwt", &claims).unwrap();
    assert!(v.verify(&format!("{sd_jwt}{kb}"), expect_kb(), at).is_ok());
    // The KB-JWT of one presentation moved onto another subset: `sd_hash` differs.
    let one = present_now(&w, &w.credential, &["given_name"]);
    let other = present_now(&w, &w.credential, &["birthdate"]);
    let (_, kb_one) = one.rsplit_once('~').unwrap();
    let (other_sd, _) = other.rsplit_once('~').unwrap();
    assert_eq!(
        verify(&w, &format!("{other_sd}~{kb_one}")),
        Err(SdJwtError::SdHashMismatch)
    );
}

#[test]
fn missing_or_unexpected_key_binding() {
    let w = world();
    let presentation = present_now(&w, &w.credential, &["given_name"]);
    let (without_kb, _) = presentation.rsplit_once('~').unwrap();
    let without_kb = format!("{without_kb}~");
    assert_eq!(verify(&w, &without_kb), Err(SdJwtError::KeyBindingMismatch));
    // Without key binding asked for, the plain SD-JWT verifies; one with a KB-JWT that
    // nobody checks does not.
    let v = verifier(&w.ring);
    assert!(v.verify(&without_kb, None, T0).is_ok());
    assert_eq!(
        v.verify(&presentation, None, T0),
        Err(SdJwtError::KeyBindingMismatch)
    );
}

#[test]
fn issuer_jwt_checks() {
    let w = world();
    let presentation = present_now(&w, &w.credential, &["given_name"]);
    // Verified with another issuer's keys.
    let stranger = KeyRing::generate().unwrap();
    assert_eq!(
        verifier(&stranger).verify(&presentation, expect_kb(), T0),
        Err(SdJwtError::Issuer(VerifyError::UnknownKey))
    );
    // Expected from another issuer.
    let keys = VerificationKeys::from_jwk_set(&w.ring.jwks()).unwrap();
    let elsewhere = SdJwtVcVerifier::new(keys, "https://other.example.vn", LEEWAY).unwrap();
    assert_eq!(
        elsewhere.verify(&presentation, expect_kb(), T0),
        Err(SdJwtError::Issuer(VerifyError::WrongIssuer))
    );
    // Expired credential (a fresh KB-JWT does not help).
    let late = T0 + Duration::days(366);
    let late_presentation = present(
        &w.credential,
        &["given_name"],
        &w.holder,
        VERIFIER,
        NONCE,
        late,
    )
    .unwrap();
    assert_eq!(
        verifier(&w.ring).verify(&late_presentation, expect_kb(), late),
        Err(SdJwtError::Issuer(VerifyError::Expired))
    );
    // A plain JWT type.
    let d = Disclosure::new("given_name", json!("An")).unwrap();
    let plain = craft(
        w.ring.active(),
        "JWT",
        &base_claims(&w, &[d.digest()]),
        &[&d],
    );
    assert_eq!(
        verify(&w, &present_now(&w, &plain, &["given_name"])),
        Err(SdJwtError::Issuer(VerifyError::WrongType))
    );
    // A tampered payload breaks the signature.
    let (jwt, rest) = presentation.split_once('~').unwrap();
    let mut parts: Vec<&str> = jwt.split('.').collect();
    let mut claims = payload(jwt);
    claims.insert("vct".into(), json!("urn:other"));
    let forged = Base64UrlUnpadded::encode_string(&serde_json::to_vec(&claims).unwrap());
    parts[1] = &forged;
    assert_eq!(
        verify(&w, &format!("{}~{rest}", parts.join("."))),
        Err(SdJwtError::Issuer(VerifyError::BadSignature))
    );
}

#[test]
fn alg_none_is_refused() {
    let w = world();
    let jwt = w.credential.split('~').next().unwrap();
    let header = Base64UrlUnpadded::encode_string(br#"{"alg":"none","typ":"dc+sd-jwt"}"#);
    let body = jwt.split('.').nth(1).unwrap();
    let unsigned = format!("{header}.{body}.~");
    assert_eq!(
        verifier(&w.ring).verify(&unsigned, None, T0),
        Err(SdJwtError::Issuer(VerifyError::UnsupportedAlgorithm))
    );
}

#[test]
fn malformed_presentations() {
    let w = world();
    let v = verifier(&w.ring);
    for bad in ["", "no-tilde", "a.b.c~~", "~~"] {
        assert!(v.verify(bad, None, T0).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn status_follows_the_list() {
    let w = world();
    let presentation = present_now(&w, &w.credential, &["given_name"]);
    let v = verifier(&w.ring);
    let got = v.verify(&presentation, expect_kb(), T0).unwrap();
    let mut list = StatusList::new(2, 128).unwrap();
    let sign = |list: &StatusList| {
        sign_status_list_token(
            w.ring.active(),
            list,
            STATUS_URI,
            T0,
            Duration::hours(1),
            None,
        )
        .unwrap()
    };
    assert_eq!(
        v.check_status(&got, &sign(&list), T0),
        Ok(TokenStatus::Valid)
    );
    list.set(5, TokenStatus::Suspended).unwrap();
    assert_eq!(
        v.check_status(&got, &sign(&list), T0),
        Ok(TokenStatus::Suspended)
    );
    list.set(5, TokenStatus::Invalid).unwrap();
    assert_eq!(
        v.check_status(&got, &sign(&list), T0),
        Ok(TokenStatus::Invalid)
    );

    // A list for another URI, or signed by someone else, is not evidence.
    let other_uri = sign_status_list_token(
        w.ring.active(),
        &list,
        "https://eid.example.vn/statuslists/2",
        T0,
        Duration::hours(1),
        None,
    )
    .unwrap();
    assert_eq!(
        v.check_status(&got, &other_uri, T0),
        Err(SdJwtError::StatusList(StatusListError::WrongUri))
    );
    let stranger = KeyRing::generate().unwrap();
    let forged = sign_status_list_token(
        stranger.active(),
        &list,
        STATUS_URI,
        T0,
        Duration::hours(1),
        None,
    )
    .unwrap();
    assert_eq!(
        v.check_status(&got, &forged, T0),
        Err(SdJwtError::StatusList(StatusListError::Token(
            VerifyError::UnknownKey
        )))
    );
    // A list too short for the index.
    let short = StatusList::new(2, 4).unwrap();
    assert_eq!(
        v.check_status(&got, &sign(&short), T0),
        Err(SdJwtError::StatusList(StatusListError::IndexOutOfRange))
    );
}
