//! Random values for secrets and unique names.

use base64ct::{Base64UrlUnpadded, Encoding as _};

/// Random bytes from the thread RNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    rand::random()
}

/// A random URL-safe string (for secrets and unique names).
pub fn random_text() -> String {
    Base64UrlUnpadded::encode_string(&random_bytes::<24>())
}
