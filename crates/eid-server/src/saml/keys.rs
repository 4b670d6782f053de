//! The identity provider's SAML signing key and its certificate, and the signature
//! checks of query strings (HTTP-Redirect binding) with a service provider's certificate.
//!
//! The key is RSA (RSA-SHA256, which every SAML service provider supports) or ECDSA P-256
//! (ECDSA-SHA256). On first start the daemon generates an RSA-3072 key and a self-signed
//! certificate (the usual form in SAML metadata, where trust comes from the metadata, not a
//! CA) and writes them next to its configuration: the key file with mode 0600.

use std::path::Path;

use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use openssl::x509::{X509, X509NameBuilder};
use samael::crypto::CertificateDer;
use samael::signature::SignatureAlgorithm;
use zeroize::Zeroizing;

/// `SigAlg` / `SignatureMethod` URI of RSA-SHA256 (RFC 6931 section 2.3.2).
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// `SigAlg` / `SignatureMethod` URI of ECDSA-SHA256 (RFC 6931 section 2.3.6).
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// Why a key or certificate cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// OpenSSL refused the key, the certificate or an operation.
    #[error("{0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    /// The key is neither RSA (at least 2048 bits) nor EC P-256.
    #[error("the SAML signing key must be RSA (2048 bits or more) or EC P-256")]
    UnsupportedKey,
    /// The certificate is not the key's.
    #[error("the SAML certificate does not hold the signing key's public key")]
    Mismatch,
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The kind of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum KeyKind {
    /// RSA, signing with RSA-SHA256.
    #[serde(rename = "rsa-sha256")]
    Rsa,
    /// EC P-256, signing with ECDSA-SHA256.
    #[serde(rename = "ecdsa-sha256")]
    EcP256,
}

impl KeyKind {
    fn of(key: &PKey<impl openssl::pkey::HasPublic>) -> Result<Self, KeyError> {
        match key.id() {
            Id::RSA if key.bits() >= 2048 => Ok(KeyKind::Rsa),
            Id::EC => {
                let curve = key.ec_key()?.group().curve_name();
                if curve == Some(Nid::X9_62_PRIME256V1) {
                    Ok(KeyKind::EcP256)
                } else {
                    Err(KeyError::UnsupportedKey)
                }
            }
            _ => Err(KeyError::UnsupportedKey),
        }
    }

    /// The signature algorithm URI.
    pub fn algorithm(self) -> &'static str {
        match self {
            KeyKind::Rsa => RSA_SHA256,
            KeyKind::EcP256 => ECDSA_SHA256,
        }
    }

    /// The algorithm as samael's signature template names it.
    pub fn template_algorithm(self) -> SignatureAlgorithm {
        match self {
            KeyKind::Rsa => SignatureAlgorithm::RsaSha256,
            KeyKind::EcP256 => SignatureAlgorithm::EcdsaSha256,
        }
    }
}

/// The identity provider's signing key with its certificate.
pub struct SigningKey {
    key: PKey<Private>,
    /// PKCS#8 DER of the key, for xmlsec.
    pkcs8: Zeroizing<Vec<u8>>,
    cert: X509,
    cert_der: Vec<u8>,
    kind: KeyKind,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key (PEM, PKCS#8 or traditional) and its certificate (PEM).
    pub fn from_pem(key_pem: &[u8], cert_pem: &[u8]) -> Result<Self, KeyError> {
        let key = PKey::private_key_from_pem(key_pem)?;
        let cert = X509::from_pem(cert_pem)?;
        Self::new(key, cert)
    }

    fn new(key: PKey<Private>, cert: X509) -> Result<Self, KeyError> {
        let kind = KeyKind::of(&key)?;
        if !cert.public_key()?.public_eq(&key) {
            return Err(KeyError::Mismatch);
        }
        Ok(Self {
            pkcs8: Zeroizing::new(key.private_key_to_pkcs8()?),
            cert_der: cert.to_der()?,
            key,
            cert,
            kind,
        })
    }

    /// A new key of `kind` with a self-signed certificate for `subject` (its common name),
    /// valid for ten years.
    pub fn generate(kind: KeyKind, subject: &str) -> Result<Self, KeyError> {
        let key = match kind {
            KeyKind::Rsa => PKey::from_rsa(Rsa::generate(3072)?)?,
            KeyKind::EcP256 => {
                let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
                PKey::from_ec_key(EcKey::generate(&group)?)?
            }
        };
        let mut name = X509NameBuilder::new()?;
        // A common name is at most 64 characters (RFC 5280 appendix A, ub-common-name).
        let cn: String = subject.chars().take(64).collect();
        name.append_entry_by_nid(Nid::COMMONNAME, &cn)?;
        let name = name.build();
        let mut serial = BigNum::new()?;
        serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
        let mut cert = X509::builder()?;
        cert.set_version(2)?;
        cert.set_serial_number(serial.to_asn1_integer()?.as_ref())?;
        cert.set_subject_name(&name)?;
        cert.set_issuer_name(&name)?;
        cert.set_not_before(openssl::asn1::Asn1Time::days_from_now(0)?.as_ref())?;
        cert.set_not_after(openssl::asn1::Asn1Time::days_from_now(3650)?.as_ref())?;
        cert.set_pubkey(&key)?;
        cert.sign(&key, MessageDigest::sha256())?;
        Self::new(key, cert.build())
    }

    /// Opens the key and certificate files, or generates a key of `kind` and a
    /// certificate for `subject` and writes them when neither file exists. Returns the key
    /// and whether it was created; an existing key must be of `kind`.
    pub fn open_or_create(
        key_path: &Path,
        cert_path: &Path,
        subject: &str,
        kind: KeyKind,
    ) -> Result<(Self, bool), KeyError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| KeyError::Io { path, source }
        };
        if !key_path.exists() && !cert_path.exists() {
            let key = Self::generate(kind, subject)?;
            let key_pem = Zeroizing::new(key.key.private_key_to_pem_pkcs8()?);
            crate::keyfile::write_private(key_path, &key_pem, false).map_err(io(key_path))?;
            std::fs::write(cert_path, key.cert.to_pem()?).map_err(io(cert_path))?;
            return Ok((key, true));
        }
        let key_pem = Zeroizing::new(std::fs::read(key_path).map_err(io(key_path))?);
        let cert_pem = std::fs::read(cert_path).map_err(io(cert_path))?;
        let key = Self::from_pem(&key_pem, &cert_pem)?;
        if key.kind != kind {
            return Err(KeyError::UnsupportedKey);
        }
        Ok((key, false))
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// PKCS#8 DER of the private key (for xmlsec).
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The certificate as samael takes it.
    pub fn certificate(&self) -> CertificateDer {
        CertificateDer::from(self.cert_der.clone())
    }

    /// Signs `data` with SHA-256 (a query string of the HTTP-Redirect binding). An ECDSA
    /// signature is returned as `r || s`, as XML Signature defines ECDSA-SHA256 values
    /// (RFC 4050 section 3.3, which RFC 6931 keeps).
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
        signer.update(data)?;
        let der = signer.sign_to_vec()?;
        match self.kind {
            KeyKind::Rsa => Ok(der),
            KeyKind::EcP256 => {
                let sig = EcdsaSig::from_der(&der)?;
                let mut raw = sig.r().to_vec_padded(32)?;
                raw.extend(sig.s().to_vec_padded(32)?);
                Ok(raw)
            }
        }
    }
}

/// A service provider's certificate, for checking its signatures.
#[derive(Clone)]
pub struct PeerCertificate {
    der: Vec<u8>,
    key: PKey<Public>,
    kind: KeyKind,
}

impl std::fmt::Debug for PeerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerCertificate")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl PeerCertificate {
    /// A certificate from its DER.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let cert = X509::from_der(der)?;
        let key = cert.public_key()?;
        let kind = KeyKind::of(&key)?;
        Ok(Self {
            der: der.to_vec(),
            key,
            kind,
        })
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as samael takes it.
    pub fn certificate(&self) -> CertificateDer {
        CertificateDer::from(self.der.clone())
    }

    /// The public key (for encrypting to the service provider).
    pub fn public_key(&self) -> &PKey<Public> {
        &self.key
    }

    /// Whether `signature` over `data` is valid under `algorithm` (the `SigAlg` of an
    /// HTTP-Redirect message). Only RSA-SHA256 and ECDSA-SHA256 are accepted, each with a
    /// key of its kind; an ECDSA value may be `r || s` (XML Signature) or DER.
    pub fn verifies(&self, algorithm: &str, data: &[u8], signature: &[u8]) -> bool {
        if algorithm != self.kind.algorithm() {
            return false;
        }
        let der;
        let signature = match self.kind {
            KeyKind::Rsa => signature,
            KeyKind::EcP256 if signature.len() == 64 => {
                let (r, s) = signature.split_at(32);
                let Ok(sig) = BigNum::from_slice(r)
                    .and_then(|r| EcdsaSig::from_private_components(r, BigNum::from_slice(s)?))
                else {
                    return false;
                };
                let Ok(encoded) = sig.to_der() else {
                    return false;
                };
                der = encoded;
                &der
            }
            KeyKind::EcP256 => signature,
        };
        Verifier::new(MessageDigest::sha256(), &self.key)
            .and_then(|mut v| {
                v.update(data)?;
                v.verify(signature)
            })
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_the_certificate_and_its_algorithm_only() {
        for kind in [KeyKind::Rsa, KeyKind::EcP256] {
            let key = SigningKey::generate(kind, "idp.example").unwrap();
            let peer = PeerCertificate::from_der(key.certificate_der()).unwrap();
            let sig = key.sign(b"SAMLRequest=abc&SigAlg=x").unwrap();
            assert!(peer.verifies(kind.algorithm(), b"SAMLRequest=abc&SigAlg=x", &sig));
            assert!(!peer.verifies(kind.algorithm(), b"SAMLRequest=abd&SigAlg=x", &sig));
            let other = match kind {
                KeyKind::Rsa => ECDSA_SHA256,
                KeyKind::EcP256 => RSA_SHA256,
            };
            assert!(!peer.verifies(other, b"SAMLRequest=abc&SigAlg=x", &sig));
            assert!(!peer.verifies(
                "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                b"SAMLRequest=abc&SigAlg=x",
                &sig
            ));
        }
    }

    #[test]
    fn ecdsa_signatures_are_raw_and_der_is_accepted_too() {
        let key = SigningKey::generate(KeyKind::EcP256, "idp").unwrap();
        let sig = key.sign(b"data").unwrap();
        assert_eq!(sig.len(), 64);
        let peer = PeerCertificate::from_der(key.certificate_der()).unwrap();
        let (r, s) = sig.split_at(32);
        let der = EcdsaSig::from_private_components(
            BigNum::from_slice(r).unwrap(),
            BigNum::from_slice(s).unwrap(),
        )
        .unwrap()
        .to_der()
        .unwrap();
        assert!(peer.verifies(ECDSA_SHA256, b"data", &der));
    }

    #[test]
    fn files_are_created_once_then_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let (key_path, cert_path) = (dir.path().join("k.pem"), dir.path().join("c.pem"));
        let (first, created) =
            SigningKey::open_or_create(&key_path, &cert_path, "idp", KeyKind::Rsa).unwrap();
        assert!(created);
        let (second, created) =
            SigningKey::open_or_create(&key_path, &cert_path, "idp", KeyKind::Rsa).unwrap();
        assert!(!created);
        assert_eq!(first.certificate_der(), second.certificate_der());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            SigningKey::open_or_create(&key_path, &cert_path, "idp", KeyKind::EcP256),
            Err(KeyError::UnsupportedKey)
        ));
        std::fs::remove_file(&cert_path).unwrap();
        assert!(SigningKey::open_or_create(&key_path, &cert_path, "idp", KeyKind::Rsa).is_err());
        let other = SigningKey::generate(KeyKind::Rsa, "other").unwrap();
        std::fs::write(&cert_path, other.cert.to_pem().unwrap()).unwrap();
        assert!(matches!(
            SigningKey::open_or_create(&key_path, &cert_path, "idp", KeyKind::Rsa),
            Err(KeyError::Mismatch)
        ));
    }
}
