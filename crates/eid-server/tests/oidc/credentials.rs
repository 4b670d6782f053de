//! Issuance of the citizen's identity to a wallet (OpenID4VCI: nonce and credential
//! endpoints), its verification by a relying party with the published issuer keys and
//! status list, the lifecycle seen through the status list, and every refusal.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use eid_core::assurance::{Loa, ProofingEvidence};
use eid_core::credential::ekyc::{EkycRecord, EkycStatus};
use eid_core::credential::key_proof::{KEY_PROOF_TYP, sign_key_proof};
use eid_core::credential::sdjwt::{KeyBindingCheck, SdJwtVcVerifier, present};
use eid_core::credential::status_list::TokenStatus;
use eid_core::store::AccountStatus;
use eid_core::token::{SigningKey, VerificationKeys};
use eid_proto::v1 as pb;
use eid_server::credentials_cmd::{Target, set_status};
use eid_server::oidc::Limits;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tonic::Code;
use url::Url;

use crate::identity_api::credential_status;
use crate::passkeys::{AT_SUBSTANTIAL, Key, LoginPage, enrol, signed_in};
use crate::redeem;
use crate::support::{Options, Provider, authorize_query, json, param, pkce};

const EIDAS_SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
const EIDAS_HIGH: &str = "http://eidas.europa.eu/LoA/high";

/// An authorization request of the `basic` client for `scope` (space-separated), with
/// `extra` parameters.
fn scoped_query(challenge: &str, scope: &str, extra: &str) -> String {
    authorize_query("basic", challenge, extra).replace(
        "scope=openid%20profile%20birthdate",
        &format!("scope={}", scope.replace(' ', "%20")),
    )
}

/// Redeems the code `url` carries; returns the access token, checking its scope.
async fn redeem_access_token(p: &Provider, url: &Url, verifier: &str, scope: &str) -> String {
    let code = param(url, "code").expect("a code");
    let tokens = json(redeem(p, "basic", &code, verifier).await).await;
    assert_eq!(tokens["scope"], scope);
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// An access token of the `basic` client for `scope` at substantial: the citizen signs in
/// with the password, enrols a passkey and steps up with it (the level of the harness
/// citizen's proofing).
async fn access_token(p: &Provider, scope: &str) -> String {
    let mut browser = signed_in(p).await;
    let mut key = Key::new(p);
    assert_eq!(enrol(&mut browser, &mut key, "Wallet phone").await, "added");
    let (verifier, challenge) = pkce();
    let query = scoped_query(&challenge, scope, AT_SUBSTANTIAL);
    let response = browser.authorize(&query).await;
    let step_up = LoginPage::of(&mut browser, &response).await;
    let confirmed = step_up.sign_in(&mut browser, &mut key).await;
    let url = Url::parse(&p.follow(&mut browser, confirmed).await).unwrap();
    redeem_access_token(p, &url, &verifier, scope).await
}

/// An access token of the `basic` client for `scope` after a password sign-in (low).
async fn password_access_token(p: &Provider, scope: &str) -> String {
    let mut browser = p.browser();
    let (verifier, challenge) = pkce();
    let url = p
        .login(&mut browser, &scoped_query(&challenge, scope, ""))
        .await;
    redeem_access_token(p, &url, &verifier, scope).await
}

async fn nonce(p: &Provider) -> String {
    let response = p
        .http
        .post(format!("{}/nonce", p.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    json(response).await["c_nonce"].as_str().unwrap().to_owned()
}

/// Posts a credential request with `body` (JSON) and `token`.
async fn request(p: &Provider, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = p.http.post(format!("{}/credential", p.base)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn pid_request(proof: &str) -> Value {
    json!({ "credential_configuration_id": "pid_sd_jwt", "proofs": { "jwt": [proof] } })
}

/// The `error` of a refused request, checking its HTTP status.
async fn refused(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    body["error"].as_str().unwrap().to_owned()
}

/// A PID request with a good key proof of a fresh holder key, around a fresh nonce.
async fn good_request(p: &Provider) -> Value {
    let holder = SigningKey::generate().unwrap();
    let now = OffsetDateTime::now_utc();
    let proof = sign_key_proof(&holder, &p.issuer, Some("basic"), &nonce(p).await, now);
    pid_request(&proof.unwrap())
}

/// Asserts `response` is RFC 9470's step-up challenge asking for `acr_values`.
async fn stronger_sign_in_needed(response: reqwest::Response, acr_values: &str) {
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_user_authentication\""),
        "{challenge}"
    );
    assert!(
        challenge.ends_with(&format!(", acr_values=\"{acr_values}\"")),
        "{challenge}"
    );
    assert_eq!(
        refused(response, 401).await,
        "insufficient_user_authentication"
    );
}

/// Builds a key proof around a fresh nonce.
type MakeProof<'a> = Box<dyn Fn(&str) -> String + 'a>;

/// A key proof with `header` members and `claims` as given, signed by `key`.
fn proof_with(key: &SigningKey, header: Value, claims: Value) -> String {
    key.sign_with_header(&header, &claims).unwrap()
}

fn public_jwk(key: &SigningKey) -> Value {
    let mut jwk = serde_json::to_value(key.jwk()).unwrap();
    jwk.as_object_mut().unwrap().remove("kid");
    jwk
}

/// The Done-when flow in process: issue, present a subset with key binding, verify with
/// the published keys and status list; then suspend, resume and revoke.
#[tokio::test]
async fn wallet_gets_a_credential_a_relying_party_verifies_and_sees_revoked() {
    let p = Provider::start().await;
    let token = access_token(&p, "openid pid").await;
    let holder = SigningKey::generate().unwrap();
    let proof = sign_key_proof(
        &holder,
        &p.issuer,
        Some("basic"),
        &nonce(&p).await,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let response = request(&p, Some(&token), &pid_request(&proof)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json(response).await;
    let credential = body["credentials"][0]["credential"].as_str().unwrap();

    // The relying party: keys from the issuer's JWT VC metadata.
    let meta = json(
        p.http
            .get(format!("{}/.well-known/jwt-vc-issuer", p.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(meta["issuer"], p.issuer);
    let keys = VerificationKeys::from_json(&meta["jwks"].to_string()).unwrap();
    let verifier = SdJwtVcVerifier::new(keys, &p.issuer, time::Duration::ZERO).unwrap();
    let now = OffsetDateTime::now_utc();
    let presented = present(
        credential,
        &["given_name", "birthdate"],
        &holder,
        "https://rp.example",
        "rp-nonce-1",
        now,
    )
    .unwrap();
    let binding = KeyBindingCheck {
        audience: "https://rp.example",
        nonce: "rp-nonce-1",
    };
    let verified = verifier.verify(&presented, Some(binding), now).unwrap();
    assert_eq!(verified.disclosed.len(), 2);
    assert!(verified.claims.contains_key("given_name"));
    assert!(
        !verified
            .claims
            .contains_key("personal_administrative_number")
    );
    assert_eq!(
        serde_json::to_value(verified.holder_key.as_ref().unwrap()).unwrap()["x"],
        serde_json::to_value(holder.jwk()).unwrap()["x"]
    );
    let reference = verified.status.clone().unwrap();
    assert!(
        reference
            .uri
            .starts_with(&format!("{}/status-lists/", p.issuer))
    );

    let status = async || {
        let path = reference.uri.strip_prefix(&p.issuer).unwrap();
        let response = p
            .http
            .get(format!("{}{path}", p.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/statuslist+jwt"
        );
        assert_eq!(response.headers()["cache-control"], "public, max-age=60");
        let list = response.text().await.unwrap();
        let status = verifier
            .check_status(&verified, &list, OffsetDateTime::now_utc())
            .unwrap();
        // The back-end gRPC API answers the same by reference.
        let by_reference = credential_status(&p, &reference.uri, reference.idx as u64).await;
        let expected = match status {
            TokenStatus::Valid => pb::CredentialStatus::Valid,
            TokenStatus::Suspended => pb::CredentialStatus::Suspended,
            _ => pb::CredentialStatus::Invalid,
        };
        assert_eq!(by_reference.unwrap(), expected);
        status
    };
    // References this issuer never gave out, and a malformed one.
    for (uri, index, code) in [
        (reference.uri.as_str(), (1 << 17) + 1, Code::NotFound),
        (
            "https://other.example/status-lists/1",
            reference.idx as u64,
            Code::NotFound,
        ),
        (&format!("{}/status-lists/99", p.issuer), 0, Code::NotFound),
        ("", 0, Code::InvalidArgument),
    ] {
        let err = credential_status(&p, uri, index).await.unwrap_err();
        assert_eq!(err.code(), code, "{uri} {index}");
    }
    assert_eq!(status().await, TokenStatus::Valid);

    // The operator's lifecycle, as `eid-server credentials …` runs it.
    let number = Target::Account(p.citizen.0.parse().unwrap());
    let at = OffsetDateTime::now_utc();
    set_status(p.durable.as_ref(), &number, EkycStatus::Suspended, at)
        .await
        .unwrap();
    assert_eq!(status().await, TokenStatus::Suspended);
    set_status(p.durable.as_ref(), &number, EkycStatus::Active, at)
        .await
        .unwrap();
    assert_eq!(status().await, TokenStatus::Valid);
    set_status(p.durable.as_ref(), &number, EkycStatus::Revoked, at)
        .await
        .unwrap();
    assert_eq!(status().await, TokenStatus::Invalid);

    // The record is revoked: no further credential.
    let proof = sign_key_proof(&holder, &p.issuer, None, &nonce(&p).await, at).unwrap();
    let response = request(&p, Some(&token), &pid_request(&proof)).await;
    assert_eq!(refused(response, 400).await, "credential_request_denied");
    let issued = p
        .audit()
        .await
        .iter()
        .filter(|r| r.event == eid_core::audit::AuditEvent::VerifiableCredentialIssued)
        .count();
    assert_eq!(issued, 1);
}

#[tokio::test]
async fn metadata_describes_the_pid_configuration() {
    let p = Provider::start().await;
    let meta = json(
        p.http
            .get(format!("{}/.well-known/openid-credential-issuer", p.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(meta["credential_issuer"], p.issuer);
    assert_eq!(
        meta["credential_endpoint"],
        format!("{}/credential", p.issuer)
    );
    assert_eq!(meta["nonce_endpoint"], format!("{}/nonce", p.issuer));
    let pid = &meta["credential_configurations_supported"]["pid_sd_jwt"];
    assert_eq!(pid["format"], "dc+sd-jwt");
    assert_eq!(pid["scope"], "pid");
    assert_eq!(
        pid["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let discovery = json(
        p.http
            .get(format!("{}/.well-known/openid-configuration", p.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        discovery["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("pid"))
    );
}

#[tokio::test]
async fn access_token_refusals() {
    let p = Provider::start().await;
    let body = pid_request("x.y.z");
    let response = request(&p, None, &body).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    assert_eq!(
        refused(request(&p, Some("not-a-token"), &body).await, 401).await,
        "invalid_token"
    );
    let without_pid = access_token(&p, "openid profile").await;
    assert_eq!(
        refused(request(&p, Some(&without_pid), &body).await, 403).await,
        "insufficient_scope"
    );

    // A suspended account's tokens stop working at once.
    let token = access_token(&p, "openid pid").await;
    let account = p.account().await;
    p.durable
        .set_account_status(account, AccountStatus::Suspended)
        .await
        .unwrap();
    assert_eq!(
        refused(request(&p, Some(&token), &body).await, 401).await,
        "invalid_token"
    );
}

#[tokio::test]
async fn malformed_requests_are_refused_with_openid4vci_errors() {
    let p = Provider::start().await;
    let token = access_token(&p, "openid pid").await;
    let not_json = p
        .http
        .post(format!("{}/credential", p.base))
        .bearer_auth(&token)
        .form(&[("credential_configuration_id", "pid_sd_jwt")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused(not_json, 400).await, "invalid_credential_request");
    let garbage = p
        .http
        .post(format!("{}/credential", p.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(refused(garbage, 400).await, "invalid_credential_request");

    let proof = "a.b.c";
    let cases = [
        (
            json!({ "proofs": { "jwt": [proof] } }),
            "invalid_credential_request",
        ),
        (
            json!({ "credential_configuration_id": "mdl", "proofs": { "jwt": [proof] } }),
            "unknown_credential_configuration",
        ),
        (
            json!({ "credential_identifier": "pid-1", "proofs": { "jwt": [proof] } }),
            "unknown_credential_identifier",
        ),
        (
            json!({ "credential_configuration_id": "pid_sd_jwt", "proofs": { "jwt": [proof] },
                    "credential_response_encryption": { "enc": "A256GCM" } }),
            "invalid_encryption_parameters",
        ),
        (
            json!({ "credential_configuration_id": "pid_sd_jwt" }),
            "invalid_proof",
        ),
        (
            json!({ "credential_configuration_id": "pid_sd_jwt", "proofs": { "jwt": [] } }),
            "invalid_proof",
        ),
        (
            json!({ "credential_configuration_id": "pid_sd_jwt",
                    "proofs": { "jwt": [proof, proof] } }),
            "invalid_proof",
        ),
        (
            json!({ "credential_configuration_id": "pid_sd_jwt",
                    "proofs": { "di_vp": [{}] } }),
            "invalid_proof",
        ),
        (
            json!({ "credential_configuration_id": "pid_sd_jwt", "proof": { "jwt": proof } }),
            "invalid_proof",
        ),
        (json!([1, 2]), "invalid_credential_request"),
    ];
    for (body, error) in cases {
        assert_eq!(
            refused(request(&p, Some(&token), &body).await, 400).await,
            error,
            "{body}"
        );
    }
}

#[tokio::test]
async fn bad_key_proofs_are_refused() {
    let p = Provider::start().await;
    let token = access_token(&p, "openid pid").await;
    let holder = SigningKey::generate().unwrap();
    let other = SigningKey::generate().unwrap();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let header = json!({ "typ": KEY_PROOF_TYP, "jwk": public_jwk(&holder) });
    let claims = |nonce: &str| json!({ "aud": p.issuer, "iat": now, "nonce": nonce });
    let with = |mut value: Value, member: &str, v: Value| {
        if v.is_null() {
            value.as_object_mut().unwrap().remove(member);
        } else {
            value[member] = v;
        }
        value
    };
    let b64 = |v: &Value| Base64UrlUnpadded::encode_string(v.to_string().as_bytes());

    // Each case gets a fresh nonce, so only the named defect can be the reason.
    let mut private = serde_json::to_value(holder.jwk()).unwrap();
    private["d"] = json!("AAAA");
    let cases: Vec<(&str, MakeProof<'_>)> = vec![
        (
            "wrong typ",
            Box::new(|n| {
                proof_with(
                    &holder,
                    with(header.clone(), "typ", json!("JWT")),
                    claims(n),
                )
            }),
        ),
        (
            "alg none",
            Box::new(|n| {
                let h = with(header.clone(), "alg", json!("none"));
                format!("{}.{}.", b64(&h), b64(&claims(n)))
            }),
        ),
        (
            "no jwk",
            Box::new(|n| proof_with(&holder, with(header.clone(), "jwk", Value::Null), claims(n))),
        ),
        (
            "kid beside jwk",
            Box::new(|n| proof_with(&holder, with(header.clone(), "kid", json!("k1")), claims(n))),
        ),
        (
            "private key in jwk",
            Box::new(|n| {
                proof_with(
                    &holder,
                    with(header.clone(), "jwk", private.clone()),
                    claims(n),
                )
            }),
        ),
        (
            "signed by another key",
            Box::new(|n| proof_with(&other, header.clone(), claims(n))),
        ),
        (
            "wrong aud",
            Box::new(|n| {
                proof_with(
                    &holder,
                    header.clone(),
                    with(claims(n), "aud", json!("https://evil.example")),
                )
            }),
        ),
        (
            "aud as array",
            Box::new(|n| {
                proof_with(
                    &holder,
                    header.clone(),
                    with(claims(n), "aud", json!([p.issuer])),
                )
            }),
        ),
        (
            "no iat",
            Box::new(|n| proof_with(&holder, header.clone(), with(claims(n), "iat", Value::Null))),
        ),
        (
            "stale iat",
            Box::new(|n| {
                proof_with(
                    &holder,
                    header.clone(),
                    with(claims(n), "iat", json!(now - 3600)),
                )
            }),
        ),
        (
            "future iat",
            Box::new(|n| {
                proof_with(
                    &holder,
                    header.clone(),
                    with(claims(n), "iat", json!(now + 3600)),
                )
            }),
        ),
        (
            "expired",
            Box::new(|n| {
                proof_with(
                    &holder,
                    header.clone(),
                    with(claims(n), "exp", json!(now - 3600)),
                )
            }),
        ),
        (
            "iss of another client",
            Box::new(|n| {
                proof_with(
                    &holder,
                    header.clone(),
                    with(claims(n), "iss", json!("post")),
                )
            }),
        ),
        (
            "no nonce",
            Box::new(|n| {
                proof_with(
                    &holder,
                    header.clone(),
                    with(claims(n), "nonce", Value::Null),
                )
            }),
        ),
        ("not a JWT", Box::new(|_| "not-a-jwt".to_owned())),
    ];
    for (name, make) in &cases {
        let proof = make(&nonce(&p).await);
        let response = request(&p, Some(&token), &pid_request(&proof)).await;
        assert_eq!(refused(response, 400).await, "invalid_proof", "{name}");
    }

    // Nonces: never issued, and single use (a replayed proof).
    let unknown = proof_with(&holder, header.clone(), claims("made-up-nonce"));
    let response = request(&p, Some(&token), &pid_request(&unknown)).await;
    assert_eq!(refused(response, 400).await, "invalid_nonce");
    let good = proof_with(&holder, header.clone(), claims(&nonce(&p).await));
    assert_eq!(
        request(&p, Some(&token), &pid_request(&good))
            .await
            .status(),
        200
    );
    let replay = request(&p, Some(&token), &pid_request(&good)).await;
    assert_eq!(refused(replay, 400).await, "invalid_nonce");
}

#[tokio::test]
async fn no_active_ekyc_record_no_credential() {
    let p = Provider::start().await;
    let token = access_token(&p, "openid pid").await;
    let holder = SigningKey::generate().unwrap();
    let number = Target::Account(p.citizen.0.parse().unwrap());
    set_status(
        p.durable.as_ref(),
        &number,
        EkycStatus::Suspended,
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    let proof = sign_key_proof(
        &holder,
        &p.issuer,
        None,
        &nonce(&p).await,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let response = request(&p, Some(&token), &pid_request(&proof)).await;
    assert_eq!(refused(response, 400).await, "credential_request_denied");
}

#[tokio::test]
async fn status_lists_that_do_not_exist_are_not_found() {
    let p = Provider::start().await;
    for path in ["0", "1", "01", "abc", "-1", "99999999999", "1%2F2"] {
        let response = p
            .http
            .get(format!("{}/status-lists/{path}", p.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn status_list_requests_are_limited_per_client_ip() {
    let mut limits = Limits::default();
    limits.status_lists_per_ip.max = 3;
    let p = Provider::start_with(Options {
        limits,
        ..Options::default()
    })
    .await;
    let get = async || {
        p.http
            .get(format!("{}/status-lists/1", p.base))
            .send()
            .await
            .unwrap()
    };
    for _ in 0..3 {
        assert_eq!(get().await.status(), 404);
    }
    let limited = get().await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "60");
}

/// A password alone is level low: its token gets no PID, with RFC 9470's challenge naming
/// the levels that would do; nothing is issued (the nonce stays usable).
#[tokio::test]
async fn a_password_sign_in_gets_no_credential() {
    let p = Provider::start().await;
    let token = password_access_token(&p, "openid pid").await;
    let body = good_request(&p).await;
    let response = request(&p, Some(&token), &body).await;
    stronger_sign_in_needed(response, &format!("{EIDAS_SUBSTANTIAL} {EIDAS_HIGH}")).await;
    let account = p.account().await;
    assert!(p.durable.credentials(account).await.unwrap().is_empty());

    // The same citizen at substantial gets one with the very same request.
    let token = access_token(&p, "openid pid").await;
    assert_eq!(request(&p, Some(&token), &body).await.status(), 200);
}

/// A proofing at high is only issued from after a sign-in at high.
#[tokio::test]
async fn a_record_at_high_needs_a_sign_in_at_high() {
    let p = Provider::start().await;
    let token = access_token(&p, "openid pid").await;
    let account = p.account().await;
    let now = OffsetDateTime::now_utc();
    let target = Target::Account(p.citizen.0.parse().unwrap());
    set_status(p.durable.as_ref(), &target, EkycStatus::Suspended, now)
        .await
        .unwrap();
    let high = EkycRecord::issue(
        account,
        ProofingEvidence::InPerson,
        Loa::High,
        json!({}),
        now,
        now + time::Duration::days(365),
    )
    .unwrap();
    p.durable.insert_ekyc(&high).await.unwrap();
    let response = request(&p, Some(&token), &good_request(&p).await).await;
    stronger_sign_in_needed(response, EIDAS_HIGH).await;
}

/// Each account gets so many credentials per window, then 429.
#[tokio::test]
async fn issuance_is_limited_per_account() {
    let mut limits = Limits::default();
    limits.credentials_per_account.max = 2;
    let p = Provider::start_with(Options {
        limits,
        ..Options::default()
    })
    .await;
    let token = access_token(&p, "openid pid").await;
    for _ in 0..2 {
        let response = request(&p, Some(&token), &good_request(&p).await).await;
        assert_eq!(response.status(), 200);
    }
    let response = request(&p, Some(&token), &good_request(&p).await).await;
    assert_eq!(refused(response, 429).await, "credential_request_denied");
    let account = p.account().await;
    assert_eq!(p.durable.credentials(account).await.unwrap().len(), 2);
}
