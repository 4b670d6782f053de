//! Registered service providers: what their metadata says (SAML Metadata 2.0 section
//! 2.4.4, `SPSSODescriptor`) and what the configuration adds (display name, the scopes
//! whose attributes they may receive, the attribute naming, whether requests must be
//! signed).

use std::collections::BTreeSet;

use base64ct::{Base64, Encoding as _};
use eid_core::release::Scope;
use serde_json::{Map, Value};

use super::keys::{KeyKind, PeerCertificate};
use super::messages::AuthnRequest;
use super::response::SamlAttribute;
use super::xml::{self, Element, Limits, XmlError};
use super::{NameIdFormat, ns};

/// Why metadata cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// Not readable XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// Not what a service provider's metadata must hold.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> MetadataError {
    MetadataError::Invalid(message.into())
}

/// An assertion consumer service (HTTP-POST binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsEndpoint {
    /// `Location`.
    pub url: String,
    /// `index`.
    pub index: u16,
    /// `isDefault`.
    pub is_default: Option<bool>,
}

/// A single logout service (HTTP-Redirect binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SloEndpoint {
    /// `Location`: where requests go.
    pub url: String,
    /// `ResponseLocation`: where responses go (`Location` when absent).
    pub response_url: String,
}

/// What a service provider's metadata says.
#[derive(Debug, Clone)]
pub struct SpMetadata {
    /// `entityID`.
    pub entity_id: String,
    /// `AuthnRequestsSigned`.
    pub authn_requests_signed: bool,
    /// Certificates for checking its signatures.
    pub signing: Vec<PeerCertificate>,
    /// Certificates for encrypting to it.
    pub encryption: Vec<PeerCertificate>,
    /// The data encryption algorithms its encryption keys list (`md:EncryptionMethod`);
    /// empty when none are listed (any may be used).
    pub encryption_methods: Vec<String>,
    /// Its HTTP-POST assertion consumer services.
    pub acs: Vec<AcsEndpoint>,
    /// Its HTTP-Redirect single logout service.
    pub slo: Option<SloEndpoint>,
    /// The signature algorithms it lists as supported (`alg:SigningMethod`, Metadata
    /// Profile for Algorithm Support 1.0); empty when it lists none.
    pub signing_methods: Vec<String>,
}

/// The algorithm support metadata namespace.
const ALGSUPPORT: &str = "urn:oasis:names:tc:SAML:metadata:algsupport";

/// The `alg:SigningMethod` algorithms in `el`'s `md:Extensions`.
fn signing_methods(el: &Element) -> Result<Vec<String>, MetadataError> {
    Ok(el
        .child(ns::METADATA, "Extensions")?
        .map(|ext| {
            ext.children(ALGSUPPORT, "SigningMethod")
                .filter_map(|m| m.attr("Algorithm").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

fn certificate(key: &Element) -> Result<Option<PeerCertificate>, MetadataError> {
    let cert = key
        .child(ns::DSIG, "KeyInfo")?
        .map(|i| i.child(ns::DSIG, "X509Data"))
        .transpose()?
        .flatten()
        .map(|d| d.child(ns::DSIG, "X509Certificate"))
        .transpose()?
        .flatten();
    let Some(cert) = cert else {
        return Ok(None);
    };
    let compact: String = cert.text.chars().filter(|c| !c.is_whitespace()).collect();
    let der = Base64::decode_vec(&compact).map_err(|_| invalid("a certificate is not base64"))?;
    PeerCertificate::from_der(&der)
        .map(Some)
        .map_err(|e| invalid(format!("a certificate cannot be used: {e}")))
}

fn https_or_local(url: &str) -> Result<String, MetadataError> {
    let parsed = url::Url::parse(url).map_err(|_| invalid(format!("{url:?} is not a URL")))?;
    let local = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if parsed.scheme() == "https" || (parsed.scheme() == "http" && local) {
        Ok(url.to_owned())
    } else {
        Err(invalid(format!(
            "{url:?}: endpoints must be https (http only on localhost)"
        )))
    }
}

impl SpMetadata {
    /// Reads a service provider's `EntityDescriptor`.
    pub fn parse(document: &str) -> Result<Self, MetadataError> {
        let root = xml::parse(document, Limits::METADATA)?;
        if !root.is(ns::METADATA, "EntityDescriptor") {
            return Err(invalid("the root element must be an md:EntityDescriptor"));
        }
        let entity_id = root
            .attr("entityID")
            // SAML Core 8.3.6: an entity identifier is a URI of at most 1024 characters.
            .filter(|id| id.len() <= 1024 && url::Url::parse(id).is_ok())
            .ok_or_else(|| invalid("entityID is missing"))?
            .to_owned();
        let sp = root
            .child(ns::METADATA, "SPSSODescriptor")?
            .ok_or_else(|| invalid("no md:SPSSODescriptor"))?;
        let protocols = sp.attr("protocolSupportEnumeration").unwrap_or_default();
        if !protocols.split_whitespace().any(|p| p == ns::PROTOCOL) {
            return Err(invalid("the SPSSODescriptor does not support SAML 2.0"));
        }
        let (mut signing, mut encryption) = (Vec::new(), Vec::new());
        let mut encryption_methods = Vec::new();
        for key in sp.children(ns::METADATA, "KeyDescriptor") {
            let Some(cert) = certificate(key)? else {
                continue;
            };
            if key.attr("use") != Some("signing") {
                encryption_methods.extend(
                    key.children(ns::METADATA, "EncryptionMethod")
                        .filter_map(|m| m.attr("Algorithm").map(str::to_owned)),
                );
            }
            // Metadata 2.4.1.1: without `use`, the key serves both purposes.
            match key.attr("use") {
                Some("signing") => signing.push(cert),
                Some("encryption") => encryption.push(cert),
                None => {
                    signing.push(cert.clone());
                    encryption.push(cert);
                }
                Some(_) => return Err(invalid("a KeyDescriptor has an unknown use")),
            }
        }
        let mut acs = Vec::new();
        for (position, el) in sp
            .children(ns::METADATA, "AssertionConsumerService")
            .enumerate()
        {
            if el.attr("Binding") != Some(ns::POST) {
                continue;
            }
            let url = https_or_local(el.attr("Location").unwrap_or_default())?;
            let index = match el.attr("index") {
                Some(i) => i.parse().map_err(|_| invalid("a bad ACS index"))?,
                None => u16::try_from(position).unwrap_or(u16::MAX),
            };
            let is_default = match el.attr("isDefault") {
                None => None,
                Some("true" | "1") => Some(true),
                Some("false" | "0") => Some(false),
                Some(_) => return Err(invalid("a bad isDefault")),
            };
            acs.push(AcsEndpoint {
                url,
                index,
                is_default,
            });
        }
        if acs.is_empty() {
            return Err(invalid(
                "no AssertionConsumerService with the HTTP-POST binding",
            ));
        }
        let slo = sp
            .children(ns::METADATA, "SingleLogoutService")
            .find(|el| el.attr("Binding") == Some(ns::REDIRECT))
            .map(|el| -> Result<SloEndpoint, MetadataError> {
                let url = https_or_local(el.attr("Location").unwrap_or_default())?;
                let response_url = match el.attr("ResponseLocation") {
                    Some(r) => https_or_local(r)?,
                    None => url.clone(),
                };
                Ok(SloEndpoint { url, response_url })
            })
            .transpose()?;
        let mut methods = signing_methods(&root)?;
        methods.extend(signing_methods(sp)?);
        Ok(Self {
            entity_id,
            signing_methods: methods,
            encryption_methods,
            authn_requests_signed: matches!(sp.attr("AuthnRequestsSigned"), Some("true" | "1")),
            signing,
            encryption,
            acs,
            slo,
        })
    }

    /// The assertion consumer service an `AuthnRequest` names, compared exactly (SAML
    /// Core 3.4.1, Profiles 4.1.4.1: the URL must be one of the metadata's), or the
    /// default one (Metadata 2.2.3: the first with `isDefault="true"`, else the first
    /// without `isDefault="false"`, else the first).
    pub fn acs_for(&self, req: &AuthnRequest) -> Option<&str> {
        if req
            .protocol_binding
            .as_deref()
            .is_some_and(|b| b != ns::POST)
        {
            return None;
        }
        let found = match (&req.acs_url, req.acs_index) {
            (Some(url), _) => self.acs.iter().find(|a| a.url == *url),
            (None, Some(index)) => self.acs.iter().find(|a| a.index == index),
            (None, None) => self
                .acs
                .iter()
                .find(|a| a.is_default == Some(true))
                .or_else(|| self.acs.iter().find(|a| a.is_default.is_none()))
                .or_else(|| self.acs.first()),
        };
        found.map(|a| a.url.as_str())
    }
}

/// How attributes are named in assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeProfile {
    /// The OpenID Connect claim names (`family_name`, `birthdate`, …), `basic` format.
    Claims,
    /// The eIDAS natural-person minimum dataset (eIDAS SAML Attribute Profile 1.2):
    /// `PersonIdentifier`, `CurrentFamilyName`, `CurrentGivenName`, `DateOfBirth`.
    Eidas,
}

/// The eIDAS natural-person attribute namespace.
const EIDAS_NATURAL_PERSON: &str = "http://eidas.europa.eu/attributes/naturalperson/";

impl AttributeProfile {
    /// The scopes this profile needs (the eIDAS minimum dataset: names and date of birth).
    pub fn required_scopes(self) -> &'static [Scope] {
        match self {
            AttributeProfile::Claims => &[],
            AttributeProfile::Eidas => &[Scope::Profile, Scope::Birthdate],
        }
    }

    /// The attributes for released `claims`. `person_identifier` is the eIDAS
    /// `PersonIdentifier` (the persistent pairwise identifier, prefixed by the country
    /// codes).
    pub fn attributes(
        self,
        claims: &Map<String, Value>,
        person_identifier: &str,
    ) -> Vec<SamlAttribute> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        match self {
            AttributeProfile::Claims => claims
                .iter()
                .filter_map(|(name, value)| {
                    Some(SamlAttribute {
                        name: name.clone(),
                        name_format: ns::ATTRNAME_BASIC,
                        friendly_name: name.clone(),
                        value: value.as_str()?.to_owned(),
                    })
                })
                .collect(),
            AttributeProfile::Eidas => {
                let given: Vec<&str> = [text("middle_name"), text("given_name")]
                    .into_iter()
                    .flatten()
                    .collect();
                let given = (!given.is_empty()).then(|| given.join(" "));
                let values = [
                    ("PersonIdentifier", Some(person_identifier.to_owned())),
                    ("CurrentFamilyName", text("family_name").map(str::to_owned)),
                    ("CurrentGivenName", given),
                    ("DateOfBirth", text("birthdate").map(str::to_owned)),
                ];
                values
                    .into_iter()
                    .filter_map(|(name, value)| {
                        Some(SamlAttribute {
                            name: format!("{EIDAS_NATURAL_PERSON}{name}"),
                            name_format: ns::ATTRNAME_URI,
                            friendly_name: match name {
                                "CurrentFamilyName" => "FamilyName",
                                "CurrentGivenName" => "FirstName",
                                other => other,
                            }
                            .to_owned(),
                            value: value?,
                        })
                    })
                    .collect()
            }
        }
    }
}

/// A registered service provider.
#[derive(Debug, Clone)]
pub struct ServiceProvider {
    /// What its metadata says.
    pub metadata: SpMetadata,
    /// Its name on the citizen's pages.
    pub name: String,
    /// The scopes whose attributes it may receive (and the citizen is asked to consent
    /// to).
    pub scopes: BTreeSet<Scope>,
    /// How its attributes are named.
    pub attribute_profile: AttributeProfile,
    /// Whether its requests must be signed.
    pub require_signed_requests: bool,
    /// The `NameID` format when its requests do not ask for one.
    pub default_name_id_format: NameIdFormat,
    /// The certificate its assertions are encrypted to; `None`: not encrypted.
    pub encrypt_to: Option<PeerCertificate>,
    /// How responses to it are signed.
    pub signature: KeyKind,
}

impl ServiceProvider {
    /// Its entity ID.
    pub fn entity_id(&self) -> &str {
        &self.metadata.entity_id
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::keys::SigningKey;
    use super::*;

    pub(crate) fn metadata(cert: &SigningKey, extra: &str) -> String {
        let cert = Base64::encode_string(cert.certificate_der());
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sp.example/metadata">
  <md:Extensions><alg:SigningMethod xmlns:alg="urn:oasis:names:tc:SAML:metadata:algsupport" Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/></md:Extensions>
  <md:SPSSODescriptor AuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
{cert}
    </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example/slo"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="1"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://sp.example/art" index="2"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs2" index="3" isDefault="true"/>
    {extra}
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#
        )
    }

    fn request(
        acs_url: Option<&str>,
        acs_index: Option<u16>,
        binding: Option<&str>,
    ) -> AuthnRequest {
        AuthnRequest {
            id: "_r".into(),
            issuer: "https://sp.example/metadata".into(),
            destination: None,
            acs_url: acs_url.map(str::to_owned),
            acs_index,
            protocol_binding: binding.map(str::to_owned),
            force_authn: false,
            is_passive: false,
            name_id_format: None,
            sp_name_qualifier: None,
            requested_context: None,
        }
    }

    #[test]
    fn reads_sp_metadata_and_matches_acs_urls_exactly() {
        let key = SigningKey::generate(KeyKind::Rsa, "sp").unwrap();
        let md = SpMetadata::parse(&metadata(&key, "")).unwrap();
        assert_eq!(md.entity_id, "https://sp.example/metadata");
        assert!(md.authn_requests_signed);
        assert_eq!(md.signing.len(), 1);
        assert!(md.encryption.is_empty());
        assert_eq!(md.acs.len(), 2, "only HTTP-POST services");
        assert_eq!(
            md.slo.as_ref().unwrap().response_url,
            "https://sp.example/slo"
        );
        assert_eq!(md.signing_methods, [super::super::keys::ECDSA_SHA256]);
        let acs =
            |url, index, binding| md.acs_for(&request(url, index, binding)).map(str::to_owned);
        assert_eq!(
            acs(Some("https://sp.example/acs"), None, None).unwrap(),
            "https://sp.example/acs"
        );
        assert_eq!(acs(Some("https://sp.example/acs/"), None, None), None);
        assert_eq!(acs(Some("https://SP.example/acs"), None, None), None);
        assert_eq!(acs(Some("https://sp.example/art"), None, None), None);
        assert_eq!(acs(None, Some(1), None).unwrap(), "https://sp.example/acs");
        assert_eq!(acs(None, Some(2), None), None);
        assert_eq!(acs(None, None, None).unwrap(), "https://sp.example/acs2");
        assert_eq!(acs(None, None, Some(ns::REDIRECT)), None);
    }

    #[test]
    fn refuses_unusable_metadata() {
        let key = SigningKey::generate(KeyKind::Rsa, "sp").unwrap();
        let good = metadata(&key, "");
        let cases = [
            good.replace("entityID=\"https://sp.example/metadata\"", ""),
            good.replace("https://sp.example/metadata", "not a uri"),
            good.replace("https://sp.example/acs\"", "http://sp.example/acs\""),
            good.replace("urn:oasis:names:tc:SAML:2.0:protocol", "urn:other"),
            good.replace("use=\"signing\"", "use=\"other\""),
            good.replace("md:SPSSODescriptor", "md:IDPSSODescriptor"),
            format!("<!DOCTYPE x>{good}"),
            good.replace("HTTP-POST", "PAOS"),
        ];
        for case in cases {
            assert!(SpMetadata::parse(&case).is_err(), "{case}");
        }
    }

    #[test]
    fn eidas_attributes_name_the_minimum_dataset() {
        let mut claims = Map::new();
        for (k, v) in [
            ("family_name", "Nguyễn"),
            ("middle_name", "Văn"),
            ("given_name", "An"),
            ("name", "Nguyễn Văn An"),
            ("birthdate", "1990-01-02"),
        ] {
            claims.insert(k.into(), Value::from(v));
        }
        let attrs = AttributeProfile::Eidas.attributes(&claims, "VN/VN/abc");
        let pairs: Vec<(&str, &str)> = attrs
            .iter()
            .map(|a| (a.friendly_name.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("PersonIdentifier", "VN/VN/abc"),
                ("FamilyName", "Nguyễn"),
                ("FirstName", "Văn An"),
                ("DateOfBirth", "1990-01-02")
            ]
        );
        assert!(attrs[0].name.ends_with("/naturalperson/PersonIdentifier"));
        let basic = AttributeProfile::Claims.attributes(&claims, "x");
        assert_eq!(basic.len(), 5);
        assert!(basic.iter().all(|a| a.name_format == ns::ATTRNAME_BASIC));
    }
}
