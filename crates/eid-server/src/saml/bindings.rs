//! The HTTP-Redirect and HTTP-POST bindings (SAML Bindings 2.0 sections 3.4 and 3.5):
//! decoding a received message and checking its signature with the sending service
//! provider's certificates.
//!
//! A message is read in two steps: [`Incoming::from_redirect`] / [`Incoming::from_post`]
//! decode it and read it strictly ([`super::xml`]), which yields the (unverified) issuer
//! used only to find the service provider; [`Incoming::verified`] then checks the
//! signature with that provider's certificates and returns the element to consume.
//!
//! - Redirect: the signature covers the query string's own bytes,
//!   `SAMLRequest=…&RelayState=…&SigAlg=…` exactly as received (Bindings 3.4.4.1), so they
//!   are verified as such, not re-encoded (service providers differ in percent-encoding).
//! - POST: the signature is enveloped in the message. Before xmlsec sees it, the
//!   signature must have the one shape SAML uses (SAML Core 5.4): a single `ds:Signature`
//!   in the document, a child of the root, one `Reference` to the root's ID, the
//!   enveloped-signature and exclusive c14n transforms only, RSA-SHA256 or ECDSA-SHA256
//!   with SHA-256, a `KeyInfo` of X.509 data at most. xmlsec resolves references and runs
//!   transforms before it checks the signature value, so anything else (a URL to fetch,
//!   an XPath or XSLT transform to run) would be attacker-controlled work. xmlsec then
//!   verifies the signature and reduces the document to what it covers; only that reduced
//!   document is consumed, and it must be the message itself (same element, same ID): a
//!   signed element moved elsewhere in a forged message (signature wrapping) is refused.

use std::io::Read as _;

use base64ct::{Base64, Encoding as _};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider as _, ReduceMode,
};

use super::keys::{KeyKind, PeerCertificate};
use super::ns;
use super::xml::{self, Element, Limits, XmlError};

/// Longest `RelayState` (Bindings 3.4.3 and 3.5.3: it "MUST NOT exceed 80 bytes").
pub const MAX_RELAY_STATE: usize = 80;

/// Why a received message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// The message parameter is missing.
    #[error("the {0} parameter is missing")]
    Missing(&'static str),
    /// A parameter is repeated or not URL-encoded properly.
    #[error("malformed query or form: {0}")]
    Malformed(&'static str),
    /// Not base64, or not DEFLATE.
    #[error("the message is not properly encoded")]
    Encoding,
    /// `RelayState` is longer than 80 bytes.
    #[error("RelayState is longer than 80 bytes")]
    RelayState,
    /// The XML was refused.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// Unsigned, but the service provider must sign.
    #[error("the request must be signed")]
    Unsigned,
    /// The signature is invalid, or of an algorithm not accepted, or does not cover the
    /// message.
    #[error("the request's signature is invalid")]
    BadSignature,
}

/// How a message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// HTTP-Redirect.
    Redirect,
    /// HTTP-POST.
    Post,
}

#[derive(Debug)]
enum Proof {
    Redirect {
        signed_part: String,
        sig_alg: Option<String>,
        signature: Option<Vec<u8>>,
    },
    Post {
        xml: String,
    },
}

/// A received message, read but not yet verified.
#[derive(Debug)]
pub struct Incoming {
    root: Element,
    /// `RelayState`, to echo back.
    pub relay_state: Option<String>,
    /// The binding.
    pub binding: Binding,
    proof: Proof,
}

fn base64(value: &str) -> Result<Vec<u8>, BindingError> {
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    Base64::decode_vec(&compact).map_err(|_| BindingError::Encoding)
}

fn utf8(bytes: Vec<u8>) -> Result<String, BindingError> {
    String::from_utf8(bytes).map_err(|_| BindingError::Encoding)
}

fn relay_state(value: Option<String>) -> Result<Option<String>, BindingError> {
    match value {
        Some(v) if v.len() > MAX_RELAY_STATE => Err(BindingError::RelayState),
        other => Ok(other),
    }
}

impl Incoming {
    /// Reads the message in parameter `param` (`SAMLRequest`) of a raw query string.
    pub fn from_redirect(query: &str, param: &'static str) -> Result<Self, BindingError> {
        let mut raw: [Option<&str>; 4] = [None; 4];
        let names = [param, "RelayState", "SigAlg", "Signature"];
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if let Some(i) = names.iter().position(|n| *n == key)
                && raw[i].replace(value).is_some()
            {
                return Err(BindingError::Malformed("a parameter is repeated"));
            }
        }
        // application/x-www-form-urlencoded decoding of one value.
        let decode = |v: &str| -> Result<String, BindingError> {
            let pair = format!("v={v}");
            let decoded = url::form_urlencoded::parse(pair.as_bytes()).next();
            Ok(decoded.map(|(_, v)| v.into_owned()).unwrap_or_default())
        };
        let [Some(message), relay, sig_alg, signature] = raw else {
            return Err(BindingError::Missing(param));
        };
        // Bindings 3.4.4.1: DEFLATE (RFC 1951, no zlib header), then base64.
        let deflated = base64(&decode(message)?)?;
        let mut inflated = Vec::new();
        flate2::read::DeflateDecoder::new(deflated.as_slice())
            .take(Limits::MESSAGE.max_bytes as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(|_| BindingError::Encoding)?;
        let xml = utf8(inflated)?;
        let root = xml::parse(&xml, Limits::MESSAGE)?;
        // The octets signed, in this order, as they appear in the query (3.4.4.1).
        let mut signed_part = format!("{param}={message}");
        if let Some(relay) = relay {
            signed_part.push_str(&format!("&RelayState={relay}"));
        }
        if let Some(alg) = sig_alg {
            signed_part.push_str(&format!("&SigAlg={alg}"));
        }
        Ok(Self {
            root,
            relay_state: relay_state(relay.map(decode).transpose()?)?,
            binding: Binding::Redirect,
            proof: Proof::Redirect {
                signed_part,
                sig_alg: sig_alg.map(decode).transpose()?,
                signature: signature
                    .map(|s| decode(s).and_then(|s| base64(&s)))
                    .transpose()?,
            },
        })
    }

    /// Reads the message of an HTTP-POST form: `message` is the (base64) value of the
    /// `SAMLRequest` field.
    pub fn from_post(message: &str, relay: Option<&str>) -> Result<Self, BindingError> {
        let xml = utf8(base64(message)?)?;
        let root = xml::parse(&xml, Limits::MESSAGE)?;
        Ok(Self {
            root,
            relay_state: relay_state(relay.map(str::to_owned))?,
            binding: Binding::Post,
            proof: Proof::Post { xml },
        })
    }

    /// The message's `Issuer`, unverified: only to find whose certificates verify it.
    pub fn claimed_issuer(&self) -> Option<&str> {
        self.root
            .child(ns::ASSERTION, "Issuer")
            .ok()
            .flatten()
            .map(|i| i.text.trim())
    }

    /// The message, once its signature verifies with one of `certs`; an unsigned message
    /// only when `required` is false. Returns the element to consume and whether it was
    /// signed.
    pub fn verified(
        self,
        certs: &[PeerCertificate],
        required: bool,
    ) -> Result<(Element, bool), BindingError> {
        match self.proof {
            Proof::Redirect {
                signed_part,
                sig_alg,
                signature,
            } => {
                if self.root.child(ns::DSIG, "Signature")?.is_some() {
                    // Bindings 3.4.4.1: an enveloped signature MUST be removed first.
                    return Err(BindingError::BadSignature);
                }
                let (Some(alg), Some(signature)) = (sig_alg, signature) else {
                    return if required {
                        Err(BindingError::Unsigned)
                    } else {
                        Ok((self.root, false))
                    };
                };
                let good = certs
                    .iter()
                    .any(|c| c.verifies(&alg, signed_part.as_bytes(), &signature));
                if good {
                    Ok((self.root, true))
                } else {
                    Err(BindingError::BadSignature)
                }
            }
            Proof::Post { xml } => {
                if self.root.child(ns::DSIG, "Signature")?.is_none() {
                    return if required {
                        Err(BindingError::Unsigned)
                    } else {
                        Ok((self.root, false))
                    };
                }
                libxml2_agrees(&xml, &self.root)?;
                signature_shape(&self.root)?;
                let ders: Vec<CertificateDer> =
                    certs.iter().map(PeerCertificate::certificate).collect();
                let allowed = [
                    AllowedSignatureAlgorithm::RsaSha256,
                    AllowedSignatureAlgorithm::EcdsaSha256,
                ];
                if ders.is_empty() {
                    return Err(BindingError::BadSignature);
                }
                let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
                    &xml,
                    &ders,
                    ReduceMode::ValidateAndMarkNoAncestors,
                    Some(&allowed),
                )
                .map_err(|_| BindingError::BadSignature)?;
                let signed = xml::parse(&reduced, Limits::MESSAGE)
                    .map_err(|_| BindingError::BadSignature)?;
                let same = signed.ns == self.root.ns
                    && signed.name == self.root.name
                    && signed.attr("ID").is_some()
                    && signed.attr("ID") == self.root.attr("ID");
                if same {
                    Ok((signed, true))
                } else {
                    Err(BindingError::BadSignature)
                }
            }
        }
    }
}

/// URIs of the XML Signature constructs a SAML signature uses (SAML Core 5.4).
mod dsig {
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
    pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
}

fn count_signatures(el: &Element) -> usize {
    usize::from(el.is(ns::DSIG, "Signature"))
        + el.children.iter().map(count_signatures).sum::<usize>()
}

/// Whether every child of `el` is one of `allowed` (`(namespace, local name)`).
fn only(el: &Element, allowed: &[(&str, &str)]) -> Result<(), BindingError> {
    let fine = el
        .children
        .iter()
        .all(|c| allowed.iter().any(|(ns, name)| c.is(ns, name)));
    if fine {
        Ok(())
    } else {
        Err(BindingError::BadSignature)
    }
}

/// Checks that the enveloped signature of `root` has the shape of a SAML signature (SAML
/// Core 5.4.1-5.4.4) before xmlsec acts on it (see the module documentation).
fn signature_shape(root: &Element) -> Result<(), BindingError> {
    let bad = BindingError::BadSignature;
    let id = root.attr("ID").ok_or(bad.clone())?;
    if count_signatures(root) != 1 {
        return Err(bad);
    }
    let signature = root.child(ns::DSIG, "Signature")?.ok_or(bad.clone())?;
    only(
        signature,
        &[
            (ns::DSIG, "SignedInfo"),
            (ns::DSIG, "SignatureValue"),
            (ns::DSIG, "KeyInfo"),
        ],
    )?;
    let info = signature
        .child(ns::DSIG, "SignedInfo")?
        .ok_or(bad.clone())?;
    only(
        info,
        &[
            (ns::DSIG, "CanonicalizationMethod"),
            (ns::DSIG, "SignatureMethod"),
            (ns::DSIG, "Reference"),
        ],
    )?;
    let c14n = info
        .child(ns::DSIG, "CanonicalizationMethod")?
        .ok_or(bad.clone())?;
    exclusive_c14n(c14n)?;
    let method = info
        .child(ns::DSIG, "SignatureMethod")?
        .ok_or(bad.clone())?;
    leaf(method)?;
    if !method
        .attr("Algorithm")
        .is_some_and(|m| [KeyKind::Rsa.algorithm(), KeyKind::EcP256.algorithm()].contains(&m))
    {
        return Err(bad);
    }
    let mut references = info.children(ns::DSIG, "Reference");
    let reference = references.next().ok_or(bad.clone())?;
    if references.next().is_some() || reference.attr("URI") != Some(&format!("#{id}")) {
        return Err(bad);
    }
    only(
        reference,
        &[
            (ns::DSIG, "Transforms"),
            (ns::DSIG, "DigestMethod"),
            (ns::DSIG, "DigestValue"),
        ],
    )?;
    let digest = reference
        .child(ns::DSIG, "DigestMethod")?
        .ok_or(bad.clone())?;
    leaf(digest)?;
    leaf(
        reference
            .child(ns::DSIG, "DigestValue")?
            .ok_or(bad.clone())?,
    )?;
    if digest.attr("Algorithm") != Some(dsig::SHA256) {
        return Err(bad);
    }
    // Exactly the enveloped-signature transform, then exclusive c14n (SAML Core 5.4.3,
    // 5.4.4): no other transform, none twice.
    let transforms = reference
        .child(ns::DSIG, "Transforms")?
        .ok_or(bad.clone())?;
    only(transforms, &[(ns::DSIG, "Transform")])?;
    let [enveloped, c14n] = transforms.children.as_slice() else {
        return Err(bad);
    };
    leaf(enveloped)?;
    if enveloped.attr("Algorithm") != Some(dsig::ENVELOPED) {
        return Err(bad);
    }
    exclusive_c14n(c14n)?;
    leaf(
        signature
            .child(ns::DSIG, "SignatureValue")?
            .ok_or(bad.clone())?,
    )?;
    if let Some(key_info) = signature.child(ns::DSIG, "KeyInfo")? {
        // No RetrievalMethod (a URL), no KeyValue or other key xmlsec would use instead
        // of the metadata's certificates.
        only(key_info, &[(ns::DSIG, "X509Data"), (ns::DSIG, "KeyName")])?;
        for name in key_info.children(ns::DSIG, "KeyName") {
            leaf(name)?;
        }
        for data in key_info.children(ns::DSIG, "X509Data") {
            for item in &data.children {
                match item.name.as_str() {
                    _ if item.ns != ns::DSIG => return Err(bad),
                    "X509Certificate" | "X509SubjectName" | "X509SKI" => leaf(item)?,
                    "X509IssuerSerial" => {
                        only(
                            item,
                            &[(ns::DSIG, "X509IssuerName"), (ns::DSIG, "X509SerialNumber")],
                        )?;
                        item.children.iter().try_for_each(leaf)?;
                    }
                    _ => return Err(bad),
                }
            }
        }
    }
    Ok(())
}

/// An element without child elements.
fn leaf(el: &Element) -> Result<(), BindingError> {
    only(el, &[])
}

/// Most prefixes an exclusive c14n `InclusiveNamespaces` may list: each is looked up on
/// every element being canonicalised, so a long list is work for an attacker to ask for.
const MAX_INCLUSIVE_PREFIXES: usize = 8;

/// An exclusive c14n method (`CanonicalizationMethod` or `Transform`): at most one short
/// `InclusiveNamespaces` inside.
fn exclusive_c14n(el: &Element) -> Result<(), BindingError> {
    let bad = BindingError::BadSignature;
    if el.attr("Algorithm") != Some(dsig::EXC_C14N) {
        return Err(bad);
    }
    only(el, &[(dsig::EXC_C14N, "InclusiveNamespaces")])?;
    if let Some(inclusive) = el.child(dsig::EXC_C14N, "InclusiveNamespaces")? {
        leaf(inclusive)?;
        let prefixes = inclusive.attr("PrefixList").unwrap_or_default();
        if prefixes.len() > 128 || prefixes.split_whitespace().count() > MAX_INCLUSIVE_PREFIXES {
            return Err(bad);
        }
    }
    Ok(())
}

/// Whether libxml2 (which xmlsec uses) reads `xml` as the same tree as the strict reader
/// did (`root`): parsed without recovery and without network access, the same elements by
/// namespace and local name in the same order, with the same attribute values. Where two
/// parsers could disagree, the signature check would look at one tree and xmlsec act on
/// another.
fn libxml2_agrees(xml: &str, root: &Element) -> Result<(), BindingError> {
    let options = libxml::parser::ParserOptions {
        recover: false,
        no_net: true,
        no_def_dtd: true,
        ..libxml::parser::ParserOptions::default()
    };
    let document = libxml::parser::Parser::default()
        .parse_string_with_options(xml, options)
        .map_err(|_| BindingError::BadSignature)?;
    let node = document
        .get_root_element()
        .ok_or(BindingError::BadSignature)?;
    if same_element(&node, root) {
        Ok(())
    } else {
        Err(BindingError::BadSignature)
    }
}

fn same_element(node: &libxml::tree::Node, el: &Element) -> bool {
    let ns = node
        .get_namespace()
        .map(|n| n.get_href())
        .unwrap_or_default();
    let properties = node.get_properties();
    let children = node.get_child_elements();
    ns == el.ns
        && node.get_name() == el.name
        && properties.len() == el.attributes.len()
        && el
            .attributes
            .iter()
            .all(|a| properties.get(&a.name) == Some(&a.value))
        && children.len() == el.children.len()
        && children
            .iter()
            .zip(&el.children)
            .all(|(node, el)| same_element(node, el))
}

/// Encodes `xml` for the HTTP-Redirect binding and signs it with `sign`: returns the
/// query string `{param}=…[&RelayState=…]&SigAlg=…&Signature=…`.
pub fn redirect_query(
    param: &str,
    xml: &str,
    relay: Option<&str>,
    kind: KeyKind,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, super::keys::KeyError>,
) -> Result<String, super::keys::KeyError> {
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut deflater, xml.as_bytes()).map_err(io_key_error)?;
    let deflated = deflater.finish().map_err(io_key_error)?;
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let mut query = format!("{param}={}", enc(&Base64::encode_string(&deflated)));
    if let Some(relay) = relay {
        query.push_str(&format!("&RelayState={}", enc(relay)));
    }
    query.push_str(&format!("&SigAlg={}", enc(kind.algorithm())));
    let signature = sign(query.as_bytes())?;
    query.push_str(&format!(
        "&Signature={}",
        enc(&Base64::encode_string(&signature))
    ));
    Ok(query)
}

fn io_key_error(source: std::io::Error) -> super::keys::KeyError {
    super::keys::KeyError::Io {
        path: "DEFLATE".to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::super::keys::{KeyKind, SigningKey};
    use super::*;

    const REQUEST: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="2026-11-24T10:00:00Z"><saml:Issuer>https://sp.example</saml:Issuer></samlp:AuthnRequest>"#;

    fn peer(key: &SigningKey) -> PeerCertificate {
        PeerCertificate::from_der(key.certificate_der()).unwrap()
    }

    fn signed_query(key: &SigningKey, relay: Option<&str>) -> String {
        redirect_query("SAMLRequest", REQUEST, relay, key.kind(), |d| key.sign(d)).unwrap()
    }

    #[test]
    fn redirect_signatures_verify_over_the_received_bytes() {
        for kind in [KeyKind::Rsa, KeyKind::EcP256] {
            let key = SigningKey::generate(kind, "sp").unwrap();
            let query = signed_query(&key, Some("state 1/2"));
            let incoming = Incoming::from_redirect(&query, "SAMLRequest").unwrap();
            assert_eq!(incoming.claimed_issuer(), Some("https://sp.example"));
            assert_eq!(incoming.relay_state.as_deref(), Some("state 1/2"));
            let (root, signed) = incoming.verified(&[peer(&key)], true).unwrap();
            assert!(signed && root.is(ns::PROTOCOL, "AuthnRequest"));
            // Lower-case percent-encoding (as some service providers send) is signed as
            // sent, and still verifies.
            let lower = {
                let sign_part = query
                    .split("&Signature=")
                    .next()
                    .unwrap()
                    .replace("%2F", "%2f");
                let sig = key.sign(sign_part.as_bytes()).unwrap();
                let sig: String =
                    url::form_urlencoded::byte_serialize(Base64::encode_string(&sig).as_bytes())
                        .collect();
                format!("{sign_part}&Signature={sig}")
            };
            let incoming = Incoming::from_redirect(&lower, "SAMLRequest").unwrap();
            assert!(incoming.verified(&[peer(&key)], true).unwrap().1);
        }
    }

    #[test]
    fn tampered_foreign_and_missing_redirect_signatures_are_refused() {
        let key = SigningKey::generate(KeyKind::Rsa, "sp").unwrap();
        let other = SigningKey::generate(KeyKind::Rsa, "other").unwrap();
        let query = signed_query(&key, Some("rs"));
        let verify = |q: &str, certs: &[PeerCertificate], required| {
            Incoming::from_redirect(q, "SAMLRequest").and_then(|i| i.verified(certs, required))
        };
        assert_eq!(
            verify(
                &query.replace("RelayState=rs", "RelayState=rt"),
                &[peer(&key)],
                true
            )
            .err(),
            Some(BindingError::BadSignature)
        );
        assert_eq!(
            verify(&query, &[peer(&other)], true).err(),
            Some(BindingError::BadSignature)
        );
        let unsigned = query.split("&SigAlg=").next().unwrap();
        assert_eq!(
            verify(unsigned, &[peer(&key)], true).err(),
            Some(BindingError::Unsigned)
        );
        assert!(!verify(unsigned, &[peer(&key)], false).unwrap().1);
        let sha1 = query.replace("xmldsig-more%23rsa-sha256", "xmldsig%23rsa-sha1");
        assert_eq!(
            verify(&sha1, &[peer(&key)], true).err(),
            Some(BindingError::BadSignature)
        );
    }

    #[test]
    fn malformed_redirect_messages_are_refused() {
        let key = SigningKey::generate(KeyKind::Rsa, "sp").unwrap();
        let query = signed_query(&key, None);
        let cases = [
            (
                "RelayState=x".to_owned(),
                BindingError::Missing("SAMLRequest"),
            ),
            (
                format!("{query}&SAMLRequest=x"),
                BindingError::Malformed("a parameter is repeated"),
            ),
            ("SAMLRequest=%%%".to_owned(), BindingError::Encoding),
            (
                "SAMLRequest=bm90IGRlZmxhdGU%3D".to_owned(),
                BindingError::Encoding,
            ),
            (
                format!("{query}&RelayState={}", "x".repeat(81)),
                BindingError::RelayState,
            ),
        ];
        for (q, expected) in cases {
            assert_eq!(
                Incoming::from_redirect(&q, "SAMLRequest").err(),
                Some(expected),
                "{q}"
            );
        }
        // A DEFLATE bomb stops at the size limit.
        let bomb = format!("<r>{}</r>", " ".repeat(10 * 1024 * 1024));
        let q = redirect_query("SAMLRequest", &bomb, None, key.kind(), |d| key.sign(d)).unwrap();
        assert!(matches!(
            Incoming::from_redirect(&q, "SAMLRequest"),
            Err(BindingError::Xml(XmlError::TooLarge(_)))
        ));
    }

    #[test]
    fn post_messages_need_a_signature_over_the_root_when_required() {
        let key = SigningKey::generate(KeyKind::Rsa, "sp").unwrap();
        let b64 = Base64::encode_string(REQUEST.as_bytes());
        let incoming = Incoming::from_post(&b64, Some("rs")).unwrap();
        assert_eq!(
            incoming.verified(&[peer(&key)], true).err(),
            Some(BindingError::Unsigned)
        );
        let incoming = Incoming::from_post(&b64, None).unwrap();
        assert!(!incoming.verified(&[peer(&key)], false).unwrap().1);
        // Signed by the SP: verifies; by someone else: refused.
        let template = super::super::sign::template("_r", &key).unwrap();
        let with_template = REQUEST.replace("</saml:Issuer>", &format!("</saml:Issuer>{template}"));
        let signed = super::super::sign::sign(&with_template, &key).unwrap();
        let b64 = Base64::encode_string(signed.as_bytes());
        let (root, was_signed) = Incoming::from_post(&b64, None)
            .unwrap()
            .verified(&[peer(&key)], true)
            .unwrap();
        assert!(was_signed && root.attr("ID") == Some("_r"));
        let other = SigningKey::generate(KeyKind::Rsa, "other").unwrap();
        assert_eq!(
            Incoming::from_post(&b64, None)
                .unwrap()
                .verified(&[peer(&other)], true)
                .err(),
            Some(BindingError::BadSignature)
        );
        // Anything but the SAML shape of a signature is refused before xmlsec acts on it:
        // a reference to fetch, an XPath transform to run, a second reference, a key to
        // retrieve, another signature elsewhere.
        let uri = "URI=\"#_r\"";
        let cases = [
            signed.replacen(uri, "URI=\"http://127.0.0.1:9/ssrf\"", 1),
            signed.replacen(uri, "URI=\"\"", 1),
            signed.replacen(
                "<ds:Transforms>",
                "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>count(//node()) &gt;= 0</ds:XPath></ds:Transform>",
                1,
            ),
            signed.replacen(
                "</ds:SignedInfo>",
                "<ds:Reference URI=\"#_r\"><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo>",
                1,
            ),
            signed.replacen(
                "<ds:X509Data>",
                "<ds:RetrievalMethod URI=\"http://127.0.0.1:9/key\"/><ds:X509Data>",
                1,
            ),
            signed.replacen(
                "</samlp:AuthnRequest>",
                "<samlp:Extensions><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/></samlp:Extensions></samlp:AuthnRequest>",
                1,
            ),
            signed.replacen("xmlenc#sha256", "xmldsig#sha1", 1),
            signed.replacen(
                "</ds:Transforms>",
                "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>",
                1,
            ),
            signed.replacen(
                "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
                &format!(
                    "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"{}\"/></ds:Transform>",
                    "p ".repeat(9)
                ),
                1,
            ),
            signed.replacen(
                "</ds:DigestValue>",
                "<ds:Reference URI=\"http://127.0.0.1:9/x\"/></ds:DigestValue>",
                1,
            ),
        ];
        let shape = |xml: &str| signature_shape(&xml::parse(xml, Limits::MESSAGE).unwrap());
        assert_eq!(shape(&signed), Ok(()));
        // libxml2 reads the signed request as the strict reader does, and another tree
        // is told apart.
        let tree = xml::parse(&signed, Limits::MESSAGE).unwrap();
        assert_eq!(libxml2_agrees(&signed, &tree), Ok(()));
        let mut other = tree.clone();
        other.children.pop();
        assert_eq!(
            libxml2_agrees(&signed, &other),
            Err(BindingError::BadSignature)
        );
        let mut renamed = tree.clone();
        renamed.attributes[0].value.push('x');
        assert_eq!(
            libxml2_agrees(&signed, &renamed),
            Err(BindingError::BadSignature)
        );
        assert_eq!(
            libxml2_agrees("<r a=\"1\"", &tree),
            Err(BindingError::BadSignature)
        );
        for case in cases {
            assert_ne!(case, signed);
            assert_eq!(shape(&case), Err(BindingError::BadSignature), "{case}");
            let b64 = Base64::encode_string(case.as_bytes());
            assert_eq!(
                Incoming::from_post(&b64, None)
                    .unwrap()
                    .verified(&[peer(&key)], true)
                    .err(),
                Some(BindingError::BadSignature),
                "{case}"
            );
        }
        // Changing a signed attribute breaks the signature.
        let tampered = signed.replace("Version=\"2.0\"", "Version=\"2.0\" ForceAuthn=\"true\"");
        let b64 = Base64::encode_string(tampered.as_bytes());
        assert_eq!(
            Incoming::from_post(&b64, None)
                .unwrap()
                .verified(&[peer(&key)], true)
                .err(),
            Some(BindingError::BadSignature)
        );
    }
}
