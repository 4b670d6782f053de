//! Cookies and citizen sessions.
//!
//! Two cookies, both `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when the issuer is
//! https: `eid_flow`, a random value that binds pending authorizations and their forms to
//! this browser (login CSRF protection), and `eid_session`, the citizen's session. Both
//! values are 256 random bits; the store keeps only their SHA-256.

use std::time::Duration;

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use eid_core::assurance::Loa;
use eid_core::store::{AccountId, EphemeralStore, StoreError};
use eid_core::token::OpaqueToken;
use serde::{Deserialize, Serialize};

/// The cookie binding flows to a browser. With https it carries the `__Host-` prefix, so
/// that no sibling subdomain or plain-http page can plant it (RFC 6265bis section 4.1.3.2).
pub fn flow_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-eid_flow"
    } else {
        "eid_flow"
    }
}

/// The session cookie (`__Host-` prefixed with https, as [`flow_cookie`]).
pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-eid_session"
    } else {
        "eid_session"
    }
}

/// A logged-in citizen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The account.
    pub account: AccountId,
    /// When the citizen authenticated, unix seconds.
    pub auth_time: i64,
    /// The level reached, if the identity is proofed.
    pub loa: Option<Loa>,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
}

/// The browser's `eid_flow` value: the one it sent, or a new one it must be given.
pub struct Browser {
    /// The value.
    pub id: OpaqueToken,
    new: bool,
}

impl Browser {
    /// The browser that sent `headers`.
    pub fn of(headers: &HeaderMap, secure: bool) -> Self {
        match cookie(headers, flow_cookie(secure)) {
            Some(id) => Self { id, new: false },
            None => Self {
                id: OpaqueToken::generate(),
                new: true,
            },
        }
    }

    /// Sets the cookie on `response` if the browser did not have it.
    pub fn remember(&self, response: &mut Response, secure: bool) {
        if self.new {
            set_cookie(
                response,
                flow_cookie(secure),
                Some(self.id.expose()),
                secure,
            );
        }
    }
}

/// The value of cookie `name` in `headers`, if it has the shape of our random values.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<OpaqueToken> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .and_then(|(_, value)| OpaqueToken::parse(value).ok())
}

/// Adds a `Set-Cookie` for `name` (`value` `None` deletes it).
pub fn set_cookie(response: &mut Response, name: &str, value: Option<&str>, secure: bool) {
    let attributes = format!(
        "; Path=/; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    );
    let text = match value {
        Some(value) => format!("{name}={value}{attributes}"),
        None => format!("{name}=; Max-Age=0{attributes}"),
    };
    if let Ok(value) = HeaderValue::from_str(&text) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

fn key(cookie: &OpaqueToken) -> String {
    format!("session:{}", cookie.hash().to_hex())
}

/// The session `cookie` stands for, if it is live. A corrupt record counts as none.
pub async fn load(
    store: &dyn EphemeralStore,
    cookie: &OpaqueToken,
) -> Result<Option<Session>, StoreError> {
    Ok(store
        .get(&key(cookie))
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Starts a session for `lifetime` and returns its cookie value.
pub async fn start(
    store: &dyn EphemeralStore,
    session: &Session,
    lifetime: Duration,
) -> Result<OpaqueToken, StoreError> {
    let cookie = OpaqueToken::generate();
    let value = serde_json::to_vec(session).map_err(|_| StoreError::Corrupt("session"))?;
    store.put(&key(&cookie), &value, lifetime).await?;
    Ok(cookie)
}

/// The CSRF token of the forms shown to the session `cookie` (the account page): a hash of
/// the cookie, which only its browser knows (the cookie is `HttpOnly` and 256 random bits).
pub fn csrf_token(cookie: &OpaqueToken) -> String {
    eid_core::store::key_digest(&[b"eid-account-csrf", cookie.expose().as_bytes()])
}

/// Whether `presented` is the CSRF token of the session `cookie` (constant-time).
pub fn csrf_matches(cookie: &OpaqueToken, presented: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    csrf_token(cookie)
        .as_bytes()
        .ct_eq(presented.as_bytes())
        .into()
}

/// Ends the session of `cookie`.
pub async fn end(store: &dyn EphemeralStore, cookie: &OpaqueToken) -> Result<(), StoreError> {
    store.delete(&key(cookie)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse as _;

    use super::*;

    #[test]
    fn cookies_are_found_by_name_and_shape() {
        let token = OpaqueToken::generate();
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            format!("other=1; eid_session={}", token.expose())
                .parse()
                .unwrap(),
        );
        assert_eq!(
            cookie(&headers, session_cookie(false)).unwrap().expose(),
            token.expose()
        );
        assert!(cookie(&headers, flow_cookie(false)).is_none());
        headers.insert(COOKIE, "eid_session=short".parse().unwrap());
        assert!(cookie(&headers, session_cookie(false)).is_none());
    }

    #[test]
    fn cookie_attributes() {
        let mut response = ().into_response();
        set_cookie(&mut response, session_cookie(true), Some("v"), true);
        set_cookie(&mut response, flow_cookie(false), None, false);
        let cookies: Vec<_> = response.headers().get_all(SET_COOKIE).iter().collect();
        assert_eq!(
            cookies[0],
            "__Host-eid_session=v; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(
            cookies[1],
            "eid_flow=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
        );
    }
}
