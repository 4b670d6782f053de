//! Disclosures of object properties (RFC 9901 section 4.2.1) and their digests
//! (section 4.2.3).

use base64ct::{Base64UrlUnpadded, Encoding as _};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::SdJwtError;

/// Bytes of random salt per disclosure: 128 bits, as RFC 9901 section 9.3 recommends.
const SALT_LEN: usize = 16;

/// One disclosure of an object property: `[salt, name, value]`, kept with the exact
/// base64url string its digest is computed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    name: String,
    value: Value,
    encoded: String,
}

impl Disclosure {
    /// A disclosure of `name: value` with a fresh 128-bit random salt.
    pub fn new(name: &str, value: Value) -> Result<Self, SdJwtError> {
        check_name(name)?;
        let mut salt = [0; SALT_LEN];
        rand::fill(&mut salt[..]);
        let array = Value::Array(vec![
            Base64UrlUnpadded::encode_string(&salt).into(),
            name.into(),
            value.clone(),
        ]);
        let json = serde_json::to_vec(&array).map_err(|_| SdJwtError::Malformed)?;
        Ok(Self {
            name: name.to_owned(),
            value,
            encoded: Base64UrlUnpadded::encode_string(&json),
        })
    }

    /// Parses a disclosure as presented. Only object-property disclosures (three
    /// elements, section 4.2.1) are accepted; array-element disclosures (section 4.2.2)
    /// are not used by this service's credentials and are refused.
    pub fn parse(encoded: &str) -> Result<Self, SdJwtError> {
        let json = Base64UrlUnpadded::decode_vec(encoded).map_err(|_| SdJwtError::BadDisclosure)?;
        let Ok(Value::Array(mut items)) = serde_json::from_slice::<Value>(&json) else {
            return Err(SdJwtError::BadDisclosure);
        };
        if items.len() != 3 || !items[0].is_string() {
            return Err(SdJwtError::BadDisclosure);
        }
        let value = items.pop().ok_or(SdJwtError::BadDisclosure)?;
        let Some(Value::String(name)) = items.pop() else {
            return Err(SdJwtError::BadDisclosure);
        };
        check_name(&name)?;
        Ok(Self {
            name,
            value,
            encoded: encoded.to_owned(),
        })
    }

    /// The claim name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The claim value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The base64url form as it appears in the SD-JWT.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    /// The digest referenced from `_sd`: base64url of SHA-256 over the ASCII bytes of
    /// the encoded disclosure (section 4.2.3).
    pub fn digest(&self) -> String {
        sha256_b64(self.encoded.as_bytes())
    }
}

/// A decoy digest (section 4.2.5): the digest of random bytes, indistinguishable from
/// the digest of a disclosure.
pub(crate) fn decoy_digest() -> String {
    let mut noise = [0; SALT_LEN];
    rand::fill(&mut noise[..]);
    sha256_b64(&noise)
}

/// base64url (unpadded) of SHA-256 of `bytes`.
pub(crate) fn sha256_b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(bytes))
}

/// `_sd` and `...` are reserved and must not be disclosed claim names (section 4.2.1).
fn check_name(name: &str) -> Result<(), SdJwtError> {
    if name == "_sd" || name == "..." {
        Err(SdJwtError::ReservedName)
    } else {
        Ok(())
    }
}
