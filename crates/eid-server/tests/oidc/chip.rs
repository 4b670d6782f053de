//! The chip path to level high over real HTTP: the account page issues an upload ticket,
//! the "phone app" (this test) uploads a chip made with eid-core's test PKI and a face
//! result of the deterministic vendor, and the citizen's next passkey login reaches high.
//! Then every refusal: tampered or untrusted chips, another citizen's card, a register
//! mismatch, a failed or foreign face check or one against another portrait, replayed,
//! missing or bad tickets, oversized bodies, and the start form's CSRF and
//! re-authentication checks.

use std::collections::BTreeMap;
use std::time::Duration;

use base64ct::{Base64, Encoding as _};
use der::asn1::OctetString;
use eid_core::assurance::{Loa, ProofingEvidence};
use eid_core::audit::{AuditEvent, Outcome};
use eid_core::citizen::Sex;
use eid_core::credential::chip::testing::{
    CardHolder, crl, csca, dg2, ds, good_validity, lds, sod_for, sod_with, trust,
};
use eid_core::credential::face::{
    DeterministicMatcher, FaceMatcher as _, FaceVendor, PortraitDigest,
};
use eid_core::token::{OpaqueToken, SigningKey};
use eid_server::oidc::{ChipSettings, Limits, paths};
use p256::ecdsa::SigningKey as EcKey;
use serde_json::{Value, json};
use time::macros::{datetime, format_description};
use x509_cert::Certificate;

use super::passkeys::{
    Key, account_page, age_session, enrol, id_token, new_login, notice, signed_in,
};
use super::support::{Browser, Options, Provider, hidden};

const VENDOR: &str = "https://face-vendor.example";
const HIGH: &str = "http://eidas.europa.eu/LoA/high";
const AT_HIGH: &str = "&ui_locales=en&acr_values=http%3A%2F%2Feidas.europa.eu%2FLoA%2Fhigh";
/// The serial number the test CRL revokes.
const REVOKED_SERIAL: u32 = 9;

/// The issuing state's PKI and the face vendor, as the test app sees them.
struct Issuer {
    csca_key: EcKey,
    csca_cert: Certificate,
    ds_key: EcKey,
    ds_cert: Certificate,
    vendor: DeterministicMatcher,
}

impl Issuer {
    fn new() -> Self {
        let (csca_key, csca_cert) = csca(1);
        let (ds_key, ds_cert) = ds(&csca_key, 7, good_validity());
        let vendor = DeterministicMatcher::new(VENDOR, SigningKey::generate().unwrap());
        Self {
            csca_key,
            csca_cert,
            ds_key,
            ds_cert,
            vendor,
        }
    }

    /// The daemon's chip settings: this CSCA (with a CRL revoking [`REVOKED_SERIAL`]) and
    /// this vendor at threshold 0.8.
    fn settings(&self) -> ChipSettings {
        let mut trust = trust(&self.csca_cert);
        let list = crl(&self.csca_cert, &self.csca_key, 1, &[REVOKED_SERIAL]);
        trust.add_crl_der(&list).unwrap();
        let face =
            FaceVendor::new(VENDOR, &self.vendor.jwks(), 0.8, time::Duration::minutes(5)).unwrap();
        ChipSettings {
            trust,
            face,
            ticket_lifetime: ChipSettings::DEFAULT_TICKET_LIFETIME,
        }
    }

    /// The vendor's result for check `nonce` against `portrait` (a DG2): a match, or not.
    async fn face(&self, nonce: &str, portrait: &[u8], matched: bool) -> String {
        let selfie: &[u8] = if matched { portrait } else { b"someone else" };
        self.vendor.compare(portrait, selfie, nonce).await.unwrap()
    }
}

/// The harness citizen's card, as its DG1 reads.
fn card_of(p: &Provider) -> CardHolder {
    let id = &p.record.identity;
    let yymmdd = format_description!("[year repr:last_two][month][day]");
    CardHolder {
        personal_id: p.record.personal_id.expose(),
        birth: id.birth_date.format(&yymmdd).unwrap(),
        sex: if id.sex == Sex::Male { 'M' } else { 'F' },
        ..CardHolder::default()
    }
}

/// The app's JSON upload of `groups` with `sod` and `face`.
fn body(sod: &[u8], groups: &BTreeMap<u8, Vec<u8>>, face: &str) -> Value {
    let b64 = |bytes: &[u8]| Base64::encode_string(bytes);
    json!({
        "sod": b64(sod),
        "dg1": b64(&groups[&1]),
        "dg2": b64(&groups[&2]),
        "face_result": face,
    })
}

/// DG1 of `card` and a DG2.
fn groups(card: &CardHolder) -> BTreeMap<u8, Vec<u8>> {
    BTreeMap::from([(1, card.dg1()), (2, dg2())])
}

/// A provider with the chip path of `issuer` allowing `checks` chip checks per account,
/// and its citizen signed in to the account page.
async fn provider(issuer: &Issuer, checks: u64) -> (Provider, Browser) {
    let mut limits = Limits::default();
    limits.chip_checks_per_account.max = checks;
    let p = Provider::start_with(Options {
        chip: Some(issuer.settings()),
        limits,
        ..Options::default()
    })
    .await;
    let browser = signed_in(&p).await;
    (p, browser)
}

/// Starts a chip check from the account page; returns the ticket and the face nonce.
async fn start(browser: &mut Browser) -> (String, String) {
    let csrf = hidden(&account_page(browser).await, "csrf");
    let page = browser.post(paths::CHIP_START, &[("csrf", &csrf)]).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    (code(&html, "chip-ticket"), code(&html, "chip-nonce"))
}

/// The text of `<code id="{id}">`.
fn code(html: &str, id: &str) -> String {
    let marker = format!("<code id=\"{id}\">");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {id}")) + marker.len();
    let end = html[start..].find("</code>").unwrap() + start;
    html[start..end].to_owned()
}

/// Uploads `body` with `ticket` (if any).
async fn upload(p: &Provider, ticket: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = p.http.post(format!("{}{}", p.base, paths::CHIP_UPLOAD));
    if let Some(ticket) = ticket {
        request = request.bearer_auth(ticket);
    }
    request.json(body).send().await.unwrap()
}

/// The status and `error` of a refused upload.
async fn refused(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    (status, body["error"].as_str().unwrap().to_owned())
}

/// The account's eKYC records at level high.
async fn high_records(p: &Provider) -> usize {
    let records = p.durable.ekyc_records(p.account().await).await.unwrap();
    records.iter().filter(|r| r.loa == Loa::High).count()
}

#[tokio::test]
async fn a_good_chip_proofs_the_citizen_at_high() {
    let issuer = Issuer::new();
    let (p, mut browser) = provider(&issuer, 10).await;
    // A passkey first: with the chip record, it signs in at high.
    let mut key = Key::new(&p);
    assert_eq!(enrol(&mut browser, &mut key, "Phone").await, "added");
    let html = account_page(&mut browser).await;
    assert!(
        html.contains("id=\"chip-start\""),
        "the chip check is offered"
    );

    let (ticket, nonce) = start(&mut browser).await;
    assert!(OpaqueToken::parse(&ticket).is_ok(), "a 256-bit ticket");
    let card = card_of(&p);
    let groups = groups(&card);
    let sod = sod_for(&groups, &issuer.ds_key, &issuer.ds_cert);
    let upload_body = body(&sod, &groups, &issuer.face(&nonce, &groups[&2], true).await);
    let response = upload(&p, Some(&ticket), &upload_body).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "verified");
    assert_eq!(answer["level"], "high");
    assert_eq!(answer["evidence"], "register_and_chip");

    let records = p.durable.ekyc_records(p.account().await).await.unwrap();
    let record = records
        .iter()
        .find(|r| r.evidence == ProofingEvidence::RegisterAndChip)
        .expect("a register-and-chip record");
    assert_eq!(record.loa, Loa::High);
    // Valid through the card's date of expiry (2030-03-15) at most.
    assert!(record.expires_at <= datetime!(2030-03-16 0:00 UTC));
    let details = &record.details;
    assert_eq!(details["chip"]["passive_authentication"], "ok");
    assert_eq!(details["chip"]["data_groups"], json!([1, 2]));
    assert_eq!(details["register"]["by"], "chip");
    assert_eq!(
        details["register"]["matched"],
        json!(["birth_date", "nationality", "sex"])
    );
    assert_eq!(details["face"]["passed"], true);
    assert_eq!(details["face"]["vendor"], VENDOR);
    assert_eq!(
        details["face"]["portrait_sha256"],
        PortraitDigest::of(&groups[&2]).to_claim()
    );
    // No personal data of the card in the evidence.
    let text = details.to_string();
    assert!(!text.contains(&p.citizen.0) && !text.contains(&card.document_number));
    let proofed: Vec<_> = p
        .audit()
        .await
        .into_iter()
        .filter(|r| r.event == AuditEvent::IdentityProofed && r.loa == Some(Loa::High))
        .collect();
    assert_eq!(proofed.len(), 1);
    assert_eq!(proofed[0].outcome, Outcome::Success);

    // The ticket was used: a replay is refused and changes nothing.
    let replay = upload(&p, Some(&ticket), &upload_body).await;
    assert_eq!(refused(replay).await, (401, "invalid_ticket".into()));
    assert_eq!(high_records(&p).await, 1);

    // The next passkey login reaches high.
    let (mut other, login, verifier) = new_login(&p, AT_HIGH).await;
    let signed = login.sign_in(&mut other, &mut key).await;
    let id = id_token(&p, &mut other, signed, &verifier).await;
    assert_eq!(id.acr.as_deref(), Some(HIGH));
}

#[tokio::test]
async fn bad_chips_faces_and_cards_are_refused_each_with_its_error() {
    let issuer = Issuer::new();
    let (p, mut browser) = provider(&issuer, 100).await;
    let card = card_of(&p);
    let good = groups(&card);
    let (rogue_key, _) = csca(2);
    let (untrusted_key, untrusted) = ds(&rogue_key, 7, good_validity());
    let expired_validity = (
        datetime!(2020-01-01 0:00 UTC),
        datetime!(2022-01-01 0:00 UTC),
    );
    let (expired_key, expired) = ds(&issuer.csca_key, 8, expired_validity);
    let (revoked_key, revoked) = ds(&issuer.csca_key, REVOKED_SERIAL, good_validity());
    let other_card = CardHolder {
        personal_id: "079090001234".into(),
        ..card.clone()
    };
    let other_groups = groups(&other_card);
    // Same year (the number encodes it), another day.
    let mut wrong_birth = card.clone();
    let day = if wrong_birth.birth.ends_with("01") {
        "02"
    } else {
        "01"
    };
    wrong_birth.birth.replace_range(4..6, day);
    let wrong_birth_groups = groups(&wrong_birth);
    let expired_card = CardHolder {
        expiry: "250101".into(),
        ..card.clone()
    };
    let expired_card_groups = groups(&expired_card);
    let mut tampered_dg2 = good.clone();
    tampered_dg2.get_mut(&2).unwrap()[2] ^= 1;

    enum Face {
        Match,
        NoMatch,
        OtherCheck,
        /// A match of the uploader's selfie with another photo than the card's DG2 (the
        /// uploader's own), for this check: a copy of someone else's chip data beside it.
        OtherPortrait,
    }
    type Case = (
        &'static str,
        Vec<u8>,
        BTreeMap<u8, Vec<u8>>,
        Face,
        (u16, &'static str),
    );
    let sign = |groups: &BTreeMap<u8, Vec<u8>>, key: &EcKey, cert: &Certificate| {
        sod_for(groups, key, cert)
    };
    let (dk, dc) = (&issuer.ds_key, &issuer.ds_cert);
    let badly_signed = |key: &EcKey, cert: &Certificate| {
        sod_with(lds(&good), key, cert, |info| {
            let mut bytes = info.signature.as_bytes().to_vec();
            let last = bytes.len() - 2;
            bytes[last] ^= 1;
            info.signature = OctetString::new(bytes).unwrap();
        })
    };
    let bad_signature = badly_signed(dk, dc);
    let cases: Vec<Case> = vec![
        (
            "wrong DG2 hash",
            sign(&good, dk, dc),
            tampered_dg2,
            Face::Match,
            (422, "tampered_data_group"),
        ),
        (
            "wrong SOD signature",
            bad_signature,
            good.clone(),
            Face::Match,
            (422, "tampered_document"),
        ),
        (
            "untrusted CSCA",
            sign(&good, &untrusted_key, &untrusted),
            good.clone(),
            Face::Match,
            (422, "untrusted_document"),
        ),
        (
            // ICAO 9303 part 11 §5.1: the signer's trust is checked before the signature.
            "untrusted CSCA and a wrong SOD signature",
            badly_signed(&untrusted_key, &untrusted),
            good.clone(),
            Face::Match,
            (422, "untrusted_document"),
        ),
        (
            "expired DS",
            sign(&good, &expired_key, &expired),
            good.clone(),
            Face::Match,
            (422, "certificate_not_valid"),
        ),
        (
            "revoked DS",
            sign(&good, &revoked_key, &revoked),
            good.clone(),
            Face::Match,
            (422, "revoked_document_signer"),
        ),
        (
            "another citizen's card",
            sign(&other_groups, dk, dc),
            other_groups.clone(),
            Face::Match,
            (403, "not_your_card"),
        ),
        (
            "expired card",
            sign(&expired_card_groups, dk, dc),
            expired_card_groups.clone(),
            Face::Match,
            (422, "document_expired"),
        ),
        (
            "register mismatch",
            sign(&wrong_birth_groups, dk, dc),
            wrong_birth_groups.clone(),
            Face::Match,
            (422, "register_mismatch"),
        ),
        (
            "face below the threshold",
            sign(&good, dk, dc),
            good.clone(),
            Face::NoMatch,
            (422, "face_not_matched"),
        ),
        (
            "face result of another check",
            sign(&good, dk, dc),
            good.clone(),
            Face::OtherCheck,
            (422, "invalid_face_result"),
        ),
        (
            "face result against another portrait",
            sign(&good, dk, dc),
            good.clone(),
            Face::OtherPortrait,
            (422, "face_portrait_mismatch"),
        ),
    ];
    let count = cases.len();
    for (name, sod, groups, face, expected) in cases {
        let (ticket, nonce) = start(&mut browser).await;
        let dg2 = &groups[&2];
        let face = match face {
            Face::Match => issuer.face(&nonce, dg2, true).await,
            Face::NoMatch => issuer.face(&nonce, dg2, false).await,
            Face::OtherCheck => issuer.face("another check", dg2, true).await,
            Face::OtherPortrait => issuer.face(&nonce, b"the uploader's photo", true).await,
        };
        let response = upload(&p, Some(&ticket), &body(&sod, &groups, &face)).await;
        let (status, error) = refused(response).await;
        assert_eq!((status, error.as_str()), expected, "{name}");
    }
    assert_eq!(high_records(&p).await, 0);
    let failures = p
        .audit()
        .await
        .into_iter()
        .filter(|r| r.event == AuditEvent::IdentityProofed && r.outcome == Outcome::Failure)
        .count();
    assert_eq!(failures, count, "every refused upload is audited");
}

#[tokio::test]
async fn tickets_bodies_and_the_start_form_are_checked() {
    let issuer = Issuer::new();
    let (p, mut browser) = provider(&issuer, 100).await;
    let card = card_of(&p);
    let groups = groups(&card);
    let sod = sod_for(&groups, &issuer.ds_key, &issuer.ds_cert);
    let good = |face: &str| body(&sod, &groups, face);
    let some_face = issuer.face("n", &groups[&2], true).await;

    // No ticket, a malformed one, an unknown one.
    for ticket in [
        None,
        Some("not-a-ticket"),
        Some(OpaqueToken::generate().expose()),
    ] {
        let response = upload(&p, ticket, &good(&some_face)).await;
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
        assert_eq!(refused(response).await, (401, "invalid_ticket".into()));
    }
    // Another scheme.
    let (ticket, _) = start(&mut browser).await;
    let response = p
        .http
        .post(format!("{}{}", p.base, paths::CHIP_UPLOAD))
        .header("authorization", format!("Basic {ticket}"))
        .json(&good(&some_face))
        .send()
        .await
        .unwrap();
    assert_eq!(refused(response).await, (401, "invalid_ticket".into()));

    // Malformed uploads: bad base64, an unknown field, a missing field, an oversized data
    // group, not JSON. Each spends its ticket.
    let mut bad_base64 = good(&some_face);
    bad_base64["dg1"] = "not base64!".into();
    let mut unknown = good(&some_face);
    unknown["dg3"] = "AAAA".into();
    let mut missing = good(&some_face);
    missing.as_object_mut().unwrap().remove("dg2");
    let mut big_dg1 = good(&some_face);
    big_dg1["dg1"] = Base64::encode_string(&[0x61; 300]).into();
    for bad in [
        bad_base64,
        unknown,
        missing,
        big_dg1,
        json!("not an upload"),
    ] {
        let (ticket, _) = start(&mut browser).await;
        let response = upload(&p, Some(&ticket), &bad).await;
        assert_eq!(
            refused(response).await,
            (400, "invalid_request".into()),
            "{bad}"
        );
        let reused = upload(&p, Some(&ticket), &good(&some_face)).await;
        assert_eq!(refused(reused).await.1, "invalid_ticket");
    }

    // A body over the limit is refused before anything is read.
    let (ticket, _) = start(&mut browser).await;
    let mut oversized = good(&some_face);
    oversized["dg2"] = Base64::encode_string(&vec![0u8; 200 * 1024]).into();
    let response = upload(&p, Some(&ticket), &oversized).await;
    assert_eq!(refused(response).await, (413, "request_too_large".into()));

    // The start form needs the session's CSRF token, and a session.
    let response = browser.post(paths::CHIP_START, &[]).await;
    assert_eq!(response.status(), 403);
    let response = browser.post(paths::CHIP_START, &[("csrf", "forged")]).await;
    assert_eq!(response.status(), 403);
    let csrf = hidden(&account_page(&mut browser).await, "csrf");
    let mut stranger = p.browser();
    let response = stranger.post(paths::CHIP_START, &[("csrf", &csrf)]).await;
    assert_eq!(response.status(), 303, "signed out: to the account page");
    // And a recent sign-in.
    age_session(&p, &browser, Duration::from_secs(16 * 60)).await;
    let response = browser.post(paths::CHIP_START, &[("csrf", &csrf)]).await;
    assert_eq!(notice(&response), "reauth");
}

#[tokio::test]
async fn without_chip_settings_the_chip_path_is_disabled() {
    let p = Provider::start().await;
    let mut browser = signed_in(&p).await;
    let html = account_page(&mut browser).await;
    assert!(html.contains("id=\"chip-disabled\"") && !html.contains("id=\"chip-start\""));
    let csrf = hidden(&html, "csrf");
    let response = browser.post(paths::CHIP_START, &[("csrf", &csrf)]).await;
    assert_eq!(response.status(), 404);
    let ticket = OpaqueToken::generate();
    let response = upload(&p, Some(ticket.expose()), &json!({})).await;
    assert_eq!(refused(response).await, (404, "chip_check_disabled".into()));
}

#[tokio::test]
async fn chip_checks_are_rate_limited_per_account() {
    let issuer = Issuer::new();
    let (p, mut browser) = provider(&issuer, 3).await;
    // A ticket and its upload count two; the third count is the second ticket.
    let (ticket, _) = start(&mut browser).await;
    let response = upload(&p, Some(&ticket), &json!({})).await;
    assert_eq!(refused(response).await.1, "invalid_request");
    let (ticket, _) = start(&mut browser).await;
    let response = upload(&p, Some(&ticket), &json!({})).await;
    assert_eq!(refused(response).await, (429, "rate_limited".into()));
    let csrf = hidden(&account_page(&mut browser).await, "csrf");
    let response = browser.post(paths::CHIP_START, &[("csrf", &csrf)]).await;
    assert_eq!(response.status(), 429);
}
