//! The SAML endpoints of the provider in process: off without `[saml]`, and their shared
//! per-IP limit (the protocol itself is driven by pysaml2 in tests/tests/saml_sp.rs).

use eid_server::oidc::{Limits, SamlSettings};
use eid_server::saml::keys::{KeyKind, SigningKey};

use super::support::{Options, Provider};

fn saml() -> SamlSettings {
    SamlSettings {
        entity_id: "https://idp.example/saml/metadata".to_owned(),
        key: SigningKey::generate(KeyKind::Rsa, "idp").unwrap(),
        ecdsa_key: None,
        service_providers: Vec::new(),
    }
}

#[tokio::test]
async fn without_saml_settings_the_endpoints_are_not_found() {
    let p = Provider::start().await;
    let mut browser = p.browser();
    for path in [
        "/saml/metadata",
        "/saml/sso?SAMLRequest=x",
        "/saml/sso/continue?ticket=x",
        "/saml/slo?SAMLRequest=x",
    ] {
        assert_eq!(browser.get(path).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn saml_requests_are_limited_per_client_ip() {
    let mut limits = Limits::default();
    limits.saml_requests_per_ip.max = 2;
    let p = Provider::start_with(Options {
        saml: Some(saml()),
        limits,
        ..Options::default()
    })
    .await;
    let mut browser = p.browser();
    for _ in 0..2 {
        let refused = browser.get("/saml/sso?SAMLRequest=x").await;
        assert_eq!(refused.status(), 400);
    }
    assert_eq!(browser.get("/saml/sso?SAMLRequest=x").await.status(), 429);
    // Single logout shares the count; the metadata is not counted.
    assert_eq!(browser.get("/saml/slo?SAMLRequest=x").await.status(), 429);
    let metadata = browser.get("/saml/metadata").await;
    assert_eq!(metadata.status(), 200);
    assert_eq!(
        metadata.headers()["content-type"],
        "application/samlmetadata+xml"
    );
}
