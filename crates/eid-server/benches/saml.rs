//! What one SAML single sign-on costs the identity provider in CPU: reading and verifying
//! the request (HTTP-Redirect with a query signature, HTTP-POST with an enveloped XML
//! signature, both RSA-2048 as pysaml2 signs) and building the signed response (RSA-3072
//! or ECDSA P-256, two signatures: assertion and response; optionally encrypted).
//!
//! `cargo bench -p eid-server --bench saml` (figures in docs/performance.md).

use std::hint::black_box;

use base64ct::{Base64, Encoding as _};
use criterion::{Criterion, criterion_group, criterion_main};
use eid_server::saml::NameIdFormat;
use eid_server::saml::bindings::{Incoming, redirect_query};
use eid_server::saml::keys::{KeyKind, PeerCertificate, SigningKey};
use eid_server::saml::response::{Addressee, Authenticated, SamlAttribute, response};
use eid_server::saml::{ns, sign};
use time::OffsetDateTime;

const REQUEST: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="2026-11-24T10:00:00Z" Destination="https://id.example.vn/saml/sso" AssertionConsumerServiceURL="https://sp.example.vn/acs"><saml:Issuer>https://sp.example.vn/metadata</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/><samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>http://eidas.europa.eu/LoA/substantial</saml:AuthnContextClassRef></samlp:RequestedAuthnContext></samlp:AuthnRequest>"#;

fn sp_key() -> SigningKey {
    // RSA-2048, as service providers commonly sign (the generator makes 3072 bits for the
    // identity provider; the size only changes the verification cost slightly).
    SigningKey::generate(KeyKind::Rsa, "sp").expect("a key")
}

fn requests(c: &mut Criterion) {
    let sp = sp_key();
    let certs = [PeerCertificate::from_der(sp.certificate_der()).expect("a certificate")];
    let query = redirect_query("SAMLRequest", REQUEST, Some("rs"), sp.kind(), |d| {
        sp.sign(d)
    })
    .expect("q");
    c.bench_function("saml/request/redirect_verify", |b| {
        b.iter(|| {
            let incoming = Incoming::from_redirect(black_box(&query), "SAMLRequest").unwrap();
            black_box(incoming.verified(&certs, true).unwrap());
        })
    });
    let template = sign::template("_r1", &sp).expect("a template");
    let with_template = REQUEST.replacen("</saml:Issuer>", &format!("</saml:Issuer>{template}"), 1);
    let signed = sign::sign(&with_template, &sp).expect("signed");
    let form = Base64::encode_string(signed.as_bytes());
    c.bench_function("saml/request/post_verify", |b| {
        b.iter(|| {
            let incoming = Incoming::from_post(black_box(&form), Some("rs")).unwrap();
            black_box(incoming.verified(&certs, true).unwrap());
        })
    });
}

fn responses(c: &mut Criterion) {
    let to = Addressee {
        issuer: "https://id.example.vn/saml/metadata",
        audience: "https://sp.example.vn/metadata",
        acs_url: "https://sp.example.vn/acs",
        in_response_to: "_r1",
    };
    let attributes: Vec<SamlAttribute> = [
        ("family_name", "Nguyễn"),
        ("middle_name", "Văn"),
        ("given_name", "An"),
        ("name", "Nguyễn Văn An"),
        ("birthdate", "1990-01-02"),
    ]
    .into_iter()
    .map(|(name, value)| SamlAttribute {
        name: name.to_owned(),
        name_format: ns::ATTRNAME_BASIC,
        friendly_name: name.to_owned(),
        value: value.to_owned(),
    })
    .collect();
    let who = Authenticated {
        name_id: "pairwise-subject-of-the-citizen-at-this-sp-0123456789",
        name_id_format: NameIdFormat::Persistent,
        authn_instant: OffsetDateTime::now_utc(),
        session_index: "_s1",
        context_class: "http://eidas.europa.eu/LoA/substantial",
        attributes: &attributes,
    };
    let sp = sp_key();
    let sp_cert = PeerCertificate::from_der(sp.certificate_der()).expect("a certificate");
    for (name, kind, encrypt) in [
        ("saml/response/rsa3072", KeyKind::Rsa, false),
        ("saml/response/ecdsa_p256", KeyKind::EcP256, false),
        ("saml/response/rsa3072_encrypted", KeyKind::Rsa, true),
    ] {
        let key = SigningKey::generate(kind, "idp").expect("a key");
        let encrypt_to = encrypt.then_some(&sp_cert);
        c.bench_function(name, |b| {
            b.iter(|| {
                let now = OffsetDateTime::now_utc();
                black_box(response(&to, Ok(&who), now, &key, encrypt_to).unwrap())
            })
        });
    }
}

criterion_group!(benches, requests, responses);
criterion_main!(benches);
