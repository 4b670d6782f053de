//! Issuing ID tokens and RFC 9068 access tokens, signed by the key ring's active key.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::claims::{AccessTokenClaims, Audience, IdTokenClaims, at_hash};
use super::keyring::{KeyRing, KeyRingError};
use super::subject::{PairwiseSalt, SectorId, SubjectType};
use crate::assurance::{AcrTable, Loa};

/// JOSE `typ` of ID tokens.
pub const ID_TOKEN_TYP: &str = "JWT";
/// JOSE `typ` of access tokens (RFC 9068 section 2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// A token lifetime is zero or negative.
    #[error("token lifetimes must be positive")]
    InvalidLifetime,
    /// The system random generator failed (token id).
    #[error("random generator failure")]
    Random,
    /// Signing failed.
    #[error(transparent)]
    Signing(#[from] KeyRingError),
}

/// A relying party as far as tokens are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// OAuth `client_id`.
    pub client_id: String,
    /// How the client sees `sub`.
    pub subject_type: SubjectType,
}

impl RelyingParty {
    /// A client with pairwise subjects in `sector` (the default).
    pub fn pairwise(client_id: impl Into<String>, sector: SectorId) -> Self {
        Self {
            client_id: client_id.into(),
            subject_type: SubjectType::Pairwise(sector),
        }
    }

    /// A client that sees the public `sub` (the local account id).
    pub fn public(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            subject_type: SubjectType::Public,
        }
    }
}

/// What is known about the citizen's authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    /// Local account id.
    pub account: Uuid,
    /// When the citizen authenticated, if known.
    pub auth_time: Option<OffsetDateTime>,
    /// Level of assurance reached, if known; becomes `acr`.
    pub loa: Option<Loa>,
    /// Authentication methods (RFC 8176, e.g. `pwd`, `hwk`, `user`).
    pub amr: Vec<String>,
}

/// Inputs of an ID token. `Debug` leaves out the access token.
#[derive(Clone, Copy)]
pub struct IdTokenRequest<'a> {
    /// The authentication being asserted.
    pub auth: &'a Authentication,
    /// The client the token is for.
    pub client: &'a RelyingParty,
    /// The `nonce` from the authorization request.
    pub nonce: Option<&'a str>,
    /// The access token issued alongside, bound by `at_hash`.
    pub access_token: Option<&'a str>,
}

impl std::fmt::Debug for IdTokenRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenRequest")
            .field("auth", &self.auth)
            .field("client", &self.client)
            .field("nonce", &self.nonce)
            .field("access_token", &self.access_token.map(|_| "<redacted>"))
            .finish()
    }
}

/// Inputs of an access token.
#[derive(Debug, Clone, Copy)]
pub struct AccessTokenRequest<'a> {
    /// The authentication the grant rests on.
    pub auth: &'a Authentication,
    /// The client the token is issued to.
    pub client: &'a RelyingParty,
    /// The resource server(s) that will accept it.
    pub audience: &'a Audience,
    /// Granted scopes, space-separated.
    pub scope: &'a str,
}

/// A signed access token and its metadata.
pub struct IssuedAccessToken {
    /// The compact JWS.
    pub token: String,
    /// Its `jti`.
    pub jti: String,
    /// Its expiry.
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for IssuedAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedAccessToken")
            .field("jti", &self.jti)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Issues tokens for one issuer identifier.
#[derive(Debug)]
pub struct TokenIssuer {
    issuer: String,
    acr: AcrTable,
    salt: PairwiseSalt,
    id_token_lifetime: Duration,
    access_token_lifetime: Duration,
}

impl TokenIssuer {
    /// Default ID token lifetime.
    pub const DEFAULT_ID_TOKEN_LIFETIME: Duration = Duration::minutes(5);
    /// Default access token lifetime.
    pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::minutes(10);

    /// An issuer with the default lifetimes and `acr` table.
    pub fn new(issuer: impl Into<String>, salt: PairwiseSalt) -> Self {
        Self {
            issuer: issuer.into(),
            acr: AcrTable::default(),
            salt,
            id_token_lifetime: Self::DEFAULT_ID_TOKEN_LIFETIME,
            access_token_lifetime: Self::DEFAULT_ACCESS_TOKEN_LIFETIME,
        }
    }

    /// Uses `acr` to name levels of assurance.
    pub fn with_acr_table(mut self, acr: AcrTable) -> Self {
        self.acr = acr;
        self
    }

    /// Sets the ID token and access token lifetimes (both must be positive).
    pub fn with_lifetimes(
        mut self,
        id_token: Duration,
        access_token: Duration,
    ) -> Result<Self, IssueError> {
        if !id_token.is_positive() || !access_token.is_positive() {
            return Err(IssueError::InvalidLifetime);
        }
        self.id_token_lifetime = id_token;
        self.access_token_lifetime = access_token;
        Ok(self)
    }

    /// The longest lifetime of any token issued: how long a retired key must stay
    /// published (add the verifiers' leeway) before [`KeyRing::prune`] drops it.
    pub fn max_token_lifetime(&self) -> Duration {
        self.id_token_lifetime.max(self.access_token_lifetime)
    }

    /// The `sub` that `client` sees for `account`.
    pub fn subject(&self, client: &RelyingParty, account: Uuid) -> String {
        self.salt.subject(&client.subject_type, account)
    }

    /// Issues a signed ID token at `now`.
    pub fn issue_id_token(
        &self,
        ring: &KeyRing,
        req: &IdTokenRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<String, IssueError> {
        let claims = IdTokenClaims {
            iss: self.issuer.clone(),
            sub: self.subject(req.client, req.auth.account),
            aud: Audience::One(req.client.client_id.clone()),
            azp: None,
            exp: (now + self.id_token_lifetime).unix_timestamp(),
            iat: now.unix_timestamp(),
            nbf: None,
            auth_time: req.auth.auth_time.map(OffsetDateTime::unix_timestamp),
            nonce: req.nonce.map(str::to_owned),
            acr: self.acr_of(req.auth),
            amr: req.auth.amr.clone(),
            at_hash: req.access_token.map(at_hash),
        };
        Ok(ring.active().sign(ID_TOKEN_TYP, &claims)?)
    }

    /// Issues a signed RFC 9068 access token at `now`.
    pub fn issue_access_token(
        &self,
        ring: &KeyRing,
        req: &AccessTokenRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<IssuedAccessToken, IssueError> {
        let expires_at = now + self.access_token_lifetime;
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: self.subject(req.client, req.auth.account),
            aud: req.audience.clone(),
            exp: expires_at.unix_timestamp(),
            iat: now.unix_timestamp(),
            nbf: None,
            jti: new_jti()?,
            client_id: req.client.client_id.clone(),
            scope: req.scope.to_owned(),
            auth_time: req.auth.auth_time.map(OffsetDateTime::unix_timestamp),
            acr: self.acr_of(req.auth),
        };
        let token = ring.active().sign(ACCESS_TOKEN_TYP, &claims)?;
        Ok(IssuedAccessToken {
            token,
            jti: claims.jti,
            expires_at,
        })
    }

    /// Issues an RFC 9068 access token at `now` for a client acting on its own behalf
    /// (`client_credentials`): `sub` is the client id (RFC 9068 section 2.2), and there is
    /// no citizen, `auth_time` or `acr`.
    pub fn issue_client_access_token(
        &self,
        ring: &KeyRing,
        client_id: &str,
        audience: &Audience,
        scope: &str,
        now: OffsetDateTime,
    ) -> Result<IssuedAccessToken, IssueError> {
        let expires_at = now + self.access_token_lifetime;
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: client_id.to_owned(),
            aud: audience.clone(),
            exp: expires_at.unix_timestamp(),
            iat: now.unix_timestamp(),
            nbf: None,
            jti: new_jti()?,
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            auth_time: None,
            acr: None,
        };
        let token = ring.active().sign(ACCESS_TOKEN_TYP, &claims)?;
        Ok(IssuedAccessToken {
            token,
            jti: claims.jti,
            expires_at,
        })
    }

    /// The issuer identifier (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `acr` table naming levels.
    pub fn acr_table(&self) -> &AcrTable {
        &self.acr
    }

    /// The access token lifetime.
    pub fn access_token_lifetime(&self) -> Duration {
        self.access_token_lifetime
    }

    fn acr_of(&self, auth: &Authentication) -> Option<String> {
        auth.loa.map(|loa| self.acr.acr(loa).to_owned())
    }
}

/// 128 random bits, base64url.
fn new_jti() -> Result<String, IssueError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| IssueError::Random)?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::dangerous::insecure_decode;
    use serde_json::{Value, json};

    use super::*;
    use crate::assurance::EIDAS_SUBSTANTIAL;
    use crate::token::testing::{ACCOUNT, ISSUER, T0, citizen, client, issuer};

    #[test]
    fn id_token_carries_the_oidc_claims() {
        let ring = KeyRing::generate().unwrap();
        let auth = citizen(Some(Loa::Substantial));
        let rp = client("bank", "bank.example.vn");
        let req = IdTokenRequest {
            auth: &auth,
            client: &rp,
            nonce: Some("n-0S6_WzA2Mj"),
            access_token: Some("the-access-token"),
        };
        let token = issuer().issue_id_token(&ring, &req, T0).unwrap();
        let data = insecure_decode::<Value>(&token).unwrap();
        assert_eq!(data.header.alg, jsonwebtoken::Algorithm::ES256);
        assert_eq!(data.header.typ.as_deref(), Some(ID_TOKEN_TYP));
        assert_eq!(data.header.kid.as_deref(), Some(ring.active().kid()));
        let iat = T0.unix_timestamp();
        assert_eq!(
            data.claims,
            json!({
                "iss": ISSUER,
                "sub": issuer().subject(&rp, ACCOUNT),
                "aud": "bank",
                "exp": iat + 300,
                "iat": iat,
                "auth_time": iat - 60,
                "nonce": "n-0S6_WzA2Mj",
                "acr": EIDAS_SUBSTANTIAL,
                "amr": ["hwk", "user"],
                "at_hash": at_hash("the-access-token"),
            })
        );
    }

    #[test]
    fn access_token_follows_rfc9068() {
        let ring = KeyRing::generate().unwrap();
        let auth = Authentication {
            auth_time: None,
            ..citizen(None)
        };
        let rp = RelyingParty::public("bank");
        let aud = Audience::Many(vec!["https://api.example.vn".to_owned()]);
        let req = AccessTokenRequest {
            auth: &auth,
            client: &rp,
            audience: &aud,
            scope: "openid profile",
        };
        let issued = issuer().issue_access_token(&ring, &req, T0).unwrap();
        assert_eq!(issued.expires_at, T0 + Duration::minutes(10));
        let data = insecure_decode::<Value>(&issued.token).unwrap();
        assert_eq!(data.header.typ.as_deref(), Some(ACCESS_TOKEN_TYP));
        let iat = T0.unix_timestamp();
        assert_eq!(
            data.claims,
            json!({
                "iss": ISSUER,
                "sub": ACCOUNT.to_string(),
                "aud": ["https://api.example.vn"],
                "exp": iat + 600,
                "iat": iat,
                "jti": issued.jti,
                "client_id": "bank",
                "scope": "openid profile",
            })
        );
        let again = issuer().issue_access_token(&ring, &req, T0).unwrap();
        assert_ne!(issued.jti, again.jti);
        assert_eq!(issued.jti.len(), 22);
        assert!(!format!("{issued:?}").contains(&issued.token));
    }

    #[test]
    fn client_access_token_names_the_client_as_subject() {
        let ring = KeyRing::generate().unwrap();
        let aud = Audience::One(ISSUER.to_owned());
        let issued = issuer()
            .issue_client_access_token(&ring, "batch-job", &aud, "", T0)
            .unwrap();
        let claims: Value = insecure_decode::<Value>(&issued.token).unwrap().claims;
        assert_eq!(claims["sub"], "batch-job");
        assert_eq!(claims["client_id"], "batch-job");
        assert_eq!(claims["aud"], ISSUER);
        assert!(claims.get("acr").is_none() && claims.get("auth_time").is_none());
        assert_eq!(claims["jti"], issued.jti.as_str());
    }

    #[test]
    fn lifetimes_must_be_positive() {
        let ok = issuer()
            .with_lifetimes(Duration::minutes(2), Duration::hours(1))
            .unwrap();
        assert_eq!(ok.max_token_lifetime(), Duration::hours(1));
        for (id, access) in [
            (Duration::ZERO, Duration::hours(1)),
            (Duration::hours(1), Duration::seconds(-1)),
        ] {
            assert!(matches!(
                issuer().with_lifetimes(id, access),
                Err(IssueError::InvalidLifetime)
            ));
        }
    }
}
