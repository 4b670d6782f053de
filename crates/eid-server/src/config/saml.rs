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
use crate::saml::encrypt::{AES256_GCM, can_encrypt_to};
use crate::saml::keys::KeyKind;
use crate::saml::sp::{AttributeProfile, ServiceProvider, SpMetadata};

/// Most signing certificates a service provider's metadata may list (a key rollover needs
/// two).
const MAX_SIGNING_CERTIFICATES: usize = 4;

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
    // xmlsec tries each certificate in turn: a bound on the work one request can cause.
    if metadata.signing.len() > MAX_SIGNING_CERTIFICATES {
        errors.add(
            format!("{field}.metadata_file"),
            format!("more than {MAX_SIGNING_CERTIFICATES} signing certificates"),
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
    // By default assertions are encrypted when the metadata offers a key for it (and does
    // not restrict it to data encryption algorithms other than the one used here).
    let methods = &metadata.encryption_methods;
    let algorithm_ok = methods.is_empty() || methods.iter().any(|m| m == AES256_GCM);
    let encryption_key = metadata
        .encryption
        .iter()
        .find(|c| can_encrypt_to(c) && algorithm_ok)
        .cloned();
    let encrypt_to = match (raw.encrypt_assertions, encryption_key) {
        (Some(false), _) => None,
        (_, Some(cert)) => Some(cert),
        (Some(true), None) => {
            errors.add(
                format!("{field}.encrypt_assertions"),
                "the metadata has no RSA encryption certificate accepting AES-256-GCM",
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

#[cfg(test)]
mod tests {
    use tempfile::TempDir;

    use super::super::tests::{GOOD, errors, parse, with_kek};
    use crate::saml::keys::{KeyKind, SigningKey};
    use crate::saml::sp::tests::metadata;

    /// A directory with a service provider's metadata (`sp.xml`, signing certificate,
    /// ECDSA listed) and the same without a certificate (`bare.xml`).
    fn files() -> TempDir {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate(KeyKind::Rsa, "sp").unwrap();
        let md = metadata(&key, "");
        std::fs::write(dir.path().join("sp.xml"), &md).unwrap();
        let start = md.find("<md:KeyDescriptor").unwrap();
        let end = md.find("</md:KeyDescriptor>").unwrap() + "</md:KeyDescriptor>".len();
        let bare = format!("{}{}", &md[..start], &md[end..]);
        std::fs::write(dir.path().join("bare.xml"), bare).unwrap();
        dir
    }

    fn with_saml(dir: &TempDir, saml: &str, sps: &[&str]) -> String {
        let d = dir.path().display();
        let mut text = format!(
            "{GOOD}\n[saml]\nkey_file = \"{d}/idp.key\"\ncertificate_file = \"{d}/idp.crt\"\n{saml}\n"
        );
        for sp in sps {
            let sp = sp.replace("DIR", &d.to_string());
            text.push_str(&format!("[[saml.service_providers]]\n{sp}\n"));
        }
        text
    }

    #[test]
    fn service_providers_load_with_defaults() {
        let dir = files();
        let config = parse(&with_saml(
            &dir,
            "",
            &["metadata_file = \"DIR/sp.xml\"\nname = \"Portal\"\nscopes = [\"profile\"]"],
        ))
        .unwrap();
        let saml = config.saml.unwrap();
        assert_eq!(saml.entity_id, "https://id.example.vn/saml/metadata");
        assert!(saml.ecdsa_key.is_none());
        let sp = &saml.service_providers[0];
        assert_eq!(sp.entity_id(), "https://sp.example/metadata");
        assert!(sp.require_signed_requests);
        assert!(sp.encrypt_to.is_none(), "no encryption certificate");
        // ECDSA is listed, but there is no ECDSA key.
        assert_eq!(sp.signature, KeyKind::Rsa);
        let with_ec = with_saml(
            &dir,
            "ecdsa_key_file = \"x.key\"\necdsa_certificate_file = \"x.crt\"",
            &["metadata_file = \"DIR/sp.xml\"\nname = \"Portal\""],
        );
        let saml = parse(&with_ec).unwrap().saml.unwrap();
        assert_eq!(saml.service_providers[0].signature, KeyKind::EcP256);
    }

    #[test]
    fn every_bad_service_provider_field_is_reported() {
        let dir = files();
        let text = with_saml(
            &dir,
            "entity_id = \"not a uri\"\necdsa_key_file = \"x.key\"",
            &[
                "metadata_file = \"DIR/missing.xml\"\nname = \"A\"",
                "metadata_file = \"DIR/sp.xml\"\nname = \"\"",
                "metadata_file = \"DIR/sp.xml\"\nname = \"B\"\nscopes = [\"openid\"]",
                "metadata_file = \"DIR/sp.xml\"\nname = \"C\"\nattribute_profile = \"eidas\"\nscopes = [\"profile\"]",
                "metadata_file = \"DIR/bare.xml\"\nname = \"D\"",
                "metadata_file = \"DIR/sp.xml\"\nname = \"E\"\nencrypt_assertions = true",
                "metadata_file = \"DIR/sp.xml\"\nname = \"F\"\nsignature_algorithm = \"ecdsa-sha256\"",
            ],
        );
        let found = errors(&text, &with_kek());
        let fields: Vec<&str> = found.iter().map(|e| e.field.as_str()).collect();
        for field in [
            "saml.entity_id",
            "saml.ecdsa_key_file",
            "saml.service_providers[0].metadata_file",
            "saml.service_providers[1].name",
            "saml.service_providers[2].scopes",
            "saml.service_providers[3].scopes",
            "saml.service_providers[4].require_signed_requests",
            "saml.service_providers[5].encrypt_assertions",
            "saml.service_providers[6].signature_algorithm",
        ] {
            assert!(fields.contains(&field), "{field} not in {found:?}");
        }
    }

    #[test]
    fn assertions_are_encrypted_by_default_only_with_an_accepted_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate(KeyKind::Rsa, "sp").unwrap();
        let md = metadata(&key, "");
        let both = md.replace("use=\"signing\"", "");
        let cbc = both.replace(
            "</ds:KeyInfo></md:KeyDescriptor>",
            "</ds:KeyInfo><md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/></md:KeyDescriptor>",
        );
        std::fs::write(dir.path().join("both.xml"), both).unwrap();
        std::fs::write(dir.path().join("cbc.xml"), cbc).unwrap();
        let sp = |file: &str, extra: &str| {
            let d = dir.path().display();
            format!(
                "{GOOD}\n[saml]\nkey_file = \"k\"\ncertificate_file = \"c\"\n\
                 [[saml.service_providers]]\nmetadata_file = \"{d}/{file}\"\nname = \"A\"\n{extra}\n"
            )
        };
        let saml = |text: String| parse(&text).unwrap().saml.unwrap();
        assert!(
            saml(sp("both.xml", "")).service_providers[0]
                .encrypt_to
                .is_some()
        );
        let off = sp("both.xml", "encrypt_assertions = false");
        assert!(saml(off).service_providers[0].encrypt_to.is_none());
        assert!(
            saml(sp("cbc.xml", "")).service_providers[0]
                .encrypt_to
                .is_none()
        );
        let forced = sp("cbc.xml", "encrypt_assertions = true");
        let found = errors(&forced, &with_kek());
        assert!(
            found.iter().any(|e| e.message.contains("AES-256-GCM")),
            "{found:?}"
        );
    }

    #[test]
    fn entity_ids_are_unique_and_not_client_ids() {
        let dir = files();
        let sp = "metadata_file = \"DIR/sp.xml\"\nname = \"A\"";
        let found = errors(&with_saml(&dir, "", &[sp, sp]), &with_kek());
        assert!(
            found.iter().any(|e| e.message.contains("registered twice")),
            "{found:?}"
        );
        let clash = with_saml(&dir, "", &[sp]).replace("tax-portal", "https://sp.example/metadata");
        let found = errors(&clash, &with_kek());
        assert!(
            found.iter().any(|e| e.message.contains("OAuth client_id")),
            "{found:?}"
        );
        let unsigned =
            "metadata_file = \"DIR/bare.xml\"\nname = \"A\"\nrequire_signed_requests = false";
        let config = parse(&with_saml(&dir, "", &[unsigned])).unwrap();
        assert!(!config.saml.unwrap().service_providers[0].require_signed_requests);
    }
}
