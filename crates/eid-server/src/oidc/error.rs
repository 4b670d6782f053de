//! Error responses: the JSON errors of the token, PAR, introspection and revocation
//! endpoints (RFC 6749 section 5.2), Bearer errors (RFC 6750 section 3), and authorization
//! errors sent back to the relying party's redirect URI (OIDC Core 3.1.2.6).
//!
//! Descriptions are fixed texts: they never echo what the client sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::Url;

use super::pages::no_store;

/// An OAuth error answered as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status.
    pub status: StatusCode,
    /// The `error` code.
    pub code: &'static str,
    /// The `error_description`.
    pub description: &'static str,
    /// Whether to add `WWW-Authenticate: Basic` (a failed HTTP Basic client authentication,
    /// RFC 6749 section 5.2).
    pub basic_challenge: bool,
}

impl OAuthError {
    /// A 400 error with `code`.
    pub fn bad_request(code: &'static str, description: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            description,
            basic_challenge: false,
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: &'static str) -> Self {
        Self::bad_request("invalid_request", description)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: &'static str) -> Self {
        Self::bad_request("invalid_grant", description)
    }

    /// `invalid_client` (401).
    pub fn invalid_client(description: &'static str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description,
            basic_challenge: false,
        }
    }

    /// `temporarily_unavailable` (503): the server is overloaded; retry shortly.
    pub fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "temporarily_unavailable",
            description: "the server is busy; try again shortly",
            basic_challenge: false,
        }
    }

    /// `server_error` (500), after logging `cause` (which must hold no secret).
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "server_error",
            description: "internal error",
            basic_challenge: false,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "error_description": self.description });
        let mut response = (self.status, no_store(), Json(body)).into_response();
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"eid\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

/// A Bearer token error of a protected resource (RFC 6750 section 3.1).
pub fn bearer_error(status: StatusCode, code: &'static str, description: &'static str) -> Response {
    bearer_challenge(status, code, description, "")
}

/// The access token's authentication is below what the resource needs (RFC 9470
/// section 3, `insufficient_user_authentication`, 401): `acr_values` lists the `acr`
/// values, any of which would do, for the client to ask for in a new authorization
/// request.
pub fn insufficient_user_authentication(acr_values: &str, description: &'static str) -> Response {
    let extra = format!(", acr_values=\"{acr_values}\"");
    bearer_challenge(
        StatusCode::UNAUTHORIZED,
        "insufficient_user_authentication",
        description,
        &extra,
    )
}

/// A Bearer error response whose `WWW-Authenticate` challenge ends with `extra`
/// auth-params.
fn bearer_challenge(
    status: StatusCode,
    code: &'static str,
    description: &'static str,
    extra: &str,
) -> Response {
    let challenge = format!("Bearer error=\"{code}\", error_description=\"{description}\"{extra}");
    let mut response = (
        status,
        no_store(),
        Json(json!({ "error": code, "error_description": description })),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// An authorization error for a request whose client and redirect URI are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthzError {
    /// The `error` code (RFC 6749 section 4.1.2.1, OIDC Core 3.1.2.6).
    pub code: &'static str,
    /// The `error_description`.
    pub description: &'static str,
}

impl AuthzError {
    /// An error with `code` and `description`.
    pub const fn new(code: &'static str, description: &'static str) -> Self {
        Self { code, description }
    }

    /// `invalid_request`.
    pub const fn invalid_request(description: &'static str) -> Self {
        Self::new("invalid_request", description)
    }
}

/// The authorization response URL: `redirect_uri` (a registered one, its own query kept per
/// RFC 6749 section 3.1.2) with `params`, `state` when the request had one, and `iss`
/// (RFC 9207 section 2).
pub fn redirect_url(
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
    issuer: &str,
) -> Option<Url> {
    let mut url = Url::parse(redirect_uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    Some(url)
}

/// A `303 See Other` to `location`.
pub fn see_other(location: &str) -> Response {
    let mut response = (StatusCode::SEE_OTHER, no_store()).into_response();
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Sends `error` to the client's redirect URI (OIDC Core 3.1.2.6).
pub fn redirect_error(
    redirect_uri: &str,
    error: AuthzError,
    state: Option<&str>,
    issuer: &str,
) -> Response {
    match redirect_url(
        redirect_uri,
        &[
            ("error", error.code),
            ("error_description", error.description),
        ],
        state,
        issuer,
    ) {
        Some(url) => see_other(url.as_str()),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_keeps_the_registered_query_and_adds_state_and_iss() {
        let url = redirect_url(
            "https://rp.example/cb?tenant=a",
            &[("code", "xyz")],
            Some("s t"),
            "https://id.example",
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://rp.example/cb?tenant=a&code=xyz&state=s+t&iss=https%3A%2F%2Fid.example"
        );
    }

    #[test]
    fn json_errors_carry_code_and_no_store() {
        let response = OAuthError::invalid_grant("x").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let mut basic = OAuthError::invalid_client("y");
        basic.basic_challenge = true;
        let response = basic.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
