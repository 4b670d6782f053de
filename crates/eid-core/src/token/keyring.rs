//! The signing key ring: ES256 (P-256) keys named by their RFC 7638 JWK thumbprint.
//!
//! One key is active and signs new tokens. After a rotation the previous keys are
//! *retiring*: they sign nothing but stay in the published JWKS so tokens they signed
//! keep verifying until they expire. [`KeyRing::prune`] drops a retiring key once the
//! longest token lifetime has passed since it retired.
//!
//! Private keys live only inside [`SigningKey`] (wiped on drop, never printed) and leave
//! the process only through [`KeyRing::seal`], encrypted under a [`KeyEncryptionKey`].

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64ct::{Base64UrlUnpadded, Encoding as _};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde::Serialize;
use time::{Duration, OffsetDateTime};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use super::sealed::{self, KeyEncryptionKey, SealError};

/// Why a key or key ring could not be made, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    /// The bytes are not a PKCS#8 P-256 private key.
    #[error("not a PKCS#8 P-256 private key")]
    InvalidKey,
    /// A key could not be encoded (PKCS#8 or the sealed layout).
    #[error("could not encode a key")]
    Encoding,
    /// The sealed envelope could not be opened or written.
    #[error(transparent)]
    Sealed(#[from] SealError),
    /// The envelope opened but its content is not a key ring.
    #[error("sealed key ring content is malformed")]
    Malformed,
    /// The header or claims could not be serialised, or the backend refused to sign.
    #[error("signing failed: {0}")]
    Signing(String),
}

/// One ES256 private key with its public JWK; the private part is wiped on drop.
#[derive(ZeroizeOnDrop)]
pub struct SigningKey {
    #[zeroize(skip)]
    kid: String,
    #[zeroize(skip)]
    jwk: Jwk,
    /// PKCS#8 DER of the private key (jsonwebtoken wipes it on drop too).
    encoding: EncodingKey,
    /// The same key parsed once by aws-lc-rs for signing (AWS-LC cleanses it when freed).
    #[zeroize(skip)]
    signer: EcdsaKeyPair,
}

impl SigningKey {
    /// Generates a fresh P-256 key from the thread-local CSPRNG.
    pub fn generate() -> Result<Self, KeyRingError> {
        let secret = p256::SecretKey::generate_from_rng(&mut rand::rng());
        let der = secret.to_pkcs8_der().map_err(|_| KeyRingError::Encoding)?;
        Self::from_pkcs8_der(der.as_bytes())
    }

    /// Loads a PKCS#8 DER P-256 private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyRingError> {
        // Parse with p256 first so only a valid P-256 scalar reaches jsonwebtoken.
        p256::SecretKey::from_pkcs8_der(der).map_err(|_| KeyRingError::InvalidKey)?;
        let encoding = EncodingKey::from_ec_der(der);
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256)
            .map_err(|_| KeyRingError::InvalidKey)?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| KeyRingError::InvalidKey)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let signer = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| KeyRingError::InvalidKey)?;
        Ok(Self {
            kid,
            jwk,
            encoding,
            signer,
        })
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key, base64url.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty` EC, `crv` P-256, `alg` ES256, `use` sig, `kid`).
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `claims` as a compact JWS with `alg` ES256, this key's `kid` and `typ`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyRingError> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.kid.clone());
        self.sign_encoded(b64_json(&header)?, claims)
    }

    /// Signs `claims` as a compact JWS with `alg` ES256 and the other members of
    /// `header` as given (for example a wallet's key proof, which carries its public key
    /// as `jwk` instead of a `kid`).
    pub fn sign_with_header<H: Serialize, T: Serialize>(
        &self,
        header: &H,
        claims: &T,
    ) -> Result<String, KeyRingError> {
        let mut header =
            serde_json::to_value(header).map_err(|e| KeyRingError::Signing(e.to_string()))?;
        let members = header
            .as_object_mut()
            .ok_or_else(|| KeyRingError::Signing("a JOSE header is a JSON object".into()))?;
        members.insert("alg".into(), "ES256".into());
        self.sign_encoded(b64_json(&header)?, claims)
    }

    /// Signs `claims` under the base64url-encoded header `header`.
    fn sign_encoded<T: Serialize>(
        &self,
        header: String,
        claims: &T,
    ) -> Result<String, KeyRingError> {
        // The JWS Compact Serialization (RFC 7515 section 7.1), as `jsonwebtoken::encode`
        // builds it, but with the key pair parsed once: jsonwebtoken's signer factory parses
        // the PKCS#8 key again on every call, which doubled the cost of issuing a token
        // (docs/performance.md). ES256 signatures are the fixed-size R || S of RFC 7518
        // section 3.4.
        let mut jws = format!("{header}.{}", b64_json(claims)?);
        let signature = self
            .signer
            .sign(&SystemRandom::new(), jws.as_bytes())
            .map_err(|_| KeyRingError::Signing("the ECDSA backend refused to sign".into()))?;
        jws.push('.');
        jws.push_str(&Base64UrlUnpadded::encode_string(signature.as_ref()));
        Ok(jws)
    }

    fn pkcs8_der(&self) -> &[u8] {
        self.encoding.as_bytes()
    }
}

/// base64url (unpadded) of the JSON serialisation of `value`.
fn b64_json<T: Serialize>(value: &T) -> Result<String, KeyRingError> {
    let json = serde_json::to_vec(value).map_err(|e| KeyRingError::Signing(e.to_string()))?;
    Ok(Base64UrlUnpadded::encode_string(&json))
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A key that signs nothing any more but is still published.
#[derive(Debug)]
struct RetiringKey {
    key: SigningKey,
    retired_at: OffsetDateTime,
}

/// One active signing key plus the retiring keys still published in the JWKS.
#[derive(Debug)]
pub struct KeyRing {
    active: SigningKey,
    /// Published but not yet signing: relying parties that cache the JWKS learn it before
    /// the next rotation makes it active.
    next: Option<SigningKey>,
    retiring: Vec<RetiringKey>,
}

impl KeyRing {
    /// A ring whose only key is `active`.
    pub fn new(active: SigningKey) -> Self {
        Self {
            active,
            next: None,
            retiring: Vec::new(),
        }
    }

    /// A ring with one freshly generated key.
    pub fn generate() -> Result<Self, KeyRingError> {
        Ok(Self::new(SigningKey::generate()?))
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> &SigningKey {
        &self.active
    }

    /// The staged next key, if any.
    pub fn next(&self) -> Option<&SigningKey> {
        self.next.as_ref()
    }

    /// Generates the key the next [`rotate`](Self::rotate) will activate, unless one is
    /// staged already, and publishes it in the JWKS now. Stage at least one JWKS cache
    /// lifetime before rotating, so that verifiers know the key before tokens use it.
    pub fn stage_next(&mut self) -> Result<&SigningKey, KeyRingError> {
        if self.next.is_none() {
            self.next = Some(SigningKey::generate()?);
        }
        self.next.as_ref().ok_or(KeyRingError::Malformed)
    }

    /// The retiring keys, oldest retirement last.
    pub fn retiring(&self) -> impl Iterator<Item = &SigningKey> {
        self.retiring.iter().map(|r| &r.key)
    }

    /// Makes the staged next key (or, if none is staged, a freshly generated one) active;
    /// the previous one retires at `now`.
    pub fn rotate(&mut self, now: OffsetDateTime) -> Result<(), KeyRingError> {
        let incoming = match self.next.take() {
            Some(key) => key,
            None => SigningKey::generate()?,
        };
        let previous = std::mem::replace(&mut self.active, incoming);
        self.retiring.insert(
            0,
            RetiringKey {
                key: previous,
                retired_at: now,
            },
        );
        Ok(())
    }

    /// Drops the retiring keys that retired at least `max_token_lifetime` before `now`
    /// (pass the longest token lifetime plus the verifiers' clock leeway); returns how
    /// many were dropped.
    pub fn prune(&mut self, now: OffsetDateTime, max_token_lifetime: Duration) -> usize {
        let before = self.retiring.len();
        self.retiring
            .retain(|r| r.retired_at + max_token_lifetime > now);
        before - self.retiring.len()
    }

    /// The public JWKS to publish: the active key first, then the staged next key, then
    /// the retiring keys.
    pub fn jwks(&self) -> JwkSet {
        let keys = std::iter::once(&self.active)
            .chain(self.next.as_ref())
            .chain(self.retiring())
            .map(|k| k.jwk.clone())
            .collect();
        JwkSet { keys }
    }

    /// Serializes the whole ring (private keys included) and encrypts it under `kek`.
    pub fn seal(&self, kek: &KeyEncryptionKey) -> Result<Vec<u8>, KeyRingError> {
        Ok(sealed::seal(kek, &self.encode()?)?)
    }

    /// Decrypts and loads a ring written by [`KeyRing::seal`].
    pub fn open(blob: &[u8], kek: &KeyEncryptionKey) -> Result<Self, KeyRingError> {
        let plaintext = sealed::open(kek, blob)?;
        Self::decode(&plaintext)
    }

    /// Plaintext layout: entries of `retired_at` (i64 BE unix seconds; `i64::MIN` for
    /// the active key, which comes first; `i64::MAX` for a staged next key) ‖ DER length
    /// (u16 BE) ‖ PKCS#8 DER.
    fn encode(&self) -> Result<Zeroizing<Vec<u8>>, KeyRingError> {
        let entries = std::iter::once((i64::MIN, &self.active))
            .chain(self.next.iter().map(|k| (i64::MAX, k)))
            .chain(
                self.retiring
                    .iter()
                    .map(|r| (r.retired_at.unix_timestamp(), &r.key)),
            );
        let size = entries.clone().map(|(_, k)| 10 + k.pkcs8_der().len()).sum();
        let mut out = Zeroizing::new(Vec::with_capacity(size));
        for (retired_at, key) in entries {
            let der = key.pkcs8_der();
            let len = u16::try_from(der.len()).map_err(|_| KeyRingError::Encoding)?;
            out.extend_from_slice(&retired_at.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(der);
        }
        Ok(out)
    }

    fn decode(mut input: &[u8]) -> Result<Self, KeyRingError> {
        let mut active = None;
        let mut next = None;
        let mut retiring = Vec::new();
        while !input.is_empty() {
            let (stamp, rest) = input
                .split_first_chunk::<8>()
                .ok_or(KeyRingError::Malformed)?;
            let (len, rest) = rest
                .split_first_chunk::<2>()
                .ok_or(KeyRingError::Malformed)?;
            let len = usize::from(u16::from_be_bytes(*len));
            let (der, rest) = rest.split_at_checked(len).ok_or(KeyRingError::Malformed)?;
            input = rest;
            let key = SigningKey::from_pkcs8_der(der)?;
            match (i64::from_be_bytes(*stamp), &active) {
                (i64::MIN, None) => active = Some(key),
                (i64::MIN, Some(_)) => return Err(KeyRingError::Malformed),
                (_, None) => return Err(KeyRingError::Malformed),
                (i64::MAX, Some(_)) if next.is_none() => next = Some(key),
                (i64::MAX, Some(_)) => return Err(KeyRingError::Malformed),
                (stamp, Some(_)) => retiring.push(RetiringKey {
                    key,
                    retired_at: OffsetDateTime::from_unix_timestamp(stamp)
                        .map_err(|_| KeyRingError::Malformed)?,
                }),
            }
        }
        let active = active.ok_or(KeyRingError::Malformed)?;
        Ok(Self {
            active,
            next,
            retiring,
        })
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyAlgorithm};
    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

    fn kek(byte: u8) -> KeyEncryptionKey {
        KeyEncryptionKey::from_slice(&[byte; 32]).unwrap()
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint_of_a_p256_jwk() {
        let key = SigningKey::generate().unwrap();
        let jwk = key.jwk();
        assert_eq!(jwk.common.key_id.as_deref(), Some(key.kid()));
        assert_eq!(jwk.common.key_algorithm, Some(KeyAlgorithm::ES256));
        assert_eq!(jwk.common.public_key_use, Some(PublicKeyUse::Signature));
        let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else {
            panic!("not an EC key: {jwk:?}");
        };
        assert_eq!(ec.curve, EllipticCurve::P256);
        // Recompute RFC 7638 by hand: SHA-256 over the lexicographic required members.
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            ec.x, ec.y
        );
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        let expected =
            <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(digest.as_ref());
        assert_eq!(key.kid(), expected);
        assert_eq!(key.kid().len(), 43);
    }

    #[test]
    fn private_key_is_never_printed_and_is_wiped_on_drop() {
        fn wiped_on_drop<T: ZeroizeOnDrop>() {}
        wiped_on_drop::<SigningKey>();
        let ring = KeyRing::generate().unwrap();
        assert_eq!(
            format!("{:?}", ring.active()),
            format!("SigningKey {{ kid: {:?}, .. }}", ring.active().kid())
        );
    }

    #[test]
    fn foreign_keys_are_rejected() {
        assert!(matches!(
            SigningKey::from_pkcs8_der(b"not der"),
            Err(KeyRingError::InvalidKey)
        ));
        // An Ed25519 PKCS#8 key (RFC 8410 example) is not P-256.
        let ed25519 = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20, 0xd4, 0xee, 0x72, 0xdb, 0xf9, 0x13, 0x58, 0x4a, 0xd5, 0xb6, 0xd8, 0xf1,
            0xf7, 0x69, 0xf8, 0xad, 0x3a, 0xfe, 0x7c, 0x28, 0xcb, 0xf1, 0xd4, 0xfb, 0xe0, 0x97,
            0xa8, 0x8f, 0x44, 0x75, 0x58, 0x42,
        ];
        assert!(matches!(
            SigningKey::from_pkcs8_der(&ed25519),
            Err(KeyRingError::InvalidKey)
        ));
    }

    #[test]
    fn rotation_keeps_retiring_keys_published_until_pruned() {
        let mut ring = KeyRing::generate().unwrap();
        let first = ring.active().kid().to_owned();
        ring.rotate(T0).unwrap();
        let second = ring.active().kid().to_owned();
        assert_ne!(first, second);
        let published: Vec<_> = ring
            .jwks()
            .keys
            .iter()
            .filter_map(|k| k.common.key_id.clone())
            .collect();
        assert_eq!(published, [second.clone(), first.clone()]);

        let lifetime = Duration::minutes(10);
        assert_eq!(
            ring.prune(T0 + lifetime - Duration::seconds(1), lifetime),
            0
        );
        assert!(ring.jwks().find(&first).is_some());
        assert_eq!(ring.prune(T0 + lifetime, lifetime), 1);
        assert!(ring.jwks().find(&first).is_none());
        assert_eq!(ring.jwks().keys.len(), 1);
    }

    #[test]
    fn sealed_ring_round_trips() {
        let mut ring = KeyRing::generate().unwrap();
        ring.rotate(T0).unwrap();
        ring.rotate(T0 + Duration::hours(1)).unwrap();
        let blob = ring.seal(&kek(9)).unwrap();
        let back = KeyRing::open(&blob, &kek(9)).unwrap();
        assert_eq!(back.jwks(), ring.jwks());
        assert_eq!(
            back.retiring
                .iter()
                .map(|r| r.retired_at)
                .collect::<Vec<_>>(),
            [T0 + Duration::hours(1), T0]
        );
        // The reloaded private key still signs verifiably (same kid, same JWK).
        assert_eq!(back.active().pkcs8_der(), ring.active().pkcs8_der());
    }

    #[test]
    fn a_staged_key_is_published_before_it_signs() {
        let mut ring = KeyRing::generate().unwrap();
        let first = ring.active().kid().to_owned();
        let staged = ring.stage_next().unwrap().kid().to_owned();
        assert_eq!(
            ring.stage_next().unwrap().kid(),
            staged,
            "staging is idempotent"
        );
        assert_eq!(ring.active().kid(), first, "the active key still signs");
        let kids = |r: &KeyRing| {
            r.jwks()
                .keys
                .iter()
                .map(|k| k.common.key_id.clone().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(kids(&ring), [first.clone(), staged.clone()]);
        // Sealing keeps the staged key; rotating activates exactly it.
        let mut back = KeyRing::open(&ring.seal(&kek(3)).unwrap(), &kek(3)).unwrap();
        assert_eq!(back.next().map(SigningKey::kid), Some(staged.as_str()));
        back.rotate(T0).unwrap();
        assert_eq!(back.active().kid(), staged);
        assert!(back.next().is_none());
        assert_eq!(kids(&back), [staged, first]);
    }

    #[test]
    fn sealed_ring_rejects_wrong_kek_and_tampering() {
        let ring = KeyRing::generate().unwrap();
        let mut blob = ring.seal(&kek(9)).unwrap();
        assert!(matches!(
            KeyRing::open(&blob, &kek(8)),
            Err(KeyRingError::Sealed(SealError::Unauthentic))
        ));
        let last = blob.len() - 1;
        blob[last] ^= 0x80;
        assert!(matches!(
            KeyRing::open(&blob, &kek(9)),
            Err(KeyRingError::Sealed(SealError::Unauthentic))
        ));
    }

    #[test]
    fn malformed_plaintext_is_rejected() {
        let ring = KeyRing::generate().unwrap();
        let good = ring.encode().unwrap();
        let mut two_active = good.to_vec();
        two_active.extend_from_slice(&good);
        let mut no_active = good.to_vec();
        no_active[..8].copy_from_slice(&0i64.to_be_bytes());
        let cases: [&[u8]; 5] = [
            &good[..good.len() - 1],
            &good[..5],
            &two_active,
            &no_active,
            &[],
        ];
        for bad in cases {
            let blob = sealed::seal(&kek(1), bad).unwrap();
            assert!(
                matches!(KeyRing::open(&blob, &kek(1)), Err(KeyRingError::Malformed)),
                "{} bytes",
                bad.len()
            );
        }
    }
}
