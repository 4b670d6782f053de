//! Pushed authorization requests (RFC 9126): the client posts its authorization request
//! to `/par`, authenticated, and gets a one-time `request_uri` to send the browser with.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use eid_core::store::{ClientId, StoreError};
use eid_core::token::OpaqueToken;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Oidc;
use super::client_auth::authenticate;
use super::error::OAuthError;
use super::pages::no_store;
use super::params::Params;
use super::request::{self, AuthRequest, REQUEST_URI_PREFIX};

/// How long a `request_uri` stays usable (RFC 9126 section 2.2 suggests 5 to 600 s).
pub const REQUEST_URI_LIFETIME: Duration = Duration::from_secs(90);

#[derive(Serialize, Deserialize)]
struct Pushed {
    client_id: String,
    request: AuthRequest,
}

fn key(reference: &OpaqueToken) -> String {
    format!("par:{}", reference.hash().to_hex())
}

/// `POST /par`.
pub async fn push(State(oidc): State<Arc<Oidc>>, headers: HeaderMap, body: Bytes) -> Response {
    match push_request(&oidc, &headers, &body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn push_request(
    oidc: &Oidc,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let params =
        Params::parse(body).map_err(|_| OAuthError::invalid_request("malformed parameters"))?;
    // RFC 9126 section 2.1: the client authenticates as at the token endpoint.
    let client = authenticate(oidc, headers, &params).await?;
    // RFC 9126 section 2.1: "request_uri ... MUST NOT be provided in this case".
    if params.has("request_uri") {
        return Err(OAuthError::invalid_request(
            "request_uri is not allowed in a pushed request",
        ));
    }
    let redirect_uri = client
        .reg
        .redirect_uri(params.get("redirect_uri"))
        .map_err(|_| OAuthError::invalid_request("redirect_uri is missing or not registered"))?;
    let request = request::validate(&client.reg, redirect_uri, &params, oidc.tokens.acr_table())
        // RFC 9126 section 2.3: the authorization request's errors, as JSON.
        .map_err(|e| OAuthError::bad_request(e.code, e.description))?;
    let reference = OpaqueToken::generate();
    let pushed = Pushed {
        client_id: client.reg.id.as_str().to_owned(),
        request,
    };
    let value = serde_json::to_vec(&pushed).map_err(|e| OAuthError::internal(&e))?;
    oidc.ephemeral
        .put(&key(&reference), &value, REQUEST_URI_LIFETIME)
        .await
        .map_err(|e| OAuthError::internal(&e))?;
    let body = json!({
        "request_uri": format!("{REQUEST_URI_PREFIX}{}", reference.expose()),
        "expires_in": REQUEST_URI_LIFETIME.as_secs(),
    });
    Ok((StatusCode::CREATED, no_store(), Json(body)).into_response())
}

/// Takes the pushed request `request_uri` of `client` (single use: RFC 9126 section 4
/// recommends it; a second use finds nothing). `None` if unknown, expired, or pushed by
/// another client.
pub async fn take(
    oidc: &Oidc,
    client: &ClientId,
    request_uri: &str,
) -> Result<Option<AuthRequest>, StoreError> {
    let Some(reference) = request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .and_then(|r| OpaqueToken::parse(r).ok())
    else {
        return Ok(None);
    };
    let Some(value) = oidc.ephemeral.take(&key(&reference)).await? else {
        return Ok(None);
    };
    let pushed: Pushed = serde_json::from_slice(&value).map_err(|_| StoreError::Corrupt("par"))?;
    Ok((pushed.client_id == client.as_str()).then_some(pushed.request))
}
