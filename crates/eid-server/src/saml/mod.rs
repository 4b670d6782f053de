//! SAML 2.0 identity provider, the protocol side: reading requests (hardened XML, the
//! HTTP-Redirect and HTTP-POST bindings, signature checks), the service providers
//! registered from their metadata, this provider's signed metadata, and signed responses.
//!
//! Sessions, login, consent and audit are the OpenID provider's (see
//! `crate::oidc::saml_sso`, which serves the endpoints): a citizen logs in once for both.

pub mod bindings;
pub mod encrypt;
pub mod keys;
pub mod logout;
pub mod messages;
pub mod metadata;
pub mod response;
pub mod sign;
pub mod sp;
pub mod xml;

/// Namespaces and fixed URIs (SAML Core, Bindings and Metadata 2.0).
pub mod ns {
    /// The assertion namespace.
    pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    /// The protocol namespace.
    pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    /// The metadata namespace.
    pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    /// XML Signature.
    pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    /// XML Schema.
    pub const XS: &str = "http://www.w3.org/2001/XMLSchema";
    /// XML Schema instance.
    pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
    /// The entity identifier format of `Issuer` (SAML Core 8.3.6).
    pub const ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
    /// Bearer subject confirmation (SAML Profiles 3.3).
    pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
    /// The HTTP-Redirect binding.
    pub const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    /// The HTTP-POST binding.
    pub const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    /// `urn:oasis:names:tc:SAML:2.0:attrname-format:uri`.
    pub const ATTRNAME_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
    /// `urn:oasis:names:tc:SAML:2.0:attrname-format:basic`.
    pub const ATTRNAME_BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
    /// The unspecified NameID format (SAML Core 8.3.1).
    pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
}

/// Status codes (SAML Core 3.2.2.2).
pub mod status {
    /// Success.
    pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
    /// The request could not be performed due to an error on the part of the requester.
    pub const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
    /// The request could not be performed due to an error on the part of the responder.
    pub const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
    /// The version of the request is not supported.
    pub const VERSION_MISMATCH: &str = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch";
    /// The authentication context requirements cannot be met.
    pub const NO_AUTHN_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext";
    /// `IsPassive` and the citizen would have to interact.
    pub const NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
    /// The request was refused (the citizen did not consent).
    pub const REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
    /// The identity provider could not authenticate the citizen.
    pub const AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
    /// The requested NameID format is not supported.
    pub const INVALID_NAMEID_POLICY: &str =
        "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
    /// The principal named in the request is not known to the responder.
    pub const UNKNOWN_PRINCIPAL: &str = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal";
}

/// The `NameID` formats this provider issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameIdFormat {
    /// A pairwise, persistent identifier (SAML Core 8.3.7): the same for the citizen at
    /// this service provider every time, different at every other.
    Persistent,
    /// A new opaque identifier for each assertion (SAML Core 8.3.8).
    Transient,
}

impl NameIdFormat {
    /// The format URI.
    pub fn uri(self) -> &'static str {
        match self {
            NameIdFormat::Persistent => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            NameIdFormat::Transient => "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
        }
    }

    /// The format a `NameIDPolicy` `Format` names; `None` for one not issued here. The
    /// unspecified format leaves the choice to the provider: persistent.
    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            ns::NAMEID_UNSPECIFIED => Some(NameIdFormat::Persistent),
            _ => [NameIdFormat::Persistent, NameIdFormat::Transient]
                .into_iter()
                .find(|f| f.uri() == uri),
        }
    }
}

/// Endpoint paths, relative to the issuer.
pub mod paths {
    /// This identity provider's metadata (its entity ID by default).
    pub const METADATA: &str = "/saml/metadata";
    /// Single sign-on: `AuthnRequest` by HTTP-Redirect (`GET`) or HTTP-POST.
    pub const SSO: &str = "/saml/sso";
    /// Where a request received by HTTP-POST continues in a same-site `GET`.
    pub const CONTINUE: &str = "/saml/sso/continue";
    /// Single logout: `LogoutRequest` by HTTP-Redirect.
    pub const SLO: &str = "/saml/slo";
}
