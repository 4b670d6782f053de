//! The at-rest envelope for secret key material: AES-256-GCM with a random nonce, keyed
//! by a 32-byte key-encryption key (KEK).
//!
//! Blob layout: `b"EIDK"` ‖ format version (1 byte) ‖ nonce (12 bytes) ‖ ciphertext ‖
//! tag (16 bytes). The magic and version are the associated data, so changing the
//! version byte makes the blob fail to open instead of being read under another format.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use zeroize::Zeroizing;

/// Format version of the sealed blobs written by [`KeyRing::seal`](super::KeyRing::seal).
pub const FORMAT_VERSION: u8 = 1;
/// Length of a key-encryption key in bytes.
pub const KEK_LEN: usize = 32;

const MAGIC: &[u8; 4] = b"EIDK";
const HEADER_LEN: usize = MAGIC.len() + 1;
const TAG_LEN: usize = 16;

/// Why a blob could not be sealed or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The key-encryption key is not 32 bytes long.
    #[error("a key-encryption key must be {KEK_LEN} bytes")]
    KekLength,
    /// The input is not a sealed blob (wrong magic or too short).
    #[error("not a sealed key blob")]
    NotSealed,
    /// The blob was written in a format version this build does not read.
    #[error("unsupported sealed blob version {0}")]
    UnsupportedVersion(u8),
    /// Authentication failed: wrong key-encryption key or a modified blob.
    #[error("sealed blob failed authentication (wrong key or tampered)")]
    Unauthentic,
    /// The AEAD backend failed (key setup or random nonce).
    #[error("encryption backend failure")]
    Backend,
}

/// A 32-byte AES-256-GCM key-encryption key, wiped from memory on drop.
pub struct KeyEncryptionKey(Zeroizing<[u8; KEK_LEN]>);

impl KeyEncryptionKey {
    /// Copies a key-encryption key from `bytes`, which must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SealError> {
        let mut key = Zeroizing::new([0u8; KEK_LEN]);
        if bytes.len() != KEK_LEN {
            return Err(SealError::KekLength);
        }
        key.copy_from_slice(bytes);
        Ok(Self(key))
    }

    /// The salt of pairwise subjects, derived from this key (HMAC-SHA256 over a fixed
    /// label), so every instance sharing the key computes the same `sub` without another
    /// secret to distribute. Replacing the key-encryption key therefore changes every
    /// pairwise `sub`: keep it for the life of the deployment.
    pub fn derive_pairwise_salt(&self) -> Result<super::PairwiseSalt, super::SubjectError> {
        use aws_lc_rs::hmac;
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.0.as_slice());
        let tag = hmac::sign(&key, b"eid-server pairwise sub salt v1");
        super::PairwiseSalt::new(tag.as_ref())
    }

    fn aead(&self) -> Result<RandomizedNonceKey, SealError> {
        RandomizedNonceKey::new(&AES_256_GCM, self.0.as_slice()).map_err(|_| SealError::Backend)
    }
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey([redacted])")
    }
}

fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..MAGIC.len()].copy_from_slice(MAGIC);
    h[MAGIC.len()] = FORMAT_VERSION;
    h
}

/// Encrypts `plaintext` under `kek` into a versioned blob.
pub(crate) fn seal(kek: &KeyEncryptionKey, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
    let header = header();
    let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    body.extend_from_slice(plaintext);
    let nonce = kek
        .aead()?
        .seal_in_place_append_tag(Aad::from(&header), &mut *body)
        .map_err(|_| SealError::Backend)?;
    let mut blob = Vec::with_capacity(HEADER_LEN + NONCE_LEN + body.len());
    blob.extend_from_slice(&header);
    blob.extend_from_slice(nonce.as_ref());
    blob.extend_from_slice(&body);
    Ok(blob)
}

/// Decrypts a blob made by [`seal`], checking its version and authenticity.
pub(crate) fn open(kek: &KeyEncryptionKey, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if blob.len() < HEADER_LEN + NONCE_LEN + TAG_LEN || &blob[..MAGIC.len()] != MAGIC {
        return Err(SealError::NotSealed);
    }
    let (head, rest) = blob.split_at(HEADER_LEN);
    let version = head[MAGIC.len()];
    if version != FORMAT_VERSION {
        return Err(SealError::UnsupportedVersion(version));
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::NotSealed)?;
    let mut body = Zeroizing::new(ciphertext.to_vec());
    let len = kek
        .aead()?
        .open_in_place(nonce, Aad::from(head), &mut body)
        .map_err(|_| SealError::Unauthentic)?
        .len();
    body.truncate(len);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(byte: u8) -> KeyEncryptionKey {
        KeyEncryptionKey::from_slice(&[byte; KEK_LEN]).unwrap()
    }

    #[test]
    fn round_trip_with_random_nonces() {
        let a = seal(&kek(1), b"secret").unwrap();
        let b = seal(&kek(1), b"secret").unwrap();
        assert_ne!(a, b, "each seal draws a fresh nonce");
        assert_eq!(open(&kek(1), &a).unwrap().as_slice(), b"secret");
    }

    #[test]
    fn wrong_kek_and_tampering_fail_authentication() {
        let blob = seal(&kek(1), b"secret").unwrap();
        assert_eq!(open(&kek(2), &blob), Err(SealError::Unauthentic));
        for i in HEADER_LEN..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert_eq!(open(&kek(1), &bad), Err(SealError::Unauthentic), "byte {i}");
        }
    }

    #[test]
    fn version_and_framing_are_checked() {
        let mut blob = seal(&kek(1), b"secret").unwrap();
        assert_eq!(open(&kek(1), &blob[..20]), Err(SealError::NotSealed));
        blob[MAGIC.len()] = 2;
        assert_eq!(open(&kek(1), &blob), Err(SealError::UnsupportedVersion(2)));
        blob[0] = b'X';
        assert_eq!(open(&kek(1), &blob), Err(SealError::NotSealed));
    }

    #[test]
    fn kek_length_is_checked_and_never_printed() {
        assert_eq!(
            KeyEncryptionKey::from_slice(&[0; 31]).unwrap_err(),
            SealError::KekLength
        );
        assert_eq!(format!("{:?}", kek(0xAB)), "KeyEncryptionKey([redacted])");
    }

    #[test]
    fn pairwise_salt_is_a_stable_function_of_the_key() {
        let subject = |kek: &KeyEncryptionKey| {
            kek.derive_pairwise_salt()
                .unwrap()
                .subject(&crate::token::SubjectType::Public, uuid::Uuid::nil())
        };
        let a = KeyEncryptionKey::from_slice(&[1; KEK_LEN]).unwrap();
        let sector = crate::token::SectorId::new("rp.example").unwrap();
        let pairwise = |kek: &KeyEncryptionKey| {
            kek.derive_pairwise_salt().unwrap().subject(
                &crate::token::SubjectType::Pairwise(sector.clone()),
                uuid::Uuid::nil(),
            )
        };
        let b = KeyEncryptionKey::from_slice(&[2; KEK_LEN]).unwrap();
        assert_eq!(subject(&a), subject(&b));
        assert_eq!(
            pairwise(&a),
            pairwise(&KeyEncryptionKey::from_slice(&[1; KEK_LEN]).unwrap())
        );
        assert_ne!(pairwise(&a), pairwise(&b));
    }
}
