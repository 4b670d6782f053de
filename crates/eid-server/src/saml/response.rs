//! Building the `<samlp:Response>` sent to a service provider's assertion consumer
//! service: on success with one signed `<saml:Assertion>` (bearer subject confirmation,
//! audience restriction, authentication statement with the level of assurance, the
//! released attributes), on failure with a status code only; the response itself is
//! signed too.
//!
//! Everything is written with quick-xml's writer, which escapes every text and attribute
//! value; signatures are made by [`super::sign`].

use std::io::Cursor;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use time::OffsetDateTime;

use super::encrypt::encrypted_assertion;
use super::keys::{PeerCertificate, SigningKey};
use super::sign::{self, SignError};
use super::{NameIdFormat, ns, status};

/// How long an assertion may be presented: the `NotOnOrAfter` of its conditions and of
/// its bearer confirmation (SAML Profiles 4.1.4.2 requires one on the latter).
pub const ASSERTION_LIFETIME: time::Duration = time::Duration::minutes(5);
/// How far before the issue instant `NotBefore` lies: a service provider whose clock runs
/// a little behind still accepts the assertion.
pub const NOT_BEFORE_SKEW: time::Duration = time::Duration::minutes(1);

/// What the response answers.
#[derive(Debug, Clone)]
pub struct Addressee<'a> {
    /// The identity provider's entity ID (`Issuer`).
    pub issuer: &'a str,
    /// The service provider's entity ID (`Audience`).
    pub audience: &'a str,
    /// The assertion consumer service URL (`Destination`, `Recipient`).
    pub acs_url: &'a str,
    /// The request's ID (`InResponseTo`).
    pub in_response_to: &'a str,
}

/// One attribute of the assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAttribute {
    /// `Name`.
    pub name: String,
    /// `NameFormat`.
    pub name_format: &'static str,
    /// `FriendlyName`.
    pub friendly_name: String,
    /// The value (`xs:string`).
    pub value: String,
}

/// The authenticated citizen as the assertion states it.
#[derive(Debug, Clone)]
pub struct Authenticated<'a> {
    /// The `NameID` value.
    pub name_id: &'a str,
    /// Its format.
    pub name_id_format: NameIdFormat,
    /// When the citizen authenticated.
    pub authn_instant: OffsetDateTime,
    /// `SessionIndex` (for single logout).
    pub session_index: &'a str,
    /// `AuthnContextClassRef`.
    pub context_class: &'a str,
    /// The released attributes (no `AttributeStatement` when empty: the schema wants at
    /// least one attribute in it).
    pub attributes: &'a [SamlAttribute],
}

/// A SAML status: top-level code, optional second-level code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The top-level code (SAML Core 3.2.2.2): `Requester` or `Responder`.
    pub code: &'static str,
    /// The second-level code.
    pub detail: Option<&'static str>,
    /// `StatusMessage` (never personal data).
    pub message: &'static str,
}

/// `xs:dateTime` in UTC with a `Z` and whole seconds (SAML Core 1.3.3).
pub fn instant(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// A new random `xs:ID` (128 random bits; SAML Core 1.3.4 asks for at least that much).
pub fn new_id() -> String {
    format!("_{}", uuid::Uuid::new_v4().simple())
}

pub(super) type W = Writer<Cursor<Vec<u8>>>;

fn text(w: &mut W, name: &str, attrs: &[(&str, &str)], value: &str) -> std::io::Result<()> {
    w.create_element(name)
        .with_attributes(attrs.iter().copied())
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

fn raw(w: &mut W, xml: &str) -> std::io::Result<()> {
    w.write_event(Event::Text(BytesText::from_escaped(xml)))
}

fn finish(w: W) -> Result<String, SignError> {
    String::from_utf8(w.into_inner().into_inner())
        .map_err(|e| SignError::from(std::io::Error::other(e)))
}

/// The signed assertion.
fn assertion(
    to: &Addressee<'_>,
    who: &Authenticated<'_>,
    now: OffsetDateTime,
    key: &SigningKey,
) -> Result<String, SignError> {
    let id = new_id();
    let issued = instant(now);
    let not_before = instant(now - NOT_BEFORE_SKEW);
    let not_on_or_after = instant(now + ASSERTION_LIFETIME);
    let mut w = Writer::new(Cursor::new(Vec::new()));
    w.create_element("saml:Assertion")
        .with_attributes([
            ("xmlns:saml", ns::ASSERTION),
            ("xmlns:xs", ns::XS),
            ("xmlns:xsi", ns::XSI),
            ("ID", id.as_str()),
            ("Version", "2.0"),
            ("IssueInstant", issued.as_str()),
        ])
        .write_inner_content(|w| {
            text(w, "saml:Issuer", &[("Format", ns::ENTITY)], to.issuer)?;
            raw(w, &sign::template(&id, key).map_err(std::io::Error::other)?)?;
            w.create_element("saml:Subject").write_inner_content(|w| {
                text(
                    w,
                    "saml:NameID",
                    &[
                        ("Format", who.name_id_format.uri()),
                        ("NameQualifier", to.issuer),
                        ("SPNameQualifier", to.audience),
                    ],
                    who.name_id,
                )?;
                w.create_element("saml:SubjectConfirmation")
                    .with_attribute(("Method", ns::BEARER))
                    .write_inner_content(|w| {
                        w.create_element("saml:SubjectConfirmationData")
                            .with_attributes([
                                ("InResponseTo", to.in_response_to),
                                ("NotOnOrAfter", not_on_or_after.as_str()),
                                ("Recipient", to.acs_url),
                            ])
                            .write_empty()?;
                        Ok(())
                    })?;
                Ok(())
            })?;
            w.create_element("saml:Conditions")
                .with_attributes([
                    ("NotBefore", not_before.as_str()),
                    ("NotOnOrAfter", not_on_or_after.as_str()),
                ])
                .write_inner_content(|w| {
                    w.create_element("saml:AudienceRestriction")
                        .write_inner_content(|w| text(w, "saml:Audience", &[], to.audience))?;
                    Ok(())
                })?;
            w.create_element("saml:AuthnStatement")
                .with_attributes([
                    ("AuthnInstant", instant(who.authn_instant).as_str()),
                    ("SessionIndex", who.session_index),
                ])
                .write_inner_content(|w| {
                    w.create_element("saml:AuthnContext")
                        .write_inner_content(|w| {
                            text(w, "saml:AuthnContextClassRef", &[], who.context_class)
                        })?;
                    Ok(())
                })?;
            if !who.attributes.is_empty() {
                w.create_element("saml:AttributeStatement")
                    .write_inner_content(|w| {
                        for attr in who.attributes {
                            w.create_element("saml:Attribute")
                                .with_attributes([
                                    ("Name", attr.name.as_str()),
                                    ("NameFormat", attr.name_format),
                                    ("FriendlyName", attr.friendly_name.as_str()),
                                ])
                                .write_inner_content(|w| {
                                    text(
                                        w,
                                        "saml:AttributeValue",
                                        &[("xsi:type", "xs:string")],
                                        &attr.value,
                                    )
                                })?;
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    sign::sign(&finish(w)?, key)
}

/// The signed response: the signed assertion for `who` (encrypted to `encrypt_to` when
/// given), or `status` alone.
pub fn response(
    to: &Addressee<'_>,
    outcome: Result<&Authenticated<'_>, &Status>,
    now: OffsetDateTime,
    key: &SigningKey,
    encrypt_to: Option<&PeerCertificate>,
) -> Result<String, SignError> {
    let signed_assertion = match outcome {
        Ok(who) => {
            let signed = assertion(to, who, now, key)?;
            match encrypt_to {
                Some(cert) => Some(
                    encrypted_assertion(&signed, cert)
                        .map_err(|e| SignError::from(std::io::Error::other(e)))?,
                ),
                None => Some(signed),
            }
        }
        Err(_) => None,
    };
    let id = new_id();
    let mut w = Writer::new(Cursor::new(Vec::new()));
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let header = StatusResponse {
        id: &id,
        issued: now,
        issuer: to.issuer,
        destination: to.acs_url,
        in_response_to: to.in_response_to,
    };
    header.write(&mut w, "samlp:Response", |w| {
        raw(w, &sign::template(&id, key).map_err(std::io::Error::other)?)?;
        write_status(w, outcome.err())?;
        if let Some(assertion) = &signed_assertion {
            raw(w, assertion)?;
        }
        Ok(())
    })?;
    sign::sign(&finish(w)?, key)
}

/// The common part of responses (`StatusResponseType`, SAML Core 3.2.2).
pub(super) struct StatusResponse<'a> {
    /// `ID`.
    pub id: &'a str,
    /// `IssueInstant`.
    pub issued: OffsetDateTime,
    /// `Issuer` (the identity provider's entity ID).
    pub issuer: &'a str,
    /// `Destination`.
    pub destination: &'a str,
    /// `InResponseTo`.
    pub in_response_to: &'a str,
}

impl StatusResponse<'_> {
    /// Writes the element `name` with these attributes and `Issuer`, then `rest`.
    pub(super) fn write(
        &self,
        w: &mut W,
        name: &str,
        rest: impl FnOnce(&mut W) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let issued = instant(self.issued);
        w.create_element(name)
            .with_attributes([
                ("xmlns:samlp", ns::PROTOCOL),
                ("xmlns:saml", ns::ASSERTION),
                ("ID", self.id),
                ("Version", "2.0"),
                ("IssueInstant", issued.as_str()),
                ("Destination", self.destination),
                ("InResponseTo", self.in_response_to),
            ])
            .write_inner_content(|w| {
                text(w, "saml:Issuer", &[("Format", ns::ENTITY)], self.issuer)?;
                rest(w)
            })?;
        Ok(())
    }
}

/// `<samlp:Status>`: `status`, or success when `None`.
pub fn write_status(w: &mut W, status: Option<&Status>) -> std::io::Result<()> {
    w.create_element("samlp:Status").write_inner_content(|w| {
        match status {
            None => {
                w.create_element("samlp:StatusCode")
                    .with_attribute(("Value", status::SUCCESS))
                    .write_empty()?;
            }
            Some(status) => {
                let code = w
                    .create_element("samlp:StatusCode")
                    .with_attribute(("Value", status.code));
                match status.detail {
                    Some(detail) => code.write_inner_content(|w| {
                        w.create_element("samlp:StatusCode")
                            .with_attribute(("Value", detail))
                            .write_empty()?;
                        Ok(())
                    })?,
                    None => code.write_empty()?,
                };
                text(w, "samlp:StatusMessage", &[], status.message)?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use samael::crypto::{Crypto, CryptoProvider as _, ReduceMode};

    use super::super::keys::KeyKind;
    use super::super::xml::{Limits, parse};
    use super::*;

    fn to() -> Addressee<'static> {
        Addressee {
            issuer: "https://idp.example/saml/metadata",
            audience: "https://sp.example/<&>",
            acs_url: "https://sp.example/acs?a=1&b=2",
            in_response_to: "_req1",
        }
    }

    #[test]
    fn responses_carry_a_signed_assertion_inside_a_signed_response() {
        for kind in [KeyKind::Rsa, KeyKind::EcP256] {
            let key = SigningKey::generate(kind, "idp").unwrap();
            let attributes = [SamlAttribute {
                name: "family_name".into(),
                name_format: super::super::ns::ATTRNAME_BASIC,
                friendly_name: "family_name".into(),
                value: "Nguyễn <script>&amp;".into(),
            }];
            let who = Authenticated {
                name_id: "pairwise-1",
                name_id_format: NameIdFormat::Persistent,
                authn_instant: OffsetDateTime::now_utc(),
                session_index: "_s1",
                context_class: "http://eidas.europa.eu/LoA/high",
                attributes: &attributes,
            };
            let xml = response(&to(), Ok(&who), OffsetDateTime::now_utc(), &key, None).unwrap();
            let root = parse(&xml, Limits::MESSAGE).unwrap();
            assert!(root.is(super::super::ns::PROTOCOL, "Response"));
            assert_eq!(
                root.attr("Destination"),
                Some("https://sp.example/acs?a=1&b=2")
            );
            // Both signatures verify with the certificate; each covers its element.
            let cert = key.certificate();
            let reduced =
                Crypto::reduce_xml_to_signed(&xml, &[cert], ReduceMode::ValidateAndMarkNoAncestors)
                    .unwrap();
            let signed = parse(&reduced, Limits::MESSAGE).unwrap();
            let assertion = signed
                .child(super::super::ns::ASSERTION, "Assertion")
                .unwrap()
                .unwrap();
            assert!(
                assertion
                    .child(super::super::ns::DSIG, "Signature")
                    .unwrap()
                    .is_some()
            );
            // Values are escaped text, never markup.
            assert!(xml.contains("Nguyễn &lt;script&gt;&amp;amp;"), "{xml}");
            assert!(reduced.contains("https://sp.example/&lt;&amp;&gt;"));
            let tampered = xml.replace("pairwise-1", "pairwise-2");
            assert!(
                Crypto::reduce_xml_to_signed(
                    &tampered,
                    &[key.certificate()],
                    ReduceMode::ValidateAndMarkNoAncestors
                )
                .is_err()
            );
        }
    }

    #[test]
    fn failures_carry_a_status_and_no_assertion() {
        let key = SigningKey::generate(KeyKind::Rsa, "idp").unwrap();
        let status = Status {
            code: super::super::status::RESPONDER,
            detail: Some(super::super::status::NO_PASSIVE),
            message: "the citizen would have to interact",
        };
        let xml = response(&to(), Err(&status), OffsetDateTime::now_utc(), &key, None).unwrap();
        assert!(!xml.contains("Assertion"));
        assert!(xml.contains(super::super::status::NO_PASSIVE));
        Crypto::reduce_xml_to_signed(
            &xml,
            &[key.certificate()],
            ReduceMode::ValidateAndMarkNoAncestors,
        )
        .unwrap();
    }
}
