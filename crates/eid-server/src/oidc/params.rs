//! Request parameters of the OAuth endpoints, from a query string or a form body, with
//! the checks every endpoint shares: no repeated parameter (RFC 6749 section 3.1 and 3.2:
//! "Request and response parameters MUST NOT be included more than once"), empty values
//! treated as omitted (RFC 6749 section 3.1), and bounded sizes.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::Method;
use axum::response::{IntoResponse as _, Response};
use zeroize::Zeroize as _;

/// The raw parameters of a request to an endpoint that takes both methods: the query
/// string of a GET, the form body of a POST (OIDC Core 3.1.2.1, RP-Initiated Logout 2).
pub struct RawParams {
    /// The request method.
    pub method: Method,
    /// The `application/x-www-form-urlencoded` text.
    pub raw: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for RawParams {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = request.method().clone();
        if method == Method::GET {
            let query = request.uri().query().unwrap_or_default().to_owned();
            return Ok(Self {
                method,
                raw: Bytes::from(query),
            });
        }
        let raw = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| rejection.into_response())?;
        Ok(Self { method, raw })
    }
}

/// At most this many parameters in one request.
pub const MAX_PARAMS: usize = 64;
/// Longest parameter name.
const MAX_NAME_LEN: usize = 64;
/// Longest value of an ordinary parameter (`state`, `nonce`, `scope`, ...).
pub const MAX_VALUE_LEN: usize = 2048;
/// Longest value of a parameter carrying a JWT or a JSON document.
pub const MAX_LONG_VALUE_LEN: usize = 16 * 1024;
/// Longest passkey answer (`credential`: the browser's WebAuthn response in JSON, about
/// 2 KB for an RSA key): above the passkey layer's own limit, which refuses a larger
/// answer as a failed (audited) passkey attempt rather than as a broken form.
pub const MAX_CREDENTIAL_LEN: usize = 2 * eid_core::credential::passkey::MAX_RESPONSE;

/// Parameters that may be long: JWTs and the `claims` JSON.
const LONG: [&str; 5] = [
    "client_assertion",
    "id_token_hint",
    "token",
    "claims",
    "access_token",
];

/// Why a parameter set was refused. The messages never echo values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A parameter appears more than once.
    #[error("parameter {0} is repeated")]
    Repeated(String),
    /// A value is longer than allowed.
    #[error("parameter {0} is too long")]
    TooLong(String),
    /// Too many parameters, or a name too long to be one of ours.
    #[error("too many or oversized parameters")]
    TooMany,
}

/// Parsed parameters: name → value, each name once, empty values dropped.
#[derive(Debug, Default, Clone)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (a query string or a form body).
    pub fn parse(raw: &[u8]) -> Result<Self, ParamError> {
        let mut map = BTreeMap::new();
        for (count, (name, value)) in url::form_urlencoded::parse(raw).enumerate() {
            if count >= MAX_PARAMS || name.len() > MAX_NAME_LEN {
                return Err(ParamError::TooMany);
            }
            let limit = match name.as_ref() {
                "credential" => MAX_CREDENTIAL_LEN,
                // A base64 SAML message (HTTP-POST binding), bounded by the body limit.
                "SAMLRequest" => super::MAX_BODY,
                long if LONG.contains(&long) => MAX_LONG_VALUE_LEN,
                _ => MAX_VALUE_LEN,
            };
            if value.len() > limit {
                return Err(ParamError::TooLong(printable(&name)));
            }
            if map.contains_key(name.as_ref()) {
                return Err(ParamError::Repeated(printable(&name)));
            }
            map.insert(name.into_owned(), value.into_owned());
        }
        // RFC 6749 section 3.1: "Parameters sent without a value MUST be treated as if
        // they were omitted from the request." (checked after the repeat test, so `a=&a=x`
        // is still a repeat)
        map.retain(|_, value| !value.is_empty());
        Ok(Self(map))
    }

    /// The value of `name`, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Whether `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

impl Drop for Params {
    /// Values may be passwords or client secrets: wipe them.
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            value.zeroize();
        }
    }
}

/// A parameter name safe to show in an error: our names are short ASCII words.
fn printable(name: &str) -> String {
    if name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_owned()
    } else {
        "(unnamed)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_drops_empty_values() {
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert!(!p.has("b"));
        assert_eq!(p.get("c"), Some("x y"));
    }

    #[test]
    fn repeats_sizes_and_counts_are_refused() {
        assert_eq!(
            Params::parse(b"state=a&state=b").unwrap_err(),
            ParamError::Repeated("state".into())
        );
        assert_eq!(
            Params::parse(b"state=&state=b").unwrap_err(),
            ParamError::Repeated("state".into())
        );
        let long = format!("state={}", "a".repeat(MAX_VALUE_LEN + 1));
        assert_eq!(
            Params::parse(long.as_bytes()).unwrap_err(),
            ParamError::TooLong("state".into())
        );
        let jwt = format!("client_assertion={}", "a".repeat(MAX_VALUE_LEN + 1));
        assert!(Params::parse(jwt.as_bytes()).is_ok());
        let answer = format!("credential={}", "a".repeat(MAX_LONG_VALUE_LEN + 1));
        assert!(Params::parse(answer.as_bytes()).is_ok());
        let huge = format!("credential={}", "a".repeat(MAX_CREDENTIAL_LEN + 1));
        assert_eq!(
            Params::parse(huge.as_bytes()).unwrap_err(),
            ParamError::TooLong("credential".into())
        );
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            Params::parse(many.join("&").as_bytes()).unwrap_err(),
            ParamError::TooMany
        );
        let odd = format!("{}=1&{}=2", "é", "é");
        assert_eq!(
            Params::parse(odd.as_bytes()).unwrap_err(),
            ParamError::Repeated("(unnamed)".into())
        );
    }
}
