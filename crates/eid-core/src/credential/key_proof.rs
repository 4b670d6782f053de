//! OpenID4VCI 1.0 key proofs of type `jwt` (Appendix F.1): the wallet signs, with the key
//! it wants the credential bound to, a JWT naming the Credential Issuer and carrying a
//! fresh `c_nonce` from the Nonce Endpoint (section 7). [`verify_key_proof`] checks such a
//! proof and returns the key and the nonce; the caller then consumes the nonce (single
//! use) before issuing.

use jsonwebtoken::jwk::Jwk;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::jws;
use crate::token::{KeyRingError, MAX_LEEWAY, SigningKey, VerifyError, es256_key_of};

/// The `typ` of a key proof JWT (OpenID4VCI 1.0 Appendix F.1).
pub const KEY_PROOF_TYP: &str = "openid4vci-proof+jwt";
/// How old a key proof may be by default (its `iat` before now, beyond the leeway).
pub const DEFAULT_PROOF_MAX_AGE: Duration = Duration::seconds(300);

/// A verified key proof.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyProof {
    /// The public key the wallet proved possession of: the credential's `cnf.jwk`.
    pub holder: Jwk,
    /// The `c_nonce` it carries, still to be checked and consumed by the caller.
    pub nonce: String,
}

/// The wallet's side (for tests and documentation): a key proof by `holder` for the
/// Credential Issuer `issuer` with `nonce`, issued at `now`, naming the client `client_id`
/// as `iss` when given. The header carries the public key as `jwk` (its `kid` member
/// removed) and no `kid`.
pub fn sign_key_proof(
    holder: &SigningKey,
    issuer: &str,
    client_id: Option<&str>,
    nonce: &str,
    now: OffsetDateTime,
) -> Result<String, KeyRingError> {
    let mut jwk = holder.jwk().clone();
    jwk.common.key_id = None;
    let header = serde_json::json!({ "typ": KEY_PROOF_TYP, "jwk": jwk });
    let mut claims = serde_json::json!({
        "aud": issuer,
        "iat": now.unix_timestamp(),
        "nonce": nonce,
    });
    if let Some(client_id) = client_id {
        claims["iss"] = client_id.into();
    }
    holder.sign_with_header(&header, &claims)
}

/// What a key proof must match.
#[derive(Debug, Clone, Copy)]
pub struct KeyProofCheck<'a> {
    /// The Credential Issuer Identifier: the proof's `aud`.
    pub issuer: &'a str,
    /// The client that made the request: the proof's `iss`, when present.
    pub client_id: &'a str,
    /// Clock skew tolerated (at most [`MAX_LEEWAY`]).
    pub leeway: Duration,
    /// How old the proof may be.
    pub max_age: Duration,
}

/// Verifies a `jwt` key proof as of `now` (OpenID4VCI 1.0 Appendix F.1 and F.4):
///
/// * header: `typ` `openid4vci-proof+jwt`, `alg` ES256 (so never `none` or a MAC), no
///   `crit`, the holder key as `jwk` — a P-256 public key, no private part — and no
///   `kid` or `x5c` beside it (F.1: they are mutually exclusive; only `jwk` is supported);
/// * signature by that key;
/// * claims: `aud` the Credential Issuer Identifier, `iat` present, not in the future and
///   at most `max_age` old, `nonce` present (this issuer has a Nonce Endpoint, F.1),
///   `iss` (optional) the requesting client, `exp`/`nbf` if present.
pub fn verify_key_proof(
    token: &str,
    check: &KeyProofCheck<'_>,
    now: OffsetDateTime,
) -> Result<KeyProof, VerifyError> {
    if check.leeway.is_negative() || check.leeway > MAX_LEEWAY {
        return Err(VerifyError::InvalidLeeway);
    }
    let header = jws::checked_header(token, KEY_PROOF_TYP)?;
    if header.kid.is_some() || header.x5c.is_some() {
        return Err(VerifyError::Malformed);
    }
    let jwk = header.jwk.ok_or(VerifyError::UnknownKey)?;
    // A private key in the header would mean the wallet leaked it: refuse rather than bind.
    if jwk.get("d").is_some() {
        return Err(VerifyError::UnknownKey);
    }
    let holder: Jwk = serde_json::from_value(jwk).map_err(|_| VerifyError::UnknownKey)?;
    let key = es256_key_of(&holder).ok_or(VerifyError::UnknownKey)?;
    let claims = jws::verified_claims(token, &key)?;

    if claims.get("aud") != Some(&Value::from(check.issuer)) {
        return Err(VerifyError::WrongAudience);
    }
    if jws::str_claim(&claims, "iss")?.is_some_and(|iss| iss != check.client_id) {
        return Err(VerifyError::WrongIssuer);
    }
    let iat = jws::int_claim(&claims, "iat")?.ok_or(VerifyError::Malformed)?;
    let (now_s, leeway) = (now.unix_timestamp(), check.leeway.whole_seconds());
    jws::check_times(&claims, now_s, leeway, false)?;
    if iat < now_s.saturating_sub(check.max_age.whole_seconds() + leeway) {
        return Err(VerifyError::Expired);
    }
    let nonce = jws::str_claim(&claims, "nonce")?
        .filter(|n| !n.is_empty())
        .ok_or(VerifyError::WrongNonce)?
        .to_owned();
    Ok(KeyProof { holder, nonce })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://eid.example.vn";

    fn check(client_id: &str) -> KeyProofCheck<'_> {
        KeyProofCheck {
            issuer: ISSUER,
            client_id,
            leeway: Duration::seconds(30),
            max_age: DEFAULT_PROOF_MAX_AGE,
        }
    }

    #[test]
    fn a_wallet_proof_yields_its_public_key_and_nonce() {
        let holder = SigningKey::generate().unwrap();
        let now = OffsetDateTime::now_utc();
        let proof = sign_key_proof(&holder, ISSUER, Some("wallet"), "n-1", now).unwrap();
        let verified = verify_key_proof(&proof, &check("wallet"), now).unwrap();
        assert_eq!(verified.nonce, "n-1");
        let x = |jwk: &Jwk| serde_json::to_value(jwk).unwrap()["x"].clone();
        assert_eq!(x(&verified.holder), x(holder.jwk()));
        // `iss` must name the requesting client; without `iss` any client may send it.
        assert_eq!(
            verify_key_proof(&proof, &check("other"), now),
            Err(VerifyError::WrongIssuer)
        );
        let anonymous = sign_key_proof(&holder, ISSUER, None, "n-1", now).unwrap();
        assert!(verify_key_proof(&anonymous, &check("other"), now).is_ok());
    }

    #[test]
    fn age_audience_and_leeway_are_enforced() {
        let holder = SigningKey::generate().unwrap();
        let now = OffsetDateTime::now_utc();
        let old = sign_key_proof(&holder, ISSUER, None, "n", now - Duration::hours(1)).unwrap();
        assert_eq!(
            verify_key_proof(&old, &check("w"), now),
            Err(VerifyError::Expired)
        );
        let elsewhere = sign_key_proof(&holder, "https://other.example", None, "n", now).unwrap();
        assert_eq!(
            verify_key_proof(&elsewhere, &check("w"), now),
            Err(VerifyError::WrongAudience)
        );
        let mut lax = check("w");
        lax.leeway = MAX_LEEWAY + Duration::SECOND;
        let fresh = sign_key_proof(&holder, ISSUER, None, "n", now).unwrap();
        assert_eq!(
            verify_key_proof(&fresh, &lax, now),
            Err(VerifyError::InvalidLeeway)
        );
    }
}
