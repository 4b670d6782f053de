//! Issuing PID SD-JWT VCs, and the holder's presentation with key binding.

use jsonwebtoken::jwk::Jwk;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use super::disclosure::{Disclosure, decoy_digest, sha256_b64};
use super::{KB_JWT_TYP, SD_ALG, SD_JWT_VC_TYP, SdJwtError};
use crate::citizen::{PersonalId, PivotIdentity, Sex};
use crate::credential::status_list::StatusReference;
use crate::token::{SigningKey, es256_key_of};

/// The default credential type.
pub const DEFAULT_VCT: &str = "urn:vn:eid:pid:1";
/// The default validity of an issued credential.
pub const DEFAULT_CREDENTIAL_LIFETIME: Duration = Duration::days(365);

/// Issues PID credentials as SD-JWT VCs for one issuer identifier.
#[derive(Debug, Clone)]
pub struct PidIssuer {
    issuer: String,
    vct: String,
    lifetime: Duration,
    decoys: usize,
}

impl PidIssuer {
    /// An issuer named `issuer` (the `iss` claim, an HTTPS URL whose
    /// `/.well-known/jwt-vc-issuer` publishes the keys), with [`DEFAULT_VCT`],
    /// [`DEFAULT_CREDENTIAL_LIFETIME`] and no decoy digests.
    pub fn new(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            vct: DEFAULT_VCT.to_owned(),
            lifetime: DEFAULT_CREDENTIAL_LIFETIME,
            decoys: 0,
        }
    }

    /// Uses `vct` as the credential type.
    pub fn with_vct(mut self, vct: &str) -> Self {
        self.vct = vct.to_owned();
        self
    }

    /// Makes credentials valid for `lifetime` from issuance.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Adds `decoys` decoy digests to `_sd` (RFC 9901 section 4.2.5), hiding how many
    /// attributes the credential holds.
    pub fn with_decoys(mut self, decoys: usize) -> Self {
        self.decoys = decoys;
        self
    }

    /// Issues a credential for `identity` (as verified against the register) and its
    /// `personal_id`, bound to the holder's public key `holder` (`cnf.jwk`, RFC 7800) and
    /// pointing at its entry `status` in a status list.
    ///
    /// Each PID attribute is its own disclosure: `family_name`, `given_name` (middle and
    /// given names, as the EU PID counts every given name), `birthdate` (`YYYY-MM-DD`),
    /// `sex` (ISO/IEC 5218: 1 male, 2 female), `place_of_birth` (`{"locality": …}`),
    /// `nationalities` (alpha-2 codes) and `personal_administrative_number` (the 12-digit
    /// personal ID).
    pub fn issue(
        &self,
        key: &SigningKey,
        identity: &PivotIdentity,
        personal_id: &PersonalId,
        holder: &Jwk,
        status: &StatusReference,
        now: OffsetDateTime,
    ) -> Result<String, SdJwtError> {
        if es256_key_of(holder).is_none() {
            return Err(SdJwtError::HolderKey);
        }
        let given_name = [&identity.middle_names, &identity.given_name]
            .iter()
            .flat_map(|part| part.split_whitespace())
            .collect::<Vec<_>>()
            .join(" ");
        let sex = match identity.sex {
            Sex::Male => 1,
            Sex::Female => 2,
        };
        let birthdate = format!(
            "{:04}-{:02}-{:02}",
            identity.birth_date.year(),
            u8::from(identity.birth_date.month()),
            identity.birth_date.day()
        );
        let attributes = [
            ("family_name", json!(identity.family_name)),
            ("given_name", json!(given_name)),
            ("birthdate", json!(birthdate)),
            ("sex", json!(sex)),
            (
                "place_of_birth",
                json!({ "locality": identity.place_of_birth }),
            ),
            ("nationalities", json!([identity.nationality])),
            (
                "personal_administrative_number",
                json!(personal_id.expose()),
            ),
        ];
        let disclosures = attributes
            .into_iter()
            .map(|(name, value)| Disclosure::new(name, value))
            .collect::<Result<Vec<_>, _>>()?;
        let mut digests: Vec<String> = disclosures
            .iter()
            .map(Disclosure::digest)
            .chain((0..self.decoys).map(|_| decoy_digest()))
            .collect();
        // Sorted so the order reveals neither which attribute is where nor which are
        // decoys (RFC 9901 section 4.2.4.1).
        digests.sort_unstable();

        // Claims SD-JWT VC never discloses selectively stay in the clear (draft section
        // 3.2.2.2).
        let mut claims: Map<String, Value> = Map::new();
        claims.insert("iss".into(), self.issuer.clone().into());
        claims.insert("vct".into(), self.vct.clone().into());
        claims.insert("iat".into(), now.unix_timestamp().into());
        claims.insert("nbf".into(), now.unix_timestamp().into());
        claims.insert("exp".into(), (now + self.lifetime).unix_timestamp().into());
        claims.insert("cnf".into(), json!({ "jwk": holder }));
        claims.insert("status".into(), json!({ "status_list": status }));
        claims.insert("_sd_alg".into(), SD_ALG.into());
        claims.insert("_sd".into(), digests.into());
        let jwt = key.sign(SD_JWT_VC_TYP, &claims)?;

        let mut sd_jwt = jwt;
        sd_jwt.push('~');
        for disclosure in &disclosures {
            sd_jwt.push_str(disclosure.encoded());
            sd_jwt.push('~');
        }
        Ok(sd_jwt)
    }
}

/// The holder's presentation: keeps the disclosures of the claims named in `reveal`
/// (each must be in the credential) and appends a Key Binding JWT signed by
/// `holder_key` with `iat` = `now`, `aud` = `audience`, `nonce` and `sd_hash` over the
/// presented SD-JWT (RFC 9901 sections 4.3 and 4.3.1).
pub fn present(
    sd_jwt: &str,
    reveal: &[&str],
    holder_key: &SigningKey,
    audience: &str,
    nonce: &str,
    now: OffsetDateTime,
) -> Result<String, SdJwtError> {
    let mut parts = sd_jwt.split('~');
    let jwt = parts.next().ok_or(SdJwtError::Malformed)?;
    let disclosures = parts
        .filter(|p| !p.is_empty())
        .map(Disclosure::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let mut presented = format!("{jwt}~");
    for name in reveal {
        let disclosure = disclosures
            .iter()
            .find(|d| d.name() == *name)
            .ok_or_else(|| SdJwtError::UnknownClaim((*name).to_owned()))?;
        presented.push_str(disclosure.encoded());
        presented.push('~');
    }
    let claims = json!({
        "iat": now.unix_timestamp(),
        "aud": audience,
        "nonce": nonce,
        "sd_hash": sha256_b64(presented.as_bytes()),
    });
    let kb_jwt = holder_key.sign(KB_JWT_TYP, &claims)?;
    presented.push_str(&kb_jwt);
    Ok(presented)
}
