//! The compact-JWS checks shared by the SD-JWT VC and status list token verifiers: the
//! header is read and judged before any key is touched, then jsonwebtoken checks the
//! ES256 signature. Claims are returned as JSON for the caller's own checks.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::token::{MAX_TOKEN_LEN, VerifyError, map_jwt_error};

/// The JOSE header fields read before choosing a key.
#[derive(Deserialize)]
pub(crate) struct Header {
    pub(crate) alg: String,
    pub(crate) typ: Option<String>,
    pub(crate) kid: Option<String>,
    pub(crate) crit: Option<Value>,
    /// A public key carried in the header (RFC 7515 section 4.1.3), as in key proofs.
    pub(crate) jwk: Option<Value>,
    /// A certificate chain (RFC 7515 section 4.1.6); no verifier here accepts one.
    pub(crate) x5c: Option<Value>,
}

/// Parses the header of a compact JWS and requires `alg` ES256, no `crit` (no header
/// extension is understood, RFC 7515 section 4.1.11) and `typ` equal to `typ`
/// (ASCII case-insensitively, RFC 7515 section 4.1.9).
pub(crate) fn checked_header(token: &str, typ: &str) -> Result<Header, VerifyError> {
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
    let header: Header = serde_json::from_slice(&json).map_err(|_| VerifyError::Malformed)?;
    if header.alg != "ES256" {
        return Err(VerifyError::UnsupportedAlgorithm);
    }
    if header.crit.is_some() {
        return Err(VerifyError::Malformed);
    }
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(typ))
    {
        return Err(VerifyError::WrongType);
    }
    Ok(header)
}

/// Checks the ES256 signature of `token` with `key` and returns its claims object.
/// Times, issuer and audience are left to the caller.
pub(crate) fn verified_claims(
    token: &str,
    key: &DecodingKey,
) -> Result<Map<String, Value>, VerifyError> {
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.leeway = 0;
    jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| map_jwt_error(e.kind()))
}

/// The integer claim `name`, if present; a present non-integer is malformed.
pub(crate) fn int_claim(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<i64>, VerifyError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_i64().map(Some).ok_or(VerifyError::Malformed),
    }
}

/// The string claim `name`, if present; a present non-string is malformed.
pub(crate) fn str_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, VerifyError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_str().map(Some).ok_or(VerifyError::Malformed),
    }
}

/// Checks `exp` (required when `require_exp`), `nbf` and `iat` against `now` with
/// `leeway` seconds of clock skew.
pub(crate) fn check_times(
    claims: &Map<String, Value>,
    now: i64,
    leeway: i64,
    require_exp: bool,
) -> Result<(), VerifyError> {
    let (earliest, latest) = (now.saturating_sub(leeway), now.saturating_add(leeway));
    match int_claim(claims, "exp")? {
        Some(exp) if exp <= earliest => return Err(VerifyError::Expired),
        None if require_exp => return Err(VerifyError::Malformed),
        _ => {}
    }
    if int_claim(claims, "nbf")?.is_some_and(|nbf| nbf > latest) {
        return Err(VerifyError::NotYetValid);
    }
    if int_claim(claims, "iat")?.is_some_and(|iat| iat > latest) {
        return Err(VerifyError::IssuedInFuture);
    }
    Ok(())
}
