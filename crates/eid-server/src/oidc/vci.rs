//! Credential issuance to the citizen's wallet (OpenID for Verifiable Credential Issuance
//! 1.0, authorization code flow): the Credential Issuer Metadata, the Nonce Endpoint and
//! the Credential Endpoint, issuing the citizen's identity as an SD-JWT VC.
//!
//! The wallet is a registered client allowed the `pid` scope. It runs the code flow of
//! this provider with `scope=openid pid` (the citizen logs in and consents), fetches a
//! `c_nonce` from `POST /nonce`, and posts to `POST /credential` with the access token a
//! `jwt` key proof (Appendix F.1) signed by the key the credential is to be bound to. The
//! credential carries the register's identity of the citizen, `cnf.jwk` = the proof's key,
//! and `status.status_list` {idx, uri}: its entry in a status list served by
//! [`super::status_lists`].

use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eid_core::assurance::Loa;
use eid_core::audit::{Actor, AttributeName, AuditEvent, AuditRecord, Outcome};
use eid_core::credential::key_proof::{DEFAULT_PROOF_MAX_AGE, KeyProofCheck, verify_key_proof};
use eid_core::credential::sdjwt::{DEFAULT_CREDENTIAL_LIFETIME, DEFAULT_VCT, PidIssuer};
use eid_core::credential::status_list::StatusReference;
use eid_core::ratelimit::Decision;
use eid_core::registry::{Authorisation, RecordStatus, RegistryError};
use eid_core::release::{Scope, parse_scopes};
use eid_core::store::{ClientId, CredentialId, NewCredential, key_digest};
use eid_core::token::{OpaqueToken, VerifyError};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::error::{OAuthError, bearer_error, insufficient_user_authentication};
use super::pages::no_store;
use super::userinfo::bearer;
use super::{ClientIp, Oidc, paths};

/// The one credential configuration offered: the PID as an SD-JWT VC.
pub const PID_CONFIGURATION_ID: &str = "pid_sd_jwt";
/// How long a `c_nonce` may be used (once).
pub const NONCE_LIFETIME: StdDuration = StdDuration::from_secs(300);
/// The lowest authentication level at which the PID is issued: it stands for the
/// citizen for a year, so a password alone (low) does not obtain it.
const MIN_ISSUANCE_LOA: Loa = Loa::Substantial;
/// Clock skew tolerated on key proofs.
const PROOF_LEEWAY: time::Duration = time::Duration::seconds(60);
/// Who fetches the register record, and why (the register logs both).
const CALLER: &str = "eid-server/credential";
const PURPOSE: &str = "PID credential issued to the citizen's wallet";
/// The selectively disclosable attributes of the PID, as issued (for metadata and audit).
const PID_CLAIMS: [&str; 7] = [
    "family_name",
    "given_name",
    "birthdate",
    "sex",
    "place_of_birth",
    "nationalities",
    "personal_administrative_number",
];

fn nonce_key(nonce: &str) -> String {
    format!("vci-nonce:{}", key_digest(&[nonce.as_bytes()]))
}

/// The Credential Issuer Metadata (OpenID4VCI 1.0 section 12.2): this provider is also
/// the authorization server, so `authorization_servers` is omitted (section 12.2.4).
pub fn issuer_metadata(oidc: &Oidc) -> Value {
    let claims: Vec<Value> = PID_CLAIMS
        .iter()
        .map(|name| json!({ "path": [name] }))
        .collect();
    json!({
        "credential_issuer": oidc.issuer,
        "credential_endpoint": oidc.endpoint(paths::CREDENTIAL),
        "nonce_endpoint": oidc.endpoint(paths::NONCE),
        "display": [
            { "name": "Định danh điện tử quốc gia", "locale": "vi" },
            { "name": "National electronic identification", "locale": "en" },
        ],
        "credential_configurations_supported": {
            PID_CONFIGURATION_ID: {
                "format": "dc+sd-jwt",
                "scope": Scope::Pid.as_str(),
                "vct": DEFAULT_VCT,
                "cryptographic_binding_methods_supported": ["jwk"],
                "credential_signing_alg_values_supported": ["ES256"],
                "proof_types_supported": {
                    "jwt": { "proof_signing_alg_values_supported": ["ES256"] }
                },
                "credential_metadata": {
                    "display": [
                        { "name": "Căn cước điện tử", "locale": "vi" },
                        { "name": "Personal identification data", "locale": "en" },
                    ],
                    "claims": claims,
                },
            }
        },
    })
}

/// `GET /.well-known/openid-credential-issuer`.
pub async fn metadata(State(oidc): State<Arc<Oidc>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        oidc.credential_issuer_metadata.clone(),
    )
        .into_response()
}

/// `POST /nonce` (OpenID4VCI 1.0 section 7): a fresh `c_nonce`, usable once within
/// [`NONCE_LIFETIME`]. Counted per client IP, as each keeps state until it expires.
pub async fn nonce(State(oidc): State<Arc<Oidc>>, ClientIp(ip): ClientIp) -> Response {
    match oidc.nonce_ip.hit(&ip.to_string()).await {
        Ok(Decision::Allowed { .. }) => {}
        Ok(Decision::Limited) => {
            return OAuthError {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "slow_down",
                description: "too many nonce requests; try again later",
                basic_challenge: false,
            }
            .into_response();
        }
        Err(err) => return OAuthError::internal(&err).into_response(),
    }
    let nonce = OpaqueToken::generate();
    if let Err(err) = oidc
        .ephemeral
        .put(&nonce_key(nonce.expose()), b"1", NONCE_LIFETIME)
        .await
    {
        return OAuthError::internal(&err).into_response();
    }
    // Section 7.2: the response MUST NOT be cached.
    (
        StatusCode::OK,
        no_store(),
        Json(json!({ "c_nonce": nonce.expose() })),
    )
        .into_response()
}

/// The Credential Request (section 8.2). Unknown members are ignored.
#[derive(Deserialize)]
struct CredentialRequest {
    credential_configuration_id: Option<String>,
    credential_identifier: Option<String>,
    proofs: Option<Proofs>,
    credential_response_encryption: Option<Value>,
}

/// The `proofs` member: one array per proof type (section 8.2).
#[derive(Deserialize)]
struct Proofs {
    jwt: Option<Vec<String>>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

/// A Credential Error Response (section 8.3.1.2): 400 with `error`.
fn credential_error(code: &'static str, description: &'static str) -> Response {
    OAuthError::bad_request(code, description).into_response()
}

/// The refusal of an access token whose authentication is below `needed`: RFC 9470
/// section 3 (401 `insufficient_user_authentication`), with `acr_values` naming every
/// level from `needed` up, so the wallet can ask for one in a new authorization request
/// (OpenID4VCI 1.0 section 8.3.1.1 defers to the Bearer errors of RFC 6750 section 3).
fn stronger_sign_in_needed(oidc: &Oidc, needed: Loa) -> Response {
    let table = oidc.tokens.acr_table();
    let values: Vec<&str> = Loa::ALL
        .into_iter()
        .filter(|loa| *loa >= needed)
        .map(|loa| table.acr(loa))
        .collect();
    insufficient_user_authentication(
        &values.join(" "),
        "a stronger sign-in is needed to issue this credential; authenticate at one of acr_values",
    )
}

/// `POST /credential` (OpenID4VCI 1.0 section 8).
pub async fn credential(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match issue(&oidc, &headers, &body).await {
        Ok(response) => response,
        Err(err) => OAuthError::internal(&err).into_response(),
    }
}

async fn issue(oidc: &Oidc, headers: &HeaderMap, body: &[u8]) -> anyhow::Result<Response> {
    // Section 8: the access token is a Bearer token (RFC 6750); its errors are RFC 6750's.
    let Some(token) = bearer(headers) else {
        let mut response = (StatusCode::UNAUTHORIZED, no_store()).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"eid\""),
        );
        return Ok(response);
    };
    // A suspended or locked account's tokens are not live.
    let Some((claims, record)) = oidc.live_access_token(token).await? else {
        return Ok(bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is invalid, expired or revoked",
        ));
    };
    let scopes = parse_scopes(&claims.scope).unwrap_or_default();
    let Some(account_id) = record.account.filter(|_| scopes.contains(&Scope::Pid)) else {
        return Ok(bearer_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the access token does not carry the pid scope",
        ));
    };
    // The level the citizen authenticated at, as the token's `acr` names it.
    let Some(authenticated) = claims
        .acr
        .as_deref()
        .and_then(|acr| oidc.tokens.acr_table().loa_of(acr))
        .filter(|loa| *loa >= MIN_ISSUANCE_LOA)
    else {
        return Ok(stronger_sign_in_needed(oidc, MIN_ISSUANCE_LOA));
    };

    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Ok(credential_error(
            "invalid_credential_request",
            "the credential request must be application/json",
        ));
    }
    let Ok(request) = serde_json::from_slice::<CredentialRequest>(body) else {
        return Ok(credential_error(
            "invalid_credential_request",
            "the credential request is not a valid JSON object",
        ));
    };
    if request.credential_response_encryption.is_some() {
        return Ok(credential_error(
            "invalid_encryption_parameters",
            "credential response encryption is not supported",
        ));
    }
    // Section 8.2: credential_identifier only follows authorization_details, which this
    // issuer does not use; otherwise credential_configuration_id is REQUIRED.
    if request.credential_identifier.is_some() {
        return Ok(credential_error(
            "unknown_credential_identifier",
            "credential identifiers are not used by this issuer",
        ));
    }
    match request.credential_configuration_id.as_deref() {
        Some(PID_CONFIGURATION_ID) => {}
        Some(_) => {
            return Ok(credential_error(
                "unknown_credential_configuration",
                "unknown credential configuration",
            ));
        }
        None => {
            return Ok(credential_error(
                "invalid_credential_request",
                "credential_configuration_id is required",
            ));
        }
    }
    // One `jwt` proof: batch issuance is not offered (no batch_credential_issuance in
    // the metadata), and cryptographic binding is required, so proofs are REQUIRED.
    let proof = match request.proofs {
        Some(Proofs {
            jwt: Some(jwts),
            other,
        }) if other.is_empty() => match <[String; 1]>::try_from(jwts) {
            Ok([jwt]) => jwt,
            Err(_) => {
                return Ok(credential_error(
                    "invalid_proof",
                    "exactly one jwt key proof is required",
                ));
            }
        },
        _ => {
            return Ok(credential_error(
                "invalid_proof",
                "a jwt key proof (proofs.jwt) is required",
            ));
        }
    };
    let now = OffsetDateTime::now_utc();
    let check = KeyProofCheck {
        issuer: &oidc.issuer,
        client_id: &record.client_id,
        leeway: PROOF_LEEWAY,
        max_age: DEFAULT_PROOF_MAX_AGE,
    };
    let key_proof = match verify_key_proof(&proof, &check, now) {
        Ok(key_proof) => key_proof,
        Err(VerifyError::WrongNonce) => {
            return Ok(credential_error(
                "invalid_proof",
                "the key proof carries no c_nonce",
            ));
        }
        Err(err) => {
            tracing::info!(reason = %err, "key proof refused");
            return Ok(credential_error(
                "invalid_proof",
                "the key proof is invalid",
            ));
        }
    };
    // Single use: a replayed proof (or any proof with a used, expired or foreign nonce)
    // finds nothing to take.
    if oidc
        .ephemeral
        .take(&nonce_key(&key_proof.nonce))
        .await?
        .is_none()
    {
        return Ok(credential_error(
            "invalid_nonce",
            "the c_nonce is invalid, expired or used; fetch a new one",
        ));
    }

    let denied = || {
        credential_error(
            "credential_request_denied",
            "no identity credential can be issued for this account",
        )
    };
    // The credential is issued from a proofing no stronger than the authentication: a
    // record at high needs a sign-in at high.
    let (usable, stronger): (Vec<_>, Vec<_>) = oidc
        .durable
        .ekyc_records(account_id)
        .await?
        .into_iter()
        .filter(|r| r.is_valid_at(now))
        .partition(|r| r.loa <= authenticated);
    let Some(ekyc) = usable.into_iter().max_by_key(|r| r.loa) else {
        return Ok(match stronger.iter().map(|r| r.loa).min() {
            Some(needed) => stronger_sign_in_needed(oidc, needed),
            None => denied(),
        });
    };
    // Each issuance adds a permanent status list entry and fetches the register record.
    if oidc.credential_account.hit(&account_id.to_string()).await? == Decision::Limited {
        return Ok(OAuthError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "credential_request_denied",
            description: "too many credentials issued for this account; try again later",
            basic_challenge: false,
        }
        .into_response());
    }
    let account = oidc.durable.account(account_id).await?;
    // The eKYC record holds which checks were made, not the attributes: they come from
    // the register, for this purpose only.
    let authorisation = Authorisation::new(CALLER, PURPOSE)?;
    let register_record = match oidc
        .registry
        .fetch(&account.personal_id, &authorisation)
        .await
    {
        Ok(r) if r.status == RecordStatus::Active => r,
        Ok(_) | Err(RegistryError::NotFound) => return Ok(denied()),
        Err(RegistryError::Unavailable(_) | RegistryError::Timeout) => {
            return Ok(OAuthError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "temporarily_unavailable",
                description: "the population register cannot be reached; try again later",
                basic_challenge: false,
            }
            .into_response());
        }
        Err(err) => return Err(err.into()),
    };

    // The credential never outlives the proofing it rests on.
    let expires_at = (now + DEFAULT_CREDENTIAL_LIFETIME).min(ekyc.expires_at);
    let issued = oidc
        .durable
        .insert_credential(&NewCredential {
            id: CredentialId::new(),
            account_id,
            ekyc_id: ekyc.id,
            issued_at: now,
            expires_at,
        })
        .await?;
    let status = StatusReference {
        idx: usize::try_from(issued.index)?,
        uri: oidc.status_list_uri(issued.list),
    };
    let sd_jwt = PidIssuer::new(&oidc.issuer)
        .with_lifetime(expires_at - now)
        .issue(
            oidc.keys.active(),
            &register_record.identity,
            &account.personal_id,
            &key_proof.holder,
            &status,
            now,
        )?;

    let client = ClientId::new(record.client_id)?;
    let mut audit = AuditRecord::new(
        AuditEvent::VerifiableCredentialIssued,
        Actor::Client(client.clone()),
        Outcome::Success,
    );
    audit.subject = Some(account_id);
    audit.relying_party = Some(client);
    audit.loa = Some(ekyc.loa);
    audit.attributes = PID_CLAIMS
        .iter()
        .filter_map(|name| AttributeName::new(*name).ok())
        .collect();
    oidc.audit.append(audit).await?;

    // Section 8.3: immediate issuance.
    Ok((
        StatusCode::OK,
        no_store(),
        Json(json!({ "credentials": [{ "credential": sd_jwt }] })),
    )
        .into_response())
}
