//! The token endpoint (RFC 6749 section 3.2): `authorization_code` with PKCE,
//! `refresh_token` with rotation and reuse detection, and `client_credentials`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use eid_core::assurance::Loa;
use eid_core::audit::{Actor, AuditEvent, AuditRecord, Outcome};
use eid_core::oauth::CodeError;
use eid_core::release::{Scope, format_scopes, parse_scopes};
use eid_core::store::{AccountId, AccountStatus, RefreshGrant, StoreError};
use eid_core::token::{
    AccessTokenRequest, Audience, Authentication, IdTokenRequest, OpaqueToken, RefreshToken,
};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::AccessRecord;
use super::client_auth::authenticate;
use super::error::OAuthError;
use super::pages::no_store;
use super::params::Params;
use super::{Client, ClientIp, Oidc};

/// `POST /token`.
pub async fn token(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match exchange(&oidc, ip, &headers, &body).await {
        Ok(body) => (StatusCode::OK, no_store(), Json(body)).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn exchange(
    oidc: &Oidc,
    ip: IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, OAuthError> {
    let params =
        Params::parse(body).map_err(|_| OAuthError::invalid_request("malformed parameters"))?;
    let client = authenticate(oidc, ip, headers, &params).await?;
    match params.get("grant_type") {
        Some("authorization_code") => authorization_code(oidc, client, &params).await,
        Some("refresh_token") => refresh_token(oidc, client, &params).await,
        Some("client_credentials") => client_credentials(oidc, client, &params).await,
        Some(_) => Err(OAuthError::bad_request(
            "unsupported_grant_type",
            "grant_type is not supported",
        )),
        None => Err(OAuthError::invalid_request("grant_type is required")),
    }
}

fn internal(err: impl std::fmt::Display) -> OAuthError {
    OAuthError::internal(&err)
}

/// RFC 6749 section 4.1.3 and RFC 7636 section 4.6.
async fn authorization_code(
    oidc: &Oidc,
    client: &Client,
    params: &Params,
) -> Result<serde_json::Value, OAuthError> {
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let code = OpaqueToken::parse(code)
        .map_err(|_| OAuthError::invalid_grant("unknown or expired code"))?;
    let family = Uuid::new_v4();
    let grant = match oidc.codes.redeem(&code, family).await {
        Ok(grant) => grant,
        Err(CodeError::Unknown) => {
            return Err(OAuthError::invalid_grant("unknown or expired code"));
        }
        Err(CodeError::Replayed { family }) => {
            // RFC 6749 section 4.1.2: deny, and revoke the tokens issued on the first use.
            oidc.revoke_family(family).await.map_err(internal)?;
            tracing::warn!(
                client = client.reg.id.as_str(),
                "authorization code replayed; its tokens are revoked"
            );
            return Err(OAuthError::invalid_grant(
                "code already used; its tokens are revoked",
            ));
        }
        Err(err) => return Err(internal(err)),
    };
    // RFC 6749 section 4.1.3: the code was issued to this client, for this redirect URI.
    if grant.client_id != client.reg.id.as_str() {
        return Err(OAuthError::invalid_grant(
            "code was issued to another client",
        ));
    }
    if params.get("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    // RFC 7636 section 4.6.
    grant
        .challenge
        .verify(params.get("code_verifier"))
        .map_err(|_| OAuthError::invalid_grant("PKCE verification failed"))?;
    let now = OffsetDateTime::now_utc();
    let auth_time = OffsetDateTime::from_unix_timestamp(grant.auth_time).map_err(internal)?;
    let refresh = RefreshGrant {
        family,
        account: grant.account,
        client: client.reg.id.clone(),
        scope: grant.scope.clone(),
        loa: grant.loa,
        amr: grant.amr.clone(),
        auth_time,
        // The family lives a fixed time from the login; rotation does not extend it.
        expires_at: auth_time + oidc.refresh_lifetime,
    };
    let refresh_token = RefreshToken::generate();
    oidc.durable
        .insert_refresh_token(&refresh_token.hash(), &refresh)
        .await
        .map_err(internal)?;
    // A concurrent replay of this code may have revoked the family before its refresh
    // token existed: revoke again now that it does. This redemption still answers (it
    // was the first), but what it hands out is already dead, as RFC 6749 section 4.1.2
    // asks for the tokens of a replayed code.
    if oidc.family_revoked(family).await.map_err(internal)? {
        oidc.durable
            .revoke_refresh_family(family, now)
            .await
            .map_err(internal)?;
    }
    issue(
        oidc,
        client,
        &refresh,
        &grant.scope,
        grant.nonce.as_deref(),
        &refresh_token,
        now,
    )
    .await
}

/// RFC 6749 section 6, with rotation (RFC 9700 section 4.14.2).
async fn refresh_token(
    oidc: &Oidc,
    client: &Client,
    params: &Params,
) -> Result<serde_json::Value, OAuthError> {
    let presented = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let presented = OpaqueToken::parse(presented)
        .map_err(|_| OAuthError::invalid_grant("unknown, expired or revoked refresh token"))?;
    let now = OffsetDateTime::now_utc();
    // RFC 6749 section 6: the token must have been issued to this client. Checked before
    // rotating, so that another client cannot spend it.
    if let Some(current) = oidc
        .durable
        .refresh_grant(&presented.hash(), now)
        .await
        .map_err(internal)?
        && current.client != client.reg.id
    {
        return Err(OAuthError::invalid_grant(
            "refresh token was issued to another client",
        ));
    }
    let next = RefreshToken::generate();
    let grant = match oidc
        .durable
        .rotate_refresh_token(&presented.hash(), &next.hash(), now)
        .await
    {
        Ok(grant) => grant,
        Err(StoreError::RefreshTokenReused { family }) => {
            oidc.revoke_family(family).await.map_err(internal)?;
            tracing::warn!(
                client = client.reg.id.as_str(),
                "refresh token reused; its family is revoked"
            );
            return Err(OAuthError::invalid_grant(
                "unknown, expired or revoked refresh token",
            ));
        }
        Err(StoreError::NotFound(_)) => {
            return Err(OAuthError::invalid_grant(
                "unknown, expired or revoked refresh token",
            ));
        }
        Err(err) => return Err(internal(err)),
    };
    if grant.client != client.reg.id {
        return Err(OAuthError::invalid_grant(
            "refresh token was issued to another client",
        ));
    }
    if oidc.family_revoked(grant.family).await.map_err(internal)? {
        oidc.durable
            .revoke_refresh_family(grant.family, now)
            .await
            .map_err(internal)?;
        return Err(OAuthError::invalid_grant(
            "unknown, expired or revoked refresh token",
        ));
    }
    // RFC 6749 section 6: a narrower scope may be asked for, never a wider one.
    let scope = match params.get("scope") {
        None => grant.scope.clone(),
        Some(requested) => {
            let granted = parse_scopes(&grant.scope).unwrap_or_default();
            match parse_scopes(requested) {
                Ok(scopes) if scopes.is_subset(&granted) => format_scopes(&scopes),
                _ => {
                    return Err(OAuthError::bad_request(
                        "invalid_scope",
                        "scope exceeds the original grant",
                    ));
                }
            }
        }
    };
    issue(oidc, client, &grant, &scope, None, &next, now).await
}

/// Issues the access token and ID token of a grant, records and audits them, and
/// builds the response (RFC 6749 section 5.1, OIDC Core 3.1.3.3).
async fn issue(
    oidc: &Oidc,
    client: &Client,
    grant: &RefreshGrant,
    scope: &str,
    nonce: Option<&str>,
    refresh_token: &RefreshToken,
    now: OffsetDateTime,
) -> Result<serde_json::Value, OAuthError> {
    // A suspended or locked account gets no more tokens; its family ends.
    let account = oidc
        .durable
        .account(grant.account)
        .await
        .map_err(internal)?;
    if account.status != AccountStatus::Active {
        oidc.revoke_family(grant.family).await.map_err(internal)?;
        return Err(OAuthError::invalid_grant("the account is not active"));
    }
    let auth = Authentication {
        account: grant.account.as_uuid(),
        auth_time: Some(grant.auth_time),
        loa: grant.loa,
        amr: grant.amr.clone(),
    };
    let rp = client.relying_party();
    let audience = Audience::One(oidc.issuer.clone());
    let access = oidc
        .tokens
        .issue_access_token(
            &oidc.keys,
            &AccessTokenRequest {
                auth: &auth,
                client: &rp,
                audience: &audience,
                scope,
            },
            now,
        )
        .map_err(internal)?;
    // An ID token only while the grant includes openid (a refresh may narrow it away).
    let openid = parse_scopes(scope).is_ok_and(|s| s.contains(&Scope::OpenId));
    let id_token = if openid {
        let request = IdTokenRequest {
            auth: &auth,
            client: &rp,
            nonce,
            access_token: Some(&access.token),
        };
        Some(
            oidc.tokens
                .issue_id_token(&oidc.keys, &request, now)
                .map_err(internal)?,
        )
    } else {
        None
    };
    oidc.record_access_token(
        &access.jti,
        &AccessRecord {
            account: Some(grant.account),
            family: Some(grant.family),
            client_id: client.reg.id.as_str().to_owned(),
        },
    )
    .await
    .map_err(internal)?;
    audit_issue(oidc, client, Some(grant.account), grant.loa).await?;
    let mut body = json!({
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": (access.expires_at - now).whole_seconds(),
        "refresh_token": refresh_token.expose(),
        "scope": scope,
    });
    if let Some(id_token) = id_token {
        body["id_token"] = json!(id_token);
    }
    Ok(body)
}

/// RFC 6749 section 4.4: a confidential client registered for it gets an access token
/// for itself; it carries no citizen and no scope.
async fn client_credentials(
    oidc: &Oidc,
    client: &Client,
    params: &Params,
) -> Result<serde_json::Value, OAuthError> {
    if !client.reg.is_confidential() || !client.reg.allow_client_credentials {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            "this client may not use client_credentials",
        ));
    }
    if params.has("scope") {
        return Err(OAuthError::bad_request(
            "invalid_scope",
            "no scope is available with client_credentials",
        ));
    }
    let now = OffsetDateTime::now_utc();
    let audience = Audience::One(oidc.issuer.clone());
    let access = oidc
        .tokens
        .issue_client_access_token(&oidc.keys, client.reg.id.as_str(), &audience, "", now)
        .map_err(internal)?;
    oidc.record_access_token(
        &access.jti,
        &AccessRecord {
            account: None,
            family: None,
            client_id: client.reg.id.as_str().to_owned(),
        },
    )
    .await
    .map_err(internal)?;
    audit_issue(oidc, client, None, None).await?;
    Ok(json!({
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": (access.expires_at - now).whole_seconds(),
    }))
}

/// Audits an issuance (it must be on record before the tokens leave) and counts it.
async fn audit_issue(
    oidc: &Oidc,
    client: &Client,
    account: Option<AccountId>,
    loa: Option<Loa>,
) -> Result<(), OAuthError> {
    let mut record = AuditRecord::new(
        AuditEvent::TokenIssued,
        Actor::Client(client.reg.id.clone()),
        Outcome::Success,
    );
    record.subject = account;
    record.relying_party = Some(client.reg.id.clone());
    record.loa = loa;
    oidc.audit.append(record).await.map_err(internal)?;
    oidc.metrics.token_issued(loa.map_or("none", Loa::as_str));
    Ok(())
}
