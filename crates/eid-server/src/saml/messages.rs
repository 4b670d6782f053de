//! The protocol messages this provider receives, read from the hardened element tree
//! ([`super::xml`]) by namespace and local name: `<samlp:AuthnRequest>` (SAML Core
//! 3.4.1) and `<samlp:LogoutRequest>` (SAML Core 3.7.1).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::xml::{Element, XmlError, is_ncname};
use super::{NameIdFormat, ns};

/// How far a request's `IssueInstant` may lie in the past.
pub const MAX_REQUEST_AGE: time::Duration = time::Duration::minutes(10);
/// How far it may lie in the future (clock skew).
pub const CLOCK_SKEW: time::Duration = time::Duration::minutes(2);

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not well-formed or not within the limits.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// Not the expected message.
    #[error("expected a {0}")]
    WrongMessage(&'static str),
    /// `Version` is not 2.0 (SAML Core 3.2.1).
    #[error("unsupported SAML version")]
    Version,
    /// A required part is missing or malformed.
    #[error("{0}")]
    Invalid(&'static str),
    /// `IssueInstant` is too old or in the future.
    #[error("the request is too old or from the future (check the clock)")]
    Stale,
}

/// `RequestedAuthnContext` comparison (SAML Core 3.3.2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// The context must be exactly one of those listed.
    Exact,
    /// At least as strong as one of those listed.
    Minimum,
    /// Stronger than every one listed.
    Better,
    /// At most as strong as one of those listed.
    Maximum,
}

/// The requested authentication context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedContext {
    /// The comparison (`exact` by default, SAML Core 3.3.2.2.1).
    pub comparison: Comparison,
    /// The `AuthnContextClassRef` values.
    pub class_refs: Vec<String>,
}

/// A validated `AuthnRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    /// `ID`, echoed as `InResponseTo`.
    pub id: String,
    /// The service provider (`Issuer`).
    pub issuer: String,
    /// `Destination`, when given.
    pub destination: Option<String>,
    /// `AssertionConsumerServiceURL`.
    pub acs_url: Option<String>,
    /// `AssertionConsumerServiceIndex`.
    pub acs_index: Option<u16>,
    /// `ProtocolBinding`.
    pub protocol_binding: Option<String>,
    /// `ForceAuthn`.
    pub force_authn: bool,
    /// `IsPassive`.
    pub is_passive: bool,
    /// `NameIDPolicy/@Format`, when given.
    pub name_id_format: Option<String>,
    /// `NameIDPolicy/@SPNameQualifier`, when given.
    pub sp_name_qualifier: Option<String>,
    /// `RequestedAuthnContext`.
    pub requested_context: Option<RequestedContext>,
}

/// A validated `LogoutRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// `ID`, echoed as `InResponseTo`.
    pub id: String,
    /// The service provider (`Issuer`).
    pub issuer: String,
    /// `Destination`, when given.
    pub destination: Option<String>,
    /// The `NameID` value.
    pub name_id: String,
    /// Its `Format`.
    pub name_id_format: Option<String>,
    /// `SessionIndex` values.
    pub session_indexes: Vec<String>,
}

fn boolean(el: &Element, name: &'static str) -> Result<bool, MessageError> {
    // xs:boolean (XML Schema Part 2, 3.2.2): true, false, 1, 0.
    match el.attr(name).map(str::trim) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(_) => Err(MessageError::Invalid("a boolean attribute is malformed")),
    }
}

/// The common part of request messages (`RequestAbstractType`, SAML Core 3.2.1): checks
/// `Version`, `ID` and `IssueInstant`; returns `(id, issuer, destination)`.
fn request_header(
    el: &Element,
    now: OffsetDateTime,
) -> Result<(String, String, Option<String>), MessageError> {
    match el.attr("Version") {
        Some("2.0") => {}
        Some(_) => return Err(MessageError::Version),
        None => return Err(MessageError::Invalid("Version is missing")),
    }
    let id = el
        .attr("ID")
        .filter(|id| is_ncname(id))
        .ok_or(MessageError::Invalid("ID is missing or not an xs:ID"))?;
    let issued = el
        .attr("IssueInstant")
        .and_then(|t| OffsetDateTime::parse(t.trim(), &Rfc3339).ok())
        .ok_or(MessageError::Invalid(
            "IssueInstant is missing or malformed",
        ))?;
    if issued < now - MAX_REQUEST_AGE || issued > now + CLOCK_SKEW {
        return Err(MessageError::Stale);
    }
    // SAML Profiles 4.1.4.1: the <Issuer> element MUST be present (and, in the format
    // attribute, if any, be an entity identifier).
    let issuer = el
        .child(ns::ASSERTION, "Issuer")?
        .filter(|i| i.attr("Format").is_none_or(|f| f == ns::ENTITY))
        .map(|i| i.text.trim())
        .filter(|i| !i.is_empty())
        .ok_or(MessageError::Invalid("Issuer is missing"))?;
    Ok((
        id.to_owned(),
        issuer.to_owned(),
        el.attr("Destination").map(str::to_owned),
    ))
}

impl AuthnRequest {
    /// Reads an `AuthnRequest` received at `now`.
    pub fn from_element(el: &Element, now: OffsetDateTime) -> Result<Self, MessageError> {
        if !el.is(ns::PROTOCOL, "AuthnRequest") {
            return Err(MessageError::WrongMessage("samlp:AuthnRequest"));
        }
        let (id, issuer, destination) = request_header(el, now)?;
        let acs_index = el
            .attr("AssertionConsumerServiceIndex")
            .map(|i| i.trim().parse::<u16>())
            .transpose()
            .map_err(|_| MessageError::Invalid("AssertionConsumerServiceIndex is malformed"))?;
        let acs_url = el.attr("AssertionConsumerServiceURL").map(str::to_owned);
        if acs_url.is_some() && acs_index.is_some() {
            // SAML Core 3.4.1: the two are mutually exclusive.
            return Err(MessageError::Invalid(
                "AssertionConsumerServiceURL and AssertionConsumerServiceIndex are exclusive",
            ));
        }
        let policy = el.child(ns::PROTOCOL, "NameIDPolicy")?;
        let name_id_format = policy.and_then(|p| p.attr("Format")).map(str::to_owned);
        let sp_name_qualifier = policy
            .and_then(|p| p.attr("SPNameQualifier"))
            .map(str::to_owned);
        let requested_context = match el.child(ns::PROTOCOL, "RequestedAuthnContext")? {
            None => None,
            Some(ctx) => {
                let comparison = match ctx.attr("Comparison") {
                    None | Some("exact") => Comparison::Exact,
                    Some("minimum") => Comparison::Minimum,
                    Some("better") => Comparison::Better,
                    Some("maximum") => Comparison::Maximum,
                    Some(_) => return Err(MessageError::Invalid("unknown Comparison")),
                };
                let class_refs: Vec<String> = ctx
                    .children(ns::ASSERTION, "AuthnContextClassRef")
                    .map(|c| c.text.trim().to_owned())
                    .collect();
                if class_refs.is_empty() {
                    return Err(MessageError::Invalid(
                        "RequestedAuthnContext without AuthnContextClassRef",
                    ));
                }
                Some(RequestedContext {
                    comparison,
                    class_refs,
                })
            }
        };
        Ok(Self {
            id,
            issuer,
            destination,
            acs_url,
            acs_index,
            protocol_binding: el.attr("ProtocolBinding").map(str::to_owned),
            force_authn: boolean(el, "ForceAuthn")?,
            is_passive: boolean(el, "IsPassive")?,
            name_id_format,
            sp_name_qualifier,
            requested_context,
        })
    }

    /// The NameID format to issue: the one asked for, else persistent; `None` when the
    /// request asks for one this provider does not issue.
    pub fn name_id_format(&self) -> Option<NameIdFormat> {
        match &self.name_id_format {
            None => Some(NameIdFormat::Persistent),
            Some(uri) => NameIdFormat::from_uri(uri),
        }
    }
}

impl LogoutRequest {
    /// Reads a `LogoutRequest` received at `now`.
    pub fn from_element(el: &Element, now: OffsetDateTime) -> Result<Self, MessageError> {
        if !el.is(ns::PROTOCOL, "LogoutRequest") {
            return Err(MessageError::WrongMessage("samlp:LogoutRequest"));
        }
        let (id, issuer, destination) = request_header(el, now)?;
        // SAML Core 3.7.1: past NotOnOrAfter the request is void.
        if let Some(expiry) = el.attr("NotOnOrAfter") {
            let expiry = OffsetDateTime::parse(expiry.trim(), &Rfc3339)
                .map_err(|_| MessageError::Invalid("NotOnOrAfter is malformed"))?;
            if expiry <= now {
                return Err(MessageError::Stale);
            }
        }
        if el.child(ns::ASSERTION, "EncryptedID")?.is_some() {
            return Err(MessageError::Invalid("encrypted NameIDs are not supported"));
        }
        let name_id = el
            .child(ns::ASSERTION, "NameID")?
            .ok_or(MessageError::Invalid("NameID is missing"))?;
        Ok(Self {
            id,
            issuer,
            destination,
            name_id: name_id.text.trim().to_owned(),
            name_id_format: name_id.attr("Format").map(str::to_owned),
            session_indexes: el
                .children(ns::PROTOCOL, "SessionIndex")
                .map(|s| s.text.trim().to_owned())
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::xml::{Limits, parse};
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-11-24T10:00:00Z", &Rfc3339).unwrap()
    }

    fn authn(attrs: &str, inner: &str) -> Result<AuthnRequest, MessageError> {
        let xml = format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" {attrs}><saml:Issuer>https://sp.example</saml:Issuer>{inner}</samlp:AuthnRequest>"#
        );
        AuthnRequest::from_element(&parse(&xml, Limits::MESSAGE)?, now())
    }

    const OK: &str = r#"ID="_r1" Version="2.0" IssueInstant="2026-11-24T09:59:30Z""#;

    #[test]
    fn reads_an_authn_request() {
        let req = authn(
            &format!(
                r#"{OK} ForceAuthn="1" IsPassive="false" AssertionConsumerServiceURL="https://sp.example/acs" Destination="https://idp/saml/sso""#
            ),
            r#"<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient"/><samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>http://eidas.europa.eu/LoA/substantial</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>"#,
        )
        .unwrap();
        assert_eq!(req.id, "_r1");
        assert_eq!(req.issuer, "https://sp.example");
        assert!(req.force_authn && !req.is_passive);
        assert_eq!(req.acs_url.as_deref(), Some("https://sp.example/acs"));
        assert_eq!(req.name_id_format(), Some(NameIdFormat::Transient));
        let ctx = req.requested_context.unwrap();
        assert_eq!(ctx.comparison, Comparison::Minimum);
        assert_eq!(ctx.class_refs, ["http://eidas.europa.eu/LoA/substantial"]);
    }

    #[test]
    fn refuses_bad_authn_requests() {
        let cases = [
            (
                r#"ID="_r1" Version="1.1" IssueInstant="2026-11-24T09:59:30Z""#,
                "",
            ),
            (
                r#"ID="1bad" Version="2.0" IssueInstant="2026-11-24T09:59:30Z""#,
                "",
            ),
            (r#"Version="2.0" IssueInstant="2026-11-24T09:59:30Z""#, ""),
            (
                r#"ID="_r1" Version="2.0" IssueInstant="2026-11-24T09:00:00Z""#,
                "",
            ),
            (
                r#"ID="_r1" Version="2.0" IssueInstant="2026-11-24T10:05:00Z""#,
                "",
            ),
            (r#"ID="_r1" Version="2.0""#, ""),
            (&format!(r#"{OK} ForceAuthn="yes""#), ""),
            (
                &format!(
                    r#"{OK} AssertionConsumerServiceURL="https://sp/acs" AssertionConsumerServiceIndex="1""#
                ),
                "",
            ),
            (OK, "<samlp:RequestedAuthnContext/>"),
            (
                OK,
                r#"<samlp:RequestedAuthnContext Comparison="most"><saml:AuthnContextClassRef>x</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>"#,
            ),
        ];
        for (attrs, inner) in cases {
            assert!(authn(attrs, inner).is_err(), "{attrs} {inner}");
        }
        assert_eq!(
            authn(
                r#"ID="_r1" Version="1.1" IssueInstant="2026-11-24T09:59:30Z""#,
                ""
            ),
            Err(MessageError::Version)
        );
        // The element must be in the protocol namespace, whatever its prefix.
        let foreign = r#"<samlp:AuthnRequest xmlns:samlp="urn:evil" ID="_r1" Version="2.0" IssueInstant="2026-11-24T09:59:30Z"/>"#;
        let el = parse(foreign, Limits::MESSAGE).unwrap();
        assert!(matches!(
            AuthnRequest::from_element(&el, now()),
            Err(MessageError::WrongMessage(_))
        ));
        // No issuer.
        let bare = r#"<p:AuthnRequest xmlns:p="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0" IssueInstant="2026-11-24T09:59:30Z"/>"#;
        let el = parse(bare, Limits::MESSAGE).unwrap();
        assert!(AuthnRequest::from_element(&el, now()).is_err());
    }

    #[test]
    fn unknown_name_id_formats_are_not_issued() {
        let req = authn(
            OK,
            r#"<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"/>"#,
        )
        .unwrap();
        assert_eq!(req.name_id_format(), None);
        let req = authn(OK, "").unwrap();
        assert_eq!(req.name_id_format(), Some(NameIdFormat::Persistent));
    }

    #[test]
    fn reads_a_logout_request() {
        let xml = format!(
            r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" {OK}><saml:Issuer>https://sp.example</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">abc</saml:NameID><samlp:SessionIndex>s1</samlp:SessionIndex></samlp:LogoutRequest>"#
        );
        let req =
            LogoutRequest::from_element(&parse(&xml, Limits::MESSAGE).unwrap(), now()).unwrap();
        let expired = xml.replace(OK, &format!(r#"{OK} NotOnOrAfter="2026-11-24T09:59:59Z""#));
        assert_eq!(
            LogoutRequest::from_element(&parse(&expired, Limits::MESSAGE).unwrap(), now()),
            Err(MessageError::Stale)
        );
        assert_eq!(req.name_id, "abc");
        assert_eq!(req.session_indexes, ["s1"]);
        let no_name = xml.replace(
            r#"<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">abc</saml:NameID>"#,
            "",
        );
        assert!(
            LogoutRequest::from_element(&parse(&no_name, Limits::MESSAGE).unwrap(), now()).is_err()
        );
    }
}
