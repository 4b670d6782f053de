//! The chip path to level high. A signed-in citizen starts a chip check on the account page
//! and is shown a single-use upload ticket and the face check's nonce. Their phone app reads
//! the citizen ID card's chip (ICAO 9303) and posts EF.SOD, DG1, DG2 (DG13, DG14 when
//! present) and the face matching vendor's signed result to [`paths::CHIP_UPLOAD`], with
//! the ticket as a bearer token. The service then performs passive authentication against
//! the trust list, checks that the card is the account's (DG1's personal ID number) and not
//! expired, that the vendor's result answers this check, compared the selfie with this very
//! DG2 (its `portrait_sha256`) and passed, and that DG1's data matches an active register
//! record; then it records a register-and-chip eKYC record at level high.
//!
//! The ticket is 256 random bits, kept only hashed in the ephemeral store, bound to the
//! account and taken on first use: one upload per ticket, whatever its outcome. Every
//! upload that presents a ticket is audited (`identity_proofed`, success or failure),
//! without personal data.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64ct::{Base64, Encoding as _};
use eid_core::assurance::{Loa, ProofingEvidence};
use eid_core::audit::{Actor, AuditEvent, AuditRecord, Outcome};
use eid_core::citizen::{PersonalId, Sex};
use eid_core::credential::chip::{self, ChipError, PassiveAuthentication, Td1Mrz};
use eid_core::credential::ekyc::EkycRecord;
use eid_core::credential::face::{FaceError, PortraitDigest};
use eid_core::ratelimit::Decision;
use eid_core::registry::{Attribute, IdentityClaims, Match, RecordStatus};
use eid_core::store::{Account, AccountId, AccountStatus};
use eid_core::token::OpaqueToken;
use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, Time};

use super::account::{REAUTH_AFTER, checked};
use super::authorize::internal_page;
use super::pages::{self, ChipTicketPage, no_store, texts};
use super::{ChipSettings, ClientIp, Oidc, paths};
use crate::accounts::ENROLMENT_EKYC_VALIDITY;

/// Largest upload body: the data groups below in base64, and the JSON around them.
const MAX_UPLOAD: usize = 192 * 1024;
/// Largest EF.SOD (a real one, with its DS certificate, is a few KiB).
const MAX_SOD: usize = 16 * 1024;
/// Largest DG1 (a TD1 MRZ in its TLV is 95 bytes).
const MAX_DG1: usize = 256;
/// Largest DG2 (the portrait, JPEG or JPEG 2000).
const MAX_DG2: usize = 96 * 1024;
/// Largest DG13 or DG14.
const MAX_OPTIONAL_DG: usize = 8 * 1024;
/// Largest face vendor result (a compact JWS).
const MAX_FACE_RESULT: usize = 8 * 1024;

/// The upload endpoint, with its own body limit.
pub(super) fn routes(oidc: Arc<Oidc>) -> Router {
    Router::new()
        .route(paths::CHIP_UPLOAD, post(upload))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
        .with_state(oidc)
}

/// What the ephemeral store keeps under a ticket's hash.
#[derive(Serialize, Deserialize)]
struct Ticket {
    /// The account the check is for.
    account: AccountId,
    /// The nonce the face vendor's result must carry.
    nonce: String,
}

/// The ephemeral store key of `ticket`: only its SHA-256 is stored.
fn ticket_key(ticket: &OpaqueToken) -> String {
    format!("chip-ticket:{}", ticket.hash().to_hex())
}

/// `POST /account/chip` (form: `csrf`): a signed-in citizen, signed in within
/// [`REAUTH_AFTER`], gets an upload ticket and the face check's nonce for their phone app.
pub async fn start(State(oidc): State<Arc<Oidc>>, headers: HeaderMap, body: Bytes) -> Response {
    let (c, _) = match checked(&oidc, &headers, &body, REAUTH_AFTER).await {
        Ok(checked) => checked,
        Err((refused, lang)) => return refused.page(lang),
    };
    let t = texts(c.lang);
    let Some(settings) = &oidc.chip else {
        return pages::error(StatusCode::NOT_FOUND, c.lang, t.chip_disabled);
    };
    let account = c.session.account;
    match oidc.chip_account.hit(&account.to_string()).await {
        Ok(Decision::Allowed { .. }) => {}
        Ok(Decision::Limited) => {
            return pages::error(StatusCode::TOO_MANY_REQUESTS, c.lang, t.rate_limited);
        }
        Err(err) => return internal_page(c.lang, &err),
    }
    let ticket = OpaqueToken::generate();
    let nonce = OpaqueToken::generate().expose().to_owned();
    let stored = serde_json::to_vec(&Ticket {
        account,
        nonce: nonce.clone(),
    });
    let stored = match stored {
        Ok(stored) => stored,
        Err(err) => return internal_page(c.lang, &err),
    };
    let key = ticket_key(&ticket);
    let put = oidc.ephemeral.put(&key, &stored, settings.ticket_lifetime);
    if let Err(err) = put.await {
        return internal_page(c.lang, &err);
    }
    pages::chip_ticket(&ChipTicketPage {
        lang: c.lang,
        ticket: ticket.expose(),
        nonce: &nonce,
        upload_url: &oidc.endpoint(paths::CHIP_UPLOAD),
        minutes: settings.ticket_lifetime.as_secs().div_ceil(60),
    })
}

/// The phone app's upload: base64 (standard alphabet, padded) data groups as read from the
/// chip, and the face vendor's signed result.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    sod: String,
    dg1: String,
    dg2: String,
    dg13: Option<String>,
    dg14: Option<String>,
    face_result: String,
}

/// Why an upload was refused: one JSON `error` code per class of failure.
#[derive(Debug)]
enum Failure {
    Disabled,
    RateLimited,
    InvalidTicket,
    InvalidRequest(String),
    TooLarge,
    MalformedDocument(String),
    UntrustedDocument,
    TamperedDocument,
    TamperedDataGroup(u8),
    CertificateNotValid(String),
    RevokedDocumentSigner,
    NotYourCard,
    DocumentExpired,
    InvalidFaceResult,
    FacePortraitMismatch,
    FaceNotMatched,
    RegisterMismatch,
    RecordNotActive,
    RegisterDown,
}

impl Failure {
    fn of_chip(err: ChipError) -> Self {
        match err {
            ChipError::Malformed(_)
            | ChipError::UnsupportedAlgorithm(_)
            | ChipError::MissingDataGroup(_)
            | ChipError::UnlistedDataGroup(_) => Failure::MalformedDocument(err.to_string()),
            ChipError::UntrustedCsca | ChipError::BadDsSignature => Failure::UntrustedDocument,
            ChipError::BadSodSignature(_) => Failure::TamperedDocument,
            ChipError::DataGroupHashMismatch(n) => Failure::TamperedDataGroup(n),
            ChipError::CertificateNotValid(what) => Failure::CertificateNotValid(what),
            ChipError::RevokedDs => Failure::RevokedDocumentSigner,
        }
    }

    /// Status, `error` code and `error_description`.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        use StatusCode as S;
        let text = |s: &str| s.to_owned();
        match self {
            Failure::Disabled => (
                S::NOT_FOUND,
                "chip_check_disabled",
                text("this service does not offer the chip check"),
            ),
            Failure::RateLimited => (
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                text("too many chip checks; try again later"),
            ),
            Failure::InvalidTicket => (
                S::UNAUTHORIZED,
                "invalid_ticket",
                text("the upload ticket is missing, malformed, expired or used"),
            ),
            Failure::InvalidRequest(why) => (S::BAD_REQUEST, "invalid_request", why.clone()),
            Failure::TooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "request_too_large",
                format!("the request body exceeds {MAX_UPLOAD} bytes"),
            ),
            Failure::MalformedDocument(why) => {
                (S::UNPROCESSABLE_ENTITY, "malformed_document", why.clone())
            }
            Failure::UntrustedDocument => (
                S::UNPROCESSABLE_ENTITY,
                "untrusted_document",
                text("the document signer does not chain to a trusted CSCA"),
            ),
            Failure::TamperedDocument => (
                S::UNPROCESSABLE_ENTITY,
                "tampered_document",
                text("the EF.SOD signature does not verify"),
            ),
            Failure::TamperedDataGroup(n) => (
                S::UNPROCESSABLE_ENTITY,
                "tampered_data_group",
                format!("the hash of DG{n} does not match the EF.SOD"),
            ),
            Failure::CertificateNotValid(what) => (
                S::UNPROCESSABLE_ENTITY,
                "certificate_not_valid",
                what.clone(),
            ),
            Failure::RevokedDocumentSigner => (
                S::UNPROCESSABLE_ENTITY,
                "revoked_document_signer",
                text("the document signer certificate is revoked"),
            ),
            Failure::NotYourCard => (
                S::FORBIDDEN,
                "not_your_card",
                text("the card does not carry this account's personal ID number"),
            ),
            Failure::DocumentExpired => (
                S::UNPROCESSABLE_ENTITY,
                "document_expired",
                text("the card has expired"),
            ),
            Failure::InvalidFaceResult => (
                S::UNPROCESSABLE_ENTITY,
                "invalid_face_result",
                text("the face check result is not the vendor's signed result for this check"),
            ),
            Failure::FacePortraitMismatch => (
                S::UNPROCESSABLE_ENTITY,
                "face_portrait_mismatch",
                text("the face check result compared the selfie with another portrait than DG2"),
            ),
            Failure::FaceNotMatched => (
                S::UNPROCESSABLE_ENTITY,
                "face_not_matched",
                text("the face check did not pass"),
            ),
            Failure::RegisterMismatch => (
                S::UNPROCESSABLE_ENTITY,
                "register_mismatch",
                text("the card's data does not match the national population register"),
            ),
            Failure::RecordNotActive => (
                S::FORBIDDEN,
                "record_not_active",
                text("the register record cannot be used online; contact the police office"),
            ),
            Failure::RegisterDown => (
                S::SERVICE_UNAVAILABLE,
                "register_unavailable",
                text("the national population register cannot be reached; try again later"),
            ),
        }
    }

    fn response(&self) -> Response {
        let (status, code, description) = self.parts();
        let mut response = api_error(status, code, &description);
        if matches!(self, Failure::InvalidTicket) {
            // RFC 6750 section 3.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response
    }
}

fn api_error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({ "error": code, "error_description": description });
    (status, no_store(), Json(body)).into_response()
}

/// The answer to a successful check.
#[derive(Serialize)]
struct Verified {
    status: &'static str,
    level: Loa,
    evidence: ProofingEvidence,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    checks: [&'static str; 4],
}

/// `POST /ekyc/chip` (JSON, `Authorization: Bearer <ticket>`).
async fn upload(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(settings) = oidc.chip.as_ref() else {
        return Failure::Disabled.response();
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Failure::TooLarge.response();
        }
        Err(_) => {
            return Failure::InvalidRequest("unreadable request body".into()).response();
        }
    };
    match ticketed(&oidc, settings, &ip.to_string(), &headers, &body).await {
        Ok(Ok(verified)) => (StatusCode::CREATED, no_store(), Json(verified)).into_response(),
        Ok(Err(failure)) => failure.response(),
        Err(err) => {
            tracing::error!(cause = %err, "chip check failed");
            api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the check could not be completed",
            )
        }
    }
}

/// Counts the attempt, takes the ticket, checks the upload and audits the outcome.
async fn ticketed(
    oidc: &Oidc,
    settings: &ChipSettings,
    ip: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> anyhow::Result<Result<Verified, Failure>> {
    if oidc.chip_ip.hit(ip).await? == Decision::Limited {
        return Ok(Err(Failure::RateLimited));
    }
    let Some(ticket) = bearer(headers) else {
        return Ok(Err(Failure::InvalidTicket));
    };
    let Some(stored) = oidc.ephemeral.take(&ticket_key(&ticket)).await? else {
        return Ok(Err(Failure::InvalidTicket));
    };
    let ticket: Ticket = serde_json::from_slice(&stored)?;
    let account = oidc.durable.account(ticket.account).await?;
    if account.status != AccountStatus::Active {
        return Ok(Err(Failure::InvalidTicket));
    }
    if oidc.chip_account.hit(&account.id.to_string()).await? == Decision::Limited {
        return Ok(Err(Failure::RateLimited));
    }
    let outcome = check(oidc, settings, &account, &ticket.nonce, body).await?;
    let mut record = AuditRecord::new(
        AuditEvent::IdentityProofed,
        Actor::Account(account.id),
        if outcome.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        },
    );
    record.subject = Some(account.id);
    if let Ok(verified) = &outcome {
        record.loa = Some(verified.level);
    }
    oidc.audit.append(record).await?;
    if let Err(failure) = &outcome {
        // The failure class only: no chip or register data in the logs.
        tracing::info!(reason = failure.parts().1, "chip check refused");
    }
    Ok(outcome)
}

/// The ticket of an `Authorization: Bearer` header (RFC 6750 section 2.1; the scheme is
/// case-insensitive, RFC 9110 section 11.1).
fn bearer(headers: &HeaderMap) -> Option<OpaqueToken> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    OpaqueToken::parse(token.trim()).ok()
}

/// Decodes base64 `value` of field `name`, of at most `max` bytes, non-empty.
fn decode(name: &str, value: &str, max: usize) -> Result<Vec<u8>, Failure> {
    let invalid = |why: &str| Failure::InvalidRequest(format!("{name}: {why}"));
    if value.len() > max.div_ceil(3) * 4 {
        return Err(invalid(&format!("larger than {max} bytes")));
    }
    let bytes = Base64::decode_vec(value).map_err(|_| invalid("not standard base64"))?;
    if bytes.is_empty() {
        return Err(invalid("empty"));
    }
    if bytes.len() > max {
        return Err(invalid(&format!("larger than {max} bytes")));
    }
    Ok(bytes)
}

/// An upload, decoded and size-checked.
struct ChipData {
    /// EF.SOD.
    sod: Vec<u8>,
    /// The data groups by number.
    groups: BTreeMap<u8, Vec<u8>>,
    /// The face vendor's signed result.
    face_result: String,
}

/// Decodes and size-checks an upload.
fn parse(body: &[u8]) -> Result<ChipData, Failure> {
    let upload: Upload = serde_json::from_slice(body)
        .map_err(|err| Failure::InvalidRequest(format!("not the expected JSON: {err}")))?;
    if upload.face_result.len() > MAX_FACE_RESULT {
        return Err(Failure::InvalidRequest(format!(
            "face_result: larger than {MAX_FACE_RESULT} bytes"
        )));
    }
    let sod = decode("sod", &upload.sod, MAX_SOD)?;
    let mut groups = BTreeMap::from([
        (1, decode("dg1", &upload.dg1, MAX_DG1)?),
        (2, decode("dg2", &upload.dg2, MAX_DG2)?),
    ]);
    for (number, name, value) in [(13, "dg13", upload.dg13), (14, "dg14", upload.dg14)] {
        if let Some(value) = value {
            groups.insert(number, decode(name, &value, MAX_OPTIONAL_DG)?);
        }
    }
    Ok(ChipData {
        sod,
        groups,
        face_result: upload.face_result,
    })
}

/// The checks of an upload for `account`, in order: passive authentication, the card's
/// number is the account's, the card is valid, the face result, the register. On success
/// the eKYC record is stored.
async fn check(
    oidc: &Oidc,
    settings: &ChipSettings,
    account: &Account,
    nonce: &str,
    body: &[u8],
) -> anyhow::Result<Result<Verified, Failure>> {
    let data = match parse(body) {
        Ok(parsed) => parsed,
        Err(failure) => return Ok(Err(failure)),
    };
    let now = OffsetDateTime::now_utc();
    // ICAO 9303 part 11 §5.1: passive authentication.
    let pa = match chip::verify_sod(&data.sod, &data.groups, &settings.trust, now) {
        Ok(pa) => pa,
        Err(err) => return Ok(Err(Failure::of_chip(err))),
    };
    if pa.mrz.personal_id.as_deref() != Some(account.personal_id.expose().as_str()) {
        return Ok(Err(Failure::NotYourCard));
    }
    let Some(card_expiry) = mrz_date(&pa.mrz.date_of_expiry, |yy| 2000 + yy) else {
        return Ok(Err(Failure::MalformedDocument(
            "DG1: unreadable date of expiry".into(),
        )));
    };
    if card_expiry < now.date() {
        return Ok(Err(Failure::DocumentExpired));
    }
    // The vendor must have compared the selfie with the DG2 that passed passive
    // authentication above, not with any other photo.
    let portrait = PortraitDigest::of(&data.groups[&2]);
    let face = match settings
        .face
        .verify(&data.face_result, nonce, &portrait, now)
    {
        Ok(face) if face.passed => face,
        Ok(_) => return Ok(Err(Failure::FaceNotMatched)),
        Err(FaceError::WrongPortrait) => return Ok(Err(Failure::FacePortraitMismatch)),
        Err(err) => {
            tracing::info!(reason = %err, "face check result refused");
            return Ok(Err(Failure::InvalidFaceResult));
        }
    };
    let (claims, required) = match claims(&account.personal_id, &pa.mrz) {
        Some(claims) => claims,
        None => return Ok(Err(Failure::RegisterMismatch)),
    };
    if claims.check_consistent().is_err() {
        return Ok(Err(Failure::RegisterMismatch));
    }
    let found = match oidc.registry.verify(&claims).await {
        Ok(found) => found,
        Err(err) => {
            tracing::error!(cause = %err, "the population register failed");
            return Ok(Err(Failure::RegisterDown));
        }
    };
    match &found {
        Match::Found(record) if record.status() != RecordStatus::Active => {
            return Ok(Err(Failure::RecordNotActive));
        }
        _ if !found.confirms(&required) => return Ok(Err(Failure::RegisterMismatch)),
        _ => {}
    }
    // The card is valid through its date of expiry.
    let card_end = card_expiry.with_time(Time::MIDNIGHT).assume_utc() + time::Duration::DAY;
    let expires_at = (now + ENROLMENT_EKYC_VALIDITY).min(card_end);
    let details = serde_json::json!({
        "chip": chip_details(&pa),
        "register": {
            "status": "active",
            "by": "chip",
            "matched": required,
            "rectified": found.needs_rectification(),
        },
        "face": face,
    });
    let record = EkycRecord::issue(
        account.id,
        ProofingEvidence::RegisterAndChip,
        Loa::High,
        details,
        now,
        expires_at,
    )?;
    oidc.durable.insert_ekyc(&record).await?;
    Ok(Ok(Verified {
        status: "verified",
        level: record.loa,
        evidence: record.evidence,
        expires_at: record.expires_at,
        checks: ["passive_authentication", "personal_id", "face", "register"],
    }))
}

/// What the evidence keeps of passive authentication: which data groups were verified and
/// who signed them, not the holder's data.
fn chip_details(pa: &PassiveAuthentication) -> serde_json::Value {
    serde_json::json!({
        "passive_authentication": "ok",
        "data_groups": pa.verified_data_groups,
        "hash_algorithm": format!("{:?}", pa.hash_algorithm),
        "document_signer": {
            "subject": pa.ds_subject,
            "serial": eid_core::store::hex(&pa.ds_serial),
        },
        "issuing_state": pa.mrz.issuing_state,
        "personal_id": "matches the account",
    })
}

/// The register claims DG1 supports, and the attributes that must match: the date of birth
/// (its century from the personal ID number), the sex when the MRZ states one, and the
/// nationality. The MRZ's names are an ASCII transliteration (ICAO 9303 part 3 §6) while
/// the register keeps diacritics, which matching treats as significant, so they are not
/// claimed. `None` when the date of birth cannot be read.
fn claims(id: &PersonalId, mrz: &Td1Mrz) -> Option<(IdentityClaims, Vec<Attribute>)> {
    let year = id.birth_year();
    let birth_date = mrz_date(&mrz.date_of_birth, |yy| year - year.rem_euclid(100) + yy)?;
    let mut claims = IdentityClaims::new(*id);
    let mut required = vec![Attribute::BirthDate, Attribute::Nationality];
    claims.birth_date = Some(birth_date);
    claims.sex = match mrz.sex {
        chip::Sex::Male => Some(Sex::Male),
        chip::Sex::Female => Some(Sex::Female),
        chip::Sex::Unspecified => None,
    };
    if claims.sex.is_some() {
        required.push(Attribute::Sex);
    }
    // ICAO 9303 part 3 §5: alpha-3 codes; the register keeps ISO 3166-1 alpha-2.
    claims.nationality = Some(match mrz.nationality.as_str() {
        "VNM" => "VN".to_owned(),
        other => other.to_owned(),
    });
    Some((claims, required))
}

/// An MRZ date `YYMMDD`, the year from `century(YY)`.
fn mrz_date(text: &str, century: impl Fn(i32) -> i32) -> Option<Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 6 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let pair = |i: usize| (bytes[i] - b'0') * 10 + (bytes[i + 1] - b'0');
    let month = Month::try_from(pair(2)).ok()?;
    Date::from_calendar_date(century(i32::from(pair(0))), month, pair(4)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mrz_dates() {
        assert_eq!(
            mrz_date("900315", |yy| 1900 + yy),
            Date::from_calendar_date(1990, Month::March, 15).ok()
        );
        assert_eq!(mrz_date("901315", |yy| 1900 + yy), None);
        assert_eq!(mrz_date("90<<<<", |yy| 1900 + yy), None);
        assert_eq!(mrz_date("9003", |yy| 1900 + yy), None);
    }

    #[test]
    fn bearer_tickets() {
        let ticket = OpaqueToken::generate();
        let mut headers = HeaderMap::new();
        assert!(bearer(&headers).is_none());
        let value = format!("bEaReR {}", ticket.expose());
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        assert_eq!(
            bearer(&headers).map(|t| t.hash()),
            Some(ticket.hash()),
            "the scheme is case-insensitive"
        );
        headers.insert(header::AUTHORIZATION, "Bearer short".parse().unwrap());
        assert!(bearer(&headers).is_none());
        let basic = format!("Basic {}", ticket.expose());
        headers.insert(header::AUTHORIZATION, basic.parse().unwrap());
        assert!(bearer(&headers).is_none());
    }

    #[test]
    fn base64_fields_are_bounded() {
        assert_eq!(decode("x", "AQID", 3).unwrap(), vec![1, 2, 3]);
        assert!(matches!(
            decode("x", "AQIDBA==", 3),
            Err(Failure::InvalidRequest(_))
        ));
        assert!(matches!(
            decode("x", "", 3),
            Err(Failure::InvalidRequest(_))
        ));
        assert!(matches!(
            decode("x", "not base64!", 30),
            Err(Failure::InvalidRequest(_))
        ));
    }
}
