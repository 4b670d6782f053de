//! Passive authentication (ICAO 9303 part 11 §5.1) against a test PKI built at run time: a CSCA,
//! Document Signers and SODs made with the `x509-cert` and `cms` builders and P-256 keys.

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::asn1::{Any, AnyRef, OctetString};
use der::{Decode, Encode, Tag};
use eid_core::credential::chip::testing::{
    DS_NAME, certificate, crl, csca, data_groups, ds, good_validity, lds, sod, sod_with, time,
    trust, wrap,
};
use eid_core::credential::chip::{ChipError, HashAlgorithm, Sex, TrustList, verify_sod};
use time::OffsetDateTime;
use time::macros::datetime;
use x509_cert::spki::ObjectIdentifier;

/// The moment of verification in the tests.
const AT: OffsetDateTime = datetime!(2026-11-01 00:00 UTC);

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

/// A SOD of the test data groups signed by `ds_cert`'s key, its signature value then altered.
fn badly_signed_sod(ds_key: &p256::ecdsa::SigningKey, ds_cert: &x509_cert::Certificate) -> Vec<u8> {
    sod_with(lds(&data_groups()), ds_key, ds_cert, |info| {
        let mut bytes = info.signature.as_bytes().to_vec();
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        info.signature = OctetString::new(bytes).unwrap();
    })
}

#[test]
fn tampered_signature_value() {
    let (csca_key, csca_cert) = csca(1);
    let (ds_key, ds_cert) = ds(&csca_key, 7, good_validity());
    assert!(matches!(
        verify_sod(
            &badly_signed_sod(&ds_key, &ds_cert),
            &data_groups(),
            &trust(&csca_cert),
            AT
        ),
        Err(ChipError::BadSodSignature(_))
    ));
}

/// ICAO 9303 part 11 §5.1: the DS certificate path is validated (step 2) before the SOD
/// signature (step 3), so a DS that fails its checks is reported for that, not as tampering.
#[test]
fn the_document_signer_is_checked_before_the_sod_signature() {
    let (csca_key, csca_cert) = csca(1);
    let trusted = trust(&csca_cert);
    let groups = data_groups();
    // Signed by a look-alike of the trusted CSCA (same name, other key).
    let (rogue_key, _) = csca(2);
    let (rogue_ds_key, lookalike) = ds(&rogue_key, 7, good_validity());
    let sod = badly_signed_sod(&rogue_ds_key, &lookalike);
    assert_eq!(
        verify_sod(&sod, &groups, &trusted, AT),
        Err(ChipError::BadDsSignature)
    );
    // Issued by a CSCA the trust list does not know at all.
    let untrusted = certificate(
        "CN=Rogue CSCA,C=XX",
        DS_NAME,
        8,
        good_validity(),
        &rogue_ds_key,
        &rogue_key,
    );
    let sod = badly_signed_sod(&rogue_ds_key, &untrusted);
    assert_eq!(
        verify_sod(&sod, &groups, &trusted, AT),
        Err(ChipError::UntrustedCsca)
    );
    // Expired.
    let old = (
        datetime!(2020-01-01 0:00 UTC),
        datetime!(2022-01-01 0:00 UTC),
    );
    let (expired_key, expired) = ds(&csca_key, 8, old);
    let sod = badly_signed_sod(&expired_key, &expired);
    assert_eq!(
        verify_sod(&sod, &groups, &trusted, AT),
        Err(ChipError::CertificateNotValid(
            "DS certificate expired".into()
        ))
    );
    // Revoked.
    let mut with_crl = trust(&csca_cert);
    with_crl
        .add_crl_der(&crl(&csca_cert, &csca_key, 1, &[9]))
        .unwrap();
    let (revoked_key, revoked) = ds(&csca_key, 9, good_validity());
    let sod = badly_signed_sod(&revoked_key, &revoked);
    assert_eq!(
        verify_sod(&sod, &groups, &with_crl, AT),
        Err(ChipError::RevokedDs)
    );
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
    let list = crl(&csca_cert, &csca_key, 1, &[7]);
    let mut trust = trust(&csca_cert);
    trust.add_crl_der(&list).unwrap();
    assert_eq!(
        verify_sod(&sod(&ds_key, &ds_cert), &data_groups(), &trust, AT),
        Err(ChipError::RevokedDs)
    );
    // A DS the CRL does not list still verifies.
    let (ds_key, other) = ds(&csca_key, 8, good_validity());
    assert!(verify_sod(&sod(&ds_key, &other), &data_groups(), &trust, AT).is_ok());
    // A CRL signed by someone else is refused.
    let (rogue_key, _) = csca(2);
    let forged = crl(&csca_cert, &rogue_key, 2, &[]);
    assert_eq!(
        TrustList::new().add_crl_der(&forged),
        Err(ChipError::UntrustedCsca)
    );
    assert_eq!(trust.add_crl_der(&forged), Err(ChipError::UntrustedCsca));
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
