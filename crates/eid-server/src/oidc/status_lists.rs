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
use eid_core::credential::status_list::{StatusList, sign_status_list_token};
use eid_core::store::{STATUS_LIST_CAPACITY, entry_status};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::Oidc;
use super::error::OAuthError;

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
}

/// `GET /status-lists/{n}`: the signed Status List Token of list `n` (from 1). Entries no
/// credential holds read VALID, like every unused entry, so the list does not tell how
/// many credentials it covers.
pub async fn status_list(State(oidc): State<Arc<Oidc>>, Path(list): Path<String>) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "no such status list").into_response();
    // Digits only, no sign or leading zero: one URI per list.
    if list.is_empty()
        || list.len() > 10
        || list.starts_with('0')
        || !list.bytes().all(|b| b.is_ascii_digit())
    {
        return not_found();
    }
    let Ok(list) = list.parse::<u32>() else {
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
