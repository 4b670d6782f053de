//! Publishing the status of issued credentials: Status List Tokens at
//! `GET /status-lists/{n}` (draft-ietf-oauth-status-list) and the issuer's keys at
//! `GET /.well-known/jwt-vc-issuer` (SD-JWT VC draft, JWT VC Issuer Metadata).
//!
//! Each list is built from the durable store on request, so every instance serves the same
//! statuses and a change (an operator's `credentials revoke`, a suspension after the
//! register reported a death) is published at once; relying parties may cache a token for
//! its `ttl` ([`STATUS_LIST_TTL`], also the HTTP `max-age`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use eid_core::credential::status_list::{StatusList, TokenStatus, sign_status_list_token};
use eid_core::ratelimit::Decision;
use eid_core::store::{STATUS_LIST_CAPACITY, entry_status};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::error::OAuthError;
use super::{ClientIp, Oidc};

/// Bits per status: 2, for VALID, INVALID and SUSPENDED (section 7.1).
const STATUS_BITS: u8 = 2;
/// How long a relying party may reuse a fetched Status List Token (its `ttl`, section
/// 5.1, and the response's `Cache-Control: max-age`): a revocation reaches every relying
/// party within this time.
pub const STATUS_LIST_TTL: Duration = Duration::seconds(60);
/// A Status List Token's validity (`exp`): after it no verifier accepts the token, so a
/// stale copy (kept by a holder to hide a revocation) cannot be passed off for longer.
pub const STATUS_LIST_LIFETIME: Duration = Duration::minutes(10);
/// The media type of a Status List Token in JWT form (section 5.1).
const STATUS_LIST_MEDIA_TYPE: &str = "application/statuslist+jwt";

impl Oidc {
    /// The URI of status list `list` (also its token's `sub`).
    pub(super) fn status_list_uri(&self, list: u32) -> String {
        format!("{}{}/{list}", self.issuer, super::paths::STATUS_LISTS)
    }

    /// The current status of the credential whose `status.status_list` is `uri` and
    /// `index`, exactly as its list's next token will say — an entry no credential holds
    /// reads VALID there too, so this answer reveals no more than the published list (which
    /// entries are allocated stays hidden); `None` when `uri` is not one of this issuer's
    /// lists or `index` is outside it (for status queries by reference, such as the
    /// back-end API's `GetCredentialStatus`).
    pub async fn credential_status(
        &self,
        uri: &str,
        index: u64,
    ) -> anyhow::Result<Option<TokenStatus>> {
        let prefix = format!("{}{}/", self.issuer, super::paths::STATUS_LISTS);
        let (Some(list), Ok(index)) = (
            uri.strip_prefix(&prefix).and_then(list_number),
            u32::try_from(index),
        ) else {
            return Ok(None);
        };
        if index >= STATUS_LIST_CAPACITY || list > self.durable.status_list_count().await? {
            return Ok(None);
        }
        let entry = self.durable.status_entry(list, index).await?;
        Ok(Some(entry.map_or(TokenStatus::Valid, |source| {
            entry_status(&source, OffsetDateTime::now_utc())
        })))
    }
}

/// A status list number as written in its URI: digits only, no sign or leading zero (one
/// URI per list), from 1.
fn list_number(text: &str) -> Option<u32> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    (digits && !text.starts_with('0'))
        .then(|| text.parse().ok())
        .flatten()
}

/// `GET /status-lists/{n}`: the signed Status List Token of list `n` (from 1). Entries no
/// credential holds read VALID, like every unused entry, so the list does not tell how
/// many credentials it covers. Limited per client IP: each answer is a database query and
/// a signature, and a relying party needs one per list per `ttl`.
pub async fn status_list(
    State(oidc): State<Arc<Oidc>>,
    ClientIp(ip): ClientIp,
    Path(list): Path<String>,
) -> Response {
    match oidc.status_list_ip.hit(&ip.to_string()).await {
        Ok(Decision::Allowed { .. }) => {}
        Ok(Decision::Limited) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "60")],
                "too many status list requests; honour the token's ttl",
            )
                .into_response();
        }
        Err(err) => return OAuthError::internal(&err).into_response(),
    }
    let not_found = || (StatusCode::NOT_FOUND, "no such status list").into_response();
    let Some(list) = list_number(&list) else {
        return not_found();
    };
    match build(&oidc, list).await {
        Ok(Some(token)) => (
            [
                (header::CONTENT_TYPE, STATUS_LIST_MEDIA_TYPE.to_owned()),
                (
                    header::CACHE_CONTROL,
                    format!("public, max-age={}", STATUS_LIST_TTL.whole_seconds()),
                ),
            ],
            token,
        )
            .into_response(),
        Ok(None) => not_found(),
        Err(err) => OAuthError::internal(&err).into_response(),
    }
}

/// The token of list `list`, or `None` if no credential was ever put in it.
async fn build(oidc: &Oidc, list: u32) -> anyhow::Result<Option<String>> {
    if list > oidc.durable.status_list_count().await? {
        return Ok(None);
    }
    let now = OffsetDateTime::now_utc();
    let mut statuses = StatusList::new(STATUS_BITS, usize::try_from(STATUS_LIST_CAPACITY)?)?;
    for source in oidc.durable.status_list_sources(list).await? {
        statuses.set(usize::try_from(source.index)?, entry_status(&source, now))?;
    }
    let token = sign_status_list_token(
        oidc.keys.active(),
        &statuses,
        &oidc.status_list_uri(list),
        now,
        STATUS_LIST_LIFETIME,
        Some(STATUS_LIST_TTL),
    )?;
    Ok(Some(token))
}

/// `GET /.well-known/jwt-vc-issuer`: the credential issuer's identifier and public keys
/// (SD-JWT VC draft, JWT VC Issuer Metadata; `issuer` equals the credentials' `iss`). The
/// keys are those of `/jwks.json`: one key ring signs tokens and credentials.
pub async fn jwt_vc_issuer(State(oidc): State<Arc<Oidc>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        axum::Json(json!({ "issuer": oidc.issuer, "jwks": oidc.keys.jwks() })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use eid_core::assurance::{Loa, ProofingEvidence};
    use eid_core::credential::ekyc::EkycRecord;
    use eid_core::credential::password::{PasswordHasher, PasswordParams};
    use eid_core::registry::{EmbeddedRegistry, RegisterLocation};
    use eid_core::store::{
        AccountStore as _, CredentialId, EkycStore as _, IssuedCredentialStore as _,
        MemoryEphemeral, NewCredential, SqliteStore,
    };
    use eid_core::token::{KeyRing, PairwiseSalt, TokenIssuer};

    use super::*;
    use crate::oidc::{Backends, Limits, PasskeySettings, SESSION_LIFETIME, Settings};

    #[tokio::test]
    async fn a_credential_status_is_found_by_its_reference_only() {
        let durable = Arc::new(SqliteStore::in_memory().await.unwrap());
        let oidc = Oidc::new(
            Settings {
                issuer: "https://eid.example.vn".into(),
                clients: Vec::new(),
                pairwise_salt: PairwiseSalt::new(&[7; 32]).unwrap(),
                id_token_lifetime: TokenIssuer::DEFAULT_ID_TOKEN_LIFETIME,
                access_token_lifetime: TokenIssuer::DEFAULT_ACCESS_TOKEN_LIFETIME,
                refresh_token_lifetime: Duration::hours(1),
                code_lifetime: std::time::Duration::from_secs(60),
                session_lifetime: SESSION_LIFETIME,
                limits: Limits::default(),
                passkeys: PasskeySettings::default(),
                chip: None,
                saml: None,
            },
            KeyRing::generate().unwrap(),
            Backends {
                durable: durable.clone(),
                ephemeral: Arc::new(MemoryEphemeral::new()),
                registry: Arc::new(
                    EmbeddedRegistry::open(RegisterLocation::Memory)
                        .await
                        .unwrap(),
                ),
                hasher: PasswordHasher::new(
                    PasswordParams {
                        m_kib: 1024,
                        t: 1,
                        p: 1,
                    },
                    1,
                    1,
                )
                .unwrap(),
                metrics: crate::metrics::Metrics::new(),
            },
        )
        .unwrap();
        let account = durable
            .create_account(&"001099012345".parse().unwrap())
            .await
            .unwrap();
        let now = OffsetDateTime::now_utc();
        let record = EkycRecord::issue(
            account.id,
            ProofingEvidence::RegisterMatch,
            Loa::Substantial,
            serde_json::Value::Null,
            now,
            now + Duration::days(365),
        )
        .unwrap();
        durable.insert_ekyc(&record).await.unwrap();
        let issued = durable
            .insert_credential(&NewCredential {
                id: CredentialId::new(),
                account_id: account.id,
                ekyc_id: record.id,
                issued_at: now,
                expires_at: now + Duration::days(30),
            })
            .await
            .unwrap();
        let uri = oidc.status_list_uri(issued.list);
        let index = u64::from(issued.index);
        assert_eq!(
            oidc.credential_status(&uri, index).await.unwrap(),
            Some(TokenStatus::Valid)
        );
        // An unheld entry reads VALID, as in the published list; outside the list or in a
        // list not yet opened there is no entry at all.
        let other = (index + 1) % u64::from(STATUS_LIST_CAPACITY);
        assert_eq!(
            oidc.credential_status(&uri, other).await.unwrap(),
            Some(TokenStatus::Valid)
        );
        let beyond = u64::from(STATUS_LIST_CAPACITY);
        assert_eq!(oidc.credential_status(&uri, beyond).await.unwrap(), None);
        let unopened = oidc.status_list_uri(issued.list + 1);
        assert_eq!(oidc.credential_status(&unopened, 0).await.unwrap(), None);
        let foreign = uri.replace("eid.example.vn", "evil.example");
        assert_eq!(oidc.credential_status(&foreign, index).await.unwrap(), None);
        assert_eq!(
            oidc.credential_status(&format!("{uri}0"), index)
                .await
                .unwrap(),
            None
        );
    }

    #[test]
    fn list_numbers_have_one_spelling() {
        assert_eq!(list_number("1"), Some(1));
        assert_eq!(list_number("4294967295"), Some(u32::MAX));
        for bad in ["", "0", "01", "+1", "-1", "1a", " 1", "4294967296", "1/2"] {
            assert_eq!(list_number(bad), None, "{bad:?}");
        }
    }
}
