//! Hashes and signature checks named by their X.509 algorithm identifiers (ICAO 9303 part 12
//! §4.4: the algorithms a Document Signer and a CSCA may use), verified with aws-lc-rs.

use aws_lc_rs::{digest, signature};
use der::asn1::ObjectIdentifier;
use der::{Decode, Encode, Sequence};
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::ChipError;

const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// The hash functions ICAO 9303 part 12 §4.4 allows for data groups and signed attributes
/// (SHA-224 and SHA-1 are refused).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// The hash named by `oid`.
    pub(super) fn from_oid(oid: &ObjectIdentifier) -> Result<Self, ChipError> {
        match *oid {
            SHA256 => Ok(Self::Sha256),
            SHA384 => Ok(Self::Sha384),
            SHA512 => Ok(Self::Sha512),
            other => Err(ChipError::UnsupportedAlgorithm(other.to_string())),
        }
    }

    /// The hash of `data`.
    pub(super) fn digest(self, data: &[u8]) -> Vec<u8> {
        let algorithm = match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        };
        digest::digest(algorithm, data).as_ref().to_vec()
    }
}

/// `RSASSA-PSS-params` (RFC 4055 §3.1), every field present: ICAO 9303 part 12 §4.4.3 signers
/// encode them explicitly.
#[derive(Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    hash: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
    mask_gen: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
    salt_length: u32,
}

fn unsupported(what: &AlgorithmIdentifierOwned) -> ChipError {
    ChipError::UnsupportedAlgorithm(what.oid.to_string())
}

/// The hash of an `RSASSA-PSS` signature, when its parameters are ones aws-lc-rs checks:
/// MGF1 with the same hash and a salt as long as the hash.
fn pss_hash(algorithm: &AlgorithmIdentifierOwned) -> Result<HashAlgorithm, ChipError> {
    let params = algorithm
        .parameters
        .as_ref()
        .ok_or_else(|| unsupported(algorithm))?
        .decode_as::<PssParams>()
        .map_err(|_| unsupported(algorithm))?;
    let hash = HashAlgorithm::from_oid(&params.hash.oid)?;
    let mgf_hash = params
        .mask_gen
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<AlgorithmIdentifierOwned>().ok())
        .map(|a| a.oid);
    let salt = match hash {
        HashAlgorithm::Sha256 => 32,
        HashAlgorithm::Sha384 => 48,
        HashAlgorithm::Sha512 => 64,
    };
    if params.mask_gen.oid != MGF1
        || mgf_hash != Some(params.hash.oid)
        || params.salt_length != salt
    {
        return Err(unsupported(algorithm));
    }
    Ok(hash)
}

/// Verifies `sig` over `message` with `key` and `algorithm`. `digest_hint` is the CMS
/// `digestAlgorithm`, used when the signature algorithm is bare `rsaEncryption` (common in
/// SODs, ICAO 9303 part 10 §4.6.2.3). Returns `Ok(false)` for a signature that does not verify.
pub(super) fn verify_signature(
    algorithm: &AlgorithmIdentifierOwned,
    digest_hint: Option<HashAlgorithm>,
    key: &SubjectPublicKeyInfoOwned,
    message: &[u8],
    sig: &[u8],
) -> Result<bool, ChipError> {
    use HashAlgorithm::{Sha256, Sha384, Sha512};
    let key_der = key
        .to_der()
        .map_err(|e| ChipError::Malformed(format!("public key: {e}")))?;
    let verifier: &'static dyn signature::VerificationAlgorithm = match algorithm.oid {
        ECDSA_SHA256 | ECDSA_SHA384 | ECDSA_SHA512 => {
            if key.algorithm.oid != EC_PUBLIC_KEY {
                return Err(unsupported(&key.algorithm));
            }
            let curve = key
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| unsupported(&key.algorithm))?;
            match (curve, algorithm.oid) {
                (P256, ECDSA_SHA256) => &signature::ECDSA_P256_SHA256_ASN1,
                (P256, ECDSA_SHA384) => &signature::ECDSA_P256_SHA384_ASN1,
                (P256, ECDSA_SHA512) => &signature::ECDSA_P256_SHA512_ASN1,
                (P384, ECDSA_SHA256) => &signature::ECDSA_P384_SHA256_ASN1,
                (P384, ECDSA_SHA384) => &signature::ECDSA_P384_SHA384_ASN1,
                (P384, ECDSA_SHA512) => &signature::ECDSA_P384_SHA512_ASN1,
                (P521, ECDSA_SHA256) => &signature::ECDSA_P521_SHA256_ASN1,
                (P521, ECDSA_SHA384) => &signature::ECDSA_P521_SHA384_ASN1,
                (P521, ECDSA_SHA512) => &signature::ECDSA_P521_SHA512_ASN1,
                (curve, _) => return Err(ChipError::UnsupportedAlgorithm(curve.to_string())),
            }
        }
        SHA256_WITH_RSA | SHA384_WITH_RSA | SHA512_WITH_RSA | RSA_ENCRYPTION => {
            let hash = match algorithm.oid {
                SHA256_WITH_RSA => Sha256,
                SHA384_WITH_RSA => Sha384,
                SHA512_WITH_RSA => Sha512,
                _ => digest_hint.ok_or_else(|| unsupported(algorithm))?,
            };
            match hash {
                Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            }
        }
        RSA_PSS => match pss_hash(algorithm)? {
            Sha256 => &signature::RSA_PSS_2048_8192_SHA256,
            Sha384 => &signature::RSA_PSS_2048_8192_SHA384,
            Sha512 => &signature::RSA_PSS_2048_8192_SHA512,
        },
        _ => return Err(unsupported(algorithm)),
    };
    Ok(signature::UnparsedPublicKey::new(verifier, &key_der)
        .verify(message, sig)
        .is_ok())
}

/// Decodes a DER value, mapping failure to [`ChipError::Malformed`] naming `what`.
pub(super) fn decode<'a, T: Decode<'a, Error = der::Error>>(
    bytes: &'a [u8],
    what: &str,
) -> Result<T, ChipError> {
    T::from_der(bytes).map_err(|e| ChipError::Malformed(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair};
    use der::asn1::Any;

    use super::*;

    const MESSAGE: &[u8] = b"signed attributes";

    fn alg(oid: ObjectIdentifier, parameters: Option<Any>) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned { oid, parameters }
    }

    fn spki(der: &[u8]) -> SubjectPublicKeyInfoOwned {
        SubjectPublicKeyInfoOwned::from_der(der).unwrap()
    }

    #[test]
    fn ecdsa_p384() {
        let key = EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_ASN1_SIGNING).unwrap();
        let sig = key.sign(&SystemRandom::new(), MESSAGE).unwrap();
        let public = spki(key.public_key().as_der().unwrap().as_ref());
        let ecdsa384 = alg(ECDSA_SHA384, None);
        assert_eq!(
            verify_signature(&ecdsa384, None, &public, MESSAGE, sig.as_ref()),
            Ok(true)
        );
        assert_eq!(
            verify_signature(&ecdsa384, None, &public, b"other", sig.as_ref()),
            Ok(false)
        );
    }

    #[test]
    fn rsa_pkcs1_and_pss() {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = spki(key.public_key().as_der().unwrap().as_ref());
        let rng = SystemRandom::new();
        let mut sig = vec![0; key.public_modulus_len()];

        key.sign(&signature::RSA_PKCS1_SHA256, &rng, MESSAGE, &mut sig)
            .unwrap();
        let sha256_rsa = alg(SHA256_WITH_RSA, None);
        assert_eq!(
            verify_signature(&sha256_rsa, None, &public, MESSAGE, &sig),
            Ok(true)
        );
        // Bare rsaEncryption takes its hash from the CMS digestAlgorithm.
        let bare = alg(RSA_ENCRYPTION, None);
        assert_eq!(
            verify_signature(&bare, Some(HashAlgorithm::Sha256), &public, MESSAGE, &sig),
            Ok(true)
        );
        assert!(matches!(
            verify_signature(&bare, None, &public, MESSAGE, &sig),
            Err(ChipError::UnsupportedAlgorithm(_))
        ));

        key.sign(&signature::RSA_PSS_SHA256, &rng, MESSAGE, &mut sig)
            .unwrap();
        let sha256 = alg(SHA256, None);
        let params = |salt_length| PssParams {
            hash: sha256.clone(),
            mask_gen: alg(MGF1, Some(Any::encode_from(&sha256).unwrap())),
            salt_length,
        };
        let pss = alg(RSA_PSS, Some(Any::encode_from(&params(32)).unwrap()));
        assert_eq!(
            verify_signature(&pss, None, &public, MESSAGE, &sig),
            Ok(true)
        );
        assert_eq!(
            verify_signature(&pss, None, &public, b"other", &sig),
            Ok(false)
        );
        let odd_salt = alg(RSA_PSS, Some(Any::encode_from(&params(20)).unwrap()));
        assert!(matches!(
            verify_signature(&odd_salt, None, &public, MESSAGE, &sig),
            Err(ChipError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn sha1_is_refused() {
        let sha1 = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
        assert_eq!(
            HashAlgorithm::from_oid(&sha1),
            Err(ChipError::UnsupportedAlgorithm("1.3.14.3.2.26".into()))
        );
    }
}
