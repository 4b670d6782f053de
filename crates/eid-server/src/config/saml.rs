//! The `[saml]` table: the SAML 2.0 identity provider (entity ID, signing key and
//! certificate files) and its service providers, each registered by a metadata file (see
//! `eid-server saml add-sp`) plus what only the operator decides: display name, scopes
//! whose attributes it may receive, attribute naming, signed requests, NameID format.
//! Without the table the SAML endpoints answer 404.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use eid_core::release::{Scope, parse_scopes};
use eid_core::store::ClientId;
use serde::Deserialize;

use super::Errors;
use crate::saml::NameIdFormat;
use crate::saml::encrypt::can_encrypt_to;
use crate::saml::keys::KeyKind;
use crate::saml::sp::{AttributeProfile, ServiceProvider, SpMetadata};

/// The validated `[saml]` table.
#[derive(Debug)]
pub struct SamlConfig {
    /// The entity ID.
    pub entity_id: String,
    /// The signing key (PEM).
    pub key_file: PathBuf,
    /// Its certificate (PEM).
    pub certificate_file: PathBuf,
    /// The ECDSA P-256 signing key and its certificate (PEM), for the service providers
    /// that support ECDSA-SHA256; `None`: RSA-SHA256 for all.
    pub ecdsa_key: Option<(PathBuf, PathBuf)>,
    /// The registered service providers.
    pub service_providers: Vec<ServiceProvider>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSaml {
    entity_id: Option<String>,
    key_file: Option<PathBuf>,
    certificate_file: Option<PathBuf>,
    ecdsa_key_file: Option<PathBuf>,
    ecdsa_certificate_file: Option<PathBuf>,
    #[serde(default)]
    service_providers: Vec<RawSp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSp {
    metadata_file: Option<PathBuf>,
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    attribute_profile: Option<AttributeProfile>,
    require_signed_requests: Option<bool>,
    name_id_format: Option<NameIdFormat>,
    encrypt_assertions: Option<bool>,
    signature_algorithm: Option<KeyKind>,
}

/// Validates `[saml]`; `issuer` gives the default entity ID.
pub(super) fn saml(
    raw: RawSaml,
    issuer: Option<&str>,
    client_ids: &HashSet<String>,
    errors: &mut Errors,
) -> Option<SamlConfig> {
    let entity_id = match (raw.entity_id, issuer) {
        (Some(id), _) => id,
        (None, Some(issuer)) => format!(
            "{}{}",
            issuer.trim_end_matches('/'),
            crate::saml::paths::METADATA
        ),
        (None, None) => return None,
    };
    if entity_id.is_empty() || entity_id.len() > 1024 || url::Url::parse(&entity_id).is_err() {
        errors.add(
            "saml.entity_id",
            "must be an absolute URI of at most 1024 characters",
        );
    }
    let key_file = errors.required(
        "saml.key_file",
        raw.key_file,
        "the PEM signing key (created with certificate_file on first start when both are absent)",
    );
    let certificate_file = errors.required(
        "saml.certificate_file",
        raw.certificate_file,
        "the PEM certificate of the signing key",
    );
    let ecdsa_key = match (raw.ecdsa_key_file, raw.ecdsa_certificate_file) {
        (Some(key), Some(cert)) => Some((key, cert)),
        (None, None) => None,
        _ => {
            errors.add(
                "saml.ecdsa_key_file",
                "ecdsa_key_file and ecdsa_certificate_file go together",
            );
            None
        }
    };
    let mut seen = HashSet::new();
    let mut service_providers = Vec::new();
    for (i, raw) in raw.service_providers.into_iter().enumerate() {
        let field = format!("saml.service_providers[{i}]");
        if let Some(sp) = service_provider(raw, &field, ecdsa_key.is_some(), errors) {
            let id = sp.entity_id().to_owned();
            if ClientId::new(id.clone()).is_err() {
                errors.add(
                    &field,
                    "the entityID must be at most 255 visible ASCII characters (it names the \
                     service provider in consents and the audit log)",
                );
            } else if client_ids.contains(&id) {
                errors.add(&field, "the entityID is also an OAuth client_id");
            } else if !seen.insert(id) {
                errors.add(&field, "this entityID is registered twice");
            } else {
                service_providers.push(sp);
            }
        }
    }
    Some(SamlConfig {
        entity_id,
        key_file: key_file?,
        certificate_file: certificate_file?,
        ecdsa_key,
        service_providers,
    })
}

/// `has_ecdsa`: whether the identity provider has an ECDSA key.
fn service_provider(
    raw: RawSp,
    field: &str,
    has_ecdsa: bool,
    errors: &mut Errors,
) -> Option<ServiceProvider> {
    let path = errors.required(
        &format!("{field}.metadata_file"),
        raw.metadata_file,
        "the service provider's metadata (see `eid-server saml add-sp`)",
    )?;
    let metadata = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
        .and_then(|doc| SpMetadata::parse(&doc).map_err(|e| format!("{}: {e}", path.display())));
    let metadata = match metadata {
        Ok(metadata) => metadata,
        Err(why) => {
            errors.add(format!("{field}.metadata_file"), why);
            return None;
        }
    };
    let name = raw
        .name
        .filter(|n| !n.trim().is_empty() && n.chars().count() <= 100)
        .or_else(|| {
            errors.add(format!("{field}.name"), "required: 1 to 100 characters");
            None
        })?;
    let scopes: Option<BTreeSet<Scope>> = parse_scopes(&raw.scopes.join(" "))
        .ok()
        .filter(|s| !s.contains(&Scope::Pid) && !s.contains(&Scope::OpenId))
        .or_else(|| raw.scopes.is_empty().then(BTreeSet::new));
    let Some(scopes) = scopes else {
        errors.add(
            format!("{field}.scopes"),
            "known scopes only (profile, birthdate, gender, address, personal_id)",
        );
        return None;
    };
    let attribute_profile = raw.attribute_profile.unwrap_or(AttributeProfile::Claims);
    if !attribute_profile
        .required_scopes()
        .iter()
        .all(|s| scopes.contains(s))
    {
        errors.add(
            format!("{field}.scopes"),
            "the eidas attribute profile needs the profile and birthdate scopes (the \
             natural-person minimum dataset)",
        );
        return None;
    }
    let require_signed_requests = raw.require_signed_requests.unwrap_or(true);
    if require_signed_requests && metadata.signing.is_empty() {
        errors.add(
            format!("{field}.require_signed_requests"),
            "the metadata has no signing certificate: requests cannot be verified (set \
             require_signed_requests = false to accept unsigned requests)",
        );
        return None;
    }
    // By default assertions are encrypted when the metadata offers a key for it.
    let encryption_key = metadata
        .encryption
        .iter()
        .find(|c| can_encrypt_to(c))
        .cloned();
    let encrypt_to = match (raw.encrypt_assertions, encryption_key) {
        (Some(false), _) => None,
        (_, Some(cert)) => Some(cert),
        (Some(true), None) => {
            errors.add(
                format!("{field}.encrypt_assertions"),
                "the metadata has no RSA encryption certificate",
            );
            return None;
        }
        (None, None) => None,
    };
    // By default ECDSA-SHA256 for a service provider that lists it, when there is a key.
    let supports_ecdsa = metadata
        .signing_methods
        .iter()
        .any(|m| m == KeyKind::EcP256.algorithm());
    let signature = match raw.signature_algorithm {
        Some(KeyKind::EcP256) if !has_ecdsa => {
            errors.add(
                format!("{field}.signature_algorithm"),
                "ecdsa-sha256 needs saml.ecdsa_key_file and saml.ecdsa_certificate_file",
            );
            return None;
        }
        Some(kind) => kind,
        None if has_ecdsa && supports_ecdsa => KeyKind::EcP256,
        None => KeyKind::Rsa,
    };
    Some(ServiceProvider {
        signature,
        encrypt_to,
        metadata,
        name,
        scopes,
        attribute_profile,
        require_signed_requests,
        default_name_id_format: raw.name_id_format.unwrap_or(NameIdFormat::Persistent),
    })
}
