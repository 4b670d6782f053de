//! IETF Token Status List (draft-ietf-oauth-status-list; section numbers as of draft 17):
//! the statuses of many credentials in one compressed bit array, published as a signed
//! Status List Token.
//!
//! * [`StatusList`] is the array (section 4.1): `bits` bits per credential (1, 2, 4 or
//!   8), index 0 in the least significant bits of byte 0, ZLIB (RFC 1950, DEFLATE)
//!   compressed; in JSON `{bits, lst}` with `lst` the base64url of the compressed bytes
//!   (section 4.2).
//! * [`sign_status_list_token`] issues the Status List Token as a JWT (section 5.1):
//!   `typ` `statuslist+jwt`, `sub` the list's URI, `iat`, `exp`, `ttl`, `status_list`.
//! * [`verify_status_list_token`] checks such a token (section 8.3, Validation Rules):
//!   signature by the issuer's key, `typ`, `sub` equal to the URI the credential
//!   referenced, times.
//! * [`StatusReference`] is the `status.status_list {idx, uri}` claim of a referenced
//!   credential (section 6.2, Referenced Token in JOSE); [`TokenStatus`] reads a value
//!   (section 7.1).

use std::io::{Read as _, Write as _};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use super::jws;
use crate::token::{KeyRingError, MAX_LEEWAY, SigningKey, VerificationKeys, VerifyError};

/// The `typ` of a Status List Token in JWT form (section 5.1).
pub const STATUS_LIST_JWT_TYP: &str = "statuslist+jwt";
/// The largest decompressed list accepted when decoding: 16 MiB (64 million 2-bit
/// statuses), so a small compressed `lst` cannot expand without bound.
pub const MAX_LIST_BYTES: usize = 16 * 1024 * 1024;

/// Why a status list could not be built, decoded or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusListError {
    /// `bits` is not 1, 2, 4 or 8 (section 4.2).
    #[error("status list bits must be 1, 2, 4 or 8")]
    InvalidBits,
    /// The index is beyond the end of the list.
    #[error("status index out of range")]
    IndexOutOfRange,
    /// The value does not fit in `bits` bits.
    #[error("status value does not fit the list's bits")]
    ValueTooLarge,
    /// `lst` is not base64url of a ZLIB stream, or decompresses beyond [`MAX_LIST_BYTES`].
    #[error("status list encoding is malformed")]
    Malformed,
    /// The Status List Token failed verification.
    #[error("status list token: {0}")]
    Token(VerifyError),
    /// The token's `sub` is not the URI the credential referenced (section 8.3 step 4a).
    #[error("status list token is for another URI")]
    WrongUri,
    /// The list could not be compressed or the token signed.
    #[error("status list token could not be signed: {0}")]
    Signing(String),
}

impl From<KeyRingError> for StatusListError {
    fn from(e: KeyRingError) -> Self {
        StatusListError::Signing(e.to_string())
    }
}

/// A status value (section 7.1). `0x03` and `0x0C`–`0x0F` are application-specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// `0x00` VALID: the credential is valid, correct or legal.
    Valid,
    /// `0x01` INVALID: revoked, annulled, taken back, recalled or cancelled; irreversible.
    Invalid,
    /// `0x02` SUSPENDED: temporarily invalid; may become valid again.
    Suspended,
    /// Any other value, which this service does not assign.
    Other(u8),
}

impl TokenStatus {
    /// The value stored in the list.
    pub fn value(self) -> u8 {
        match self {
            TokenStatus::Valid => 0,
            TokenStatus::Invalid => 1,
            TokenStatus::Suspended => 2,
            TokenStatus::Other(v) => v,
        }
    }

    /// The status a stored value means.
    pub fn from_value(value: u8) -> Self {
        match value {
            0 => TokenStatus::Valid,
            1 => TokenStatus::Invalid,
            2 => TokenStatus::Suspended,
            v => TokenStatus::Other(v),
        }
    }
}

/// A credential's reference into a status list: the `status_list` member of its
/// `status` claim (section 6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReference {
    /// The credential's index in the list.
    pub idx: usize,
    /// Where the Status List Token is published; also its `sub`.
    pub uri: String,
}

/// A list of statuses of `bits` bits each (section 4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: u8,
    bytes: Vec<u8>,
}

impl StatusList {
    /// A list of `len` statuses, all VALID (rounded up to whole bytes).
    pub fn new(bits: u8, len: usize) -> Result<Self, StatusListError> {
        check_bits(bits)?;
        let bytes = len
            .checked_mul(usize::from(bits))
            .map(|b| b.div_ceil(8))
            .filter(|&n| n <= MAX_LIST_BYTES)
            .ok_or(StatusListError::IndexOutOfRange)?;
        Ok(Self {
            bits,
            bytes: vec![0; bytes],
        })
    }

    /// Bits per status.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// How many statuses the list holds.
    pub fn len(&self) -> usize {
        self.bytes.len() * 8 / usize::from(self.bits)
    }

    /// Whether the list holds no status.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The uncompressed byte array.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The raw value at `idx`, or `None` past the end.
    pub fn value(&self, idx: usize) -> Option<u8> {
        let (byte, shift) = self.position(idx)?;
        Some((self.bytes[byte] >> shift) & self.mask())
    }

    /// The status at `idx`, or `None` past the end.
    pub fn get(&self, idx: usize) -> Option<TokenStatus> {
        self.value(idx).map(TokenStatus::from_value)
    }

    /// Sets the status at `idx`.
    pub fn set(&mut self, idx: usize, status: TokenStatus) -> Result<(), StatusListError> {
        let value = status.value();
        if value > self.mask() {
            return Err(StatusListError::ValueTooLarge);
        }
        let (byte, shift) = self.position(idx).ok_or(StatusListError::IndexOutOfRange)?;
        let cleared = self.bytes[byte] & !(self.mask() << shift);
        self.bytes[byte] = cleared | (value << shift);
        Ok(())
    }

    /// `lst`: base64url (unpadded) of the ZLIB-compressed bytes (sections 4.1 and 4.2),
    /// at the highest compression level.
    pub fn encode_lst(&self) -> Result<String, StatusListError> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
        encoder
            .write_all(&self.bytes)
            .map_err(|e| StatusListError::Signing(e.to_string()))?;
        let compressed = encoder
            .finish()
            .map_err(|e| StatusListError::Signing(e.to_string()))?;
        Ok(Base64UrlUnpadded::encode_string(&compressed))
    }

    /// Decodes a `{bits, lst}` pair, refusing lists over [`MAX_LIST_BYTES`].
    pub fn decode(bits: u8, lst: &str) -> Result<Self, StatusListError> {
        check_bits(bits)?;
        let compressed =
            Base64UrlUnpadded::decode_vec(lst).map_err(|_| StatusListError::Malformed)?;
        let mut bytes = Vec::new();
        let limit = u64::try_from(MAX_LIST_BYTES).map_err(|_| StatusListError::Malformed)?;
        ZlibDecoder::new(compressed.as_slice())
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|_| StatusListError::Malformed)?;
        if bytes.len() > MAX_LIST_BYTES {
            return Err(StatusListError::Malformed);
        }
        Ok(Self { bits, bytes })
    }

    /// The JSON `status_list` object: `{"bits": …, "lst": …}`.
    pub fn to_json(&self) -> Result<Value, StatusListError> {
        Ok(json!({ "bits": self.bits, "lst": self.encode_lst()? }))
    }

    fn mask(&self) -> u8 {
        u8::MAX >> (8 - self.bits)
    }

    fn position(&self, idx: usize) -> Option<(usize, u32)> {
        let bit = idx.checked_mul(usize::from(self.bits))?;
        let byte = bit / 8;
        (byte < self.bytes.len()).then_some((byte, u32::try_from(bit % 8).ok()?))
    }
}

fn check_bits(bits: u8) -> Result<(), StatusListError> {
    if matches!(bits, 1 | 2 | 4 | 8) {
        Ok(())
    } else {
        Err(StatusListError::InvalidBits)
    }
}

/// Signs `list` as a Status List Token (section 5.1) published at `uri`: `sub` = `uri`,
/// `iat` = `now`, `exp` = `now + lifetime`, and `ttl` (how long a relying party may cache
/// it, section 5.1: a positive number of seconds) when given.
pub fn sign_status_list_token(
    key: &SigningKey,
    list: &StatusList,
    uri: &str,
    now: OffsetDateTime,
    lifetime: Duration,
    ttl: Option<Duration>,
) -> Result<String, StatusListError> {
    let mut claims = Map::new();
    claims.insert("sub".into(), uri.into());
    claims.insert("iat".into(), now.unix_timestamp().into());
    claims.insert("exp".into(), (now + lifetime).unix_timestamp().into());
    if let Some(ttl) = ttl {
        if !ttl.is_positive() {
            return Err(StatusListError::Signing("ttl must be positive".into()));
        }
        claims.insert("ttl".into(), ttl.whole_seconds().into());
    }
    claims.insert("status_list".into(), list.to_json()?);
    Ok(key.sign(STATUS_LIST_JWT_TYP, &claims)?)
}

/// Verifies a Status List Token the caller fetched from `reference.uri` (section 8.3):
/// ES256 signature by a key of `keys` (the credential issuer's), `typ`
/// `statuslist+jwt`, `sub` equal to `reference.uri`, `iat` present and not in the
/// future, `exp` (if present) not passed, with `leeway` of clock skew. Returns the list.
pub fn verify_status_list_token(
    token: &str,
    keys: &VerificationKeys,
    reference: &StatusReference,
    now: OffsetDateTime,
    leeway: Duration,
) -> Result<StatusList, StatusListError> {
    if leeway.is_negative() || leeway > MAX_LEEWAY {
        return Err(StatusListError::Token(VerifyError::InvalidLeeway));
    }
    let header = jws::checked_header(token, STATUS_LIST_JWT_TYP).map_err(StatusListError::Token)?;
    let kid = header
        .kid
        .ok_or(StatusListError::Token(VerifyError::UnknownKey))?;
    let key = keys.es256_key(&kid).map_err(StatusListError::Token)?;
    let claims = jws::verified_claims(token, key).map_err(StatusListError::Token)?;
    if jws::str_claim(&claims, "sub").map_err(StatusListError::Token)? != Some(&reference.uri) {
        return Err(StatusListError::WrongUri);
    }
    if jws::int_claim(&claims, "iat")
        .map_err(StatusListError::Token)?
        .is_none()
    {
        return Err(StatusListError::Token(VerifyError::Malformed));
    }
    jws::check_times(&claims, now.unix_timestamp(), leeway.whole_seconds(), false)
        .map_err(StatusListError::Token)?;
    #[derive(Deserialize)]
    struct Encoded {
        bits: u8,
        lst: String,
    }
    let encoded: Encoded = claims
        .get("status_list")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or(StatusListError::Malformed)?;
    StatusList::decode(encoded.bits, &encoded.lst)
}

/// The status of the credential at `reference.idx` in a verified list; an index past the
/// end of the list is an error (section 8.3 step 6: no statement about the credential's
/// status can then be made, and it should be rejected).
pub fn status_of(
    list: &StatusList,
    reference: &StatusReference,
) -> Result<TokenStatus, StatusListError> {
    list.get(reference.idx)
        .ok_or(StatusListError::IndexOutOfRange)
}
