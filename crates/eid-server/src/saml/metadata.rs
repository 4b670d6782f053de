//! This identity provider's metadata (SAML Metadata 2.0): entity ID, signing certificate,
//! single sign-on (HTTP-Redirect and HTTP-POST) and single logout (HTTP-Redirect)
//! endpoints, NameID formats and the levels of assurance it asserts; signed, with a
//! `validUntil` a week ahead (Metadata 3.1: signed metadata should be time-limited).

use std::io::Cursor;

use base64ct::{Base64, Encoding as _};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use time::OffsetDateTime;

use super::keys::SigningKey;
use super::response::{instant, new_id};
use super::sign::{self, SignError};
use super::{NameIdFormat, ns};

/// How long signed metadata is valid.
pub const VALIDITY: time::Duration = time::Duration::days(7);

/// eIDAS: the entity category attribute naming the levels of assurance an identity
/// provider asserts (eIDAS SAML Message Format, section on metadata).
const ASSURANCE_CERTIFICATION: &str = "urn:oasis:names:tc:SAML:attribute:assurance-certification";

/// What the metadata describes.
#[derive(Debug, Clone)]
pub struct IdpDescription<'a> {
    /// The entity ID.
    pub entity_id: &'a str,
    /// The single sign-on endpoint URL.
    pub sso_url: &'a str,
    /// The single logout endpoint URL.
    pub slo_url: &'a str,
    /// Whether any service provider must sign its requests (`WantAuthnRequestsSigned`).
    pub want_requests_signed: bool,
    /// The level of assurance URIs asserted.
    pub levels: &'a [&'a str],
}

/// The metadata document listing the certificates of `keys`, signed with the first.
pub fn idp_metadata(
    idp: &IdpDescription<'_>,
    keys: &[&SigningKey],
    now: OffsetDateTime,
) -> Result<String, SignError> {
    let key = keys
        .first()
        .ok_or_else(|| SignError::from(std::io::Error::other("no key")))?;
    let id = new_id();
    let valid_until = instant(now + VALIDITY);
    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("md:EntityDescriptor")
        .with_attributes([
            ("xmlns:md", ns::METADATA),
            ("xmlns:ds", ns::DSIG),
            ("xmlns:saml", ns::ASSERTION),
            ("xmlns:mdattr", "urn:oasis:names:tc:SAML:metadata:attribute"),
            ("ID", id.as_str()),
            ("entityID", idp.entity_id),
            ("validUntil", valid_until.as_str()),
        ])
        .write_inner_content(|w| {
            let template = sign::template(&id, key).map_err(std::io::Error::other)?;
            w.write_event(Event::Text(BytesText::from_escaped(template)))?;
            w.create_element("md:Extensions").write_inner_content(|w| {
                w.create_element("mdattr:EntityAttributes")
                    .write_inner_content(|w| {
                        w.create_element("saml:Attribute")
                            .with_attributes([
                                ("Name", ASSURANCE_CERTIFICATION),
                                ("NameFormat", ns::ATTRNAME_URI),
                            ])
                            .write_inner_content(|w| {
                                for level in idp.levels {
                                    w.create_element("saml:AttributeValue")
                                        .write_text_content(BytesText::new(level))?;
                                }
                                Ok(())
                            })?;
                        Ok(())
                    })?;
                Ok(())
            })?;
            w.create_element("md:IDPSSODescriptor")
                .with_attributes([
                    (
                        "WantAuthnRequestsSigned",
                        if idp.want_requests_signed {
                            "true"
                        } else {
                            "false"
                        },
                    ),
                    ("protocolSupportEnumeration", ns::PROTOCOL),
                ])
                .write_inner_content(|w| {
                    for signing in keys {
                        let cert = Base64::encode_string(signing.certificate_der());
                        w.create_element("md:KeyDescriptor")
                            .with_attribute(("use", "signing"))
                            .write_inner_content(|w| {
                                w.create_element("ds:KeyInfo").write_inner_content(|w| {
                                    w.create_element("ds:X509Data").write_inner_content(|w| {
                                        w.create_element("ds:X509Certificate")
                                            .write_text_content(BytesText::new(&cert))?;
                                        Ok(())
                                    })?;
                                    Ok(())
                                })?;
                                Ok(())
                            })?;
                    }
                    // Schema order: SingleLogoutService, NameIDFormat, SingleSignOnService.
                    w.create_element("md:SingleLogoutService")
                        .with_attributes([("Binding", ns::REDIRECT), ("Location", idp.slo_url)])
                        .write_empty()?;
                    for format in [NameIdFormat::Persistent, NameIdFormat::Transient] {
                        w.create_element("md:NameIDFormat")
                            .write_text_content(BytesText::new(format.uri()))?;
                    }
                    for binding in [ns::REDIRECT, ns::POST] {
                        w.create_element("md:SingleSignOnService")
                            .with_attributes([("Binding", binding), ("Location", idp.sso_url)])
                            .write_empty()?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    let xml = String::from_utf8(w.into_inner().into_inner()).map_err(std::io::Error::other)?;
    let signed = sign::sign(&xml, key)?;
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{signed}"
    ))
}

#[cfg(test)]
mod tests {
    use samael::crypto::{Crypto, CryptoProvider as _, ReduceMode};

    use super::super::keys::KeyKind;
    use super::super::xml::{Limits, parse};
    use super::*;

    #[test]
    fn metadata_is_signed_and_lists_both_keys_and_the_endpoints() {
        let rsa = SigningKey::generate(KeyKind::Rsa, "idp").unwrap();
        let ec = SigningKey::generate(KeyKind::EcP256, "idp").unwrap();
        let idp = IdpDescription {
            entity_id: "https://id.example.vn/saml/metadata",
            sso_url: "https://id.example.vn/saml/sso",
            slo_url: "https://id.example.vn/saml/slo",
            want_requests_signed: true,
            levels: &["http://eidas.europa.eu/LoA/high"],
        };
        let xml = idp_metadata(&idp, &[&rsa, &ec], OffsetDateTime::now_utc()).unwrap();
        let reduced = Crypto::reduce_xml_to_signed(
            &xml,
            &[rsa.certificate()],
            ReduceMode::ValidateAndMarkNoAncestors,
        )
        .unwrap();
        let root = parse(&reduced, Limits::METADATA).unwrap();
        assert_eq!(root.attr("entityID"), Some(idp.entity_id));
        let descriptor = root
            .child(ns::METADATA, "IDPSSODescriptor")
            .unwrap()
            .unwrap();
        assert_eq!(descriptor.attr("WantAuthnRequestsSigned"), Some("true"));
        assert_eq!(
            descriptor.children(ns::METADATA, "KeyDescriptor").count(),
            2
        );
        let sso: Vec<_> = descriptor
            .children(ns::METADATA, "SingleSignOnService")
            .map(|s| (s.attr("Binding").unwrap(), s.attr("Location").unwrap()))
            .collect();
        assert_eq!(sso, [(ns::REDIRECT, idp.sso_url), (ns::POST, idp.sso_url)]);
        // Signed with the first key only.
        assert!(
            Crypto::reduce_xml_to_signed(
                &xml,
                &[ec.certificate()],
                ReduceMode::ValidateAndMarkNoAncestors
            )
            .is_err()
        );
    }
}
