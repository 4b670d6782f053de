//! What outlives an access token's signature check: the record of each issued access
//! token (so UserInfo knows the account behind a pairwise `sub`, and revocation works),
//! revoked token families, and the introspection (RFC 7662) and revocation (RFC 7009)
//! endpoints.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use eid_core::store::{AccountId, AccountStatus, RefreshGrant, StoreError};
use eid_core::token::{AccessTokenClaims, OpaqueToken};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::client_auth::authenticate;
use super::error::OAuthError;
use super::pages::no_store;
use super::params::Params;
use super::{Client, ClientIp, Oidc};

/// What an issued access token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessRecord {
    /// The citizen, unless the client acts for itself.
    pub account: Option<AccountId>,
    /// The refresh token family it belongs to, if any.
    pub family: Option<Uuid>,
    /// The client it was issued to.
    pub client_id: String,
}

fn record_key(jti: &str) -> String {
    format!("at:{}", eid_core::store::key_digest(&[jti.as_bytes()]))
}

fn family_key(family: Uuid) -> String {
    format!("revoked-family:{family}")
}

impl Oidc {
    fn access_lifetime(&self) -> Duration {
        self.tokens
            .access_token_lifetime()
            .try_into()
            .unwrap_or(Duration::from_secs(1))
    }

    /// Records an issued access token until it expires.
    pub(super) async fn record_access_token(
        &self,
        jti: &str,
        record: &AccessRecord,
    ) -> Result<(), StoreError> {
        let value = serde_json::to_vec(record).map_err(|_| StoreError::Corrupt("access token"))?;
        self.ephemeral
            .put(&record_key(jti), &value, self.access_lifetime())
            .await
    }

    /// Revokes a token family: its access tokens for as long as any of them can live (a
    /// marker in the ephemeral store, checked by every use), then its refresh tokens in the
    /// durable store (RFC 6749 section 4.1.2 for a replayed code, RFC 9700 section 4.14.2
    /// for a reused refresh token, RFC 7009 section 2.1 for revocation). Of concurrent
    /// revocations of one family only the first writes to the durable store.
    pub(super) async fn revoke_family(&self, family: Uuid) -> Result<(), StoreError> {
        let first = self
            .ephemeral
            .put_if_absent(&family_key(family), b"1", self.access_lifetime())
            .await?;
        if first {
            self.durable
                .revoke_refresh_family(family, time::OffsetDateTime::now_utc())
                .await?;
        }
        Ok(())
    }

    /// Whether `family` was revoked within the last access-token lifetime. Token issuance
    /// checks it after storing a new refresh token, which closes the race with a
    /// concurrent revocation that ran before the token existed.
    pub(super) async fn family_revoked(&self, family: Uuid) -> Result<bool, StoreError> {
        Ok(self.ephemeral.get(&family_key(family)).await?.is_some())
    }

    /// The claims and record of `token` if it is one of our access tokens, unexpired,
    /// not revoked and not of a revoked family.
    pub(super) async fn live_access_token(
        &self,
        token: &str,
    ) -> Result<Option<(AccessTokenClaims, AccessRecord)>, StoreError> {
        let Ok(claims) = self.access_tokens.verify_access_token(token, None) else {
            return Ok(None);
        };
        let Some(bytes) = self.ephemeral.get(&record_key(&claims.jti)).await? else {
            return Ok(None);
        };
        let record: AccessRecord =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::Corrupt("access token"))?;
        if let Some(family) = record.family
            && self.family_revoked(family).await?
        {
            return Ok(None);
        }
        // A suspended or locked citizen's tokens stop working at once (introspection
        // reports them inactive, UserInfo refuses them).
        if let Some(account) = record.account
            && !self.account_active(account).await?
        {
            return Ok(None);
        }
        Ok(Some((claims, record)))
    }

    /// Whether `account` may still be used.
    async fn account_active(&self, account: AccountId) -> Result<bool, StoreError> {
        Ok(self.durable.account(account).await?.status == AccountStatus::Active)
    }
}

impl Oidc {
    /// The grant of `token` if it is a usable refresh token issued to `client`.
    async fn own_refresh_grant(
        &self,
        client: &Client,
        token: &str,
    ) -> Result<Option<RefreshGrant>, StoreError> {
        let Ok(token) = OpaqueToken::parse(token) else {
            return Ok(None);
        };
        let now = time::OffsetDateTime::now_utc();
        let grant = self
            .durable
            .refresh_grant(&token.hash(), now)
            .await?
            .filter(|grant| grant.client == client.reg.id);
        match grant {
            Some(grant) if self.account_active(grant.account).await? => Ok(Some(grant)),
            _ => Ok(None),
        }
    }
}

/// The authenticated client and the `token` parameter of an introspection or revocation
/// request.
async fn token_request<'a>(
    oidc: &'a Oidc,
    ip: IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(&'a Client, Params), OAuthError> {
    let params =
        Params::parse(body).map_err(|_| OAuthError::invalid_request("malformed parameters"))?;
    let client = authenticate(oidc, ip, headers, &params).await?;
    if !params.has("token") {
        return Err(OAuthError::invalid_request("token is required"));
    }
    Ok((client, params))
}

/// `POST /introspect` (RFC 7662): for confidential clients, about their own tokens only
/// (another client's token is reported inactive, section 4: "the authorization server MAY
/// ... limit the information").
pub async fn introspect(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match introspection(&oidc, ip, &headers, &body).await {
        Ok(value) => (StatusCode::OK, no_store(), Json(value)).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn introspection(
    oidc: &Oidc,
    ip: IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let (client, params) = token_request(oidc, ip, headers, body).await?;
    // RFC 7662 section 2.1: the endpoint MUST require authorization.
    if !client.reg.is_confidential() {
        return Err(OAuthError::invalid_client(
            "introspection is for confidential clients",
        ));
    }
    let token = params.get("token").unwrap_or_default();
    oidc.introspection_for(client, token)
        .await
        .map_err(|e| OAuthError::internal(&e))
}

impl Oidc {
    /// The RFC 7662 introspection answer about `token` for `client` (which must be
    /// confidential): its details when it is a live access or refresh token issued to
    /// `client`, `{"active": false}` otherwise. Shared by `POST /introspect` and the gRPC
    /// `IntrospectToken`.
    pub(super) async fn introspection_for(
        &self,
        client: &Client,
        token: &str,
    ) -> Result<Value, StoreError> {
        if let Some((claims, record)) = self.live_access_token(token).await?
            && record.client_id == client.reg.id.as_str()
        {
            let mut value = json!({
                "active": true,
                "token_type": "Bearer",
                "scope": claims.scope,
                "client_id": claims.client_id,
                "sub": claims.sub,
                "aud": claims.aud,
                "iss": claims.iss,
                "exp": claims.exp,
                "iat": claims.iat,
                "jti": claims.jti,
            });
            if let Some(acr) = claims.acr {
                value["acr"] = json!(acr);
            }
            if let Some(auth_time) = claims.auth_time {
                value["auth_time"] = json!(auth_time);
            }
            return Ok(value);
        }
        if let Some(grant) = self.own_refresh_grant(client, token).await? {
            let sub = self
                .tokens
                .subject(&client.relying_party(), grant.account.as_uuid());
            return Ok(json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": grant.scope,
                "client_id": grant.client.as_str(),
                "sub": sub,
                "iss": self.issuer,
                "exp": grant.expires_at.unix_timestamp(),
            }));
        }
        Ok(json!({ "active": false }))
    }
}

/// `POST /revoke` (RFC 7009): revokes a client's own refresh token (its whole family,
/// access tokens included) or access token. Unknown tokens get 200 too (section 2.2).
pub async fn revoke(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match revocation(&oidc, ip, &headers, &body).await {
        Ok(()) => (StatusCode::OK, no_store()).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn revocation(
    oidc: &Oidc,
    ip: IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), OAuthError> {
    let (client, params) = token_request(oidc, ip, headers, body).await?;
    let token = params.get("token").unwrap_or_default();
    let internal = |e: StoreError| OAuthError::internal(&e);
    // RFC 7009 section 2.1: the server "first validates the client credentials ... and
    // then verifies whether the token was issued to the client making the revocation
    // request"; another client's token is left alone, and the answer is the same.
    if let Some(grant) = oidc
        .own_refresh_grant(client, token)
        .await
        .map_err(internal)?
    {
        oidc.revoke_family(grant.family).await.map_err(internal)?;
        return Ok(());
    }
    if let Some((claims, record)) = oidc.live_access_token(token).await.map_err(internal)?
        && record.client_id == client.reg.id.as_str()
    {
        oidc.ephemeral
            .delete(&record_key(&claims.jti))
            .await
            .map_err(internal)?;
    }
    Ok(())
}
