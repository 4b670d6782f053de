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

/// Reads each file of `paths` (PEM with `label`, or DER) and hands it to `add`, reporting
/// every failure under `field[i]`; true when all were added.
fn load_all(
    paths: &[PathBuf],
    field: &str,
    label: &str,
    errors: &mut Errors,
    mut add: impl FnMut(&[u8]) -> Result<(), String>,
) -> bool {
    let mut ok = true;
    for (i, path) in paths.iter().enumerate() {
        let field = format!("{field}[{i}]");
        let added = read(&field, path, errors)
            .map(|bytes| der(bytes, label))
            .map(|der| der.and_then(|der| add(&der)));
        match added {
            Some(Ok(())) => {}
            Some(Err(why)) => {
                errors.add(field, format!("{}: {why}", path.display()));
                ok = false;
            }
            None => ok = false,
        }
    }
    ok
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
    // CRLs after every CSCA: each must be signed by one of them.
    let cscas = load_all(
        &raw.csca_files,
        "chip.csca_files",
        "CERTIFICATE",
        errors,
        |der| trust.add_csca_der(der).map_err(|e| e.to_string()),
    );
    let crls = load_all(
        &raw.crl_files,
        "chip.crl_files",
        "X509 CRL",
        errors,
        |der| trust.add_crl_der(der).map_err(|e| e.to_string()),
    );
    let ok = cscas && crls;
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

#[cfg(test)]
mod tests {
    use der::{Encode as _, EncodePem as _};
    use eid_core::credential::chip::testing::{crl, csca, ds, good_validity};
    use eid_core::credential::face::DeterministicMatcher;
    use eid_core::token::SigningKey;
    use tempfile::TempDir;

    use super::super::tests::{GOOD, errors, parse, with_kek};
    use super::super::{ConfigError, FieldError};

    /// A directory with a CSCA (PEM), a DS certificate (DER), a CRL of the CSCA (DER), a CRL
    /// of another CSCA and a vendor JWKS.
    fn files() -> TempDir {
        let dir = tempfile::tempdir().unwrap();
        let (csca_key, csca_cert) = csca(1);
        let (_, ds_cert) = ds(&csca_key, 7, good_validity());
        let (rogue_key, _) = csca(2);
        let pem = csca_cert.to_pem(der::pem::LineEnding::LF).unwrap();
        std::fs::write(dir.path().join("csca.pem"), pem).unwrap();
        std::fs::write(dir.path().join("ds.der"), ds_cert.to_der().unwrap()).unwrap();
        std::fs::write(
            dir.path().join("csca.crl"),
            crl(&csca_cert, &csca_key, 1, &[9]),
        )
        .unwrap();
        let forged = crl(&csca_cert, &rogue_key, 2, &[]);
        std::fs::write(dir.path().join("forged.crl"), forged).unwrap();
        let vendor =
            DeterministicMatcher::new("https://face.example", SigningKey::generate().unwrap());
        std::fs::write(dir.path().join("vendor.json"), vendor.jwks()).unwrap();
        dir
    }

    fn with_chip(dir: &TempDir, chip: &str) -> String {
        let d = dir.path().display();
        format!("{GOOD}\n{}", chip.replace("$DIR", &d.to_string()))
    }

    const CHIP: &str = r#"
[chip]
csca_files = ["$DIR/csca.pem"]
crl_files = ["$DIR/csca.crl"]

[chip.face]
issuer = "https://face.example"
jwks_file = "$DIR/vendor.json"
threshold = 0.8
"#;

    #[test]
    fn the_chip_path_is_off_without_its_table_and_loads_with_it() {
        assert!(parse(GOOD).unwrap().chip.is_none());
        let dir = files();
        let chip = parse(&with_chip(&dir, CHIP))
            .unwrap()
            .chip
            .expect("chip settings");
        assert_eq!(chip.ticket_lifetime.as_secs(), 600);
    }

    fn chip_errors(dir: &TempDir, chip: &str) -> Vec<FieldError> {
        errors(&with_chip(dir, chip), &with_kek())
    }

    fn assert_field(errors: &[FieldError], field: &str, needle: &str) {
        assert!(
            errors
                .iter()
                .any(|e| e.field == field && e.message.contains(needle)),
            "{field}: {needle} not in {errors:?}"
        );
    }

    #[test]
    fn bad_chip_settings_are_each_reported() {
        let dir = files();
        let empty = chip_errors(&dir, "[chip]\n");
        assert_field(&empty, "chip.csca_files", "required");
        assert_field(&empty, "chip.face", "required");

        let bad = chip_errors(
            &dir,
            r#"
[chip]
csca_files = ["$DIR/missing.pem", "$DIR/ds.der"]
crl_files = ["$DIR/forged.crl"]
ticket_lifetime_secs = 5

[chip.face]
jwks_file = "$DIR/csca.pem"
threshold = 1.5
max_age_secs = 0
"#,
        );
        assert_field(&bad, "chip.csca_files[0]", "cannot read");
        assert_field(&bad, "chip.csca_files[1]", "not a CA certificate");
        assert_field(&bad, "chip.crl_files[0]", "trusted CSCA");
        assert_field(&bad, "chip.ticket_lifetime_secs", "between 60 and 3600");
        assert_field(&bad, "chip.face.issuer", "required");
        assert_field(&bad, "chip.face.max_age_secs", "between 30 and 3600");

        let face = chip_errors(&dir, &CHIP.replace("0.8", "1.5"));
        assert_field(&face, "chip.face", "threshold");
        let jwks = chip_errors(&dir, &CHIP.replace("vendor.json", "csca.pem"));
        assert_field(&jwks, "chip.face", "JWKS");
        assert!(matches!(
            parse(&with_chip(&dir, "[chip]\ncsca = 1\n")),
            Err(ConfigError::Syntax(_))
        ));
    }
}
