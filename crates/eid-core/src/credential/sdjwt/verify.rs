//! Verifying SD-JWT VC presentations (RFC 9901 section 7; SD-JWT VC draft section 3).

use std::collections::{HashMap, HashSet};

use jsonwebtoken::jwk::Jwk;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::disclosure::{Disclosure, sha256_b64};
use super::{KB_JWT_TYP, SD_ALG, SD_JWT_VC_TYP, SdJwtError};
use crate::credential::jws;
use crate::credential::status_list::{
    StatusReference, TokenStatus, status_of, verify_status_list_token,
};
use crate::token::{MAX_LEEWAY, VerificationKeys, VerifyError, es256_key_of};

/// How old a Key Binding JWT may be by default (its `iat` before now, beyond the leeway).
pub const DEFAULT_KB_MAX_AGE: Duration = Duration::seconds(300);
/// Claims an SD-JWT VC never discloses selectively (SD-JWT VC draft sections 3.2.2.1 and
/// 3.2.2.2: `vct`, `iss`, `nbf`, `exp`, `cnf`, `status`), plus the SD-JWT control claim
/// `_sd_alg`; a top-level disclosure naming one is refused.
pub const NEVER_DISCLOSED: [&str; 7] = ["iss", "nbf", "exp", "cnf", "vct", "status", "_sd_alg"];
/// The most disclosures a presentation may carry.
const MAX_DISCLOSURES: usize = 256;

/// What the verifier expects of the Key Binding JWT (RFC 9901 section 7.3 step 5).
#[derive(Debug, Clone, Copy)]
pub struct KeyBindingCheck<'a> {
    /// This verifier's identifier: the KB-JWT `aud` must equal it.
    pub audience: &'a str,
    /// The nonce this verifier issued for the presentation: the KB-JWT `nonce`.
    pub nonce: &'a str,
}

/// A verified SD-JWT VC presentation.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedSdJwtVc {
    /// The credential type.
    pub vct: String,
    /// The issuer.
    pub issuer: String,
    /// The holder's key (`cnf.jwk`), if the credential is key-bound.
    pub holder_key: Option<Jwk>,
    /// The credential's status list entry, if it has one.
    pub status: Option<StatusReference>,
    /// The names of the claims disclosed in this presentation (top-level disclosures).
    pub disclosed: Vec<String>,
    /// The processed payload: plain claims plus the disclosed ones, with `_sd` and
    /// `_sd_alg` removed (RFC 9901 section 7.1 step 3).
    pub claims: Map<String, Value>,
}

/// Verifies SD-JWT VCs of one issuer against its JWKS.
#[derive(Debug, Clone)]
pub struct SdJwtVcVerifier {
    keys: VerificationKeys,
    issuer: String,
    leeway: Duration,
    kb_max_age: Duration,
}

impl SdJwtVcVerifier {
    /// A verifier of credentials issued by `issuer` and signed by a key of `keys`,
    /// allowing `leeway` of clock skew (at most [`MAX_LEEWAY`]) and KB-JWTs up to
    /// [`DEFAULT_KB_MAX_AGE`] old.
    pub fn new(keys: VerificationKeys, issuer: &str, leeway: Duration) -> Result<Self, SdJwtError> {
        if leeway.is_negative() || leeway > MAX_LEEWAY {
            return Err(SdJwtError::Issuer(VerifyError::InvalidLeeway));
        }
        Ok(Self {
            keys,
            issuer: issuer.to_owned(),
            leeway,
            kb_max_age: DEFAULT_KB_MAX_AGE,
        })
    }

    /// Accepts KB-JWTs issued up to `max_age` before now.
    pub fn with_kb_max_age(mut self, max_age: Duration) -> Self {
        self.kb_max_age = max_age;
        self
    }

    /// Verifies `presentation` as of `now`. With `key_binding`, a KB-JWT is required and
    /// checked; without, the presentation must carry none (RFC 9901 section 7.3 step 4:
    /// the verifier's policy decides, and a KB-JWT nobody checks is refused rather than
    /// silently ignored).
    pub fn verify(
        &self,
        presentation: &str,
        key_binding: Option<KeyBindingCheck<'_>>,
        now: OffsetDateTime,
    ) -> Result<VerifiedSdJwtVc, SdJwtError> {
        // Section 4: the KB-JWT follows the last `~`; the SD-JWT is everything up to and
        // including it.
        let split = presentation.rfind('~').ok_or(SdJwtError::Malformed)?;
        let (sd_jwt, kb_jwt) = presentation.split_at(split + 1);
        let mut parts = sd_jwt[..split].split('~');
        let jwt = parts.next().ok_or(SdJwtError::Malformed)?;
        let encoded: Vec<&str> = parts.collect();
        if encoded.len() > MAX_DISCLOSURES || encoded.iter().any(|d| d.is_empty()) {
            return Err(SdJwtError::Malformed);
        }

        // Section 7.1 step 2: the issuer-signed JWT.
        let mut payload = self.issuer_claims(jwt, now)?;
        let vct = jws::str_claim(&payload, "vct")
            .map_err(|_| SdJwtError::MissingVct)?
            .ok_or(SdJwtError::MissingVct)?
            .to_owned();
        match payload.remove("_sd_alg") {
            None => {}
            Some(Value::String(alg)) if alg == SD_ALG => {}
            Some(_) => return Err(SdJwtError::UnsupportedDigest),
        }

        // Section 7.1 step 3: every disclosure must be referenced exactly once.
        let mut by_digest = HashMap::new();
        for d in encoded {
            let disclosure = Disclosure::parse(d)?;
            if by_digest.insert(disclosure.digest(), disclosure).is_some() {
                return Err(SdJwtError::Duplicate);
            }
        }
        let mut seen = HashSet::new();
        let mut disclosed = Vec::new();
        embed(
            &mut payload,
            &mut by_digest,
            &mut seen,
            Some(&mut disclosed),
        )?;
        if !by_digest.is_empty() {
            return Err(SdJwtError::UnreferencedDisclosure);
        }
        if disclosed
            .iter()
            .any(|name| NEVER_DISCLOSED.contains(&name.as_str()))
        {
            return Err(SdJwtError::NotDisclosable);
        }

        let holder_key = match payload.get("cnf") {
            None => None,
            Some(cnf) => Some(
                cnf.get("jwk")
                    .cloned()
                    .and_then(|jwk| serde_json::from_value::<Jwk>(jwk).ok())
                    .ok_or(SdJwtError::HolderKey)?,
            ),
        };
        match (key_binding, kb_jwt.is_empty()) {
            (Some(check), false) => {
                let holder = holder_key.as_ref().ok_or(SdJwtError::HolderKey)?;
                self.check_key_binding(kb_jwt, sd_jwt, holder, check, now)?;
            }
            (None, true) => {}
            _ => return Err(SdJwtError::KeyBindingMismatch),
        }

        let status = match payload.get("status") {
            None => None,
            Some(status) => Some(
                status
                    .get("status_list")
                    .cloned()
                    .and_then(|s| serde_json::from_value::<StatusReference>(s).ok())
                    .ok_or(SdJwtError::Malformed)?,
            ),
        };
        Ok(VerifiedSdJwtVc {
            vct,
            issuer: self.issuer.clone(),
            holder_key,
            status,
            disclosed,
            claims: payload,
        })
    }

    /// Checks the credential's status in `status_list_token`, the Status List Token the
    /// caller fetched from `credential.status.uri`: it must be signed by this issuer's
    /// keys and name that URI as its `sub` (draft-ietf-oauth-status-list section 8.3).
    pub fn check_status(
        &self,
        credential: &VerifiedSdJwtVc,
        status_list_token: &str,
        now: OffsetDateTime,
    ) -> Result<TokenStatus, SdJwtError> {
        let reference = credential.status.as_ref().ok_or(SdJwtError::NoStatus)?;
        let list =
            verify_status_list_token(status_list_token, &self.keys, reference, now, self.leeway)?;
        Ok(status_of(&list, reference)?)
    }

    /// The issuer-signed JWT's claims after the JWS, `typ`, `iss` and time checks.
    fn issuer_claims(
        &self,
        jwt: &str,
        now: OffsetDateTime,
    ) -> Result<Map<String, Value>, SdJwtError> {
        let header = jws::checked_header(jwt, SD_JWT_VC_TYP).map_err(SdJwtError::Issuer)?;
        let kid = header
            .kid
            .ok_or(SdJwtError::Issuer(VerifyError::UnknownKey))?;
        let key = self.keys.es256_key(&kid).map_err(SdJwtError::Issuer)?;
        let claims = jws::verified_claims(jwt, key).map_err(SdJwtError::Issuer)?;
        if jws::str_claim(&claims, "iss").map_err(SdJwtError::Issuer)? != Some(&self.issuer) {
            return Err(SdJwtError::Issuer(VerifyError::WrongIssuer));
        }
        jws::check_times(
            &claims,
            now.unix_timestamp(),
            self.leeway.whole_seconds(),
            false,
        )
        .map_err(SdJwtError::Issuer)?;
        Ok(claims)
    }

    /// RFC 9901 section 7.3 step 5: the KB-JWT is signed by the `cnf` key with `typ`
    /// `kb+jwt`, its `aud` and `nonce` are the expected ones, its `iat` is recent, and
    /// its `sd_hash` is the digest of the presented SD-JWT.
    fn check_key_binding(
        &self,
        kb_jwt: &str,
        sd_jwt: &str,
        holder: &Jwk,
        check: KeyBindingCheck<'_>,
        now: OffsetDateTime,
    ) -> Result<(), SdJwtError> {
        let kb = SdJwtError::KeyBinding;
        let key = es256_key_of(holder).ok_or(SdJwtError::HolderKey)?;
        jws::checked_header(kb_jwt, KB_JWT_TYP).map_err(kb)?;
        let claims = jws::verified_claims(kb_jwt, &key).map_err(kb)?;
        if jws::str_claim(&claims, "aud").map_err(kb)? != Some(check.audience) {
            return Err(kb(VerifyError::WrongAudience));
        }
        if jws::str_claim(&claims, "nonce").map_err(kb)? != Some(check.nonce) {
            return Err(kb(VerifyError::WrongNonce));
        }
        let iat = jws::int_claim(&claims, "iat")
            .map_err(kb)?
            .ok_or(kb(VerifyError::Malformed))?;
        let (now, leeway) = (now.unix_timestamp(), self.leeway.whole_seconds());
        if iat > now.saturating_add(leeway) {
            return Err(kb(VerifyError::IssuedInFuture));
        }
        if iat < now.saturating_sub(leeway + self.kb_max_age.whole_seconds()) {
            return Err(kb(VerifyError::Expired));
        }
        if jws::str_claim(&claims, "sd_hash").map_err(kb)? != Some(&sha256_b64(sd_jwt.as_bytes())) {
            return Err(SdJwtError::SdHashMismatch);
        }
        Ok(())
    }
}

/// Replaces the digests in `object` (and in objects and arrays nested in it) with the
/// disclosed claims (RFC 9901 section 7.1 step 3). Every digest may appear once only;
/// digests without a disclosure are undisclosed claims or decoys and are dropped, as are
/// array elements `{"...": digest}` (array-element disclosures are not accepted).
/// `disclosed` collects the names disclosed at this (top) level.
fn embed(
    object: &mut Map<String, Value>,
    disclosures: &mut HashMap<String, Disclosure>,
    seen: &mut HashSet<String>,
    disclosed: Option<&mut Vec<String>>,
) -> Result<(), SdJwtError> {
    let digests = match object.remove("_sd") {
        None => Vec::new(),
        Some(Value::Array(digests)) => digests,
        Some(_) => return Err(SdJwtError::Malformed),
    };
    for value in object.values_mut() {
        embed_value(value, disclosures, seen)?;
    }
    let mut names = Vec::new();
    for digest in digests {
        let Value::String(digest) = digest else {
            return Err(SdJwtError::Malformed);
        };
        if !seen.insert(digest.clone()) {
            return Err(SdJwtError::Duplicate);
        }
        let Some(disclosure) = disclosures.remove(&digest) else {
            continue;
        };
        let name = disclosure.name().to_owned();
        if object.contains_key(&name) {
            return Err(SdJwtError::ClaimClash);
        }
        let mut value = disclosure.value().clone();
        embed_value(&mut value, disclosures, seen)?;
        object.insert(name.clone(), value);
        names.push(name);
    }
    if let Some(disclosed) = disclosed {
        disclosed.extend(names);
    }
    Ok(())
}

fn embed_value(
    value: &mut Value,
    disclosures: &mut HashMap<String, Disclosure>,
    seen: &mut HashSet<String>,
) -> Result<(), SdJwtError> {
    match value {
        Value::Object(object) => embed(object, disclosures, seen, None),
        Value::Array(items) => {
            let mut kept = Vec::with_capacity(items.len());
            for mut item in items.drain(..) {
                if let Some(Value::String(digest)) = item
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .and_then(|o| o.get("..."))
                {
                    if !seen.insert(digest.clone()) {
                        return Err(SdJwtError::Duplicate);
                    }
                    continue;
                }
                embed_value(&mut item, disclosures, seen)?;
                kept.push(item);
            }
            *items = kept;
            Ok(())
        }
        _ => Ok(()),
    }
}
