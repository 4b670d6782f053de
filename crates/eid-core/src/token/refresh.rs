//! Opaque refresh tokens.
//!
//! A refresh token is 256 random bits, base64url-encoded (43 characters). The client gets
//! the value once; the store keeps only its SHA-256 ([`RefreshTokenHash`]), so a copy of the
//! database cannot be replayed. Rotation and reuse detection live in
//! [`RefreshTokenStore`](crate::store::RefreshTokenStore).

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// Random bytes in a refresh token.
const TOKEN_BYTES: usize = 32;
/// Length of the base64url text of a refresh token.
pub const REFRESH_TOKEN_LEN: usize = 43;

/// A presented value is not shaped like a refresh token of this service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed refresh token")]
pub struct MalformedRefreshToken;

/// An opaque refresh token: zeroized on drop, never printed.
pub struct RefreshToken(Zeroizing<String>);

impl RefreshToken {
    /// A new token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
        rand::fill(&mut bytes[..]);
        Self(Zeroizing::new(Base64UrlUnpadded::encode_string(&bytes[..])))
    }

    /// A token presented by a client, checked for shape only (whether it exists is the
    /// store's question).
    pub fn parse(value: &str) -> Result<Self, MalformedRefreshToken> {
        let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
        match Base64UrlUnpadded::decode(value, &mut bytes[..]) {
            Ok(decoded) if decoded.len() == TOKEN_BYTES && value.len() == REFRESH_TOKEN_LEN => {
                Ok(Self(Zeroizing::new(value.to_owned())))
            }
            _ => Err(MalformedRefreshToken),
        }
    }

    /// The value to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key the store files the token under.
    pub fn hash(&self) -> RefreshTokenHash {
        RefreshTokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(***)")
    }
}

/// SHA-256 of a refresh token's text: what the store keeps and looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefreshTokenHash(pub [u8; 32]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_never_printed() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.expose().len(), REFRESH_TOKEN_LEN);
        let again = RefreshToken::parse(a.expose()).unwrap();
        assert_eq!(again.hash(), a.hash());
        assert_eq!(format!("{a:?}"), "RefreshToken(***)");
    }

    #[test]
    fn malformed_values_are_refused() {
        let good = RefreshToken::generate();
        let long = format!("{}A", good.expose());
        let padded = format!("{}=", &good.expose()[..42]);
        for bad in ["", "short", &good.expose()[..42], &long, &padded, "+/+/"] {
            assert_eq!(
                RefreshToken::parse(bad).unwrap_err(),
                MalformedRefreshToken,
                "{bad:?}"
            );
        }
        let mut not_b64 = good.expose().to_owned();
        not_b64.replace_range(0..1, "*");
        assert!(RefreshToken::parse(&not_b64).is_err());
    }
}
