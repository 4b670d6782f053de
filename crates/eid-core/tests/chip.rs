//! Passive authentication (ICAO 9303 part 11 §5.1) against a test PKI built at run time: a CSCA,
//! Document Signers and SODs made with the `x509-cert` and `cms` builders and P-256 keys.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::ContentInfo;
use cms::signed_data::{EncapsulatedContentInfo, SignedData, SignerIdentifier};
use der::asn1::{Any, AnyRef, OctetString, Uint};
use der::{Decode, Encode, Tag, TagNumber};
use eid_core::credential::chip::{
    ChipError, DataGroupHash, HashAlgorithm, LDS_SECURITY_OBJECT_OID, LdsSecurityObject,
    LdsVersion, Sex, TrustList, verify_sod,
};
use p256::ecdsa::{DerSignature, SigningKey};
use time::OffsetDateTime;
use time::macros::datetime;
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder, CrlBuilder};
use x509_cert::crl::RevokedCert;
use x509_cert::ext::pkix::{BasicConstraints, CrlNumber, KeyUsage, KeyUsages};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{
    AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef,
};
use x509_cert::time::{Time, Validity};

const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// The moment of verification in the tests.
const AT: OffsetDateTime = datetime!(2026-11-01 00:00 UTC);

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

fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn time(at: OffsetDateTime) -> Time {
    let secs = u64::try_from(at.unix_timestamp()).unwrap();
    Time::try_from(std::time::UNIX_EPOCH + Duration::from_secs(secs)).unwrap()
}

fn certificate(
    issuer: &str,
    subject: &str,
    serial: u32,
    validity: (OffsetDateTime, OffsetDateTime),
    subject_key: &SigningKey,
    issuer_key: &SigningKey,
) -> Certificate {
    let profile = Profile {
        issuer: Name::from_str(issuer).unwrap(),
        subject: Name::from_str(subject).unwrap(),
        ca: issuer == subject,
    };
    let validity = Validity::new(time(validity.0), time(validity.1));
    let spki = SubjectPublicKeyInfoOwned::from_key(subject_key.verifying_key()).unwrap();
    CertificateBuilder::new(profile, SerialNumber::from(serial), validity, spki)
        .unwrap()
        .build::<_, DerSignature>(issuer_key)
        .unwrap()
}

const CSCA_NAME: &str = "CN=CSCA Test,O=Test,C=VN";
const DS_NAME: &str = "CN=Document Signer Test,O=Test,C=VN";

fn csca(seed: u8) -> (SigningKey, Certificate) {
    let k = key(seed);
    let validity = (
        datetime!(2020-01-01 0:00 UTC),
        datetime!(2040-01-01 0:00 UTC),
    );
    let cert = certificate(CSCA_NAME, CSCA_NAME, 1, validity, &k, &k);
    (k, cert)
}

fn ds(
    csca_key: &SigningKey,
    serial: u32,
    validity: (OffsetDateTime, OffsetDateTime),
) -> (SigningKey, Certificate) {
    let k = key(0x42);
    let cert = certificate(CSCA_NAME, DS_NAME, serial, validity, &k, csca_key);
    (k, cert)
}

fn good_validity() -> (OffsetDateTime, OffsetDateTime) {
    (
        datetime!(2024-01-01 0:00 UTC),
        datetime!(2034-01-01 0:00 UTC),
    )
}

/// ICAO 9303 part 3 §4.9 check digit.
fn check(field: &str) -> char {
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
    char::from_digit(sum % 10, 10).unwrap()
}

/// DG1 of a Vietnamese CCCD whose optional data holds the 12-digit personal ID.
fn dg1() -> Vec<u8> {
    let doc = "090001234";
    let optional = "079090001234<<<";
    let line1 = format!("IDVNM{doc}{}{optional}", check(doc));
    let (dob, expiry) = ("900315", "300315");
    let mut line2 = format!(
        "{dob}{}M{expiry}{}VNM<<<<<<<<<<<",
        check(dob),
        check(expiry)
    );
    let composite = format!(
        "{}{}{}{}",
        &line1[5..30],
        &line2[0..7],
        &line2[8..15],
        &line2[18..29]
    );
    line2.push(check(&composite));
    let line3 = format!("{:<<30}", "NGUYEN<<VAN<AN");
    let mrz = format!("{line1}{line2}{line3}");
    assert_eq!(mrz.len(), 90);
    let mut dg1 = vec![0x61, 0x5d, 0x5f, 0x1f, 0x5a];
    dg1.extend_from_slice(mrz.as_bytes());
    dg1
}

fn data_groups() -> BTreeMap<u8, Vec<u8>> {
    BTreeMap::from([(1, dg1()), (2, vec![0x75, 0x03, 1, 2, 3])])
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

fn lds(groups: &BTreeMap<u8, Vec<u8>>) -> Vec<u8> {
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
                data_group_hash_value: OctetString::new(sha256(content)).unwrap(),
            })
            .collect(),
        lds_version_info: None,
    }
    .to_der()
    .unwrap()
}

/// Wraps a ContentInfo in the EF.SOD application tag 0x77.
fn wrap(content_info: &ContentInfo) -> Vec<u8> {
    let der = content_info.to_der().unwrap();
    let tag = Tag::Application {
        constructed: true,
        number: TagNumber(23),
    };
    AnyRef::new(tag, &der).unwrap().to_der().unwrap()
}

fn sod_with(
    lds_der: Vec<u8>,
    ds_key: &SigningKey,
    ds_cert: &Certificate,
    tamper: impl FnOnce(&mut cms::signed_data::SignerInfo),
) -> Vec<u8> {
    let eci = EncapsulatedContentInfo {
        econtent_type: LDS_SECURITY_OBJECT_OID,
        econtent: Some(Any::new(Tag::OctetString, lds_der).unwrap()),
    };
    let digest = AlgorithmIdentifierOwned {
        oid: SHA256,
        parameters: None,
    };
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: ds_cert.tbs_certificate().issuer().clone(),
        serial_number: ds_cert.tbs_certificate().serial_number().clone(),
    });
    let signer = SignerInfoBuilder::new(sid, digest.clone(), &eci, None).unwrap();
    let content_info = SignedDataBuilder::new(&eci)
        .add_digest_algorithm(digest)
        .unwrap()
        .add_certificate(CertificateChoices::Certificate(ds_cert.clone()))
        .unwrap()
        .add_signer_info_cb::<_, DerSignature, _>(signer, ds_key, |info| {
            tamper(info);
            Ok(())
        })
        .unwrap()
        .build()
        .unwrap();
    wrap(&content_info)
}

fn sod(ds_key: &SigningKey, ds_cert: &Certificate) -> Vec<u8> {
    sod_with(lds(&data_groups()), ds_key, ds_cert, |_| {})
}

fn trust(csca_cert: &Certificate) -> TrustList {
    let mut trust = TrustList::new();
    trust.add_csca_der(&csca_cert.to_der().unwrap()).unwrap();
    trust
}

#[test]
fn good_chip_verifies() {
    let (csca_key, csca_cert) = csca(1);
    let (ds_key, ds_cert) = ds(&csca_key, 7, good_validity());
    let result = verify_sod(
        &sod(&ds_key, &ds_cert),
        &data_groups(),
        &trust(&csca_cert),
        AT,
    )
    .expect("passive authentication");
    assert_eq!(result.verified_data_groups, vec![1, 2]);
    assert_eq!(result.hash_algorithm, HashAlgorithm::Sha256);
    assert_eq!(result.ds_serial, vec![7]);
    assert!(result.ds_subject.contains("CN=Document Signer Test"));
    let mrz = result.mrz;
    assert_eq!(mrz.document_code, "ID");
    assert_eq!(mrz.issuing_state, "VNM");
    assert_eq!(mrz.document_number, "090001234");
    assert_eq!(mrz.personal_id.as_deref(), Some("079090001234"));
    assert_eq!(mrz.date_of_birth, "900315");
    assert_eq!(mrz.sex, Sex::Male);
    assert_eq!(mrz.date_of_expiry, "300315");
    assert_eq!(mrz.nationality, "VNM");
    assert_eq!(mrz.primary_identifier, "NGUYEN");
    assert_eq!(mrz.secondary_identifier, "VAN AN");
}

#[test]
fn trust_list_accepts_pem() {
    let (csca_key, csca_cert) = csca(1);
    let (ds_key, ds_cert) = ds(&csca_key, 7, good_validity());
    let pem = der::EncodePem::to_pem(&csca_cert, der::pem::LineEnding::LF).unwrap();
    let mut trust = TrustList::new();
    trust.add_csca_pem(pem.as_bytes()).unwrap();
    assert!(verify_sod(&sod(&ds_key, &ds_cert), &data_groups(), &trust, AT).is_ok());
}

#[test]
fn trust_list_refuses_a_non_ca_certificate() {
    let (csca_key, _) = csca(1);
    let (_, ds_cert) = ds(&csca_key, 7, good_validity());
    assert!(matches!(
        TrustList::new().add_csca_der(&ds_cert.to_der().unwrap()),
        Err(ChipError::Malformed(_))
    ));
    assert!(matches!(
        TrustList::new().add_csca_der(b"not a certificate"),
        Err(ChipError::Malformed(_))
    ));
}

#[test]
fn wrong_data_group_hash() {
    let (csca_key, csca_cert) = csca(1);
    let (ds_key, ds_cert) = ds(&csca_key, 7, good_validity());
    let mut groups = data_groups();
    groups.get_mut(&2).unwrap()[2] ^= 1;
    assert_eq!(
        verify_sod(&sod(&ds_key, &ds_cert), &groups, &trust(&csca_cert), AT),
        Err(ChipError::DataGroupHashMismatch(2))
    );
}

#[test]
fn missing_and_unlisted_data_groups() {
    let (csca_key, csca_cert) = csca(1);
    let (ds_key, ds_cert) = ds(&csca_key, 7, good_validity());
    let sod = sod(&ds_key, &ds_cert);
    let trust = trust(&csca_cert);
    let mut without_dg1 = data_groups();
    without_dg1.remove(&1);
    assert_eq!(
        verify_sod(&sod, &without_dg1, &trust, AT),
        Err(ChipError::MissingDataGroup(1))
    );
    let mut extra = data_groups();
    extra.insert(14, vec![0x6e, 0x00]);
    assert_eq!(
        verify_sod(&sod, &extra, &trust, AT),
        Err(ChipError::UnlistedDataGroup(14))
    );
}

#[test]
fn tampered_signature_value() {
    let (csca_key, csca_cert) = csca(1);
    let (ds_key, ds_cert) = ds(&csca_key, 7, good_validity());
    let sod = sod_with(lds(&data_groups()), &ds_key, &ds_cert, |info| {
        let mut bytes = info.signature.as_bytes().to_vec();
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        info.signature = OctetString::new(bytes).unwrap();
    });
    assert!(matches!(
        verify_sod(&sod, &data_groups(), &trust(&csca_cert), AT),
        Err(ChipError::BadSodSignature(_))
    ));
}

#[test]
fn tampered_signed_attributes() {
    let (csca_key, csca_cert) = csca(1);
    let (ds_key, ds_cert) = ds(&csca_key, 7, good_validity());
    let sod = sod_with(lds(&data_groups()), &ds_key, &ds_cert, |info| {
        let attrs = info.signed_attrs.as_mut().unwrap();
        let signing_time = x509_cert::attr::Attribute {
            oid: ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5"),
            values: der::asn1::SetOfVec::try_from(vec![Any::encode_from(&time(AT)).unwrap()])
                .unwrap(),
        };
        attrs.insert(signing_time).unwrap();
    });
    assert_eq!(
        verify_sod(&sod, &data_groups(), &trust(&csca_cert), AT),
        Err(ChipError::BadSodSignature("signature".into()))
    );
}

#[test]
fn tampered_content() {
    let (csca_key, csca_cert) = csca(1);
    let (ds_key, ds_cert) = ds(&csca_key, 7, good_validity());
    let good = sod(&ds_key, &ds_cert);
    // Swap the signed LDSSecurityObject for one listing the hash of a forged DG2.
    let mut forged_groups = data_groups();
    forged_groups.insert(2, vec![0x75, 0x03, 9, 9, 9]);
    let outer = AnyRef::from_der(&good).unwrap();
    let info = ContentInfo::from_der(outer.value()).unwrap();
    let mut signed: SignedData = info.content.decode_as().unwrap();
    signed.encap_content_info.econtent =
        Some(Any::new(Tag::OctetString, lds(&forged_groups)).unwrap());
    let forged = wrap(&ContentInfo {
        content_type: info.content_type,
        content: Any::encode_from(&signed).unwrap(),
    });
    assert_eq!(
        verify_sod(&forged, &forged_groups, &trust(&csca_cert), AT),
        Err(ChipError::BadSodSignature("message-digest mismatch".into()))
    );
}

#[test]
fn ds_from_untrusted_csca() {
    let (_, trusted_cert) = csca(1);
    // Same CSCA name, other key: the DS chains to a look-alike CSCA.
    let (rogue_key, _) = csca(2);
    let (ds_key, ds_cert) = ds(&rogue_key, 7, good_validity());
    assert_eq!(
        verify_sod(
            &sod(&ds_key, &ds_cert),
            &data_groups(),
            &trust(&trusted_cert),
            AT
        ),
        Err(ChipError::BadDsSignature)
    );
    // A DS issued by a CSCA the trust list does not know at all.
    let ds_cert = certificate(
        "CN=Rogue CSCA,C=XX",
        DS_NAME,
        8,
        good_validity(),
        &ds_key,
        &rogue_key,
    );
    assert_eq!(
        verify_sod(
            &sod(&ds_key, &ds_cert),
            &data_groups(),
            &trust(&trusted_cert),
            AT
        ),
        Err(ChipError::UntrustedCsca)
    );
    assert_eq!(
        verify_sod(
            &sod(&ds_key, &ds_cert),
            &data_groups(),
            &TrustList::new(),
            AT
        ),
        Err(ChipError::UntrustedCsca)
    );
}

#[test]
fn expired_and_not_yet_valid_ds() {
    let (csca_key, csca_cert) = csca(1);
    let (ds_key, expired) = ds(
        &csca_key,
        7,
        (
            datetime!(2020-01-01 0:00 UTC),
            datetime!(2022-01-01 0:00 UTC),
        ),
    );
    assert_eq!(
        verify_sod(
            &sod(&ds_key, &expired),
            &data_groups(),
            &trust(&csca_cert),
            AT
        ),
        Err(ChipError::CertificateNotValid(
            "DS certificate expired".into()
        ))
    );
    let (ds_key, future) = ds(
        &csca_key,
        7,
        (
            datetime!(2030-01-01 0:00 UTC),
            datetime!(2035-01-01 0:00 UTC),
        ),
    );
    assert_eq!(
        verify_sod(
            &sod(&ds_key, &future),
            &data_groups(),
            &trust(&csca_cert),
            AT
        ),
        Err(ChipError::CertificateNotValid(
            "DS certificate not yet valid".into()
        ))
    );
}

#[test]
fn revoked_ds() {
    let (csca_key, csca_cert) = csca(1);
    let (ds_key, ds_cert) = ds(&csca_key, 7, good_validity());
    let revoked = RevokedCert {
        serial_number: ds_cert.tbs_certificate().serial_number().clone(),
        revocation_date: time(datetime!(2025-06-01 0:00 UTC)),
        crl_entry_extensions: None,
    };
    let crl = CrlBuilder::new_with_this_update(
        &csca_cert,
        CrlNumber(Uint::new(&[1]).unwrap()),
        time(datetime!(2026-01-01 0:00 UTC)),
    )
    .unwrap()
    .with_certificates(std::iter::once(revoked))
    .build::<_, DerSignature>(&csca_key)
    .unwrap();
    let mut trust = trust(&csca_cert);
    trust.add_crl_der(&crl.to_der().unwrap()).unwrap();
    assert_eq!(
        verify_sod(&sod(&ds_key, &ds_cert), &data_groups(), &trust, AT),
        Err(ChipError::RevokedDs)
    );
    // A DS the CRL does not list still verifies.
    let (ds_key, other) = ds(&csca_key, 8, good_validity());
    assert!(verify_sod(&sod(&ds_key, &other), &data_groups(), &trust, AT).is_ok());
    // A CRL signed by someone else is refused.
    let (rogue_key, _) = csca(2);
    let forged = CrlBuilder::<x509_cert::certificate::Rfc5280>::new_with_this_update(
        &csca_cert,
        CrlNumber(Uint::new(&[2]).unwrap()),
        time(datetime!(2026-01-01 0:00 UTC)),
    )
    .unwrap()
    .build::<_, DerSignature>(&rogue_key)
    .unwrap();
    assert_eq!(
        TrustList::new().add_crl_der(&forged.to_der().unwrap()),
        Err(ChipError::UntrustedCsca)
    );
    assert_eq!(
        trust.add_crl_der(&forged.to_der().unwrap()),
        Err(ChipError::UntrustedCsca)
    );
}

#[test]
fn malformed_input_is_an_error_never_a_panic() {
    let (csca_key, csca_cert) = csca(1);
    let (ds_key, ds_cert) = ds(&csca_key, 7, good_validity());
    let good = sod(&ds_key, &ds_cert);
    let trust = trust(&csca_cert);
    let groups = data_groups();
    let malformed = |bytes: &[u8]| {
        matches!(
            verify_sod(bytes, &groups, &trust, AT),
            Err(ChipError::Malformed(_))
        )
    };
    assert!(malformed(&[]));
    assert!(malformed(&good[1..]));
    let mut not_77 = good.clone();
    not_77[0] = 0x30;
    assert!(malformed(&not_77));
    for len in 0..good.len() {
        assert!(malformed(&good[..len]), "truncated at {len}");
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(malformed(&trailing));
    // Flipping any byte is refused, never a panic.
    for i in 0..good.len() {
        let mut flipped = good.clone();
        flipped[i] ^= 0xff;
        assert!(
            verify_sod(&flipped, &groups, &trust, AT).is_err(),
            "flipping byte {i} still verified"
        );
    }
    // A DG1 that is not a TD1 MRZ, correctly hashed in a correctly signed SOD.
    let mut bad_dg1 = data_groups();
    bad_dg1.insert(1, vec![0x61, 0x03, 0x5f, 0x1f, 0x00]);
    let sod = sod_with(lds(&bad_dg1), &ds_key, &ds_cert, |_| {});
    assert!(matches!(
        verify_sod(&sod, &bad_dg1, &trust, AT),
        Err(ChipError::Malformed(_))
    ));
}
