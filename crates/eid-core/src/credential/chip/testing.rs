//! A test PKI for passive authentication, built at run time (feature `chip-testing`, for
//! tests only): a CSCA, Document Signers, CRLs, DG1 of a Vietnamese CCCD and SODs, made
//! with the `x509-cert` and `cms` builders and deterministic P-256 keys. Never a trust
//! anchor: the keys are derived from a one-byte seed.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::ContentInfo;
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfo};
use der::asn1::{Any, AnyRef, OctetString, Uint};
use der::{Encode, Tag, TagNumber};
use p256::ecdsa::{DerSignature, SigningKey};
use time::OffsetDateTime;
use time::macros::datetime;
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder, CrlBuilder};
use x509_cert::crl::{CertificateList, RevokedCert};
use x509_cert::ext::pkix::{BasicConstraints, CrlNumber, KeyUsage, KeyUsages};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{
    AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef,
};
use x509_cert::time::{Time, Validity};

use super::{DataGroupHash, LDS_SECURITY_OBJECT_OID, LdsSecurityObject, LdsVersion, TrustList};

/// SHA-256 (NIST CSOR).
pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// The test CSCA's name.
pub const CSCA_NAME: &str = "CN=CSCA Test,O=Test,C=VN";
/// The test Document Signers' name.
pub const DS_NAME: &str = "CN=Document Signer Test,O=Test,C=VN";

/// A builder profile with explicit issuer and subject; a CA gets basicConstraints cA and
/// keyUsage keyCertSign + cRLSign, a DS keyUsage digitalSignature (ICAO 9303 part 12 §7.1.1).
struct Profile {
    issuer: Name,
    subject: Name,
    ca: bool,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let subject = tbs.subject();
        Ok(if self.ca {
            vec![
                BasicConstraints {
                    ca: true,
                    path_len_constraint: Some(0),
                }
                .to_extension(subject, &[])?,
                KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign).to_extension(subject, &[])?,
            ]
        } else {
            vec![KeyUsage(KeyUsages::DigitalSignature.into()).to_extension(subject, &[])?]
        })
    }
}

/// A P-256 key derived from `seed` (the same seed, the same key).
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).expect("a valid scalar")
}

/// `at` as an X.509 time.
pub fn time(at: OffsetDateTime) -> Time {
    let secs = u64::try_from(at.unix_timestamp()).expect("after 1970");
    Time::try_from(std::time::UNIX_EPOCH + Duration::from_secs(secs)).expect("a valid time")
}

/// A certificate of `subject_key` named `subject`, issued by `issuer` with `issuer_key`; a
/// CA certificate when self-issued.
pub fn certificate(
    issuer: &str,
    subject: &str,
    serial: u32,
    validity: (OffsetDateTime, OffsetDateTime),
    subject_key: &SigningKey,
    issuer_key: &SigningKey,
) -> Certificate {
    let profile = Profile {
        issuer: Name::from_str(issuer).expect("an issuer name"),
        subject: Name::from_str(subject).expect("a subject name"),
        ca: issuer == subject,
    };
    let validity = Validity::new(time(validity.0), time(validity.1));
    let spki = SubjectPublicKeyInfoOwned::from_key(subject_key.verifying_key()).expect("a key");
    CertificateBuilder::new(profile, SerialNumber::from(serial), validity, spki)
        .and_then(|builder| builder.build::<_, DerSignature>(issuer_key))
        .expect("a certificate")
}

/// A CSCA named [`CSCA_NAME`] with the key of `seed`, valid 2020–2040.
pub fn csca(seed: u8) -> (SigningKey, Certificate) {
    let k = key(seed);
    let validity = (
        datetime!(2020-01-01 0:00 UTC),
        datetime!(2040-01-01 0:00 UTC),
    );
    let cert = certificate(CSCA_NAME, CSCA_NAME, 1, validity, &k, &k);
    (k, cert)
}

/// A Document Signer named [`DS_NAME`] issued by `csca_key`.
pub fn ds(
    csca_key: &SigningKey,
    serial: u32,
    validity: (OffsetDateTime, OffsetDateTime),
) -> (SigningKey, Certificate) {
    let k = key(0x42);
    let cert = certificate(CSCA_NAME, DS_NAME, serial, validity, &k, csca_key);
    (k, cert)
}

/// A DS validity around today: 2024–2034.
pub fn good_validity() -> (OffsetDateTime, OffsetDateTime) {
    (
        datetime!(2024-01-01 0:00 UTC),
        datetime!(2034-01-01 0:00 UTC),
    )
}

/// A CRL of `csca_cert` listing `revoked` serial numbers, signed with `signer`.
pub fn crl(csca_cert: &Certificate, signer: &SigningKey, number: u8, revoked: &[u32]) -> Vec<u8> {
    let entries = revoked.iter().map(|&serial| RevokedCert {
        serial_number: SerialNumber::from(serial),
        revocation_date: time(datetime!(2025-06-01 0:00 UTC)),
        crl_entry_extensions: None,
    });
    let mut builder = CrlBuilder::<x509_cert::certificate::Rfc5280>::new_with_this_update(
        csca_cert,
        CrlNumber(Uint::new(&[number]).expect("a CRL number")),
        time(datetime!(2026-01-01 0:00 UTC)),
    )
    .expect("a CRL builder");
    // An empty revokedCertificates is omitted (RFC 5280 §5.1.2.6).
    if !revoked.is_empty() {
        builder = builder.with_certificates(entries);
    }
    let list: CertificateList = builder.build::<_, DerSignature>(signer).expect("a CRL");
    list.to_der().expect("CRL DER")
}

/// ICAO 9303 part 3 §4.9 check digit.
pub fn check(field: &str) -> char {
    let sum: u32 = field
        .bytes()
        .enumerate()
        .map(|(i, c)| {
            let v = match c {
                b'0'..=b'9' => u32::from(c - b'0'),
                b'A'..=b'Z' => u32::from(c - b'A') + 10,
                _ => 0,
            };
            v * [7, 3, 1][i % 3]
        })
        .sum();
    char::from_digit(sum % 10, 10).expect("a digit")
}

/// What DG1 of a test CCCD says.
#[derive(Clone, Debug)]
pub struct CardHolder {
    /// Document number, 9 characters.
    pub document_number: String,
    /// The 12-digit personal ID number (start of the optional data).
    pub personal_id: String,
    /// Date of birth `YYMMDD`.
    pub birth: String,
    /// `M`, `F` or `<`.
    pub sex: char,
    /// Date of expiry `YYMMDD`.
    pub expiry: String,
    /// Nationality (ICAO alpha-3).
    pub nationality: String,
    /// Line 3: `PRIMARY<<SECONDARY<NAMES`.
    pub names: String,
}

impl Default for CardHolder {
    fn default() -> Self {
        Self {
            document_number: "090001234".into(),
            personal_id: "079090001234".into(),
            birth: "900315".into(),
            sex: 'M',
            expiry: "300315".into(),
            nationality: "VNM".into(),
            names: "NGUYEN<<VAN<AN".into(),
        }
    }
}

impl CardHolder {
    /// DG1 (`61 { 5F1F MRZ }`) with this TD1 MRZ and correct check digits.
    pub fn dg1(&self) -> Vec<u8> {
        let doc = &self.document_number;
        let optional = format!("{:<<15}", self.personal_id);
        let line1 = format!("IDVNM{doc}{}{optional}", check(doc));
        let (dob, expiry) = (&self.birth, &self.expiry);
        let mut line2 = format!(
            "{dob}{}{}{expiry}{}{}<<<<<<<<<<<",
            check(dob),
            self.sex,
            check(expiry),
            self.nationality
        );
        let composite = format!(
            "{}{}{}{}",
            &line1[5..30],
            &line2[0..7],
            &line2[8..15],
            &line2[18..29]
        );
        line2.push(check(&composite));
        let line3 = format!("{:<<30}", self.names);
        let mrz = format!("{line1}{line2}{line3}");
        assert_eq!(mrz.len(), 90, "a TD1 MRZ");
        let mut dg1 = vec![0x61, 0x5d, 0x5f, 0x1f, 0x5a];
        dg1.extend_from_slice(mrz.as_bytes());
        dg1
    }
}

/// DG1 of the default [`CardHolder`].
pub fn dg1() -> Vec<u8> {
    CardHolder::default().dg1()
}

/// A small DG2 (`75 …`): the tests never look inside the portrait.
pub fn dg2() -> Vec<u8> {
    vec![0x75, 0x03, 1, 2, 3]
}

/// DG1 of the default holder and a small DG2.
pub fn data_groups() -> BTreeMap<u8, Vec<u8>> {
    BTreeMap::from([(1, dg1()), (2, dg2())])
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// The DER `LDSSecurityObject` listing the SHA-256 of each data group.
pub fn lds(groups: &BTreeMap<u8, Vec<u8>>) -> Vec<u8> {
    LdsSecurityObject {
        version: LdsVersion::V0,
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: SHA256,
            parameters: None,
        },
        data_group_hash_values: groups
            .iter()
            .map(|(&n, content)| DataGroupHash {
                data_group_number: n,
                data_group_hash_value: OctetString::new(sha256(content)).expect("a hash"),
            })
            .collect(),
        lds_version_info: None,
    }
    .to_der()
    .expect("LDS DER")
}

/// Wraps a ContentInfo in the EF.SOD application tag 0x77.
pub fn wrap(content_info: &ContentInfo) -> Vec<u8> {
    let der = content_info.to_der().expect("ContentInfo DER");
    let tag = Tag::Application {
        constructed: true,
        number: TagNumber(23),
    };
    AnyRef::new(tag, &der)
        .and_then(|any| any.to_der())
        .expect("EF.SOD")
}

/// An EF.SOD over `lds_der` signed by `ds_key` with `ds_cert` included; `tamper` may
/// change the signer info after signing.
pub fn sod_with(
    lds_der: Vec<u8>,
    ds_key: &SigningKey,
    ds_cert: &Certificate,
    tamper: impl FnOnce(&mut SignerInfo),
) -> Vec<u8> {
    let eci = EncapsulatedContentInfo {
        econtent_type: LDS_SECURITY_OBJECT_OID,
        econtent: Some(Any::new(Tag::OctetString, lds_der).expect("eContent")),
    };
    let digest = AlgorithmIdentifierOwned {
        oid: SHA256,
        parameters: None,
    };
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: ds_cert.tbs_certificate().issuer().clone(),
        serial_number: ds_cert.tbs_certificate().serial_number().clone(),
    });
    let signer = SignerInfoBuilder::new(sid, digest.clone(), &eci, None).expect("a signer");
    let content_info = SignedDataBuilder::new(&eci)
        .add_digest_algorithm(digest)
        .and_then(|b| b.add_certificate(CertificateChoices::Certificate(ds_cert.clone())))
        .and_then(|b| {
            b.add_signer_info_cb::<_, DerSignature, _>(signer, ds_key, |info| {
                tamper(info);
                Ok(())
            })
        })
        .and_then(|b| b.build())
        .expect("a SignedData");
    wrap(&content_info)
}

/// An EF.SOD over `groups` signed by `ds_key`.
pub fn sod_for(
    groups: &BTreeMap<u8, Vec<u8>>,
    ds_key: &SigningKey,
    ds_cert: &Certificate,
) -> Vec<u8> {
    sod_with(lds(groups), ds_key, ds_cert, |_| {})
}

/// An EF.SOD over [`data_groups`] signed by `ds_key`.
pub fn sod(ds_key: &SigningKey, ds_cert: &Certificate) -> Vec<u8> {
    sod_for(&data_groups(), ds_key, ds_cert)
}

/// A trust list of `csca_cert` alone.
pub fn trust(csca_cert: &Certificate) -> TrustList {
    let mut trust = TrustList::new();
    trust
        .add_csca_der(&csca_cert.to_der().expect("certificate DER"))
        .expect("a CSCA");
    trust
}
