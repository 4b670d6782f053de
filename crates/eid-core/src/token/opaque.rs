//! Opaque tokens: refresh tokens and authorization codes.
//!
//! An opaque token is 256 random bits, base64url-encoded (43 characters). The client gets
//! the value once; stores keep only its SHA-256 ([`TokenHash`]), so a copy of a database
//! cannot be replayed. Refresh token rotation and reuse detection live in
//! [`RefreshTokenStore`](crate::store::RefreshTokenStore); single-use codes in
//! [`crate::oauth::CodeStore`].

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// Random bytes in an opaque token.
const TOKEN_BYTES: usize = 32;
/// Length of the base64url text of an opaque token.
pub const OPAQUE_TOKEN_LEN: usize = 43;

/// A presented value is not shaped like an opaque token of this service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed token")]
pub struct MalformedToken;

/// An opaque token: zeroized on drop, never printed.
pub struct OpaqueToken(Zeroizing<String>);

/// A refresh token (OAuth 2.0, RFC 6749 section 1.5).
pub type RefreshToken = OpaqueToken;
/// An authorization code (RFC 6749 section 1.3.1).
pub type AuthorizationCode = OpaqueToken;
/// The stored hash of a refresh token.
pub type RefreshTokenHash = TokenHash;

impl OpaqueToken {
    /// A new token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
        rand::fill(&mut bytes[..]);
        Self(Zeroizing::new(Base64UrlUnpadded::encode_string(&bytes[..])))
    }

    /// A token presented by a client, checked for shape only (whether it exists is the
    /// store's question).
    pub fn parse(value: &str) -> Result<Self, MalformedToken> {
        let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
        match Base64UrlUnpadded::decode(value, &mut bytes[..]) {
            Ok(decoded) if decoded.len() == TOKEN_BYTES && value.len() == OPAQUE_TOKEN_LEN => {
                Ok(Self(Zeroizing::new(value.to_owned())))
            }
            _ => Err(MalformedToken),
        }
    }

    /// The value to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key the store files the token under.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken(***)")
    }
}

/// SHA-256 of an opaque token's text: what stores keep and look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Lower-case hex, for store keys.
    pub fn to_hex(&self) -> String {
        crate::store::hex(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_never_printed() {
        let a = OpaqueToken::generate();
        let b = OpaqueToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.expose().len(), OPAQUE_TOKEN_LEN);
        let again = OpaqueToken::parse(a.expose()).unwrap();
        assert_eq!(again.hash(), a.hash());
        assert_eq!(format!("{a:?}"), "OpaqueToken(***)");
        assert_eq!(a.hash().to_hex().len(), 64);
    }

    #[test]
    fn malformed_values_are_refused() {
        let good = OpaqueToken::generate();
        let long = format!("{}A", good.expose());
        let padded = format!("{}=", &good.expose()[..42]);
        for bad in ["", "short", &good.expose()[..42], &long, &padded, "+/+/"] {
            assert_eq!(
                OpaqueToken::parse(bad).unwrap_err(),
                MalformedToken,
                "{bad:?}"
            );
        }
        let mut not_b64 = good.expose().to_owned();
        not_b64.replace_range(0..1, "*");
        assert!(OpaqueToken::parse(&not_b64).is_err());
    }
}
