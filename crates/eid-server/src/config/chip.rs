//! The `[chip]` table: the chip path to level high. The trust list (CSCA certificates and
//! their CRLs, PEM or DER files) and the face matching vendor (issuer, JWKS file,
//! threshold, maximum age of a result). Without the table the chip path is disabled.

use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use eid_core::credential::chip::TrustList;
use eid_core::credential::face::FaceVendor;
use serde::Deserialize;

use super::{Errors, lifetime};
use crate::oidc::ChipSettings;

/// Default maximum age of a face vendor result.
const DEFAULT_FACE_MAX_AGE_SECS: i64 = 300;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChip {
    #[serde(default)]
    csca_files: Vec<PathBuf>,
    #[serde(default)]
    crl_files: Vec<PathBuf>,
    ticket_lifetime_secs: Option<i64>,
    face: Option<RawFace>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFace {
    issuer: Option<String>,
    jwks_file: Option<PathBuf>,
    threshold: Option<f64>,
    max_age_secs: Option<i64>,
}

/// Reads `path`, recording an error under `field` when it cannot be read.
fn read(field: &str, path: &Path, errors: &mut Errors) -> Option<Vec<u8>> {
    std::fs::read(path)
        .map_err(|err| errors.add(field, format!("cannot read {}: {err}", path.display())))
        .ok()
}

/// The DER inside a PEM file with `label`, or the bytes themselves (DER).
fn der(bytes: Vec<u8>, label: &str) -> Result<Vec<u8>, String> {
    if !bytes.starts_with(b"-----BEGIN") {
        return Ok(bytes);
    }
    let (found, der) = der::pem::decode_vec(&bytes).map_err(|err| format!("bad PEM: {err}"))?;
    if found == label {
        Ok(der)
    } else {
        Err(format!("a PEM {found}, expected {label}"))
    }
}

fn trust_list(raw: &RawChip, errors: &mut Errors) -> Option<TrustList> {
    if raw.csca_files.is_empty() {
        errors.add(
            "chip.csca_files",
            "required (the CSCA certificate files, PEM or DER, of the trust list)",
        );
        return None;
    }
    let mut trust = TrustList::new();
    let mut ok = true;
    for (i, path) in raw.csca_files.iter().enumerate() {
        let field = format!("chip.csca_files[{i}]");
        let added = read(&field, path, errors)
            .map(|bytes| der(bytes, "CERTIFICATE"))
            .map(|der| der.and_then(|der| trust.add_csca_der(&der).map_err(|e| e.to_string())));
        match added {
            Some(Ok(())) => {}
            Some(Err(why)) => {
                errors.add(field, format!("{}: {why}", path.display()));
                ok = false;
            }
            None => ok = false,
        }
    }
    // CRLs after every CSCA: each must be signed by one of them.
    for (i, path) in raw.crl_files.iter().enumerate() {
        let field = format!("chip.crl_files[{i}]");
        let added = read(&field, path, errors)
            .map(|bytes| der(bytes, "X509 CRL"))
            .map(|der| der.and_then(|der| trust.add_crl_der(&der).map_err(|e| e.to_string())));
        match added {
            Some(Ok(())) => {}
            Some(Err(why)) => {
                errors.add(field, format!("{}: {why}", path.display()));
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(trust)
}

fn face(raw: Option<RawFace>, errors: &mut Errors) -> Option<FaceVendor> {
    let Some(raw) = raw else {
        errors.add(
            "chip.face",
            "required (the face matching vendor: issuer, jwks_file, threshold)",
        );
        return None;
    };
    let issuer = errors.required("chip.face.issuer", raw.issuer, "the vendor's iss");
    let jwks = errors
        .required(
            "chip.face.jwks_file",
            raw.jwks_file,
            "the vendor's public keys (JWKS)",
        )
        .and_then(|path| read("chip.face.jwks_file", &path, errors))
        .and_then(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| errors.add("chip.face.jwks_file", "not UTF-8 JSON"))
                .ok()
        });
    let threshold = errors.required(
        "chip.face.threshold",
        raw.threshold,
        "the lowest accepted similarity score, 0 to 1",
    );
    let max_age = lifetime(
        "chip.face.max_age_secs",
        raw.max_age_secs,
        DEFAULT_FACE_MAX_AGE_SECS,
        (30, 3_600),
        errors,
    );
    let (issuer, jwks, threshold, max_age) = (issuer?, jwks?, threshold?, max_age?);
    if issuer.trim().is_empty() {
        errors.add("chip.face.issuer", "must not be empty");
        return None;
    }
    FaceVendor::new(&issuer, &jwks, threshold, max_age)
        .map_err(|err| errors.add("chip.face", err.to_string()))
        .ok()
}

/// Validates the `[chip]` table.
pub(super) fn chip(raw: RawChip, errors: &mut Errors) -> Option<ChipSettings> {
    let trust = trust_list(&raw, errors);
    let default = i64::try_from(ChipSettings::DEFAULT_TICKET_LIFETIME.as_secs()).unwrap_or(600);
    let ticket_lifetime = lifetime(
        "chip.ticket_lifetime_secs",
        raw.ticket_lifetime_secs,
        default,
        (60, 3_600),
        errors,
    );
    let face = face(raw.face, errors);
    Some(ChipSettings {
        trust: trust?,
        face: face?,
        ticket_lifetime: StdDuration::from_secs(ticket_lifetime?.whole_seconds().unsigned_abs()),
    })
}
