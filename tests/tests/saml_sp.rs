//! The SAML identity provider against an outside service provider: pysaml2
//! (`tests/saml/sp.py`, which checks signatures with Debian's `xmlsec1`) configured from
//! the daemon's metadata, with `want_assertions_signed` and `want_response_signed`,
//! drives SP-initiated single sign-on against the real `eid-server serve` (PostgreSQL and
//! Redis) at each level of assurance, by HTTP-Redirect and HTTP-POST, while this test
//! plays the citizen's browser (login form, passkey step-up, consent) over HTTP. Then the
//! refusals: unsigned, unknown service provider, foreign ACS URL, replay, XXE, signature
//! wrapping; and single logout. One SP gets its assertions encrypted (AES-256-GCM, the
//! key by RSA-OAEP), which pysaml2 decrypts with xmlsec1.
//!
//! Needs Python with pysaml2 (`tests/saml/requirements.txt`), xmlsec1, PostgreSQL and
//! Redis: when one is missing the test fails if `CI=true` and otherwise prints
//! `skipping: …` and passes.

use std::path::Path;

use base64ct::{Base64, Encoding as _};
use eid_core::registry::RegisterRecord;
use eid_e2e::availability::unavailable;
use eid_e2e::browser::{Browser, hidden, redirect, text};
use eid_e2e::citizen::citizen;
use eid_e2e::daemon::free_port;
use eid_e2e::deployment::Deployment;
use eid_e2e::passkey::SoftKey;
use eid_e2e::python::{ServiceProvider, pysaml2_ready};
use eid_e2e::random::random_text;
use eid_e2e::stores::{StoreUrls, Stores};
use reqwest::StatusCode;
use serde_json::Value;

const LOW: &str = "http://eidas.europa.eu/LoA/low";
const SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
const HIGH: &str = "http://eidas.europa.eu/LoA/high";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

struct Idp {
    /// Where the test reaches the daemon (`http://127.0.0.1:…`).
    base: String,
    /// The issuer (`http://localhost:…`), the prefix of the URLs the daemon names.
    issuer: String,
    http: reqwest::Client,
}

impl Idp {
    fn local(&self, url: &str) -> String {
        match url.strip_prefix(&self.issuer) {
            Some(path) => format!("{}{path}", self.base),
            None if url.starts_with('/') => format!("{}{url}", self.base),
            None => url.to_owned(),
        }
    }

    /// Sends the request `sp.py request` printed, in `browser`: a redirect to follow or
    /// a form to post.
    async fn send(&self, browser: &mut Browser, request: &Value) -> reqwest::Response {
        let url = self.local(request["url"].as_str().expect("a URL"));
        match request.get("form") {
            None => browser.get(&url).await,
            Some(form) => {
                let fields = [
                    (
                        "SAMLRequest",
                        form["SAMLRequest"].as_str().expect("SAMLRequest"),
                    ),
                    (
                        "RelayState",
                        form["RelayState"].as_str().expect("RelayState"),
                    ),
                ];
                browser.post(&url, &[], &fields).await
            }
        }
    }

    /// Sends a request as [`Idp::send`] does and, for one posted, follows the daemon's
    /// redirect to its same-site continuation (where the session cookie is sent).
    async fn arrive(&self, browser: &mut Browser, request: &Value) -> reqwest::Response {
        let response = self.send(browser, request).await;
        if request.get("form").is_none() {
            return response;
        }
        let next = redirect(response).await;
        assert!(next.starts_with("/saml/sso/continue?ticket="), "{next}");
        browser.get(&self.local(&next)).await
    }

    /// Follows a flow from `next` (login, consent) to the page that posts the SAML
    /// response; returns `SAMLResponse` after checking `RelayState`.
    async fn finish(
        &self,
        browser: &mut Browser,
        mut response: reqwest::Response,
        login: Option<(&str, &str)>,
        relay_state: &str,
    ) -> String {
        loop {
            if response.status() == StatusCode::OK {
                let html = text(response).await;
                assert!(
                    html.contains("id=\"autopost\""),
                    "not the SAML post page: {html}"
                );
                assert!(html.contains("action=\"http://localhost:8443/"), "{html}");
                assert_eq!(hidden(&html, "RelayState"), relay_state);
                return hidden(&html, "SAMLResponse");
            }
            let next = redirect(response).await;
            let url = self.local(&next);
            response = if next.starts_with("/login") {
                let (personal_id, password) = login.expect("a login was not expected");
                let form = browser.form(&url).await;
                let extra = [("personal_id", personal_id), ("password", password)];
                browser.post(&self.local("/login"), &form, &extra).await
            } else if next.starts_with("/consent") {
                let form = browser.form(&url).await;
                let extra = [("decision", "allow")];
                browser.post(&self.local("/consent"), &form, &extra).await
            } else {
                panic!("unexpected step {next}");
            };
        }
    }

    /// A refused request: an error page, nothing sent to the service provider.
    /// `reason` is part of the page's explanation.
    async fn refused(&self, browser: &mut Browser, request: &Value, why: &str, reason: &str) {
        let response = self.send(browser, request).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{why}");
        let html = text(response).await;
        assert!(!html.contains("SAMLResponse"), "{why}: {html}");
        assert!(
            html.contains(reason),
            "{why}: expected {reason:?} in {html}"
        );
    }
}

/// What pysaml2 read from a response, checked for what every assertion must carry.
fn validated(sp: &ServiceProvider, request: &Value, saml_response: &str) -> Value {
    let id = request["id"].as_str().expect("an ID");
    let out = sp.run(&["response", id], saml_response);
    assert!(
        out.get("error").is_none(),
        "pysaml2 refused the response: {out}"
    );
    assert_eq!(out["in_response_to"], id);
    assert_eq!(out["response_signed"], true);
    assert_eq!(out["assertion_signed"], true);
    assert_eq!(out["audience"], serde_json::json!([sp.entity_id()]));
    // The eIDAS SP's assertions are encrypted to its certificate and signed with ECDSA
    // (its metadata lists ECDSA-SHA256); the other's are in the clear, signed with RSA
    // (as registered).
    let eidas = sp.entity_id().contains("eidas");
    assert_eq!(out["encrypted"], eidas, "{out}");
    let algorithm = if eidas { ECDSA_SHA256 } else { RSA_SHA256 };
    assert_eq!(out["response_algorithm"], algorithm);
    assert_eq!(out["assertion_algorithm"], algorithm);
    out
}

fn attribute<'a>(out: &'a Value, name: &str) -> &'a str {
    out["attributes"][name][0]
        .as_str()
        .unwrap_or_else(|| panic!("no attribute {name} in {out}"))
}

#[allow(clippy::too_many_arguments)]
async fn scenario(
    idp: &Idp,
    dir: &Path,
    claims_sp: &ServiceProvider,
    eidas_sp: &ServiceProvider,
    record: &RegisterRecord,
    password: &str,
) {
    // The metadata the service providers are configured from: signed, with the SSO and
    // SLO endpoints and the levels.
    let metadata = text(
        idp.http
            .get(idp.local("/saml/metadata"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    for part in [
        "<ds:Signature",
        "SingleSignOnService",
        "SingleLogoutService",
        HIGH,
    ] {
        assert!(metadata.contains(part), "{part} missing from {metadata}");
    }
    std::fs::write(dir.join("idp-metadata.xml"), &metadata).expect("write metadata");
    let personal_id = record.personal_id.expose();
    let login = Some((personal_id.as_str(), password));
    let mut browser = Browser::new(&idp.http);

    // Level low by HTTP-POST: login with the password, consent, a signed response.
    let request = claims_sp.run(&["request", "--binding", "post", "--level", "low"], "");
    let relay = request["relay_state"]
        .as_str()
        .expect("relay state")
        .to_owned();
    let response = idp.arrive(&mut browser, &request).await;
    let saml = idp.finish(&mut browser, response, login, &relay).await;
    let low = validated(claims_sp, &request, &saml);
    assert_eq!(low["authn_context"], LOW);
    assert_eq!(low["name_id_format"], PERSISTENT);
    assert_eq!(attribute(&low, "family_name"), record.identity.family_name);
    assert_eq!(attribute(&low, "given_name"), record.identity.given_name);
    let birth = record.identity.birth_date;
    let birthdate = format!(
        "{:04}-{:02}-{:02}",
        birth.year(),
        u8::from(birth.month()),
        birth.day()
    );
    assert_eq!(attribute(&low, "birthdate"), birthdate);
    assert!(low["attributes"].get("personal_id").is_none(), "{low}");
    // The same request again is a replay.
    idp.refused(
        &mut browser,
        &request,
        "replayed POST request",
        "already received",
    )
    .await;

    // Substantial, exactly, by HTTP-Redirect at the eIDAS SP: the citizen enrols a
    // passkey and steps up with it; the assertion states the level asked for.
    let mut key = SoftKey::new(&idp.base, &idp.issuer);
    key.enrol(&mut browser, "Phone").await;
    let request = eidas_sp.run(
        &["request", "--level", "substantial", "--comparison", "exact"],
        "",
    );
    let relay = request["relay_state"].as_str().expect("relay").to_owned();
    let step_up = redirect(idp.arrive(&mut browser, &request).await).await;
    assert!(step_up.starts_with("/login?"), "{step_up}");
    let next = key.confirm(&mut browser, &step_up).await;
    let consent = browser.form(&idp.local(&next)).await;
    let response = browser
        .post(&idp.local("/consent"), &consent, &[("decision", "allow")])
        .await;
    let saml = idp.finish(&mut browser, response, None, &relay).await;
    let substantial = validated(eidas_sp, &request, &saml);
    assert_eq!(substantial["authn_context"], SUBSTANTIAL);
    // pysaml2 names the eIDAS attributes by their FriendlyName.
    let person = attribute(&substantial, "PersonIdentifier");
    assert_eq!(
        person,
        format!("VN/VN/{}", substantial["name_id"].as_str().unwrap())
    );
    assert_eq!(
        attribute(&substantial, "FamilyName"),
        record.identity.family_name
    );
    assert!(attribute(&substantial, "FirstName").ends_with(&record.identity.given_name));
    assert_eq!(attribute(&substantial, "DateOfBirth"), birthdate);
    // Pairwise: another SP, another NameID.
    assert_ne!(substantial["name_id"], low["name_id"]);

    // High, at least, by HTTP-Redirect: the session (in-person proofing and a
    // user-verified passkey) is high already, consent is on file: straight back.
    let request = claims_sp.run(&["request", "--level", "high"], "");
    let relay = request["relay_state"].as_str().expect("relay").to_owned();
    let response = idp.arrive(&mut browser, &request).await;
    let saml = idp.finish(&mut browser, response, None, &relay).await;
    let high = validated(claims_sp, &request, &saml);
    assert_eq!(high["authn_context"], HIGH);
    assert_eq!(high["name_id"], low["name_id"], "persistent NameID changed");

    // A transient NameID on request.
    let request = claims_sp.run(&["request", "--transient"], "");
    let relay = request["relay_state"].as_str().expect("relay").to_owned();
    let response = idp.arrive(&mut browser, &request).await;
    let saml = idp.finish(&mut browser, response, None, &relay).await;
    let transient = validated(claims_sp, &request, &saml);
    assert_eq!(transient["name_id_format"], TRANSIENT);
    assert_ne!(transient["name_id"], low["name_id"]);

    // A POSTed request continues once, by a single-use ticket, in the browser that posted
    // it.
    let request = claims_sp.run(&["request", "--binding", "post"], "");
    let next = redirect(idp.send(&mut browser, &request).await).await;
    let mut other = Browser::new(&idp.http);
    let elsewhere = other.get(&idp.local(&next)).await;
    assert_eq!(elsewhere.status(), StatusCode::BAD_REQUEST);
    let first = browser.get(&idp.local(&next)).await;
    assert_eq!(first.status(), StatusCode::OK);
    for url in [
        next.as_str(),
        "/saml/sso/continue",
        "/saml/sso/continue?ticket=forged",
    ] {
        let again = browser.get(&idp.local(url)).await;
        assert_eq!(again.status(), StatusCode::BAD_REQUEST, "{url}");
    }

    // ForceAuthn: the citizen logs in again, despite the session.
    let request = claims_sp.run(&["request", "--binding", "post", "--force"], "");
    let next = redirect(idp.arrive(&mut browser, &request).await).await;
    assert!(next.starts_with("/login?"), "{next}");

    // IsPassive without a session: the SP hears NoPassive.
    let mut stranger = Browser::new(&idp.http);
    let request = claims_sp.run(&["request", "--passive", "--level", "low"], "");
    let relay = request["relay_state"].as_str().expect("relay").to_owned();
    let response = idp.arrive(&mut stranger, &request).await;
    let saml = idp.finish(&mut stranger, response, None, &relay).await;
    let id = request["id"].as_str().expect("id");
    let passive = claims_sp.run(&["response", id], &saml);
    assert!(
        passive["message"]
            .as_str()
            .unwrap_or_default()
            .contains("NoPassive")
            || passive["error"]
                .as_str()
                .unwrap_or_default()
                .contains("NoPassive"),
        "{passive}"
    );

    // Refusals: nothing goes back to an address the metadata does not give.
    let unsigned = claims_sp.run(&["request", "--unsigned"], "");
    idp.refused(
        &mut browser,
        &unsigned,
        "unsigned request",
        "must be signed",
    )
    .await;
    let unsigned_post = claims_sp.run(&["request", "--binding", "post", "--unsigned"], "");
    idp.refused(
        &mut browser,
        &unsigned_post,
        "unsigned POST request",
        "must be signed",
    )
    .await;
    let stranger_sp = claims_sp.renamed("http://localhost:8443/unknown/metadata");
    let unknown = stranger_sp.run(&["request"], "");
    idp.refused(
        &mut browser,
        &unknown,
        "unknown service provider",
        "unknown service provider",
    )
    .await;
    let foreign = claims_sp.run(&["request", "--acs", "http://localhost:8443/evil/acs"], "");
    idp.refused(
        &mut browser,
        &foreign,
        "foreign ACS URL",
        "assertion consumer service",
    )
    .await;
    let replayed = claims_sp.run(&["request", "--level", "low"], "");
    let first = idp.send(&mut browser, &replayed).await;
    assert_eq!(first.status(), StatusCode::OK);
    idp.refused(
        &mut browser,
        &replayed,
        "replayed redirect request",
        "already received",
    )
    .await;

    // XXE: an external entity in a request.
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>&x;</saml:Issuer></samlp:AuthnRequest>"#;
    let form = serde_json::json!({
        "url": idp.local("/saml/sso"),
        "form": {"SAMLRequest": Base64::encode_string(xxe.as_bytes()), "RelayState": "x"},
    });
    idp.refused(&mut browser, &form, "XXE", "document type declarations")
        .await;

    // Signature wrapping: a validly signed request moved inside a forged one that asks
    // for another ACS URL, its signature left deep inside (1) or moved up to the forged
    // root, where it still verifies (its reference names the moved request's ID) (2).
    let signed = claims_sp.run(&["request", "--binding", "post"], "");
    let inner = signed["xml"].as_str().expect("the signed XML");
    let inner = match inner.find("?>") {
        Some(end) if inner.starts_with("<?xml") => &inner[end + 2..],
        _ => inner,
    };
    let colon = inner
        .find(":Signature ")
        .unwrap_or_else(|| panic!("no ds:Signature in {inner}"));
    let sig_start = inner[..colon].rfind('<').expect("its start tag");
    let prefix = &inner[sig_start + 1..colon];
    let end_tag = format!("</{prefix}:Signature>");
    let sig_end = inner.find(&end_tag).expect("its end") + end_tag.len();
    let signature = &inner[sig_start..sig_end];
    let unsigned_inner = format!("{}{}", &inner[..sig_start], &inner[sig_end..]);
    let forged = |signature: &str, inner: &str| {
        format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:{prefix}="http://www.w3.org/2000/09/xmldsig#" ID="_evil" Version="2.0" IssueInstant="{now}" Destination="{issuer}/saml/sso" AssertionConsumerServiceURL="http://localhost:8443/evil/acs"><saml:Issuer>{sp}</saml:Issuer>{signature}<samlp:Extensions>{inner}</samlp:Extensions></samlp:AuthnRequest>"#,
            now = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .expect("a time"),
            issuer = idp.issuer,
            sp = claims_sp.entity_id(),
        )
    };
    for (xml, reason) in [
        (forged("", inner), "must be signed"),
        (forged(signature, &unsigned_inner), "signature is invalid"),
    ] {
        let form = serde_json::json!({
            "url": idp.local("/saml/sso"),
            "form": {"SAMLRequest": Base64::encode_string(xml.as_bytes()), "RelayState": "x"},
        });
        idp.refused(&mut browser, &form, "signature wrapping", reason)
            .await;
    }

    // A logout request naming another citizen changes nothing: UnknownPrincipal.
    let logout = claims_sp.run(&["logout", "someone-else"], "");
    let back = redirect(idp.send(&mut browser, &logout).await).await;
    let query = back.split_once('?').expect("a query").1;
    let answer = claims_sp.run(&["logout-response"], query);
    assert_eq!(answer["status_ok"], false, "{answer}");
    assert!(answer.to_string().contains("UnknownPrincipal"), "{answer}");

    // Single logout by HTTP-Redirect: a signed LogoutResponse back to the SP, and the
    // session is over.
    let name_id = low["name_id"].as_str().expect("name id");
    let logout = claims_sp.run(&["logout", name_id], "");
    let back = redirect(idp.send(&mut browser, &logout).await).await;
    assert!(
        back.starts_with("http://localhost:8443/sp-claims/slo?"),
        "{back}"
    );
    let query = back.split_once('?').expect("a query").1;
    let answer = claims_sp.run(&["logout-response"], query);
    assert_eq!(answer["status_ok"], true, "{answer}");
    assert_eq!(answer["in_response_to"], logout["id"]);
    assert_eq!(answer["relay_state"], "logout-rs");
    let request = claims_sp.run(&["request", "--passive"], "");
    let relay = request["relay_state"].as_str().expect("relay").to_owned();
    let response = idp.arrive(&mut browser, &request).await;
    let saml = idp.finish(&mut browser, response, None, &relay).await;
    let after = claims_sp.run(&["response", request["id"].as_str().unwrap()], &saml);
    assert!(after.get("error").is_some(), "still logged in: {after}");
}

fn deploy(dir: &Path, stores: &StoreUrls) {
    let port = free_port();
    let issuer = format!("http://localhost:{port}");
    let deployment = Deployment::new(dir, stores, issuer.clone());
    let claims_sp = ServiceProvider::new(dir, "sp-claims", &issuer, false);
    let eidas_sp = ServiceProvider::new(dir, "sp-eidas", &issuer, true);
    let config = deployment.write_config(port, &[]);
    let mut text = std::fs::read_to_string(&config).expect("the configuration");
    text.push_str(&format!(
        "[saml]\nkey_file = {key:?}\ncertificate_file = {cert:?}\n\
         ecdsa_key_file = {ec_key:?}\necdsa_certificate_file = {ec_cert:?}\n",
        key = dir.join("saml.key").display().to_string(),
        cert = dir.join("saml.crt").display().to_string(),
        ec_key = dir.join("saml-ec.key").display().to_string(),
        ec_cert = dir.join("saml-ec.crt").display().to_string(),
    ));
    std::fs::write(&config, text).expect("write the configuration");
    // The administrator registers the service providers from their metadata: one from a
    // file, one fetched from a URL.
    let claims_file = dir.join("sp-claims.xml");
    std::fs::write(&claims_file, claims_sp.run_text(&["metadata"], "")).expect("SP metadata");
    let added = deployment.admin(
        &config,
        &[
            "saml",
            "add-sp",
            "--metadata",
            &claims_file.display().to_string(),
            "--name",
            "Claims SP",
            "--scopes",
            "profile,birthdate",
            "--no-encryption",
            "--signature-algorithm",
            "rsa-sha256",
        ],
    );
    assert!(added.contains("signing certificate SHA-256"), "{added}");
    let served = dir.join("served");
    std::fs::create_dir_all(&served).expect("a directory");
    std::fs::write(
        served.join("sp-eidas.xml"),
        eidas_sp.run_text(&["metadata"], ""),
    )
    .expect("SP metadata");
    let web_port = free_port();
    let mut web = std::process::Command::new(eid_e2e::python::python())
        .args([
            "-m",
            "http.server",
            &web_port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .arg("--directory")
        .arg(&served)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    let url = format!("http://127.0.0.1:{web_port}/sp-eidas.xml");
    let mut added = String::new();
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if std::net::TcpStream::connect(("127.0.0.1", web_port)).is_ok() {
            added = deployment.admin(
                &config,
                &[
                    "saml",
                    "add-sp",
                    "--metadata",
                    &url,
                    "--name",
                    "eIDAS SP",
                    "--scopes",
                    "profile,birthdate",
                    "--attribute-profile",
                    "eidas",
                ],
            );
            break;
        }
    }
    let _ = web.kill();
    let _ = web.wait();
    assert!(added.contains(eidas_sp.entity_id()), "{added}");
    let listed = deployment.admin(&config, &["saml", "list-sps"]);
    assert!(listed.contains(claims_sp.entity_id()) && listed.contains(eidas_sp.entity_id()));
    let record = citizen();
    let password = random_text();
    deployment.enrol_with(&config, &record, &password, "in-person");
    let instance = deployment.start(&config);
    let idp = Idp {
        base: format!("http://127.0.0.1:{port}"),
        issuer,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client"),
    };
    tokio::runtime::Handle::current().block_on(scenario(
        &idp, dir, &claims_sp, &eidas_sp, &record, &password,
    ));
    instance.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn pysaml2_signs_in_at_each_level_and_forged_requests_are_refused() {
    if let Err(err) = pysaml2_ready() {
        return unavailable("Python with pysaml2 and xmlsec1", err);
    }
    if let Some(stores) = Stores::prepare("saml_sp").await {
        stores.run(deploy).await;
    }
}
