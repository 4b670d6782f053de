//! The claims of OIDC ID tokens and RFC 9068 access tokens, and `at_hash`.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};

/// The `aud` claim: one audience or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience, serialized as a string.
    One(String),
    /// Several audiences, serialized as an array.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` is one of the audiences.
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(one) => one == aud,
            Audience::Many(many) => many.iter().any(|a| a == aud),
        }
    }
}

impl From<&str> for Audience {
    fn from(aud: &str) -> Self {
        Audience::One(aud.to_owned())
    }
}

/// The claims of an OpenID Connect ID token (OIDC Core 2 and 3.1.3.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer identifier.
    pub iss: String,
    /// Subject: pairwise per sector unless the client uses public subjects.
    pub sub: String,
    /// The client id(s) the token is for.
    pub aud: Audience,
    /// Authorized party: the client the token was issued to, when `aud` names several
    /// (never issued here: tokens have one audience; checked when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issue time, unix seconds.
    pub iat: i64,
    /// Not-before, unix seconds (never issued here; checked when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// When the citizen authenticated, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The client's `nonce`, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Level of assurance as an `acr` value from the `AcrTable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Authentication methods (RFC 8176 values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Access token hash, see [`at_hash`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
}

/// The claims of a JWT access token (RFC 9068 section 2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer identifier.
    pub iss: String,
    /// Subject, the same value the client sees in its ID token.
    pub sub: String,
    /// The resource server(s) the token is for.
    pub aud: Audience,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issue time, unix seconds.
    pub iat: i64,
    /// Not-before, unix seconds (never issued here; checked when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Unique token id.
    pub jti: String,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// When the citizen authenticated, unix seconds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Level of assurance as an `acr` value, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

/// The times and level a verifier checks, common to both token kinds.
pub(crate) trait CheckedClaims: serde::de::DeserializeOwned {
    /// `(exp, nbf, iat)` in unix seconds.
    fn times(&self) -> (i64, Option<i64>, Option<i64>);
    /// The `acr` claim.
    fn acr(&self) -> Option<&str>;
}

impl CheckedClaims for IdTokenClaims {
    fn times(&self) -> (i64, Option<i64>, Option<i64>) {
        (self.exp, self.nbf, Some(self.iat))
    }
    fn acr(&self) -> Option<&str> {
        self.acr.as_deref()
    }
}

impl CheckedClaims for AccessTokenClaims {
    fn times(&self) -> (i64, Option<i64>, Option<i64>) {
        (self.exp, self.nbf, Some(self.iat))
    }
    fn acr(&self) -> Option<&str> {
        self.acr.as_deref()
    }
}

/// The claims of a client assertion: a JWT a client authenticates with (`private_key_jwt`,
/// RFC 7523 section 3, OIDC Core 9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAssertionClaims {
    /// The client id.
    pub iss: String,
    /// The client id again (RFC 7523 section 3 item 2).
    pub sub: String,
    /// This authorization server (its issuer or token endpoint URL).
    pub aud: Audience,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issue time, unix seconds (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not-before, unix seconds (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Unique identifier, for the replay check (OIDC Core 9: REQUIRED).
    pub jti: String,
}

impl CheckedClaims for ClientAssertionClaims {
    fn times(&self) -> (i64, Option<i64>, Option<i64>) {
        (self.exp, self.nbf, self.iat)
    }
    fn acr(&self) -> Option<&str> {
        None
    }
}

/// `at_hash` for an ES256-signed ID token (OIDC Core 3.1.3.6): the left half of the
/// SHA-256 of the ASCII access token, base64url without padding.
pub fn at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    Base64UrlUnpadded::encode_string(&digest.as_ref()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_core_example() {
        // OpenID Connect Core 1.0, Appendix A.3 (also SHA-256 based).
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn audience_is_a_string_or_an_array() {
        let one: Audience = serde_json::from_str(r#""rp""#).unwrap();
        let many: Audience = serde_json::from_str(r#"["a","rp"]"#).unwrap();
        assert!(one.contains("rp") && many.contains("rp"));
        assert!(!one.contains("a") && !many.contains("x"));
        assert_eq!(serde_json::to_string(&one).unwrap(), r#""rp""#);
        assert!(serde_json::from_str::<Audience>("42").is_err());
    }
}
