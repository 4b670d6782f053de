//! eKYC credentials end to end, against a real `eid-server serve` on PostgreSQL and Redis:
//! a wallet (a client allowed the `pid` scope) runs the code flow, fetches a `c_nonce` and,
//! refused after a password sign-in (low), receives the citizen's SD-JWT VC for its key
//! proof (OpenID4VCI) once the citizen steps up with a passkey (substantial); a relying party
//! verifies a presentation of some attributes with key binding, using only what the
//! daemon publishes over HTTP (`/.well-known/jwt-vc-issuer`, the status list); then the
//! operator's `eid-server credentials suspend|resume|revoke` changes what the relying
//! party sees.
//!
//! Needs PostgreSQL and Redis: when one is missing the test fails if `CI=true` and
//! otherwise prints `skipping: …` and passes.

use std::path::Path;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use eid_core::credential::key_proof::sign_key_proof;
use eid_core::credential::sdjwt::{KeyBindingCheck, SdJwtVcVerifier, VerifiedSdJwtVc, present};
use eid_core::credential::status_list::TokenStatus;
use eid_core::token::{SigningKey, VerificationKeys};
use eid_e2e::browser::{Browser, redirect};
use eid_e2e::citizen::citizen;
use eid_e2e::clients::{Auth, Rp};
use eid_e2e::daemon::free_port;
use eid_e2e::deployment::Deployment;
use eid_e2e::passkey::SoftKey;
use eid_e2e::random::{random_bytes, random_text};
use eid_e2e::stores::{StoreUrls, Stores};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use url::Url;

const RP_ID: &str = "https://bank.example";
const SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
const HIGH: &str = "http://eidas.europa.eu/LoA/high";

/// What the test drives: the instance's base URL and the issuer it names.
struct Service {
    base: String,
    issuer: String,
    http: reqwest::Client,
}

impl Service {
    /// A browser signed in to the account page with the citizen's password (level low).
    async fn signed_in(&self, personal_id: &str, password: &str) -> Browser {
        let mut browser = Browser::new(&self.http);
        let login = redirect(browser.get(&format!("{}/account", self.base)).await).await;
        let form = browser.form(&format!("{}{login}", self.base)).await;
        let account = browser
            .submit(
                &format!("{}/login", self.base),
                &form,
                &[("personal_id", personal_id), ("password", password)],
            )
            .await;
        assert_eq!(account, "/account");
        browser
    }

    /// Starts the wallet's authorization request for `openid pid` (asking for
    /// `acr_values` if given) in `browser`; returns where the daemon sends it and the
    /// PKCE verifier.
    async fn authorize(
        &self,
        browser: &mut Browser,
        wallet: &Rp,
        acr_values: Option<&str>,
    ) -> (String, String) {
        let verifier = Base64UrlUnpadded::encode_string(&random_bytes::<32>());
        let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
        let mut url = Url::parse(&format!("{}/authorize", self.base)).expect("a URL");
        url.query_pairs_mut()
            .append_pair("client_id", wallet.client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid pid")
            .append_pair("redirect_uri", &wallet.redirect_uri())
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", "w1");
        if let Some(acr_values) = acr_values {
            url.query_pairs_mut().append_pair("acr_values", acr_values);
        }
        (redirect(browser.get(url.as_str()).await).await, verifier)
    }

    /// Follows the flow at `next` to the wallet (consenting when asked) and redeems the
    /// code with `verifier`; returns the access token.
    async fn redeem(
        &self,
        browser: &mut Browser,
        wallet: &Rp,
        secret: &str,
        mut next: String,
        verifier: &str,
    ) -> String {
        if next.starts_with("/consent") {
            let form = browser.form(&format!("{}{next}", self.base)).await;
            next = browser
                .submit(
                    &format!("{}/consent", self.base),
                    &form,
                    &[("decision", "allow")],
                )
                .await;
        }
        let callback = Url::parse(&next).expect("the redirect to the wallet");
        let code = callback
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code");
        let redirect_uri = wallet.redirect_uri();
        let response = self
            .http
            .post(format!("{}/token", self.base))
            .basic_auth(wallet.client_id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect_uri),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .expect("POST /token");
        assert_eq!(response.status(), StatusCode::OK);
        let tokens: Value = response.json().await.expect("token JSON");
        assert_eq!(tokens["scope"], "openid pid");
        tokens["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// `POST /nonce`, then `POST /credential` with a key proof of `holder`.
    async fn credential(&self, access_token: &str, holder: &SigningKey) -> reqwest::Response {
        let response = self
            .http
            .post(format!("{}/nonce", self.base))
            .send()
            .await
            .expect("POST /nonce");
        assert_eq!(response.status(), StatusCode::OK);
        let nonce: Value = response.json().await.expect("nonce JSON");
        let proof = sign_key_proof(
            holder,
            &self.issuer,
            None,
            nonce["c_nonce"].as_str().expect("a c_nonce"),
            OffsetDateTime::now_utc(),
        )
        .expect("a key proof");
        self.http
            .post(format!("{}/credential", self.base))
            .bearer_auth(access_token)
            .json(&json!({
                "credential_configuration_id": "pid_sd_jwt",
                "proofs": { "jwt": [proof] },
            }))
            .send()
            .await
            .expect("POST /credential")
    }

    /// `GET` a URL the daemon published under its issuer, at the instance.
    async fn get_published(&self, url: &str) -> reqwest::Response {
        let path = url.strip_prefix(&self.issuer).expect("a URL of the issuer");
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
    }
}

/// The relying party's side: keys and statuses fetched over HTTP.
async fn relying_party(service: &Service) -> SdJwtVcVerifier {
    let response = service
        .get_published(&format!("{}/.well-known/jwt-vc-issuer", service.issuer))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let meta: Value = response.json().await.expect("issuer metadata");
    assert_eq!(meta["issuer"], service.issuer.as_str());
    let keys = VerificationKeys::from_json(&meta["jwks"].to_string()).expect("a JWKS");
    SdJwtVcVerifier::new(keys, &service.issuer, time::Duration::ZERO).expect("a verifier")
}

async fn status(
    service: &Service,
    rp: &SdJwtVcVerifier,
    credential: &VerifiedSdJwtVc,
) -> TokenStatus {
    let uri = &credential.status.as_ref().expect("a status reference").uri;
    let response = service.get_published(uri).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/statuslist+jwt"
    );
    let token = response.text().await.expect("a status list token");
    rp.check_status(credential, &token, OffsetDateTime::now_utc())
        .expect("a verified status list")
}

async fn scenario(
    service: &Service,
    deployment: &Deployment,
    config: &Path,
    wallet: &Rp,
    secret: &str,
    password: &str,
) {
    let record = citizen();
    let personal_id = record.personal_id.expose();
    let holder = SigningKey::generate().expect("a holder key");
    let mut browser = service.signed_in(&personal_id, password).await;

    // A password sign-in (low) gets a token, but no credential: RFC 9470's challenge.
    let (next, verifier) = service.authorize(&mut browser, wallet, None).await;
    let low = service
        .redeem(&mut browser, wallet, secret, next, &verifier)
        .await;
    let response = service.credential(&low, &holder).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("an ASCII challenge")
        .to_owned();
    assert!(
        challenge.contains(&format!("acr_values=\"{SUBSTANTIAL} {HIGH}\"")),
        "{challenge}"
    );
    let error: Value = response.json().await.expect("error JSON");
    assert_eq!(error["error"], "insufficient_user_authentication");

    // The citizen enrols a passkey and the wallet asks for substantial: the passkey
    // steps the session up.
    let mut key = SoftKey::new(&service.base, &service.issuer);
    key.enrol(&mut browser, "Wallet phone").await;
    let (step_up, verifier) = service
        .authorize(&mut browser, wallet, Some(SUBSTANTIAL))
        .await;
    assert!(step_up.starts_with("/login?"), "{step_up}");
    let next = key.confirm(&mut browser, &step_up).await;
    let token = service
        .redeem(&mut browser, wallet, secret, next, &verifier)
        .await;
    let response = service.credential(&token, &holder).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("credential JSON");
    let sd_jwt = body["credentials"][0]["credential"]
        .as_str()
        .expect("a credential");

    // The holder discloses two attributes to the relying party, bound to its nonce.
    let rp = relying_party(service).await;
    let now = OffsetDateTime::now_utc();
    let presentation = present(
        sd_jwt,
        &["family_name", "birthdate"],
        &holder,
        RP_ID,
        "rp-n1",
        now,
    )
    .expect("a presentation");
    let binding = KeyBindingCheck {
        audience: RP_ID,
        nonce: "rp-n1",
    };
    let verified = rp
        .verify(&presentation, Some(binding), now)
        .expect("a valid presentation");
    assert_eq!(
        verified.claims["family_name"],
        record.identity.family_name.as_str()
    );
    assert!(
        !verified
            .claims
            .contains_key("personal_administrative_number")
    );
    // Another audience or nonce is refused.
    let other = KeyBindingCheck {
        audience: "https://other.example",
        nonce: "rp-n1",
    };
    assert!(rp.verify(&presentation, Some(other), now).is_err());
    assert_eq!(status(service, &rp, &verified).await, TokenStatus::Valid);

    let by_number = ["--personal-id", personal_id.as_str()];
    let listed = deployment.admin(config, &[&["credentials", "list"][..], &by_number].concat());
    assert!(listed.contains("status Valid"), "{listed}");

    deployment.admin(
        config,
        &[&["credentials", "suspend"][..], &by_number].concat(),
    );
    assert_eq!(
        status(service, &rp, &verified).await,
        TokenStatus::Suspended
    );
    deployment.admin(
        config,
        &[&["credentials", "resume"][..], &by_number].concat(),
    );
    assert_eq!(status(service, &rp, &verified).await, TokenStatus::Valid);
    deployment.admin(
        config,
        &[&["credentials", "revoke"][..], &by_number].concat(),
    );
    assert_eq!(status(service, &rp, &verified).await, TokenStatus::Invalid);

    // No new credential from a revoked record.
    let response = service.credential(&token, &holder).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = response.json().await.expect("error JSON");
    assert_eq!(error["error"], "credential_request_denied");
}

fn deploy(dir: &Path, stores: &StoreUrls) {
    let port = free_port();
    let deployment = Deployment::new(dir, stores, format!("http://localhost:{port}"));
    let secret = random_text();
    let wallet = Rp {
        client_id: "wallet",
        auth: Auth::Secret {
            method: "client_secret_basic",
            secret: secret.clone(),
        },
        scopes: &["openid", "pid"],
        require_par: false,
    };
    let config = deployment.write_config(port, std::slice::from_ref(&wallet));
    let password = random_text();
    deployment.enrol(&config, &citizen(), &password);
    let instance = deployment.start(&config);
    let service = Service {
        base: format!("http://127.0.0.1:{port}"),
        issuer: deployment.issuer().to_owned(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client"),
    };
    tokio::runtime::Handle::current().block_on(scenario(
        &service,
        &deployment,
        &config,
        &wallet,
        &secret,
        &password,
    ));
    instance.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn relying_party_verifies_a_wallet_credential_and_sees_it_revoked() {
    if let Some(stores) = Stores::prepare("ekyc_vc").await {
        stores.run(deploy).await;
    }
}
