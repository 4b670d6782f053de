//! Token Status List (draft-ietf-oauth-status-list): the bit array, its `lst` encoding
//! against the draft's examples, and the signed Status List Token.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use eid_core::credential::status_list::{
    MAX_LIST_BYTES, STATUS_LIST_JWT_TYP, StatusList, StatusListError, StatusReference, TokenStatus,
    sign_status_list_token, status_of, verify_status_list_token,
};
use eid_core::token::{KeyRing, SigningKey, VerificationKeys, VerifyError};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const URI: &str = "https://eid.example.vn/statuslists/1";
const T0: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);
const LEEWAY: Duration = Duration::seconds(60);

fn reference(idx: usize) -> StatusReference {
    StatusReference {
        idx,
        uri: URI.to_owned(),
    }
}

fn keys(ring: &KeyRing) -> VerificationKeys {
    VerificationKeys::from_jwk_set(&ring.jwks()).unwrap()
}

/// Sections 4.1 and 4.2, the 1-bit example: statuses 1,0,0,1,1,1,0,1, 1,1,0,0,0,1,0,1 are the
/// bytes B9 A3, `lst` `eNrbuRgAAhcBXQ`.
#[test]
fn decodes_the_one_bit_example_of_the_draft() {
    let list = StatusList::decode(1, "eNrbuRgAAhcBXQ").unwrap();
    assert_eq!(list.as_bytes(), &[0xb9, 0xa3]);
    let expected = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
    let values: Vec<u8> = (0..16).map(|i| list.value(i).unwrap()).collect();
    assert_eq!(values, expected);
    assert_eq!(list.value(16), None);

    let mut rebuilt = StatusList::new(1, 16).unwrap();
    for (idx, value) in expected.iter().enumerate() {
        rebuilt.set(idx, TokenStatus::from_value(*value)).unwrap();
    }
    assert_eq!(rebuilt, list);
}

/// Sections 4.1 and 4.2, the 2-bit example: statuses 1,2,0,3, 0,1,0,1, 1,2,3,3 are the bytes
/// C9 44 F9, `lst` `eNo76fITAAPfAgc`.
#[test]
fn decodes_the_two_bit_example_of_the_draft() {
    let list = StatusList::decode(2, "eNo76fITAAPfAgc").unwrap();
    assert_eq!(list.as_bytes(), &[0xc9, 0x44, 0xf9]);
    let expected = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];
    let values: Vec<u8> = (0..12).map(|i| list.value(i).unwrap()).collect();
    assert_eq!(values, expected);
    assert_eq!(list.get(0), Some(TokenStatus::Invalid));
    assert_eq!(list.get(1), Some(TokenStatus::Suspended));
    assert_eq!(list.get(2), Some(TokenStatus::Valid));
    assert_eq!(list.get(3), Some(TokenStatus::Other(3)));

    let mut rebuilt = StatusList::new(2, 12).unwrap();
    for (idx, value) in expected.iter().enumerate() {
        rebuilt.set(idx, TokenStatus::from_value(*value)).unwrap();
    }
    assert_eq!(rebuilt, list);
    // Our encoding decodes back to the same list (the compressed bytes may differ from
    // the draft's: DEFLATE output is not unique).
    assert_eq!(
        StatusList::decode(2, &rebuilt.encode_lst().unwrap()).unwrap(),
        list
    );
}

#[test]
fn set_and_get_keep_neighbours() {
    let mut list = StatusList::new(2, 1000).unwrap();
    assert_eq!(list.len(), 1000);
    list.set(41, TokenStatus::Suspended).unwrap();
    list.set(42, TokenStatus::Invalid).unwrap();
    list.set(41, TokenStatus::Valid).unwrap();
    assert_eq!(list.get(40), Some(TokenStatus::Valid));
    assert_eq!(list.get(41), Some(TokenStatus::Valid));
    assert_eq!(list.get(42), Some(TokenStatus::Invalid));
    assert_eq!(list.get(43), Some(TokenStatus::Valid));
    assert_eq!(list.get(1000), None);
    assert_eq!(
        list.set(1000, TokenStatus::Invalid),
        Err(StatusListError::IndexOutOfRange)
    );
    assert_eq!(
        list.set(0, TokenStatus::Other(4)),
        Err(StatusListError::ValueTooLarge)
    );
}

#[test]
fn refuses_bad_bits_and_bad_encodings() {
    assert_eq!(StatusList::new(3, 8), Err(StatusListError::InvalidBits));
    assert_eq!(
        StatusList::decode(2, "not base64!"),
        Err(StatusListError::Malformed)
    );
    // Valid base64url but not a ZLIB stream.
    assert_eq!(
        StatusList::decode(2, "AAAA"),
        Err(StatusListError::Malformed)
    );
    // A list larger than the decoding limit cannot be made either.
    let huge = StatusList::new(8, MAX_LIST_BYTES + 1);
    assert_eq!(huge, Err(StatusListError::IndexOutOfRange));
}

#[test]
fn decompression_is_bounded() {
    use std::io::Write as _;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![0; MAX_LIST_BYTES + 1]).unwrap();
    let lst = Base64UrlUnpadded::encode_string(&encoder.finish().unwrap());
    assert_eq!(StatusList::decode(1, &lst), Err(StatusListError::Malformed));
}

#[test]
fn status_list_token_roundtrip() {
    let ring = KeyRing::generate().unwrap();
    let mut list = StatusList::new(2, 64).unwrap();
    list.set(7, TokenStatus::Invalid).unwrap();
    list.set(8, TokenStatus::Suspended).unwrap();
    let token = sign_status_list_token(
        ring.active(),
        &list,
        URI,
        T0,
        Duration::hours(1),
        Some(Duration::minutes(10)),
    )
    .unwrap();

    let header: serde_json::Value = serde_json::from_slice(
        &Base64UrlUnpadded::decode_vec(token.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], STATUS_LIST_JWT_TYP);

    let got = verify_status_list_token(&token, &keys(&ring), &reference(7), T0, LEEWAY).unwrap();
    assert_eq!(got, list);
    assert_eq!(status_of(&got, &reference(7)), Ok(TokenStatus::Invalid));
    assert_eq!(status_of(&got, &reference(8)), Ok(TokenStatus::Suspended));
    assert_eq!(status_of(&got, &reference(9)), Ok(TokenStatus::Valid));
    assert_eq!(
        status_of(&got, &reference(64)),
        Err(StatusListError::IndexOutOfRange)
    );
}

#[test]
fn status_list_token_checks() {
    let ring = KeyRing::generate().unwrap();
    let list = StatusList::new(2, 16).unwrap();
    let token =
        sign_status_list_token(ring.active(), &list, URI, T0, Duration::hours(1), None).unwrap();

    // Another URI than the one the credential referenced.
    let elsewhere = StatusReference {
        idx: 0,
        uri: "https://eid.example.vn/statuslists/2".to_owned(),
    };
    assert_eq!(
        verify_status_list_token(&token, &keys(&ring), &elsewhere, T0, LEEWAY),
        Err(StatusListError::WrongUri)
    );
    // Expired.
    assert_eq!(
        verify_status_list_token(
            &token,
            &keys(&ring),
            &reference(0),
            T0 + Duration::hours(2),
            LEEWAY
        ),
        Err(StatusListError::Token(VerifyError::Expired))
    );
    // Signed by a key the issuer does not publish.
    let other = KeyRing::generate().unwrap();
    assert_eq!(
        verify_status_list_token(&token, &keys(&other), &reference(0), T0, LEEWAY),
        Err(StatusListError::Token(VerifyError::UnknownKey))
    );
    // `ttl` must be a positive number of seconds (section 5.1).
    assert!(matches!(
        sign_status_list_token(
            ring.active(),
            &list,
            URI,
            T0,
            Duration::hours(1),
            Some(Duration::ZERO)
        ),
        Err(StatusListError::Signing(_))
    ));
    // A JWT of another type signed by the right key.
    let key: &SigningKey = ring.active();
    let wrong_typ = key
        .sign(
            "JWT",
            &serde_json::json!({ "sub": URI, "iat": T0.unix_timestamp() }),
        )
        .unwrap();
    assert_eq!(
        verify_status_list_token(&wrong_typ, &keys(&ring), &reference(0), T0, LEEWAY),
        Err(StatusListError::Token(VerifyError::WrongType))
    );
}
