//! Self-enrolment against the embedded register: a full match creates a proofed account
//! and signs the citizen in; every refusal keeps the register's values to itself.

use eid_core::assurance::{Loa, ProofingEvidence};
use eid_core::audit::AuditEvent;
use eid_core::registry::{RecordStatus, RegisterRecord, SyntheticPopulation};

use crate::support::{Browser, Provider, hidden, location};

/// The register the harness loads (20 synthetic citizens, seed 3).
fn register() -> Vec<RegisterRecord> {
    SyntheticPopulation::new(20, 3)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// An active citizen without an account (the harness enrols the first active one).
fn newcomer() -> RegisterRecord {
    register()
        .into_iter()
        .filter(|r| r.status == RecordStatus::Active)
        .nth(1)
        .unwrap()
}

/// The form fields claiming `record`'s identity, with `password` twice.
fn fields(record: &RegisterRecord, password: &str) -> Vec<(&'static str, String)> {
    let id = &record.identity;
    vec![
        ("personal_id", record.personal_id.expose()),
        ("family_name", id.family_name.clone()),
        ("middle_names", id.middle_names.clone()),
        ("given_name", id.given_name.clone()),
        ("birth_date", id.birth_date.to_string()),
        ("sex", id.sex.as_str().to_owned()),
        ("place_of_birth", id.place_of_birth.clone()),
        ("password", password.to_owned()),
        ("password_again", password.to_owned()),
    ]
}

/// Opens the form and posts `fields` with its flow id and CSRF token.
async fn submit(browser: &mut Browser, fields: &[(&'static str, String)]) -> reqwest::Response {
    let page = browser.get("/enrol").await.text().await.unwrap();
    let (req, csrf) = (hidden(&page, "req"), hidden(&page, "csrf"));
    let mut form: Vec<(&str, &str)> = vec![("req", &req), ("csrf", &csrf)];
    form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
    browser.post("/enrol", &form).await
}

const PASSWORD: &str = "a long enough password";

#[tokio::test]
async fn a_full_match_creates_a_proofed_account_and_signs_in() {
    let p = Provider::start().await;
    let mut browser = p.browser();
    let record = newcomer();
    let done = submit(&mut browser, &fields(&record, PASSWORD)).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/account?notice=enrolled");
    let account = p
        .durable
        .find_account(&record.personal_id)
        .await
        .unwrap()
        .expect("an account");
    let ekyc = p.durable.ekyc_records(account.id).await.unwrap();
    assert_eq!(ekyc.len(), 1);
    assert_eq!(ekyc[0].evidence, ProofingEvidence::RegisterMatch);
    assert_eq!(ekyc[0].loa, Loa::Substantial);
    let page = browser.get("/account?notice=enrolled").await;
    assert_eq!(page.status(), 200);
    // The default language is Vietnamese: "… your identity verified."
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("danh tính của bạn đã được xác minh")
    );
    let events: Vec<_> = p.audit().await.into_iter().map(|r| r.event).collect();
    for event in [
        AuditEvent::AccountCreated,
        AuditEvent::CredentialAdded,
        AuditEvent::IdentityProofed,
    ] {
        assert!(events.contains(&event), "{event:?} audited");
    }

    // Enrolling the same number again never touches the account.
    let again = submit(&mut p.browser(), &fields(&record, "another long password")).await;
    assert_eq!(again.status(), 409);
}

#[tokio::test]
async fn refusals_do_not_reveal_the_register() {
    let p = Provider::start().await;
    let record = newcomer();
    let no_match = "không khớp với Cơ sở dữ liệu quốc gia về dân cư";

    let mut wrong_name = fields(&record, PASSWORD);
    wrong_name[3].1 = format!("{}x", wrong_name[3].1);
    let mut unknown = fields(&record, PASSWORD);
    let digits = record.personal_id.expose();
    // Same place, century, sex and year digits; another serial: not in a 20-person register.
    unknown[0].1 = format!(
        "{}{:06}",
        &digits[..6],
        (digits[6..].parse::<u32>().unwrap() + 1) % 1_000_000
    );
    for (case, form) in [
        ("wrong given name", wrong_name),
        ("unknown number", unknown),
    ] {
        let refused = submit(&mut p.browser(), &form).await;
        assert_eq!(refused.status(), 422, "{case}");
        let text = refused.text().await.unwrap();
        assert!(text.contains(no_match), "{case}");
    }
    assert!(
        p.durable
            .find_account(&record.personal_id)
            .await
            .unwrap()
            .is_none(),
        "no account after refusals"
    );

    if let Some(dead) = register()
        .into_iter()
        .find(|r| r.status != RecordStatus::Active)
    {
        let refused = submit(&mut p.browser(), &fields(&dead, PASSWORD)).await;
        assert_eq!(refused.status(), 403);
    }

    let mut differ = fields(&record, PASSWORD);
    differ[8].1 = "something else entirely".to_owned();
    assert_eq!(submit(&mut p.browser(), &differ).await.status(), 400);
    let mut bad_date = fields(&record, PASSWORD);
    bad_date[4].1 = "31/02/1990".to_owned();
    assert_eq!(submit(&mut p.browser(), &bad_date).await.status(), 400);

    // A form without its CSRF token, or posted from another browser.
    let mut browser = p.browser();
    let page = browser.get("/enrol").await.text().await.unwrap();
    let req = hidden(&page, "req");
    let forged = browser
        .post("/enrol", &[("req", &req), ("csrf", "forged")])
        .await;
    assert_eq!(forged.status(), 403);
    let csrf = hidden(&page, "csrf");
    let stolen = p
        .browser()
        .post("/enrol", &[("req", &req), ("csrf", &csrf)])
        .await;
    assert_eq!(stolen.status(), 403);
}

#[tokio::test]
async fn attempts_per_number_are_limited() {
    let p = Provider::start().await;
    let record = newcomer();
    let mut wrong = fields(&record, PASSWORD);
    wrong[1].1 = "Sai".to_owned();
    for _ in 0..5 {
        assert_eq!(submit(&mut p.browser(), &wrong).await.status(), 422);
    }
    // The sixth attempt is refused before the register is asked, even when right.
    let right = submit(&mut p.browser(), &fields(&record, PASSWORD)).await;
    assert_eq!(right.status(), 429);
}
