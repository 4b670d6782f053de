//! `<saml:EncryptedAssertion>` (SAML Core 2.3.4, XML Encryption 1.1): the signed assertion
//! encrypted with AES-256-GCM under a fresh key, the key encrypted to the service
//! provider's RSA certificate with RSA-OAEP (MGF1 with SHA-1, `rsa-oaep-mgf1p`, the key
//! transport every SAML service provider supports).
//!
//! XML Encryption 1.1 section 5.2.4: the AES-GCM cipher value is the 96-bit IV, then the
//! ciphertext, then the 128-bit tag.

use std::io::Cursor;

use base64ct::{Base64, Encoding as _};
use openssl::pkey::Id;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, encrypt_aead};
use quick_xml::Writer;
use quick_xml::events::BytesText;
use zeroize::Zeroizing;

use super::keys::PeerCertificate;
use super::ns;

/// `EncryptionMethod` of the data.
pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
/// `EncryptionMethod` of the key.
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
/// The XML Encryption namespace.
pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
/// `Type` of encrypted element content.
const ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
/// The SHA-1 digest of the OAEP padding (the default of `rsa-oaep-mgf1p`).
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// Encryption failed (a key that cannot be used, or OpenSSL).
#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    /// The service provider's encryption key is not RSA.
    #[error("only RSA encryption certificates are supported")]
    NotRsa,
    /// OpenSSL failed.
    #[error("encryption failed: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    /// Writing the XML failed.
    #[error("encryption failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Whether `cert` can receive encrypted assertions.
pub fn can_encrypt_to(cert: &PeerCertificate) -> bool {
    cert.public_key().id() == Id::RSA
}

/// `<saml:EncryptedAssertion>` holding `assertion` (a complete element with its
/// namespace declarations) for the holder of `cert`.
pub fn encrypted_assertion(
    assertion: &str,
    cert: &PeerCertificate,
) -> Result<String, EncryptError> {
    let rsa = cert.public_key().rsa().map_err(|_| EncryptError::NotRsa)?;
    let mut key = Zeroizing::new([0u8; 32]);
    openssl::rand::rand_bytes(key.as_mut())?;
    let mut iv = [0u8; 12];
    openssl::rand::rand_bytes(&mut iv)?;
    let mut tag = [0u8; 16];
    let ciphertext = encrypt_aead(
        Cipher::aes_256_gcm(),
        key.as_ref(),
        Some(&iv),
        &[],
        assertion.as_bytes(),
        &mut tag,
    )?;
    let mut value = iv.to_vec();
    value.extend_from_slice(&ciphertext);
    value.extend_from_slice(&tag);
    let mut wrapped = vec![0u8; usize::try_from(rsa.size()).unwrap_or(512)];
    let len = rsa.public_encrypt(key.as_ref(), &mut wrapped, Padding::PKCS1_OAEP)?;
    wrapped.truncate(len);

    let cipher_data = |w: &mut Writer<Cursor<Vec<u8>>>, bytes: &[u8]| -> std::io::Result<()> {
        w.create_element("xenc:CipherData")
            .write_inner_content(|w| {
                w.create_element("xenc:CipherValue")
                    .write_text_content(BytesText::new(&Base64::encode_string(bytes)))?;
                Ok(())
            })?;
        Ok(())
    };
    let mut w = Writer::new(Cursor::new(Vec::new()));
    w.create_element("saml:EncryptedAssertion")
        .with_attribute(("xmlns:saml", ns::ASSERTION))
        .write_inner_content(|w| {
            w.create_element("xenc:EncryptedData")
                .with_attributes([("xmlns:xenc", XENC), ("Type", ELEMENT)])
                .write_inner_content(|w| {
                    w.create_element("xenc:EncryptionMethod")
                        .with_attribute(("Algorithm", AES256_GCM))
                        .write_empty()?;
                    w.create_element("ds:KeyInfo")
                        .with_attribute(("xmlns:ds", ns::DSIG))
                        .write_inner_content(|w| {
                            w.create_element("xenc:EncryptedKey")
                                .write_inner_content(|w| {
                                    w.create_element("xenc:EncryptionMethod")
                                        .with_attribute(("Algorithm", RSA_OAEP_MGF1P))
                                        .write_inner_content(|w| {
                                            w.create_element("ds:DigestMethod")
                                                .with_attribute(("Algorithm", SHA1))
                                                .write_empty()?;
                                            Ok(())
                                        })?;
                                    cipher_data(w, &wrapped)
                                })?;
                            Ok(())
                        })?;
                    cipher_data(w, &value)
                })?;
            Ok(())
        })?;
    String::from_utf8(w.into_inner().into_inner()).map_err(|e| std::io::Error::other(e).into())
}

#[cfg(test)]
mod tests {
    use openssl::pkey::PKey;
    use openssl::symm::decrypt_aead;

    use super::super::keys::{KeyKind, SigningKey};
    use super::super::xml::{Limits, parse};
    use super::*;

    #[test]
    fn the_holder_of_the_key_recovers_the_assertion() {
        let sp = SigningKey::generate(KeyKind::Rsa, "sp").unwrap();
        let cert = PeerCertificate::from_der(sp.certificate_der()).unwrap();
        assert!(can_encrypt_to(&cert));
        let assertion = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a">x</saml:Assertion>"#;
        let xml = encrypted_assertion(assertion, &cert).unwrap();
        let root = parse(&xml, Limits::MESSAGE).unwrap();
        let data = root.child(XENC, "EncryptedData").unwrap().unwrap();
        let value = |el: &super::super::xml::Element| {
            let cipher = el.child(XENC, "CipherData").unwrap().unwrap();
            let text = &cipher.child(XENC, "CipherValue").unwrap().unwrap().text;
            Base64::decode_vec(text).unwrap()
        };
        let encrypted_key = data
            .child(ns::DSIG, "KeyInfo")
            .unwrap()
            .unwrap()
            .child(XENC, "EncryptedKey")
            .unwrap()
            .unwrap();
        let private = PKey::private_key_from_der(sp.pkcs8_der())
            .unwrap()
            .rsa()
            .unwrap();
        let mut key = vec![0u8; 512];
        let len = private
            .private_decrypt(&value(encrypted_key), &mut key, Padding::PKCS1_OAEP)
            .unwrap();
        let body = value(data);
        let (iv, rest) = body.split_at(12);
        let (ciphertext, tag) = rest.split_at(rest.len() - 16);
        let plain = decrypt_aead(
            Cipher::aes_256_gcm(),
            &key[..len],
            Some(iv),
            &[],
            ciphertext,
            tag,
        )
        .unwrap();
        assert_eq!(plain, assertion.as_bytes());
        // A different ciphertext each time (fresh key and IV).
        assert_ne!(encrypted_assertion(assertion, &cert).unwrap(), xml);
        let ec = SigningKey::generate(KeyKind::EcP256, "sp").unwrap();
        let ec = PeerCertificate::from_der(ec.certificate_der()).unwrap();
        assert!(!can_encrypt_to(&ec));
        assert!(matches!(
            encrypted_assertion(assertion, &ec),
            Err(EncryptError::NotRsa)
        ));
    }
}
