//! The OpenID provider over real HTTP: the whole code flow, then every refusal the specs
//! demand, answered with the exact error and never a 5xx.

mod chip;
mod credentials;
mod enrol;
mod identity_api;
mod passkeys;
mod saml;
mod support;

use std::sync::Arc;

use serde_json::Value;
use support::{
    Options, Provider, RP, RP_LOGOUT, SECRET, authorize_query, hidden, json, location, param, pkce,
};

/// Exchanges `code` as `client` (HTTP Basic with the shared secret).
async fn redeem(p: &Provider, client: &str, code: &str, verifier: &str) -> reqwest::Response {
    p.post(
        "/token",
        Some((client, SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", RP),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Logs in as `basic` and returns (code, verifier).
async fn code_for(p: &Provider, browser: &mut support::Browser) -> (String, String) {
    let (verifier, challenge) = pkce();
    let url = p
        .login(browser, &authorize_query("basic", &challenge, ""))
        .await;
    (param(&url, "code").expect("a code"), verifier)
}

async fn introspect(p: &Provider, token: &str) -> Value {
    json(
        p.post("/introspect", Some(("basic", SECRET)), &[("token", token)])
            .await,
    )
    .await
}

#[tokio::test]
async fn discovery_describes_what_is_supported() {
    let p = Provider::start().await;
    let meta = json(
        p.http
            .get(format!("{}/.well-known/openid-configuration", p.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(meta["issuer"], p.issuer);
    assert_eq!(meta["token_endpoint"], format!("{}/token", p.issuer));
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        meta["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert!(meta["acr_values_supported"].as_array().unwrap().len() >= 3);
}

#[tokio::test]
async fn code_flow_tokens_userinfo_refresh_introspection_revocation_and_logout() {
    let p = Provider::start().await;
    let mut browser = p.browser();
    let (verifier, challenge) = pkce();
    let url = p
        .login(&mut browser, &authorize_query("basic", &challenge, ""))
        .await;
    assert!(url.as_str().starts_with(RP));
    assert_eq!(param(&url, "state").as_deref(), Some("st4te"));
    assert_eq!(param(&url, "iss").as_deref(), Some(p.issuer.as_str()));
    let code = param(&url, "code").unwrap();

    let tokens = json(redeem(&p, "basic", &code, &verifier).await).await;
    let id = p
        .verifier("basic")
        .await
        .verify_id_token(tokens["id_token"].as_str().unwrap(), Some("n0nce"), None)
        .unwrap();
    assert_eq!(id.acr.as_deref(), Some("http://eidas.europa.eu/LoA/low"));
    assert_eq!(id.amr, vec!["pwd".to_owned()]);
    assert!(id.auth_time.is_some() && id.at_hash.is_some());
    let access = tokens["access_token"].as_str().unwrap();
    p.verifier(&p.issuer)
        .await
        .verify_access_token(access, None)
        .unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid profile birthdate");

    // UserInfo releases the scopes' claims and nothing else, with the same sub.
    let info = json(
        p.http
            .get(format!("{}/userinfo", p.base))
            .bearer_auth(access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info["sub"], id.sub);
    assert!(info["name"].is_string() && info["birthdate"].is_string());
    assert!(info.get("personal_id").is_none() && info.get("gender").is_none());

    // A second login reuses the session and the consent: no page, straight to a code.
    let (_, challenge2) = pkce();
    let again = browser
        .authorize(&authorize_query("basic", &challenge2, ""))
        .await;
    assert!(location(&again).starts_with(RP));

    // Refresh rotates; the spent token then fails and takes its family down.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let rotated = json(
        p.post(
            "/token",
            Some(("basic", SECRET)),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await,
    )
    .await;
    let refresh2 = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh);
    assert_eq!(introspect(&p, &refresh2).await["active"], true);
    let access2 = rotated["access_token"].as_str().unwrap().to_owned();
    let intro = introspect(&p, &access2).await;
    assert_eq!(
        (intro["active"].clone(), intro["client_id"].clone()),
        (true.into(), "basic".into())
    );

    // Revocation of the access token, then of the refresh token's family.
    let revoked = p
        .post("/revoke", Some(("basic", SECRET)), &[("token", access)])
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(introspect(&p, access).await["active"], false);
    p.post("/revoke", Some(("basic", SECRET)), &[("token", &refresh2)])
        .await;
    assert_eq!(introspect(&p, &refresh2).await["active"], false);
    assert_eq!(introspect(&p, &access2).await["active"], false);

    // RP-initiated logout with the ID token as hint ends the session.
    let hint = tokens["id_token"].as_str().unwrap();
    let logout = browser
        .get(&format!(
            "/logout?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye",
            url::form_urlencoded::byte_serialize(RP_LOGOUT.as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!(location(&logout), format!("{RP_LOGOUT}?state=bye"));
    let (_, challenge3) = pkce();
    let after = browser
        .authorize(&authorize_query("basic", &challenge3, "&prompt=none"))
        .await;
    let after = url::Url::parse(&location(&after)).unwrap();
    assert_eq!(param(&after, "error").as_deref(), Some("login_required"));

    // Everything was audited.
    let head = p.durable.verify_audit_chain().await.unwrap();
    assert!(head.seq >= 5);
}

/// Logs in for `client` and redeems the code, authenticating with `basic` or the `auth`
/// form fields.
async fn code_exchange(
    p: &Provider,
    browser: &mut support::Browser,
    client: &str,
    basic: Option<(&str, &str)>,
    auth: &[(&str, &str)],
) -> reqwest::Response {
    let (verifier, challenge) = pkce();
    let url = p
        .login(browser, &authorize_query(client, &challenge, ""))
        .await;
    let code = param(&url, "code").unwrap();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", RP),
        ("code_verifier", verifier.as_str()),
    ];
    form.extend_from_slice(auth);
    p.post("/token", basic, &form).await
}

#[tokio::test]
async fn every_client_authentication_method_works() {
    let p = Provider::start().await;
    let mut browser = p.browser();
    let post = [("client_id", "post"), ("client_secret", SECRET)];
    let response = code_exchange(&p, &mut browser, "post", None, &post).await;
    assert_eq!(response.status(), 200);
    let assertion = p.assertion("jti-1");
    let jwt = [
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let response = code_exchange(&p, &mut browser, "jwt", None, &jwt).await;
    assert_eq!(response.status(), 200);
    // The same assertion again is a replay (RFC 7523 section 3 item 7).
    let replay = code_exchange(&p, &mut browser, "jwt", None, &jwt).await;
    assert_eq!(replay.status(), 401);
    assert_eq!(json(replay).await["error"], "invalid_client");
    // A public client: PKCE only.
    let public = [("client_id", "public")];
    let response = code_exchange(&p, &mut browser, "public", None, &public).await;
    assert_eq!(response.status(), 200);
    // client_credentials for the client registered for it, and only for it.
    let cc = p
        .post(
            "/token",
            Some(("basic", SECRET)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(cc.status(), 200);
    let refused = p
        .post(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "post"),
                ("client_secret", SECRET),
            ],
        )
        .await;
    assert_eq!(json(refused).await["error"], "unauthorized_client");
}

#[tokio::test]
async fn pushed_authorization_requests() {
    let p = Provider::start().await;
    let mut browser = p.browser();
    let (verifier, challenge) = pkce();
    // A client that must push is refused at /authorize without it.
    let direct = browser
        .authorize(&authorize_query("pushed", &challenge, ""))
        .await;
    let direct = url::Url::parse(&location(&direct)).unwrap();
    assert_eq!(param(&direct, "error").as_deref(), Some("invalid_request"));
    let query = authorize_query("pushed", &challenge, "");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let pushed = p.post("/par", Some(("pushed", SECRET)), &form).await;
    assert_eq!(pushed.status(), 201);
    let pushed = json(pushed).await;
    let request_uri = pushed["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    let by_reference = format!(
        "client_id=pushed&request_uri={}",
        url::form_urlencoded::byte_serialize(request_uri.as_bytes()).collect::<String>()
    );
    let url = p.login(&mut browser, &by_reference).await;
    let code = param(&url, "code").unwrap();
    let tokens = redeem(&p, "pushed", &code, &verifier).await;
    assert_eq!(tokens.status(), 200);
    // A request_uri is single use.
    let reused = browser.authorize(&by_reference).await;
    assert_eq!(reused.status(), 400);
    assert!(reused.headers().get("location").is_none());
    // A pushed request with a bad redirect URI is refused as JSON.
    let bad = p
        .post(
            "/par",
            Some(("pushed", SECRET)),
            &[
                ("response_type", "code"),
                ("redirect_uri", "https://evil.example/cb"),
            ],
        )
        .await;
    assert_eq!(json(bad).await["error"], "invalid_request");
}

/// The `error` an authorization request with `query` gets back at the redirect URI, after
/// checking the response carries `state` and `iss`.
async fn authz_error(p: &Provider, query: &str) -> String {
    let mut browser = p.browser();
    let response = browser.authorize(query).await;
    assert_eq!(response.status(), 303, "{query}");
    let url = url::Url::parse(&location(&response)).unwrap();
    assert!(url.as_str().starts_with(RP));
    assert_eq!(param(&url, "state").as_deref(), Some("st4te"));
    assert_eq!(param(&url, "iss").as_deref(), Some(p.issuer.as_str()));
    param(&url, "error").unwrap()
}

#[tokio::test]
async fn authorization_errors_follow_oidc_core_3_1_2_6() {
    let p = Provider::start().await;
    let mut browser = p.browser();
    let (_, challenge) = pkce();
    // Unregistered redirect URI or unknown client: a page, never a redirect.
    for query in [
        authorize_query("basic", &challenge, "").replace("9999", "9998"),
        authorize_query("nobody", &challenge, ""),
        authorize_query("basic", &challenge, "").replace("redirect_uri=", "x="),
    ] {
        let response = browser.authorize(&query).await;
        assert_eq!(response.status(), 400, "{query}");
        assert!(response.headers().get("location").is_none());
    }
    let base = authorize_query("basic", &challenge, "");
    let no_pkce = base.replace(
        &format!("&code_challenge={challenge}&code_challenge_method=S256"),
        "",
    );
    assert_eq!(authz_error(&p, &no_pkce).await, "invalid_request");
    let plain = base.replace("S256", "plain");
    assert_eq!(authz_error(&p, &plain).await, "invalid_request");
    let token = base.replace("response_type=code", "response_type=token");
    assert_eq!(authz_error(&p, &token).await, "unsupported_response_type");
    assert_eq!(
        authz_error(&p, &format!("{base}&prompt=none")).await,
        "login_required"
    );
    assert_eq!(
        authz_error(&p, &base.replace("scope=openid%20", "scope=")).await,
        "invalid_scope"
    );
    assert_eq!(
        authz_error(&p, &format!("{base}&request=eyJ")).await,
        "request_not_supported"
    );
    // Oversized or repeated parameters: refused before anything else, on a page.
    let oversized = format!("{base}&nonce={}", "n".repeat(5000));
    assert_eq!(
        browser
            .get(&format!("/authorize?{oversized}"))
            .await
            .status(),
        400
    );
    let repeated = format!("{base}&state=again");
    assert_eq!(
        browser
            .get(&format!("/authorize?{repeated}"))
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn token_endpoint_refusals() {
    let p = Provider::start_with(Options {
        code_lifetime: std::time::Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let mut browser = p.browser();
    let error_of = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (
            status,
            json(response).await["error"].as_str().unwrap().to_owned(),
        )
    };
    // Wrong PKCE verifier.
    let (code, _) = code_for(&p, &mut browser).await;
    let (wrong, _) = pkce();
    assert_eq!(
        error_of(redeem(&p, "basic", &code, &wrong).await).await,
        (400, "invalid_grant".into())
    );
    // Expired code.
    let (code, verifier) = code_for(&p, &mut browser).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        error_of(redeem(&p, "basic", &code, &verifier).await).await,
        (400, "invalid_grant".into())
    );
    // Wrong client secret: 401 with a Basic challenge.
    let wrong_secret = p
        .post(
            "/token",
            Some(("basic", "nope")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert!(wrong_secret.headers().contains_key("www-authenticate"));
    assert_eq!(error_of(wrong_secret).await, (401, "invalid_client".into()));
    // Tampered private_key_jwt: one signature character changed (not the last one, whose
    // low bits are padding).
    let mut assertion = p.assertion("jti-tampered").into_bytes();
    let at = assertion.len() - 10;
    assertion[at] = if assertion[at] == b'A' { b'B' } else { b'A' };
    let assertion = String::from_utf8(assertion).unwrap();
    let tampered = p
        .post(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
            ],
        )
        .await;
    assert_eq!(error_of(tampered).await, (401, "invalid_client".into()));
    // Two authentication methods at once.
    let both = p
        .post(
            "/token",
            Some(("basic", SECRET)),
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", SECRET),
            ],
        )
        .await;
    assert_eq!(error_of(both).await, (400, "invalid_request".into()));
    // Unknown and missing grant types, oversized and repeated parameters.
    let unknown = p
        .post(
            "/token",
            Some(("basic", SECRET)),
            &[("grant_type", "password")],
        )
        .await;
    assert_eq!(
        error_of(unknown).await,
        (400, "unsupported_grant_type".into())
    );
    let big = "x".repeat(5000);
    let oversized = p
        .post(
            "/token",
            Some(("basic", SECRET)),
            &[("grant_type", "authorization_code"), ("code", &big)],
        )
        .await;
    assert_eq!(error_of(oversized).await, (400, "invalid_request".into()));
    let huge = p
        .http
        .post(format!("{}/token", p.base))
        .body("a".repeat(200_000))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_the_first_tokens() {
    let p = Provider::start().await;
    let mut browser = p.browser();
    let (code, verifier) = code_for(&p, &mut browser).await;
    let first = json(redeem(&p, "basic", &code, &verifier).await).await;
    let replay = redeem(&p, "basic", &code, &verifier).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(json(replay).await["error"], "invalid_grant");
    // RFC 6749 section 4.1.2: the tokens of the first redemption are revoked.
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(introspect(&p, access).await["active"], false);
    let refresh = first["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&p, refresh).await["active"], false);
    let userinfo = p
        .http
        .get(format!("{}/userinfo", p.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
}

#[tokio::test]
async fn login_and_consent_pages_defend_themselves() {
    let p = Provider::start().await;
    let (_, challenge) = pkce();
    let mut browser = p.browser();
    let start = browser
        .authorize(&authorize_query("basic", &challenge, "&ui_locales=en"))
        .await;
    let login_path = location(&start);
    let page = browser.get(&login_path).await;
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("lang=\"en\""));
    let (req, csrf) = (hidden(&html, "req"), hidden(&html, "csrf"));
    let (id, password) = p.citizen.clone();
    // A forged CSRF token, or the flow posted from another browser, is refused.
    let forged = browser.submit_login(&req, "forged", &id, &password).await;
    assert_eq!(forged.status(), 403);
    let mut other = p.browser();
    let stolen = other.submit_login(&req, &csrf, &id, &password).await;
    assert_eq!(stolen.status(), 400);
    // Wrong passwords lock the account after five attempts, even for the right one.
    for _ in 0..5 {
        let wrong = browser.submit_login(&req, &csrf, &id, "wrong").await;
        assert_eq!(wrong.status(), 401);
    }
    let locked = browser.submit_login(&req, &csrf, &id, &password).await;
    assert_eq!(locked.status(), 429);
    let malformed = browser.submit_login(&req, &csrf, "12ab", "x").await;
    assert_eq!(malformed.status(), 400);
}

#[tokio::test]
async fn consent_can_be_refused_and_levels_cannot_be_faked() {
    let p = Provider::start().await;
    let mut browser = p.browser();
    let (_, challenge) = pkce();
    let start = browser
        .authorize(&authorize_query("post", &challenge, ""))
        .await;
    let html = browser.get(&location(&start)).await.text().await.unwrap();
    let (id, password) = p.citizen.clone();
    let logged_in = browser
        .submit_login(
            &hidden(&html, "req"),
            &hidden(&html, "csrf"),
            &id,
            &password,
        )
        .await;
    let consent_path = location(&logged_in);
    assert!(consent_path.starts_with("/consent"));
    let html = browser.get(&consent_path).await.text().await.unwrap();
    let denied = browser
        .post(
            "/consent",
            &[
                ("req", &hidden(&html, "req")),
                ("csrf", &hidden(&html, "csrf")),
                ("decision", "deny"),
            ],
        )
        .await;
    let denied = url::Url::parse(&location(&denied)).unwrap();
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"));
    // A password session is level low: asking for high is unmet, never faked.
    let high = "&acr_values=http%3A%2F%2Feidas.europa.eu%2FLoA%2Fhigh";
    let response = browser
        .authorize(&authorize_query("basic", &challenge, high))
        .await;
    let url = url::Url::parse(&location(&response)).unwrap();
    assert_eq!(
        param(&url, "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
}

/// RFC 6749 section 4.1.2 under contention: of 100 concurrent redemptions of one code,
/// against Redis, exactly one gets tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_concurrent_redemptions_give_one_success() {
    let Some(redis) = support::redis("redeem").await else {
        return;
    };
    let p = Arc::new(
        Provider::start_with(Options {
            ephemeral: redis,
            ..Options::default()
        })
        .await,
    );
    let mut browser = p.browser();
    let (code, verifier) = code_for(&p, &mut browser).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (p, code, verifier) = (Arc::clone(&p), code.clone(), verifier.clone());
            tokio::spawn(async move {
                let response = redeem(&p, "basic", &code, &verifier).await;
                let status = response.status().as_u16();
                (status, (status == 200).then_some(json(response).await))
            })
        })
        .collect();
    let mut statuses = Vec::new();
    let mut tokens = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        statuses.push(status);
        tokens.push(body);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        99,
        "{statuses:?}"
    );
    // The replays revoked what the one success received.
    let winner = tokens.iter().flatten().next().unwrap();
    let refresh = winner["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&p, refresh).await["active"], false);
    let access = winner["access_token"].as_str().unwrap();
    assert_eq!(introspect(&p, access).await["active"], false);
}

/// A login within the flow satisfies `max_age` even when the consent page takes longer
/// than `max_age` (the request must not fail after the citizen did everything asked).
#[tokio::test]
async fn max_age_zero_with_consent_still_ends_in_a_code() {
    let p = Provider::start().await;
    let mut browser = p.browser();
    let (verifier, challenge) = pkce();
    let query = authorize_query("basic", &challenge, "&max_age=0&prompt=login");
    let url = p.login(&mut browser, &query).await;
    let code = param(&url, "code").expect("a code, not an error");
    assert_eq!(redeem(&p, "basic", &code, &verifier).await.status(), 200);
}

/// Suspending an account ends its single sign-on and its refresh tokens at once.
#[tokio::test]
async fn a_suspended_account_gets_no_more_codes_or_tokens() {
    let p = Provider::start().await;
    let mut browser = p.browser();
    let (code, verifier) = code_for(&p, &mut browser).await;
    let tokens = json(redeem(&p, "basic", &code, &verifier).await).await;
    // Narrowing a refresh to drop openid yields no ID token.
    let narrowed = json(
        p.post(
            "/token",
            Some(("basic", SECRET)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("scope", "profile"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(narrowed["scope"], "profile");
    assert!(narrowed.get("id_token").is_none(), "{narrowed}");

    let introspect = async |token: &str| {
        let response = p
            .post("/introspect", Some(("basic", SECRET)), &[("token", token)])
            .await;
        json(response).await["active"].clone()
    };
    let access = narrowed["access_token"].as_str().unwrap();
    let refresh_token = narrowed["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(access).await, true);
    assert_eq!(introspect(refresh_token).await, true);

    p.durable
        .set_account_status(p.account().await, eid_core::store::AccountStatus::Suspended)
        .await
        .unwrap();
    // Its live tokens are inactive at once.
    assert_eq!(introspect(access).await, false);
    assert_eq!(introspect(refresh_token).await, false);
    let userinfo = p
        .http
        .get(format!("{}/userinfo", p.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    let (_, challenge) = pkce();
    let query = authorize_query("basic", &challenge, "&prompt=none");
    let response = browser.authorize(&query).await;
    let url = url::Url::parse(&location(&response)).unwrap();
    assert_eq!(param(&url, "error").as_deref(), Some("login_required"));
    let refresh = p
        .post(
            "/token",
            Some(("basic", SECRET)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", narrowed["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(json(refresh).await["error"], "invalid_grant");
}

/// The refusals of UserInfo, introspection, revocation and logout.
#[tokio::test]
async fn userinfo_introspection_revocation_and_logout_refusals() {
    let p = Provider::start().await;
    // UserInfo: no token (a bare challenge), a malformed one, a client-credentials token
    // (no citizen, no openid scope).
    let userinfo = |token: Option<&str>| {
        let mut request = p.http.get(format!("{}/userinfo", p.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let bare = userinfo(None).await.unwrap();
    assert_eq!(bare.status(), 401);
    assert_eq!(bare.headers()["www-authenticate"], "Bearer realm=\"eid\"");
    let malformed = userinfo(Some("not-a-token")).await.unwrap();
    assert_eq!(malformed.status(), 401);
    assert!(
        malformed.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let cc = json(
        p.post(
            "/token",
            Some(("basic", SECRET)),
            &[("grant_type", "client_credentials")],
        )
        .await,
    )
    .await;
    let machine = userinfo(cc["access_token"].as_str()).await.unwrap();
    assert_eq!(machine.status(), 403);

    // Introspection: public clients may not, the token is required, another client's
    // token is inactive.
    let public = p
        .post(
            "/introspect",
            None,
            &[("client_id", "public"), ("token", "x")],
        )
        .await;
    assert_eq!(json(public).await["error"], "invalid_client");
    let missing = p.post("/introspect", Some(("basic", SECRET)), &[]).await;
    assert_eq!(json(missing).await["error"], "invalid_request");
    let foreign = p
        .post(
            "/introspect",
            Some(("pushed", SECRET)),
            &[("token", cc["access_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(json(foreign).await["active"], false);
    // Revocation of an unknown token is still 200 (RFC 7009 section 2.2); no token is 400.
    let unknown = p
        .post("/revoke", Some(("basic", SECRET)), &[("token", "unknown")])
        .await;
    assert_eq!(unknown.status(), 200);
    let missing = p.post("/revoke", Some(("basic", SECRET)), &[]).await;
    assert_eq!(json(missing).await["error"], "invalid_request");

    // Logout: unregistered post-logout URI, a forged hint, an unknown client: a page,
    // never a redirect.
    let mut browser = p.browser();
    let encoded = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    for query in [
        format!(
            "client_id=basic&post_logout_redirect_uri={}",
            encoded("https://evil.example/")
        ),
        "id_token_hint=eyJhbGciOiJub25lIn0.eyJhdWQiOiJiYXNpYyJ9.".to_owned(),
        "client_id=nobody".to_owned(),
    ] {
        let response = browser.get(&format!("/logout?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        assert!(response.headers().get("location").is_none());
    }
    // Without a hint a logged-in citizen confirms on a page; a forged confirmation is
    // refused, the real one ends the session and redirects.
    let (_, challenge) = pkce();
    p.login(&mut browser, &authorize_query("basic", &challenge, ""))
        .await;
    let page = browser
        .get(&format!(
            "/logout?client_id=basic&post_logout_redirect_uri={}",
            encoded(RP_LOGOUT)
        ))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let forged = browser
        .post(
            "/logout",
            &[("req", &hidden(&html, "req")), ("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    let confirmed = browser
        .post(
            "/logout",
            &[
                ("req", &hidden(&html, "req")),
                ("csrf", &hidden(&html, "csrf")),
            ],
        )
        .await;
    assert_eq!(location(&confirmed), RP_LOGOUT);
    let (_, challenge) = pkce();
    let after = browser
        .authorize(&authorize_query("basic", &challenge, "&prompt=none"))
        .await;
    let after = url::Url::parse(&location(&after)).unwrap();
    assert_eq!(param(&after, "error").as_deref(), Some("login_required"));
}
