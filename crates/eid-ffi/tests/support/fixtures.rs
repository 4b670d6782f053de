//! Tokens and credentials issued by eid-core for the C library's tests and benchmark:
//! good ones and every kind of bad one, signed now (the library checks times against
//! the real clock).

#![allow(dead_code)] // Each test crate uses a different part.

use base64ct::{Base64UrlUnpadded, Encoding};
use eid_core::assurance::Loa;
use eid_core::citizen::{PersonalId, PivotIdentity, Sex};
use eid_core::credential::sdjwt::{PidIssuer, present};
use eid_core::credential::status_list::{
    StatusList, StatusReference, TokenStatus, sign_status_list_token,
};
use eid_core::token::{
    AccessTokenRequest, Audience, Authentication, IdTokenRequest, KeyRing, PairwiseSalt,
    RelyingParty, SectorId, SigningKey, TokenIssuer,
};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The issuer every fixture names.
pub const ISSUER: &str = "https://eid.example.vn";
/// The relying party's client id: the audience of ID tokens.
pub const CLIENT_ID: &str = "bank";
/// The resource server: the audience of access tokens.
pub const API: &str = "https://api.bank.example.vn";
/// The nonce in ID tokens.
pub const NONCE: &str = "n-0S6_WzA2Mj";
/// The personal ID in tokens and credentials.
pub const PERSONAL_ID: &str = "001090012345";
/// The verifier's identifier and nonce in eKYC presentations.
pub const VERIFIER: &str = "https://bank.example.vn";
/// The nonce the verifier gave the holder.
pub const KB_NONCE: &str = "kb-nonce-7";
/// Where the credential's status list is published.
pub const STATUS_URI: &str = "https://eid.example.vn/status-lists/1";
/// The credential's index in the status list.
pub const STATUS_IDX: usize = 42;

/// An issuer's key ring and token issuer.
pub struct Fixtures {
    pub ring: KeyRing,
    issuer: TokenIssuer,
}

impl Default for Fixtures {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixtures {
    pub fn new() -> Self {
        Self {
            ring: KeyRing::generate().unwrap(),
            issuer: TokenIssuer::new(ISSUER, PairwiseSalt::new(&[7; 32]).unwrap()),
        }
    }

    /// The issuer's JWKS document.
    pub fn jwks(&self) -> String {
        serde_json::to_string(&self.ring.jwks()).unwrap()
    }

    fn citizen(loa: Option<Loa>) -> Authentication {
        Authentication {
            account: Uuid::from_u128(0x1111_2222_3333_4444_5555_6666_7777_8888),
            auth_time: Some(OffsetDateTime::now_utc() - Duration::minutes(1)),
            loa,
            amr: vec!["hwk".to_owned(), "user".to_owned(), "mfa".to_owned()],
        }
    }

    fn client() -> RelyingParty {
        RelyingParty::pairwise(CLIENT_ID, SectorId::new("bank.example.vn").unwrap())
    }

    /// An ID token for [`CLIENT_ID`] at `loa`, issued now by eid-core's issuer.
    pub fn id_token(&self, loa: Loa) -> String {
        let auth = Self::citizen(Some(loa));
        let client = Self::client();
        let request = IdTokenRequest {
            auth: &auth,
            client: &client,
            nonce: Some(NONCE),
            access_token: None,
        };
        self.issuer
            .issue_id_token(&self.ring, &request, OffsetDateTime::now_utc())
            .unwrap()
    }

    /// An access token for [`API`] at `loa`, issued now by eid-core's issuer.
    pub fn access_token(&self, loa: Loa) -> String {
        let auth = Self::citizen(Some(loa));
        let client = Self::client();
        let request = AccessTokenRequest {
            auth: &auth,
            client: &client,
            audience: &Audience::from(API),
            scope: "openid profile personal_id",
        };
        self.issuer
            .issue_access_token(&self.ring, &request, OffsetDateTime::now_utc())
            .unwrap()
            .token
    }

    /// The subject [`CLIENT_ID`] sees.
    pub fn subject(&self) -> String {
        let account = Self::citizen(None).account;
        self.issuer.subject(&Self::client(), account)
    }

    /// A valid ID token payload with identity claims (as an ID token carries them when
    /// no access token is issued), issued now, to adjust and [`Self::sign`].
    pub fn id_claims(&self) -> Value {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        json!({
            "iss": ISSUER, "sub": self.subject(), "aud": CLIENT_ID,
            "iat": now, "exp": now + 300, "auth_time": now - 60, "nonce": NONCE,
            "acr": "http://eidas.europa.eu/LoA/high", "amr": ["hwk", "user", "mfa"],
            "name": "Nguyễn Thị Thu Hương", "family_name": "Nguyễn",
            "middle_name": "Thị Thu", "given_name": "Hương",
            "birthdate": "1990-03-07", "personal_id": PERSONAL_ID,
        })
    }

    /// `claims` signed as an ID token by the active key.
    pub fn sign(&self, claims: &Value) -> String {
        self.ring.active().sign("JWT", claims).unwrap()
    }

    /// An ID token that expired ten minutes ago (beyond any leeway up to 5 minutes).
    pub fn expired_id_token(&self) -> String {
        let mut claims = self.id_claims();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        claims["iat"] = json!(now - 3600);
        claims["auth_time"] = json!(now - 3600);
        claims["exp"] = json!(now - 600);
        self.sign(&claims)
    }

    /// An ID token for another client.
    pub fn wrong_audience_id_token(&self) -> String {
        let mut claims = self.id_claims();
        claims["aud"] = json!("someone-else");
        self.sign(&claims)
    }

    /// A valid ID token from another key ring claiming this ring's key id.
    pub fn foreign_key_id_token(&self) -> String {
        let other = SigningKey::generate().unwrap();
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.ring.active().kid()});
        other.sign_with_header(&header, &self.id_claims()).unwrap()
    }
}

/// `token` with its payload's `sub` changed and the signature kept.
pub fn tampered(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("someone-else");
    let payload = Base64UrlUnpadded::encode_string(claims.to_string().as_bytes());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

/// `token` re-headed `alg: none` with an empty signature.
pub fn alg_none(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let header = Base64UrlUnpadded::encode_string(br#"{"alg":"none","typ":"JWT"}"#);
    format!("{header}.{payload}.")
}

/// A PID credential with every attribute, presented with all of them disclosed and a
/// key binding for [`VERIFIER`] / [`KB_NONCE`], plus Status List Tokens for its entry.
pub struct Credential {
    /// The presentation: `<jwt>~<disclosures>~<kb-jwt>`.
    pub presentation: String,
    /// The same credential presented without a key binding JWT.
    pub without_key_binding: String,
    /// A Status List Token where the credential is VALID.
    pub status_valid: String,
    /// One where it is SUSPENDED.
    pub status_suspended: String,
    /// One where it is INVALID (revoked).
    pub status_revoked: String,
}

impl Fixtures {
    /// A credential issued now to a fresh holder key.
    pub fn credential(&self) -> Credential {
        let now = OffsetDateTime::now_utc();
        let holder = SigningKey::generate().unwrap();
        let identity = PivotIdentity {
            family_name: "Nguyễn".to_owned(),
            middle_names: "Thị Thu".to_owned(),
            given_name: "Hương".to_owned(),
            birth_date: time::macros::date!(1990 - 03 - 07),
            sex: Sex::Female,
            place_of_birth: "Hà Nội".to_owned(),
            nationality: "VN".to_owned(),
        };
        let reference = StatusReference {
            idx: STATUS_IDX,
            uri: STATUS_URI.to_owned(),
        };
        let sd_jwt = PidIssuer::new(ISSUER)
            .issue(
                self.ring.active(),
                &identity,
                &PersonalId::parse(PERSONAL_ID).unwrap(),
                holder.jwk(),
                &reference,
                now,
            )
            .unwrap();
        let all = [
            "family_name",
            "given_name",
            "birthdate",
            "personal_administrative_number",
        ];
        let presentation = present(&sd_jwt, &all, &holder, VERIFIER, KB_NONCE, now).unwrap();
        let status = |value| {
            let mut list = StatusList::new(2, 1024).unwrap();
            list.set(STATUS_IDX, value).unwrap();
            sign_status_list_token(
                self.ring.active(),
                &list,
                STATUS_URI,
                now,
                Duration::hours(1),
                None,
            )
            .unwrap()
        };
        Credential {
            presentation,
            without_key_binding: sd_jwt,
            status_valid: status(TokenStatus::Valid),
            status_suspended: status(TokenStatus::Suspended),
            status_revoked: status(TokenStatus::Invalid),
        }
    }
}
