//! Verifying ID tokens and access tokens against a JWKS.
//!
//! Only ES256 is accepted. The header is checked before any key is touched: `alg` must
//! be `ES256` (so `none`, HS*, RS* never reach a key), no `crit`, `typ` must fit the token
//! kind, and `kid` must name a P-256 signature key of the JWKS. Then the signature is
//! checked with aws-lc-rs (the key parsed once, when the JWKS is loaded), the payload is
//! parsed once (duplicate claim names refused), and `iss`, `aud`, the times (with a
//! bounded leeway, so that callers can pass their own clock) and the level are checked
//! here.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey, UnparsedPublicKey};
use base64ct::{Base64UrlUnpadded, Encoding};
use jsonwebtoken::DecodingKey;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::claims::{
    AccessTokenClaims, Audience, CheckedClaims, ClientAssertionClaims, IdTokenClaims,
};
use crate::assurance::{AcrTable, Loa};

/// The largest clock leeway a verifier accepts.
pub const MAX_LEEWAY: Duration = Duration::seconds(300);
/// Tokens longer than this are rejected as malformed before parsing.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// The longest a client assertion may stay valid (its `exp` from now, beyond the leeway).
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::seconds(300);
/// Longest accepted client assertion `jti`.
const MAX_JTI_LEN: usize = 256;

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
    /// A client assertion's `sub` is not its `iss` (the client id).
    #[error("wrong subject")]
    WrongSubject,
    /// A client assertion expires too far in the future.
    #[error("assertion lifetime too long")]
    LifetimeTooLong,
    /// `acr` is missing, unknown, or below the required level.
    #[error("insufficient level of assurance")]
    InsufficientAssurance,
    /// The JWKS document is not valid (not JSON, no `keys`, duplicate `kid`).
    #[error("invalid JWKS document")]
    InvalidJwks,
    /// The leeway is negative or above [`MAX_LEEWAY`].
    #[error("clock leeway must be between 0 and {} seconds", MAX_LEEWAY.whole_seconds())]
    InvalidLeeway,
}

/// Which kind of token [`TokenVerifier::verify_token_at`] verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifiedKind {
    /// An OpenID Connect ID token.
    IdToken,
    /// An RFC 9068 JWT access token.
    AccessToken,
}

/// A token verified by [`TokenVerifier::verify_token_at`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// ID token or access token.
    pub kind: VerifiedKind,
    /// The level its `acr` names, if the verifier's table knows it.
    pub loa: Option<Loa>,
    /// Every claim of the payload.
    pub claims: Map<String, Value>,
}

/// A key listed in a JWKS.
#[derive(Debug, Clone)]
enum KeyEntry {
    /// A P-256 key usable for ES256 verification: as jsonwebtoken takes it (for the other
    /// token formats of this crate), and parsed once for the token verifier's own check.
    Es256 {
        decoding: DecodingKey,
        parsed: ParsedPublicKey,
    },
    /// Anything else (RSA, oct, other curves, encryption keys, unparsable entries).
    Unusable,
}

/// The verification keys of a JWKS, by `kid`.
#[derive(Debug, Clone)]
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

    /// The ES256 key named `kid`, for verifiers of other token formats in this crate
    /// (SD-JWT VCs, status list tokens).
    pub(crate) fn es256_key(&self, kid: &str) -> Result<&DecodingKey, VerifyError> {
        match self.0.get(kid) {
            None => Err(VerifyError::UnknownKey),
            Some(KeyEntry::Unusable) => Err(VerifyError::KeyMismatch),
            Some(KeyEntry::Es256 { decoding, .. }) => Ok(decoding),
        }
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

/// The ES256 verification key of `jwk`, if it is a P-256 signature key (a point on the
/// curve); used for holder keys carried in a `cnf` claim.
pub(crate) fn es256_key_of(jwk: &Jwk) -> Option<DecodingKey> {
    KeyEntry::es256(jwk).map(|(decoding, _)| decoding)
}

impl KeyEntry {
    fn from_jwk(jwk: &Jwk) -> Self {
        Self::es256(jwk).map_or(KeyEntry::Unusable, |(decoding, parsed)| KeyEntry::Es256 {
            decoding,
            parsed,
        })
    }

    fn es256(jwk: &Jwk) -> Option<(DecodingKey, ParsedPublicKey)> {
        let common = &jwk.common;
        let for_signatures = common
            .public_key_use
            .as_ref()
            .is_none_or(|u| *u == PublicKeyUse::Signature)
            && common
                .key_operations
                .as_ref()
                .is_none_or(|ops| ops.contains(&KeyOperations::Verify))
            && common
                .key_algorithm
                .is_none_or(|a| a == KeyAlgorithm::ES256);
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
        let parsed = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .parse()
            .ok()?;
        Some((DecodingKey::from_ec_components(&ec.x, &ec.y).ok()?, parsed))
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
    ClientAssertion,
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
            (TokenKind::ClientAssertion, None) => true,
            (TokenKind::ClientAssertion, Some(t)) => t.eq_ignore_ascii_case("JWT"),
        }
    }
}

/// Verifies tokens of one issuer for one audience. `Send + Sync`; share it in an `Arc`
/// and swap its keys with [`TokenVerifier::replace_keys`] when the JWKS changes.
#[derive(Debug)]
pub struct TokenVerifier {
    keys: RwLock<Arc<VerificationKeys>>,
    issuer: String,
    /// What `aud` may name; the first is this verifier's own audience (for `azp`).
    audiences: Vec<String>,
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
        Self::with_audiences(keys, issuer, &[audience], leeway)
    }

    /// A verifier of one client's `private_key_jwt` assertions (RFC 7523): signed with
    /// one of the client's `keys`, issued by `client_id`, and addressed to this server —
    /// `audiences` lists what `aud` may name (the issuer and the token endpoint URL).
    pub fn for_client_assertions(
        keys: VerificationKeys,
        client_id: &str,
        audiences: &[&str],
        leeway: Duration,
    ) -> Result<Self, VerifyError> {
        Self::with_audiences(keys, client_id, audiences, leeway)
    }

    fn with_audiences(
        keys: VerificationKeys,
        issuer: &str,
        audiences: &[&str],
        leeway: Duration,
    ) -> Result<Self, VerifyError> {
        if audiences.is_empty() {
            return Err(VerifyError::WrongAudience);
        }
        if leeway.is_negative() || leeway > MAX_LEEWAY {
            return Err(VerifyError::InvalidLeeway);
        }
        Ok(Self {
            keys: RwLock::new(Arc::new(keys)),
            issuer: issuer.to_owned(),
            audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
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
        self.check_azp(&claims)?;
        Ok(claims)
    }

    /// Verifies an ID token or an access token as of `now`, telling them apart by the
    /// header's `typ` (`at+jwt` for an access token, RFC 9068 section 2.1; `JWT` or none
    /// for an ID token), with every check of [`Self::verify_id_token_at`] (without a
    /// nonce) or [`Self::verify_access_token_at`]. Returns all the claims, for callers
    /// that read claims beyond the typed ones (names, birthdate, personal ID).
    pub fn verify_token_at(
        &self,
        token: &str,
        min_loa: Option<Loa>,
        now: OffsetDateTime,
    ) -> Result<VerifiedToken, VerifyError> {
        let header = checked_header(token)?;
        let typ = header.typ.as_deref();
        let kind = [TokenKind::Access, TokenKind::Id]
            .into_iter()
            .find(|kind| kind.accepts_typ(typ))
            .ok_or(VerifyError::WrongType)?;
        let claims = self.decode(token, header.kid)?;
        let loa = match kind {
            TokenKind::Access => {
                self.check_claims(&typed::<AccessTokenClaims>(&claims)?, min_loa, now)?
            }
            _ => {
                let id = typed::<IdTokenClaims>(&claims)?;
                self.check_azp(&id)?;
                self.check_claims(&id, min_loa, now)?
            }
        };
        let Value::Object(claims) = claims else {
            return Err(VerifyError::Malformed);
        };
        Ok(VerifiedToken {
            kind: match kind {
                TokenKind::Access => VerifiedKind::AccessToken,
                _ => VerifiedKind::IdToken,
            },
            loa,
            claims,
        })
    }

    /// OIDC Core 3.1.3.7 steps 4-5: with several audiences, `azp` must be present, and
    /// when present it must be this client.
    fn check_azp(&self, claims: &IdTokenClaims) -> Result<(), VerifyError> {
        let several_audiences = matches!(&claims.aud, Audience::Many(a) if a.len() > 1);
        match claims.azp.as_deref() {
            Some(azp) if azp != self.audiences[0] => Err(VerifyError::WrongAudience),
            None if several_audiences => Err(VerifyError::WrongAudience),
            _ => Ok(()),
        }
    }

    /// Verifies a client assertion as of `now`: the checks of every token, plus `sub` equal
    /// to the client id (RFC 7523 section 3 item 2), a lifetime of at most
    /// [`MAX_ASSERTION_LIFETIME`] (so replay records stay short-lived) and a `jti`. The
    /// caller records the `jti` to refuse replays (`oauth::check_assertion_replay`).
    pub fn verify_client_assertion_at(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<ClientAssertionClaims, VerifyError> {
        let claims: ClientAssertionClaims =
            self.verify(token, TokenKind::ClientAssertion, None, now)?;
        if claims.sub != claims.iss {
            return Err(VerifyError::WrongSubject);
        }
        let lifetime = claims.exp.saturating_sub(now.unix_timestamp());
        if lifetime > MAX_ASSERTION_LIFETIME.whole_seconds() + self.leeway {
            return Err(VerifyError::LifetimeTooLong);
        }
        if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_LEN {
            return Err(VerifyError::Malformed);
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
        let header = checked_header(token)?;
        if !kind.accepts_typ(header.typ.as_deref()) {
            return Err(VerifyError::WrongType);
        }
        let claims: C = typed(&self.decode(token, header.kid)?)?;
        self.check_claims(&claims, min_loa, now)?;
        Ok(claims)
    }

    /// The claims of `token` after the signature (by the key named `kid`), `iss` and
    /// `aud` checks, in one pass over the token: the header was parsed by the caller, the
    /// ES256 signature (RFC 7515 section 5.2, RFC 7518 section 3.4: R || S) is checked
    /// with the key parsed when the JWKS was loaded, then the payload is parsed once.
    fn decode(&self, token: &str, kid: Option<String>) -> Result<Value, VerifyError> {
        let kid = kid.ok_or(VerifyError::UnknownKey)?;
        let keys = Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner));
        let key = match keys.0.get(&kid) {
            None => return Err(VerifyError::UnknownKey),
            Some(KeyEntry::Unusable) => return Err(VerifyError::KeyMismatch),
            Some(KeyEntry::Es256 { parsed, .. }) => parsed,
        };
        // `parse_header` made sure of exactly three parts.
        let (signing_input, signature) = token.rsplit_once('.').ok_or(VerifyError::Malformed)?;
        let signature =
            Base64UrlUnpadded::decode_vec(signature).map_err(|_| VerifyError::Malformed)?;
        key.verify_sig(signing_input.as_bytes(), &signature)
            .map_err(|_| VerifyError::BadSignature)?;
        let (_, payload) = signing_input
            .split_once('.')
            .ok_or(VerifyError::Malformed)?;
        let payload = Base64UrlUnpadded::decode_vec(payload).map_err(|_| VerifyError::Malformed)?;
        let UniqueClaims(claims) =
            serde_json::from_slice(&payload).map_err(|_| VerifyError::Malformed)?;
        let claims = Value::Object(claims);
        self.check_issuer_and_audience(&claims)?;
        Ok(claims)
    }

    /// `iss` is the expected issuer; `aud` (a string or an array of strings) names one of
    /// the expected audiences (OIDC Core 3.1.3.7 steps 2-3, RFC 9068 section 4). Missing
    /// or mistyped claims are malformed.
    fn check_issuer_and_audience(&self, claims: &Value) -> Result<(), VerifyError> {
        let iss = claims["iss"].as_str().ok_or(VerifyError::Malformed)?;
        if iss != self.issuer {
            return Err(VerifyError::WrongIssuer);
        }
        let aud = Audience::deserialize(&claims["aud"]).map_err(|_| VerifyError::Malformed)?;
        if !self.audiences.iter().any(|expected| aud.contains(expected)) {
            return Err(VerifyError::WrongAudience);
        }
        Ok(())
    }

    /// Checks the times and the level of verified claims; returns the level.
    fn check_claims<C: CheckedClaims>(
        &self,
        claims: &C,
        min_loa: Option<Loa>,
        now: OffsetDateTime,
    ) -> Result<Option<Loa>, VerifyError> {
        self.check_times(claims.times(), now.unix_timestamp())?;
        let loa = claims.acr().and_then(|acr| self.acr.loa_of(acr));
        if min_loa.is_some_and(|min| loa.is_none_or(|loa| loa < min)) {
            return Err(VerifyError::InsufficientAssurance);
        }
        Ok(loa)
    }

    fn check_times(
        &self,
        (exp, nbf, iat): (i64, Option<i64>, Option<i64>),
        now: i64,
    ) -> Result<(), VerifyError> {
        let (earliest, latest) = (
            now.saturating_sub(self.leeway),
            now.saturating_add(self.leeway),
        );
        if exp <= earliest {
            return Err(VerifyError::Expired);
        }
        if nbf.is_some_and(|nbf| nbf > latest) {
            return Err(VerifyError::NotYetValid);
        }
        if iat.is_some_and(|iat| iat > latest) {
            return Err(VerifyError::IssuedInFuture);
        }
        Ok(())
    }
}

/// A JWT claims set whose claim names are unique. RFC 7519 section 4 lets a parser either
/// reject duplicates or keep the last; they are rejected, so that no consumer of the same
/// token can read a different `iss`, `aud` or `exp` than this verifier did.
struct UniqueClaims(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueClaims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = UniqueClaims;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut members: A,
            ) -> Result<UniqueClaims, A::Error> {
                let mut claims = Map::new();
                while let Some((name, value)) = members.next_entry::<String, Value>()? {
                    if claims.contains_key(&name) {
                        return Err(serde::de::Error::custom("duplicate claim name"));
                    }
                    claims.insert(name, value);
                }
                Ok(UniqueClaims(claims))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// Typed claims read from verified JSON claims.
fn typed<C: serde::de::DeserializeOwned>(claims: &Value) -> Result<C, VerifyError> {
    C::deserialize(claims).map_err(|_| VerifyError::Malformed)
}

/// The header of `token`, with `alg` ES256 and no `crit`.
fn checked_header(token: &str) -> Result<RawHeader, VerifyError> {
    let header = parse_header(token)?;
    if header.alg != "ES256" {
        return Err(VerifyError::UnsupportedAlgorithm);
    }
    // No header extensions are understood, so any `crit` must be refused (RFC 7515
    // section 4.1.11).
    if header.crit.is_some() {
        return Err(VerifyError::Malformed);
    }
    Ok(header)
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

pub(crate) fn map_jwt_error(kind: &ErrorKind) -> VerifyError {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use p256::elliptic_curve::Generate;
    use p256::pkcs8::EncodePrivateKey;
    use serde_json::{Value, json};

    use super::*;
    use crate::assurance::EIDAS_HIGH;
    use crate::token::testing::{ACCOUNT, ISSUER, T0, citizen, client, issuer};
    use crate::token::{
        AccessTokenRequest, Audience, ID_TOKEN_TYP, IdTokenRequest, KeyRing, TokenIssuer, at_hash,
    };

    const API: &str = "https://api.example.vn";
    const LEEWAY: Duration = Duration::seconds(60);

    fn jwks_json(ring: &KeyRing) -> String {
        serde_json::to_string(&ring.jwks()).unwrap()
    }

    fn verifier(ring: &KeyRing, audience: &str) -> TokenVerifier {
        let keys = VerificationKeys::from_json(&jwks_json(ring)).unwrap();
        TokenVerifier::new(keys, ISSUER, audience, LEEWAY).unwrap()
    }

    fn access_token(ring: &KeyRing, loa: Option<Loa>, now: OffsetDateTime) -> String {
        let auth = citizen(loa);
        let rp = client("bank", "bank.example.vn");
        let req = AccessTokenRequest {
            auth: &auth,
            client: &rp,
            audience: &Audience::from(API),
            scope: "openid",
        };
        issuer().issue_access_token(ring, &req, now).unwrap().token
    }

    fn id_token(ring: &KeyRing, nonce: Option<&str>, access: Option<&str>) -> String {
        let auth = citizen(Some(Loa::High));
        let rp = client("bank", "bank.example.vn");
        let req = IdTokenRequest {
            auth: &auth,
            client: &rp,
            nonce,
            access_token: access,
        };
        issuer().issue_id_token(ring, &req, T0).unwrap()
    }

    /// A valid access-token payload to modify and sign directly.
    fn raw_claims() -> Value {
        let iat = T0.unix_timestamp();
        json!({"iss": ISSUER, "sub": "s", "aud": API, "exp": iat + 600, "iat": iat,
               "jti": "j", "client_id": "bank", "scope": "openid", "acr": EIDAS_HIGH})
    }

    fn b64(bytes: &[u8]) -> String {
        Base64UrlUnpadded::encode_string(bytes)
    }

    /// `token` with its header replaced by `header` (the signature no longer matches).
    fn with_header(token: &str, header: Value) -> String {
        let (_, rest) = token.split_once('.').unwrap();
        format!("{}.{rest}", b64(header.to_string().as_bytes()))
    }

    fn verify_access(v: &TokenVerifier, token: &str) -> Result<AccessTokenClaims, VerifyError> {
        v.verify_access_token_at(token, None, T0)
    }

    #[test]
    fn issued_tokens_verify_and_round_trip() {
        let ring = KeyRing::generate().unwrap();
        let token = access_token(&ring, Some(Loa::High), T0);
        let claims = verifier(&ring, API)
            .verify_access_token_at(&token, Some(Loa::High), T0)
            .unwrap();
        assert_eq!(claims.client_id, "bank");
        assert_eq!(claims.acr.as_deref(), Some(EIDAS_HIGH));

        let id = id_token(&ring, Some("n1"), Some(&token));
        let claims = verifier(&ring, "bank")
            .verify_id_token_at(&id, Some("n1"), Some(Loa::Substantial), T0)
            .unwrap();
        assert_eq!(claims.at_hash, Some(at_hash(&token)));
        assert_eq!(
            claims.sub,
            issuer().subject(&client("x", "bank.example.vn"), ACCOUNT)
        );
    }

    #[test]
    fn nonce_is_checked_when_expected() {
        let ring = KeyRing::generate().unwrap();
        let v = verifier(&ring, "bank");
        let with = id_token(&ring, Some("n1"), None);
        let without = id_token(&ring, None, None);
        assert_eq!(
            v.verify_id_token_at(&with, Some("n2"), None, T0),
            Err(VerifyError::WrongNonce)
        );
        assert_eq!(
            v.verify_id_token_at(&without, Some("n1"), None, T0),
            Err(VerifyError::WrongNonce)
        );
        assert!(v.verify_id_token_at(&without, None, None, T0).is_ok());
    }

    #[test]
    fn client_assertions_follow_rfc_7523() {
        const TOKEN_ENDPOINT: &str = "https://id.example.vn/token";
        let client_keys = KeyRing::generate().unwrap();
        let keys = VerificationKeys::from_json(&jwks_json(&client_keys)).unwrap();
        let v =
            TokenVerifier::for_client_assertions(keys, "bank", &[ISSUER, TOKEN_ENDPOINT], LEEWAY)
                .unwrap();
        let now = T0.unix_timestamp();
        let sign = |ring: &KeyRing, changes: Value| {
            let mut claims = json!({"iss": "bank", "sub": "bank", "aud": TOKEN_ENDPOINT,
                                    "exp": now + 60, "iat": now, "jti": "a1"});
            claims
                .as_object_mut()
                .unwrap()
                .extend(changes.as_object().unwrap().clone());
            ring.active().sign("JWT", &claims).unwrap()
        };
        let check = |t: &str| v.verify_client_assertion_at(t, T0);
        let good = check(&sign(&client_keys, json!({}))).unwrap();
        assert_eq!((good.iss.as_str(), good.jti.as_str()), ("bank", "a1"));
        assert!(check(&sign(&client_keys, json!({"aud": ISSUER}))).is_ok());
        assert!(check(&sign(&client_keys, json!({"iat": null}))).is_ok());
        let cases = [
            (json!({"sub": "other"}), VerifyError::WrongSubject),
            (
                json!({"iss": "other", "sub": "other"}),
                VerifyError::WrongIssuer,
            ),
            (
                json!({"aud": "https://elsewhere.example"}),
                VerifyError::WrongAudience,
            ),
            (json!({"exp": now - 61}), VerifyError::Expired),
            (json!({"exp": now + 3600}), VerifyError::LifetimeTooLong),
            (json!({"jti": ""}), VerifyError::Malformed),
            (json!({"jti": null}), VerifyError::Malformed),
        ];
        for (changes, err) in cases {
            let token = sign(&client_keys, changes.clone());
            assert_eq!(check(&token), Err(err), "{changes}");
        }
        // Signed by anyone else (our own server key included): unknown key.
        let stranger = KeyRing::generate().unwrap();
        assert_eq!(
            check(&sign(&stranger, json!({}))),
            Err(VerifyError::UnknownKey)
        );
    }

    #[test]
    fn authorized_party_is_checked_per_oidc_core_3_1_3_7() {
        let ring = KeyRing::generate().unwrap();
        let v = verifier(&ring, "bank");
        let iat = T0.unix_timestamp();
        let sign = |extra: Value| {
            let mut claims = json!({"iss": ISSUER, "sub": "s", "exp": iat + 300, "iat": iat});
            claims
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            ring.active().sign(ID_TOKEN_TYP, &claims).unwrap()
        };
        let ok = |t: &str| v.verify_id_token_at(t, None, None, T0);
        assert!(ok(&sign(json!({"aud": "bank"}))).is_ok());
        assert!(ok(&sign(json!({"aud": "bank", "azp": "bank"}))).is_ok());
        assert!(ok(&sign(json!({"aud": ["bank", "api"], "azp": "bank"}))).is_ok());
        for bad in [
            json!({"aud": ["bank", "api"]}),
            json!({"aud": ["bank", "api"], "azp": "api"}),
            json!({"aud": "bank", "azp": "other"}),
        ] {
            assert_eq!(
                ok(&sign(bad.clone())),
                Err(VerifyError::WrongAudience),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_es256_is_accepted() {
        let ring = KeyRing::generate().unwrap();
        let v = verifier(&ring, API);
        let token = access_token(&ring, None, T0);
        let kid = ring.active().kid();

        // alg none, empty signature.
        let payload = token.split('.').nth(1).unwrap();
        let none = format!(
            "{}.{payload}.",
            b64(json!({"alg": "none", "typ": "at+jwt", "kid": kid})
                .to_string()
                .as_bytes())
        );
        assert_eq!(
            verify_access(&v, &none),
            Err(VerifyError::UnsupportedAlgorithm)
        );

        // HS256 "signed" with the public key as the HMAC secret (key confusion).
        let AlgorithmParameters::EllipticCurve(ec) = &ring.active().jwk().algorithm else {
            panic!("not EC");
        };
        let mut public = vec![0x04];
        public.extend(Base64UrlUnpadded::decode_vec(&ec.x).unwrap());
        public.extend(Base64UrlUnpadded::decode_vec(&ec.y).unwrap());
        for secret in [public.as_slice(), jwks_json(&ring).as_bytes()] {
            let mut header = Header::new(Algorithm::HS256);
            header.typ = Some("at+jwt".to_owned());
            header.kid = Some(kid.to_owned());
            let hs =
                jsonwebtoken::encode(&header, &raw_claims(), &EncodingKey::from_secret(secret))
                    .unwrap();
            assert_eq!(
                verify_access(&v, &hs),
                Err(VerifyError::UnsupportedAlgorithm)
            );
        }

        for alg in ["RS256", "ES384", "PS256", "EdDSA", "es256"] {
            let forged = with_header(&token, json!({"alg": alg, "typ": "at+jwt", "kid": kid}));
            assert_eq!(
                verify_access(&v, &forged),
                Err(VerifyError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
    }

    #[test]
    fn kid_must_name_a_published_p256_signature_key() {
        let ring = KeyRing::generate().unwrap();
        let v = verifier(&ring, API);
        let kid = ring.active().kid().to_owned();

        // Signed by another ring: its kid is unknown here.
        let stranger = access_token(&KeyRing::generate().unwrap(), None, T0);
        assert_eq!(verify_access(&v, &stranger), Err(VerifyError::UnknownKey));

        // No kid at all.
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".to_owned());
        let other = p256::SecretKey::generate_from_rng(&mut rand::rng())
            .to_pkcs8_der()
            .unwrap();
        let other = EncodingKey::from_ec_der(other.as_bytes());
        let no_kid = jsonwebtoken::encode(&header, &raw_claims(), &other).unwrap();
        assert_eq!(verify_access(&v, &no_kid), Err(VerifyError::UnknownKey));

        // A different key claiming our kid: the signature does not verify.
        header.kid = Some(kid.clone());
        let wrong_key = jsonwebtoken::encode(&header, &raw_claims(), &other).unwrap();
        assert_eq!(
            verify_access(&v, &wrong_key),
            Err(VerifyError::BadSignature)
        );

        // Our kid published as something that is not a P-256 signature key.
        let token = access_token(&ring, None, T0);
        let jwk = serde_json::to_value(ring.active().jwk()).unwrap();
        let mut variants = Vec::new();
        for (field, value) in [
            ("kty", json!("oct")),
            ("crv", json!("P-384")),
            ("use", json!("enc")),
            ("alg", json!("ES384")),
            ("key_ops", json!(["encrypt"])),
            ("x", json!(b64(&[1; 32]))),
            ("y", json!(b64(&[2; 31]))),
        ] {
            let mut bad = jwk.clone();
            bad[field] = value;
            variants.push(bad);
        }
        variants.push(json!({"kty": "oct", "kid": kid, "k": b64(b"secret")}));
        variants.push(json!({"kty": "RSA", "kid": kid, "n": "AQAB", "e": "AQAB"}));
        for bad in variants {
            let keys = VerificationKeys::from_json(&json!({"keys": [bad]}).to_string()).unwrap();
            v.replace_keys(keys);
            assert_eq!(
                verify_access(&v, &token),
                Err(VerifyError::KeyMismatch),
                "{bad}"
            );
        }
    }

    #[test]
    fn times_are_checked_with_the_leeway() {
        let ring = KeyRing::generate().unwrap();
        let v = verifier(&ring, API);
        let token = access_token(&ring, None, T0);
        let exp = T0 + TokenIssuer::DEFAULT_ACCESS_TOKEN_LIFETIME;
        let at = |now| v.verify_access_token_at(&token, None, now).map(|_| ());
        assert_eq!(at(exp + LEEWAY - Duration::seconds(1)), Ok(()));
        assert_eq!(at(exp + LEEWAY), Err(VerifyError::Expired));

        // iat ahead of our clock: tolerated within the leeway, rejected beyond it.
        assert_eq!(at(T0 - LEEWAY), Ok(()));
        assert_eq!(
            at(T0 - LEEWAY - Duration::seconds(1)),
            Err(VerifyError::IssuedInFuture)
        );

        let mut claims = raw_claims();
        claims["nbf"] = json!((T0 + Duration::minutes(5)).unix_timestamp());
        let nbf = ring.active().sign("at+jwt", &claims).unwrap();
        assert_eq!(verify_access(&v, &nbf), Err(VerifyError::NotYetValid));
        let later = T0 + Duration::minutes(4);
        assert!(v.verify_access_token_at(&nbf, None, later).is_ok());
    }

    #[test]
    fn issuer_and_audience_are_checked() {
        let ring = KeyRing::generate().unwrap();
        let token = access_token(&ring, None, T0);
        assert_eq!(
            verify_access(&verifier(&ring, "https://other.example.vn"), &token),
            Err(VerifyError::WrongAudience)
        );
        let keys = VerificationKeys::from_jwk_set(&ring.jwks()).unwrap();
        let v = TokenVerifier::new(keys, "https://evil.example", API, LEEWAY).unwrap();
        assert_eq!(verify_access(&v, &token), Err(VerifyError::WrongIssuer));

        let v = verifier(&ring, API);
        let mut claims = raw_claims();
        claims["aud"] = json!(["https://x.example", API]);
        assert!(verify_access(&v, &ring.active().sign("at+jwt", &claims).unwrap()).is_ok());
        claims["aud"] = json!([]);
        assert_eq!(
            verify_access(&v, &ring.active().sign("at+jwt", &claims).unwrap()),
            Err(VerifyError::WrongAudience)
        );
    }

    #[test]
    fn missing_or_mistyped_issuer_and_audience_are_malformed() {
        let ring = KeyRing::generate().unwrap();
        let v = verifier(&ring, API);
        for (claim, value) in [
            ("iss", None),
            ("iss", Some(json!(7))),
            ("aud", None),
            ("aud", Some(json!({"aud": API}))),
            ("aud", Some(json!([API, 7]))),
        ] {
            let mut claims = raw_claims();
            match &value {
                None => drop(claims.as_object_mut().unwrap().remove(claim)),
                Some(value) => claims[claim] = value.clone(),
            }
            let token = ring.active().sign("at+jwt", &claims).unwrap();
            assert_eq!(
                verify_access(&v, &token),
                Err(VerifyError::Malformed),
                "{claim}: {value:?}"
            );
        }
        // A payload that is JSON but not an object.
        let token = ring.active().sign("at+jwt", &json!([1, 2])).unwrap();
        assert_eq!(verify_access(&v, &token), Err(VerifyError::Malformed));
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let ring = KeyRing::generate().unwrap();
        let v = verifier(&ring, API);
        let token = access_token(&ring, None, T0);
        let parts: Vec<&str> = token.split('.').collect();

        let mut claims: Value =
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(parts[1]).unwrap()).unwrap();
        claims["sub"] = json!("someone-else");
        let payload = b64(claims.to_string().as_bytes());
        let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert_eq!(verify_access(&v, &tampered), Err(VerifyError::BadSignature));

        let mut sig = Base64UrlUnpadded::decode_vec(parts[2]).unwrap();
        sig[10] ^= 1;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
        assert_eq!(verify_access(&v, &flipped), Err(VerifyError::BadSignature));
        let short = format!("{}.{}.{}", parts[0], parts[1], b64(&sig[..32]));
        assert_eq!(verify_access(&v, &short), Err(VerifyError::BadSignature));
    }

    #[test]
    fn garbage_is_malformed() {
        // A ring whose private key the test also holds, to sign arbitrary payload bytes.
        let der = p256::SecretKey::generate_from_rng(&mut rand::rng())
            .to_pkcs8_der()
            .unwrap();
        let ring = KeyRing::new(crate::token::SigningKey::from_pkcs8_der(der.as_bytes()).unwrap());
        let key = EncodingKey::from_ec_der(der.as_bytes());
        let kid = ring.active().kid();
        let header = b64(json!({"alg": "ES256", "typ": "at+jwt", "kid": kid})
            .to_string()
            .as_bytes());
        let signed = |payload: &str| {
            let input = format!("{header}.{payload}");
            let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::ES256).unwrap();
            format!("{input}.{sig}")
        };
        let v = verifier(&ring, API);
        let token = access_token(&ring, None, T0);
        assert!(verify_access(&v, &token).is_ok());

        let mut missing_jti = raw_claims();
        missing_jti.as_object_mut().unwrap().remove("jti");
        let mut text_exp = raw_claims();
        text_exp["exp"] = json!("tomorrow");
        let cases = [
            String::new(),
            "abc".to_owned(),
            "a.b".to_owned(),
            format!("{token}.x"),
            "!!!.x.y".to_owned(),
            format!("{}.x.y", b64(b"not json")),
            format!("{token}{}", "A".repeat(MAX_TOKEN_LEN)),
            with_header(
                &token,
                json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "crit": ["b64"]}),
            ),
            signed("%%%"),
            signed(&b64(b"not json")),
            signed(&b64(missing_jti.to_string().as_bytes())),
            signed(&b64(text_exp.to_string().as_bytes())),
        ];
        for case in cases {
            let shown = &case[..case.len().min(60)];
            assert_eq!(
                verify_access(&v, &case),
                Err(VerifyError::Malformed),
                "{shown}"
            );
        }
    }

    #[test]
    fn duplicate_claim_names_are_malformed() {
        let der = p256::SecretKey::generate_from_rng(&mut rand::rng())
            .to_pkcs8_der()
            .unwrap();
        let ring = KeyRing::new(crate::token::SigningKey::from_pkcs8_der(der.as_bytes()).unwrap());
        let key = EncodingKey::from_ec_der(der.as_bytes());
        let header = b64(
            json!({"alg": "ES256", "typ": "at+jwt", "kid": ring.active().kid()})
                .to_string()
                .as_bytes(),
        );
        let v = verifier(&ring, API);
        let mut rest: Map<String, Value> = serde_json::from_value(raw_claims()).unwrap();
        rest.remove("iss");
        rest.remove("aud");
        let rest = serde_json::to_string(&rest).unwrap();
        for (first, last, expected) in [
            ("", "", Ok(())),
            (
                r#""iss":"https://evil.example","#,
                "",
                Err(VerifyError::Malformed),
            ),
            (
                "",
                r#","aud":"https://evil.example""#,
                Err(VerifyError::Malformed),
            ),
            ("", r#","exp":1"#, Err(VerifyError::Malformed)),
        ] {
            let json = format!(
                r#"{{{first}"iss":"{ISSUER}","aud":"{API}",{}{last}}}"#,
                &rest[1..rest.len() - 1]
            );
            let input = format!("{header}.{}", b64(json.as_bytes()));
            let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::ES256).unwrap();
            let token = format!("{input}.{sig}");
            assert_eq!(verify_access(&v, &token).map(|_| ()), expected, "{json}");
        }
    }

    #[test]
    fn token_kinds_are_not_interchangeable() {
        let ring = KeyRing::generate().unwrap();
        let access = access_token(&ring, None, T0);
        let id = id_token(&ring, None, None);
        assert_eq!(
            verifier(&ring, "bank").verify_id_token_at(&access, None, None, T0),
            Err(VerifyError::WrongType)
        );
        assert_eq!(
            verify_access(&verifier(&ring, "bank"), &id),
            Err(VerifyError::WrongType)
        );
        let no_typ = with_header(&access, json!({"alg": "ES256", "kid": ring.active().kid()}));
        assert_eq!(
            verify_access(&verifier(&ring, API), &no_typ),
            Err(VerifyError::WrongType)
        );
    }

    #[test]
    fn minimum_level_of_assurance_is_enforced() {
        let ring = KeyRing::generate().unwrap();
        let v = verifier(&ring, API);
        let low = access_token(&ring, Some(Loa::Low), T0);
        let unknown = access_token(&ring, None, T0);
        let min = |token: &str, loa| v.verify_access_token_at(token, Some(loa), T0).map(|_| ());
        assert_eq!(min(&low, Loa::Low), Ok(()));
        assert_eq!(
            min(&low, Loa::Substantial),
            Err(VerifyError::InsufficientAssurance)
        );
        assert_eq!(
            min(&unknown, Loa::Low),
            Err(VerifyError::InsufficientAssurance)
        );
        let mut claims = raw_claims();
        claims["acr"] = json!("urn:unknown:acr");
        let odd = ring.active().sign("at+jwt", &claims).unwrap();
        assert_eq!(min(&odd, Loa::Low), Err(VerifyError::InsufficientAssurance));

        // A verifier with its own table understands its own names.
        let table = AcrTable::new(BTreeMap::from([
            (Loa::Low, vec!["l".to_owned()]),
            (Loa::Substantial, vec!["s".to_owned()]),
            (
                Loa::High,
                vec!["h".to_owned(), "urn:unknown:acr".to_owned()],
            ),
        ]))
        .unwrap();
        let v = verifier(&ring, API).with_acr_table(table);
        assert!(v.verify_access_token_at(&odd, Some(Loa::High), T0).is_ok());
    }

    #[test]
    fn retired_key_verifies_until_pruned() {
        let mut ring = KeyRing::generate().unwrap();
        let old = access_token(&ring, None, T0);
        ring.rotate(T0).unwrap();
        let new = access_token(&ring, None, T0);
        let v = verifier(&ring, API);
        assert!(verify_access(&v, &old).is_ok());
        assert!(verify_access(&v, &new).is_ok());

        let lifetime = issuer().max_token_lifetime() + LEEWAY;
        assert_eq!(ring.prune(T0 + lifetime, lifetime), 1);
        v.replace_jwks(&jwks_json(&ring)).unwrap();
        assert_eq!(verify_access(&v, &old), Err(VerifyError::UnknownKey));
        assert!(verify_access(&v, &new).is_ok());
    }

    #[test]
    fn settings_and_jwks_are_validated() {
        let ring = KeyRing::generate().unwrap();
        let keys = || VerificationKeys::from_jwk_set(&ring.jwks()).unwrap();
        assert!(TokenVerifier::new(keys(), ISSUER, API, MAX_LEEWAY).is_ok());
        for leeway in [MAX_LEEWAY + Duration::seconds(1), Duration::seconds(-1)] {
            assert_eq!(
                TokenVerifier::new(keys(), ISSUER, API, leeway).err(),
                Some(VerifyError::InvalidLeeway)
            );
        }
        let jwk = serde_json::to_value(ring.active().jwk()).unwrap();
        for bad in [
            "not json".to_owned(),
            r#"{"keys":{}}"#.to_owned(),
            json!({"keys": [jwk, jwk]}).to_string(),
        ] {
            assert_eq!(
                VerificationKeys::from_json(&bad).err(),
                Some(VerifyError::InvalidJwks),
                "{bad}"
            );
        }
        // A failed replacement keeps the old keys.
        let v = verifier(&ring, API);
        assert_eq!(v.replace_jwks("{}"), Err(VerifyError::InvalidJwks));
        assert!(verify_access(&v, &access_token(&ring, None, T0)).is_ok());
    }

    #[test]
    fn either_kind_is_told_apart_by_typ() {
        let ring = KeyRing::generate().unwrap();
        let access = access_token(&ring, Some(Loa::Substantial), T0);
        let verified = verifier(&ring, API)
            .verify_token_at(&access, Some(Loa::Low), T0)
            .unwrap();
        assert_eq!(verified.kind, VerifiedKind::AccessToken);
        assert_eq!(verified.loa, Some(Loa::Substantial));
        assert_eq!(verified.claims["aud"], json!(API));

        let id = id_token(&ring, Some("n-1"), None);
        let bank = verifier(&ring, "bank");
        let verified = bank.verify_token_at(&id, Some(Loa::High), T0).unwrap();
        assert_eq!(verified.kind, VerifiedKind::IdToken);
        assert_eq!(verified.loa, Some(Loa::High));
        assert_eq!(verified.claims["nonce"], json!("n-1"));

        // The checks of each kind apply: level, audience, azp, typ, required claims.
        assert_eq!(
            verifier(&ring, API).verify_token_at(&access, Some(Loa::High), T0),
            Err(VerifyError::InsufficientAssurance)
        );
        assert_eq!(
            verifier(&ring, API).verify_token_at(&id, None, T0),
            Err(VerifyError::WrongAudience)
        );
        let kid = ring.active().kid();
        let sd = with_header(&id, json!({"alg": "ES256", "typ": "dc+sd-jwt", "kid": kid}));
        assert_eq!(
            bank.verify_token_at(&sd, None, T0),
            Err(VerifyError::WrongType)
        );
        let mut claims = raw_claims();
        claims["aud"] = json!("bank");
        claims.as_object_mut().unwrap().remove("sub");
        let no_sub = ring.active().sign(ID_TOKEN_TYP, &claims).unwrap();
        assert_eq!(
            bank.verify_token_at(&no_sub, None, T0),
            Err(VerifyError::Malformed)
        );
        let expired = T0 + Duration::days(1);
        assert_eq!(
            bank.verify_token_at(&id, None, expired),
            Err(VerifyError::Expired)
        );
    }

    #[test]
    fn verifier_is_shared_across_threads_while_keys_are_replaced() {
        fn shareable<T: Send + Sync>() {}
        shareable::<TokenVerifier>();
        let ring = KeyRing::generate().unwrap();
        let v = verifier(&ring, API);
        let token = access_token(&ring, None, T0);
        let json = jwks_json(&ring);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..20 {
                        assert!(verify_access(&v, &token).is_ok());
                    }
                });
            }
            s.spawn(|| {
                for _ in 0..20 {
                    v.replace_jwks(&json).unwrap();
                }
            });
        });
    }
}
