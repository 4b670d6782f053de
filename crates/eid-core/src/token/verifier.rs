//! Verifying ID tokens and access tokens against a JWKS.
//!
//! Only ES256 is accepted. The header is checked before any key is touched: `alg` must
//! be `ES256` (so `none`, HS*, RS* never reach a key), `typ` must fit the token kind,
//! and `kid` must name a P-256 signature key of the JWKS. Then jsonwebtoken checks the
//! signature, `iss` and `aud`; times are checked here with a bounded leeway so that
//! callers can pass their own clock.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use base64ct::{Base64UrlUnpadded, Encoding};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use super::claims::{AccessTokenClaims, CheckedClaims, IdTokenClaims};
use crate::assurance::{AcrTable, Loa};

/// The largest clock leeway a verifier accepts.
pub const MAX_LEEWAY: Duration = Duration::seconds(300);
/// Tokens longer than this are rejected as malformed before parsing.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a token (or a verifier setting) was rejected; one variant per failure class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a compact JWS with a JSON header and the expected claims.
    #[error("malformed token")]
    Malformed,
    /// `alg` is not ES256 (e.g. `none`, HS256, RS256).
    #[error("unsupported signature algorithm")]
    UnsupportedAlgorithm,
    /// `typ` does not fit the token kind (e.g. an access token offered as an ID token).
    #[error("wrong token type")]
    WrongType,
    /// No `kid`, or a `kid` the JWKS does not contain.
    #[error("unknown signing key")]
    UnknownKey,
    /// The `kid` names a key that is not a P-256 signature key for ES256.
    #[error("key does not fit ES256")]
    KeyMismatch,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `iss` is not the expected issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not contain the expected audience.
    #[error("wrong audience")]
    WrongAudience,
    /// The ID token's `nonce` is missing or not the expected one.
    #[error("wrong nonce")]
    WrongNonce,
    /// `acr` is missing, unknown, or below the required level.
    #[error("insufficient level of assurance")]
    InsufficientAssurance,
    /// The JWKS document is not valid (not JSON, no `keys`, duplicate `kid`).
    #[error("invalid JWKS document")]
    InvalidJwks,
    /// The leeway is negative or above [`MAX_LEEWAY`].
    #[error("clock leeway must be between 0 and 300 seconds")]
    InvalidLeeway,
}

/// A key listed in a JWKS.
#[derive(Debug)]
enum KeyEntry {
    /// A P-256 key usable for ES256 verification.
    Es256(DecodingKey),
    /// Anything else (RSA, oct, other curves, encryption keys, unparsable entries).
    Unusable,
}

/// The verification keys of a JWKS, by `kid`.
#[derive(Debug)]
pub struct VerificationKeys(HashMap<String, KeyEntry>);

impl VerificationKeys {
    /// Parses a JWKS JSON document. Entries without a `kid` are ignored; entries that are
    /// not ES256 keys are kept so that a token naming them fails as
    /// [`VerifyError::KeyMismatch`] rather than as an unknown key.
    pub fn from_json(jwks: &str) -> Result<Self, VerifyError> {
        #[derive(Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawSet = serde_json::from_str(jwks).map_err(|_| VerifyError::InvalidJwks)?;
        let entries = raw.keys.into_iter().filter_map(|value| {
            let kid = value.get("kid")?.as_str()?.to_owned();
            let entry = serde_json::from_value::<Jwk>(value)
                .ok()
                .as_ref()
                .map_or(KeyEntry::Unusable, KeyEntry::from_jwk);
            Some((kid, entry))
        });
        Self::collect(entries)
    }

    /// Takes the keys of a parsed JWKS, with the same rules as [`Self::from_json`].
    pub fn from_jwk_set(jwks: &JwkSet) -> Result<Self, VerifyError> {
        let entries = jwks.keys.iter().filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            Some((kid, KeyEntry::from_jwk(jwk)))
        });
        Self::collect(entries)
    }

    fn collect(entries: impl Iterator<Item = (String, KeyEntry)>) -> Result<Self, VerifyError> {
        let mut keys = HashMap::new();
        for (kid, entry) in entries {
            if keys.insert(kid, entry).is_some() {
                return Err(VerifyError::InvalidJwks);
            }
        }
        Ok(Self(keys))
    }
}

impl KeyEntry {
    fn from_jwk(jwk: &Jwk) -> Self {
        Self::es256(jwk).map_or(KeyEntry::Unusable, KeyEntry::Es256)
    }

    fn es256(jwk: &Jwk) -> Option<DecodingKey> {
        let common = &jwk.common;
        let for_signatures = common
            .public_key_use
            .as_ref()
            .is_none_or(|u| *u == PublicKeyUse::Signature)
            && common
                .key_operations
                .as_ref()
                .is_none_or(|ops| ops.contains(&KeyOperations::Verify))
            && common.key_algorithm.is_none_or(|a| a == KeyAlgorithm::ES256);
        let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else {
            return None;
        };
        if !for_signatures || ec.curve != EllipticCurve::P256 {
            return None;
        }
        // Accept only a point on the curve, given as two 32-byte coordinates.
        let mut point = vec![0x04];
        for coordinate in [&ec.x, &ec.y] {
            let bytes = Base64UrlUnpadded::decode_vec(coordinate).ok()?;
            if bytes.len() != 32 {
                return None;
            }
            point.extend_from_slice(&bytes);
        }
        p256::PublicKey::from_sec1_bytes(&point).ok()?;
        DecodingKey::from_ec_components(&ec.x, &ec.y).ok()
    }
}

/// The part of the JOSE header read before choosing a key.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// Which kind of token is expected; decides the acceptable `typ`.
#[derive(Clone, Copy)]
enum TokenKind {
    Id,
    Access,
}

impl TokenKind {
    fn accepts_typ(self, typ: Option<&str>) -> bool {
        match (self, typ) {
            (TokenKind::Id, None) => true,
            (TokenKind::Id, Some(t)) => t.eq_ignore_ascii_case("JWT"),
            (TokenKind::Access, Some(t)) => {
                t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
            }
            (TokenKind::Access, None) => false,
        }
    }
}

/// Verifies tokens of one issuer for one audience. `Send + Sync`; share it in an `Arc`
/// and swap its keys with [`TokenVerifier::replace_keys`] when the JWKS changes.
#[derive(Debug)]
pub struct TokenVerifier {
    keys: RwLock<Arc<VerificationKeys>>,
    validation: Validation,
    leeway: i64,
    acr: AcrTable,
}

impl TokenVerifier {
    /// A verifier expecting `issuer` and `audience`, allowing `leeway` of clock skew
    /// (at most [`MAX_LEEWAY`]), naming levels with the default `acr` table.
    pub fn new(
        keys: VerificationKeys,
        issuer: &str,
        audience: &str,
        leeway: Duration,
    ) -> Result<Self, VerifyError> {
        if leeway.is_negative() || leeway > MAX_LEEWAY {
            return Err(VerifyError::InvalidLeeway);
        }
        let mut validation = Validation::new(Algorithm::ES256);
        // Times are checked in `check_times` against the caller's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        Ok(Self {
            keys: RwLock::new(Arc::new(keys)),
            validation,
            leeway: leeway.whole_seconds(),
            acr: AcrTable::default(),
        })
    }

    /// Uses `acr` to map `acr` values to levels.
    pub fn with_acr_table(mut self, acr: AcrTable) -> Self {
        self.acr = acr;
        self
    }

    /// Atomically replaces the key set; verifications in flight finish with the old one.
    pub fn replace_keys(&self, keys: VerificationKeys) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
    }

    /// Parses `jwks` and replaces the key set with it; on error the old set stays.
    pub fn replace_jwks(&self, jwks: &str) -> Result<(), VerifyError> {
        self.replace_keys(VerificationKeys::from_json(jwks)?);
        Ok(())
    }

    /// Verifies an access token (`typ` `at+jwt`) now, optionally requiring a level.
    pub fn verify_access_token(
        &self,
        token: &str,
        min_loa: Option<Loa>,
    ) -> Result<AccessTokenClaims, VerifyError> {
        self.verify_access_token_at(token, min_loa, OffsetDateTime::now_utc())
    }

    /// Verifies an access token as of `now`.
    pub fn verify_access_token_at(
        &self,
        token: &str,
        min_loa: Option<Loa>,
        now: OffsetDateTime,
    ) -> Result<AccessTokenClaims, VerifyError> {
        self.verify(token, TokenKind::Access, min_loa, now)
    }

    /// Verifies an ID token now; with `nonce`, its `nonce` claim must equal it.
    pub fn verify_id_token(
        &self,
        token: &str,
        nonce: Option<&str>,
        min_loa: Option<Loa>,
    ) -> Result<IdTokenClaims, VerifyError> {
        self.verify_id_token_at(token, nonce, min_loa, OffsetDateTime::now_utc())
    }

    /// Verifies an ID token as of `now`.
    pub fn verify_id_token_at(
        &self,
        token: &str,
        nonce: Option<&str>,
        min_loa: Option<Loa>,
        now: OffsetDateTime,
    ) -> Result<IdTokenClaims, VerifyError> {
        let claims: IdTokenClaims = self.verify(token, TokenKind::Id, min_loa, now)?;
        if nonce.is_some_and(|n| claims.nonce.as_deref() != Some(n)) {
            return Err(VerifyError::WrongNonce);
        }
        Ok(claims)
    }

    fn verify<C: CheckedClaims>(
        &self,
        token: &str,
        kind: TokenKind,
        min_loa: Option<Loa>,
        now: OffsetDateTime,
    ) -> Result<C, VerifyError> {
        let header = parse_header(token)?;
        if header.alg != "ES256" {
            return Err(VerifyError::UnsupportedAlgorithm);
        }
        // No header extensions are understood, so any `crit` must be refused (RFC 7515).
        if header.crit.is_some() {
            return Err(VerifyError::Malformed);
        }
        if !kind.accepts_typ(header.typ.as_deref()) {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let keys = Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner));
        let key = match keys.0.get(&kid) {
            None => return Err(VerifyError::UnknownKey),
            Some(KeyEntry::Unusable) => return Err(VerifyError::KeyMismatch),
            Some(KeyEntry::Es256(key)) => key,
        };
        let claims = jsonwebtoken::decode::<C>(token, key, &self.validation)
            .map_err(|e| map_jwt_error(e.kind()))?
            .claims;
        self.check_times(claims.times(), now.unix_timestamp())?;
        if let Some(min) = min_loa {
            let loa = claims.acr().and_then(|acr| self.acr.loa_of(acr));
            if !loa.is_some_and(|loa| loa >= min) {
                return Err(VerifyError::InsufficientAssurance);
            }
        }
        Ok(claims)
    }

    fn check_times(&self, (exp, nbf, iat): (i64, Option<i64>, i64), now: i64) -> Result<(), VerifyError> {
        let (earliest, latest) = (now.saturating_sub(self.leeway), now.saturating_add(self.leeway));
        if exp <= earliest {
            return Err(VerifyError::Expired);
        }
        if nbf.is_some_and(|nbf| nbf > latest) {
            return Err(VerifyError::NotYetValid);
        }
        if iat > latest {
            return Err(VerifyError::IssuedInFuture);
        }
        Ok(())
    }
}

fn parse_header(token: &str) -> Result<RawHeader, VerifyError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(VerifyError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed);
    };
    let json = Base64UrlUnpadded::decode_vec(header).map_err(|_| VerifyError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| VerifyError::Malformed)
}

fn map_jwt_error(kind: &ErrorKind) -> VerifyError {
    match kind {
        ErrorKind::InvalidSignature => VerifyError::BadSignature,
        ErrorKind::InvalidIssuer => VerifyError::WrongIssuer,
        ErrorKind::InvalidAudience => VerifyError::WrongAudience,
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            VerifyError::UnsupportedAlgorithm
        }
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidKeyFormat => VerifyError::KeyMismatch,
        _ => VerifyError::Malformed,
    }
}
