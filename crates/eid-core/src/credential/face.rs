//! Face matching and liveness, done by an outside vendor.
//!
//! The service does not compare faces itself. A vendor adapter ([`FaceMatcher`]) sends the
//! card's portrait (the EF.DG2 contents read from the chip) and the citizen's selfie to the
//! vendor, which answers with a **signed result**: a compact JWS (ES256, `typ`
//! `face-result+jwt`) whose claims say who signed (`iss`), when (`iat`), for which check
//! (`nonce`: the service's random reference of this enrolment, so a result cannot be
//! replayed into another), against which reference portrait (`portrait_sha256`, see
//! [`PortraitDigest`]), the similarity (`score`, 0 to 1) and whether liveness passed
//! (`liveness`). [`FaceVendor::verify`] checks the signature against the vendor's published
//! keys, the issuer, the nonce, that the portrait is the one the caller verified (passive
//! authentication of that very DG2), and the age, then applies the configured threshold; the
//! resulting [`FaceCheck`] goes into the eKYC record's evidence with the signed result
//! itself, so an auditor can re-check it.
//!
//! Without the portrait binding, a result comparing someone's selfie with their *own* photo
//! could be uploaded beside a copy of another citizen's genuine chip data (passive
//! authentication cannot tell a copy from the chip): the digest ties the match to the
//! portrait the issuing state signed.
//!
//! [`DeterministicMatcher`] is a stand-in vendor for tests and the demo: it signs the same
//! kind of result with its own key, scoring 1 for byte-identical images and 0 otherwise.
//! It is never a production matcher.

use async_trait::async_trait;
use base64ct::{Base64UrlUnpadded, Encoding as _};
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
    /// The vendor compared the selfie with another portrait than the card's (its
    /// `portrait_sha256` differs from the verified DG2's).
    #[error("the face check result compared another portrait than the card's")]
    WrongPortrait,
    /// The result is older than allowed, or from the future.
    #[error("the face check result is stale")]
    Stale,
    /// The vendor could not be reached or refused the request.
    #[error("the face matching vendor failed: {0}")]
    Vendor(String),
}

/// The SHA-256 of the reference portrait a vendor compared the selfie with: SHA-256 over the
/// EF.DG2 contents exactly as read from the chip and uploaded (the whole EF, from its `75`
/// tag to its last byte, not the image inside it). A signed result carries it in its
/// `portrait_sha256` claim as unpadded base64url (RFC 4648 §5), 43 characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortraitDigest([u8; 32]);

impl PortraitDigest {
    /// The digest of `dg2`, the EF.DG2 contents.
    pub fn of(dg2: &[u8]) -> Self {
        Self(Sha256::digest(dg2).into())
    }

    /// The `portrait_sha256` claim value.
    pub fn to_claim(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.0)
    }

    /// Reads a `portrait_sha256` claim value: unpadded base64url of exactly 32 bytes.
    fn from_claim(value: &str) -> Option<Self> {
        let mut digest = [0u8; 32];
        match Base64UrlUnpadded::decode(value, &mut digest) {
            Ok(decoded) if decoded.len() == 32 => Some(Self(digest)),
            _ => None,
        }
    }
}

/// The claims of a vendor's signed result.
#[derive(Debug, Serialize, Deserialize)]
struct ResultClaims {
    iss: String,
    iat: i64,
    nonce: String,
    portrait_sha256: String,
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
    /// The reference portrait the vendor compared with ([`PortraitDigest::to_claim`]).
    pub portrait_sha256: String,
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

    /// Verifies the vendor's `signed_result` for the check `nonce` against the card's
    /// `portrait` (the digest of the DG2 that passed passive authentication) at `now`.
    pub fn verify(
        &self,
        signed_result: &str,
        nonce: &str,
        portrait: &PortraitDigest,
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
        let compared =
            PortraitDigest::from_claim(&claims.portrait_sha256).ok_or(FaceError::BadResult)?;
        if compared != *portrait {
            return Err(FaceError::WrongPortrait);
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
            portrait_sha256: claims.portrait_sha256,
            checked_at: claims.iat,
            signed_result: signed_result.to_owned(),
        })
    }
}

/// A vendor adapter: compares the card's `portrait` (the EF.DG2 contents as read from the
/// chip) with the citizen's `selfie` for the check `nonce` and returns the vendor's signed
/// result, which must carry [`PortraitDigest::of`] `portrait` as `portrait_sha256`.
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
            portrait_sha256: PortraitDigest::of(portrait).to_claim(),
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

    #[test]
    fn the_portrait_digest_is_sha256_of_dg2_in_unpadded_base64url() {
        // SHA-256("abc"), FIPS 180-4 example, in base64url without padding.
        let digest = PortraitDigest::of(b"abc");
        assert_eq!(
            digest.to_claim(),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert_eq!(PortraitDigest::from_claim(&digest.to_claim()), Some(digest));
        for bad in [
            "",
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=",
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0AAAA",
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIA",
        ] {
            assert_eq!(PortraitDigest::from_claim(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_match_passes_and_a_different_face_fails() {
        let (matcher, vendor) = setup();
        let now = OffsetDateTime::now_utc();
        let card = PortraitDigest::of(b"face");
        let same = matcher.compare(b"face", b"face", "n1").await.unwrap();
        let check = vendor.verify(&same, "n1", &card, now).unwrap();
        assert!(check.passed && check.liveness);
        assert_eq!((check.score, check.threshold), (1.0, 0.8));
        assert_eq!(check.vendor, VENDOR);
        assert_eq!(check.portrait_sha256, card.to_claim());
        let other = matcher.compare(b"face", b"another", "n2").await.unwrap();
        assert!(!vendor.verify(&other, "n2", &card, now).unwrap().passed);
        let no_selfie = matcher.compare(b"face", b"", "n3").await.unwrap();
        assert!(
            !vendor
                .verify(&no_selfie, "n3", &card, now)
                .unwrap()
                .liveness
        );
    }

    #[tokio::test]
    async fn a_result_for_another_portrait_is_refused() {
        let (matcher, vendor) = setup();
        let now = OffsetDateTime::now_utc();
        // The attacker's selfie matched against the attacker's own photo, for this check,
        // uploaded beside a copy of someone else's chip (whose DG2 is `victim`).
        let victim = PortraitDigest::of(b"victim's DG2");
        let own = matcher
            .compare(b"attacker", b"attacker", "n1")
            .await
            .unwrap();
        assert!(matches!(
            vendor.verify(&own, "n1", &victim, now),
            Err(FaceError::WrongPortrait)
        ));
        // The same result verifies against the portrait it was made for.
        let attacker = PortraitDigest::of(b"attacker");
        assert!(vendor.verify(&own, "n1", &attacker, now).unwrap().passed);
    }

    #[tokio::test]
    async fn forged_replayed_and_stale_results_are_refused() {
        let (matcher, vendor) = setup();
        let now = OffsetDateTime::now_utc();
        let card = PortraitDigest::of(b"face");
        let result = matcher.compare(b"face", b"face", "n1").await.unwrap();
        assert!(matches!(
            vendor.verify(&result, "another check", &card, now),
            Err(FaceError::WrongCheck)
        ));
        assert!(matches!(
            vendor.verify(&result, "n1", &card, now + Duration::minutes(10)),
            Err(FaceError::Stale)
        ));
        // Another key claiming to be the vendor.
        let impostor = DeterministicMatcher::new(VENDOR, SigningKey::generate().unwrap());
        let forged = impostor.compare(b"face", b"face", "n1").await.unwrap();
        assert!(matches!(
            vendor.verify(&forged, "n1", &card, now),
            Err(FaceError::BadResult)
        ));
        // A tampered score.
        let mut parts: Vec<String> = result.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert!(matches!(
            vendor.verify(&parts.join("."), "n1", &card, now),
            Err(FaceError::BadResult)
        ));
        assert!(matches!(
            vendor.verify("not a jws", "n1", &card, now),
            Err(FaceError::BadResult)
        ));
    }

    #[test]
    fn a_result_without_a_readable_portrait_digest_is_refused() {
        let key = SigningKey::generate().unwrap();
        let jwks = serde_json::json!({ "keys": [key.jwk()] }).to_string();
        let vendor = FaceVendor::new(VENDOR, &jwks, 0.8, Duration::minutes(5)).unwrap();
        let now = OffsetDateTime::now_utc();
        let card = PortraitDigest::of(b"face");
        let claims = |portrait_sha256: &str| ResultClaims {
            iss: VENDOR.to_owned(),
            iat: now.unix_timestamp(),
            nonce: "n1".to_owned(),
            portrait_sha256: portrait_sha256.to_owned(),
            score: 1.0,
            liveness: true,
        };
        // The hex digest, not base64url.
        let hex: String = Sha256::digest(b"face")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let signed = key.sign(RESULT_TYP, &claims(&hex)).unwrap();
        assert!(matches!(
            vendor.verify(&signed, "n1", &card, now),
            Err(FaceError::BadResult)
        ));
        // No `portrait_sha256` claim at all (a result of an unbound vendor).
        let unbound = serde_json::json!({
            "iss": VENDOR, "iat": now.unix_timestamp(), "nonce": "n1",
            "score": 1.0, "liveness": true,
        });
        let signed = key.sign(RESULT_TYP, &unbound).unwrap();
        assert!(matches!(
            vendor.verify(&signed, "n1", &card, now),
            Err(FaceError::BadResult)
        ));
        // The right digest, signed the same way, verifies.
        let signed = key.sign(RESULT_TYP, &claims(&card.to_claim())).unwrap();
        assert!(vendor.verify(&signed, "n1", &card, now).unwrap().passed);
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
