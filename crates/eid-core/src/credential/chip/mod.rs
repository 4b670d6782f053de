//! Passive authentication of the citizen ID card chip (ICAO 9303 part 11 §5.1): the Document
//! Security Object (SOD) is a CMS `SignedData` (part 10 §4.6.2) signed by a Document Signer
//! (DS) whose certificate a Country Signing CA (CSCA) issued (part 12 §5); it lists a hash per
//! data group, so the data groups read from the chip are shown to be the issuer's.

mod crypto;
mod lds;
mod mrz;
#[cfg(feature = "chip-testing")]
pub mod testing;

use std::collections::BTreeMap;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{DecodePem, Encode, Tagged};
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use x509_cert::time::Validity;

pub use crypto::HashAlgorithm;
pub use lds::{
    DataGroupHash, LDS_SECURITY_OBJECT_OID, LdsSecurityObject, LdsVersion, LdsVersionInfo,
};
pub use mrz::{Sex, Td1Mrz, parse_dg1};

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");

/// Why passive authentication failed; one variant per class of failure.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChipError {
    /// The SOD, a certificate, a CRL or a data group cannot be decoded or lacks a required part.
    #[error("malformed chip data: {0}")]
    Malformed(String),
    /// An algorithm outside ICAO 9303 part 12 §4.4 (or that this verifier does not support).
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// No CSCA in the trust list issued (and signed) the DS certificate.
    #[error("document signer certificate not issued by a trusted CSCA")]
    UntrustedCsca,
    /// The DS certificate's signature does not verify with the issuing CSCA's key.
    #[error("document signer certificate signature does not verify")]
    BadDsSignature,
    /// The SOD signature, or its signed attributes, do not match (tampered SOD).
    #[error("SOD signature does not verify: {0}")]
    BadSodSignature(String),
    /// The DS or CSCA certificate is expired or not yet valid.
    #[error("certificate not valid at the given time: {0}")]
    CertificateNotValid(String),
    /// The DS certificate is on its CSCA's CRL.
    #[error("document signer certificate revoked")]
    RevokedDs,
    /// A data group's hash differs from the one in the SOD.
    #[error("hash of DG{0} does not match the SOD")]
    DataGroupHashMismatch(u8),
    /// DG1 was not supplied.
    #[error("mandatory DG{0} missing")]
    MissingDataGroup(u8),
    /// A supplied data group is not listed in the SOD.
    #[error("DG{0} not listed in the SOD")]
    UnlistedDataGroup(u8),
}

/// One trusted CSCA certificate and the CRLs it issued (ICAO 9303 part 12 §6, §7.1.4).
struct Csca {
    certificate: Certificate,
    crls: Vec<CertificateList>,
}

/// The CSCA certificates trusted for passive authentication (the CSCA Master List or a national
/// trust store, ICAO 9303 part 12 §8), each with optional CRLs.
#[derive(Default)]
pub struct TrustList {
    cscas: Vec<Csca>,
}

impl TrustList {
    /// An empty trust list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a CSCA certificate in DER. It must be a CA certificate (ICAO 9303 part 12 §7.1.1:
    /// basicConstraints cA, keyUsage keyCertSign when present); otherwise
    /// [`ChipError::Malformed`].
    pub fn add_csca_der(&mut self, der: &[u8]) -> Result<(), ChipError> {
        self.add_csca(crypto::decode::<Certificate>(der, "CSCA certificate")?)
    }

    /// Adds a CSCA certificate in PEM, with the checks of [`TrustList::add_csca_der`].
    pub fn add_csca_pem(&mut self, pem: &[u8]) -> Result<(), ChipError> {
        let certificate = Certificate::from_pem(pem)
            .map_err(|e| ChipError::Malformed(format!("CSCA certificate: {e}")))?;
        self.add_csca(certificate)
    }

    fn add_csca(&mut self, certificate: Certificate) -> Result<(), ChipError> {
        let tbs = certificate.tbs_certificate();
        let not_ca = || ChipError::Malformed("CSCA certificate is not a CA certificate".into());
        match tbs.get_extension::<BasicConstraints>() {
            Ok(Some((_, constraints))) if constraints.ca => {}
            _ => return Err(not_ca()),
        }
        match tbs.get_extension::<KeyUsage>() {
            Ok(None) => {}
            Ok(Some((_, usage))) if usage.key_cert_sign() => {}
            _ => return Err(not_ca()),
        }
        self.cscas.push(Csca {
            certificate,
            crls: Vec::new(),
        });
        Ok(())
    }

    /// Adds a CRL in DER. It must be issued and signed by a CSCA already in the list
    /// (ICAO 9303 part 12 §7.1.4); otherwise [`ChipError::UntrustedCsca`].
    pub fn add_crl_der(&mut self, der: &[u8]) -> Result<(), ChipError> {
        let crl = crypto::decode::<CertificateList>(der, "CRL")?;
        let tbs = crl
            .tbs_cert_list
            .to_der()
            .map_err(|e| ChipError::Malformed(format!("CRL: {e}")))?;
        for csca in &mut self.cscas {
            let cert = csca.certificate.tbs_certificate();
            if cert.subject() == &crl.tbs_cert_list.issuer
                && crypto::verify_signature(
                    &crl.signature_algorithm,
                    None,
                    cert.subject_public_key_info(),
                    &tbs,
                    crl.signature.raw_bytes(),
                )?
            {
                csca.crls.push(crl);
                return Ok(());
            }
        }
        Err(ChipError::UntrustedCsca)
    }
}

/// The result of a successful passive authentication.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PassiveAuthentication {
    /// The data groups whose hashes matched the SOD (always includes 1).
    pub verified_data_groups: Vec<u8>,
    /// The hash algorithm of the SOD's data group hashes.
    pub hash_algorithm: HashAlgorithm,
    /// The Document Signer certificate's subject (RFC 4514 string).
    pub ds_subject: String,
    /// The Document Signer certificate's serial number (big-endian bytes).
    pub ds_serial: Vec<u8>,
    /// DG1 parsed as a TD1 MRZ.
    pub mrz: Td1Mrz,
}

fn check_validity(validity: &Validity, at: OffsetDateTime, what: &str) -> Result<(), ChipError> {
    let at = i128::from(at.unix_timestamp());
    let not_before = i128::from(validity.not_before.to_unix_duration().as_secs());
    let not_after = i128::from(validity.not_after.to_unix_duration().as_secs());
    if at < not_before {
        Err(ChipError::CertificateNotValid(format!(
            "{what} not yet valid"
        )))
    } else if at > not_after {
        Err(ChipError::CertificateNotValid(format!("{what} expired")))
    } else {
        Ok(())
    }
}

/// Strips the SOD's `0x77` application tag (ICAO 9303 part 10 §4.6.2) and decodes the CMS
/// `SignedData` inside.
fn signed_data(sod: &[u8]) -> Result<SignedData, ChipError> {
    let outer = crypto::decode::<der::asn1::AnyRef<'_>>(sod, "SOD")?;
    if outer.tag()
        != (der::Tag::Application {
            constructed: true,
            number: der::TagNumber(23),
        })
    {
        return Err(ChipError::Malformed("SOD: not an 0x77 EF.SOD".into()));
    }
    let value = outer.value();
    let content_info = crypto::decode::<ContentInfo>(value, "SOD ContentInfo")?;
    if content_info.content_type != ID_SIGNED_DATA {
        return Err(ChipError::Malformed("SOD: not a SignedData".into()));
    }
    content_info
        .content
        .decode_as::<SignedData>()
        .map_err(|e| ChipError::Malformed(format!("SOD SignedData: {e}")))
}

/// The DS certificate the signer info names, from the SOD's certificate set (ICAO 9303
/// part 10 §4.6.2.2: the DS certificate is included).
fn ds_certificate<'a>(
    signed: &'a SignedData,
    signer: &SignerInfo,
) -> Result<&'a Certificate, ChipError> {
    let certificates = signed
        .certificates
        .as_ref()
        .ok_or_else(|| ChipError::Malformed("SOD carries no DS certificate".into()))?;
    certificates
        .0
        .iter()
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(cert) => Some(cert),
            CertificateChoices::Other(_) => None,
        })
        .find(|cert| {
            let tbs = cert.tbs_certificate();
            match &signer.sid {
                SignerIdentifier::IssuerAndSerialNumber(id) => {
                    tbs.issuer() == &id.issuer && tbs.serial_number() == &id.serial_number
                }
                SignerIdentifier::SubjectKeyIdentifier(ski) => {
                    matches!(tbs.get_extension::<SubjectKeyIdentifier>(), Ok(Some((_, own))) if &own == ski)
                }
            }
        })
        .ok_or_else(|| ChipError::Malformed("SOD: DS certificate not found".into()))
}

/// Checks the signed attributes (RFC 5652 §5.4, §11.1–11.2) and the signature over them.
fn verify_signer(
    signer: &SignerInfo,
    ds: &Certificate,
    econtent_type: ObjectIdentifier,
    econtent: &[u8],
) -> Result<(), ChipError> {
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| ChipError::Malformed("SOD: no signed attributes".into()))?;
    let single = |oid: ObjectIdentifier| {
        let mut found = attrs.iter().filter(|a| a.oid == oid);
        match (found.next(), found.next()) {
            (Some(attr), None) if attr.values.len() == 1 => Ok(attr.values.get(0)),
            _ => Err(ChipError::BadSodSignature(format!(
                "signed attribute {oid} absent or repeated"
            ))),
        }
    };
    let content_type = single(ID_CONTENT_TYPE)?
        .and_then(|v| v.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(|| ChipError::Malformed("SOD: bad content-type attribute".into()))?;
    if content_type != econtent_type {
        return Err(ChipError::BadSodSignature("content-type mismatch".into()));
    }
    let digest = single(ID_MESSAGE_DIGEST)?
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or_else(|| ChipError::Malformed("SOD: bad message-digest attribute".into()))?;
    let hash = HashAlgorithm::from_oid(&signer.digest_alg.oid)?;
    if hash.digest(econtent) != digest.as_bytes() {
        return Err(ChipError::BadSodSignature("message-digest mismatch".into()));
    }
    let signed_der = attrs
        .to_der()
        .map_err(|e| ChipError::Malformed(format!("SOD signed attributes: {e}")))?;
    if crypto::verify_signature(
        &signer.signature_algorithm,
        Some(hash),
        ds.tbs_certificate().subject_public_key_info(),
        &signed_der,
        signer.signature.as_bytes(),
    )? {
        Ok(())
    } else {
        Err(ChipError::BadSodSignature("signature".into()))
    }
}

/// Checks the DS certificate against the trust list (ICAO 9303 part 11 §5.1 step 2, part 12
/// §5): issued and signed by a CSCA, both valid at `at`, the DS not on that CSCA's CRLs.
fn verify_ds(ds: &Certificate, trust: &TrustList, at: OffsetDateTime) -> Result<(), ChipError> {
    let tbs = ds.tbs_certificate();
    let tbs_der = tbs
        .to_der()
        .map_err(|e| ChipError::Malformed(format!("DS certificate: {e}")))?;
    let mut issuers = trust
        .cscas
        .iter()
        .filter(|csca| csca.certificate.tbs_certificate().subject() == tbs.issuer())
        .peekable();
    if issuers.peek().is_none() {
        return Err(ChipError::UntrustedCsca);
    }
    let mut signed_by = None;
    for csca in issuers {
        if crypto::verify_signature(
            ds.signature_algorithm(),
            None,
            csca.certificate.tbs_certificate().subject_public_key_info(),
            &tbs_der,
            ds.signature().raw_bytes(),
        )? {
            signed_by = Some(csca);
            break;
        }
    }
    let csca = signed_by.ok_or(ChipError::BadDsSignature)?;
    check_validity(tbs.validity(), at, "DS certificate")?;
    check_validity(
        csca.certificate.tbs_certificate().validity(),
        at,
        "CSCA certificate",
    )?;
    let revoked = csca
        .crls
        .iter()
        .flat_map(|crl| crl.tbs_cert_list.revoked_certificates.iter().flatten())
        .any(|entry| &entry.serial_number == tbs.serial_number());
    if revoked {
        return Err(ChipError::RevokedDs);
    }
    Ok(())
}

/// Passive authentication (ICAO 9303 part 11 §5.1), in the order of that section: parses
/// `sod` (EF.SOD as read, with its `0x77` tag), checks its DS certificate against `trust` at
/// time `at`, then the SOD signature with that DS key, then that every data group in
/// `data_groups` (number → full EF content) hashes to the value the SOD lists. DG1 is
/// mandatory and is parsed as a TD1 MRZ.
pub fn verify_sod(
    sod: &[u8],
    data_groups: &BTreeMap<u8, Vec<u8>>,
    trust: &TrustList,
    at: OffsetDateTime,
) -> Result<PassiveAuthentication, ChipError> {
    let signed = signed_data(sod)?;
    let mut signers = signed.signer_infos.0.iter();
    let signer = match (signers.next(), signers.next()) {
        (Some(signer), None) => signer,
        _ => return Err(ChipError::Malformed("SOD: expected one signer".into())),
    };
    if !signed
        .digest_algorithms
        .iter()
        .any(|alg| alg.oid == signer.digest_alg.oid)
    {
        return Err(ChipError::Malformed(
            "SOD: signer digest algorithm not in digestAlgorithms".into(),
        ));
    }
    let encap = &signed.encap_content_info;
    if encap.econtent_type != LDS_SECURITY_OBJECT_OID {
        return Err(ChipError::Malformed("SOD: not an LDSSecurityObject".into()));
    }
    let econtent = encap
        .econtent
        .as_ref()
        .ok_or_else(|| ChipError::Malformed("SOD: no encapsulated content".into()))?
        .decode_as::<OctetString>()
        .map_err(|e| ChipError::Malformed(format!("SOD eContent: {e}")))?;
    let ds = ds_certificate(&signed, signer)?;
    // ICAO 9303 part 11 §5.1 steps 2 then 3: the inspection system SHALL validate the
    // certification path from a trust anchor to the DS certificate first, and only then use
    // the *verified* DS public key to verify the SOD signature. So a DS that is untrusted,
    // not valid or revoked is reported as such, whatever its SOD signature.
    verify_ds(ds, trust, at)?;
    verify_signer(signer, ds, encap.econtent_type, econtent.as_bytes())?;

    let lds = crypto::decode::<LdsSecurityObject>(econtent.as_bytes(), "LDSSecurityObject")?;
    let hash = HashAlgorithm::from_oid(&lds.hash_algorithm.oid)?;
    if !data_groups.contains_key(&1) {
        return Err(ChipError::MissingDataGroup(1));
    }
    for (&number, content) in data_groups {
        let listed = lds
            .data_group_hash_values
            .iter()
            .find(|h| h.data_group_number == number)
            .ok_or(ChipError::UnlistedDataGroup(number))?;
        if hash.digest(content) != listed.data_group_hash_value.as_bytes() {
            return Err(ChipError::DataGroupHashMismatch(number));
        }
    }
    let mrz = parse_dg1(&data_groups[&1])?;
    let tbs = ds.tbs_certificate();
    Ok(PassiveAuthentication {
        verified_data_groups: data_groups.keys().copied().collect(),
        hash_algorithm: hash,
        ds_subject: tbs.subject().to_string(),
        ds_serial: tbs.serial_number().as_bytes().to_vec(),
        mrz,
    })
}
