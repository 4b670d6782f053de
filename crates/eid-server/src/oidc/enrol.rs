//! Citizen self-enrolment (eKYC by register match): the citizen gives their personal ID
//! number and pivot identity (names, date and place of birth, sex) and chooses a
//! password; when the population register confirms every pivot attribute of an active
//! record, an account is created with a register-match eKYC record (level substantial at
//! most: national level 1), and the citizen is signed in.
//!
//! A mismatch never says which attribute differs, nor whether the number exists: the
//! register's values stay the register's. Attempts are counted per number and per client
//! IP before the register is asked. When the register cannot be reached, enrolment says so
//! and nothing else is affected.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use eid_core::citizen::{PersonalId, Sex};
use eid_core::credential::password::Password;
use eid_core::ratelimit::Decision;
use eid_core::registry::{Attribute, IdentityClaims, Match, RecordStatus, RegistryError};

use super::authn::{self, Method};
use super::authorize::{accept_language, internal_page, replace_session, unix_now};
use super::error::see_other;
use super::flow;
use super::lang::Lang;
use super::pages::{self, EnrolForm, texts};
use super::params::Params;
use super::session::{Browser, cookie, flow_cookie, session_cookie, set_cookie};
use super::{ClientIp, Oidc, paths};

/// The flow kind of an enrolment form.
const ENROL: &str = "enrol";

/// `GET /enrol`: the enrolment form, bound to this browser.
pub async fn enrol_page(State(oidc): State<Arc<Oidc>>, headers: HeaderMap) -> Response {
    let lang = Lang::choose(None, accept_language(&headers));
    let browser = Browser::of(&headers, oidc.secure_cookies);
    let created = flow::create(oidc.ephemeral.as_ref(), ENROL, (), &browser.id, unix_now());
    let (id, csrf) = match created.await {
        Ok(created) => created,
        Err(err) => return internal_page(lang, &err),
    };
    let mut response = pages::enrol(
        StatusCode::OK,
        &EnrolForm {
            lang,
            req: id.expose(),
            csrf: &csrf,
            params: &Params::default(),
            error: None,
        },
    );
    browser.remember(&mut response, oidc.secure_cookies);
    response
}

/// Why an enrolment was not done.
enum Refusal {
    /// A field is missing or malformed (the text says which).
    Invalid(&'static str),
    /// Too many attempts.
    RateLimited,
    /// The register does not confirm the claims (or does not know the number).
    NoMatch,
    /// The record is not active (deceased, card revoked, number replaced).
    NotEligible,
    /// The number has an account already.
    Exists,
    /// The register cannot be reached.
    RegisterDown,
}

/// `POST /enrol`: checks the form against the register and creates the account.
pub async fn enrol_submit(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lang = Lang::choose(None, accept_language(&headers));
    let forbidden = || pages::error(StatusCode::FORBIDDEN, lang, texts(lang).forbidden);
    let Ok(params) = Params::parse(&body) else {
        return forbidden();
    };
    let id = params.get("req").unwrap_or_default();
    let browser = cookie(&headers, flow_cookie(oidc.secure_cookies));
    let flow = match flow::load::<()>(oidc.ephemeral.as_ref(), ENROL, id, browser.as_ref()).await {
        Ok(Some(flow)) if flow.csrf_matches(params.get("csrf").unwrap_or_default()) => flow,
        Ok(_) => return forbidden(),
        Err(err) => return internal_page(lang, &err),
    };
    let outcome = match enrol(&oidc, &ip.to_string(), &params, lang).await {
        Ok(outcome) => outcome,
        Err(err) => return internal_page(lang, &err),
    };
    let account = match outcome {
        Ok(account) => account,
        Err(refusal) => {
            let t = texts(lang);
            let (status, message) = match refusal {
                Refusal::Invalid(message) => (StatusCode::BAD_REQUEST, message),
                Refusal::RateLimited => (StatusCode::TOO_MANY_REQUESTS, t.rate_limited),
                Refusal::NoMatch => (StatusCode::UNPROCESSABLE_ENTITY, t.enrol_no_match),
                Refusal::NotEligible => (StatusCode::FORBIDDEN, t.enrol_not_eligible),
                Refusal::Exists => (StatusCode::CONFLICT, t.enrol_exists),
                Refusal::RegisterDown => (StatusCode::SERVICE_UNAVAILABLE, t.register_down),
            };
            return pages::enrol(
                status,
                &EnrolForm {
                    lang,
                    req: id,
                    csrf: &flow.csrf,
                    params: &params,
                    error: Some(message),
                },
            );
        }
    };
    if let Err(err) = flow::finish(oidc.ephemeral.as_ref(), ENROL, id).await {
        return internal_page(lang, &err);
    }
    // The citizen just set their password: signed in with it.
    let session = match authn::new_session(&oidc, &account, Method::Password, None).await {
        Ok(session) => session,
        Err(err) => return internal_page(lang, &err),
    };
    let value = match replace_session(&oidc, &headers, &session).await {
        Ok(value) => value,
        Err(err) => return internal_page(lang, &err),
    };
    let mut response = see_other(&format!("{}?notice=enrolled", paths::ACCOUNT));
    set_cookie(
        &mut response,
        session_cookie(oidc.secure_cookies),
        Some(value.expose()),
        oidc.secure_cookies,
    );
    response
}

/// Validates the form, counts the attempt, asks the register and creates the account.
async fn enrol(
    oidc: &Oidc,
    ip: &str,
    params: &Params,
    lang: Lang,
) -> anyhow::Result<Result<eid_core::store::Account, Refusal>> {
    let t = texts(lang);
    let claims = match claims(params) {
        Some(claims) => claims,
        None => return Ok(Err(Refusal::Invalid(t.enrol_invalid))),
    };
    let password = params.get("password").unwrap_or_default();
    if password != params.get("password_again").unwrap_or_default() {
        return Ok(Err(Refusal::Invalid(t.passwords_differ)));
    }
    let Ok(password) = Password::new(password) else {
        return Ok(Err(Refusal::Invalid(t.weak_password)));
    };
    let by_ip = oidc.enrol_ip.hit(ip).await?;
    let by_number = oidc.enrol_number.hit(&claims.personal_id.expose()).await?;
    if by_ip == Decision::Limited || by_number == Decision::Limited {
        return Ok(Err(Refusal::RateLimited));
    }
    if claims.check_consistent().is_err() {
        return Ok(Err(Refusal::NoMatch));
    }
    let found = match oidc.registry.verify(&claims).await {
        Ok(found) => found,
        Err(RegistryError::Timeout) => return Ok(Err(Refusal::RegisterDown)),
        Err(err) => {
            tracing::error!(cause = %err, "the population register failed");
            return Ok(Err(Refusal::RegisterDown));
        }
    };
    match &found {
        Match::Found(record) if record.status() != RecordStatus::Active => {
            return Ok(Err(Refusal::NotEligible));
        }
        _ if !found.confirms(&Attribute::PIVOT) => return Ok(Err(Refusal::NoMatch)),
        _ => {}
    }
    // Enrolling again must never replace an existing account's credentials: knowing a
    // citizen's register data is not being that citizen.
    if oidc
        .durable
        .find_account(&claims.personal_id)
        .await?
        .is_some()
    {
        return Ok(Err(Refusal::Exists));
    }
    let evidence = serde_json::json!({
        "register": {
            "status": "active",
            "by": "self-enrolment",
            "matched": Attribute::PIVOT,
            "rectified": found.needs_rectification(),
        }
    });
    let account = crate::accounts::proofed_account(
        oidc.durable.as_ref(),
        &oidc.hasher,
        &claims.personal_id,
        password,
        eid_core::assurance::ProofingEvidence::RegisterMatch,
        evidence,
    )
    .await?;
    Ok(Ok(account))
}

/// The claims of the form, if every pivot field is present and well-formed.
fn claims(params: &Params) -> Option<IdentityClaims> {
    let field = |name| {
        params
            .get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.chars().count() <= 100)
    };
    let personal_id = PersonalId::parse(field("personal_id")?).ok()?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let birth_date = time::Date::parse(field("birth_date")?, &format).ok()?;
    let sex = match field("sex")? {
        "male" => Sex::Male,
        "female" => Sex::Female,
        _ => return None,
    };
    let mut claims = IdentityClaims::new(personal_id);
    claims.family_name = Some(field("family_name")?.to_owned());
    claims.middle_names = Some(
        params
            .get("middle_names")
            .unwrap_or_default()
            .trim()
            .to_owned(),
    );
    claims.given_name = Some(field("given_name")?.to_owned());
    claims.birth_date = Some(birth_date);
    claims.sex = Some(sex);
    claims.place_of_birth = Some(field("place_of_birth")?.to_owned());
    Some(claims)
}
