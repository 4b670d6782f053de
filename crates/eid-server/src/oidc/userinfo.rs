//! The UserInfo endpoint (OIDC Core 5.3): the claims the access token's scopes release,
//! read from the population register at the time of the request and audited by name.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eid_core::audit::{Actor, AuditEvent, AuditRecord, Outcome};
use eid_core::registry::{Authorisation, RegistryError};
use std::collections::BTreeSet;

use eid_core::release::{Release, Scope, parse_scopes, release};
use eid_core::store::{Account, AccountStatus, ClientId};
use serde_json::Value;

use super::Oidc;
use super::error::bearer_error;
use super::pages::no_store;

/// The Bearer token of an `Authorization` header (RFC 6750 section 2.1).
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `GET` or `POST /userinfo`.
pub async fn userinfo(State(oidc): State<Arc<Oidc>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        // RFC 6750 section 3.1: no credentials, so no error code, just the challenge.
        let mut response = (StatusCode::UNAUTHORIZED, no_store()).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"eid\""),
        );
        return response;
    };
    match claims(&oidc, token).await {
        Ok(Ok(claims)) => (StatusCode::OK, no_store(), Json(claims)).into_response(),
        Ok(Err(response)) => response,
        Err(err) => {
            tracing::error!(cause = %err, "userinfo failed");
            bearer_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            )
        }
    }
}

async fn claims(oidc: &Oidc, token: &str) -> anyhow::Result<Result<Value, Response>> {
    let invalid = || {
        bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is invalid, expired or revoked",
        )
    };
    let Some((claims, record)) = oidc.live_access_token(token).await? else {
        return Ok(Err(invalid()));
    };
    let scopes = parse_scopes(&claims.scope).unwrap_or_default();
    let Some(account_id) = record.account.filter(|_| scopes.contains(&Scope::OpenId)) else {
        return Ok(Err(bearer_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the access token does not carry the openid scope",
        )));
    };
    let account = oidc.durable.account(account_id).await?;
    if account.status != AccountStatus::Active {
        return Ok(Err(invalid()));
    }
    let released = match release_to(oidc, &account, &record.client_id, &scopes, "userinfo").await? {
        Ok(released) => released,
        // The register no longer holds the number (replaced): nothing to release.
        Err(Unreleased::NotFound) => return Ok(Err(invalid())),
        // The claims are read from the register: without it there is nothing to release
        // now, but the token stays valid.
        Err(Unreleased::Unavailable) => {
            return Ok(Err(bearer_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the population register cannot be reached: try again later",
            )));
        }
    };
    let mut body = released.claims;
    body.insert("sub".into(), Value::from(claims.sub));
    Ok(Ok(Value::Object(body)))
}

/// Why nothing could be released.
pub(super) enum Unreleased {
    /// The register no longer holds the account's number (replaced).
    NotFound,
    /// The register cannot be reached now.
    Unavailable,
}

/// The claims `scopes` release about `account` to relying party `client`, read from the
/// population register now (for `caller`, the register's audit) and audited by name.
pub(super) async fn release_to(
    oidc: &Oidc,
    account: &Account,
    client: &str,
    scopes: &BTreeSet<Scope>,
    caller: &str,
) -> anyhow::Result<Result<Release, Unreleased>> {
    let authorisation = Authorisation::new(
        format!("eid-server/{caller}"),
        format!("release to relying party {client}"),
    )?;
    let register_record = match oidc
        .registry
        .fetch(&account.personal_id, &authorisation)
        .await
    {
        Ok(record) => record,
        Err(RegistryError::NotFound) => return Ok(Err(Unreleased::NotFound)),
        Err(err @ (RegistryError::Unavailable(_) | RegistryError::Timeout)) => {
            tracing::warn!(cause = %err, "{caller}: the population register is unavailable");
            return Ok(Err(Unreleased::Unavailable));
        }
        Err(err) => return Err(err.into()),
    };
    let released = release(&register_record, scopes);
    let client = ClientId::new(client)?;
    let mut audit = AuditRecord::new(
        AuditEvent::DataReleased,
        Actor::Client(client.clone()),
        Outcome::Success,
    );
    audit.subject = Some(account.id);
    audit.relying_party = Some(client);
    audit.attributes = released.attributes.clone();
    oidc.audit.append(audit).await?;
    Ok(Ok(released))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
