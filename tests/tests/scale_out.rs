//! Scale-out: two `eid-server serve` processes are one service behind a load balancer —
//! one issuer, one key ring and key-encryption key, one PostgreSQL schema and one Redis
//! prefix, different listening ports. All request state is in the shared stores, so a
//! citizen's browser and a relying party can switch instance at every step: the login page
//! from A is submitted to B, the code issued by A is redeemed at B, the refresh token from
//! B is used at A, revoked at B, and A then refuses it.
//!
//! Needs PostgreSQL and Redis: when one is missing the test fails if `CI=true` and
//! otherwise prints `skipping: …` and passes.

use std::path::Path;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use eid_core::registry::RegisterRecord;
use eid_core::token::{TokenVerifier, VerificationKeys};
use eid_e2e::browser::{Browser, redirect, text};
use eid_e2e::citizen::{citizen, register_claims};
use eid_e2e::clients::{Auth, Rp};
use eid_e2e::daemon::free_port;
use eid_e2e::deployment::Deployment;
use eid_e2e::random::{random_bytes, random_text};
use eid_e2e::stores::{StoreUrls, Stores};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use url::Url;

/// Everything the client may request, so UserInfo returns every register claim.
const SCOPE: &str = "openid profile birthdate gender personal_id";

/// The query parameter `name` of `url`.
fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The relying party, talking to whichever instance it is given.
struct Client<'a> {
    http: reqwest::Client,
    rp: &'a Rp,
    secret: &'a str,
}

impl Client<'_> {
    /// `POST {base}{path}` with client_secret_basic (RFC 6749 section 2.3.1).
    async fn post(&self, base: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{base}{path}"))
            .basic_auth(self.rp.client_id, Some(self.secret))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// Redeems `code` at `base`.
    async fn redeem(&self, base: &str, code: &str, verifier: &str) -> reqwest::Response {
        let redirect_uri = self.rp.redirect_uri();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", verifier),
        ];
        self.post(base, "/token", &form).await
    }

    /// Uses `refresh_token` at `base`.
    async fn refresh(&self, base: &str, refresh_token: &str) -> reqwest::Response {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        self.post(base, "/token", &form).await
    }

    /// Introspects `token` at `base` (RFC 7662).
    async fn introspect(&self, base: &str, token: &str) -> Value {
        let response = self.post(base, "/introspect", &[("token", token)]).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("introspection JSON")
    }

    /// `GET {base}/userinfo` with `access_token`.
    async fn userinfo(&self, base: &str, access_token: &str) -> reqwest::Response {
        self.http
            .get(format!("{base}/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("GET /userinfo")
    }
}

/// A 200 token response's JSON.
async fn tokens(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.expect("token JSON");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Asserts a token endpoint error `invalid_grant` (RFC 6749 section 5.2).
async fn assert_invalid_grant(response: reqwest::Response, what: &str) {
    let status = response.status();
    let body: Value = response.json().await.expect("error JSON");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
    assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
}

/// A string member of a JSON object.
fn member<'v>(value: &'v Value, name: &str) -> &'v str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {value}"))
}

/// A PKCE verifier (43 characters, the least RFC 7636 section 4.1 allows) and its S256
/// challenge (section 4.2).
fn pkce() -> (String, String) {
    let verifier = Base64UrlUnpadded::encode_string(&random_bytes::<32>());
    let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The two instances' base URLs, the issuer and the enrolled citizen.
struct Service<'a> {
    a: String,
    b: String,
    issuer: &'a str,
    record: &'a RegisterRecord,
    password: &'a str,
}

impl Service<'_> {
    /// Sends `browser` with an authorization request of `rp` to `base`; returns where it
    /// is redirected.
    async fn authorize(
        &self,
        browser: &mut Browser,
        base: &str,
        rp: &Rp,
        challenge: &str,
        state: &str,
    ) -> String {
        let mut url = Url::parse(&format!("{base}/authorize")).expect("a URL");
        url.query_pairs_mut()
            .append_pair("client_id", rp.client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", SCOPE)
            .append_pair("redirect_uri", &rp.redirect_uri())
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", state)
            .append_pair("nonce", "n0nce");
        redirect(browser.get(url.as_str()).await).await
    }

    /// The code in the redirect to `rp`, after checking `state` and `iss` (RFC 9207).
    fn code(&self, rp: &Rp, location: &str, state: &str) -> String {
        let url = Url::parse(location).unwrap_or_else(|_| panic!("not to the client: {location}"));
        assert!(url.as_str().starts_with(&rp.redirect_uri()), "{location}");
        assert_eq!(param(&url, "state").as_deref(), Some(state));
        assert_eq!(param(&url, "iss").as_deref(), Some(self.issuer));
        param(&url, "code").unwrap_or_else(|| panic!("no code in {location}"))
    }
}

/// The whole hop-between-instances scenario.
async fn hop(service: &Service<'_>, rp: &Rp, secret: &str) {
    let (a, b) = (service.a.as_str(), service.b.as_str());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let client = Client {
        http: http.clone(),
        rp,
        secret,
    };

    // Both instances publish the one key ring.
    let jwks_at = |base: &str| {
        let request = http.get(format!("{base}/jwks.json"));
        async move { text(request.send().await.expect("GET /jwks.json")).await }
    };
    let jwks = jwks_at(b).await;
    assert_eq!(
        jwks,
        jwks_at(a).await,
        "the instances publish different keys"
    );

    // The authorization request at A; its pending flow is found by B and back by A.
    let mut browser = Browser::new(&http);
    let (verifier, challenge) = pkce();
    let login = service
        .authorize(&mut browser, a, rp, &challenge, "one")
        .await;
    assert!(login.starts_with("/login"), "{login}");
    let form = browser.form(&format!("{a}{login}")).await;
    let personal_id = service.record.personal_id.expose();
    let consent = browser
        .submit(
            &format!("{b}/login"),
            &form,
            &[
                ("personal_id", &personal_id),
                ("password", service.password),
            ],
        )
        .await;
    assert!(consent.starts_with("/consent"), "{consent}");
    let form = browser.form(&format!("{b}{consent}")).await;
    let callback = browser
        .submit(&format!("{a}/consent"), &form, &[("decision", "allow")])
        .await;
    let code = service.code(rp, &callback, "one");

    // The code from A is redeemed at B; the ID token verifies with B's keys.
    let first = tokens(client.redeem(b, &code, &verifier).await).await;
    let verifier_for = |audience: &str| {
        TokenVerifier::new(
            VerificationKeys::from_json(&jwks).expect("a JWKS"),
            service.issuer,
            audience,
            time::Duration::ZERO,
        )
        .expect("a verifier")
    };
    let id = verifier_for(rp.client_id)
        .verify_id_token(member(&first, "id_token"), Some("n0nce"), None)
        .expect("a valid ID token");
    assert_eq!(member(&first, "scope"), SCOPE);

    // UserInfo at A knows the access token B issued.
    let response = client.userinfo(a, member(&first, "access_token")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut info: Value = response.json().await.expect("UserInfo JSON");
    let sub = info
        .as_object_mut()
        .and_then(|claims| claims.remove("sub"))
        .expect("a sub");
    assert_eq!(sub, id.sub.as_str());
    assert_eq!(info, register_claims(service.record));

    // A refresh at A rotates the refresh token B issued.
    let refreshed = tokens(client.refresh(a, member(&first, "refresh_token")).await).await;
    let (access, refresh) = (
        member(&refreshed, "access_token"),
        member(&refreshed, "refresh_token"),
    );
    assert_ne!(refresh, member(&first, "refresh_token"));
    verifier_for(service.issuer)
        .verify_access_token(access, None)
        .expect("a valid access token");

    // B knows both tokens A issued; B revokes the refresh token and its family, and A
    // then knows neither (RFC 7009 section 2.1).
    for token in [access, refresh] {
        let about = client.introspect(b, token).await;
        assert_eq!(about["active"], true, "{about}");
        assert_eq!(about["sub"], id.sub.as_str(), "{about}");
        assert_eq!(about["client_id"], rp.client_id, "{about}");
    }
    let response = client.post(b, "/revoke", &[("token", refresh)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    for token in [access, refresh] {
        let about = client.introspect(a, token).await;
        assert_eq!(about, serde_json::json!({ "active": false }));
    }
    let response = client.userinfo(a, access).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_invalid_grant(client.refresh(a, refresh).await, "revoked refresh token").await;
    // The code B redeemed is spent at A too (RFC 6749 section 4.1.2).
    assert_invalid_grant(
        client.redeem(a, &code, &verifier).await,
        "code replayed at A",
    )
    .await;

    // Single sign-on at B with A's session: no page, straight to a code (the consent is
    // remembered too). Redeemed at A, replayed at B: that revokes the tokens A issued.
    let (verifier, challenge) = pkce();
    let callback = service
        .authorize(&mut browser, b, rp, &challenge, "two")
        .await;
    let code = service.code(rp, &callback, "two");
    let second = tokens(client.redeem(a, &code, &verifier).await).await;
    let access = member(&second, "access_token");
    let response = client.userinfo(b, access).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_invalid_grant(
        client.redeem(b, &code, &verifier).await,
        "code replayed at B",
    )
    .await;
    let response = client.userinfo(a, access).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_invalid_grant(
        client.refresh(a, member(&second, "refresh_token")).await,
        "refresh token of a replayed code",
    )
    .await;
}

/// Deploys the service on two instances and runs [`hop`] against them.
fn scale_out(dir: &Path, stores: &StoreUrls) {
    let port_a = free_port();
    let port_b = std::iter::repeat_with(free_port)
        .find(|port| *port != port_a)
        .expect("a second port");
    // One service: the issuer is the public URL both instances answer for.
    let deployment = Deployment::new(dir, stores, format!("http://localhost:{port_a}"));
    let secret = random_text();
    let rp = Rp {
        client_id: "rp-scale",
        auth: Auth::Secret {
            method: "client_secret_basic",
            secret: secret.clone(),
        },
        scopes: &["openid", "profile", "birthdate", "gender", "personal_id"],
        require_par: false,
    };
    let rps = std::slice::from_ref(&rp);
    let config_a = deployment.write_config(port_a, rps);
    let config_b = deployment.write_config(port_b, rps);
    let record = citizen();
    let password = random_text();
    deployment.enrol(&config_a, &record, &password);

    // A migrates the schema and creates the key ring; B then opens both.
    let instance_a = deployment.start(&config_a);
    let instance_b = deployment.start(&config_b);
    let service = Service {
        a: format!("http://127.0.0.1:{port_a}"),
        b: format!("http://127.0.0.1:{port_b}"),
        issuer: deployment.issuer(),
        record: &record,
        password: &password,
    };
    tokio::runtime::Handle::current().block_on(hop(&service, &rp, &secret));
    instance_a.stop();
    instance_b.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_share_every_step_of_a_flow() {
    if let Some(stores) = Stores::prepare("scale_out").await {
        stores.run(scale_out).await;
    }
}
