//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at `/logout`.
//!
//! With a valid `id_token_hint` for the current session's citizen the session ends at
//! once; otherwise the citizen confirms on a page (a CSRF-protected form), so that a
//! third-party page cannot log citizens out. `post_logout_redirect_uri` must be one the
//! client registered, compared exactly (section 3), or no redirect happens.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use eid_core::token::OpaqueToken;
use serde::{Deserialize, Serialize};

use super::authorize::{accept_language, current_session, internal_page, unix_now};
use super::client_auth::unverified_claims;
use super::error::see_other;
use super::flow;
use super::lang::Lang;
use super::pages::{self, texts};
use super::params::Params;
use super::session::{self, FLOW_COOKIE, SESSION_COOKIE, cookie, set_cookie};
use super::{Client, Oidc};

/// The flow kind of logout confirmations.
const LOGOUT: &str = "logout";

/// Where to go after logging out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AfterLogout {
    redirect: Option<String>,
    state: Option<String>,
    lang: Lang,
}

/// `GET /logout`.
pub async fn logout_get(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    request(&oidc, &headers, query.unwrap_or_default().as_bytes()).await
}

/// `POST /logout`: an RP's logout request (section 2 allows POST), or the citizen's
/// confirmation.
pub async fn logout_post(
    State(oidc): State<Arc<Oidc>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lang = Lang::choose(None, accept_language(&headers));
    let Ok(params) = Params::parse(&body) else {
        return pages::error(StatusCode::BAD_REQUEST, lang, texts(lang).forbidden);
    };
    if !params.has("req") {
        return request(&oidc, &headers, &body).await;
    }
    let id = params.get("req").unwrap_or_default();
    let browser = cookie(&headers, FLOW_COOKIE);
    let flow = match flow::load::<AfterLogout>(
        oidc.ephemeral.as_ref(),
        LOGOUT,
        id,
        browser.as_ref(),
    )
    .await
    {
        Ok(Some(flow)) if flow.csrf_matches(params.get("csrf").unwrap_or_default()) => flow,
        Ok(_) => return pages::error(StatusCode::FORBIDDEN, lang, texts(lang).forbidden),
        Err(err) => return internal_page(lang, &err),
    };
    if let Err(err) = flow::finish(oidc.ephemeral.as_ref(), LOGOUT, id).await {
        return internal_page(lang, &err);
    }
    end(&oidc, &headers, flow.payload).await
}

async fn request(oidc: &Oidc, headers: &HeaderMap, raw: &[u8]) -> Response {
    let lang = Lang::choose(None, accept_language(headers));
    let bad = |reason: &str| {
        let message = format!("{} ({reason})", texts(lang).forbidden);
        pages::error(StatusCode::BAD_REQUEST, lang, &message)
    };
    let Ok(params) = Params::parse(raw) else {
        return bad("malformed parameters");
    };
    let lang = Lang::choose(params.get("ui_locales"), accept_language(headers));
    let hint = params.get("id_token_hint");
    let hinted_client = hint
        .and_then(unverified_claims)
        .and_then(|c| c.get("aud").and_then(|a| a.as_str().map(str::to_owned)));
    let client_id = match (params.get("client_id"), hinted_client.as_deref()) {
        (Some(a), Some(b)) if a != b => return bad("client_id does not match id_token_hint"),
        (Some(id), _) | (None, Some(id)) => Some(id.to_owned()),
        (None, None) => None,
    };
    let client = match client_id.as_deref().map(|id| oidc.client(id)) {
        Some(None) => return bad("unknown client"),
        Some(Some(client)) => Some(client),
        None => None,
    };
    let hinted_sub = match (hint, client) {
        (Some(hint), Some(client)) => match verified_subject(client, hint) {
            Some(sub) => Some(sub),
            None => return bad("id_token_hint is not valid"),
        },
        (Some(_), None) => return bad("id_token_hint is not valid"),
        _ => None,
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => match client.map(|c| c.reg.post_logout_redirect_uri(uri)) {
            Some(Ok(uri)) => Some(uri.to_owned()),
            _ => return bad("post_logout_redirect_uri is not registered"),
        },
    };
    let after = AfterLogout {
        redirect,
        state: params.get("state").map(str::to_owned),
        lang,
    };
    let session = match current_session(oidc, headers).await {
        Ok(session) => session,
        Err(err) => return internal_page(lang, &err),
    };
    let Some(session) = session else {
        return end(oidc, headers, after).await;
    };
    let confirmed = match (client, hinted_sub) {
        (Some(client), Some(sub)) => {
            oidc.tokens
                .subject(&client.relying_party(), session.account.as_uuid())
                == sub
        }
        _ => false,
    };
    if confirmed {
        return end(oidc, headers, after).await;
    }
    let (browser, new_cookie) = match cookie(headers, FLOW_COOKIE) {
        Some(browser) => (browser, false),
        None => (OpaqueToken::generate(), true),
    };
    let (id, csrf) = match flow::create(
        oidc.ephemeral.as_ref(),
        LOGOUT,
        &after,
        &browser,
        unix_now(),
    )
    .await
    {
        Ok(created) => created,
        Err(err) => return internal_page(lang, &err),
    };
    let mut response = pages::logout_confirm(lang, id.expose(), &csrf);
    if new_cookie {
        set_cookie(
            &mut response,
            FLOW_COOKIE,
            Some(browser.expose()),
            oidc.secure_cookies,
        );
    }
    response
}

/// The `sub` of an ID token this server issued to `client`. Section 2: the OP "SHOULD
/// accept ID Tokens when the RP identified by the ID Token's aud claim ... had a recent
/// session ... even when the exp time has passed", so the token is checked as of its own
/// issue time: signature, issuer and audience still have to be right.
fn verified_subject(client: &Client, hint: &str) -> Option<String> {
    let iat = unverified_claims(hint)?.get("iat")?.as_i64()?;
    let at = time::OffsetDateTime::from_unix_timestamp(iat).ok()?;
    client
        .id_tokens
        .verify_id_token_at(hint, None, None, at)
        .ok()
        .map(|claims| claims.sub)
}

/// Ends the session (if any) and redirects or shows the logged-out page.
async fn end(oidc: &Oidc, headers: &HeaderMap, after: AfterLogout) -> Response {
    if let Some(value) = cookie(headers, SESSION_COOKIE)
        && let Err(err) = session::end(oidc.ephemeral.as_ref(), &value).await
    {
        return internal_page(after.lang, &err);
    }
    let mut response = match &after.redirect {
        Some(uri) => match url::Url::parse(uri) {
            Ok(mut url) => {
                if let Some(state) = &after.state {
                    url.query_pairs_mut().append_pair("state", state);
                }
                see_other(url.as_str())
            }
            Err(err) => return internal_page(after.lang, &err),
        },
        None => pages::logged_out(after.lang),
    };
    set_cookie(&mut response, SESSION_COOKIE, None, oidc.secure_cookies);
    response
}
