//! Proof Key for Code Exchange (RFC 7636), `S256` only: `plain` offers no protection once
//! the authorization request leaks, so it is refused (as OAuth 2.0 Security BCP, RFC 9700
//! section 2.1.1, allows).

use base64ct::{Base64UrlUnpadded, Encoding as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Length of an `S256` challenge: base64url of a SHA-256 digest.
const CHALLENGE_LEN: usize = 43;

/// PKCE failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// No `code_challenge` in the authorization request.
    #[error("code_challenge is required")]
    MissingChallenge,
    /// `code_challenge_method` is absent (which means `plain`) or not `S256`.
    #[error("code_challenge_method must be S256")]
    UnsupportedMethod,
    /// The challenge is not 43 base64url characters.
    #[error("malformed code_challenge")]
    MalformedChallenge,
    /// No `code_verifier` in the token request.
    #[error("code_verifier is required")]
    MissingVerifier,
    /// The verifier breaks RFC 7636 section 4.1 (43 to 128 unreserved characters).
    #[error("malformed code_verifier")]
    MalformedVerifier,
    /// The verifier does not match the challenge.
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
}

/// An `S256` code challenge from an authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Checks `code_challenge` and `code_challenge_method` of an authorization request
    /// (RFC 7636 section 4.3). Both are required: every client uses PKCE with `S256`.
    pub fn from_request(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let challenge = challenge.ok_or(PkceError::MissingChallenge)?;
        if method != Some("S256") {
            return Err(PkceError::UnsupportedMethod);
        }
        let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if challenge.len() != CHALLENGE_LEN || !challenge.bytes().all(base64url) {
            return Err(PkceError::MalformedChallenge);
        }
        Ok(Self(challenge.to_owned()))
    }

    /// Checks a token request's `code_verifier` against this challenge (RFC 7636 section
    /// 4.6): `BASE64URL(SHA256(verifier)) == challenge`, compared in constant time.
    pub fn verify(&self, verifier: Option<&str>) -> Result<(), PkceError> {
        let verifier = verifier.ok_or(PkceError::MissingVerifier)?;
        let unreserved =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(unreserved) {
            return Err(PkceError::MalformedVerifier);
        }
        let computed = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
        if bool::from(computed.as_bytes().ct_eq(self.0.as_bytes())) {
            Ok(())
        } else {
            Err(PkceError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn challenge() -> CodeChallenge {
        CodeChallenge::from_request(Some(CHALLENGE), Some("S256")).unwrap()
    }

    #[test]
    fn rfc_7636_appendix_b_example_verifies() {
        assert_eq!(challenge().verify(Some(VERIFIER)), Ok(()));
    }

    #[test]
    fn bad_challenges_are_refused() {
        use PkceError::*;
        let cases = [
            (None, Some("S256"), MissingChallenge),
            (Some(CHALLENGE), None, UnsupportedMethod),
            (Some(CHALLENGE), Some("plain"), UnsupportedMethod),
            (Some(CHALLENGE), Some("s256"), UnsupportedMethod),
            (Some(&CHALLENGE[..42]), Some("S256"), MalformedChallenge),
            (
                Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"),
                Some("S256"),
                MalformedChallenge,
            ),
        ];
        for (c, m, err) in cases {
            assert_eq!(CodeChallenge::from_request(c, m), Err(err), "{c:?} {m:?}");
        }
    }

    #[test]
    fn bad_verifiers_are_refused() {
        let c = challenge();
        assert_eq!(c.verify(None), Err(PkceError::MissingVerifier));
        let long = "a".repeat(129);
        for bad in [
            &VERIFIER[..42],
            long.as_str(),
            "dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk",
        ] {
            assert_eq!(
                c.verify(Some(bad)),
                Err(PkceError::MalformedVerifier),
                "{bad}"
            );
        }
        let other = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(c.verify(Some(other)), Err(PkceError::Mismatch));
    }
}
