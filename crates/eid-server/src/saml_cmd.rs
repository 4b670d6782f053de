//! `eid-server saml add-sp|list-sps|remove-sp`: register SAML service providers in the
//! configuration file from their metadata.
//!
//! `add-sp` reads the metadata from a file or fetches it from an https URL (now, by the
//! administrator: never at request time), checks it as `serve` will, stores a copy next
//! to the configuration (`saml-sp-<hash of the entity ID>.xml`) and appends a
//! `[[saml.service_providers]]` table; the whole new configuration is validated before it
//! is written (see [`crate::clients_cmd`]). It prints what the metadata says, with the
//! SHA-256 fingerprints of the certificates, for the administrator to confirm with the
//! service provider: the metadata is what the service provider is trusted by.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

use crate::cli::{
    AttributeProfileArg, ConfigArgs, SamlAddSpArgs, SamlRemoveSpArgs, SignatureAlgorithmArg,
};
use crate::clients_cmd::{read, string_array, write_validated};
use crate::saml::sp::SpMetadata;
use crate::saml::xml::Limits;

/// How long fetching metadata may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// Registers a service provider.
pub async fn add_sp(args: SamlAddSpArgs) -> anyhow::Result<()> {
    let path = &args.config.config;
    let mut doc = read(path)?;
    let document = metadata_text(&args.metadata).await?;
    let metadata = SpMetadata::parse(&document)
        .with_context(|| format!("the metadata of {} cannot be used", args.metadata))?;
    let registered = entries(&doc, path)?;
    if registered
        .iter()
        .any(|(_, entity, _)| entity.as_deref() == Some(metadata.entity_id.as_str()))
    {
        bail!(
            "{} is already registered in {}: remove it first (`saml remove-sp`)",
            metadata.entity_id,
            path.display()
        );
    }
    let file = metadata_file(path, &metadata.entity_id)?;
    let mut table = Table::new();
    table.insert("metadata_file", value(file.display().to_string()));
    table.insert("name", value(args.name.as_str()));
    table.insert("scopes", value(string_array(&args.scopes)));
    let profile = match args.attribute_profile {
        AttributeProfileArg::Claims => "claims",
        AttributeProfileArg::Eidas => "eidas",
    };
    table.insert("attribute_profile", value(profile));
    table.insert(
        "require_signed_requests",
        value(!args.allow_unsigned_requests),
    );
    if args.no_encryption {
        table.insert("encrypt_assertions", value(false));
    }
    if let Some(algorithm) = args.signature_algorithm {
        let name = match algorithm {
            SignatureAlgorithmArg::RsaSha256 => "rsa-sha256",
            SignatureAlgorithmArg::EcdsaSha256 => "ecdsa-sha256",
        };
        table.insert("signature_algorithm", value(name));
    }
    saml_mut(&mut doc, path)?.push(table);
    // The metadata file first (validation reads it); removed again if the result is refused.
    std::fs::write(&file, &document).with_context(|| format!("cannot write {}", file.display()))?;
    if let Err(err) = write_validated(path, &doc) {
        let _ = std::fs::remove_file(&file);
        return Err(err);
    }
    println!("added SAML service provider {}", metadata.entity_id);
    describe(&metadata);
    println!("metadata stored in {}", file.display());
    eprintln!(
        "Confirm the certificate fingerprints with the service provider, then restart the \
         servers to apply the change."
    );
    Ok(())
}

/// Lists the registered service providers.
pub fn list_sps(args: ConfigArgs) -> anyhow::Result<()> {
    let doc = read(&args.config)?;
    for (i, entity, table) in entries(&doc, &args.config)? {
        let name = table.get("name").and_then(Item::as_str).unwrap_or("?");
        let file = table
            .get("metadata_file")
            .and_then(Item::as_str)
            .unwrap_or("?");
        let entity = entity.unwrap_or_else(|| "(metadata unreadable)".to_owned());
        println!("[{i}] {entity}  name: {name}  metadata: {file}");
    }
    Ok(())
}

/// Removes a service provider's table.
pub fn remove_sp(args: SamlRemoveSpArgs) -> anyhow::Result<()> {
    let path = &args.config.config;
    let mut doc = read(path)?;
    let found = entries(&doc, path)?
        .into_iter()
        .find(|(_, entity, _)| entity.as_deref() == Some(args.entity_id.as_str()))
        .map(|(i, _, _)| i);
    let Some(index) = found else {
        bail!("{} is not registered in {}", args.entity_id, path.display());
    };
    saml_mut(&mut doc, path)?.remove(index);
    write_validated(path, &doc)?;
    println!("removed SAML service provider {}", args.entity_id);
    eprintln!("Restart the servers to apply the change.");
    Ok(())
}

/// The metadata document at `source`: an https URL (http only on the loopback
/// interface), or a file.
async fn metadata_text(source: &str) -> anyhow::Result<String> {
    let max = Limits::METADATA.max_bytes;
    if source.starts_with("https://") || source.starts_with("http://") {
        let url = url::Url::parse(source).context("not a URL")?;
        let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if url.scheme() != "https" && !loopback {
            bail!("metadata must be fetched over https");
        }
        // From https, up to three redirects, https only; from the loopback interface (a
        // local file server), none.
        let redirects = if loopback {
            reqwest::redirect::Policy::none()
        } else {
            reqwest::redirect::Policy::limited(3)
        };
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(redirects)
            .https_only(!loopback)
            .build()?;
        let mut response = client
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("cannot fetch {source}"))?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            body.extend_from_slice(&chunk);
            if body.len() > max {
                bail!("{source}: the metadata is larger than {max} bytes");
            }
        }
        return String::from_utf8(body).context("the metadata is not UTF-8");
    }
    let mut text = String::new();
    std::fs::File::open(source)
        .with_context(|| format!("cannot open {source}"))?
        .take(max as u64 + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {source} as UTF-8"))?;
    if text.len() > max {
        bail!("{source}: the metadata is larger than {max} bytes");
    }
    Ok(text)
}

/// Where the metadata of `entity_id` is stored: beside the configuration, named by a hash
/// (an entity ID is no file name), as an absolute path (the configuration's paths are
/// read relative to the server's working directory).
fn metadata_file(config: &Path, entity_id: &str) -> anyhow::Result<PathBuf> {
    let digest = Sha256::digest(entity_id.as_bytes());
    let name = eid_core::store::hex(&digest[..8]);
    let config = std::fs::canonicalize(config)
        .with_context(|| format!("cannot resolve {}", config.display()))?;
    let dir = config.parent().unwrap_or(Path::new("/"));
    Ok(dir.join(format!("saml-sp-{name}.xml")))
}

/// Prints the parts of `metadata` an administrator checks.
fn describe(metadata: &SpMetadata) {
    println!("  entity ID: {}", metadata.entity_id);
    for acs in &metadata.acs {
        println!("  assertion consumer service (HTTP-POST): {}", acs.url);
    }
    if let Some(slo) = &metadata.slo {
        println!("  single logout service (HTTP-Redirect): {}", slo.url);
        println!("  logout responses go to: {}", slo.response_url);
    }
    println!("  signs its requests: {}", metadata.authn_requests_signed);
    for (role, certs) in [
        ("signing", &metadata.signing),
        ("encryption", &metadata.encryption),
    ] {
        for cert in certs.iter() {
            let fingerprint: Vec<String> = Sha256::digest(cert.der())
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect();
            println!("  {role} certificate SHA-256: {}", fingerprint.join(":"));
        }
    }
}

/// Each `[[saml.service_providers]]` table with its index and the entity ID of its
/// metadata file (`None` when the file cannot be read).
fn entries<'a>(
    doc: &'a DocumentMut,
    path: &Path,
) -> anyhow::Result<Vec<(usize, Option<String>, &'a Table)>> {
    let Some(saml) = doc.get("saml") else {
        return Ok(Vec::new());
    };
    let tables = match saml.get("service_providers") {
        None => return Ok(Vec::new()),
        Some(Item::ArrayOfTables(tables)) => tables,
        Some(_) => bail!(
            "saml.service_providers in {} is not written as [[saml.service_providers]] tables",
            path.display()
        ),
    };
    Ok(tables
        .iter()
        .enumerate()
        .map(|(i, table)| {
            let entity = table
                .get("metadata_file")
                .and_then(Item::as_str)
                .and_then(|file| std::fs::read_to_string(file).ok())
                .and_then(|doc| SpMetadata::parse(&doc).ok())
                .map(|m| m.entity_id);
            (i, entity, table)
        })
        .collect())
}

/// The `[[saml.service_providers]]` array, created if absent; `[saml]` must exist.
fn saml_mut<'a>(doc: &'a mut DocumentMut, path: &Path) -> anyhow::Result<&'a mut ArrayOfTables> {
    let Some(saml) = doc.get_mut("saml").and_then(Item::as_table_mut) else {
        bail!(
            "{} has no [saml] table: add one with key_file and certificate_file first (see \
             docs/saml.md)",
            path.display()
        );
    };
    let providers = saml
        .entry("service_providers")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
    providers.as_array_of_tables_mut().ok_or_else(|| {
        anyhow::anyhow!(
            "saml.service_providers in {} is not written as [[saml.service_providers]] tables",
            path.display()
        )
    })
}
