//! Face matching and liveness, done by an outside vendor.
//!
//! The service does not compare faces itself. A vendor adapter ([`FaceMatcher`]) sends the
//! card's portrait (DG2) and the citizen's selfie to the vendor, which answers with a
//! **signed result**: a compact JWS (ES256, `typ` `face-result+jwt`) whose claims say who
//! signed (`iss`), when (`iat`), for which check (`nonce`: the service's random reference
//! of this enrolment, so a result cannot be replayed into another), the similarity
//! (`score`, 0 to 1) and whether liveness passed (`liveness`). [`FaceVendor::verify`]
//! checks the signature against the vendor's published keys, the issuer, the nonce and the
//! age, then applies the configured threshold; the resulting [`FaceCheck`] goes into the
//! eKYC record's evidence with the signed result itself, so an auditor can re-check it.
//!
//! [`DeterministicMatcher`] is a stand-in vendor for tests and the demo: it signs the same
//! kind of result with its own key, scoring 1 for byte-identical images and 0 otherwise.
//! It is never a production matcher.

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};

use crate::token::SigningKey;

/// The `typ` of a vendor's signed result.
pub const RESULT_TYP: &str = "face-result+jwt";

/// Why a face check failed to produce a usable result.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    /// The vendor settings are unusable (no ES256 key, threshold out of 0..=1).
    #[error("invalid face vendor settings: {0}")]
    Config(&'static str),
    /// The result is not a JWS of this vendor: bad signature, unknown key, wrong `typ`,
    /// issuer or algorithm, malformed claims.
    #[error("the face check result is not a valid signed result of the vendor")]
    BadResult,
    /// The result answers another check (its `nonce` differs).
    #[error("the face check result belongs to another check")]
    WrongCheck,
    /// The result is older than allowed, or from the future.
    #[error("the face check result is stale")]
    Stale,
    /// The vendor could not be reached or refused the request.
    #[error("the face matching vendor failed: {0}")]
    Vendor(String),
}

/// The claims of a vendor's signed result.
#[derive(Debug, Serialize, Deserialize)]
struct ResultClaims {
    iss: String,
    iat: i64,
    nonce: String,
    score: f64,
    liveness: bool,
}

/// A verified face check, as the eKYC record's evidence keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceCheck {
    /// The vendor (its `iss`).
    pub vendor: String,
    /// The similarity the vendor reported, 0 to 1.
    pub score: f64,
    /// The threshold applied.
    pub threshold: f64,
    /// Whether the vendor's liveness check passed.
    pub liveness: bool,
    /// Whether the check passed: liveness and `score >= threshold`.
    pub passed: bool,
    /// When the vendor signed the result (unix seconds).
    pub checked_at: i64,
    /// The signed result itself, for audit.
    pub signed_result: String,
}

/// A face matching vendor as the service trusts it.
pub struct FaceVendor {
    issuer: String,
    keys: Vec<DecodingKey>,
    threshold: f64,
    max_age: Duration,
}

impl FaceVendor {
    /// The vendor `issuer` with its public keys (a JWKS document; ES256 keys are used),
    /// accepting results with a score of at least `threshold` signed at most `max_age` ago.
    pub fn new(
        issuer: &str,
        jwks: &str,
        threshold: f64,
        max_age: Duration,
    ) -> Result<Self, FaceError> {
        if !(0.0..=1.0).contains(&threshold) {
            return Err(FaceError::Config("the threshold must be between 0 and 1"));
        }
        let set: JwkSet =
            serde_json::from_str(jwks).map_err(|_| FaceError::Config("unreadable JWKS"))?;
        let keys: Vec<DecodingKey> = set
            .keys
            .iter()
            .filter_map(|jwk| DecodingKey::from_jwk(jwk).ok())
            .collect();
        if keys.is_empty() {
            return Err(FaceError::Config("the JWKS holds no usable key"));
        }
        Ok(Self {
            issuer: issuer.to_owned(),
            keys,
            threshold,
            max_age,
        })
    }

    /// Verifies the vendor's `signed_result` for the check `nonce` at `now`.
    pub fn verify(
        &self,
        signed_result: &str,
        nonce: &str,
        now: OffsetDateTime,
    ) -> Result<FaceCheck, FaceError> {
        let header =
            jsonwebtoken::decode_header(signed_result).map_err(|_| FaceError::BadResult)?;
        if header.alg != Algorithm::ES256 || header.typ.as_deref() != Some(RESULT_TYP) {
            return Err(FaceError::BadResult);
        }
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["iss"]);
        validation.validate_exp = false;
        let claims = self
            .keys
            .iter()
            .find_map(|key| {
                jsonwebtoken::decode::<ResultClaims>(signed_result, key, &validation).ok()
            })
            .ok_or(FaceError::BadResult)?
            .claims;
        if claims.nonce != nonce {
            return Err(FaceError::WrongCheck);
        }
        let age = now.unix_timestamp() - claims.iat;
        if age < -60 || age > self.max_age.whole_seconds() {
            return Err(FaceError::Stale);
        }
        if !(0.0..=1.0).contains(&claims.score) {
            return Err(FaceError::BadResult);
        }
        Ok(FaceCheck {
            vendor: claims.iss,
            score: claims.score,
            threshold: self.threshold,
            liveness: claims.liveness,
            passed: claims.liveness && claims.score >= self.threshold,
            checked_at: claims.iat,
            signed_result: signed_result.to_owned(),
        })
    }
}

/// A vendor adapter: compares the card's `portrait` with the citizen's `selfie` for the
/// check `nonce` and returns the vendor's signed result.
#[async_trait]
pub trait FaceMatcher: Send + Sync {
    /// Asks the vendor.
    async fn compare(
        &self,
        portrait: &[u8],
        selfie: &[u8],
        nonce: &str,
    ) -> Result<String, FaceError>;
}

/// A deterministic stand-in vendor for tests and the demo (see the module docs).
pub struct DeterministicMatcher {
    issuer: String,
    key: SigningKey,
}

impl DeterministicMatcher {
    /// A stand-in vendor named `issuer` signing with `key`.
    pub fn new(issuer: &str, key: SigningKey) -> Self {
        Self {
            issuer: issuer.to_owned(),
            key,
        }
    }

    /// Its public keys, as a JWKS document for [`FaceVendor::new`].
    pub fn jwks(&self) -> String {
        serde_json::json!({ "keys": [self.key.jwk()] }).to_string()
    }
}

#[async_trait]
impl FaceMatcher for DeterministicMatcher {
    async fn compare(
        &self,
        portrait: &[u8],
        selfie: &[u8],
        nonce: &str,
    ) -> Result<String, FaceError> {
        let same = Sha256::digest(portrait) == Sha256::digest(selfie);
        let claims = ResultClaims {
            iss: self.issuer.clone(),
            iat: OffsetDateTime::now_utc().unix_timestamp(),
            nonce: nonce.to_owned(),
            score: if same { 1.0 } else { 0.0 },
            liveness: !selfie.is_empty(),
        };
        self.key
            .sign(RESULT_TYP, &claims)
            .map_err(|err| FaceError::Vendor(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VENDOR: &str = "https://face-vendor.example";

    fn setup() -> (DeterministicMatcher, FaceVendor) {
        let matcher = DeterministicMatcher::new(VENDOR, SigningKey::generate().unwrap());
        let vendor = FaceVendor::new(VENDOR, &matcher.jwks(), 0.8, Duration::minutes(5)).unwrap();
        (matcher, vendor)
    }

    #[tokio::test]
    async fn a_match_passes_and_a_different_face_fails() {
        let (matcher, vendor) = setup();
        let now = OffsetDateTime::now_utc();
        let same = matcher.compare(b"face", b"face", "n1").await.unwrap();
        let check = vendor.verify(&same, "n1", now).unwrap();
        assert!(check.passed && check.liveness);
        assert_eq!((check.score, check.threshold), (1.0, 0.8));
        assert_eq!(check.vendor, VENDOR);
        let other = matcher.compare(b"face", b"another", "n2").await.unwrap();
        assert!(!vendor.verify(&other, "n2", now).unwrap().passed);
        let no_selfie = matcher.compare(b"face", b"", "n3").await.unwrap();
        assert!(!vendor.verify(&no_selfie, "n3", now).unwrap().liveness);
    }

    #[tokio::test]
    async fn forged_replayed_and_stale_results_are_refused() {
        let (matcher, vendor) = setup();
        let now = OffsetDateTime::now_utc();
        let result = matcher.compare(b"face", b"face", "n1").await.unwrap();
        assert!(matches!(
            vendor.verify(&result, "another check", now),
            Err(FaceError::WrongCheck)
        ));
        assert!(matches!(
            vendor.verify(&result, "n1", now + Duration::minutes(10)),
            Err(FaceError::Stale)
        ));
        // Another key claiming to be the vendor.
        let impostor = DeterministicMatcher::new(VENDOR, SigningKey::generate().unwrap());
        let forged = impostor.compare(b"a", b"b", "n1").await.unwrap();
        assert!(matches!(
            vendor.verify(&forged, "n1", now),
            Err(FaceError::BadResult)
        ));
        // A tampered score.
        let mut parts: Vec<String> = result.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert!(matches!(
            vendor.verify(&parts.join("."), "n1", now),
            Err(FaceError::BadResult)
        ));
        assert!(matches!(
            vendor.verify("not a jws", "n1", now),
            Err(FaceError::BadResult)
        ));
    }

    #[test]
    fn settings_are_checked() {
        let (matcher, _) = setup();
        let jwks = matcher.jwks();
        assert!(FaceVendor::new(VENDOR, &jwks, 1.5, Duration::minutes(5)).is_err());
        assert!(FaceVendor::new(VENDOR, "{\"keys\":[]}", 0.8, Duration::minutes(5)).is_err());
        assert!(FaceVendor::new(VENDOR, "nope", 0.8, Duration::minutes(5)).is_err());
    }
}
