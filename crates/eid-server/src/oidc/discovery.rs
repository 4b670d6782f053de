//! OpenID Provider metadata (OIDC Discovery 1.0 section 3, RFC 8414), listing exactly
//! what this server implements.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use eid_core::release::Scope;
use serde_json::{Value, json};

use super::{Oidc, paths};

/// The metadata document.
pub fn metadata(oidc: &Oidc) -> Value {
    let e = |path| oidc.endpoint(path);
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ];
    let claims: Vec<&str> = [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "at_hash",
    ]
    .into_iter()
    .chain(Scope::ALL.iter().flat_map(|s| s.claims().iter().copied()))
    .collect();
    json!({
        "issuer": oidc.issuer,
        "authorization_endpoint": e(paths::AUTHORIZE),
        "pushed_authorization_request_endpoint": e(paths::PAR),
        "token_endpoint": e(paths::TOKEN),
        "userinfo_endpoint": e(paths::USERINFO),
        "jwks_uri": e(paths::JWKS),
        "introspection_endpoint": e(paths::INTROSPECT),
        "revocation_endpoint": e(paths::REVOKE),
        "end_session_endpoint": e(paths::LOGOUT),
        "scopes_supported": Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "introspection_endpoint_auth_methods_supported": &auth_methods[..3],
        "introspection_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": oidc.tokens.acr_table().all_values().collect::<Vec<_>>(),
        "claims_supported": claims,
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_pushed_authorization_requests": false,
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["vi", "en"],
        "claim_types_supported": ["normal"],
    })
}

/// `GET /.well-known/openid-configuration`.
pub async fn configuration(State(oidc): State<Arc<Oidc>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        oidc.discovery.clone(),
    )
        .into_response()
}
