//! Enveloped XML signatures (XML Signature 1.1, exclusive canonicalisation, SHA-256
//! digest, RSA-SHA256 or ECDSA-SHA256) made by xmlsec through samael.
//!
//! samael's own response signing uses a SHA-1 digest and signs only the `<Response>`;
//! here the template is built on its public `Signature` type with SHA-256 and the key's
//! algorithm, placed by the caller where the schema wants it (right after the signed
//! element's `<Issuer>`), and xmlsec fills in the first template of the document. A
//! document with two signatures (a signed assertion inside a signed response) is signed
//! inside out: the assertion alone first, then the response around it.

use samael::crypto::{Crypto, CryptoProvider as _};
use samael::signature::{DigestAlgorithm, Signature};
use samael::traits::ToXml as _;

use super::keys::SigningKey;

/// Signing failed (a bug or a broken key, never input).
#[derive(Debug, thiserror::Error)]
#[error("XML signing failed: {0}")]
pub struct SignError(String);

impl From<std::io::Error> for SignError {
    fn from(err: std::io::Error) -> Self {
        SignError(err.to_string())
    }
}

/// The `<ds:Signature>` template for the element whose `ID` is `id`.
pub fn template(id: &str, key: &SigningKey) -> Result<String, SignError> {
    let mut signature = Signature::template(id, &key.certificate());
    signature.signed_info.signature_method.algorithm = key.kind().template_algorithm();
    for reference in &mut signature.signed_info.reference {
        reference.digest_method.algorithm = DigestAlgorithm::Sha256;
    }
    signature.to_string().map_err(|e| SignError(e.to_string()))
}

/// Fills in the first signature template of the document `xml` (see [`template`]) and
/// returns the signed document without an XML declaration.
pub fn sign(xml: &str, key: &SigningKey) -> Result<String, SignError> {
    let signed = Crypto::sign_xml(xml, key.pkcs8_der()).map_err(|e| SignError(e.to_string()))?;
    let body = match signed.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or("", |(_, body)| body),
        None => signed.as_str(),
    };
    Ok(body.trim().to_owned())
}
