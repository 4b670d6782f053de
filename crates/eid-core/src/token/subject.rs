//! The `sub` claim: pairwise per sector by default (OIDC Core 8.1), public on request.
//!
//! A pairwise `sub` is HMAC-SHA256, keyed by a secret salt, over the sector identifier
//! and the local account id, so two services in different sectors see unrelated values
//! for the same citizen and cannot link them, while each service sees a stable value.

use std::fmt;

use aws_lc_rs::hmac;
use base64ct::{Base64UrlUnpadded, Encoding};
use uuid::Uuid;
use zeroize::Zeroizing;

/// Why a subject setting was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// The pairwise salt is shorter than [`PairwiseSalt::MIN_LEN`].
    #[error("the pairwise salt must be at least {} bytes", PairwiseSalt::MIN_LEN)]
    SaltTooShort,
    /// A sector identifier is empty.
    #[error("empty sector identifier")]
    EmptySector,
}

/// The secret key of the pairwise `sub` hash; wiped on drop, never printed.
pub struct PairwiseSalt(Zeroizing<Vec<u8>>);

impl PairwiseSalt {
    /// Minimum salt length in bytes.
    pub const MIN_LEN: usize = 32;

    /// Copies a salt of at least [`Self::MIN_LEN`] bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, SubjectError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(SubjectError::SaltTooShort);
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// The `sub` for `account` as seen by a client with `subject_type`.
    pub fn subject(&self, subject_type: &SubjectType, account: Uuid) -> String {
        match subject_type {
            SubjectType::Public => account.to_string(),
            SubjectType::Pairwise(sector) => {
                let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
                let mut ctx = hmac::Context::with_key(&key);
                // Length-prefix the sector so (sector, account) splits one way only.
                ctx.update(&(sector.0.len() as u64).to_be_bytes());
                ctx.update(sector.0.as_bytes());
                ctx.update(account.as_bytes());
                Base64UrlUnpadded::encode_string(ctx.sign().as_ref())
            }
        }
    }
}

impl fmt::Debug for PairwiseSalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PairwiseSalt([redacted])")
    }
}

/// A sector identifier (OIDC Core 8.1): the host of the client's redirect URIs or of
/// its `sector_identifier_uri`. Clients sharing a sector see the same pairwise `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectorId(String);

impl SectorId {
    /// A non-empty sector identifier: the host of the client's redirect URIs or of its
    /// `sector_identifier_uri` (OIDC Core 8.1). Host names are case-insensitive, so it is
    /// trimmed and ASCII-lowercased: `Bank.example.vn` and `bank.example.vn` are one sector.
    pub fn new(sector: impl Into<String>) -> Result<Self, SubjectError> {
        let sector = sector.into().trim().to_ascii_lowercase();
        if sector.is_empty() {
            return Err(SubjectError::EmptySector);
        }
        Ok(Self(sector))
    }

    /// The normalised identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a client sees citizens' `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectType {
    /// Pairwise per sector (the default for clients).
    Pairwise(SectorId),
    /// The local account id, identical for every client.
    Public,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: Uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);

    fn salt(byte: u8) -> PairwiseSalt {
        PairwiseSalt::new(&[byte; 32]).unwrap()
    }

    fn pairwise(sector: &str) -> SubjectType {
        SubjectType::Pairwise(SectorId::new(sector).unwrap())
    }

    #[test]
    fn pairwise_sub_is_stable_and_differs_per_sector_and_salt() {
        let a = salt(1).subject(&pairwise("bank.example.vn"), ACCOUNT);
        assert_eq!(a, salt(1).subject(&pairwise("bank.example.vn"), ACCOUNT));
        assert_ne!(a, salt(1).subject(&pairwise("tax.example.vn"), ACCOUNT));
        assert_ne!(a, salt(2).subject(&pairwise("bank.example.vn"), ACCOUNT));
        assert_ne!(
            a,
            salt(1).subject(&pairwise("bank.example.vn"), Uuid::nil())
        );
        assert_eq!(a.len(), 43);
        assert!(!a.contains(&ACCOUNT.simple().to_string()));
    }

    #[test]
    fn pairwise_sub_is_hmac_sha256_over_the_length_prefixed_sector_and_account() {
        let mut input = 3u64.to_be_bytes().to_vec();
        input.extend_from_slice(b"rp1");
        input.extend_from_slice(ACCOUNT.as_bytes());
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]), &input);
        assert_eq!(
            salt(7).subject(&pairwise("rp1"), ACCOUNT),
            Base64UrlUnpadded::encode_string(tag.as_ref())
        );
    }

    #[test]
    fn sector_hosts_are_case_insensitive() {
        assert_eq!(
            salt(1).subject(&pairwise(" Bank.Example.VN "), ACCOUNT),
            salt(1).subject(&pairwise("bank.example.vn"), ACCOUNT)
        );
    }

    #[test]
    fn public_sub_is_the_account_id() {
        assert_eq!(
            salt(1).subject(&SubjectType::Public, ACCOUNT),
            "01234567-89ab-cdef-0123-456789abcdef"
        );
    }

    #[test]
    fn bad_settings_are_refused_and_the_salt_is_not_printed() {
        assert_eq!(
            PairwiseSalt::new(&[0; 31]).unwrap_err(),
            SubjectError::SaltTooShort
        );
        assert_eq!(SectorId::new("  ").unwrap_err(), SubjectError::EmptySector);
        assert_eq!(format!("{:?}", salt(0xAB)), "PairwiseSalt([redacted])");
    }
}
